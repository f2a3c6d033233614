// What the drop-in suites (PgPool under Kysely, Drizzle, Knex, TypeORM and Prisma; Mysql2Pool under
// Kysely, Drizzle and Knex) share: the error a test throws to roll a transaction back, an error's
// whole chain of messages, the peak of a server-side count while work runs, and the wait for the
// one busy session a kill will hit.
import { waitFor } from './contract.js';

/** Thrown inside a transaction to make the library roll it back. */
export class Rollback extends Error {}

/** An error's message and its causes' (Drizzle and Prisma wrap the driver's error). */
export function messages(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e instanceof Error && parts.length < 5; e = e.cause) parts.push(e.message);
  return parts.join(' <- ');
}

/** Runs `work` while `count()` is sampled back to back; its result, and the highest count seen. */
export async function peakDuring<T>(count: () => Promise<number>, work: () => Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await count());
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  try {
    return { result: await work(), peak };
  } finally {
    sampling = false;
    await sampler;
  }
}

/** Waits (up to 5 s) until `busy()` finds exactly one session; its id, in a list for `kill`. Throws naming `what` otherwise. */
export async function theOneBusy(busy: () => Promise<number[]>, what: string): Promise<number[]> {
  let found: number[] = [];
  const ok = await waitFor(async () => {
    found = await busy();
    return found.length === 1;
  }, 5000);
  if (!ok) throw new Error(`${what}: expected one busy session on the server, found ${found.length}`);
  return found;
}
