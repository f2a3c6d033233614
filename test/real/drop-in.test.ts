// PgPool (lifeguard/pg) under the real libraries on the real PostgreSQL (SPEC section 13): Kysely's
// PostgresDialect, Drizzle's node-postgres driver and Knex's connectionPool, each with a query, a committed and a
// rolled-back transaction, an error inside a transaction (the connection comes back clean, checked on
// the server), 50 callers on a pool of 5 (the server never sees more than 5), an idle connection
// killed on the server (the next use succeeds with prePing), and a checked-out connection killed
// mid-transaction (one request fails, the process lives on). A child process shows what the same
// kill does with the real pg.Pool: an uncaught 'error' ends the process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { Kysely, PostgresDialect, sql as ksql } from 'kysely';
import { drizzle } from 'drizzle-orm/node-postgres';
import knex from 'knex';
import { DataSource } from 'typeorm';
import { sql as dsql } from 'drizzle-orm';
import { PgPool } from '../../src/drivers/pg/index.js';
import type { PgPoolConfig } from '../../src/drivers/pg/index.js';
import { describeOnPostgres, uniqueName, withParam } from '../support/servers.js';
import { quietLogger, waitFor } from './contract.js';
import { messages, peakDuring, Rollback, theOneBusy } from './drop-in-support.js';
import { PgAdmin } from './pg-harness.js';

/** What each library does on the pool, written the way its users write it. */
interface Library {
  name: string;
  query(): Promise<number>;
  insert(table: string, value: number, rollback: boolean): Promise<void>;
  failInTransaction(): Promise<void>;
  /** A transaction that sleeps on the server until killed. */
  longTransaction(): Promise<void>;
  destroy(): Promise<void>;
}

function kyselyOn(pool: PgPool): Library {
  const db = new Kysely<Record<string, never>>({ dialect: new PostgresDialect({ pool }) });
  return {
    name: 'Kysely PostgresDialect',
    query: async () => Number((await ksql<{ n: number }>`SELECT 1 AS n`.execute(db)).rows[0]?.n),
    insert: async (table, value, rollback) => {
      await db.transaction().execute(async (trx) => {
        await ksql`INSERT INTO ${ksql.table(table)} (v) VALUES (${value})`.execute(trx);
        if (rollback) throw new Rollback('roll back');
      });
    },
    failInTransaction: async () => {
      await db.transaction().execute(async (trx) => {
        await ksql`SELECT 1 / 0`.execute(trx);
      });
    },
    longTransaction: async () => {
      await db.transaction().execute(async (trx) => {
        await ksql`SELECT pg_sleep(30)`.execute(trx);
      });
    },
    destroy: () => db.destroy(),
  };
}

function drizzleOn(pool: PgPool): Library {
  const db = drizzle({ client: pool as unknown as pg.Pool });
  return {
    name: 'Drizzle node-postgres',
    query: async () => Number((await db.execute<{ n: number }>(dsql`SELECT 1 AS n`)).rows[0]?.n),
    insert: async (table, value, rollback) => {
      await db.transaction(async (tx) => {
        await tx.execute(dsql`INSERT INTO ${dsql.identifier(table)} (v) VALUES (${value})`);
        if (rollback) throw new Rollback('roll back');
      });
    },
    failInTransaction: async () => {
      await db.transaction(async (tx) => {
        await tx.execute(dsql`SELECT 1 / 0`);
      });
    },
    longTransaction: async () => {
      await db.transaction(async (tx) => {
        await tx.execute(dsql`SELECT pg_sleep(30)`);
      });
    },
    destroy: () => pool.end(),
  };
}

function knexOn(pool: PgPool): Library {
  // knex 3.3's connectionPool: a native pg.Pool is wrapped (connect(), client.release(destroy)).
  const db = knex({ client: 'pg', connectionPool: pool });
  return {
    name: 'Knex connectionPool',
    query: async () => Number((await db.raw<{ rows: { n: number }[] }>('SELECT 1 AS n')).rows[0]?.n),
    insert: async (table, value, rollback) => {
      await db.transaction(async (trx) => {
        await trx.raw('INSERT INTO ?? (v) VALUES (?)', [table, value]);
        if (rollback) throw new Rollback('roll back');
      });
    },
    failInTransaction: async () => {
      await db.transaction(async (trx) => {
        await trx.raw('SELECT 1 / 0');
      });
    },
    longTransaction: async () => {
      await db.transaction(async (trx) => {
        await trx.raw('SELECT pg_sleep(30)');
      });
    },
    destroy: async () => {
      await db.destroy(); // knex does not own an external pool
      await pool.end();
    },
  };
}

/** TypeORM 1.1 through its `driver` option: it builds the pool with `new driver.Pool(config)`. */
function typeormOn(url: string, app: string): { lib: Library; pool: () => PgPool } {
  const ds = new DataSource({
    type: 'postgres',
    url,
    applicationName: app,
    poolSize: 5,
    extra: { prePing: true, prePingBypass: 0, pingTimeout: 1000, logger: quietLogger },
    driver: { ...pg, Pool: PgPool },
  });
  const ready = ds.initialize();
  const run = async <T>(work: () => Promise<T>): Promise<T> => {
    await ready;
    return work();
  };
  return {
    pool: () => (ds.driver as unknown as { master: PgPool }).master,
    lib: {
      name: 'TypeORM driver',
      query: () => run(async () => Number((await ds.query<{ n: number }[]>('SELECT 1 AS n'))[0]?.n)),
      insert: (table, value, rollback) =>
        run(() =>
          ds.transaction(async (manager) => {
            await manager.query(`INSERT INTO ${table} (v) VALUES ($1)`, [value]);
            if (rollback) throw new Rollback('roll back');
          }),
        ),
      failInTransaction: () =>
        run(() =>
          ds.transaction(async (manager) => {
            await manager.query('SELECT 1 / 0');
          }),
        ),
      longTransaction: () =>
        run(() =>
          ds.transaction(async (manager) => {
            await manager.query('SELECT pg_sleep(30)');
          }),
        ),
      destroy: async () => {
        await ready;
        await ds.destroy();
      },
    },
  };
}

await describeOnPostgres('PgPool under Kysely, Drizzle, Knex and TypeORM', (target) => {
  const admin = new PgAdmin(target.url);
  const table = uniqueName('lg_dropin');
  before(async () => {
    await admin.query(`CREATE TABLE ${table} (v int)`);
  });
  after(async () => {
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.end();
  });

  describe('PgPool as pg.Pool', () => {
    const url = withParam(target.url, 'application_name', uniqueName('lg_pgpool_api'));

    it('callback forms: connect(cb) with release, query(text, cb), query(config, values), end(cb)', async () => {
      const pool = new PgPool({ connectionString: url, max: 1, logger: quietLogger });
      const seen: string[] = [];
      for (const event of ['connect', 'acquire', 'release', 'remove', 'end']) pool.on(event, () => seen.push(event));
      const viaCallback = await new Promise<pg.PoolClient>((resolve, reject) => {
        const callback = (error: Error | undefined, client: unknown, release: unknown): void => {
          if (error !== undefined || client === undefined) reject(error ?? new Error('no client'));
          else {
            assert.equal(typeof release, 'function');
            resolve(client as unknown as pg.PoolClient);
          }
        };
        pool.connect(callback);
      });
      assert.equal(pool.totalCount, 1);
      assert.equal(pool.idleCount, 0);
      viaCallback.release();
      assert.throws(() => { viaCallback.release(); }, /Release called on client which has already been released to the pool/);
      const again = await pool.connect();
      assert.equal(again, viaCallback, 'the same driver connection comes back as the same client object');
      viaCallback.release();
      const rows = await new Promise<unknown>((resolve, reject) => {
        pool.query('SELECT 41 + 1 AS n', (error: Error | undefined, result?: unknown) => {
          if (error !== undefined) reject(error);
          else resolve((result as pg.QueryResult).rows);
        });
      });
      assert.deepEqual(rows, [{ n: 42 }]);
      const named = (await pool.query({ text: 'SELECT $1::int AS n', values: [7] })) as pg.QueryResult;
      assert.deepEqual(named.rows, [{ n: 7 }]);
      const withValues = (await pool.query('SELECT $1::text AS s', ['x'])) as pg.QueryResult;
      assert.deepEqual(withValues.rows, [{ s: 'x' }]);
      await assert.rejects(pool.query('SELECT 1 / 0'), /division by zero/);
      await new Promise<void>((resolve, reject) => {
        pool.end((error) => { if (error === undefined) resolve(); else reject(error); });
      });
      assert.equal(pool.ended, true);
      await assert.rejects(pool.connect(), /Cannot use a pool after calling end/);
      await assert.rejects(pool.end(), /Called end on pool more than once/);
      for (const event of ['connect', 'acquire', 'release', 'remove', 'end']) assert.ok(seen.includes(event), `'${event}' fired (${seen.join(', ')})`);
    });

    it('release(true) and release(err) destroy the client; the next connect opens a new one', async () => {
      const pool = new PgPool({ connectionString: url, max: 1, logger: quietLogger });
      const first = await pool.connect();
      first.release(true);
      const second = await pool.connect();
      assert.notEqual(second, first);
      second.release(new Error('broken'));
      const third = await pool.connect();
      assert.notEqual(third, second);
      third.release();
      await pool.end();
    });

    it('a client never released is caught by the GC safety net: its connection is terminated and the slot comes back', async () => {
      const app = uniqueName('lg_pgpool_gc');
      const pool = new PgPool({ connectionString: withParam(target.url, 'application_name', app), max: 1, logger: quietLogger });
      const sessions = async (): Promise<number> => (await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [app])).rows[0].n as number;
      await (async () => {
        // In a scope of its own: with max 1 the leaked checkout below gets this same object.
        const kept = await pool.connect();
        kept.release();
        assert.equal(await pool.connect(), kept, 'a released client is kept for the next checkout: the same object');
        kept.release();
      })();
      await (async () => {
        const leaked = await pool.connect();
        await leaked.query('SELECT 1'); // used, then dropped without release()
      })();
      assert.equal(pool.pool.stats().used, 1);
      // The leak guard registers a checkout once it has been out for a period (0.5–1 s), then the
      // collector reports it: poll, bounded, until the slot is back.
      for (let i = 0; i < 100 && pool.pool.stats().used !== 0; i++) {
        globalThis.gc!();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(pool.pool.stats().used, 0, 'the dropped checkout was reclaimed');
      assert.ok(await waitFor(async () => (await sessions()) === 0, 5000), 'its connection was terminated on the server');
      const next = await pool.connect();
      assert.deepEqual(((await next.query('SELECT 3 AS n')) as pg.QueryResult).rows, [{ n: 3 }]);
      next.release();
      await pool.end();
    });

    it('onConnect runs on each new client before its first use; a rejection discards the client and fails the caller', async () => {
      const seen: unknown[] = [];
      let refuse = false;
      const pool = new PgPool({
        connectionString: url,
        max: 1,
        logger: quietLogger,
        onConnect: async (client) => {
          if (refuse) throw new Error('onConnect refused');
          seen.push(client);
          await client.query("SET application_name = 'lg_onconnect'");
        },
      });
      const first = await pool.connect();
      assert.deepEqual(seen, [first]);
      const { rows } = (await first.query('SHOW application_name')) as pg.QueryResult<{ application_name: string }>;
      assert.equal(rows[0]?.application_name, 'lg_onconnect');
      first.release(true);
      refuse = true;
      await assert.rejects(pool.connect(), /onConnect refused/);
      assert.equal(pool.totalCount, 0, 'the refused client was discarded');
      refuse = false;
      const second = await pool.connect();
      assert.equal(seen.length, 2);
      second.release();
      await pool.end();
    });

    it('PgPool.from wraps an existing QueuePool of pg clients', async () => {
      const inner = new PgPool({ connectionString: url, max: 2, logger: quietLogger }).pool;
      const pool = PgPool.from(inner);
      assert.equal(pool.pool, inner);
      assert.ok(pool instanceof pg.Pool);
      const rows = ((await pool.query('SELECT 2 AS n')) as pg.QueryResult).rows;
      assert.deepEqual(rows, [{ n: 2 }]);
      assert.throws(() => PgPool.from({} as never), /'pool'/);
      await pool.end();
      assert.equal(inner.closed, true);
    });

    it('maps pg.Pool options, and refuses bad ones with an ArgumentError naming them', async () => {
      const pool = new PgPool({ connectionString: url, max: 3, min: 1, idleTimeoutMillis: 0, connectionTimeoutMillis: 250, maxUses: 7, maxLifetimeSeconds: 60, logger: quietLogger });
      const stats = pool.pool.stats();
      assert.deepEqual([stats.max, stats.idleMax, stats.idleMin], [3, 3, 1]);
      assert.equal(pool.pool.timeout(), 250);
      assert.equal(pool.options.max, 3);
      await pool.end();
      for (const [options, name] of [[{ max: 0 }, 'max'], [{ idleTimeoutMillis: -1 }, 'idleTimeoutMillis'], [{ connectionTimeoutMillis: 'soon' }, 'connectionTimeoutMillis'], [{ onConnect: 1 }, 'onConnect']] as const) {
        assert.throws(() => new PgPool({ connectionString: url, ...options } as PgPoolConfig), new RegExp(`'${name}'`));
      }
    });
  });

  const onPgPool = (make: (pool: PgPool) => Library) => (app: string): { lib: Library; pool: () => PgPool } => {
    const pool = new PgPool({ connectionString: withParam(target.url, 'application_name', app), max: 5, prePing: true, prePingBypass: 0, pingTimeout: 1000, logger: quietLogger });
    return { lib: make(pool), pool: () => pool };
  };
  const setups = [
    ['Kysely', onPgPool(kyselyOn)],
    ['Drizzle', onPgPool(drizzleOn)],
    ['Knex', onPgPool(knexOn)],
    ['TypeORM', (app: string) => typeormOn(target.url, app)],
  ] as const;
  for (const [label, setup] of setups) {
    describe(label, () => {
      const app = uniqueName('lg_dropin_app');
      const made = setup(app);
      const lib = made.lib;
      const sessions = async (): Promise<{ id: number; state: string | null }[]> => {
        const { rows } = await admin.query('SELECT pid, state FROM pg_stat_activity WHERE application_name = $1', [app]);
        return (rows as { pid: number; state: string | null }[]).filter((row) => !admin.killed.has(row.pid)).map((row) => ({ id: row.pid, state: row.state }));
      };
      after(async () => {
        await lib.destroy();
        assert.ok(await waitFor(async () => (await sessions()).length === 0, 5000), 'destroy() ended every session');
      });

      it('is a pg.Pool: instanceof and constructor name, as Prisma and Drizzle check', async () => {
        await lib.query();
        const pool = made.pool();
        assert.ok(pool instanceof PgPool);
        assert.ok(pool instanceof pg.Pool);
        assert.match(pool.constructor.name, /Pool/);
      });

      it('runs a query', async () => {
        assert.equal(await lib.query(), 1);
      });

      it('commits a transaction, and rolls one back', async () => {
        await admin.query(`TRUNCATE ${table}`);
        await lib.insert(table, 1, false);
        await assert.rejects(lib.insert(table, 2, true), Rollback);
        const { rows } = await admin.query(`SELECT v FROM ${table} ORDER BY v`);
        assert.deepEqual(rows.map((row: { v: number }) => row.v), [1]);
      });

      it('an error inside a transaction: the caller gets it, and the connection comes back clean', async () => {
        await assert.rejects(lib.failInTransaction(), (error: unknown) => /division by zero/.test(messages(error)));
        assert.equal(made.pool().pool.stats().used, 0);
        const states = (await sessions()).map((session) => session.state);
        assert.ok(states.length > 0 && states.every((state) => state === 'idle'), `no transaction left open on the server: ${states.join(', ')}`);
        assert.equal(await lib.query(), 1);
      });

      it('50 concurrent callers on a pool of 5: all served, the server never sees more than 5', async () => {
        const { result: results, peak } = await peakDuring(async () => (await sessions()).length, () => Promise.all(Array.from({ length: 50 }, () => lib.query())));
        assert.deepEqual(new Set(results), new Set([1]));
        assert.ok(peak >= 1 && peak <= 5, `the server saw at most 5 sessions (peak ${peak})`);
        assert.ok(made.pool().totalCount <= 5);
      });

      it('an idle connection killed on the server: the next use succeeds (prePing)', async () => {
        await lib.query();
        const idle = (await sessions()).filter((session) => session.state === 'idle').map((session) => session.id);
        assert.ok(idle.length > 0);
        await admin.kill(idle);
        assert.equal(await lib.query(), 1);
      });

      it('a connection killed mid-transaction: that request fails, the process and the pool live on', async () => {
        // Settled at once into a value: the rejection must not count as unhandled while we wait.
        const running = lib.longTransaction().then(() => null, (error: unknown) => error);
        const busy = await theOneBusy(async () => (await sessions()).filter((session) => session.state === 'active').map((session) => session.id), 'the transaction is running on the server');
        await admin.kill(busy);
        const failure = await running;
        assert.ok(failure instanceof Error, 'the request failed');
        // A disconnect, however the library words it: the query's own error, or its ROLLBACK's.
        assert.match(messages(failure), /terminat|not queryable|ECONNRESET|Failed query/i);
        assert.equal(await lib.query(), 1);
        // The killed connection comes back once its rollback on return fails: at once when the
        // driver has noticed the kill, at pingTimeout (1 s here) when it has not.
        assert.ok(await waitFor(() => made.pool().pool.stats().used === 0, 5000), 'the killed connection came back');
      });
    });
  }

  it('the same kill with the real pg.Pool ends the process with an uncaught error (what PgPool avoids)', { timeout: 60_000 }, () => {
    const app = uniqueName('lg_pgpool_crash');
    const script = fileURLToPath(new URL(`./.pg-pool-crash-${process.pid}.mjs`, import.meta.url));
    // Kysely on the real pg.Pool; the kill comes from a second connection of the same script.
    writeFileSync(
      script,
      `import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
const url = ${JSON.stringify(withParam(target.url, 'application_name', app))};
const db = new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2 }) }) });
const admin = new pg.Client(${JSON.stringify(target.url)});
await admin.connect();
const running = db.transaction().execute((trx) => sql\`SELECT pg_sleep(30)\`.execute(trx)).catch((error) => console.log('request failed:', error.message));
for (;;) {
const { rows } = await admin.query("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'", [${JSON.stringify(app)}]);
if (rows.length > 0) { await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]); break; }
await new Promise((resolve) => setTimeout(resolve, 10));
}
await running;
await admin.end();
await db.destroy();
console.log('survived');
`,
    );
    try {
      const result = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(result.signal, null, 'ended by itself');
      assert.notEqual(result.status, 0, `the real pg.Pool process should crash:\n${result.stdout}${result.stderr}`);
      assert.match(result.stderr, /Unhandled 'error' event/);
      assert.match(result.stderr, /terminat/i);
      assert.doesNotMatch(result.stdout, /survived/);
    } finally {
      rmSync(script, { force: true });
    }
  });
});
