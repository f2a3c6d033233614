// SPEC section 11, deadlines: `timeout` bounds the whole connect(), `connectTimeout` one connect
// attempt, `pingTimeout` a ping, `prePingBypass` skips fresh pings, `close({ timeout })` terminates
// what is still out; and the defects fixed with them (SPEC 4, 5, 7). Exact, on the mock driver.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ArgumentError,
  ConnectTimeoutError,
  DisconnectionError,
  InvalidRequestError,
  NullPool,
  PoolTimeoutError,
  QueuePool,
  StaticPool,
} from '../../src/index.js';
import type { QueuePoolOptions } from '../../src/index.js';
import { CaptureLogger, tick } from '../support/capture-logger.js';
import { MockDisconnectError, MockDriver, recordEvents } from '../support/mock-driver.js';
import type { MockConnection } from '../support/mock-driver.js';
import { nextEvent, until, within } from '../support/wait.js';

function setup(options: Partial<QueuePoolOptions<MockConnection>> = {}, driver = new MockDriver()) {
  const logger = new CaptureLogger();
  const pool = new QueuePool<MockConnection>({ creator: driver.creator, dialect: driver.dialect, logger, poolSize: 1, maxOverflow: 0, ...options });
  return { driver, pool, logger };
}

/** Block the event loop for `ms`: no timer can fire meanwhile (deterministic ageing without sleeps). */
function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* busy */ }
}

describe('timeout bounds the whole connect()', () => {
  it('a connect slower than timeout: PoolTimeoutError (phase checkout); the late connection goes idle', async () => {
    const { driver, pool } = setup({ timeout: 40 });
    const gate = driver.hangConnect();
    const started = performance.now();
    await assert.rejects(pool.connect(), (error: unknown) => {
      assert.ok(error instanceof PoolTimeoutError);
      assert.equal(error.code, 'POOL_TIMEOUT');
      assert.equal(error.phase, 'checkout');
      assert.match(error.message, /timeout 40ms/);
      return true;
    });
    assert.ok(performance.now() - started >= 39);
    assert.equal(pool.stats().timeouts, 1);
    assert.equal(pool.stats().pending, 0, 'the caller gave up: it is not pending any more');
    assert.equal(pool.stats().connecting, 1, 'the connect goes on');
    gate.release();
    await until(() => pool.checkedIn() === 1, 'the late connection to go idle');
    assert.deepEqual(pool.stats().idle, 1);
    const pc = await pool.connect();
    assert.equal(pc.connection.id, 1, 'the late connection serves the next caller');
    assert.equal(driver.connectCalls, 1);
    await pc.close();
  });

  it('a late connection serves the next waiter by hand-off', async () => {
    const { driver, pool } = setup({ timeout: 60 });
    const gate = driver.hangConnect();
    await assert.rejects(pool.connect(), PoolTimeoutError);
    const waiter = pool.connect(); // queued: the abandoned checkout still holds the only slot
    assert.equal(pool.waiting(), 1);
    assert.equal(pool.stats().pending, 1);
    gate.release();
    const pc = await waiter;
    assert.equal(pc.connection.id, 1);
    assert.equal(pool.stats().pending, 0);
    await pc.close();
  });

  it('a pre-ping slower than timeout times the caller out; the connection is returned when the ping answers', async () => {
    const { driver, pool } = setup({ timeout: 40, prePing: true, pingTimeout: Infinity });
    await (await pool.connect()).close();
    const gate = driver.get(1).hangOn('ping');
    await assert.rejects(pool.connect(), (error: unknown) => error instanceof PoolTimeoutError && error.phase === 'checkout');
    gate.release();
    await until(() => pool.checkedIn() === 1, 'the pinged connection to come back');
    assert.equal(driver.opened, 1);
  });

  it('timeout 0 still fails at once at capacity, and does not cut a connect short', async () => {
    const { driver, pool } = setup({ timeout: 0 });
    const gate = driver.hangConnect();
    const connecting = pool.connect();
    await assert.rejects(pool.connect(), (error: unknown) => error instanceof PoolTimeoutError && error.phase === 'queue');
    await tick();
    gate.release();
    await (await connecting).close();
  });

  it('an abort while connecting: the caller leaves at once, the connection goes idle later', async () => {
    const { driver, pool } = setup();
    const gate = driver.hangConnect();
    const controller = new AbortController();
    const pending = pool.connect({ signal: controller.signal });
    await tick();
    assert.equal(pool.stats().pending, 1);
    controller.abort(new Error('user left'));
    await assert.rejects(pending, /user left/);
    assert.equal(pool.stats().pending, 0);
    gate.release();
    await until(() => pool.checkedIn() === 1, 'the connection to go idle');
  });
});

describe('connectTimeout', () => {
  it('abandons a connect: ConnectTimeoutError, capacity released at once, the late connection terminated', async () => {
    const { driver, pool } = setup({ connectTimeout: 30, poolSize: 1, maxOverflow: 0 });
    const events = recordEvents(pool, driver);
    const gate = driver.hangConnect();
    const started = performance.now();
    await assert.rejects(pool.connect(), (error: unknown) => {
      assert.ok(error instanceof ConnectTimeoutError);
      assert.equal(error.code, 'CONNECT_TIMEOUT');
      assert.equal(error.timeout, 30);
      assert.match(error.message, /30ms \(connectTimeout\)/);
      return true;
    });
    assert.ok(performance.now() - started >= 29);
    assert.equal(pool.checkedOut(), 0, 'capacity released at once');
    assert.equal(pool.checkedIn(), 0, 'no empty slot parked');
    assert.deepEqual({ ...pool.stats(), name: '' }, {
      name: '', max: 1, idleMax: 1, idleMin: 0, idle: 0, used: 0, connecting: 0, pending: 0,
      created: 0, closed: 0, timeouts: 0, connectErrors: 1, invalidations: 0, checkouts: 0,
    });
    // Someone else gets the capacity meanwhile.
    const other = await pool.connect();
    assert.equal(other.connection.id, 1);
    gate.release(); // the abandoned attempt's connection arrives: #2, terminated
    await until(() => driver.connections.length === 2 && driver.get(2).closed, 'the late connection to be terminated');
    assert.equal(driver.get(2).closedBy, 'terminate');
    assert.equal(pool.stats().created, 2);
    assert.equal(pool.stats().closed, 1);
    assert.ok(!driver.log.includes('event:connect #2'), 'the late connection never reached the pool');
    events();
    await other.close();
    assert.deepEqual(driver.misuse, []);
  });

  it("the caller's own timeout passing first gives PoolTimeoutError; the connect is still abandoned at connectTimeout", async () => {
    const { driver, pool } = setup({ timeout: 20, connectTimeout: 60 });
    const gate = driver.hangConnect();
    await assert.rejects(pool.connect(), PoolTimeoutError);
    assert.equal(pool.stats().connecting, 1);
    await until(() => pool.stats().connecting === 0, 'the connect to be abandoned');
    assert.equal(pool.checkedOut(), 0);
    assert.equal(pool.stats().connectErrors, 1);
    gate.release();
    await until(() => driver.connections.length === 1 && driver.get(1).closed, 'the late connection to be terminated');
    assert.equal(pool.checkedIn(), 0);
  });

  it('applies to every pool class (NullPool)', async () => {
    const driver = new MockDriver();
    const pool = new NullPool({ creator: driver.creator, dialect: driver.dialect, connectTimeout: 20, logger: new CaptureLogger() });
    driver.hangConnect();
    await assert.rejects(pool.connect(), ConnectTimeoutError);
  });

  it('takes a positive number or Infinity', () => {
    for (const bad of [0, -1, Number.NaN, '10', null]) {
      assert.throws(() => setup({ connectTimeout: bad as number }), (error: unknown) => error instanceof ArgumentError && /'connectTimeout'/.test(error.message));
      assert.throws(() => setup({ pingTimeout: bad as number }), (error: unknown) => error instanceof ArgumentError && /'pingTimeout'/.test(error.message));
    }
    setup({ connectTimeout: Infinity, pingTimeout: Infinity });
  });
});

describe('pingTimeout and prePingBypass', () => {
  it('a pre-ping that does not answer within pingTimeout: terminated and replaced, older connections condemned, the caller succeeds', async () => {
    const { driver, pool } = setup({ poolSize: 2, prePing: true, pingTimeout: 30 });
    const a = await pool.connect();
    const b = await pool.connect();
    await a.close();
    await b.close();
    driver.get(1).hangOn('ping'); // #1 is half-open: its ping never answers
    const started = performance.now();
    const pc = await pool.connect();
    assert.ok(performance.now() - started >= 29);
    assert.equal(pc.connection.id, 3, 'a new connection');
    assert.equal(driver.get(1).closedBy, 'terminate');
    assert.equal(pool.stats().invalidations, 1);
    const next = await pool.connect();
    assert.equal(next.connection.id, 4, '#2 was opened before the dead #1 was found: replaced, not pinged');
    assert.equal(driver.get(2).closed, true);
    await pc.close();
    await next.close();
  });

  it('prePingBypass skips the ping of a connection returned less than that long ago', async () => {
    const { driver, pool } = setup({ prePing: true, prePingBypass: 40 });
    await (await pool.connect()).close();
    const pings = (): number => driver.get(1).calls.filter((call) => call === 'ping').length;
    await (await pool.connect()).close();
    assert.equal(pings(), 0, 'returned just now: no ping');
    busyWait(45);
    await (await pool.connect()).close();
    assert.equal(pings(), 1, 'returned 45 ms ago: pinged');
    await (await pool.connect()).close();
    assert.equal(pings(), 1);
  });

  it('a rollback on return that never answers is cut at pingTimeout: the connection is invalidated and the slot comes back', async () => {
    const { driver, pool, logger } = setup({ pingTimeout: 30 });
    const reasons: unknown[] = [];
    pool.on('invalidate', (_conn, _record, error) => { reasons.push(error); });
    const pc = await pool.connect();
    driver.get(1).hangOn('rollback'); // died without the driver noticing: the rollback never settles
    const started = performance.now();
    await pc.close();
    assert.ok(performance.now() - started >= 29, 'close() waited for the deadline');
    assert.equal(pool.stats().used, 0, 'the slot came back');
    assert.equal(pool.stats().invalidations, 1);
    assert.equal(driver.get(1).closed || driver.get(1).closing, true, '#1 is being closed');
    assert.equal(reasons.length, 1);
    assert.ok(reasons[0] instanceof DisconnectionError);
    assert.match((reasons[0] as Error).message, /rollback on return of connection #\d+ did not finish within 30ms \(pingTimeout\)/);
    assert.ok(logger.at('error').some((line) => /Exception during reset of connection #\d+/.test(line)));
    const next = await pool.connect();
    assert.equal(next.connection.id, 2, 'the next checkout gets a new connection');
    await next.close();
    await pool.close({ timeout: 100 });
  });

  it('a commit on return is never cut short (whether it happened would be unknown)', async () => {
    const { driver, pool } = setup({ pingTimeout: 20, resetOnReturn: 'commit' });
    const pc = await pool.connect();
    const gate = driver.get(1).hangOn('commit');
    let closed = false;
    const closing = pc.close().then(() => { closed = true; });
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.equal(closed, false, 'still waiting for the commit past pingTimeout');
    gate.release();
    await closing;
    assert.equal(pool.stats().invalidations, 0);
    await pool.close();
  });

  it('prePingBypass 0 pings every checkout; it takes a duration >= 0', async () => {
    const { driver, pool } = setup({ prePing: true });
    await (await pool.connect()).close();
    await (await pool.connect()).close();
    await (await pool.connect()).close();
    assert.equal(driver.get(1).calls.filter((call) => call === 'ping').length, 2);
    assert.throws(() => setup({ prePingBypass: -1 }), /'prePingBypass'/);
  });
});

describe('close({ timeout })', () => {
  it('terminates what is still checked out; their checkouts become dead', async () => {
    const { driver, pool, logger } = setup({ poolSize: 2 });
    const events = recordEvents(pool, driver);
    const held = await pool.connect();
    const idle = await pool.connect();
    await idle.close();
    driver.log.length = 0;
    await within(pool.close({ timeout: 30 }), 2000, 'close({ timeout: 30 }) to settle');
    assert.ok(driver.log.includes('event:close #1') && driver.log.includes('terminate #1'), driver.log.join(', '));
    assert.equal(held.isValid, false);
    assert.throws(() => held.connection, InvalidRequestError);
    assert.match(logger.at('warn').join('\n'), /close\(\) timed out after 30ms with 1 checkout\(s\) still out; terminating 1 connection/);
    await held.close(); // harmless
    assert.equal(driver.live(), 0);
    assert.deepEqual(driver.misuse, []);
    assert.equal(pool.stats().used, 0);
    events();
  });

  it('settles as soon as everything came back, before the timeout', async () => {
    const { pool } = setup();
    const held = await pool.connect();
    const closing = pool.close({ timeout: 60_000 });
    await held.close();
    await within(closing, 2000, 'close() to settle once the checkout came back');
  });
});

describe('defects fixed with SPEC 11', () => {
  it('a failed connect of a new slot releases its capacity (no empty slot parked)', async () => {
    const { driver, pool } = setup({ poolSize: 2, maxOverflow: 3 });
    const held = [await pool.connect(), await pool.connect(), await pool.connect()];
    driver.failConnects(1);
    await assert.rejects(pool.connect(), MockDisconnectError);
    assert.equal(pool.overflow(), 1);
    assert.equal(pool.checkedIn(), 0);
    assert.equal(pool.status(), 'Pool size: 2  Connections in pool: 0 Current Overflow: 1 Current Checked out connections: 3');
    assert.equal(pool.stats().used, 3);
    for (const pc of held) await pc.close();
  });

  it('an established slot whose reconnect fails goes back empty, keeping its recordInfo (SQLAlchemy)', async () => {
    const { driver, pool } = setup({ poolSize: 1 });
    const pc = await pool.connect();
    const record = pc.record!;
    record.recordInfo.tag = 'kept';
    await pc.invalidate();
    driver.failConnects(1);
    await assert.rejects(pool.connect(), MockDisconnectError);
    assert.equal(pool.checkedIn(), 1, 'the empty slot is back in the pool');
    assert.equal(pool.stats().idle, 0, 'an empty slot is neither idle nor used');
    const again = await pool.connect();
    assert.equal(again.record, record);
    assert.equal(again.recordInfo?.tag, 'kept');
    await again.close();
  });

  it("reset's terminateOnly is true for a detached connection being closed, false when pooled", async () => {
    const { pool } = setup();
    const states: boolean[] = [];
    pool.on('reset', (_conn, _record, state) => { states.push(state.terminateOnly); });
    await (await pool.connect()).close();
    const pc = await pool.connect();
    pc.detach();
    await pc.close();
    assert.deepEqual(states, [false, true]);
  });

  it('PooledConnection.connection is C, and throws when the checkout holds no live connection', async () => {
    const { pool } = setup({ poolSize: 2 });
    const pc = await pool.connect();
    const conn: MockConnection = pc.connection; // typed C: no non-null assertion needed
    assert.equal(conn.id, 1);
    await pc.close();
    assert.throws(() => pc.connection, (error: unknown) => error instanceof InvalidRequestError && /closed/.test(error.message));
    const other = await pool.connect();
    const invalidating = other.invalidate();
    assert.throws(() => other.connection, InvalidRequestError);
    await invalidating;
  });

  it('a shared StaticPool connection replaced by one holder is dead for the others', async () => {
    const driver = new MockDriver();
    const pool = new StaticPool<MockConnection>({ creator: driver.creator, dialect: driver.dialect, logger: new CaptureLogger() });
    const a = await pool.connect();
    const b = await pool.connect();
    await a.invalidate();
    assert.throws(() => b.connection, InvalidRequestError);
    assert.equal(b.isValid, false);
    await b.close();
    const c = await pool.connect();
    assert.equal(c.connection.id, 2);
    await c.close();
  });
});

describe('pending and connecting are exact', () => {
  it('counts queued callers and callers whose connect is under way', async () => {
    const { driver, pool } = setup({ poolSize: 1, timeout: 5000 });
    const gate = driver.hangConnect();
    const first = pool.connect();
    const second = pool.connect();
    assert.deepEqual([pool.stats().pending, pool.stats().connecting, pool.stats().used], [2, 1, 0]);
    gate.release();
    const pc = await first;
    assert.deepEqual([pool.stats().pending, pool.stats().connecting, pool.stats().used], [1, 0, 1]);
    await pc.close();
    await (await second).close();
    assert.deepEqual([pool.stats().pending, pool.stats().idle, pool.stats().checkouts], [0, 1, 2]);
    const closing = nextEvent(pool, 'close');
    await pool.close();
    await closing;
    assert.deepEqual([pool.stats().idle, pool.stats().created, pool.stats().closed], [0, 1, 1]);
  });
});
