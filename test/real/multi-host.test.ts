// Several hosts and a primary with its replica (SPEC section 14), on two real PostgreSQL 15 servers
// this test builds itself (test/support/replication.ts): a primary and a streaming replica on
// loopback ports. Multi-host URLs find the host that target_session_attrs asks for, whatever the
// order; a dead host is skipped; none matching is an error naming each host's answer. createCluster
// spreads reads over the replica(s), falls back to the primary while the replica is down, and comes
// back to it after the backoff. Last, a failover: writers run through a read-write multi-host pool,
// the primary crashes, the replica is promoted; the writers recover within 2 s of the promotion and
// every write reported committed is on the new primary.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { createCluster, createPool, NoMatchingHostError } from '../../src/index.js';
import type { Cluster, QueuePool } from '../../src/index.js';
import { freePort } from '../../demo/embedded-postgres.js';
import { replicationUnavailable, startReplicationPair } from '../support/replication.js';
import type { ReplicationPair } from '../support/replication.js';
import { isCI, uniqueName } from '../support/servers.js';
import { quietLogger, sleep, waitFor } from './contract.js';

/** Which server a pool's next checkout lands on: its port, and whether it is in recovery. */
async function landing(pool: QueuePool<pg.Client> | Cluster<pg.Client>, readOnly = false): Promise<{ port: number; standby: boolean }> {
  const pc = await ('writer' in pool ? pool.connect({ readOnly }) : pool.connect());
  try {
    const { rows } = await pc.connection.query<{ port: number; standby: boolean }>('SELECT inet_server_port() AS port, pg_is_in_recovery() AS standby');
    const row = rows[0];
    assert.ok(row !== undefined);
    return row;
  } finally {
    await pc.close();
  }
}

function multiHost(ports: readonly number[], attrs?: string, extra = ''): string {
  const hosts = ports.map((port) => `127.0.0.1:${port}`).join(',');
  const query = [attrs === undefined ? '' : `target_session_attrs=${attrs}`, extra].filter((part) => part !== '').join('&');
  return `postgres://postgres:not-the-password@${hosts}/postgres${query === '' ? '' : `?${query}`}`;
}

const unavailable = replicationUnavailable();

if (unavailable !== null) {
  describe('several hosts and replicas (PostgreSQL 15 binaries unavailable)', () => {
    it('builds a primary and a streaming replica', (t) => {
      if (isCI) throw new Error(`CI=true and the replication suite cannot run: ${unavailable}`);
      t.skip(`SKIPPED: ${unavailable}`);
    });
  });
} else {
  describe('several hosts and replicas on a primary + streaming replica (PostgreSQL 15, loopback)', { timeout: 180_000 }, () => {
    let pair: ReplicationPair | undefined;
    let primaryPort: number;
    let replicaPort: number;
    let closedPort: number;
    const pools: (QueuePool<pg.Client> | Cluster<pg.Client>)[] = [];
    const pool = async (url: string, options: Record<string, unknown> = {}): Promise<QueuePool<pg.Client>> => {
      const created = await createPool<pg.Client>(url, { poolSize: 2, logger: quietLogger, connectTimeout: 5000, ...options });
      pools.push(created);
      return created;
    };

    const servers = (): ReplicationPair => {
      assert.ok(pair !== undefined, 'the replication pair started');
      return pair;
    };

    before(async () => {
      pair = await startReplicationPair();
      primaryPort = pair.primary.port;
      replicaPort = pair.replica.port;
      closedPort = await freePort();
    });
    after(async () => {
      await Promise.all(pools.map((each) => each.close({ timeout: 2000 })));
      await pair?.teardown();
    });

    it('read-write and primary find the primary whichever order the hosts are given', async () => {
      for (const attrs of ['read-write', 'primary']) {
        for (const order of [[primaryPort, replicaPort], [replicaPort, primaryPort]]) {
          const found = await landing(await pool(multiHost(order, attrs)));
          assert.deepEqual(found, { port: primaryPort, standby: false }, `${attrs} over ${order.join(',')}`);
        }
      }
    });

    it('read-only, standby and prefer-standby find the replica; any takes the first host', async () => {
      for (const attrs of ['read-only', 'standby', 'prefer-standby']) {
        assert.deepEqual(await landing(await pool(multiHost([primaryPort, replicaPort], attrs))), { port: replicaPort, standby: true }, attrs);
      }
      assert.deepEqual(await landing(await pool(multiHost([replicaPort, primaryPort]))), { port: replicaPort, standby: true }, 'no attrs: the first');
      assert.deepEqual(await landing(await pool(multiHost([primaryPort, replicaPort], 'any'))), { port: primaryPort, standby: false }, 'any: the first');
      // One host with target_session_attrs is checked too.
      assert.deepEqual(await landing(await pool(multiHost([replicaPort], 'standby'))), { port: replicaPort, standby: true }, 'one host');
      // prefer-standby without a standby: any host will do.
      assert.deepEqual(await landing(await pool(multiHost([closedPort, primaryPort], 'prefer-standby'))), { port: primaryPort, standby: false });
    });

    it('a dead first host (a closed port) is skipped', async () => {
      assert.deepEqual(await landing(await pool(multiHost([closedPort, replicaPort, primaryPort], 'read-write'))), { port: primaryPort, standby: false });
      assert.deepEqual(await landing(await pool(multiHost([closedPort, replicaPort]))), { port: replicaPort, standby: true });
    });

    it('none matching: the error names the value asked for and what each host answered, never the password', async () => {
      const none = await pool(multiHost([replicaPort, closedPort], 'read-write'));
      await assert.rejects(none.connect(), (error: unknown) => {
        assert.ok(error instanceof NoMatchingHostError, String(error));
        assert.equal(
          error.message,
          `no host matches target_session_attrs=read-write (127.0.0.1:${replicaPort}: read-only (in recovery); 127.0.0.1:${closedPort}: ECONNREFUSED)`,
        );
        assert.doesNotMatch(`${error.message} ${String(error.stack)}`, /not-the-password/);
        return true;
      });
      const standby = await pool(multiHost([primaryPort], 'standby'));
      await assert.rejects(standby.connect(), new RegExp(`target_session_attrs=standby \\(127\\.0\\.0\\.1:${primaryPort}: read-write \\(primary\\)\\)`));
      assert.equal(none.stats().connectErrors, 1);
      assert.equal(none.stats().created, 0, 'the sessions that did not match were not kept');
    });

    it('createCluster: reads round robin over the readers, writes go to the primary', async () => {
      const nodes = servers();
      const cluster = await createCluster<pg.Client>({ primary: nodes.primary.url, replicas: [nodes.replica.url, nodes.replica.url], poolSize: 2, logger: quietLogger, prePing: true });
      pools.push(cluster);
      const table = uniqueName('cluster_rows');
      const writer = await cluster.connect();
      try {
        await writer.connection.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
        await writer.connection.query(`INSERT INTO ${table} VALUES (1)`);
        assert.equal((await writer.connection.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby')).rows[0]?.standby, false);
      } finally {
        await writer.close();
      }
      for (let i = 0; i < 10; i++) assert.deepEqual(await landing(cluster, true), { port: replicaPort, standby: true });
      assert.deepEqual(await landing(cluster, false), { port: primaryPort, standby: false });
      const stats = cluster.stats();
      assert.deepEqual(stats.readers.map((reader) => reader.checkouts), [5, 5], 'round robin over the two readers');
      assert.equal(stats.writer.checkouts, 2);
      // The write reaches the replica (streaming), where the reads see it.
      assert.ok(await waitFor(async () => {
        const pc = await cluster.connect({ readOnly: true });
        try {
          return (await pc.connection.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]?.n === 1;
        } finally {
          await pc.close();
        }
      }, 10_000));
    });

    it('createCluster: the replica stopped, reads fall back to the primary with no error; back, reads return to it after the backoff', async () => {
      const nodes = servers();
      const cluster = await createCluster<pg.Client>({ primary: nodes.primary.url, replicas: [nodes.replica.url], poolSize: 2, logger: quietLogger, prePing: true, connectTimeout: 3000 });
      pools.push(cluster);
      assert.deepEqual(await landing(cluster, true), { port: replicaPort, standby: true });
      await nodes.stop(nodes.replica, 'fast');
      for (let i = 0; i < 5; i++) assert.deepEqual(await landing(cluster, true), { port: primaryPort, standby: false }, `read ${i} after the stop`);
      assert.equal(cluster.stats().readers[0]?.connectErrors, 1, 'the replica was tried once, then left out for the backoff');
      await nodes.start(nodes.replica);
      const back = await waitFor(async () => (await landing(cluster, true)).port === replicaPort, 15_000);
      assert.ok(back, 'reads return to the replica after its backoff');
    });

    it('failover: writers recover within 2 s of the promotion and no committed write is lost', async (t) => {
      const nodes = servers();
      const table = uniqueName('failover_writes');
      const setup = await pool(nodes.primary.url);
      const pc = await setup.connect();
      await pc.connection.query(`CREATE TABLE ${table} (id int PRIMARY KEY, writer int NOT NULL)`);
      await pc.close();
      await setup.close();
      await nodes.waitForReplay();

      // synchronous_commit=on: the primary reports a commit only once the replica has its WAL.
      const url = multiHost([primaryPort, replicaPort], 'read-write', 'options=-c%20synchronous_commit%3Don&application_name=lifeguard-failover');
      const writers = await pool(url, { poolSize: 3, prePing: true, connectTimeout: 2000, timeout: 3000, connectOptions: { query_timeout: 5000 } });
      const committed = new Set<number>();
      const successes: number[] = [];
      let failures = 0;
      let nextId = 1;
      let running = true;
      const writer = async (index: number): Promise<void> => {
        while (running) {
          const id = nextId++;
          try {
            const conn = await writers.connect();
            try {
              await conn.connection.query(`INSERT INTO ${table} (id, writer) VALUES ($1, $2)`, [id, index]);
              committed.add(id);
              successes.push(performance.now());
            } finally {
              await conn.close();
            }
          } catch {
            failures++;
            // A pause before the next attempt, so a down primary is not hammered.
            await sleep(25);
          }
        }
      };
      const loops = [0, 1, 2].map((index) => writer(index));
      try {
        assert.ok(await waitFor(() => committed.size >= 60, 20_000), 'the writers commit on the primary');
        const failuresBefore = failures;
        await nodes.stop(nodes.primary, 'immediate');
        assert.ok(await waitFor(() => failures > failuresBefore, 10_000), 'the writers see the primary go');
        const stoppedAt = performance.now();
        const beforePromotion = committed.size;
        // The promotion moment is when it is asked for: pg_ctl returns only once it has seen the
        // replica leave recovery, and writers may already be through by then.
        const promotionAskedAt = performance.now();
        await nodes.promote(nodes.replica);
        const promotedAt = performance.now();
        assert.equal(successes.filter((time) => time > stoppedAt && time < promotionAskedAt).length, 0, 'no write succeeds between the crash and the promotion');
        assert.ok(await waitFor(() => successes.some((time) => time > promotionAskedAt), 10_000), 'the writers write again');
        const firstWrite = successes.find((time) => time > promotionAskedAt) as number;
        const recoveryMs = firstWrite - promotionAskedAt;
        const report = `promotion asked -> first successful write: ${recoveryMs.toFixed(0)} ms (pg_ctl promote took ${(promotedAt - promotionAskedAt).toFixed(0)} ms); ${beforePromotion} writes committed before the crash, ${failures} failed attempts`;
        t.diagnostic(report);
        console.log(`failover: ${report}`);
        assert.ok(recoveryMs < 2000, `recovered in ${recoveryMs.toFixed(0)} ms`);
        const target = committed.size + 30;
        assert.ok(await waitFor(() => committed.size >= target, 10_000), 'the writers keep writing on the new primary');
      } finally {
        running = false;
        await Promise.all(loops);
      }
      // Every write reported committed is on the new primary.
      const check = await pool(nodes.replica.url);
      const conn = await check.connect();
      try {
        assert.equal((await conn.connection.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby')).rows[0]?.standby, false);
        const { rows } = await conn.connection.query<{ id: number }>(`SELECT id FROM ${table}`);
        const present = new Set(rows.map((row) => row.id));
        const lost = [...committed].filter((id) => !present.has(id));
        assert.deepEqual(lost, [], `${lost.length} of ${committed.size} committed writes lost`);
      } finally {
        await conn.close();
      }
    });
  });
}
