// The PGlite dialect against real PGlite instances (in-process WebAssembly PostgreSQL, runs
// everywhere). One instance per data directory: the pools here hold one connection at a time.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import { isPgliteDisconnect, pgliteDialect } from '../../src/drivers/pglite/index.js';
import { connOf, harnessPool, runDialectContract } from './contract.js';
import type { DialectHarness } from './contract.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeguard-pglite-'));

function pgliteHarness(): DialectHarness<PGlite> {
  const dataDir = join(dir, 'data');
  /** Runs `sql` on an instance of its own, while the pool holds none (one instance per directory). */
  const outside = async (sql: string): Promise<void> => {
    const db = await PGlite.create(dataDir);
    try {
      await db.exec(sql);
    } finally {
      await db.close();
    }
  };
  return {
    dialect: pgliteDialect<PGlite>(),
    open: () => PGlite.create(dataDir),
    exec: async (db, sql) => {
      await db.exec(sql);
    },
    countRows: async (db) => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM t')).rows[0]!.n,
    begin: 'BEGIN',
    insert: 'INSERT INTO t (v) VALUES (1)',
    kill: (db) => db.close(),
    isClosed: (db) => db.closed,
    setup: () => outside('CREATE TABLE t (v int)'),
    teardown: () => Promise.resolve(),
    clear: () => outside('DELETE FROM t'),
    noticesIdleKill: false,
    singleConnection: true,
    recycleMs: 2500,
  };
}

describe('pglite dialect on PGlite (in-process)', { timeout: 120_000 }, () => {
  runDialectContract('contract on a data directory', pgliteHarness());

  it('sessionReset runs DISCARD ALL after the rollback', async () => {
    const harness = { ...pgliteHarness(), dialect: pgliteDialect<PGlite>({ sessionReset: true }) };
    const pool = harnessPool(harness);
    try {
      const pc = await pool.connect();
      const db = connOf(pc);
      await db.exec("BEGIN; SET LOCAL statement_timeout = '1s'; COMMIT; SET statement_timeout = '4321ms'; CREATE TEMP TABLE lg_temp (v int); BEGIN");
      await pc.close();
      const again = await pool.connect();
      assert.ok(again.connection === db);
      assert.equal(db.isInTransaction(), false);
      const { rows } = await db.query<{ statement_timeout: string }>('SHOW statement_timeout');
      assert.equal(rows[0]?.statement_timeout, '0');
      await assert.rejects(db.query('SELECT * FROM lg_temp'));
      await again.close();
    } finally {
      await pool.close({ timeout: 2000 });
    }
  });

  it('a closed instance pings false and its errors are disconnects', async () => {
    const dialect = pgliteDialect<PGlite>();
    const db = await PGlite.create(join(dir, 'data'));
    assert.equal(await dialect.ping(db), true);
    await db.close();
    assert.equal(await dialect.ping(db), false);
    const error: unknown = await db.exec('SELECT 1').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.equal(isPgliteDisconnect(error), true);
    assert.equal(dialect.isDisconnect(new Error('syntax error at or near "SELEC"')), false);
  });

  it('cleans up', () => {
    rmSync(dir, { recursive: true, force: true });
  });
});
