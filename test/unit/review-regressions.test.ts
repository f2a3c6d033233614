// Regressions found in review: each test failed before its fix.
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, it } from 'node:test';
import { ArgumentError, manage, PoolClosedError, QueuePool, StaticPool } from '../../src/index.js';
import type { PooledConnection } from '../../src/index.js';
import { CaptureLogger, sleep, tick } from '../support/capture-logger.js';
import { MockDriver } from '../support/mock-driver.js';
import type { MockConnection } from '../support/mock-driver.js';

const idOf = (pc: PooledConnection<MockConnection>): number => (pc.connection).id;
const base = (driver: MockDriver) => ({ creator: driver.creator, dialect: driver.dialect, logger: new CaptureLogger() });

describe('review regressions', () => {
  it('manage(): URLs are keyed by their text, and arguments that cannot be compared by value are refused', async () => {
    const proxy = manage({ connect: (url: URL) => ({ user: url.username }) });
    const alice = await proxy.connect(new URL('postgres://alice:pw1@db/app'));
    const bob = await proxy.connect(new URL('postgres://bob:pw2@db/app'));
    assert.equal(proxy.size, 2);
    assert.deepEqual(bob.connection, { user: 'bob' });
    await alice.close();
    await bob.close();
    await assert.rejects(proxy.connect(new Map([['user', 'alice']])), ArgumentError);
    class Credentials { constructor(readonly user: string) {} }
    await assert.rejects(proxy.connect(new Credentials('alice')), ArgumentError);
  });

  it('a close() that does not wait for a hard invalidate never hands the dying connection to the next holder', async () => {
    for (const sync of [false, true]) {
      const driver = new MockDriver({ sync });
      const pool = new QueuePool({ ...base(driver), poolSize: 1, maxOverflow: 0 });
      pool.on('invalidate', async () => { await sleep(5); });
      const a = await pool.connect();
      const waiting = pool.connect();
      void a.invalidate(new Error('broken'));
      await a.close();
      const b = await waiting;
      await sleep(20);
      assert.equal(b.connection.closed, false, `sync=${sync}: the next holder's connection is alive`);
      assert.notEqual(idOf(b), 1);
      assert.deepEqual(driver.misuse, []);
      await b.close();
    }
  });

  it('StaticPool: a failed reset on a replaced connection does not touch the new shared one', async () => {
    const driver = new MockDriver();
    const pool = new StaticPool(base(driver));
    const a = await pool.connect();
    const b = await pool.connect(); // shares #1
    await a.invalidate(); // #1 terminated, the record empties
    const c = await pool.connect(); // opens #2
    driver.get(1).failOn('rollback');
    await b.close(); // b still points at #1
    assert.equal(driver.get(2).closed, false);
    assert.equal(c.connection, driver.get(2));
    assert.deepEqual(driver.misuse, []);
    await c.close();
  });

  it('StaticPool: a reset that fails after a neighbour replaced the shared connection leaves the new one alone', async () => {
    const driver = new MockDriver();
    const pool = new StaticPool(base(driver));
    const a = await pool.connect();
    const b = await pool.connect(); // shares #1
    const gate = driver.get(1).hangOn('rollback');
    const closing = b.close(); // b's rollback of #1 hangs
    await a.invalidate(); // meanwhile #1 is terminated...
    const c = await pool.connect(); // ...and #2 replaces it
    gate.fail(new Error('rollback on a terminated connection'));
    await closing;
    assert.equal(driver.get(2).closed, false, "c's connection survives b's failed reset");
    assert.equal(c.connection, driver.get(2));
    await c.close();
  });

  it('after close(), a context-local caller is refused instead of queued', async () => {
    const driver = new MockDriver();
    const pool = new QueuePool({ ...base(driver), poolSize: 1, maxOverflow: 0, useContextLocal: true, timeout: Infinity });
    const holder = await pool.uniqueConnection(); // takes the only slot
    await pool.scope(async () => {
      const first = pool.connect(); // queued
      const second = pool.connect(); // same scope: waits on first's checkout
      await tick();
      const closing = pool.close(); // rejects first; second then retries with a checkout of its own
      await assert.rejects(first, PoolClosedError);
      await assert.rejects(second, PoolClosedError);
      assert.equal(pool.waiting(), 0);
      await holder.close();
      await closing;
      assert.equal(driver.live(), 0);
    });
  });

  it('connect() and uniqueConnection() refuse bad options with an ArgumentError', async () => {
    const driver = new MockDriver();
    const pool = new QueuePool(base(driver));
    for (const bad of [null, 'fast', { signal: 'soon' }]) {
      await assert.rejects(pool.connect(bad as never), ArgumentError);
      await assert.rejects(pool.uniqueConnection(bad as never), ArgumentError);
    }
    assert.equal(pool.checkedOut(), 0);
    assert.equal(driver.opened, 0);
  });

  it('useContextLocal outside any scope gives unrelated callers their own checkouts', async () => {
    const driver = new MockDriver();
    const pool = new QueuePool({ ...base(driver), useContextLocal: true });
    const [a, b] = await Promise.all([pool.connect(), pool.connect()]);
    assert.notEqual(a, b);
    await a.close();
    await b.close();
  });

  it("connects and timers never run in (or keep alive) the context of the request that built the pool", async () => {
    const requests = new AsyncLocalStorage<string>();
    const seen: (string | undefined)[] = [];
    let n = 0;
    const proxy = manage({ connect: () => { seen.push(requests.getStore()); return { id: ++n }; } });
    const pc1 = await requests.run('request-1', () => proxy.connect('db'));
    const pc2 = await requests.run('request-2', () => proxy.connect('db'));
    assert.deepEqual(seen, [undefined, undefined]);
    await pc1.close();
    await pc2.close();
  });

  it('a timeout beyond setTimeout range waits without a timer storm', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => { warnings.push(warning.name); };
    process.on('warning', onWarning);
    try {
      const driver = new MockDriver();
      const pool = new QueuePool({ ...base(driver), poolSize: 1, maxOverflow: 0, timeout: 30 * 24 * 3600 * 1000 });
      const held = await pool.connect();
      const waiting = pool.connect();
      await sleep(30);
      await tick();
      assert.equal(pool.waiting(), 1, 'still waiting, not timed out');
      await held.close();
      await (await waiting).close();
      assert.deepEqual(warnings.filter((name) => name === 'TimeoutOverflowWarning'), []);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
