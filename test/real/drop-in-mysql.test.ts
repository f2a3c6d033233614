// Mysql2Pool (lifeguard/mysql2) under the real libraries on the real MariaDB (SPEC section 13): Kysely's
// MysqlDialect, Drizzle's mysql2 driver and Knex's connectionPool, each with a query, a committed and a
// rolled-back transaction, an error inside a transaction (the connection comes back clean: no open
// transaction on the server), 50 callers on a pool of 5 (the server never sees more than 5), an idle
// connection killed on the server (the next use succeeds with prePing), and a checked-out connection
// killed mid-transaction (that request fails, the process and the pool live on). Then Mysql2Pool's own
// API: callback and promise forms, events, option mapping, end(), release() and destroy(), the GC net.
//
// Each pool connects to a database of its own: the process list's DB column tells its sessions apart
// from everyone else's on the shared server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2';
import type { Pool as Mysql2NativePool, RowDataPacket } from 'mysql2';
import type { Pool as Mysql2PromisePool, PoolConnection as Mysql2PromiseConnection } from 'mysql2/promise';
import { Kysely, MysqlDialect, sql as ksql } from 'kysely';
import { drizzle } from 'drizzle-orm/mysql2';
import { sql as dsql } from 'drizzle-orm';
import { int, mysqlTable } from 'drizzle-orm/mysql-core';
import knex from 'knex';
import { ArgumentError } from '../../src/index.js';
import { Mysql2Pool } from '../../src/drivers/mysql2/index.js';
import type { Mysql2PoolConfig, Mysql2PoolConnection } from '../../src/drivers/mysql2/index.js';
import { uniqueName, whenMysql, withDatabase } from '../support/servers.js';
import type { ServerTarget } from '../support/servers.js';
import { quietLogger, waitFor } from './contract.js';
import { messages, peakDuring, Rollback, theOneBusy } from './drop-in-support.js';
import { MysqlAdmin } from './mysql-harness.js';

/** What each library does on the pool, written the way its users write it. */
interface Library {
  name: string;
  query(): Promise<number>;
  insert(value: number, rollback: boolean): Promise<void>;
  failInTransaction(): Promise<void>;
  /** A transaction that sleeps on the server until killed. */
  longTransaction(): Promise<void>;
  destroy(): Promise<void>;
}

function kyselyOn(pool: Mysql2Pool): Library {
  const db = new Kysely<Record<string, never>>({ dialect: new MysqlDialect({ pool: pool }) });
  return {
    name: 'Kysely MysqlDialect',
    query: async () => Number((await ksql<{ n: number }>`SELECT 1 AS n`.execute(db)).rows[0]?.n),
    insert: async (value, rollback) => {
      await db.transaction().execute(async (trx) => {
        await ksql`INSERT INTO t (v) VALUES (${value})`.execute(trx);
        if (rollback) throw new Rollback('roll back');
      });
    },
    failInTransaction: async () => {
      await db.transaction().execute(async (trx) => {
        await ksql`INSERT INTO t (v) VALUES (99)`.execute(trx);
        await ksql`SELECT * FROM no_such_table`.execute(trx);
      });
    },
    longTransaction: async () => {
      await db.transaction().execute(async (trx) => {
        await ksql`SELECT SLEEP(30)`.execute(trx);
      });
    },
    destroy: () => db.destroy(),
  };
}

function drizzleOn(pool: Mysql2Pool): Library {
  // Drizzle calls pool.promise() and runs transactions on promise connections from getConnection().
  const db = drizzle({ client: pool as unknown as Mysql2NativePool });
  const rows = (result: unknown): RowDataPacket[] => (result as [RowDataPacket[], unknown])[0];
  return {
    name: 'Drizzle mysql2',
    query: async () => Number(rows(await db.execute(dsql`SELECT 1 AS n`))[0]?.n),
    insert: async (value, rollback) => {
      await db.transaction(async (tx) => {
        await tx.execute(dsql`INSERT INTO t (v) VALUES (${value})`);
        if (rollback) throw new Rollback('roll back');
      });
    },
    failInTransaction: async () => {
      await db.transaction(async (tx) => {
        await tx.execute(dsql`INSERT INTO t (v) VALUES (99)`);
        await tx.execute(dsql`SELECT * FROM no_such_table`);
      });
    },
    longTransaction: async () => {
      await db.transaction(async (tx) => {
        await tx.execute(dsql`SELECT SLEEP(30)`);
      });
    },
    destroy: () => new Promise<void>((resolve, reject) => { pool.end((error) => { if (error) reject(error); else resolve(); }); }),
  };
}

function knexOn(pool: Mysql2Pool): Library {
  // knex 3.3's connectionPool: a native mysql2 pool (`pool.pool || pool`) is wrapped: getConnection(cb), release(), destroy().
  const db = knex({ client: 'mysql2', connectionPool: pool });
  return {
    name: 'Knex connectionPool',
    query: async () => Number((await db.raw<[{ n: number }[]]>('SELECT 1 AS n'))[0]?.[0]?.n),
    insert: async (value, rollback) => {
      await db.transaction(async (trx) => {
        await trx.raw('INSERT INTO t (v) VALUES (?)', [value]);
        if (rollback) throw new Rollback('roll back');
      });
    },
    failInTransaction: async () => {
      await db.transaction(async (trx) => {
        await trx.raw('INSERT INTO t (v) VALUES (99)');
        await trx.raw('SELECT * FROM no_such_table');
      });
    },
    longTransaction: async () => {
      await db.transaction(async (trx) => {
        await trx.raw('SELECT SLEEP(30)');
      });
    },
    destroy: async () => {
      await db.destroy(); // knex does not own an external pool
      await new Promise<void>((resolve, reject) => { pool.end((error) => { if (error) reject(error); else resolve(); }); });
    },
  };
}

interface Session {
  id: number;
  command: string;
  info: string | null;
}

/** The sessions connected to `database`, not killed by us. */
async function sessionsOf(admin: MysqlAdmin, database: string): Promise<Session[]> {
  const rows = (await admin.query('SELECT ID AS id, COMMAND AS command, INFO AS info FROM information_schema.PROCESSLIST WHERE DB = ?', [database])) as {
    id: number | bigint;
    command: string;
    info: string | null;
  }[];
  return rows.map((row) => ({ id: Number(row.id), command: row.command, info: row.info })).filter((row) => !admin.killed.has(row.id) && row.command !== 'Killed');
}

/** Transactions open on the server for these sessions. */
async function openTransactions(admin: MysqlAdmin, ids: readonly number[]): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = (await admin.query(`SELECT count(*) AS n FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id IN (${ids.map(Number).join(',')})`)) as { n: number | bigint }[];
  return Number(rows[0]?.n);
}

function getConnection(pool: Mysql2Pool): Promise<Mysql2PoolConnection> {
  return new Promise((resolve, reject) => {
    pool.getConnection((error, conn) => {
      if (error !== null) reject(error);
      else resolve(conn);
    });
  });
}

function query<T = RowDataPacket[]>(on: { query(sql: string, values: unknown, cb: (error: Error | null, rows?: unknown) => void): unknown }, sql: string, values: unknown[] = []): Promise<T> {
  return new Promise((resolve, reject) => {
    on.query(sql, values, (error, rows) => {
      if (error !== null) reject(error);
      else resolve(rows as T);
    });
  });
}

function end(pool: Mysql2Pool): Promise<void> {
  return new Promise((resolve, reject) => {
    pool.end((error) => { if (error) reject(error); else resolve(); });
  });
}

/** Unhandled rejections while `work` runs (none expected). */
async function unhandledDuring(work: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => { seen.push(reason); };
  process.on('unhandledRejection', listener);
  try {
    await work();
    // A rejection is reported after the microtask queue drains: let one macrotask pass.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('unhandledRejection', listener);
  }
  return seen;
}

function suite(target: ServerTarget): void {
  const admin = new MysqlAdmin(target.url);
  const databases: string[] = [];
  /** A fresh database with table `t`, and a pool config for it. */
  const database = (prefix: string): { name: string; uri: string } => {
    const name = uniqueName(prefix);
    databases.push(name);
    return { name, uri: withDatabase(target.url, name) };
  };
  const created = new Set<string>();
  const ensure = async (name: string): Promise<void> => {
    if (created.has(name)) return;
    created.add(name);
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.query(`CREATE TABLE ${name}.t (v int) ENGINE=InnoDB`);
  };
  after(async () => {
    for (const name of databases) await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.end();
  });

  const setups = [
    ['Kysely', kyselyOn],
    ['Drizzle', drizzleOn],
    ['Knex', knexOn],
  ] as const;
  for (const [label, make] of setups) {
    describe(label, () => {
      const db = database('lg_m2_dropin');
      const pool = new Mysql2Pool({ uri: db.uri, connectionLimit: 5, prePing: true, prePingBypass: 0, pingTimeout: 1000, logger: quietLogger });
      const lib = make(pool);
      const sessions = (): Promise<Session[]> => sessionsOf(admin, db.name);
      before(() => ensure(db.name));
      after(async () => {
        await lib.destroy();
        assert.ok(await waitFor(async () => (await sessions()).length === 0, 5000), 'destroy() ended every session');
      });

      it('runs a query', async () => {
        assert.equal(await lib.query(), 1);
        assert.equal((pool as unknown as { pool?: unknown }).pool, undefined, "no 'pool' member for Knex to mistake for the mysql2 pool");
      });

      it('commits a transaction, and rolls one back', async () => {
        await admin.query(`DELETE FROM ${db.name}.t`);
        await lib.insert(1, false);
        await assert.rejects(lib.insert(2, true), Rollback);
        const rows = (await admin.query(`SELECT v FROM ${db.name}.t ORDER BY v`)) as { v: number }[];
        assert.deepEqual(rows.map((row) => row.v), [1]);
      });

      it('an error inside a transaction: the caller gets it, and the connection comes back clean', async () => {
        await admin.query(`DELETE FROM ${db.name}.t`);
        await assert.rejects(lib.failInTransaction(), (error: unknown) => /doesn't exist/.test(messages(error)));
        assert.ok(await waitFor(() => pool.queuePool.stats().used === 0, 2000), 'the connection came back');
        const ids = (await sessions()).map((session) => session.id);
        assert.ok(ids.length > 0);
        assert.equal(await openTransactions(admin, ids), 0, 'no transaction left open on the server');
        assert.deepEqual(await admin.query(`SELECT v FROM ${db.name}.t`), [], 'the insert before the error was rolled back');
        assert.equal(await lib.query(), 1);
      });

      it('50 concurrent callers on a pool of 5: all served, the server never sees more than 5', async () => {
        const { result: results, peak } = await peakDuring(async () => (await sessions()).length, () => Promise.all(Array.from({ length: 50 }, () => lib.query())));
        assert.deepEqual(new Set(results), new Set([1]));
        assert.ok(peak >= 1 && peak <= 5, `the server saw at most 5 sessions (peak ${peak})`);
        const stats = pool.queuePool.stats();
        assert.ok(stats.idle + stats.used + stats.connecting <= 5);
      });

      it('an idle connection killed on the server: the next use succeeds (prePing)', async () => {
        await lib.query();
        assert.ok(await waitFor(() => pool.queuePool.stats().used === 0, 2000));
        const idle = (await sessions()).filter((session) => session.command === 'Sleep').map((session) => session.id);
        assert.ok(idle.length > 0);
        await admin.kill(idle);
        assert.equal(await lib.query(), 1);
      });

      it('a connection killed mid-transaction: that request fails, the process and the pool live on', async () => {
        // Settled at once into a value: the rejection must not count as unhandled while we wait.
        const running = lib.longTransaction().then(() => null, (error: unknown) => error);
        const busy = await theOneBusy(async () => (await sessions()).filter((session) => session.info?.startsWith('SELECT SLEEP') === true).map((session) => session.id), 'the transaction is running on the server');
        await admin.kill(busy);
        const failure = await running;
        assert.ok(failure instanceof Error, 'the request failed');
        // A disconnect, however the library words it: the query's own error, or its ROLLBACK's.
        assert.match(messages(failure), /killed|closed state|Connection lost|Failed query: rollback/i);
        assert.equal(await lib.query(), 1);
        assert.ok(await waitFor(() => pool.queuePool.stats().used === 0, 5000), 'the killed connection came back');
        const stats = pool.queuePool.stats();
        assert.ok(stats.invalidations >= 1, 'the killed connection was invalidated, not kept');
      });
    });
  }

  describe('Knex on pool.promise() (it unwraps .pool to the Mysql2Pool)', () => {
    const db = database('lg_m2_knexp');
    before(() => ensure(db.name));
    it('runs queries and a transaction', async () => {
      const pool = new Mysql2Pool({ uri: db.uri, connectionLimit: 2, logger: quietLogger });
      const k = knex({ client: 'mysql2', connectionPool: pool.promise() as typeof pool });
      const [rows] = await k.raw<[{ n: number }[]]>('SELECT 2 AS n');
      assert.deepEqual(rows, [{ n: 2 }]);
      await k.transaction(async (trx) => { await trx.raw('INSERT INTO t (v) VALUES (5)'); });
      assert.deepEqual(await admin.query(`SELECT v FROM ${db.name}.t`), [{ v: 5 }]);
      await k.destroy();
      await end(pool);
    });
  });

  describe('streaming: Kysely stream() and Drizzle iterator() (query().stream() on the lent connection, then release or end())', () => {
    const db = database('lg_m2_stream');
    before(async () => {
      await ensure(db.name);
      await admin.query(`INSERT INTO ${db.name}.t (v) VALUES (1), (2), (3)`);
    });

    it('Kysely MysqlDialect stream()', async () => {
      const pool = new Mysql2Pool({ uri: db.uri, connectionLimit: 1, logger: quietLogger });
      const k = new Kysely<{ t: { v: number } }>({ dialect: new MysqlDialect({ pool: pool }) });
      const seen: number[] = [];
      for await (const row of k.selectFrom('t').select('v').orderBy('v').stream()) seen.push(row.v);
      assert.deepEqual(seen, [1, 2, 3]);
      assert.ok(await waitFor(() => pool.queuePool.stats().used === 0, 2000), 'the connection came back');
      await k.destroy();
    });

    it('Drizzle mysql2 iterator() (it ends the core connection: a release)', async () => {
      const pool = new Mysql2Pool({ uri: db.uri, connectionLimit: 1, logger: quietLogger });
      const d = drizzle({ client: pool as unknown as Mysql2NativePool });
      const t = mysqlTable('t', { v: int('v') });
      const seen: (number | null)[] = [];
      for await (const row of d.select().from(t).orderBy(t.v).iterator()) seen.push(row.v);
      assert.deepEqual(seen, [1, 2, 3]);
      assert.ok(await waitFor(() => pool.queuePool.stats().used === 0, 2000), 'the connection came back');
      assert.equal(pool.queuePool.stats().closed, 0, 'released, not closed');
      await end(pool);
    });
  });

  describe('Mysql2Pool as mysql2 Pool', () => {
    const db = database('lg_m2_api');
    before(() => ensure(db.name));
    const made: Mysql2Pool[] = [];
    const make = (options: Partial<Mysql2PoolConfig> = {}): Mysql2Pool => {
      const pool = new Mysql2Pool({ uri: db.uri, connectionLimit: 1, logger: quietLogger, ...options });
      made.push(pool);
      return pool;
    };
    // A failed test may leave a connection checked out: close every pool anyway, or the process stays up.
    after(() => Promise.all(made.map((pool) => pool.queuePool.close({ timeout: 100 }))));

    it('callback forms: getConnection, query (with and without values), execute, query().stream(), events, end(cb)', async () => {
      const pool = make();
      const seen: string[] = [];
      for (const event of ['connection', 'acquire', 'release', 'enqueue']) pool.on(event, () => seen.push(event));
      const conn = await getConnection(pool);
      assert.equal(typeof conn.threadId, 'number');
      assert.equal(conn.config.database, db.name);
      assert.ok(conn instanceof mysql.Connection, 'the driver connection (seen through a proxy)');
      assert.deepEqual(await query(conn, 'SELECT ? + 1 AS n', [41]), [{ n: 42 }]);
      // A second caller waits (the pool has one connection): 'enqueue'.
      const waiting = getConnection(pool);
      conn.release();
      const again = await waiting;
      assert.equal(again, conn, 'the same object for the same driver connection');
      const streamed: unknown[] = [];
      for await (const row of again.query('SELECT 1 AS v UNION ALL SELECT 2').stream()) streamed.push(row);
      assert.deepEqual(streamed, [{ v: 1 }, { v: 2 }]);
      again.release();
      assert.deepEqual(await query(pool, 'SELECT ? AS s', ['x']), [{ s: 'x' }]);
      const viaCallbackOnly = await new Promise<unknown>((resolve, reject) => {
        pool.query('SELECT 3 AS n', undefined, (error, rows) => { if (error) reject(error); else resolve(rows); });
      });
      assert.deepEqual(viaCallbackOnly, [{ n: 3 }]);
      const twoArguments = await new Promise<unknown>((resolve, reject) => {
        pool.query('SELECT 6 AS n', (error: Error | null, rows?: unknown) => { if (error) reject(error); else resolve(rows); });
      });
      assert.deepEqual(twoArguments, [{ n: 6 }]);
      const executed = await new Promise<unknown>((resolve, reject) => {
        pool.execute('SELECT ? AS e', [9], (error, rows) => { if (error) reject(error); else resolve(rows); });
      });
      assert.deepEqual(executed, [{ e: 9 }]);
      // pool.query without a callback returns mysql2's Query: stream it.
      const poolRows: unknown[] = [];
      for await (const row of pool.query('SELECT 7 AS w').stream()) poolRows.push(row);
      assert.deepEqual(poolRows, [{ w: 7 }]);
      await assert.rejects(query(pool, 'SELECT * FROM no_such_table'), /doesn't exist/);
      assert.equal(pool.escape("it's"), "'it\\'s'");
      assert.equal(pool.escapeId('a`b'), '`a``b`');
      assert.equal(pool.format('SELECT ? AS ??', [1, 'n']), 'SELECT 1 AS `n`');
      assert.equal(pool.config.connectionLimit, 1);
      await end(pool);
      await assert.rejects(getConnection(pool), /Pool is closed\./);
      for (const event of ['connection', 'acquire', 'release', 'enqueue']) assert.ok(seen.includes(event), `'${event}' fired (${seen.join(', ')})`);
      assert.equal(seen.filter((event) => event === 'connection').length, 1, 'one driver connection in all');
    });

    it("'error': a failure nobody awaits (execute without a callback) goes to the event, never a crash", async () => {
      const pool = make();
      const errors: unknown[] = [];
      pool.on('error', (error: unknown) => errors.push(error));
      pool.execute('SELECT * FROM no_such_table', []);
      assert.ok(await waitFor(() => errors.length === 1, 2000));
      assert.match(messages(errors[0]), /doesn't exist/);
      assert.ok(await waitFor(() => pool.queuePool.stats().used === 0, 2000));
      await end(pool);
    });

    it("a throwing 'acquire' listener fails that checkout, and the connection comes back", async () => {
      const pool = make();
      pool.once('acquire', () => { throw new Error('acquire listener failed'); });
      await assert.rejects(getConnection(pool), /acquire listener failed/);
      assert.ok(await waitFor(() => pool.queuePool.stats().used === 0, 2000));
      const conn = await getConnection(pool);
      conn.release();
      await end(pool);
    });

    it("'connection' listeners get the lent object before its first use (session set-up)", async () => {
      const pool = make();
      pool.on('connection', (conn: Mysql2PoolConnection) => { conn.query("SET @lg_tag = 'ready'"); });
      const conn = await getConnection(pool);
      assert.deepEqual(await query(conn, 'SELECT @lg_tag AS tag'), [{ tag: 'ready' }]);
      conn.release();
      await end(pool);
    });

    it('promise(): getConnection, query and execute give [rows, fields], transactions, release, end', async () => {
      const pool = make();
      const promisePool = pool.promise() as unknown as Mysql2PromisePool;
      const [rows, fields] = await promisePool.query<RowDataPacket[]>('SELECT 1 AS n');
      assert.deepEqual(rows, [{ n: 1 }]);
      assert.equal(fields[0]?.name, 'n');
      const [executed] = await promisePool.execute<RowDataPacket[]>('SELECT ? AS e', [4]);
      assert.deepEqual(executed, [{ e: 4 }]);
      const conn: Mysql2PromiseConnection = await promisePool.getConnection();
      const core = conn.connection as unknown as Mysql2PoolConnection;
      await conn.beginTransaction();
      await conn.query('INSERT INTO t (v) VALUES (77)');
      assert.equal(await openTransactions(admin, [Number(core.threadId)]), 1);
      await conn.rollback();
      await conn.beginTransaction();
      await conn.query('INSERT INTO t (v) VALUES (78)');
      await conn.commit();
      conn.release();
      assert.deepEqual(await admin.query(`SELECT v FROM ${db.name}.t WHERE v > 70`), [{ v: 78 }]);
      const again = await promisePool.getConnection();
      assert.equal(again.connection, core, 'the same lent core connection under a new promise wrapper (as mysql2 does)');
      again.release();
      // A lent connection's own promise() is mysql2's PromisePoolConnection over it.
      const lent = await getConnection(pool);
      const viaLent = lent.promise() as Mysql2PromiseConnection;
      const [lentRows] = await viaLent.query<RowDataPacket[]>('SELECT 5 AS n');
      assert.deepEqual(lentRows, [{ n: 5 }]);
      viaLent.release();
      assert.ok(await waitFor(() => pool.queuePool.stats().used === 0, 2000));
      await promisePool.end();
      assert.equal(pool.queuePool.closed, true);
    });

    it('release() twice and after end() never throw nor leave an unhandled rejection; end() waits for checked-out connections', async () => {
      const unhandled = await unhandledDuring(async () => {
        const pool = make();
        const conn = await getConnection(pool);
        let ended = false;
        pool.end(() => { ended = true; });
        // A round trip on the held connection: end() has had time to finish if it did not wait.
        assert.deepEqual(await query(conn, 'SELECT 1 AS n'), [{ n: 1 }]);
        assert.equal(ended, false, 'end() waits for the checked-out connection');
        await assert.rejects(getConnection(pool), /Pool is closed\./);
        conn.release();
        conn.release();
        assert.ok(await waitFor(() => ended, 5000), 'end() called back once the connection came back');
        conn.release();
        conn.destroy();
        let second = false;
        pool.end(() => { second = true; });
        assert.ok(await waitFor(() => second, 1000), 'a second end() calls back too');
        assert.equal(pool.queuePool.stats().closed, 1);
      });
      assert.deepEqual(unhandled, []);
    });

    it('destroy(): the driver connection is closed and the slot comes back; releaseConnection()', async () => {
      const pool = make();
      const first = await getConnection(pool);
      const id = Number(first.threadId);
      first.destroy();
      first.release(); // after destroy: nothing happens
      const second = await getConnection(pool);
      assert.notEqual(second, first);
      assert.notEqual(second.threadId, id);
      assert.ok(await waitFor(async () => !(await admin.isListed(id)), 5000), 'the destroyed session is gone from the server');
      pool.releaseConnection(second);
      assert.ok(await waitFor(() => pool.queuePool.stats().idle === 1, 2000));
      await end(pool);
    });

    it('a connection never released is caught by the garbage-collection safety net', async () => {
      const gc = (globalThis as { gc?: () => void }).gc;
      assert.ok(gc !== undefined, 'run with --expose-gc');
      const pool = make();
      let id = 0;
      await (async () => {
        const conn = await getConnection(pool);
        id = Number(conn.threadId);
      })();
      assert.equal(pool.queuePool.stats().used, 1);
      const reclaimed = await waitFor(async () => {
        gc();
        await new Promise((resolve) => setImmediate(resolve));
        return pool.queuePool.stats().used === 0;
      }, 5000);
      assert.ok(reclaimed, 'the dropped checkout was reclaimed');
      assert.ok(await waitFor(async () => !(await admin.isListed(id)), 5000), 'its connection was terminated');
      const next = await getConnection(pool);
      next.release();
      await end(pool);
    });

    it('maps mysql2 pool options onto the QueuePool', async () => {
      const pool = make({ connectionLimit: 3, maxIdle: 2, idleTimeout: 5000 });
      const stats = pool.queuePool.stats();
      assert.deepEqual([stats.max, stats.idleMax], [3, 2]);
      assert.equal(pool.queuePool.timeout(), Infinity, 'mysql2 waits forever');
      assert.deepEqual([pool.config.connectionLimit, pool.config.maxIdle, pool.config.idleTimeout, pool.config.queueLimit], [3, 2, 5000, 0]);
      await end(pool);
      const unlimited = make({ connectionLimit: 0 });
      assert.equal(unlimited.queuePool.stats().max, Infinity);
      await end(unlimited);
    });

    it('waitForConnections: false fails at once with "No connections available."', async () => {
      const pool = make({ waitForConnections: false });
      const held = await getConnection(pool);
      await assert.rejects(getConnection(pool), /No connections available\./);
      held.release();
      await end(pool);
    });

    it('queueLimit: a caller beyond it fails at once with "Queue limit reached."', async () => {
      const pool = make({ queueLimit: 1 });
      let enqueued = 0;
      pool.on('enqueue', () => { enqueued++; });
      const held = await getConnection(pool);
      const waiter = getConnection(pool);
      await assert.rejects(getConnection(pool), (error: unknown) => error instanceof Error && error.message === 'Queue limit reached.');
      assert.equal(enqueued, 1);
      held.release();
      const served = await waiter;
      served.release();
      await end(pool);
    });

    it('resetOnRelease (COM_RESET_CONNECTION): session state does not survive a release', async () => {
      const pool = make({ resetOnRelease: true });
      const conn = await getConnection(pool);
      await query(conn, 'SET @lg_left = 1');
      conn.release();
      const again = await getConnection(pool);
      assert.equal(again, conn);
      assert.deepEqual(await query(again, 'SELECT @lg_left AS v'), [{ v: null }]);
      again.release();
      await end(pool);
    });

    it('Mysql2Pool.from wraps an existing QueuePool of mysql2 connections', async () => {
      const inner = make({ connectionLimit: 2 }).queuePool;
      const pool = Mysql2Pool.from(inner);
      assert.equal(pool.queuePool, inner);
      assert.deepEqual(await query(pool, 'SELECT 2 AS n'), [{ n: 2 }]);
      assert.throws(() => Mysql2Pool.from({} as never), /'pool'/);
      await end(pool);
      assert.equal(inner.closed, true);
    });

    it('refuses options it cannot honour, and bad values, with an ArgumentError naming them', () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ connectionLimit: -1 }, 'connectionLimit'],
        [{ connectionLimit: 1.5 }, 'connectionLimit'],
        [{ maxIdle: 0 }, 'maxIdle'],
        [{ idleTimeout: 0 }, 'idleTimeout'],
        [{ idleTimeout: 'soon' }, 'idleTimeout'],
        [{ queueLimit: 'x' }, 'queueLimit'],
        [{ waitForConnections: 'no' }, 'waitForConnections'],
        [{ resetOnRelease: 1 }, 'resetOnRelease'],
        [{ waitForConnections: false, timeout: 100 }, 'timeout'],
        [{ poolSize: 3 }, 'poolSize'],
        [{ maxOverflow: 3 }, 'maxOverflow'],
        [{ creator: () => null }, 'creator'],
        [{ useContextLocal: true }, 'useContextLocal'],
      ];
      for (const [options, name] of cases) {
        assert.throws(() => new Mysql2Pool({ uri: db.uri, ...options }), (error: unknown) => error instanceof ArgumentError && error.message.includes(`'${name}'`), name);
      }
      assert.throws(() => new Mysql2Pool({ uri: db.uri, prePing: 'yes' } as unknown as Mysql2PoolConfig), /'prePing'/);
    });
  });
}

await whenMysql('Mysql2Pool under Kysely, Drizzle and Knex', (target) => {
  describe(`Mysql2Pool under Kysely, Drizzle and Knex on ${target.label}`, { timeout: 120_000 }, () => {
    suite(target);
  });
});
