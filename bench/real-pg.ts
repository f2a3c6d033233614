/**
 * The real-database part: lifeguard against `pg.Pool` at equal size, on the local PostgreSQL, with
 * 64 concurrent callers running `SELECT 1` or a short transaction. Throughput and acquire wait (the
 * time from asking for a connection to holding one). Two lifeguard sides: as configured by default
 * (reset on return), and "safe": also `prePing: true, prePingBypass: 500`, the settings that
 * replace a dead connection before a caller sees it, while `pg.Pool` runs with neither.
 */
import pg from 'pg';
import { QueuePool } from '../src/index.js';
import { PgPool, pgDialect } from '../src/drivers/pg/index.js';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { collectGarbage, median, now, percentileSorted } from './stats.js';

export type Workload = 'select1' | 'transaction' | 'kysely';
export const WORKLOADS: readonly Workload[] = ['select1', 'transaction', 'kysely'];
/** The pool sides; the Kysely workload runs only the two Kysely sides, the others only the rest. */
export type PgSideName = 'lifeguard' | 'lifeguard (safe)' | 'pg.Pool' | 'Kysely on PgPool (safe)' | 'Kysely on pg.Pool';
/** The safe side's extra options. */
export const SAFE_OPTIONS = { prePing: true, prePingBypass: 500 } as const;

export interface PgSide {
  /** Per round: units (queries or transactions) per second, acquire wait p50 and p99 in µs. */
  readonly perSecond: number[];
  readonly p50us: number[];
  readonly p99us: number[];
  readonly completed: number[];
  /** Medians over the rounds. */
  median: { perSecond: number; p50us: number; p99us: number };
}

export interface RealPgResults {
  /** Why the part did not run (no server, or an error), if it did not. */
  skipped?: string;
  url: string;
  dialect: string;
  callers: number;
  poolSize: number;
  unitsPerSample: number;
  rounds: number;
  workloads: Partial<Record<Workload, Partial<Record<PgSideName, PgSide>>>>;
}

export interface RealPgOptions {
  url: string;
  callers: number;
  poolSize: number;
  /** Units per caller per sample. */
  perCaller: number;
  rounds: number;
  log: (line: string) => void;
}

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** The URL with any password masked, for the record. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

async function probe(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

interface Sample {
  ns: number;
  completed: number;
  waits: Float64Array;
}

/** A sample of one workload; null when this side does not run that workload. */
type Run = (workload: Workload, callers: number, perCaller: number) => Promise<Sample | null>;

/**
 * `SELECT 1` through Kysely on `pool` (a PgPool or a pg.Pool). Acquire waits are timed by wrapping
 * the pool's own `connect()`, which is what Kysely calls.
 */
function kyselyRunner(pool: pg.Pool): Run {
  const db = new Kysely<Record<string, never>>({ dialect: new PostgresDialect({ pool }) });
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
  let waits = new Float64Array(0);
  let recorded = 0;
  (pool as unknown as { connect: () => Promise<pg.PoolClient> }).connect = async () => {
    const asked = now();
    const client = await connect();
    if (recorded < waits.length) waits[recorded++] = Number(now() - asked);
    return client;
  };
  return async (workload, callers, perCaller) => {
    if (workload !== 'kysely') return null;
    waits = new Float64Array(callers * perCaller);
    recorded = 0;
    let completed = 0;
    const caller = async (): Promise<void> => {
      for (let i = 0; i < perCaller; i++) {
        await sql`SELECT 1`.execute(db);
        completed++;
      }
    };
    const start = now();
    const running: Promise<void>[] = [];
    for (let i = 0; i < callers; i++) running.push(caller());
    await Promise.all(running);
    return { ns: Number(now() - start), completed, waits: waits.subarray(0, recorded) };
  };
}

function lifeguardRunner(pool: QueuePool<pg.Client>): Run {
  return async (workload, callers, perCaller) => {
    if (workload === 'kysely') return null;
    const waits = new Float64Array(callers * perCaller);
    let recorded = 0;
    let completed = 0;
    const caller = async (): Promise<void> => {
      for (let i = 0; i < perCaller; i++) {
        const asked = now();
        const pc = await pool.connect();
        waits[recorded++] = Number(now() - asked);
        const client = pc.connection;
        if (workload === 'transaction') {
          await client.query('BEGIN');
          await client.query('SELECT 1');
          await client.query('COMMIT');
        } else {
          await client.query('SELECT 1');
        }
        await pc.close();
        completed++;
      }
    };
    const start = now();
    const running: Promise<void>[] = [];
    for (let i = 0; i < callers; i++) running.push(caller());
    await Promise.all(running);
    return { ns: Number(now() - start), completed, waits };
  };
}

function pgPoolRunner(pool: pg.Pool): Run {
  return async (workload, callers, perCaller) => {
    if (workload === 'kysely') return null;
    const waits = new Float64Array(callers * perCaller);
    let recorded = 0;
    let completed = 0;
    const caller = async (): Promise<void> => {
      for (let i = 0; i < perCaller; i++) {
        const asked = now();
        const client = await pool.connect();
        waits[recorded++] = Number(now() - asked);
        if (workload === 'transaction') {
          await client.query('BEGIN');
          await client.query('SELECT 1');
          await client.query('COMMIT');
        } else {
          await client.query('SELECT 1');
        }
        // eslint-disable-next-line @typescript-eslint/await-thenable, @typescript-eslint/no-confusing-void-expression -- awaited like lifeguard's close, for the same cost
        await client.release();
        completed++;
      }
    };
    const start = now();
    const running: Promise<void>[] = [];
    for (let i = 0; i < callers; i++) running.push(caller());
    await Promise.all(running);
    return { ns: Number(now() - start), completed, waits };
  };
}

function emptySide(): PgSide {
  return { perSecond: [], p50us: [], p99us: [], completed: [], median: { perSecond: Number.NaN, p50us: Number.NaN, p99us: Number.NaN } };
}

export async function runRealPg(options: RealPgOptions): Promise<RealPgResults> {
  const { url, callers, poolSize, perCaller, rounds, log } = options;
  const results: RealPgResults = {
    url: redactUrl(url),
    dialect: 'pgDialect() from src/drivers/pg/dialect.ts (defaults: rollback only when a transaction is open)',
    callers,
    poolSize,
    unitsPerSample: callers * perCaller,
    rounds,
    workloads: {},
  };
  const unreachable = await probe(url);
  if (unreachable !== undefined) {
    results.skipped = `no PostgreSQL at ${redactUrl(url)} (${unreachable})`;
    return results;
  }

  const lifeguardOptions = {
    creator: async () => {
      const client = new pg.Client(url);
      client.on('error', () => {});
      await client.connect();
      return client;
    },
    dialect: pgDialect<pg.Client>(),
    poolSize,
    maxOverflow: 0,
    resetOnReturn: 'rollback',
  } as const;
  const lifeguardPool = new QueuePool<pg.Client>(lifeguardOptions);
  const safePool = new QueuePool<pg.Client>({ ...lifeguardOptions, ...SAFE_OPTIONS });
  const pgPool = new pg.Pool({ connectionString: url, max: poolSize });
  pgPool.on('error', () => {});
  // Issue 9: Kysely on PgPool (prePing with its bypass window, reset on return) against Kysely on pg.Pool.
  const kyselyPgPool = new PgPool({ connectionString: url, max: poolSize, resetOnReturn: 'rollback', ...SAFE_OPTIONS });
  const kyselyPlain = new pg.Pool({ connectionString: url, max: poolSize });
  kyselyPlain.on('error', () => {});
  const runners: [PgSideName, Run][] = [
    ['lifeguard', lifeguardRunner(lifeguardPool)],
    ['lifeguard (safe)', lifeguardRunner(safePool)],
    ['pg.Pool', pgPoolRunner(pgPool)],
    ['Kysely on PgPool (safe)', kyselyRunner(kyselyPgPool as unknown as pg.Pool)],
    ['Kysely on pg.Pool', kyselyRunner(kyselyPlain)],
  ];
  try {
    for (const workload of WORKLOADS) {
      results.workloads[workload] = {};
      // Warm-up: opens every connection and lets every code path reach V8's optimized tier. A quarter
      // of a sample was too little: the side with more JavaScript on its path (PgPool's face, the
      // pool's hooks) was still being optimized in the first rounds, and lost 25-30% there.
      for (const [, run] of runners) await run(workload, callers, Math.max(1, perCaller * 3));
    }
    for (let round = 0; round < rounds; round++) {
      for (const workload of WORKLOADS) {
        for (let k = 0; k < runners.length; k++) {
          const [name, run] = runners[(k + round) % runners.length]!;
          collectGarbage();
          const sample = await run(workload, callers, perCaller);
          if (sample === null) continue;
          const sides = results.workloads[workload]!;
          const side = (sides[name] ??= emptySide());
          const sorted = sample.waits.sort();
          side.perSecond.push((sample.completed * 1e9) / sample.ns);
          side.p50us.push(percentileSorted(sorted, 50) / 1000);
          side.p99us.push(percentileSorted(sorted, 99) / 1000);
          side.completed.push(sample.completed);
        }
      }
      log(`postgres: round ${round + 1}/${rounds} done`);
    }
    for (const workload of WORKLOADS) {
      for (const side of Object.values(results.workloads[workload] ?? {})) {
        side.median = { perSecond: median(side.perSecond), p50us: median(side.p50us), p99us: median(side.p99us) };
      }
    }
  } catch (error) {
    results.skipped = `error during the run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
  } finally {
    await lifeguardPool.dispose().catch(() => undefined);
    await safePool.dispose().catch(() => undefined);
    await pgPool.end().catch(() => undefined);
    await kyselyPgPool.end().catch(() => undefined);
    await kyselyPlain.end().catch(() => undefined);
  }
  return results;
}
