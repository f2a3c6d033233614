// The better-sqlite3 dialect against real SQLite databases (in-process, runs everywhere).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { betterSqlite3Dialect, isBetterSqlite3Disconnect } from '../../src/drivers/better-sqlite3/index.js';
import { connOf, harnessPool, runDialectContract } from './contract.js';
import type { DialectHarness } from './contract.js';

type Db = Database.Database;

function sqliteHarness(): DialectHarness<Db> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeguard-sqlite-'));
  const file = join(dir, 'contract.db');
  let admin: Db | undefined;
  return {
    dialect: betterSqlite3Dialect<Db>(),
    open: () => Promise.resolve(new Database(file)),
    exec: (db, sql) => {
      db.exec(sql);
      return Promise.resolve();
    },
    countRows: (db) => Promise.resolve((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n),
    begin: 'BEGIN',
    insert: 'INSERT INTO t (v) VALUES (1)',
    kill: (db) => {
      db.close();
      return Promise.resolve();
    },
    isClosed: (db) => !db.open,
    setup: () => {
      admin = new Database(file);
      admin.exec('CREATE TABLE t (v integer)');
      return Promise.resolve();
    },
    teardown: () => {
      admin?.close();
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
    clear: () => {
      admin?.exec('DELETE FROM t');
      return Promise.resolve();
    },
    noticesIdleKill: false,
  };
}

describe('better-sqlite3 dialect on SQLite (in-process)', () => {
  runDialectContract('contract on a database file', sqliteHarness());

  it('rolls back only when a transaction is open', async () => {
    const harness = sqliteHarness();
    await harness.setup();
    const pool = harnessPool(harness);
    try {
      const pc = await pool.connect();
      const db = connOf(pc);
      const sent: string[] = [];
      const exec = db.exec.bind(db);
      db.exec = (sql: string) => {
        sent.push(sql);
        return exec(sql);
      };
      await pc.close();
      assert.deepEqual(sent, [], 'nothing to roll back, nothing sent');
      const again = await pool.connect();
      db.exec('BEGIN');
      await again.close();
      assert.deepEqual(sent, ['BEGIN', 'ROLLBACK']);
      assert.equal(db.inTransaction, false);
    } finally {
      await pool.close({ timeout: 2000 });
      await harness.teardown();
    }
  });

  it('ping is db.open; a closed handle is a disconnect', () => {
    const dialect = betterSqlite3Dialect<Db>();
    const db = new Database(':memory:');
    assert.equal(dialect.ping(db), true);
    db.close();
    assert.equal(dialect.ping(db), false);
    let error: unknown;
    try {
      db.exec('SELECT 1');
    } catch (e) {
      error = e;
    }
    assert.equal(isBetterSqlite3Disconnect(error), true);
    assert.equal(dialect.isDisconnect(new Error('UNIQUE constraint failed')), false);
    assert.equal(dialect.isDisconnect(Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_READ' })), true);
    assert.equal(dialect.isDisconnect(Object.assign(new Error('busy'), { code: 'SQLITE_BUSY' })), false);
  });
});
