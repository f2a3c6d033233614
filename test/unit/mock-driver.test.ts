import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MockConnection, MockDisconnectError, MockDriver, recordEvents } from '../support/mock-driver.js';

describe('MockDriver (test support)', () => {
  it('opens numbered connections and logs every call in order', async () => {
    const driver = new MockDriver();
    const a = await driver.creator();
    const b = await driver.creator();
    assert.ok(a instanceof MockConnection);
    assert.deepEqual([a.id, b.id], [1, 2]);
    await driver.dialect.rollback(a);
    await driver.dialect.commit(b);
    assert.equal(await driver.dialect.ping!(a), true);
    await driver.dialect.close(a);
    await driver.dialect.terminate!(b);
    assert.deepEqual(driver.log, ['connect #1', 'connect #2', 'rollback #1', 'commit #2', 'ping #1', 'close #1', 'terminate #2']);
    assert.deepEqual([driver.opened, driver.closed, driver.live()], [2, 2, 0]);
    assert.equal(b.closedBy, 'terminate');
    assert.deepEqual(a.calls, ['rollback', 'ping', 'close']);
    assert.deepEqual(driver.misuse, []);
  });

  it('is async by default and synchronous with { sync: true }', async () => {
    const asyncDriver = new MockDriver();
    const pending = asyncDriver.creator();
    assert.ok(pending instanceof Promise);
    assert.deepEqual(asyncDriver.log, []);
    await pending;
    const driver = new MockDriver({ sync: true });
    const conn = driver.creator() as MockConnection;
    assert.equal(conn.id, 1);
    assert.equal(driver.dialect.rollback(conn), undefined);
    assert.equal(driver.dialect.ping!(conn), true);
    driver.failConnects(1, new Error('nope'));
    assert.throws(() => driver.creator(), /nope/);
    assert.deepEqual(driver.log, ['connect #1', 'rollback #1', 'ping #1', 'connect-failed']);
  });

  it('fails scripted connects, then connects again', async () => {
    const driver = new MockDriver();
    driver.failConnects(2);
    await assert.rejects(Promise.resolve(driver.creator()), MockDisconnectError);
    await assert.rejects(Promise.resolve(driver.creator()), (error: unknown) => driver.dialect.isDisconnect!(error));
    const conn = await driver.creator();
    assert.equal(conn.id, 1);
    assert.equal(driver.connectCalls, 3);
    assert.deepEqual(driver.log, ['connect-failed', 'connect-failed', 'connect #1']);
  });

  it('holds connects until released or failed', async () => {
    const driver = new MockDriver();
    const first = driver.hangConnect();
    const second = driver.hangConnect();
    const p1 = driver.creator();
    const p2 = driver.creator();
    await first.started;
    assert.ok(second.isStarted);
    second.fail(new Error('refused'));
    await assert.rejects(Promise.resolve(p2), /refused/);
    assert.equal(driver.opened, 0);
    first.release();
    assert.equal((await p1).id, 1);
    assert.deepEqual(driver.log, ['connect-failed', 'connect #1']);
  });

  it('scripts ping, failures and hangs per connection', async () => {
    const driver = new MockDriver();
    const conn = await driver.creator();
    conn.pingResult = false;
    assert.equal(await driver.dialect.ping!(conn), false);
    conn.pingResult = 'throw';
    await assert.rejects(Promise.resolve(driver.dialect.ping!(conn)), MockDisconnectError);
    conn.failOn('rollback', new Error('rb'), 1);
    await assert.rejects(Promise.resolve(driver.dialect.rollback(conn)), /rb/);
    await driver.dialect.rollback(conn);
    conn.failOn('commit');
    await assert.rejects(Promise.resolve(driver.dialect.commit(conn)), /commit failed/);
    await assert.rejects(Promise.resolve(driver.dialect.commit(conn)), /commit failed/);
    conn.heal('commit');
    await driver.dialect.commit(conn);
    const gate = conn.hangOn('rollback');
    let done = false;
    const rollback = Promise.resolve(driver.dialect.rollback(conn)).then(() => (done = true));
    await gate.started;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(done, false);
    gate.release();
    await rollback;
    const closing = conn.hangOn('close');
    const close = driver.dialect.close(conn);
    assert.equal(driver.live(), 1);
    closing.release();
    await close;
    assert.equal(driver.live(), 0);
  });

  it('counts a failed close as closed', async () => {
    const driver = new MockDriver();
    const conn = await driver.creator();
    conn.failOn('close');
    await assert.rejects(Promise.resolve(driver.dialect.close(conn)), /close failed/);
    assert.ok(conn.closed);
    assert.equal(driver.live(), 0);
    assert.deepEqual(driver.openConnections(), []);
  });

  it('kill() marks the connection dead and fires its error listeners', async () => {
    const driver = new MockDriver();
    const conn = await driver.creator();
    const seen: unknown[] = [];
    let marked: unknown = null;
    driver.dialect.onConnect!(conn, (error) => (marked = error));
    conn.on('error', (error) => seen.push(error));
    conn.kill();
    assert.equal(seen.length, 1);
    assert.ok(marked instanceof MockDisconnectError);
    await assert.rejects(Promise.resolve(driver.dialect.rollback(conn)), MockDisconnectError);
    await assert.rejects(Promise.resolve(driver.dialect.ping!(conn)), MockDisconnectError);
    await driver.dialect.close(conn);
    assert.ok(conn.closed);
    assert.deepEqual(driver.log, ['connect #1', 'kill #1', 'rollback #1', 'ping #1', 'close #1']);
  });

  it('reports calls on a closed connection as misuse', async () => {
    const driver = new MockDriver();
    const conn = await driver.creator();
    await driver.dialect.close(conn);
    await driver.dialect.rollback(conn);
    await driver.dialect.close(conn);
    assert.deepEqual(driver.misuse, ['rollback #1 after close', 'close #1 after close']);
    assert.equal(driver.closed, 1);
  });

  it('recordEvents() interleaves events into the log and unsubscribes', async () => {
    const driver = new MockDriver();
    const listeners = new Map<string, ((conn: unknown) => void)[]>();
    const fakePool = {
      on(event: string, listener: (conn: unknown) => void) {
        listeners.set(event, [...(listeners.get(event) ?? []), listener]);
      },
      off(event: string, listener: (conn: unknown) => void) {
        listeners.set(event, (listeners.get(event) ?? []).filter((l) => l !== listener));
      },
    };
    const stop = recordEvents(fakePool, driver);
    assert.equal(listeners.size, 10);
    const conn = await driver.creator();
    for (const l of listeners.get('checkout')!) l(conn);
    for (const l of listeners.get('checkin')!) l(null);
    stop();
    assert.deepEqual([...listeners.values()].flat(), []);
    assert.deepEqual(driver.log, ['connect #1', 'event:checkout #1', 'event:checkin null']);
  });
});
