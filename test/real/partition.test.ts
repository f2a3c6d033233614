// A network partition, made by the fault proxy in front of the real PostgreSQL and MariaDB, through
// each server driver (pg, mysql2, mariadb) via createPool: no caller hangs, and half-open
// connections are replaced (SPEC section 11).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPool } from '../../src/create-pool.js';
import { ConnectTimeoutError } from '../../src/index.js';
import type { QueuePool } from '../../src/index.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import type { FaultProxy } from '../support/fault-proxy.js';
import { isReachable, mysqlServer, postgresServer } from '../support/servers.js';
import { events, within } from '../support/wait.js';
import { quietLogger } from './contract.js';

type Exec = (conn: unknown) => Promise<unknown>;
const pgExec: Exec = (conn) => (conn as { query(sql: string): Promise<unknown> }).query('SELECT 1');
const mysqlExec: Exec = (conn) => (conn as { query(sql: string): Promise<unknown> }).query('SELECT 1');

function suite(label: string, url: string, defaultPort: number, exec: Exec): void {
  describe(`partition through the fault proxy: ${label}`, { timeout: 60_000 }, () => {
    let proxy: FaultProxy;
    const pools: QueuePool<unknown>[] = [];
    const target = new URL(url);
    before(async () => {
      proxy = await startFaultProxy({ host: target.hostname, port: target.port === '' ? defaultPort : Number(target.port) });
    });
    after(async () => {
      await Promise.all(pools.map((pool) => pool.close({ timeout: 1000 })));
      await proxy.close();
    });
    const open = async (options: Record<string, unknown>): Promise<QueuePool<unknown>> => {
      const pool = await createPool(proxy.url(url), { logger: quietLogger, ...options });
      pools.push(pool);
      return pool;
    };

    it('a blackholed connect fails with ConnectTimeoutError at connectTimeout, and leaves no socket behind', async () => {
      proxy.setMode('blackhole');
      try {
        const pool = await open({ poolSize: 1, maxOverflow: 0, connectTimeout: 300, timeout: 5000 });
        const started = performance.now();
        await assert.rejects(within(pool.connect(), 10_000, 'connect() to settle'), ConnectTimeoutError);
        const took = performance.now() - started;
        assert.ok(took < 2500, `failed after ${Math.round(took)} ms`);
        assert.equal(pool.stats().connecting, 0);
        assert.equal(pool.checkedOut(), 0, 'the slot came back');
        // createPool handed connectTimeout to the driver, whose own timeout closed its socket.
        await proxy.waitForOpen(0, 5000);
      } finally {
        proxy.setMode('pass');
      }
    });

    it('prePing + pingTimeout: frozen (half-open) idle connections are replaced and the caller succeeds', async () => {
      const pool = await open({ poolSize: 2, maxOverflow: 0, prePing: true, pingTimeout: 300, timeout: 10_000 });
      const held = await Promise.all([pool.connect(), pool.connect()]);
      for (const pc of held) await pc.close();
      proxy.freezeExisting();
      const started = performance.now();
      const pc = await within(pool.connect(), 10_000, 'a checkout after the freeze');
      await within(exec(pc.connection), 5000, 'a query on the replacement');
      await pc.close();
      const took = performance.now() - started;
      assert.ok(took < 5000, `served after ${Math.round(took)} ms`);
      assert.ok(pool.stats().invalidations >= 1, 'the frozen connection was invalidated');
      assert.equal(pool.checkedOut(), 0);
    });

    it('keepAliveInterval: frozen idle connections are replaced before any caller asks', async () => {
      const pool = await open({ poolSize: 1, maxOverflow: 0, keepAliveInterval: 100, pingTimeout: 300 });
      await (await pool.connect()).close();
      const replaced = events(pool, 'connect', 1, 10_000);
      proxy.freezeExisting();
      await replaced;
      assert.equal(pool.stats().checkouts, 1, 'no caller was involved');
      assert.ok(pool.stats().invalidations >= 1);
      const pc = await within(pool.connect(), 5000, 'a checkout');
      await within(exec(pc.connection), 5000, 'a query');
      await pc.close();
    });
  });
}

const pg = await postgresServer();
after(() => pg.stop());
suite(`pg on ${pg.label}`, pg.url, 5432, pgExec);

const mysql = await mysqlServer();
if (isReachable(mysql)) {
  suite(`mysql2 on ${mysql.label}`, mysql.url, 3306, mysqlExec);
  suite(`mariadb on ${mysql.label}`, mysql.url.replace(/^mysql:/, 'mariadb:'), 3306, mysqlExec);
} else if (mysql.mustFail) {
  it(`partition suites on ${mysql.label}`, () => {
    assert.fail(mysql.reason);
  });
} else {
  it(`partition suites: MariaDB unreachable (${mysql.reason}), SKIPPED`, { skip: mysql.reason }, () => {});
}
