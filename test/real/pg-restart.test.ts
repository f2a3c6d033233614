// The pg dialect through a PostgreSQL restart, on an embedded server of its own (started, loaded,
// stopped, started again): waiters during the outage get a clear error, not a hang, and the pool
// serves again within a second of the server answering. Also: a wrong password fails at once.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { after, describe, it } from 'node:test';
import type pg from 'pg';
import { createPool, PoolTimeoutError, QueuePool } from '../../src/index.js';
import type { PooledConnection } from '../../src/index.js';
import type { EmbeddedPostgres } from '../../demo/embedded-postgres.js';
import { embeddedPostgres, uniqueName, withParam } from '../support/servers.js';
import { quietLogger, sleep } from './contract.js';
import { pgDialect as makePgDialect } from '../../src/drivers/pg/index.js';
import { clientDialect as pgDialect, rawPgClient } from './pg-harness.js';

let server: EmbeddedPostgres | undefined;
let startError: unknown;
try {
  server = await embeddedPostgres();
} catch (error) {
  startError = error;
}

async function work(pool: QueuePool<pg.Client>, sql = 'SELECT 1'): Promise<void> {
  let pc: PooledConnection<pg.Client> | undefined;
  try {
    pc = await pool.connect();
    await (pc.connection).query(sql);
  } finally {
    await pc?.close();
  }
}

if (server === undefined) {
  describe('pg dialect through a server restart (embedded server did not start)', () => {
    it('starts the embedded PostgreSQL', () => {
      throw startError;
    });
  });
} else {
  const target = server;
  describe(`pg dialect through a server restart on PostgreSQL 127.0.0.1:${target.port} (embedded server)`, { timeout: 60_000 }, () => {
    after(() => target.stop());

    it('fails outage callers fast and clearly, then serves again within a second of the restart', async () => {
      const url = withParam(target.url, 'application_name', uniqueName('lg_restart'));
      const pool = new QueuePool<pg.Client>({
        creator: () => rawPgClient(url),
        // As in the README: the type parameter is inferred from the pool's.
        dialect: makePgDialect(),
        poolSize: 5,
        maxOverflow: 5,
        prePing: true,
        timeout: 3000,
        logger: quietLogger,
      });
      try {
        // Load: 20 callers, 10 queries each.
        await Promise.all(Array.from({ length: 20 }, async () => {
          for (let i = 0; i < 10; i++) await work(pool, 'SELECT pg_sleep(0.001)');
        }));
        assert.ok(pool.checkedIn() > 0, 'idle connections to lose');

        await target.stopServer();

        // Outage: more callers than capacity, so some of them wait.
        const started = Date.now();
        const outage = await Promise.allSettled(Array.from({ length: 15 }, () => work(pool)));
        const elapsed = Date.now() - started;
        for (const result of outage) {
          assert.equal(result.status, 'rejected', 'no caller succeeds while the server is down');
          const reason: unknown = result.reason;
          const clear = pgDialect.isDisconnect(reason) || (reason instanceof PoolTimeoutError && pgDialect.isDisconnect(reason.cause));
          assert.ok(clear, `a disconnect error (or a timeout caused by one): ${inspect(reason)}`);
        }
        assert.ok(elapsed < 3500, `every outage caller settled in ${elapsed} ms: no hang`);
        assert.equal(pool.checkedOut(), 0);

        await target.startServer();
        const answering = Date.now();
        let served = false;
        while (!served && Date.now() - answering < 5000) {
          try {
            await work(pool);
            served = true;
          } catch {
            await sleep(20);
          }
        }
        const recovery = Date.now() - answering;
        assert.ok(served, 'the pool serves again');
        assert.ok(recovery < 1000, `served again ${recovery} ms after the server answered`);

        await Promise.all(Array.from({ length: 20 }, () => work(pool)));
        assert.equal(pool.checkedOut(), 0);
      } finally {
        await pool.close({ timeout: 2000 });
      }
    });

    it('a wrong password: every caller gets the server error (28P01) at once; the secret is nowhere', async () => {
      const secret = 'wrong-secret-4242';
      const badUrl = new URL(target.url);
      badUrl.password = secret;
      const pool = await createPool<pg.Client>(badUrl.toString(), { poolSize: 1, maxOverflow: 0, timeout: 20_000, logger: quietLogger, echo: 'debug' });
      try {
        const started = Date.now();
        const results = await Promise.allSettled(Array.from({ length: 4 }, () => pool.connect()));
        assert.ok(Date.now() - started < 3000, 'no waiter hangs');
        for (const result of results) {
          assert.equal(result.status, 'rejected');
          const reason = result.reason as { code?: string; cause?: { code?: string } };
          assert.ok(reason.code === '28P01' || reason.cause?.code === '28P01', inspect(reason));
          assert.ok(!inspect(reason, { depth: 10 }).includes(secret), 'the password is not in the error');
        }
        assert.equal(pool.checkedOut(), 0);
        assert.ok(!pool.status().includes(secret));
        assert.ok(!pool.loggingName.includes(secret));
        assert.ok(!quietLogger.lines.some((line) => line.includes(secret)), 'the password is not in the log');
      } finally {
        await pool.close({ timeout: 2000 });
      }
    });
  });
}
