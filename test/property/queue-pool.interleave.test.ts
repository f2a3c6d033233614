// Interleaving property test of QueuePool: concurrent callers against a driver whose every call
// (connect, rollback, commit, close, terminate, ping) completes in an order chosen by fast-check's
// scheduler, with pool-wide events (dispose, invalidate, server kills, connect failures, failed
// pings) dropped in at random points. No exact model here (the model test does that, one step at a
// time); instead, safety invariants checked after every scheduled step, and liveness at the end:
// - a driver connection is never lent to two holders, never closed or reset while lent, and never
//   handed out while a call on it (a reset, a close) is still running;
// - counts stay within limits, and the server never sees more than poolSize + maxOverflow
//   connections (ones it dropped itself, and detached ones, aside);
// - a newcomer queues behind callers already waiting; an aborted caller is rejected at once;
// - every caller settles (nobody waits forever), with its connection or an expected error;
// - afterwards nothing is checked out, nobody waits, and after dispose() every connection is closed.
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Dialect, PooledConnection } from '../../src/index.js';
import { QueuePool } from '../../src/index.js';
import type { MockConnection } from '../support/mock-driver.js';
import { MockDisconnectError, MockDriver } from '../support/mock-driver.js';

interface Config {
  readonly name: string;
  readonly poolSize: number;
  readonly maxOverflow: number;
  readonly useLifo: boolean;
  readonly prePing: boolean;
  readonly runs: number;
  /** Only plain checkouts and returns, no pool-wide events: the races of overflow returns and hand-offs. */
  readonly plain?: boolean;
}

type Action = 'close' | 'invalidate' | 'soft' | 'detach' | 'failReset' | 'kill' | 'poolInvalidate';
interface ActorPlan {
  /** Scheduled steps to wait before the first checkout, so callers arrive over the whole run. */
  readonly delay: number;
  readonly abort: boolean;
  readonly actions: readonly Action[];
}
type GlobalEvent = 'dispose' | 'invalidate' | 'failConnects' | 'kill' | 'pingFalse';

const actorArb = fc.record({
  delay: fc.nat({ max: 8 }),
  abort: fc.boolean(),
  actions: fc.array(fc.constantFrom<Action>('close', 'close', 'invalidate', 'soft', 'detach', 'failReset', 'kill', 'poolInvalidate'), { minLength: 1, maxLength: 4 }),
});
const plainActorArb = fc.record({
  delay: fc.nat({ max: 8 }),
  abort: fc.constant(false),
  actions: fc.array(fc.constant<Action>('close'), { minLength: 1, maxLength: 4 }),
});
const eventArb = fc.constantFrom<GlobalEvent>('dispose', 'invalidate', 'failConnects', 'kill', 'pingFalse');

interface Holder {
  readonly actor: number;
  readonly pc: PooledConnection<MockConnection>;
  readonly conn: MockConnection;
  /** Until the holder gives the connection back (close, invalidate, or close after detach). */
  active: boolean;
}

/** The state of one run, for the invariant checks the scheduler runs after every step. */
interface Run {
  readonly config: Config;
  readonly pool: QueuePool<MockConnection>;
  readonly driver: MockDriver;
  readonly holders: Holder[];
  /** Dialect calls in progress, per connection (counted from the pool's call, not the mock's). */
  readonly inFlight: Map<MockConnection, number>;
  /** Connections the pool asked to close or terminate. */
  readonly closing: Set<MockConnection>;
  /** Connections detached by their holder: out of the pool's hands (and count) for good. */
  readonly detached: Set<MockConnection>;
  readonly violations: string[];
  readonly capacity: number;
  /** Checks to run at the end of the current scheduler step. */
  readonly afterStep: (() => void)[];
  /** Every checkout's signal, so a failed run can release its stuck callers. */
  readonly controllers: AbortController[];
}

let current: Run | null = null;

function violation(run: Run, message: string): void {
  if (run.violations.length < 5) run.violations.push(`${message} [${run.pool.status()}]`);
}

function checkInvariants(run: Run): void {
  const { pool, driver, holders, closing, capacity } = run;
  const lent = new Map<MockConnection, number>();
  for (const holder of holders) {
    if (!holder.active) continue;
    const other = lent.get(holder.conn);
    if (other !== undefined) violation(run, `#${holder.conn.id} lent to actors ${other} and ${holder.actor}`);
    lent.set(holder.conn, holder.actor);
    if (closing.has(holder.conn)) violation(run, `#${holder.conn.id} closed by the pool while lent to actor ${holder.actor}`);
  }
  const checkedIn = pool.checkedIn();
  const checkedOut = pool.checkedOut();
  const keepIdle = run.config.poolSize === 0 ? Infinity : run.config.poolSize;
  if (checkedIn < 0 || checkedOut < 0 || checkedIn > keepIdle || checkedIn + checkedOut > capacity) {
    violation(run, `counts out of range: checkedIn ${checkedIn}, checkedOut ${checkedOut}`);
  }
  if (pool.overflow() !== checkedIn + checkedOut - run.config.poolSize) violation(run, 'overflow() != checkedIn() + checkedOut() - poolSize');
  const { detached } = run;
  const serverSide = driver.openConnections().filter((conn) => !conn.dead && !detached.has(conn)).length;
  if (serverSide > capacity) violation(run, `${serverSide} live connections on the server, capacity ${capacity}`);
  if (driver.misuse.length > 0) violation(run, `driver misuse: ${driver.misuse.join(', ')}`);
}

/** Every driver call waits for the scheduler; every step is followed by the invariant checks. */
function scheduledDriver(s: fc.Scheduler, run: () => Run, driver: MockDriver): { creator: () => Promise<MockConnection>; dialect: Dialect<MockConnection> } {
  const base = driver.dialect;
  const call = <T>(name: 'rollback' | 'commit' | 'close' | 'terminate' | 'ping', conn: MockConnection, fn: () => T | Promise<T>): Promise<T> => {
    const current = run();
    const { inFlight, closing } = current;
    const holder = current.holders.find((h) => h.active && h.conn === conn);
    if (holder !== undefined) violation(current, `${name} #${conn.id} called by the pool while it is lent to actor ${holder.actor}`);
    inFlight.set(conn, (inFlight.get(conn) ?? 0) + 1);
    if (name === 'close' || name === 'terminate') closing.add(conn);
    return s.schedule(Promise.resolve(), `${name} #${conn.id}`).then(fn).finally(() => inFlight.set(conn, (inFlight.get(conn) ?? 1) - 1));
  };
  return {
    creator: () => s.schedule(Promise.resolve(), 'connect').then(() => driver.creator()),
    dialect: {
      rollback: (conn) => call('rollback', conn, () => base.rollback(conn)),
      commit: (conn) => call('commit', conn, () => base.commit(conn)),
      close: (conn) => call('close', conn, () => base.close(conn)),
      terminate: (conn) => call('terminate', conn, () => base.terminate!(conn)),
      ping: (conn) => call('ping', conn, () => base.ping!(conn)),
      isDisconnect: (error, conn) => base.isDisconnect!(error, conn),
      onConnect: (conn, markDead) => { base.onConnect!(conn, markDead); },
    },
  };
}

async function drain(s: fc.Scheduler): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    await s.waitIdle();
    for (let j = 0; j < 3; j++) await tick();
    if (s.count() === 0) return;
  }
}

async function actor(run: Run, s: fc.Scheduler, index: number, plan: ActorPlan, failuresScripted: () => boolean): Promise<void> {
  const { pool } = run;
  for (let step = 0; step < plan.delay; step++) await s.schedule(Promise.resolve(), `actor ${index} arrives in ${plan.delay - step} steps`);
  for (const action of plan.actions) {
    await s.schedule(Promise.resolve(), `actor ${index} connects`);
    const controller = new AbortController();
    run.controllers.push(controller);
    const reason = new Error(`actor ${index} gave up`);
    let settled = false;
    if (plan.abort) {
      // An aborted caller is rejected at once, whether it waits in the queue or its connect is still running.
      // Checked once the scheduler step that aborted it is over (no other driver call completes meanwhile).
      void s.schedule(Promise.resolve(), `actor ${index} aborts`).then(() => {
        const pending = !settled;
        controller.abort(reason);
        if (pending) run.afterStep.push(() => { if (!settled) violation(run, `actor ${index} aborted, but its connect() is still pending`); });
      });
    }
    // First come, first served: while callers are queued, a newcomer queues behind them (the pool
    // decides synchronously inside connect()), whatever idle connection or capacity it could see.
    const queuedBefore = pool.waiting();
    const checkout = pool.connect({ signal: controller.signal });
    if (queuedBefore > 0 && pool.waiting() !== queuedBefore + 1) {
      violation(run, `actor ${index} did not queue behind the ${queuedBefore} callers already waiting (waiting() is now ${pool.waiting()})`);
    }
    let pc: PooledConnection<MockConnection>;
    try {
      pc = await checkout.finally(() => (settled = true));
    } catch (error) {
      const expected = (plan.abort && error === reason) || (error instanceof MockDisconnectError && failuresScripted());
      if (!expected) violation(run, `actor ${index}: unexpected connect error ${String(error)}`);
      continue;
    }
    const conn = pc.connection;
    if (pc.isClosed || !pc.isValid) violation(run, `actor ${index} got an unusable checkout`);
    if ((run.inFlight.get(conn) ?? 0) > 0) violation(run, `#${conn.id} handed to actor ${index} while a driver call on it is running`);
    if (conn.closed || run.closing.has(conn)) violation(run, `#${conn.id} handed to actor ${index} after it was closed`);
    const holder: Holder = { actor: index, pc, conn, active: true };
    run.holders.push(holder);
    checkInvariants(run);
    await s.schedule(Promise.resolve(), `actor ${index} works on #${conn.id}`);
    switch (action) {
      case 'close':
        break;
      case 'invalidate':
        holder.active = false;
        await pc.invalidate(new Error('invalidated by test'));
        break;
      case 'soft':
        await pc.invalidate(new Error('soft'), { soft: true });
        await s.schedule(Promise.resolve(), `actor ${index} keeps using #${conn.id}`);
        break;
      case 'detach':
        run.detached.add(conn);
        pc.detach();
        await s.schedule(Promise.resolve(), `actor ${index} uses detached #${conn.id}`);
        break;
      case 'failReset':
        conn.failOn('rollback', new Error('rollback failed'), 1);
        break;
      case 'kill':
        conn.kill();
        break;
      case 'poolInvalidate':
        holder.active = false;
        await pool.invalidate(pc, new Error('pool invalidated by test'));
        break;
    }
    holder.active = false;
    await pc.close();
    if (action === 'detach' && !conn.closed) violation(run, `detached #${conn.id} still open after close()`);
  }
}

function globalEvent(run: Run, event: GlobalEvent, pick: number): Promise<void> | undefined {
  const open = run.driver.openConnections().filter((conn) => !conn.dead);
  const target = open.length === 0 ? undefined : open[pick % open.length];
  switch (event) {
    case 'dispose':
      return run.pool.dispose();
    case 'invalidate':
      return run.pool.invalidate();
    case 'failConnects':
      run.driver.failConnects(pick % 2 + 1);
      return undefined;
    case 'kill':
      target?.kill();
      return undefined;
    case 'pingFalse':
      if (target !== undefined) target.pingResult = false;
      return undefined;
  }
}

const CONFIGS: readonly Config[] = [
  { name: 'plain checkouts, poolSize 1, maxOverflow 1', poolSize: 1, maxOverflow: 1, useLifo: false, prePing: false, runs: 150, plain: true },
  { name: 'poolSize 1, maxOverflow 1', poolSize: 1, maxOverflow: 1, useLifo: false, prePing: false, runs: 150 },
  { name: 'poolSize 2, maxOverflow 0, LIFO', poolSize: 2, maxOverflow: 0, useLifo: true, prePing: false, runs: 150 },
  { name: 'poolSize 1, maxOverflow 0, prePing', poolSize: 1, maxOverflow: 0, useLifo: false, prePing: true, runs: 100 },
  { name: 'poolSize 2, maxOverflow 2, prePing, LIFO', poolSize: 2, maxOverflow: 2, useLifo: true, prePing: true, runs: 100 },
];

describe('QueuePool under random interleavings of driver calls', () => {
  for (const config of CONFIGS) {
    it(`${config.name} (${config.runs} runs)`, async () => {
      // The scheduler releases the next driver call only once this resolves: let the pool's own
      // microtasks run out first, then check.
      const act = async (f: () => Promise<void>): Promise<void> => {
        await f();
        await tick();
        if (current === null) return;
        for (const check of current.afterStep.splice(0)) check();
        checkInvariants(current);
      };
      await fc.assert(
        fc.asyncProperty(
          fc.scheduler({ act }),
          config.plain === true ? fc.array(plainActorArb, { minLength: 3, maxLength: 6 }) : fc.array(actorArb, { minLength: 1, maxLength: 8 }),
          fc.array(fc.tuple(eventArb, fc.nat({ max: 7 })), { maxLength: config.plain === true ? 0 : 4 }),
          async (s, plans, events) => {
            const driver = new MockDriver();
            const noop = (): void => undefined;
            const { creator, dialect } = scheduledDriver(s, () => run, driver);
            const pool = new QueuePool<MockConnection>({
              creator,
              dialect,
              poolSize: config.poolSize,
              maxOverflow: config.maxOverflow,
              useLifo: config.useLifo,
              prePing: config.prePing,
              timeout: 10_000,
              logger: { debug: noop, info: noop, warn: noop, error: noop },
            });
            const run: Run = {
              config, pool, driver, holders: [], inFlight: new Map(), closing: new Set(), detached: new Set(), violations: [], controllers: [], afterStep: [],
              capacity: config.poolSize === 0 || config.maxOverflow === -1 ? Infinity : config.poolSize + config.maxOverflow,
            };
            current = run;
            let failuresScripted = false;
            const settled = plans.map(() => false);
            const actors = plans.map((plan, index) =>
              actor(run, s, index, plan, () => failuresScripted).then(
                () => { settled[index] = true; },
                (error: unknown) => { settled[index] = true; violation(run, `actor ${index} threw ${String(error)}`); },
              ),
            );
            for (const [event, pick] of events) {
              if (event === 'failConnects') failuresScripted = true;
              // Spread the events over the run: each waits `pick` scheduled steps first.
              void (async () => {
                for (let step = 0; step <= pick; step++) await s.schedule(Promise.resolve(), `event ${event} (${pick - step} steps to go)`);
                await globalEvent(run, event, pick);
              })();
            }
            try {
              await drain(s);
              const stuck = settled.flatMap((done, index) => (done ? [] : [index]));
              assert.deepEqual(stuck, [], `actors never settled (waiting ${pool.waiting()}) ${pool.status()}`);
              await Promise.all(actors);
              assert.deepEqual(run.violations, []);
              assert.equal(pool.checkedOut(), 0, `checked out after every actor finished: ${pool.status()}`);
              assert.equal(pool.waiting(), 0);
              const done = pool.dispose();
              await drain(s);
              await done;
              assert.deepEqual(run.violations, []);
              assert.deepEqual(driver.openConnections().map((conn) => conn.id), [], 'open connections after dispose()');
              assert.deepEqual([pool.checkedIn(), pool.checkedOut(), pool.overflow()], [0, 0, 0 - config.poolSize]);
            } finally {
              current = null;
              for (const controller of run.controllers) controller.abort(new Error('test over'));
            }
          },
        ),
        { numRuns: config.runs, includeErrorInReport: true },
      );
    });
  }
});
