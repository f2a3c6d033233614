// The pg dialect against a real PostgreSQL: the shared contract, session reset, the skipped
// rollback, a kill while checked out, kills under load, and connect failures.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { QueuePool } from '../../src/index.js';
import { pgDialect } from '../../src/drivers/pg/index.js';
import { describeOnPostgres, withDatabase, withParam } from '../support/servers.js';
import { connOf, harnessPool, quietLogger, runDialectContract } from './contract.js';
import { runDisconnectSuite } from './disconnects.js';
import { runLifecycleSuite } from './lifecycle.js';
import { clientDialect, pgDisconnectHarness, pgHarness, rawPgClient } from './pg-harness.js';

await describeOnPostgres('pg dialect', (target) => {
  runDialectContract('contract', pgHarness(target.url));

  describe('details', () => {
    const harness = pgHarness(target.url);
    before(() => harness.setup());
    after(() => harness.teardown());

    /** Records the SQL text of every query the client sends. */
    function spy(client: pg.Client): string[] {
      const sent: string[] = [];
      const original = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        const first = args[0];
        sent.push(typeof first === 'string' ? first : String((first as { text?: string }).text));
        return original(...args);
      };
      return sent;
    }

    it('skips the rollback on return when the client reports no open transaction', async () => {
      const pool = harnessPool(harness);
      try {
        const pc = await pool.connect();
        const sent = spy(connOf(pc));
        await connOf(pc).query('SELECT 1');
        await pc.close();
        assert.deepEqual(sent, ['SELECT 1'], 'no ROLLBACK for an idle session');
        const again = await pool.connect();
        await connOf(again).query('BEGIN');
        await again.close();
        assert.deepEqual(sent, ['SELECT 1', 'BEGIN', 'ROLLBACK']);
      } finally {
        await pool.close({ timeout: 2000 });
      }
    });

    it('rolls back a failed transaction on return; the session is usable again', async () => {
      const pool = harnessPool(harness);
      try {
        const pc = await pool.connect();
        const client = connOf(pc);
        await client.query('BEGIN');
        // pg rejects at the ErrorResponse, before the ReadyForQuery that reports 'E': the dialect
        // must not trust a stale 'T'/'I' while readyForQuery is false.
        await assert.rejects(client.query('SELECT 1/0'), { code: '22012' });
        await pc.close();
        const again = await pool.connect();
        assert.ok(again.connection === client);
        assert.equal(connOf(again).getTransactionStatus(), 'I');
        await connOf(again).query('SELECT 1');
        await again.close();
      } finally {
        await pool.close({ timeout: 2000 });
      }
    });

    it('without sessionReset, session state carries over to the next checkout (the default)', async () => {
      const pool = harnessPool(harness);
      try {
        const pc = await pool.connect();
        await connOf(pc).query("SET statement_timeout = '4321ms'");
        await pc.close();
        const again = await pool.connect();
        const { rows } = await connOf(again).query('SHOW statement_timeout');
        assert.equal(rows[0].statement_timeout, '4321ms');
        await again.close();
      } finally {
        await pool.close({ timeout: 2000 });
      }
    });

    it("sessionReset 'discard-all' resets settings and temp tables, and named statements still work", async () => {
      const pool = harnessPool(harness, { dialect: pgDialect<pg.Client>({ sessionReset: 'discard-all' }) });
      try {
        const pc = await pool.connect();
        const client = connOf(pc);
        await client.query("SET statement_timeout = '4321ms'");
        await client.query('CREATE TEMP TABLE lg_temp (v int)');
        await client.query({ name: 'lg_named', text: 'SELECT 41 + 1 AS answer' });
        await client.query('BEGIN');
        await pc.close();
        const again = await pool.connect();
        assert.ok(again.connection === client, 'same session');
        const { rows } = await client.query('SHOW statement_timeout');
        assert.equal(rows[0].statement_timeout, '0');
        await assert.rejects(client.query('SELECT * FROM lg_temp'), { code: '42P01' });
        const prepared = await client.query('SELECT count(*)::int AS n FROM pg_prepared_statements');
        assert.equal(prepared.rows[0].n, 0, 'DISCARD ALL dropped the server-side statement');
        // pg's client-side cache was cleared with it, so pg prepares the statement again.
        const named = await client.query({ name: 'lg_named', text: 'SELECT 41 + 1 AS answer' });
        assert.equal(named.rows[0].answer, 42);
        await again.close();
      } finally {
        await pool.close({ timeout: 2000 });
      }
    });

    it("sessionReset 'keep-prepared' resets the session but keeps prepared statements", async () => {
      const pool = harnessPool(harness, { dialect: pgDialect<pg.Client>({ sessionReset: 'keep-prepared' }) });
      try {
        const pc = await pool.connect();
        const client = connOf(pc);
        await client.query("SET statement_timeout = '4321ms'");
        await client.query('CREATE TEMP TABLE lg_temp (v int)');
        await client.query({ name: 'lg_kept', text: 'SELECT 6 * 7 AS answer' });
        await client.query('SELECT pg_advisory_lock(4242)');
        await pc.close();
        const again = await pool.connect();
        assert.ok(again.connection === client, 'same session');
        const { rows } = await client.query('SHOW statement_timeout');
        assert.equal(rows[0].statement_timeout, '0');
        await assert.rejects(client.query('SELECT * FROM lg_temp'), { code: '42P01' });
        const locks = await client.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()");
        assert.equal(locks.rows[0].n, 0, 'advisory locks released');
        const prepared = await client.query("SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name = 'lg_kept'");
        assert.equal(prepared.rows[0].n, 1);
        const named = await client.query({ name: 'lg_kept', text: 'SELECT 6 * 7 AS answer' });
        assert.equal(named.rows[0].answer, 42);
        await again.close();
      } finally {
        await pool.close({ timeout: 2000 });
      }
    });

    it('a connection killed while checked out: the query fails with a disconnect, the slot comes back clean', async () => {
      const pool = harnessPool(harness, { poolSize: 2 });
      try {
        const pc = await pool.connect();
        const client = connOf(pc);
        await harness.kill(client);
        const error: unknown = await client.query('SELECT 1').then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(error !== undefined, 'the query failed');
        assert.equal(clientDialect.isDisconnect(error), true, `a disconnect: ${inspect(error)}`);
        await pc.close();
        assert.equal(pool.checkedOut(), 0);
        const again = await pool.connect();
        assert.ok(again.connection !== client);
        await connOf(again).query('SELECT 1');
        await again.close();
      } finally {
        await pool.close({ timeout: 2000 });
      }
    });

    it('prePing uses the empty query, the cheapest round trip', async () => {
      const pool = harnessPool(harness, { prePing: true });
      try {
        const pc = await pool.connect();
        const sent = spy(connOf(pc));
        await pc.close();
        const again = await pool.connect();
        assert.deepEqual(sent, ['']);
        await again.close();
      } finally {
        await pool.close({ timeout: 2000 });
      }
    });
  });

  describe('connect failures', () => {
    const url = new URL(target.url);

    it('a refused port: every caller gets ECONNREFUSED at once, no waiter hangs', async () => {
      const badUrl = new URL(target.url);
      badUrl.port = '1';
      const pool = new QueuePool<pg.Client>({
        creator: () => rawPgClient(badUrl.toString()),
        dialect: clientDialect,
        poolSize: 1,
        maxOverflow: 0,
        timeout: 20_000,
        logger: quietLogger,
      });
      const started = Date.now();
      const results = await Promise.allSettled(Array.from({ length: 5 }, () => pool.connect()));
      const elapsed = Date.now() - started;
      for (const result of results) {
        assert.equal(result.status, 'rejected');
        const reason = (result).reason as { code?: string; cause?: { code?: string } };
        assert.ok(reason.code === 'ECONNREFUSED' || reason.cause?.code === 'ECONNREFUSED', `ECONNREFUSED: ${inspect(reason)}`);
        assert.equal(clientDialect.isDisconnect(reason), true);
      }
      assert.ok(elapsed < 3000, `settled in ${elapsed} ms, far below the 20 s timeout`);
      assert.equal(pool.checkedOut(), 0);
      await pool.close({ timeout: 2000 });
    });

    it('an unknown database: the caller gets the server error (3D000) at once', async () => {
      const badUrl = withParam(withDatabase(url.toString(), 'lifeguard_no_such_db'), 'application_name', 'lg_fail');
      const pool = new QueuePool<pg.Client>({
        creator: () => rawPgClient(badUrl),
        dialect: clientDialect,
        poolSize: 1,
        maxOverflow: 0,
        timeout: 20_000,
        logger: quietLogger,
      });
      const started = Date.now();
      const results = await Promise.allSettled(Array.from({ length: 3 }, () => pool.connect()));
      for (const result of results) {
        assert.equal(result.status, 'rejected');
        const reason = (result).reason as { code?: string; cause?: { code?: string } };
        assert.ok(reason.code === '3D000' || reason.cause?.code === '3D000', inspect(reason));
      }
      assert.ok(Date.now() - started < 3000);
      assert.equal(pool.checkedOut(), 0);
      await pool.close({ timeout: 2000 });
    });
  });

  const killHarness = pgDisconnectHarness(target.url);
  after(() => killHarness.admin.end());
  runDisconnectSuite('server-side kills under load', killHarness);
  runLifecycleSuite('lifecycle counted on the server', killHarness);
});
