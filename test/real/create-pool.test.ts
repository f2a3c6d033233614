// createPool(url, options): every scheme, the missing-driver error, URL secrets, and redactUrl.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { inspect } from 'node:util';
import { after, describe, it } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import type Database from 'better-sqlite3';
import type * as mariadb from 'mariadb';
import type mysql from 'mysql2/promise';
import pg from 'pg';
import { ArgumentError, createPool, NullPool, QueuePool, redactUrl, SingletonContextPool, StaticPool } from '../../src/index.js';
import type { Pool, PooledConnection } from '../../src/index.js';
import { importDriver } from '../../src/drivers/load.js';
import { describeOnPostgres, whenMysql } from '../support/servers.js';
import { connOf, quietLogger } from './contract.js';

/** Checks one connection out, runs `fn` on it, returns it. */
async function withConnection<C, T>(pool: Pool<C>, fn: (conn: C, pc: PooledConnection<C>) => Promise<T> | T): Promise<T> {
  const pc = await pool.connect();
  try {
    return await fn(connOf(pc), pc);
  } finally {
    await pc.close();
  }
}

/** A logger that keeps every line, to check that no secret reaches it. */
function recordingLogger(): { lines: string[]; debug(m: string): void; info(m: string): void; warn(m: string): void; error(m: string): void } {
  const lines: string[] = [];
  const push = (message: string): void => {
    lines.push(message);
  };
  return { lines, debug: push, info: push, warn: push, error: push };
}

describe('redactUrl', () => {
  const cases: [string, string][] = [
    ['postgres://app:s3cret@db.internal:5432/app', 'postgres://app:***@db.internal:5432/app'],
    ['postgresql://app@db/app', 'postgresql://app@db/app'],
    ['mysql://root:p%40ss@127.0.0.1/test?ssl=true', 'mysql://root:***@127.0.0.1/test?ssl=true'],
    ['mysql://root:p@ss/w@rd@127.0.0.1/test', 'mysql://root:***@127.0.0.1/test'],
    ['postgres://app:secret@host/db?password=other&sslpassword=x&application_name=a', 'postgres://app:***@host/db?password=***&sslpassword=***&application_name=a'],
    ['postgres://host:5432/db', 'postgres://host:5432/db'],
    ['sqlite::memory:', 'sqlite::memory:'],
    ['pglite:///var/data?token=abc', 'pglite:///var/data?token=***'],
    ['not a url :secret@', 'not a url :secret@'],
    ['postgres://app:s3c?ret@db/app', 'postgres://app:***@db/app'],
    ['postgres://app:12#3?x@db:5432/app?sslmode=disable', 'postgres://app:***@db:5432/app?sslmode=disable'],
  ];
  for (const [input, expected] of cases) {
    it(expected, () => {
      assert.equal(redactUrl(input), expected);
    });
  }
});

describe('createPool: arguments and drivers', () => {
  it('a missing driver: ArgumentError naming the package to install', async () => {
    await assert.rejects(importDriver('lifeguard-no-such-driver', 'postgres'), (error: unknown) => {
      assert.ok(error instanceof ArgumentError);
      assert.equal(error.code, 'ARGUMENT');
      assert.match(error.message, /'lifeguard-no-such-driver' package, which is not installed/);
      assert.match(error.message, /npm install lifeguard-no-such-driver/);
      assert.ok(error.cause !== undefined, 'the import error rides along as cause');
      return true;
    });
  });

  it('a missing driver behind a subpath (mysql2/promise) names the package, not the subpath', async () => {
    await assert.rejects(importDriver('lifeguard-no-such-mysql', 'mysql', 'lifeguard-no-such-mysql/promise'), /npm install lifeguard-no-such-mysql\b/);
  });

  it('an unsupported scheme: ArgumentError listing the schemes, secret redacted', async () => {
    await assert.rejects(createPool('oracle://scott:tiger@127.0.0.1/orcl'), (error: unknown) => {
      assert.ok(error instanceof ArgumentError);
      assert.match(error.message, /postgres:\/\/, postgresql:\/\/, mysql:\/\/, mariadb:\/\/, sqlite: or pglite:/);
      assert.ok(!inspect(error, { depth: 10 }).includes('tiger'));
      return true;
    });
  });

  it('an invalid URL: ArgumentError without the secret (not even in a cause)', async () => {
    await assert.rejects(createPool('postgres://app:hunter2@127.0.0.1:notaport/db'), (error: unknown) => {
      assert.ok(error instanceof ArgumentError);
      assert.ok(!inspect(error, { depth: 10 }).includes('hunter2'), inspect(error));
      return true;
    });
  });

  it('PGlite refuses a pool that could open a second instance', async () => {
    await assert.rejects(createPool('pglite::memory:', { poolSize: 2 }), /poolSize 1 and maxOverflow 0/);
    await assert.rejects(createPool('pglite::memory:', { maxOverflow: 1 }), /poolSize 1 and maxOverflow 0/);
    await assert.rejects(createPool('pglite::memory:', { poolClass: SingletonContextPool }), /SingletonContextPool/);
    await assert.rejects(createPool('pglite:./data', { poolClass: NullPool }), /NullPool/);
  });

  it('a session reset the scheme does not have: ArgumentError', async () => {
    await assert.rejects(createPool('sqlite::memory:', { dialectOptions: { sessionReset: true } }), /SQLite has no session reset/);
    await assert.rejects(createPool('mysql://root@127.0.0.1/test', { dialectOptions: { sessionReset: 'keep-prepared' } }), /expected true or false/);
  });
});

describe('createPool: sqlite (better-sqlite3)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeguard-create-sqlite-'));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('sqlite::memory: is one connection (a QueuePool of size 1): the database survives between checkouts', async () => {
    const pool = await createPool<Database.Database>('sqlite::memory:');
    try {
      assert.ok(pool instanceof QueuePool);
      assert.equal(pool.status(), 'Pool size: 1  Connections in pool: 0 Current Overflow: -1 Current Checked out connections: 0');
      await withConnection(pool, (db) => db.exec('CREATE TABLE t (v int); INSERT INTO t VALUES (7)'));
      const value = await withConnection(pool, (db) => (db.prepare('SELECT v FROM t').get() as { v: number }).v);
      assert.equal(value, 7);
    } finally {
      await pool.close({ timeout: 2000 });
    }
  });

  it('sqlite:<relative path>, sqlite:///<absolute path>, query options, and NullPool', async () => {
    const file = join(dir, 'a.db');
    const absolute = await createPool<Database.Database>(`sqlite://${file}`);
    await withConnection(absolute, (db) => db.exec('CREATE TABLE t (v int); INSERT INTO t VALUES (1)'));
    await absolute.close({ timeout: 2000 });

    const relativePool = await createPool<Database.Database>(`sqlite:${relative(process.cwd(), file)}`, { poolClass: NullPool });
    assert.equal(relativePool.status(), 'NullPool');
    assert.equal(await withConnection(relativePool, (db) => (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n), 1);
    await relativePool.close({ timeout: 2000 });

    const readonly = await createPool<Database.Database>(`sqlite:${file}?readonly=true`);
    await assert.rejects(withConnection(readonly, (db) => db.exec('INSERT INTO t VALUES (2)')), { code: 'SQLITE_READONLY' });
    await readonly.close({ timeout: 2000 });
  });

  it('a dialect given in the options replaces the built-in one', async () => {
    const calls: string[] = [];
    const pool = await createPool<Database.Database>('sqlite::memory:', {
      dialect: {
        rollback: () => {
          calls.push('rollback');
        },
        commit: () => {},
        close: (db) => {
          calls.push('close');
          db.close();
        },
      },
    });
    await withConnection(pool, () => undefined);
    await pool.close({ timeout: 2000 });
    assert.deepEqual(calls, ['rollback', 'close']);
  });
});

describe('createPool: pglite', { timeout: 60_000 }, () => {
  it('pglite::memory: is a QueuePool of one PGlite instance; StaticPool works too', async () => {
    const pool = await createPool<PGlite>('pglite::memory:', { prePing: true });
    try {
      assert.ok(pool instanceof QueuePool);
      const first = await withConnection(pool, async (db) => {
        assert.ok(db instanceof PGlite);
        await db.exec('CREATE TABLE t (v int); INSERT INTO t VALUES (5)');
        return db;
      });
      await withConnection(pool, async (db) => {
        assert.ok(db === first);
        assert.equal((await db.query<{ v: number }>('SELECT v FROM t')).rows[0]?.v, 5);
      });
    } finally {
      await pool.close({ timeout: 2000 });
    }
    const dir = mkdtempSync(join(tmpdir(), 'lifeguard-create-pglite-'));
    try {
      const shared = await createPool<PGlite>(`pglite://${join(dir, 'data')}`, { poolClass: StaticPool });
      const [a, b] = await Promise.all([shared.connect(), shared.connect()]);
      assert.ok(a.connection === b.connection, 'one instance, shared');
      await a.close();
      await b.close();
      await shared.close({ timeout: 2000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

await describeOnPostgres('createPool: postgres:// and postgresql://', (target) => {

  it('opens connected pg.Client objects with the pg dialect; the URL password is in no log, name or status', async () => {
    const url = new URL(target.url);
    // Trust auth on the machine server ignores the password; the embedded one has its own.
    const secret = url.password === '' ? 'sup3r-s3cret' : url.password;
    url.password = secret;
    url.searchParams.set('application_name', 'lg_create_pool');
    const logger = recordingLogger();
    const pool = await createPool<pg.Client>(url.toString(), { prePing: true, echo: 'debug', logger, poolSize: 2 });
    try {
      await withConnection(pool, async (client) => {
        assert.ok(client instanceof pg.Client);
        const { rows } = await client.query("SELECT current_setting('application_name') AS name");
        assert.equal(rows[0].name, 'lg_create_pool');
      });
      await withConnection(pool, (client) => client.query('SELECT 1'));
      await pool.invalidate();
      await withConnection(pool, (client) => client.query('SELECT 1'));
      assert.equal(pool.loggingName, `QueuePool(${redactUrl(url.toString())})`);
      assert.ok(pool.loggingName.includes('***'));
      assert.ok(logger.lines.length > 0, 'echo debug logged');
      for (const text of [pool.loggingName, pool.status(), ...logger.lines]) assert.ok(!text.includes(secret), text);
    } finally {
      await pool.close({ timeout: 2000 });
    }
  });

  it('postgresql:// works too, and dialectOptions reach the dialect (DISCARD ALL)', async () => {
    const url = target.url.replace(/^postgres:/, 'postgresql:');
    const pool = await createPool<pg.Client>(url, { poolSize: 1, maxOverflow: 0, dialectOptions: { sessionReset: 'discard-all' } });
    try {
      await withConnection(pool, (client) => client.query("SET statement_timeout = '4321ms'"));
      const value = await withConnection(pool, async (client) => (await client.query('SHOW statement_timeout')).rows[0].statement_timeout as string);
      assert.equal(value, '0');
    } finally {
      await pool.close({ timeout: 2000 });
    }
  });

  it("a refused port: the driver's own error, at once", async () => {
    const url = new URL(target.url);
    url.port = '1';
    const pool = await createPool<pg.Client>(url.toString(), { logger: quietLogger });
    await assert.rejects(pool.connect(), (error: unknown) => inspect(error).includes('ECONNREFUSED'));
    assert.equal(pool.checkedOut(), 0);
    await pool.close({ timeout: 2000 });
  });
});

await whenMysql('createPool: mysql:// and mariadb://', (target) => {
  describe(`createPool: mysql:// and mariadb:// on ${target.label}`, () => {
    it('mysql:// opens mysql2 promise connections', async () => {
      const pool = await createPool<mysql.Connection>(target.url, { prePing: true, dialectOptions: { sessionReset: true } });
      try {
        const first = await withConnection(pool, async (conn) => {
          assert.equal(typeof conn.execute, 'function');
          assert.ok('connection' in conn, 'the promise wrapper around a core connection');
          await conn.query('SET @lg_marker = 1');
          return conn;
        });
        await withConnection(pool, async (conn) => {
          assert.ok(conn === first);
          const [rows] = await conn.query('SELECT @lg_marker AS v');
          assert.equal((rows as { v: unknown }[])[0]?.v, null, 'sessionReset reached the dialect');
        });
      } finally {
        await pool.close({ timeout: 2000 });
      }
    });

    it('mariadb:// opens MariaDB connector connections; URL query options reach the driver', async () => {
      const url = new URL(target.url.replace(/^mysql:/, 'mariadb:'));
      url.searchParams.set('connectTimeout', '3000');
      const pool = await createPool<mariadb.Connection>(url.toString(), { prePing: true });
      try {
        await withConnection(pool, async (conn) => {
          assert.equal(typeof conn.isValid, 'function');
          assert.equal(conn.isValid(), true);
          const rows = await conn.query<{ v: unknown }[]>('SELECT 1 + 1 AS v');
          assert.equal(Number(rows[0]?.v), 2);
        });
      } finally {
        await pool.close({ timeout: 2000 });
      }
    });

    it('a wrong password: the driver error, and the secret is nowhere', async () => {
      const secret = 'wrong-secret-4242';
      const url = new URL(target.url);
      url.password = secret;
      const logger = recordingLogger();
      const pool = await createPool<mysql.Connection>(url.toString(), { logger, echo: 'debug' });
      await assert.rejects(pool.connect(), (error: unknown) => {
        assert.equal((error as { code?: string }).code, 'ER_ACCESS_DENIED_ERROR');
        assert.ok(!inspect(error, { depth: 10 }).includes(secret));
        return true;
      });
      for (const text of [pool.loggingName, pool.status(), ...logger.lines]) assert.ok(!text.includes(secret), text);
      await pool.close({ timeout: 2000 });
    });
  });
});
