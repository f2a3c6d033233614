// createCluster / Cluster over mock-driver pools: routing, round robin, replica health and backoff, validation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArgumentError, Cluster, createCluster, PoolClosedError, QueuePool, REPLICA_BACKOFF_MIN_MS } from '../../src/index.js';
import type { PooledConnection } from '../../src/index.js';
import { CaptureLogger } from '../support/capture-logger.js';
import { MockDisconnectError, MockDriver } from '../support/mock-driver.js';
import type { MockConnection } from '../support/mock-driver.js';

interface Node {
  driver: MockDriver;
  pool: QueuePool<MockConnection>;
  logger: CaptureLogger;
}

function node(name: string): Node {
  const driver = new MockDriver();
  const logger = new CaptureLogger();
  const pool = new QueuePool<MockConnection>({ creator: driver.creator, dialect: driver.dialect, logger, loggingName: name, poolSize: 2 });
  return { driver, pool, logger };
}

function setup(replicaCount: number) {
  const primary = node('primary');
  const replicas = Array.from({ length: replicaCount }, (_unused, index) => node(`replica${index}`));
  const cluster = new Cluster(primary.pool, replicas.map((replica) => replica.pool));
  return { primary, replicas, cluster };
}

async function served(cluster: Cluster<MockConnection>, pools: QueuePool<MockConnection>[], readOnly: boolean): Promise<number> {
  const pc: PooledConnection<MockConnection> = await cluster.connect({ readOnly });
  const before = pools.map((pool) => pool.checkedOut());
  await pc.close();
  const index = pools.findIndex((pool, i) => pool.checkedOut() < (before[i] ?? 0));
  assert.notEqual(index, -1, 'the checkout came from one of the cluster pools');
  return index;
}

describe('Cluster routing', () => {
  it('plain and readOnly:false checkouts go to the writer; readOnly ones round robin over the readers', async () => {
    const { primary, replicas, cluster } = setup(2);
    const pools = [primary.pool, ...replicas.map((replica) => replica.pool)];
    assert.equal(await served(cluster, pools, false), 0);
    const plain = await cluster.connect();
    assert.equal(primary.pool.checkedOut(), 1);
    await plain.close();
    const order: number[] = [];
    for (let i = 0; i < 6; i++) order.push(await served(cluster, pools, true));
    assert.deepEqual(order, [1, 2, 1, 2, 1, 2]);
    assert.equal(cluster.writer, primary.pool);
    assert.deepEqual(cluster.readers, [replicas[0]?.pool, replicas[1]?.pool]);
    const stats = cluster.stats();
    assert.equal(stats.writer.checkouts, 2);
    assert.deepEqual(stats.readers.map((s) => s.checkouts), [3, 3]);
    await cluster.close();
  });

  it('without replicas a read-only checkout goes to the writer', async () => {
    const { primary, cluster } = setup(0);
    const pc = await cluster.connect({ readOnly: true });
    assert.equal(primary.pool.checkedOut(), 1);
    await pc.close();
    await cluster.close();
  });

  it('a failing replica is skipped by the same checkout, left out for the backoff, then tried again', async () => {
    const { primary, replicas, cluster } = setup(2);
    const [first, second] = replicas as [Node, Node];
    const pools = [primary.pool, first.pool, second.pool];
    first.driver.failConnects(1, new MockDisconnectError('mock: replica 0 refused'));
    // The checkout that meets the failure moves on to replica 1 and never sees the error.
    assert.equal(await served(cluster, pools, true), 2);
    assert.equal(first.driver.connectCalls, 1);
    assert.match(first.logger.at('warn').join('\n'), /replica checkout failed \(mock: replica 0 refused\); left out of read checkouts for 1000ms/);
    // While it is left out, reads go to replica 1 only and replica 0 is not even asked.
    for (let i = 0; i < 4; i++) assert.equal(await served(cluster, pools, true), 2);
    assert.equal(first.driver.connectCalls, 1);
    // After the backoff it serves again (the failure count resets on success).
    const started = performance.now();
    let back = false;
    while (!back && performance.now() - started < REPLICA_BACKOFF_MIN_MS + 2000) {
      back = (await served(cluster, pools, true)) === 1;
      if (!back) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(back, 'replica 0 serves again after its backoff');
    assert.ok(performance.now() - started >= REPLICA_BACKOFF_MIN_MS - 50, 'not before the backoff');
    await cluster.close();
  });

  it('every replica failing: the checkout falls back to the writer, and the backoff doubles', async () => {
    const { primary, replicas, cluster } = setup(1);
    const [only] = replicas as [Node];
    const pools = [primary.pool, only.pool];
    only.driver.failConnects(2);
    assert.equal(await served(cluster, pools, true), 0);
    assert.equal(await served(cluster, pools, true), 0, 'left out: straight to the writer');
    assert.equal(only.driver.connectCalls, 1);
    // Reads keep going to the writer; once the 1 s backoff has passed one of them tries the replica again.
    const started = performance.now();
    const calls = (): number => only.driver.connectCalls;
    while (calls() < 2 && performance.now() - started < REPLICA_BACKOFF_MIN_MS + 2000) {
      assert.equal(await served(cluster, pools, true), 0);
      if (calls() < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(calls(), 2, 'tried again after the backoff, and failed again');
    assert.ok(performance.now() - started >= REPLICA_BACKOFF_MIN_MS - 100, 'not before the backoff');
    assert.match(only.logger.at('warn').join('\n'), /left out of read checkouts for 2000ms/);
    await cluster.close();
  });

  it('the writer failing is the caller\'s error; an aborted read is not retried elsewhere', async () => {
    const { primary, replicas, cluster } = setup(1);
    primary.driver.failConnects(1, new Error('primary down'));
    await assert.rejects(cluster.connect(), /primary down/);
    const controller = new AbortController();
    const gate = (replicas[0] as Node).driver.hangConnect();
    const pending = cluster.connect({ readOnly: true, signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await assert.rejects(pending, /caller gave up/);
    assert.equal(primary.pool.checkedOut(), 0, 'the abort did not fall back to the writer');
    gate.release();
    await cluster.close();
  });

  it('close() closes every pool, once; checkouts after it fail with PoolClosedError', async () => {
    const { primary, replicas, cluster } = setup(1);
    const first = cluster.close();
    assert.equal(cluster.close(), first);
    await first;
    await assert.rejects(cluster.connect({ readOnly: true }), PoolClosedError);
    await assert.rejects(cluster.connect(), PoolClosedError);
    await assert.rejects(primary.pool.connect(), PoolClosedError);
    await assert.rejects((replicas[0] as Node).pool.connect(), PoolClosedError);
  });

  it('bad connect options are ArgumentErrors', async () => {
    const { cluster } = setup(1);
    await assert.rejects(cluster.connect({ readOnly: 'yes' as unknown as boolean }), (error: unknown) => error instanceof ArgumentError && /readOnly/.test(error.message));
    await assert.rejects(cluster.connect(null as unknown as undefined), ArgumentError);
    await cluster.close();
  });
});

describe('createCluster arguments', () => {
  const cases: [string, unknown, RegExp][] = [
    ['no options', undefined, /options must be an object/],
    ['no primary', { replicas: [] }, /primary must be a database URL string, got undefined/],
    ['a numeric primary', { primary: 5 }, /primary must be a database URL string, got number/],
    ['replicas not an array', { primary: 'postgres://h/db', replicas: 'postgres://r/db' }, /replicas must be an array/],
    ['a bad replica', { primary: 'postgres://h/db', replicas: ['postgres://r/db', 7] }, /replicas\[1\] must be a database URL string, got number/],
    ['an unsupported replica URL', { primary: 'postgres://h/db', replicas: ['ftp://u:secret@r/db'] }, /createCluster: replicas\[0\] \(ftp:\/\/u:\*\*\*@r\/db\): createPool: unsupported URL/],
    ['an invalid pool option', { primary: 'postgres://h/db', poolSize: -1 }, /createCluster: primary .*poolSize/],
  ];
  for (const [title, options, pattern] of cases) {
    it(title, async () => {
      await assert.rejects(createCluster(options as never), (error: unknown) => {
        assert.ok(error instanceof ArgumentError, String(error));
        assert.match(error.message, pattern);
        assert.doesNotMatch(error.message, /secret/);
        return true;
      });
    });
  }
});
