// The connection lifecycle (SPEC section 11) counted on the server itself: minIdle, idleTimeout,
// warmUp, keep-alive replacing a connection the server killed, and maxUses, for each server dialect
// (pg, mysql2, mariadb). The pool's own counts are checked against the server's session list.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { QueuePool } from '../../src/index.js';
import { quietLogger, waitFor } from './contract.js';
import type { DisconnectHarness } from './disconnects.js';

/** Waits (bounded) until the server lists exactly `n` of the pool's sessions. */
async function sessionsBecome<C>(harness: DisconnectHarness<C>, n: number, what: string, ms = 5000): Promise<number[]> {
  let ids: number[] = [];
  const ok = await waitFor(async () => {
    ids = (await harness.sessions()).map((session) => session.id);
    return ids.length === n;
  }, ms);
  assert.ok(ok, `${what}: the server lists ${ids.length} session(s), expected ${n}`);
  return ids;
}

async function closeAndCheck<C>(harness: DisconnectHarness<C>, pool: QueuePool<C>): Promise<void> {
  await pool.close({ timeout: 2000 });
  await sessionsBecome(harness, 0, 'after close()');
}

export function runLifecycleSuite<C>(name: string, harness: DisconnectHarness<C>): void {
  describe(name, { timeout: 60_000 }, () => {
    // A failed test must not leave its sessions behind for the next one to count.
    const made: QueuePool<C>[] = [];
    const open = (options: Parameters<DisconnectHarness<C>['pool']>[0]): QueuePool<C> => {
      const pool = harness.pool({ logger: quietLogger, ...options });
      made.push(pool);
      return pool;
    };
    afterEach(async () => {
      await Promise.all(made.splice(0).map((pool) => pool.close({ timeout: 1000 })));
      await sessionsBecome(harness, 0, 'after the test');
    });
    it('minIdle: the server sees minIdle connections opened in the background, topped up after a checkout', async () => {
      const pool = open({ poolSize: 4, maxOverflow: 0, minIdle: 2 });
      await sessionsBecome(harness, 2, 'minIdle 2 at construction');
      const pc = await pool.connect();
      await sessionsBecome(harness, 3, 'one checked out, two idle again');
      // The server lists a session as soon as it authenticates, a moment before the driver's
      // handshake ends and the pool counts the connection idle.
      assert.ok(await waitFor(() => pool.stats().idle === 2, 5000), `two idle again (stats ${JSON.stringify(pool.stats())})`);
      assert.equal(pool.stats().used, 1);
      await pc.close();
      await closeAndCheck(harness, pool);
    });

    it('idleTimeout: connections idle past it are closed on the server, down to minIdle', async () => {
      const pool = open({ poolSize: 4, maxOverflow: 0, minIdle: 1, idleTimeout: 150 });
      const held = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
      await sessionsBecome(harness, 4, 'three checked out, and one idle for minIdle');
      for (const pc of held) await pc.close();
      await sessionsBecome(harness, 1, 'idle ones beyond minIdle closed');
      assert.equal(pool.stats().idle, 1);
      await closeAndCheck(harness, pool);
    });

    it('warmUp(): resolves once minIdle connections are open, and the server sees exactly those', async () => {
      const pool = open({ poolSize: 4, maxOverflow: 0, minIdle: 3 });
      await pool.warmUp();
      assert.equal(pool.stats().idle, 3);
      await sessionsBecome(harness, 3, 'warmed up');
      await closeAndCheck(harness, pool);
    });

    it('keepAliveInterval: an idle connection killed on the server is replaced before any caller asks', async () => {
      const pool = open({ poolSize: 1, maxOverflow: 0, keepAliveInterval: 100 });
      await (await pool.connect()).close();
      const [first] = await sessionsBecome(harness, 1, 'one idle connection');
      assert.ok(first !== undefined);
      await harness.killSessions([first]);
      const ok = await waitFor(async () => {
        const ids = (await harness.sessions()).map((session) => session.id);
        return ids.length === 1 && ids[0] !== first && pool.stats().idle === 1;
      }, 5000);
      assert.ok(ok, 'a new session replaced the killed one');
      assert.equal(pool.stats().checkouts, 1, 'no caller was involved');
      const pc = await pool.connect();
      await harness.exec(pc.connection, harness.ping);
      await pc.close();
      await closeAndCheck(harness, pool);
    });

    it('maxUses: the server sees a new session after that many checkouts', async () => {
      const pool = open({ poolSize: 1, maxOverflow: 0, maxUses: 2 });
      const seen: number[] = [];
      for (let i = 0; i < 3; i++) {
        const pc = await pool.connect();
        await harness.exec(pc.connection, harness.ping);
        const [id] = await sessionsBecome(harness, 1, `checkout ${i + 1}`);
        assert.ok(id !== undefined);
        seen.push(id);
        await pc.close();
      }
      assert.equal(seen[0], seen[1]);
      assert.notEqual(seen[1], seen[2]);
      await closeAndCheck(harness, pool);
    });
  });
}
