// Server-side kills under load, for the server dialects (pg, mysql2, mariadb): every idle connection,
// then every busy one, killed while 50 callers run. Checked: with prePing no caller sees an error
// from an idle kill; every caller error from a busy kill is one the dialect calls a disconnect; the
// pool recovers (every caller can work afterwards), checkedOut() returns to 0, and the server never
// sees more of the pool's live sessions than poolSize + maxOverflow.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Dialect, PooledConnection, QueuePool, QueuePoolOptions } from '../../src/index.js';
import { connOf, quietLogger, sleep, waitFor } from './contract.js';

export interface ServerSession {
  readonly id: number;
  /** Running a statement right now (as opposed to idle between statements). */
  readonly busy: boolean;
}

export interface DisconnectHarness<C> {
  readonly dialect: Dialect<C>;
  /** A pool whose connections carry this harness's marker (application name, database). */
  pool(options: Partial<QueuePoolOptions<C>>): QueuePool<C>;
  /** The pool's sessions as the server lists them (killed ones not yet reaped excluded). */
  sessions(): Promise<ServerSession[]>;
  /** Kills sessions by id and resolves once the server no longer lists them. */
  killSessions(ids: readonly number[]): Promise<void>;
  /** A cheap statement. */
  readonly ping: string;
  /** A statement that keeps the session busy for ~20 ms. */
  readonly busy: string;
  exec(conn: C, sql: string): Promise<void>;
}

const CALLERS = 50;
const POOL_SIZE = 5;
const MAX_OVERFLOW = 5;
const LIMIT = POOL_SIZE + MAX_OVERFLOW;

/** Samples the server's count of the pool's sessions every 15 ms; `stop()` returns the maximum seen. */
function sampleSessions(harness: DisconnectHarness<unknown>): { stop(): Promise<number> } {
  let max = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const sessions = await harness.sessions();
      max = Math.max(max, sessions.length);
      await sleep(15);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return max;
    },
  };
}

export function runDisconnectSuite<C>(label: string, harness: DisconnectHarness<C>): void {
  describe(label, { timeout: 60_000 }, () => {
    it(`kills every idle connection while ${CALLERS} callers run: with prePing nobody sees an error`, async () => {
      const pool = harness.pool({ poolSize: POOL_SIZE, maxOverflow: MAX_OVERFLOW, prePing: true, timeout: 20_000, logger: quietLogger });
      const sampler = sampleSessions(harness as DisconnectHarness<unknown>);
      const errors: unknown[] = [];
      // Callers pause between operations while the gate is closed: then every connection is idle in
      // the pool, the kill lands on idle connections only, and the next checkouts must survive it.
      let gate: Promise<void> | null = null;
      let stop = false;
      let operations = 0;
      const caller = async (): Promise<void> => {
        for (let i = 0; i < 400 && !stop; i++) {
          while (gate !== null) await gate;
          let pc: PooledConnection<C> | undefined;
          try {
            pc = await pool.connect();
            await harness.exec(connOf(pc), harness.ping);
            operations++;
          } catch (error) {
            errors.push(error);
          } finally {
            await pc?.close();
          }
        }
      };
      const callers = Array.from({ length: CALLERS }, () => caller());
      let killed = 0;
      try {
        for (let round = 0; round < 4; round++) {
          await sleep(60);
          let open!: () => void;
          gate = new Promise<void>((resolve) => {
            open = resolve;
          });
          assert.ok(await waitFor(() => pool.checkedOut() === 0, 5000), 'callers paused');
          const idle = (await harness.sessions()).filter((s) => !s.busy);
          assert.ok(idle.length > 0, 'there are idle connections to kill');
          await harness.killSessions(idle.map((s) => s.id));
          killed += idle.length;
          gate = null;
          open();
        }
        await sleep(60);
      } finally {
        stop = true;
        gate = null;
        await Promise.all(callers);
      }
      const maxSessions = await sampler.stop();
      assert.deepEqual(errors.map(String), [], 'no caller saw an error');
      assert.ok(killed >= 4, `killed ${killed} idle connections`);
      assert.ok(operations > CALLERS, `callers kept working (${operations} operations)`);
      assert.equal(pool.checkedOut(), 0);
      assert.ok(maxSessions <= LIMIT, `server saw ${maxSessions} sessions, limit ${LIMIT}`);
      await pool.close({ timeout: 2000 });
      assert.ok(await waitFor(async () => (await harness.sessions()).length === 0), 'close ended every session');
    });

    it(`kills every busy connection while ${CALLERS} callers run: errors are disconnects, the pool recovers`, async () => {
      const pool = harness.pool({ poolSize: POOL_SIZE, maxOverflow: MAX_OVERFLOW, timeout: 20_000, logger: quietLogger });
      const sampler = sampleSessions(harness as DisconnectHarness<unknown>);
      const errors: unknown[] = [];
      let stop = false;
      let operations = 0;
      const caller = async (index: number): Promise<void> => {
        for (let i = 0; i < 400 && !stop; i++) {
          const pc = await pool.connect();
          try {
            await harness.exec(connOf(pc), harness.busy);
            operations++;
            await pc.close();
          } catch (error) {
            errors.push(error);
            // Half the callers invalidate, half just close: both paths must end in a clean slot.
            if (index % 2 === 0) await pc.invalidate(error);
            else await pc.close();
          }
        }
      };
      const callers = Array.from({ length: CALLERS }, (_, index) => caller(index));
      let killed = 0;
      try {
        const deadline = Date.now() + 8000;
        for (let round = 0; round < 4 && Date.now() < deadline; round++) {
          await sleep(80);
          const busy = (await harness.sessions()).filter((s) => s.busy);
          if (busy.length === 0) {
            round--;
            continue;
          }
          await harness.killSessions(busy.map((s) => s.id));
          killed += busy.length;
        }
        await sleep(80);
      } finally {
        stop = true;
        await Promise.all(callers);
      }
      const maxSessions = await sampler.stop();
      assert.ok(killed >= 4, `killed ${killed} busy connections`);
      assert.ok(errors.length > 0, 'the killed queries failed');
      const notDisconnects = errors.filter((error) => harness.dialect.isDisconnect?.(error) !== true);
      assert.deepEqual(notDisconnects.map(String), [], 'every caller error is a disconnect');
      assert.equal(pool.checkedOut(), 0);
      assert.ok(maxSessions <= LIMIT, `server saw ${maxSessions} sessions, limit ${LIMIT}`);
      // Recovered: every caller works again.
      const again = await Promise.all(
        Array.from({ length: CALLERS }, async () => {
          const pc = await pool.connect();
          try {
            await harness.exec(connOf(pc), harness.ping);
          } finally {
            await pc.close();
          }
        }),
      );
      assert.equal(again.length, CALLERS);
      assert.equal(pool.checkedOut(), 0);
      assert.ok(operations > 0);
      await pool.close({ timeout: 2000 });
      assert.ok(await waitFor(async () => (await harness.sessions()).length === 0), 'close ended every session');
    });
  });
}
