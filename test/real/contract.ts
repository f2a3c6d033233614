// The behaviour every built-in dialect must show against its real driver: checkout and query, reset
// on return (a write in an open transaction is really rolled back), commit on return, pre-ping,
// invalidate, recycle. Each dialect's test file supplies a harness and calls runDialectContract().
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { QueuePool } from '../../src/index.js';
import type { Dialect, PooledConnection, QueuePoolOptions } from '../../src/index.js';

export interface DialectHarness<C> {
  readonly dialect: Dialect<C>;
  /** Opens one driver connection to the test database. */
  open(): Promise<C>;
  /** Runs a statement; resolves when it has run. */
  exec(conn: C, sql: string): Promise<void>;
  /** `SELECT count(*)` of the harness's table, as a number. */
  countRows(conn: C): Promise<number>;
  /** The statement that opens a transaction (`BEGIN`, `START TRANSACTION`). */
  readonly begin: string;
  /** Inserts one row into the harness's table. */
  readonly insert: string;
  /** Kills the connection behind the pool's back (server-side kill, or closing a local handle). */
  kill(conn: C): Promise<void>;
  /** Whether the driver connection is closed (as far as the driver knows). */
  isClosed(conn: C): boolean | Promise<boolean>;
  /** Creates the table (empty); called before the suite. */
  setup(): Promise<void>;
  /** Drops what setup created; called after the suite. */
  teardown(): Promise<void>;
  /** Empties the table between tests. */
  clear(): Promise<void>;
  /** Whether a killed idle connection is noticed by the driver on its own (a server closing its socket). */
  readonly noticesIdleKill: boolean;
  /** At most one connection may exist at a time (PGlite: one instance per data directory). */
  readonly singleConnection?: boolean;
  /** `recycle` for the recycle test: longer than a connect takes. Default 100 ms. */
  readonly recycleMs?: number;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 10 ms until it is true or `timeoutMs` passes; returns whether it became true. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(10);
  }
  return check();
}

/** A pool over the harness: one connection by default, so "the next checkout" is the same session. */
export function harnessPool<C>(harness: DialectHarness<C>, options: Partial<QueuePoolOptions<C>> = {}): QueuePool<C> {
  return new QueuePool<C>({
    creator: () => harness.open(),
    dialect: harness.dialect,
    poolSize: 1,
    maxOverflow: 0,
    timeout: 10_000,
    logger: quietLogger,
    ...options,
  });
}

/** Keeps expected pool log lines (dropped connections, failed resets) out of the test output. */
export const quietLogger = {
  lines: [] as string[],
  debug(message: string) {
    this.lines.push(message);
  },
  info(message: string) {
    this.lines.push(message);
  },
  warn(message: string) {
    this.lines.push(message);
  },
  error(message: string) {
    this.lines.push(message);
  },
};

export function connOf<C>(pc: PooledConnection<C>): C {
  const conn = pc.connection;
  assert.ok(conn !== null, 'checked-out connection has a driver connection');
  return conn;
}

export function runDialectContract<C>(label: string, harness: DialectHarness<C>): void {
  describe(label, () => {
    before(() => harness.setup());
    after(() => harness.teardown());

    it('checks out, queries, returns; the accounting goes back to zero', async () => {
      await harness.clear();
      if (harness.singleConnection === true) {
        const pool = harnessPool(harness);
        try {
          for (let i = 0; i < 3; i++) {
            const pc = await pool.connect();
            assert.equal(pool.checkedOut(), 1);
            await harness.exec(connOf(pc), harness.insert);
            await pc.close();
          }
          const pc = await pool.connect();
          assert.equal(await harness.countRows(connOf(pc)), 3);
          await pc.close();
          assert.equal(pool.checkedOut(), 0);
          assert.equal(pool.checkedIn(), 1);
        } finally {
          await pool.close({ timeout: 2000 });
        }
        return;
      }
      const pool = harnessPool(harness, { poolSize: 2, maxOverflow: 1 });
      try {
        const held = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
        assert.equal(pool.checkedOut(), 3);
        for (const pc of held) {
          await harness.exec(connOf(pc), harness.insert);
        }
        assert.equal(await harness.countRows(connOf(held[0])), 3);
        for (const pc of held) await pc.close();
        assert.equal(pool.checkedOut(), 0);
        assert.equal(pool.checkedIn(), 2, 'the overflow connection was closed on return');
      } finally {
        await pool.close({ timeout: 2000 });
      }
    });

    it('rolls back an open transaction on return: its write is gone afterwards', async () => {
      await harness.clear();
      const pool = harnessPool(harness);
      const resets: unknown[] = [];
      pool.on('reset', (conn) => {
        resets.push(conn);
      });
      try {
        const pc = await pool.connect();
        const conn = connOf(pc);
        await harness.exec(conn, harness.begin);
        await harness.exec(conn, harness.insert);
        assert.equal(await harness.countRows(conn), 1, 'the transaction sees its own write');
        await pc.close();
        assert.equal(resets.length, 1);
        const again = await pool.connect();
        assert.ok(again.connection === conn, 'same session: it would still see an unrolled-back write');
        assert.equal(await harness.countRows(connOf(again)), 0);
        await again.close();
      } finally {
        await pool.close({ timeout: 2000 });
      }
    });

    it("resetOnReturn 'commit' commits an open transaction on return", async () => {
      await harness.clear();
      const pool = harnessPool(harness, { resetOnReturn: 'commit' });
      try {
        const pc = await pool.connect();
        await harness.exec(connOf(pc), harness.begin);
        await harness.exec(connOf(pc), harness.insert);
        await pc.close();
        const again = await pool.connect();
        const conn = connOf(again);
        // Were the transaction still open, this BEGIN would fail or this ROLLBACK would undo the row.
        await harness.exec(conn, harness.begin);
        await harness.exec(conn, 'ROLLBACK');
        assert.equal(await harness.countRows(conn), 1);
        await again.close();
      } finally {
        await pool.close({ timeout: 2000 });
      }
    });

    it('prePing replaces a connection killed while idle; the caller sees no error', async () => {
      await harness.clear();
      const pool = harnessPool(harness, { prePing: true });
      try {
        const pc = await pool.connect();
        const first = connOf(pc);
        await pc.close();
        await harness.kill(first);
        const again = await pool.connect();
        assert.ok(again.connection !== first, 'a new connection');
        await harness.exec(connOf(again), harness.insert);
        assert.equal(await harness.countRows(connOf(again)), 1);
        await again.close();
        assert.equal(await harness.isClosed(first), true);
        assert.equal(pool.checkedOut(), 0);
      } finally {
        await pool.close({ timeout: 2000 });
      }
    });

    if (harness.noticesIdleKill) {
      it('without prePing, an idle connection the server kills is noticed and replaced, no crash', async () => {
        const pool = harnessPool(harness);
        const invalidations: unknown[] = [];
        pool.on('close', (conn) => {
          invalidations.push(conn);
        });
        try {
          const pc = await pool.connect();
          const first = connOf(pc);
          await pc.close();
          await harness.kill(first);
          assert.ok(await waitFor(() => invalidations.includes(first)), 'the pool closed the dead connection on its own');
          const again = await pool.connect();
          assert.ok(again.connection !== first);
          await harness.exec(connOf(again), 'SELECT 1');
          await again.close();
        } finally {
          await pool.close({ timeout: 2000 });
        }
      });
    }

    it('invalidate closes the driver connection; the next checkout opens a new one', async () => {
      const pool = harnessPool(harness);
      try {
        const pc = await pool.connect();
        const first = connOf(pc);
        await pc.invalidate(new Error('test invalidation'));
        assert.equal(await harness.isClosed(first), true);
        assert.equal(pool.checkedOut(), 0);
        const again = await pool.connect();
        assert.ok(again.connection !== first);
        await harness.exec(connOf(again), 'SELECT 1');
        await again.close();
      } finally {
        await pool.close({ timeout: 2000 });
      }
    });

    it('soft invalidate keeps the connection for this checkout and replaces it at the next', async () => {
      const pool = harnessPool(harness);
      try {
        const pc = await pool.connect();
        const first = connOf(pc);
        await pc.invalidate(undefined, { soft: true });
        await harness.exec(first, 'SELECT 1');
        await pc.close();
        const again = await pool.connect();
        assert.ok(again.connection !== first);
        assert.equal(await harness.isClosed(first), true);
        await again.close();
      } finally {
        await pool.close({ timeout: 2000 });
      }
    });

    it('recycle replaces a connection older than the limit at its next checkout', async () => {
      const recycle = harness.recycleMs ?? 100;
      const pool = harnessPool(harness, { recycle });
      try {
        const pc = await pool.connect();
        const first = connOf(pc);
        await pc.close();
        const soon = await pool.connect();
        assert.ok(soon.connection === first, 'young enough: reused');
        await soon.close();
        await sleep(recycle + 50);
        const later = await pool.connect();
        assert.ok(later.connection !== first, 'too old: replaced');
        assert.equal(await harness.isClosed(first), true);
        await harness.exec(connOf(later), 'SELECT 1');
        await later.close();
      } finally {
        await pool.close({ timeout: 2000 });
      }
    });

    it('dispose closes idle connections and the pool stays usable; close is final', async () => {
      const pool = harnessPool(harness, harness.singleConnection === true ? {} : { poolSize: 2 });
      const pc = await pool.connect();
      const first = connOf(pc);
      await pc.close();
      await pool.dispose();
      assert.equal(await harness.isClosed(first), true);
      const again = await pool.connect();
      await harness.exec(connOf(again), 'SELECT 1');
      const second = connOf(again);
      await again.close();
      await pool.close({ timeout: 2000 });
      assert.equal(await harness.isClosed(second), true);
      await assert.rejects(pool.connect(), { name: 'PoolClosedError' });
    });
  });
}
