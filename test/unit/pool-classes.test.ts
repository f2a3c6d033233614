// NullPool, StaticPool, AssertionPool, SingletonContextPool, useContextLocal/scope, manage(), recreate(),
// and the record/checkout data APIs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AssertionPool, ArgumentError, NullPool, PoolAssertionError, QueuePool, SingletonContextPool, StaticPool, manage,
} from '../../src/index.js';
import type { PooledConnection } from '../../src/index.js';
import { CaptureLogger, tick } from '../support/capture-logger.js';
import { MockDriver, recordEvents } from '../support/mock-driver.js';
import type { MockConnection } from '../support/mock-driver.js';

const idOf = (pc: PooledConnection<MockConnection>): number => (pc.connection).id;
const base = (driver: MockDriver) => ({ creator: driver.creator, dialect: driver.dialect, logger: new CaptureLogger() });

describe('NullPool', () => {
  it('opens a connection per checkout and closes it on return', async () => {
    const driver = new MockDriver();
    const pool = new NullPool(base(driver));
    const a = await pool.connect();
    const b = await pool.connect();
    assert.notEqual(idOf(a), idOf(b));
    await a.close();
    await b.close();
    assert.equal(driver.live(), 0);
    assert.deepEqual(driver.connections.map((c) => c.calls), [['rollback', 'close'], ['rollback', 'close']]);
    assert.equal(pool.status(), 'NullPool');
  });
});

describe('StaticPool', () => {
  it('shares one lazily opened connection, replaces it if invalidated, closes it on dispose', async () => {
    const driver = new MockDriver();
    const pool = new StaticPool(base(driver));
    assert.equal(driver.opened, 0);
    const [a, b] = await Promise.all([pool.connect(), pool.connect()]);
    assert.equal(a.connection, b.connection);
    assert.equal(driver.opened, 1, 'concurrent first checkouts share one connect');
    await a.close();
    await b.invalidate();
    const c = await pool.connect();
    assert.equal(idOf(c), 2);
    await c.close();
    await pool.dispose();
    assert.equal(driver.live(), 0);
    assert.equal(pool.status(), 'StaticPool');
  });
});

describe('AssertionPool', () => {
  it('allows one checkout at a time and names where the first was taken', async () => {
    const driver = new MockDriver();
    const pool = new AssertionPool(base(driver));
    const first = await pool.connect();
    await assert.rejects(pool.connect(), (error: unknown) =>
      error instanceof PoolAssertionError && error.message.startsWith('connection is already checked out') && /first checkout/.test(error.message));
    await first.close();
    const again = await pool.connect();
    assert.equal(idOf(again), 1);
    await again.close();
    const quiet = new AssertionPool({ ...base(driver), storeTraceback: false });
    const held = await quiet.connect();
    await assert.rejects(quiet.connect(), { message: 'connection is already checked out' });
    await held.close();
    assert.equal(pool.status(), 'AssertionPool');
  });
});

describe('SingletonContextPool', () => {
  it('one connection per scope, reused with nesting; reset only at the outermost close', async () => {
    const driver = new MockDriver();
    const pool = new SingletonContextPool({ ...base(driver), poolSize: 2 });
    recordEvents(pool, driver);
    await pool.scope(async () => {
      const outer = await pool.connect();
      const inner = await pool.connect();
      assert.equal(inner, outer, 'same checkout again');
      await inner.close();
      assert.equal(driver.get(1).calls.length, 0, 'no reset at the inner close');
      await outer.close();
      assert.deepEqual(driver.get(1).calls, ['rollback']);
      const later = await pool.connect();
      assert.equal(idOf(later), 1, 'the context keeps its connection');
      await later.close();
    });
    const ids = await Promise.all([1, 2, 3].map(() => pool.scope(async () => {
      const pc = await pool.connect();
      const id = idOf(pc);
      await pc.close();
      return id;
    })));
    assert.equal(new Set(ids).size, 3, 'each scope its own connection');
    await tick();
    assert.ok(pool.size() <= 2, 'least recently used idle connections closed beyond poolSize');
    assert.equal(driver.live(), pool.size());
    assert.match(pool.status(), /^SingletonContextPool size: \d$/);
  });

  it('never closes a connection in use to stay within poolSize', async () => {
    const driver = new MockDriver();
    const pool = new SingletonContextPool({ ...base(driver), poolSize: 1 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const holding = pool.scope(async () => {
      const pc = await pool.connect();
      await gate;
      assert.equal(pc.connection.closed, false);
      await pc.close();
    });
    await tick();
    await pool.scope(async () => { await (await pool.connect()).close(); });
    release();
    await holding;
  });
});

describe('useContextLocal and uniqueConnection', () => {
  it('returns the same checkout inside one scope, a different one in another, and uniqueConnection ignores it', async () => {
    const driver = new MockDriver();
    const pool = new QueuePool({ ...base(driver), useContextLocal: true });
    await pool.scope(async () => {
      const [a, b] = await Promise.all([pool.connect(), pool.connect()]);
      assert.equal(a, b);
      const unique = await pool.uniqueConnection();
      assert.notEqual(unique, a);
      const other = await pool.scope(async () => pool.connect());
      assert.notEqual(other, a);
      await other.close();
      await unique.close();
      await a.close();
      assert.equal(pool.checkedOut(), 1, 'nested: still out');
      await b.close();
      assert.equal(pool.checkedOut(), 0);
    });
  });
});

describe('records and checkouts', () => {
  it('info follows the driver connection, recordInfo the slot; finalize callbacks run last-added-first', async () => {
    const driver = new MockDriver();
    const pool = new QueuePool({ ...base(driver), poolSize: 1 });
    const pc = await pool.connect();
    pc.info.a = 1;
    pc.recordInfo!.b = 2;
    const ran: string[] = [];
    pc.record!.finalizeCallbacks.push(() => ran.push('first'), () => ran.push('second'));
    await pc.close();
    assert.deepEqual(ran, ['second', 'first']);
    const again = await pool.connect();
    assert.deepEqual(again.info, { a: 1 });
    await again.invalidate();
    const fresh = await pool.connect();
    assert.deepEqual(fresh.info, {}, 'info emptied with the connection');
    assert.deepEqual(fresh.recordInfo, { b: 2 }, 'recordInfo survives');
    assert.ok(fresh.record!.startTime > Date.now() - 5000 && fresh.record!.startTime <= Date.now() + 5);
    await fresh.close();
  });

  it('resetOnReturn commit / none, and a resetAgent takes over from the dialect', async () => {
    for (const [resetOnReturn, expected] of [['commit', ['commit']], [false, []], [null, []], [true, ['rollback']]] as const) {
      const driver = new MockDriver();
      const pool = new QueuePool({ ...base(driver), resetOnReturn });
      await (await pool.connect()).close();
      assert.deepEqual(driver.get(1).calls, expected, String(resetOnReturn));
    }
    const driver = new MockDriver();
    const pool = new QueuePool(base(driver));
    const pc = await pool.connect();
    const agentCalls: string[] = [];
    pc.resetAgent = { rollback: () => { agentCalls.push('rollback'); }, commit: () => { agentCalls.push('commit'); } };
    await pc.close();
    assert.deepEqual(agentCalls, ['rollback']);
    assert.deepEqual(driver.get(1).calls, []);
  });

  it('the events and legacy listeners options register at construction', async () => {
    const driver = new MockDriver();
    const seen: string[] = [];
    const pool = new QueuePool({
      ...base(driver),
      events: [['checkout', () => { seen.push('event checkout'); }]],
      listeners: [{ checkin: () => { seen.push('legacy checkin'); } }],
    });
    await (await pool.connect()).close();
    assert.deepEqual(seen, ['event checkout', 'legacy checkin']);
    assert.throws(() => new QueuePool({ ...base(driver), events: [['nope' as never, () => undefined]] }), ArgumentError);
  });

  it('recreate(): same class, options and listeners; connects nothing', async () => {
    const driver = new MockDriver();
    let checkouts = 0;
    const pool = new QueuePool({ ...base(driver), poolSize: 3, maxOverflow: 0, events: [['checkout', () => { checkouts++; }]] });
    pool.on('checkout', () => { checkouts++; });
    const copy = pool.recreate();
    assert.ok(copy instanceof QueuePool);
    assert.equal(copy.size(), 3);
    assert.equal(driver.opened, 0);
    await (await copy.connect()).close();
    assert.equal(checkouts, 2, 'both listeners, each once');
  });
});

describe('manage()', () => {
  it('one pool per distinct argument set (by value, key order ignored); poolKey names a pool and never reaches the driver', async () => {
    const calls: unknown[][] = [];
    let n = 0;
    const proxy = manage({ connect: (...args: unknown[]) => { calls.push(args); return { id: ++n, args }; } }, { poolSize: 2 });
    const a = await proxy.connect({ user: 'ann', db: 'x' });
    const b = await proxy.connect({ db: 'x', user: 'ann' });
    assert.equal(proxy.getPool({ user: 'ann', db: 'x' }), proxy.getPool({ db: 'x', user: 'ann' }));
    const c = await proxy.connect({ user: 'bob', db: 'x' });
    assert.equal(proxy.size, 2);
    assert.deepEqual((c.connection as { args: unknown[] }).args, [{ user: 'bob', db: 'x' }], 'credentials never shared');
    const keyed = await proxy.connect('url', { poolKey: 'reports' });
    assert.deepEqual(calls.at(-1), ['url']);
    assert.throws(() => proxy.getPool('other-url', { poolKey: 'reports' }), /already used with other connect arguments/);
    for (const pc of [a, b, c, keyed]) await pc.close();
    await proxy.dispose({ user: 'bob', db: 'x' });
    assert.equal(proxy.size, 2);
    await proxy.close();
    assert.equal(proxy.size, 0);
    assert.throws(() => manage({} as never), /'driver'/);
  });
});
