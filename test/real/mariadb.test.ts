// The mysql2 (promise and callback APIs) and MariaDB-connector dialects against a real MariaDB: the shared contract, session
// reset (COM_RESET_CONNECTION), kills under load, and connect failures. Skipped loudly when no
// server answers, except under CI=true, where that is a failure.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { QueuePool } from '../../src/index.js';
import { mariadbDialect } from '../../src/drivers/mariadb/index.js';
import { mysql2Dialect } from '../../src/drivers/mysql2/index.js';
import { whenMysql } from '../support/servers.js';
import { connOf, harnessPool, quietLogger, runDialectContract } from './contract.js';
import { runDisconnectSuite } from './disconnects.js';
import { runLifecycleSuite } from './lifecycle.js';
import { mariadbDriver, mysql2CoreDriver, mysql2Driver, mysqlDisconnectHarness, mysqlHarness } from './mysql-harness.js';
import type { MysqlDriver } from './mysql-harness.js';


function suite<C>(driver: MysqlDriver<C>, url: string, label: string, sessionResetDialect: Parameters<typeof mysqlHarness<C>>[2]): void {
  describe(`${driver.name} dialect on ${label}`, { timeout: 90_000 }, () => {
    runDialectContract('contract', mysqlHarness(url, driver));

    describe('session reset', () => {
      const plain = mysqlHarness(url, driver);
      const resetting = mysqlHarness(url, driver, sessionResetDialect);
      before(async () => {
        await plain.setup();
        await resetting.setup();
      });
      after(async () => {
        await plain.teardown();
        await resetting.teardown();
      });

      it('off by default: user variables survive to the next checkout', async () => {
        const pool = harnessPool(plain);
        try {
          const pc = await pool.connect();
          await plain.exec(connOf(pc), 'SET @lg_marker = 42');
          await pc.close();
          const again = await pool.connect();
          const rows = (await driver.query(connOf(again), 'SELECT @lg_marker AS v')) as { v: unknown }[];
          assert.equal(Number(rows[0]?.v), 42);
          await again.close();
        } finally {
          await pool.close({ timeout: 2000 });
        }
      });

      it('sessionReset: COM_RESET_CONNECTION drops variables, temp tables and the transaction, same session', async () => {
        const pool = harnessPool(resetting);
        try {
          const pc = await pool.connect();
          const conn = connOf(pc);
          const threadId = driver.threadId(conn);
          await resetting.exec(conn, 'SET @lg_marker = 42');
          await resetting.exec(conn, 'CREATE TEMPORARY TABLE lg_temp (v int)');
          await resetting.exec(conn, resetting.begin);
          await resetting.exec(conn, resetting.insert);
          await pc.close();
          const again = await pool.connect();
          assert.ok(again.connection === conn);
          const rows = (await driver.query(conn, 'SELECT @lg_marker AS v, CONNECTION_ID() AS id')) as { v: unknown; id: unknown }[];
          assert.equal(rows[0]!.v, null);
          assert.equal(Number(rows[0]!.id), threadId, 'the same server session, reset');
          await assert.rejects(driver.query(conn, 'SELECT * FROM lg_temp'), { errno: 1146 });
          assert.equal(await resetting.countRows(conn), 0, 'the open transaction was rolled back');
          await again.close();
        } finally {
          await pool.close({ timeout: 2000 });
        }
      });
    });

    describe('connect failures', () => {
      it('a refused port: every caller gets ECONNREFUSED at once, no waiter hangs', async () => {
        const bad = new URL(url);
        bad.port = '1';
        const pool = new QueuePool<C>({
          creator: () => driver.open(bad.toString()),
          dialect: driver.dialect,
          poolSize: 1,
          maxOverflow: 0,
          timeout: 20_000,
          logger: quietLogger,
        });
        const started = Date.now();
        const results = await Promise.allSettled(Array.from({ length: 5 }, () => pool.connect()));
        assert.ok(Date.now() - started < 3000, 'no waiter hangs');
        for (const result of results) {
          assert.equal(result.status, 'rejected');
          const reason: unknown = result.reason;
          assert.match(inspect(reason), /ECONNREFUSED/);
        }
        assert.equal(pool.checkedOut(), 0);
        await pool.close({ timeout: 2000 });
      });

      it('a wrong password: every caller gets ER_ACCESS_DENIED_ERROR at once; the secret is not in the error', async () => {
        const secret = 'wrong-secret-4242';
        const bad = new URL(url);
        bad.password = secret;
        const pool = new QueuePool<C>({
          creator: () => driver.open(bad.toString()),
          dialect: driver.dialect,
          poolSize: 1,
          maxOverflow: 0,
          timeout: 20_000,
          logger: quietLogger,
        });
        const started = Date.now();
        const results = await Promise.allSettled(Array.from({ length: 4 }, () => pool.connect()));
        assert.ok(Date.now() - started < 3000, 'no waiter hangs');
        for (const result of results) {
          assert.equal(result.status, 'rejected');
          const reason = result.reason as { code?: string; cause?: { code?: string } };
          assert.ok(reason.code === 'ER_ACCESS_DENIED_ERROR' || reason.cause?.code === 'ER_ACCESS_DENIED_ERROR', inspect(reason));
          assert.ok(!inspect(reason, { depth: 10 }).includes(secret));
        }
        assert.equal(pool.checkedOut(), 0);
        await pool.close({ timeout: 2000 });
      });
    });

    const kills = mysqlDisconnectHarness(url, driver);
    describe('server-side kills', () => {
      before(() => kills.setup());
      after(() => kills.teardown());
      runDisconnectSuite('under load', kills);
      runLifecycleSuite('lifecycle counted on the server', kills);
    });
  });
}

await whenMysql('mysql2 and mariadb dialects', (target) => {
  suite(mysql2Driver, target.url, target.label, mysql2Dialect({ sessionReset: true }));
  suite(mysql2CoreDriver, target.url, target.label, mysql2Dialect({ sessionReset: true }));
  suite(mariadbDriver, target.url, target.label, mariadbDialect({ sessionReset: true }));
});
