// SPEC section 11, the connection lifecycle: minIdle with backoff, idleTimeout, keepAliveInterval,
// background recycle, maxUses, allowExitOnIdle (ref/unref), leakDetectionThreshold, warmUp, and
// every background timer stopped by close(). Exact, on the mock driver.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArgumentError, AssertionPool, NullPool, PoolClosedError, QueuePool, SingletonContextPool, StaticPool } from '../../src/index.js';
import type { Dialect, QueuePoolOptions } from '../../src/index.js';
import { CaptureLogger } from '../support/capture-logger.js';
import { MockDisconnectError, MockDriver, recordEvents } from '../support/mock-driver.js';
import type { MockConnection } from '../support/mock-driver.js';
import { events, nextEvent, until, within } from '../support/wait.js';

function setup(options: Partial<QueuePoolOptions<MockConnection>> = {}, driver = new MockDriver(), dialect: Dialect<MockConnection> = driver.dialect) {
  const logger = new CaptureLogger();
  const pool = new QueuePool<MockConnection>({ creator: driver.creator, dialect, logger, poolSize: 3, maxOverflow: 2, ...options });
  return { driver, pool, logger };
}

function timeouts(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}

describe('minIdle', () => {
  it('opens connections in the background at construction, and tops the idle set up after checkouts, never beyond poolSize', async () => {
    const { driver, pool } = setup({ minIdle: 2 });
    assert.equal(driver.opened, 0, 'in the background: nothing yet');
    await until(() => pool.stats().idle === 2, '2 idle connections');
    assert.equal(driver.opened, 2);
    const a = await pool.connect();
    await until(() => pool.stats().idle === 2, 'the idle set topped up to 2');
    assert.equal(driver.opened, 3);
    const b = await pool.connect();
    const c = await pool.connect();
    assert.equal(pool.stats().idle, 0);
    // poolSize (3) connections exist: filling would open overflow connections, closed again on return.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(driver.opened, 3);
    assert.equal(pool.stats().connecting, 0);
    for (const pc of [a, b, c]) await pc.close();
    assert.equal(pool.stats().idle, 3);
    await pool.close();
  });

  it('a failed background connect is logged, never thrown, and retried with backoff', async () => {
    const driver = new MockDriver().failConnects(1, new MockDisconnectError('server not up yet'));
    const { pool, logger } = setup({ minIdle: 1 }, driver);
    const warning = await logger.next('warn', /Background connect failed .* retrying in 250ms: MockDisconnectError: server not up yet/);
    assert.ok(warning);
    assert.equal(pool.checkedOut(), 0, 'the failed new slot released its capacity');
    await until(() => pool.stats().idle === 1, 'the retry to succeed', 3000);
    assert.equal(pool.stats().connectErrors, 1);
    await pool.close();
  });

  it('minIdle above poolSize, or on a class without it, is an ArgumentError', () => {
    const driver = new MockDriver();
    assert.throws(() => setup({ poolSize: 2, minIdle: 3 }), (error: unknown) => error instanceof ArgumentError && /'minIdle'.*<= poolSize \(2\)/.test(error.message));
    assert.throws(() => setup({ minIdle: -1 }), /'minIdle'/);
    const base = { creator: driver.creator, dialect: driver.dialect };
    assert.throws(() => new NullPool({ ...base, minIdle: 1 } as never), (error: unknown) => error instanceof ArgumentError && /'minIdle': NullPool does not support it/.test(error.message));
    assert.throws(() => new StaticPool({ ...base, idleTimeout: 1 } as never), /'idleTimeout': StaticPool does not support it/);
    assert.throws(() => new SingletonContextPool({ ...base, keepAliveInterval: 1 } as never), /'keepAliveInterval': SingletonContextPool does not support it \(it takes poolSize\)/);
    assert.throws(() => new AssertionPool({ ...base, timeout: 1 } as never), /'timeout': AssertionPool does not support it/);
    assert.throws(() => new NullPool({ ...base, poolSize: 1 } as never), /'poolSize': NullPool/);
  });
});

describe('idleTimeout', () => {
  it('closes connections idle longer than idleTimeout while more than minIdle are idle; their slots leave the idle set', async () => {
    const { driver, pool } = setup({ idleTimeout: 40, minIdle: 1 });
    await until(() => pool.stats().idle === 1, 'the minIdle connection');
    const held = [await pool.connect(), await pool.connect(), await pool.connect()];
    for (const pc of held) await pc.close();
    assert.ok(pool.checkedIn() >= 3);
    await until(() => driver.live() === 1, 'the connections beyond minIdle to be closed');
    assert.equal(pool.checkedIn(), 1, 'their slots left the idle set');
    assert.equal(pool.checkedOut(), 0);
    assert.deepEqual([pool.stats().idle, pool.stats().closed], [1, driver.opened - 1]);
    await pool.close();
  });

  it('a use resets the clock; idleTimeout 0 never closes', async () => {
    const { driver, pool } = setup({ idleTimeout: 0, recycle: -1 });
    await (await pool.connect()).close();
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(driver.live(), 1);
    assert.throws(() => setup({ idleTimeout: -5 }), /'idleTimeout'/);
    await pool.close();
  });
});

describe('keepAliveInterval', () => {
  it('pings idle connections in the background; a dead one is terminated and replaced before any caller asks', async () => {
    const { driver, pool } = setup({ poolSize: 2, keepAliveInterval: 20 });
    const a = await pool.connect();
    const b = await pool.connect();
    await a.close();
    await b.close();
    driver.get(1).pingResult = 'throw';
    driver.get(2).pingResult = 'throw';
    // Both die: the first failure condemns every connection opened before it, so #2 goes too.
    const replaced = await events(pool, 'connect', 2);
    assert.deepEqual(replaced.map(([conn]) => (conn as MockConnection).id), [3, 4]);
    await until(() => pool.stats().idle === 2, 'two live idle connections again');
    assert.equal(driver.get(1).closedBy, 'terminate');
    assert.equal(driver.get(2).closed, true);
    assert.ok(pool.stats().invalidations >= 1);
    assert.equal(pool.stats().checkouts, 2, 'no caller was involved');
    await pool.close();
  });

  it('a ping that never answers counts as failed after pingTimeout', async () => {
    const { driver, pool } = setup({ poolSize: 1, keepAliveInterval: 10, pingTimeout: 20 });
    await (await pool.connect()).close();
    driver.get(1).hangOn('ping');
    const [conn] = await nextEvent(pool, 'invalidate');
    assert.equal((conn as MockConnection).id, 1);
    await nextEvent(pool, 'connect', (c: MockConnection) => c.id === 2);
    await pool.close();
  });

  it('a caller never waits behind a keep-alive ping when another connection or capacity is free', async () => {
    const { driver, pool } = setup({ poolSize: 1, maxOverflow: 1, keepAliveInterval: 10 });
    await (await pool.connect()).close();
    const gate = driver.get(1).hangOn('ping');
    await within(gate.started, 5000, 'the keep-alive ping');
    const pc = await pool.connect();
    assert.equal(pc.connection.id, 2, 'served from free capacity, not behind the ping');
    gate.release();
    await pc.close();
    await pool.close();
  });

  it('a keep-alive ping is not a use: it counts toward neither maxUses nor the idleTimeout clock', async () => {
    const { driver, pool } = setup({ poolSize: 1, keepAliveInterval: 5, maxUses: 2, idleTimeout: 60 });
    await (await pool.connect()).close();
    await until(() => driver.get(1).calls.filter((call) => call === 'ping').length >= 2, 'two keep-alive pings');
    await (await pool.connect()).close(); // second use: closed on return (maxUses 2)
    assert.equal(driver.get(1).closed, true);
    await until(() => driver.connections.length === 1 || pool.stats().idle === 0, 'settled');
    const third = await pool.connect();
    assert.equal(third.connection.id, 2);
    await third.close();
    // Idle since its return: closed at idleTimeout even while keep-alive pings run.
    const [closedConn] = await nextEvent(pool, 'close', () => true, 3000);
    assert.equal((closedConn as MockConnection).id, 2);
    await pool.close();
  });
});

describe('background recycle and maxUses', () => {
  it('an idle connection reaching its recycle age is closed in the background, and replaced up to minIdle', async () => {
    const { driver, pool, logger } = setup({ poolSize: 1, recycle: 40, minIdle: 1, echo: true });
    // Timed inside the listeners, which run as the pool emits: a loaded machine cannot skew them.
    let opened = 0;
    let retired = 0;
    await nextEvent(pool, 'connect', () => ((opened = performance.now()), true)); // the background connect started in the constructor
    await nextEvent(pool, 'close', (conn: MockConnection) => conn.id === 1 && ((retired = performance.now()), true));
    const age = retired - opened;
    assert.ok(age >= 38 && age < 1000, `retired at ${age}ms, within the last 2.5% of recycle`);
    await nextEvent(pool, 'connect', (conn: MockConnection) => conn.id === 2);
    // At its jittered retire age (or, on a slow machine, past recycle itself): either way, for its age.
    assert.match(logger.at('info').join('\n'), /Connection #\d+ closed in the background: it (reached its recycle age|is older than recycle) \(40ms\)/);
    assert.equal(driver.live(), 1);
    await pool.close();
  });

  it('maxUses: a connection is closed when it comes back after that many checkouts', async () => {
    const { driver, pool } = setup({ poolSize: 1, maxUses: 2 });
    const log = recordEvents(pool, driver);
    await (await pool.connect()).close();
    await (await pool.connect()).close();
    assert.equal(driver.get(1).closed, true);
    const pc = await pool.connect();
    assert.equal(pc.connection.id, 2);
    await pc.close();
    log();
    for (const bad of [0, 1.5, -1, '3']) assert.throws(() => setup({ maxUses: bad as number }), /'maxUses'/);
  });

  it('maxUses applies to every class (NullPool closes anyway; StaticPool replaces its shared connection)', async () => {
    const driver = new MockDriver();
    const pool = new StaticPool<MockConnection>({ creator: driver.creator, dialect: driver.dialect, maxUses: 1, logger: new CaptureLogger() });
    await (await pool.connect()).close();
    const pc = await pool.connect();
    assert.equal(pc.connection.id, 2);
    await pc.close();
  });
});

describe('allowExitOnIdle', () => {
  function refDialect(driver: MockDriver, calls: string[]): Dialect<MockConnection> {
    return { ...driver.dialect, ref: (conn) => { calls.push(`ref #${conn.id}`); }, unref: (conn) => { calls.push(`unref #${conn.id}`); } };
  }

  it('unrefs a connection when it goes idle and refs it at checkout; refs it before closing it for a caller', async () => {
    const calls: string[] = [];
    const driver = new MockDriver();
    const { pool } = setup({ poolSize: 1, maxOverflow: 1 }, driver, refDialect(driver, calls));
    const a = await pool.connect();
    const b = await pool.connect();
    assert.deepEqual(calls, [], 'new connections start ref\'d');
    await a.close();
    await b.close(); // overflow: closed, never idle
    assert.deepEqual(calls, ['unref #1']);
    await (await pool.connect()).close();
    assert.deepEqual(calls, ['unref #1', 'ref #1', 'unref #1']);
    await pool.close();
    assert.deepEqual(calls, ['unref #1', 'ref #1', 'unref #1', 'ref #1'], 'ref\'d before the close a caller awaits');
  });

  it('allowExitOnIdle: false never touches ref/unref', async () => {
    const calls: string[] = [];
    const driver = new MockDriver();
    const { pool } = setup({ allowExitOnIdle: false }, driver, refDialect(driver, calls));
    await (await pool.connect()).close();
    await pool.close();
    assert.deepEqual(calls, []);
  });
});

describe('leakDetectionThreshold', () => {
  it('warns once, naming the pool, the time out and where it was checked out; one info line when it comes back', async () => {
    const { pool, logger } = setup({ leakDetectionThreshold: 20, loggingName: 'orders-db', echo: false });
    const pc = await pool.connect();
    const warning = await logger.next('warn', /Possible connection leak/);
    assert.match(warning, /^\[orders-db\] Possible connection leak: connection #\d+ has been checked out for \d+ms \(leakDetectionThreshold 20ms\); it was checked out at:/);
    assert.match(warning, /lifecycle-background\.test\.js/);
    await pc.close();
    const info = await logger.next('info', /came back after/);
    assert.match(info, /^\[orders-db\] The connection reported as a possible leak \(#\d+\) came back after \d+ms/);
    assert.equal(logger.at('warn').filter((line) => /leak/.test(line)).length, 1);
  });

  it('a checkout returned in time says nothing', async () => {
    const { pool, logger } = setup({ leakDetectionThreshold: 1000 });
    await (await pool.connect()).close();
    assert.deepEqual(logger.at('warn'), []);
    assert.throws(() => setup({ leakDetectionThreshold: -1 }), /'leakDetectionThreshold'/);
  });
});

describe('warmUp()', () => {
  it('opens minIdle connections (one when minIdle is 0) and resolves once they are idle', async () => {
    const { pool, driver } = setup({ minIdle: 3 });
    await pool.warmUp();
    assert.equal(pool.stats().idle, 3);
    assert.equal(driver.opened, 3);
    await pool.close();
    const other = setup();
    await other.pool.warmUp();
    assert.equal(other.pool.stats().idle, 1);
    await other.pool.warmUp();
    assert.equal(other.driver.opened, 1, 'already warm: nothing opened');
    await other.pool.close();
  });

  it('counts a background fill under way: together they open exactly minIdle, and warmUp() waits for it', async () => {
    const driver = new MockDriver();
    const gate = driver.hangConnect(); // the constructor's background connect hangs until released
    const { pool } = setup({ minIdle: 3 }, driver);
    const warm = pool.warmUp();
    let warmed = false;
    void warm.then(() => { warmed = true; });
    await until(() => pool.stats().idle === 2, 'warmUp\'s two connects');
    assert.equal(warmed, false, 'warmUp() waits for the background connect too');
    gate.release();
    await within(warm, 5000, 'warmUp()');
    assert.equal(pool.stats().idle, 3);
    assert.equal(driver.connectCalls, 3, 'never more than minIdle connects');
    await pool.close();
  });

  it('rejects with the connect error when the database cannot be reached; the pool stays exact', async () => {
    const driver = new MockDriver().failConnects(1, new MockDisconnectError('ECONNREFUSED'));
    const { pool } = setup({}, driver);
    await assert.rejects(pool.warmUp(), /ECONNREFUSED/);
    assert.equal(pool.checkedOut() + pool.checkedIn(), 0);
    await pool.close();
    await assert.rejects(pool.warmUp(), PoolClosedError);
  });

  it('other classes check one connection out and back in', async () => {
    const driver = new MockDriver();
    const pool = new StaticPool<MockConnection>({ creator: driver.creator, dialect: driver.dialect });
    await pool.warmUp();
    assert.equal(pool.stats().idle, 1);
    await pool.close();
  });
});

describe('background timers', () => {
  it('are unref\'d (they keep nothing alive), and close() stops them all', async () => {
    const before = timeouts();
    const { pool } = setup({ minIdle: 1, idleTimeout: 10_000, keepAliveInterval: 10_000, recycle: 60_000 });
    await until(() => pool.stats().idle === 1, 'the minIdle connection');
    const pc = await pool.connect();
    await pc.close();
    assert.equal(pool._armedTimers, 1, 'the housekeeper has its timer armed');
    assert.equal(timeouts(), before, 'and it does not keep the event loop alive');
    await pool.close();
    assert.equal(pool._armedTimers, 0);
  });

  it('the backoff timer too', async () => {
    const driver = new MockDriver().failConnects(1, new MockDisconnectError('server not up yet'));
    const { pool, logger } = setup({ minIdle: 1 }, driver);
    await logger.next('warn', /retrying in 250ms/);
    assert.equal(pool._armedTimers, 1, 'the backoff timer is armed');
    await pool.close();
    assert.equal(pool._armedTimers, 0);
    assert.equal(driver.opened, 0, 'no connect after close()');
  });
});
