// QueuePool: capacity, strict FIFO hand-off, failures, abort, timeout, dispose, close, GC safety net.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArgumentError, InvalidRequestError, PoolClosedError, PoolTimeoutError, QueuePool } from '../../src/index.js';
import type { PooledConnection, QueuePoolOptions } from '../../src/index.js';
import { CaptureLogger, sleep, tick } from '../support/capture-logger.js';
import { MockDisconnectError, MockDriver } from '../support/mock-driver.js';
import type { MockConnection } from '../support/mock-driver.js';

function setup(options: Partial<QueuePoolOptions<MockConnection>> = {}, driver = new MockDriver()) {
  const logger = new CaptureLogger();
  const pool = new QueuePool<MockConnection>({ creator: driver.creator, dialect: driver.dialect, logger, poolSize: 2, maxOverflow: 1, ...options });
  return { driver, pool, logger };
}

const idOf = (pc: PooledConnection<MockConnection>): number => (pc.connection).id;

describe('QueuePool capacity and accounting', () => {
  it('opens at most poolSize + maxOverflow, keeps poolSize idle, closes the overflow on return', async () => {
    const { driver, pool } = setup();
    const held = [await pool.connect(), await pool.connect(), await pool.connect()];
    assert.equal(pool.status(), 'Pool size: 2  Connections in pool: 0 Current Overflow: 1 Current Checked out connections: 3');
    for (const pc of held) await pc.close();
    assert.equal(pool.checkedIn(), 2);
    assert.equal(pool.overflow(), 0);
    assert.equal(pool.checkedOut(), 0);
    assert.equal(driver.get(3).closed, true, 'the third return went to a full idle set and was closed');
    assert.equal(driver.live(), 2);
  });

  it('timeout 0 fails at once at capacity; the error carries the counts', async () => {
    const { pool } = setup({ poolSize: 1, maxOverflow: 0, timeout: 0 });
    const pc = await pool.connect();
    await assert.rejects(pool.connect(), (error: unknown) => {
      assert.ok(error instanceof PoolTimeoutError);
      assert.equal(error.code, 'POOL_TIMEOUT');
      assert.equal(error.message, 'QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0ms');
      assert.equal(error.checkedOut, 1);
      assert.equal(error.poolSize, 1);
      return true;
    });
    await pc.close();
  });

  it('a waiter times out after `timeout` ms with the last connect error as cause', async () => {
    const { driver, pool } = setup({ poolSize: 1, maxOverflow: 0, timeout: 40 });
    driver.failConnects(1, new MockDisconnectError('refused!'));
    await assert.rejects(pool.connect(), /refused!/);
    const pc = await pool.connect();
    driver.failConnects(0);
    // lastConnectError was cleared by the successful connect: a plain timeout has no cause.
    const started = performance.now();
    await assert.rejects(pool.connect(), (error: unknown) => error instanceof PoolTimeoutError && error.cause === undefined);
    assert.ok(performance.now() - started >= 35);
    assert.equal(pool.waiting(), 0);
    await pc.close();
  });

  it('poolSize 0 means no limit at all; maxOverflow -1 means unlimited overflow', async () => {
    for (const options of [{ poolSize: 0, maxOverflow: 0 }, { poolSize: 1, maxOverflow: -1 }]) {
      const { driver, pool } = setup(options);
      const held = await Promise.all(Array.from({ length: 20 }, () => pool.connect()));
      assert.equal(driver.opened, 20);
      for (const pc of held) await pc.close();
      assert.equal(pool.checkedOut(), 0);
      assert.equal(pool.checkedIn(), options.poolSize === 0 ? 20 : 1);
    }
  });

  it('FIFO hands out the oldest idle connection, LIFO the newest', async () => {
    for (const useLifo of [false, true]) {
      const { pool } = setup({ useLifo });
      const a = await pool.connect();
      const b = await pool.connect();
      await a.close();
      await b.close();
      const next = await pool.connect();
      assert.equal(idOf(next), useLifo ? 2 : 1);
      await next.close();
    }
  });
});

describe('QueuePool waiters', () => {
  it('serves waiters first come first served by direct hand-off, not whoever calls connect() next', async () => {
    const { pool } = setup({ poolSize: 1, maxOverflow: 0 });
    const held = await pool.connect();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) => pool.connect().then((pc) => { order.push(n); return pc; }));
    assert.equal(pool.waiting(), 3);
    await held.close();
    const late = pool.connect(); // arrives after the return: must queue behind waiters 2 and 3
    const first = await waiters[0]!;
    assert.equal(idOf(first), 1, 'the returned connection itself was handed over');
    await first.close();
    await (await waiters[1]!).close();
    await (await waiters[2]!).close();
    await (await late).close();
    assert.deepEqual(order, [1, 2, 3]);
  });

  it('a failed connect releases its capacity at once and wakes a waiter', async () => {
    const { driver, pool } = setup({ poolSize: 1, maxOverflow: 0, timeout: 10_000 });
    const gate = driver.hangConnect();
    const first = pool.connect();
    const second = pool.connect();
    assert.equal(pool.waiting(), 1);
    gate.fail(new MockDisconnectError('server down'));
    await assert.rejects(first, /server down/);
    const started = performance.now();
    const pc = await second; // connects on its own, long before any timeout
    assert.ok(performance.now() - started < 1000);
    assert.equal(pool.checkedOut(), 1);
    await pc.close();
    assert.equal(pool.checkedOut(), 0);
  });

  it('an aborted waiter leaves the queue at once; a connection that arrives after the abort goes back', async () => {
    const { driver, pool } = setup({ poolSize: 1, maxOverflow: 0 });
    const held = await pool.connect();
    const controller = new AbortController();
    const waiting = pool.connect({ signal: controller.signal });
    assert.equal(pool.waiting(), 1);
    controller.abort(new Error('user gave up'));
    await assert.rejects(waiting, /user gave up/);
    assert.equal(pool.waiting(), 0);
    await held.close();
    assert.equal(pool.checkedIn(), 1);

    // Abort while connecting: the caller is rejected now, the connection is returned when it arrives.
    const { driver: d2, pool: p2 } = setup({ poolSize: 1, maxOverflow: 0 });
    const gate = d2.hangConnect();
    const c2 = new AbortController();
    const connecting = p2.connect({ signal: c2.signal });
    await tick();
    c2.abort();
    await assert.rejects(connecting, { name: 'AbortError' });
    gate.release();
    await sleep(5);
    assert.equal(p2.checkedOut(), 0);
    assert.equal(p2.checkedIn(), 1);
    assert.equal(d2.live(), 1);
    assert.equal(driver.live(), 1);
    await assert.rejects(p2.connect({ signal: AbortSignal.abort() }), { name: 'AbortError' });
  });

  it('dispose with connections checked out keeps counts exact and limits enforced', async () => {
    const { driver, pool } = setup({ poolSize: 2, maxOverflow: 0 });
    const a = await pool.connect();
    const b = await pool.connect();
    await b.close();
    await pool.dispose();
    assert.equal(driver.get(2).closed, true, 'idle connection closed');
    assert.equal(pool.checkedOut(), 1);
    assert.equal(pool.checkedIn(), 0);
    const c = await pool.connect(); // capacity: 2, one is out
    await assert.rejects(connectGivingUpAfter(pool, 20), PoolTimeoutError);
    await a.close();
    assert.equal(driver.get(1).closed, true, 'checked-out connection closed when it came back');
    await c.close();
    assert.equal(pool.checkedOut(), 0);
    assert.ok(pool.overflow() <= 0);
    assert.equal(pool.checkedIn(), 2, "a's slot came back empty, c's with its connection");
    assert.equal(driver.live(), 1);
  });

  it('close() rejects queued and new checkouts with PoolClosedError and waits for the checked-out ones', async () => {
    const { driver, pool } = setup({ poolSize: 1, maxOverflow: 0 });
    const held = await pool.connect();
    const waiter = pool.connect();
    const closing = pool.close();
    await assert.rejects(waiter, PoolClosedError);
    await assert.rejects(pool.connect(), PoolClosedError);
    let closed = false;
    void closing.then(() => { closed = true; });
    await tick();
    assert.equal(closed, false);
    await held.close();
    await closing;
    assert.equal(driver.live(), 0);
    assert.equal(pool.checkedIn() + pool.checkedOut(), 0);
  });
});

/** A checkout that gives up after `ms` (rejecting with a PoolTimeoutError): proves the pool is at capacity. */
function connectGivingUpAfter(pool: QueuePool<MockConnection>, ms: number): Promise<unknown> {
  const controller = new AbortController();
  setTimeout(() => { controller.abort(new PoolTimeoutError('gave up', { poolSize: 0, maxOverflow: 0, timeout: ms, checkedIn: 0, checkedOut: 0, overflow: 0, waiting: 0, phase: 'queue' })); }, ms);
  return pool.connect({ signal: controller.signal });
}

describe('QueuePool connecting', () => {
  it('a slow connect never blocks other checkouts', async () => {
    const { driver, pool } = setup({ poolSize: 2, maxOverflow: 0 });
    const idle = await pool.connect();
    await idle.close();
    const gate = driver.hangConnect();
    const held = await pool.connect(); // takes the idle one
    const slow = pool.connect(); // opens a new connection, which hangs
    await held.close();
    const fast = await pool.connect(); // served from the idle set while the connect still hangs
    assert.equal(idOf(fast), 1);
    await fast.close();
    gate.release();
    await (await slow).close();
  });

  it('a waiter that times out while connects fail gets the connect error as cause', async () => {
    const { driver, pool } = setup({ poolSize: 2, maxOverflow: 0, timeout: 30 });
    const held = await pool.connect();
    const refused = new MockDisconnectError('connection refused');
    driver.failConnects(1, refused);
    await assert.rejects(pool.connect(), /connection refused/);
    const gate = driver.hangConnect();
    const hanging = pool.connect(); // holds the second slot
    // `timeout` bounds the hanging caller's whole connect() too: it times out while connecting.
    const hangingOutcome = assert.rejects(hanging, (error: unknown) => error instanceof PoolTimeoutError && error.phase === 'checkout');
    await assert.rejects(pool.connect(), (error: unknown) => error instanceof PoolTimeoutError && error.phase === 'queue' && error.cause === refused);
    await hangingOutcome;
    assert.equal(pool.checkedOut(), 2, 'the connect goes on after its caller gave up, holding its slot');
    gate.fail(refused);
    await tick();
    await held.close();
    assert.equal(pool.checkedOut(), 0);
  });

  it('echo: true logs invalidations; echo: debug adds checkouts and checkins', async () => {
    for (const echo of [false, true, 'debug'] as const) {
      const { pool, logger } = setup({ echo, loggingName: 'app-db' });
      const pc = await pool.connect();
      await pc.invalidate(new Error('why'));
      const info = logger.at('info').join('\n');
      const debug = logger.at('debug').join('\n');
      assert.equal(/\[app-db\] Invalidate connection #\d+ \(reason: Error: why\)/.test(info), echo !== false);
      assert.equal(/checked out from pool/.test(debug), echo === 'debug');
    }
  });
});

describe('QueuePool failures', () => {
  it('a connect listener that throws gets that connection closed, and the error reaches the caller', async () => {
    const { driver, pool } = setup();
    pool.on('connect', () => { throw new Error('bad session'); });
    await assert.rejects(pool.connect(), /bad session/);
    assert.equal(driver.get(1).closed, true);
    assert.equal(pool.checkedOut(), 0);
  });

  it('firstConnect runs once, before connect; it is retried on the next connect if it threw', async () => {
    const { pool } = setup();
    const seen: string[] = [];
    let fail = true;
    pool.on('firstConnect', () => {
      seen.push('first');
      if (fail) throw new Error('not yet');
    });
    pool.on('connect', () => { seen.push('connect'); });
    await assert.rejects(pool.connect(), /not yet/);
    fail = false;
    const [a, b] = await Promise.all([pool.connect(), pool.connect()]);
    assert.deepEqual(seen, ['first', 'first', 'connect', 'connect']);
    await a.close();
    await b.close();
  });

  it('a server-killed idle connection is closed at once; a killed checked-out one is replaced at its next checkout', async () => {
    const { driver, pool } = setup();
    const a = await pool.connect();
    const b = await pool.connect();
    await b.close();
    driver.get(2).kill();
    await tick();
    assert.equal(driver.get(2).closedBy, 'terminate', 'idle: terminated at once');
    driver.get(1).kill();
    await a.close();
    const next = await pool.connect();
    const other = await pool.connect();
    assert.deepEqual([idOf(next), idOf(other)].sort(), [3, 4]);
    await next.close();
    await other.close();
    assert.equal(driver.live(), 2);
  });

  it('a connection the server dropped while checked out is not reset on return, just terminated', async () => {
    const { driver, pool, logger } = setup();
    const pc = await pool.connect();
    driver.get(1).kill();
    driver.log.length = 0;
    await pc.close();
    assert.deepEqual(driver.log, ['terminate #1']);
    assert.deepEqual(logger.at('error'), []);
    assert.equal(pool.checkedOut(), 0);
  });

  it('a checkout dropped without close() is terminated and its slot returned, with a warning', async () => {
    const { driver, pool, logger } = setup({ poolSize: 1, maxOverflow: 0, leakTracking: true });
    await (async () => {
      await pool.connect(); // dropped on the floor
    })();
    // The leak guard registers a checkout once it has been out for a period (0.5–1 s), then the
    // collector reports it: poll, bounded, until the slot is back.
    for (let i = 0; i < 100 && pool.checkedOut() !== 0; i++) {
      globalThis.gc!();
      await sleep(50);
    }
    assert.equal(pool.checkedOut(), 0);
    assert.equal(driver.get(1).closedBy, 'terminate');
    const warning = logger.at('warn').join('\n');
    assert.match(warning, /garbage-collected without close\(\)/);
    assert.match(warning, /Checked out at:/);
    const pc = await pool.connect();
    assert.equal(idOf(pc), 2, 'the pool stays usable');
    await pc.close();
  });

  it('a checkout held past the leak guard period, then closed, is not reclaimed later', async () => {
    const { driver, pool, logger } = setup({ poolSize: 1, maxOverflow: 0 });
    const pc = await pool.connect();
    // Registered with the FinalizationRegistry once out for a period; poll, bounded.
    for (let i = 0; i < 100 && pc._guardSlot !== -2; i++) await sleep(50);
    assert.equal(pc._guardSlot, -2, 'registered after being out for a period');
    await pc.close();
    assert.equal(pc._guardSlot, -1, 'unregistered on return');
    globalThis.gc!();
    await sleep(50);
    globalThis.gc!();
    await tick();
    assert.equal(driver.get(1).closedBy, null, 'the returned connection was not reclaimed');
    assert.deepEqual(logger.at('warn'), []);
    const again = await pool.connect();
    assert.equal(idOf(again), 1);
    await again.close();
  });

  it('a checkout returned within the period never reaches the registry', async () => {
    const { pool } = setup({ poolSize: 1, maxOverflow: 0 });
    const pc = await pool.connect();
    assert.ok(pc._guardSlot >= 0, 'waiting in the bag');
    await pc.close();
    assert.equal(pc._guardSlot, -1);
  });

  it('double checkin warns and changes nothing', async () => {
    const { pool, logger } = setup();
    const pc = await pool.connect();
    const record = pc.record!;
    await pc.close();
    await pc.close(); // closing twice is harmless
    await record.checkin();
    assert.match(logger.at('warn').join('\n'), /Double checkin attempted/);
    assert.equal(pool.checkedIn(), 1);
    assert.equal(pool.checkedOut(), 0);
    assert.throws(() => pc.connection, InvalidRequestError);
    assert.throws(() => { pc.detach(); }, InvalidRequestError);
  });

  it('pool.invalidate is generational and an error on an already-condemned connection does not bump it again', async () => {
    const { driver, pool } = setup();
    const a = await pool.connect();
    const b = await pool.connect();
    await pool.invalidate();
    const generation = pool._generation;
    await pool.invalidate(a, new Error('a is old'));
    assert.equal(pool._generation, generation, 'a was opened before the invalidation');
    assert.equal(a.isValid, false);
    await b.close();
    assert.equal(driver.get(2).closed, true, 'stale connection closed on return');
    const c = await pool.connect();
    await pool.invalidate(c, new Error('c is current'));
    assert.equal(pool._generation, generation + 1);
  });
});

describe('QueuePool options', () => {
  it('rejects bad sizes and timeouts with an ArgumentError naming the option', () => {
    const creator = (): object => ({});
    assert.throws(() => new QueuePool({ creator, poolSize: -1 }), { name: 'ArgumentError', message: /'poolSize'.*-1/ });
    assert.throws(() => new QueuePool({ creator, maxOverflow: -2 }), /'maxOverflow'/);
    assert.throws(() => new QueuePool({ creator, timeout: -5 }), /'timeout'/);
    assert.throws(() => new QueuePool({ creator, useLifo: 'yes' as never }), /'useLifo'/);
    assert.throws(() => new QueuePool({ creator, resetOnReturn: 'sometimes' as never }), (e: unknown) => e instanceof ArgumentError && /'resetOnReturn'.*"sometimes"/.test(e.message));
    assert.throws(() => new QueuePool({ creator, prePing: true }), /'prePing'.*ping\(\)/);
    assert.throws(() => new QueuePool({ creator: 'nope' as never }), /'creator'/);
  });
});
