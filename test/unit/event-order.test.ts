// Exact order of driver calls and pool events for the flows SPEC sections 4 and 7 describe.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DisconnectionError, InvalidRequestError, QueuePool } from '../../src/index.js';
import { CaptureLogger, sleep, tick } from '../support/capture-logger.js';
import { MockDriver, recordEvents } from '../support/mock-driver.js';
import type { MockConnection } from '../support/mock-driver.js';
import type { QueuePoolOptions } from '../../src/index.js';

function setup(options: Partial<QueuePoolOptions<MockConnection>> = {}) {
  const driver = new MockDriver();
  const logger = new CaptureLogger();
  const pool = new QueuePool<MockConnection>({ creator: driver.creator, dialect: driver.dialect, logger, poolSize: 2, maxOverflow: 1, ...options });
  recordEvents(pool, driver);
  return { driver, pool, logger };
}

describe('event order', () => {
  it('plain checkout and checkin', async () => {
    const { driver, pool } = setup();
    const pc = await pool.connect();
    await pc.close();
    assert.deepEqual(driver.log, [
      'connect #1',
      'event:firstConnect #1',
      'event:connect #1',
      'event:checkout #1',
      'event:reset #1',
      'rollback #1',
      'event:checkin #1',
    ]);
    driver.log.length = 0;
    const again = await pool.connect();
    assert.equal(again.connection, driver.get(1));
    await again.close();
    assert.deepEqual(driver.log, ['event:checkout #1', 'event:reset #1', 'rollback #1', 'event:checkin #1']);
    assert.equal(pool.checkedIn(), 1);
    assert.equal(pool.checkedOut(), 0);
  });

  it('hard invalidation closes now and returns an empty slot, which reconnects at next checkout', async () => {
    const { driver, pool } = setup();
    const pc = await pool.connect();
    driver.log.length = 0;
    const reason = new Error('boom');
    await pc.invalidate(reason);
    assert.equal(pc.isValid, false);
    assert.deepEqual(driver.log, ['event:invalidate #1', 'event:close #1', 'terminate #1', 'event:checkin null']);
    assert.equal(pool.checkedOut(), 0);
    driver.log.length = 0;
    const next = await pool.connect();
    assert.deepEqual(driver.log, ['connect #2', 'event:connect #2', 'event:checkout #2']);
    await next.close();
  });

  it('soft invalidation keeps the connection for this checkout and replaces it after', async () => {
    const { driver, pool } = setup();
    const pc = await pool.connect();
    driver.log.length = 0;
    await pc.invalidate(undefined, { soft: true });
    assert.equal(pc.isValid, true);
    assert.equal(pc.connection, driver.get(1));
    await pc.close();
    assert.deepEqual(driver.log, [
      'event:softInvalidate #1',
      'event:reset #1',
      'rollback #1',
      'event:checkin #1',
      'event:close #1',
      'close #1',
    ]);
    driver.log.length = 0;
    const next = await pool.connect();
    assert.deepEqual(driver.log, ['connect #2', 'event:connect #2', 'event:checkout #2']);
    await next.close();
  });

  it('detach, then close of the detached connection', async () => {
    const { driver, pool } = setup();
    const pc = await pool.connect();
    pc.info.tag = 'kept';
    driver.log.length = 0;
    pc.detach();
    await tick();
    assert.equal(pc.isDetached, true);
    assert.equal(pc.record, null);
    assert.equal(pc.recordInfo, null);
    assert.deepEqual(pc.info, { tag: 'kept' });
    assert.deepEqual(driver.log, ['event:detach #1', 'event:checkin null']);
    assert.equal(pool.checkedOut(), 0, 'the slot came back');
    driver.log.length = 0;
    await pc.close();
    assert.deepEqual(driver.log, ['event:reset #1', 'rollback #1', 'event:closeDetached #1', 'close #1']);
    assert.equal(driver.live(), 0);
  });

  it('hard invalidation of a detached connection terminates it (nothing else would)', async () => {
    const { driver, pool } = setup();
    const pc = await pool.connect();
    pc.detach();
    await tick();
    driver.log.length = 0;
    await pc.invalidate(new Error('gone'));
    assert.deepEqual(driver.log, ['event:closeDetached #1', 'terminate #1']);
    assert.equal(driver.live(), 0);
  });

  it('a failed reset invalidates the connection and logs the error', async () => {
    const { driver, pool, logger } = setup();
    const pc = await pool.connect();
    driver.get(1).failOn('rollback', new Error('rollback broke'));
    driver.log.length = 0;
    await pc.close();
    assert.deepEqual(driver.log, ['event:reset #1', 'rollback #1', 'event:invalidate #1', 'event:close #1', 'terminate #1', 'event:checkin null']);
    assert.match(logger.at('error').join('\n'), /Exception during reset of connection #\d+: Error: rollback broke/);
    assert.equal(pool.checkedOut(), 0);
    assert.equal(driver.live(), 0);
  });

  it('a failed pre-ping replaces the connection and every older one', async () => {
    const { driver, pool } = setup({ prePing: true });
    const [a, b] = [await pool.connect(), await pool.connect()];
    await a.close();
    await b.close();
    driver.get(1).pingResult = false;
    driver.log.length = 0;
    const pc = await pool.connect();
    assert.deepEqual(driver.log, [
      'ping #1',
      'event:invalidate #1',
      'event:close #1',
      'terminate #1',
      'connect #3',
      'event:connect #3',
      'event:checkout #3',
    ]);
    assert.equal(pc.connection, driver.get(3));
    driver.log.length = 0;
    const other = await pool.connect();
    // #2 was opened before the failure: replaced without a ping (the pool was invalidated).
    assert.deepEqual(driver.log, ['event:close #2', 'close #2', 'connect #4', 'event:connect #4', 'event:checkout #4']);
    await pc.close();
    await other.close();
    assert.equal(driver.live(), 2);
  });

  it('a failed pre-ping whose reconnect fails returns the slot without resetting the dead connection', async () => {
    const { driver, pool } = setup({ prePing: true, poolSize: 1, maxOverflow: 0 });
    await (await pool.connect()).close();
    driver.get(1).pingResult = false;
    driver.failConnects(1);
    driver.log.length = 0;
    await assert.rejects(pool.connect(), /connect refused/);
    assert.deepEqual(driver.log, ['ping #1', 'event:invalidate #1', 'event:close #1', 'terminate #1', 'connect-failed', 'event:checkin null']);
    assert.deepEqual(driver.misuse, []);
    assert.equal(pool.checkedOut(), 0);
  });

  it('a checkout listener that always throws DisconnectionError: two replacements, then InvalidRequestError', async () => {
    const { driver, pool } = setup();
    let calls = 0;
    pool.on('checkout', () => {
      calls++;
      throw new DisconnectionError('listener says dead');
    });
    driver.log.length = 0;
    await assert.rejects(pool.connect(), (error: unknown) => error instanceof InvalidRequestError && error.cause instanceof DisconnectionError);
    assert.equal(calls, 3);
    assert.deepEqual(driver.log, [
      'connect #1', 'event:firstConnect #1', 'event:connect #1', 'event:checkout #1',
      'event:invalidate #1', 'event:close #1', 'terminate #1',
      'connect #2', 'event:connect #2', 'event:checkout #2',
      'event:invalidate #2', 'event:close #2', 'terminate #2',
      'connect #3', 'event:connect #3', 'event:checkout #3',
      'event:invalidate #3', 'event:close #3', 'terminate #3', 'event:checkin null',
    ]);
    assert.equal(pool.checkedOut(), 0);
    assert.equal(driver.live(), 0);
  });

  it('recycle replaces a connection older than the limit at its next checkout', async () => {
    const { driver, pool } = setup({ recycle: 30 });
    await (await pool.connect()).close();
    driver.log.length = 0;
    await (await pool.connect()).close();
    assert.deepEqual(driver.log, ['event:checkout #1', 'event:reset #1', 'rollback #1', 'event:checkin #1'], 'young: reused');
    // Block the event loop past the recycle age, so the background recycle (a timer) cannot run
    // first: the checkout itself must find the connection too old.
    const until = performance.now() + 45;
    while (performance.now() < until) { /* busy */ }
    driver.log.length = 0;
    const pc = await pool.connect();
    assert.deepEqual(driver.log, ['event:close #1', 'close #1', 'connect #2', 'event:connect #2', 'event:checkout #2']);
    await pc.close();
  });

  it('recycle age counts from when the connection opened, not from when connecting began', async () => {
    const { driver, pool } = setup({ recycle: 40 });
    const gate = driver.hangConnect();
    const pending = pool.connect();
    await sleep(60); // a connect slower than recycle
    gate.release();
    await (await pending).close();
    driver.log.length = 0;
    const pc = await pool.connect();
    assert.deepEqual(driver.log, ['event:checkout #1'], 'reused, not recycled');
    await pc.close();
  });

  it('listeners run in registration order, prepend first, and async listeners are awaited', async () => {
    const { pool } = setup();
    const order: string[] = [];
    pool.on('checkout', async () => { await sleep(5); order.push('second'); });
    pool.on('checkout', () => { order.push('third'); });
    pool.on('checkout', () => { order.push('first'); }, { prepend: true });
    const pc = await pool.connect();
    assert.deepEqual(order, ['first', 'second', 'third']);
    await pc.close();
  });
});
