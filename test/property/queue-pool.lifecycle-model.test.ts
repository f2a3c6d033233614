// Property test of QueuePool's background `minIdle` fill (README "Connection lifecycle"), with
// `maxUses`, `warmUp()` and `close({ timeout })`. The exact model (queue-pool.model.test.ts) covers
// maxUses, warmUp and close without minIdle; here the background fill races callers for connect
// attempts and scripted failures in microtask order, so instead of predicting which connection each
// caller holds, every quiet point is checked against invariants that hold whatever the order:
//
// - the pool's counts (stats(), checkedOut(), waiting()) equal what the callers and the driver see:
//   idle + used + detached = open driver connections, checkouts = callers served, created/closed/
//   connectErrors = the driver's counts, connecting = 0, pending = callers still waiting;
// - never more than poolSize + maxOverflow connections (besides detached ones), never more than
//   poolSize idle, nobody waits while a connection is idle;
// - once no background connect is failing (no backoff timer armed, no failure scripted):
//   idle >= min(minIdle, poolSize - checkedOut), as housekeeper.ts's fill() stops only then;
// - after a resolved warmUp(): idle >= min(max(minIdle, 1), poolSize - checkedOut);
// - after close({ timeout }): every driver connection was closed or terminated exactly once, and
//   nothing is opened afterwards.
//
// Deterministic: the pool's timers (the fill's backoff, close's timeout) run on node:test's mock
// clock, advanced only by the `backoff` command and the finale; waiters never time out (timeout is
// Infinity, or 0: fail at once).
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import type { MockTimers } from 'node:test';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { PooledConnection } from '../../src/index.js';
import { InvalidRequestError, PoolClosedError, PoolTimeoutError, QueuePool } from '../../src/index.js';
import type { MockConnection } from '../support/mock-driver.js';
import { MockDisconnectError, MockDriver } from '../support/mock-driver.js';

interface Config {
  readonly name: string;
  readonly poolSize: number;
  readonly maxOverflow: number;
  readonly minIdle: number;
  /** Infinity (wait) or 0 (fail at once at capacity): no waiter deadline runs on the clock. */
  readonly timeout: number;
  readonly useLifo: boolean;
  readonly sync: boolean;
  readonly prePing?: boolean;
  readonly maxUses?: number;
  readonly runs: number;
}

/** Longer than the longest backoff (30 s). */
const PAST_BACKOFF = 30_001;

interface Req {
  readonly id: number;
  readonly controller: AbortController | null;
  state: 'pending' | 'resolved' | 'rejected';
  pc: PooledConnection<MockConnection> | null;
  error: unknown;
  /** The test gave it back (closed, or invalidated). */
  returned: boolean;
}

interface Real {
  readonly config: Config;
  readonly pool: QueuePool<MockConnection>;
  readonly driver: MockDriver;
  readonly timers: MockTimers;
  readonly reqs: Req[];
  readonly warnings: string[];
  readonly trace: string[];
}

/** What fast-check's preconditions read: refreshed from the real pool after every step. */
interface Shadow {
  held: number[];
  detached: number[];
  abortable: number[];
  killable: number[];
  pingable: number[];
}

function makeReal(config: Config, timers: MockTimers): Real {
  const driver = new MockDriver({ sync: config.sync });
  const warnings: string[] = [];
  const noop = (): void => undefined;
  const pool = new QueuePool<MockConnection>({
    creator: driver.creator,
    dialect: driver.dialect,
    poolSize: config.poolSize,
    maxOverflow: config.maxOverflow,
    minIdle: config.minIdle,
    timeout: config.timeout,
    useLifo: config.useLifo,
    prePing: config.prePing === true,
    ...(config.maxUses === undefined ? {} : { maxUses: config.maxUses }),
    logger: { debug: noop, info: noop, warn: (message: string) => warnings.push(message), error: noop },
  });
  return { config, pool, driver, timers, reqs: [], warnings, trace: [] };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await tick();
}

const held = (r: Real): Req[] => r.reqs.filter((req) => req.state === 'resolved' && !req.returned && !req.pc!.isDetached);
const detached = (r: Real): Req[] => r.reqs.filter((req) => req.state === 'resolved' && !req.returned && req.pc!.isDetached);
const pending = (r: Real): Req[] => r.reqs.filter((req) => req.state === 'pending');

function shadowOf(r: Real): Shadow {
  const open = r.driver.openConnections().filter((conn) => !conn.dead);
  return {
    held: held(r).map((req) => req.id),
    detached: detached(r).map((req) => req.id),
    abortable: pending(r).filter((req) => req.controller !== null).map((req) => req.id),
    killable: open.map((conn) => conn.id),
    pingable: r.config.prePing === true ? open.filter((conn) => conn.pingResult === true).map((conn) => conn.id) : [],
  };
}

function refresh(s: Shadow, r: Real): void {
  Object.assign(s, shadowOf(r));
}

function startRequest(r: Real, abortable: boolean): void {
  const controller = abortable ? new AbortController() : null;
  const req: Req = { id: r.reqs.length, controller, state: 'pending', pc: null, error: undefined, returned: false };
  r.reqs.push(req);
  const promise = controller === null ? r.pool.connect() : r.pool.connect({ signal: controller.signal });
  promise.then(
    (pc) => {
      req.state = 'resolved';
      req.pc = pc;
    },
    (error: unknown) => {
      req.state = 'rejected';
      req.error = error;
    },
  );
}

/**
 * No background connect is failing: no backoff timer armed (the only timers a minIdle-only pool
 * arms, besides a sweep for a stale idle record). A scripted failure not consumed yet does not
 * count: a fill that meets it arms its backoff in the same quiet period.
 */
const quietTimers = (r: Real): boolean => r.pool._armedTimers === 0;

function check(r: Real, note: string): void {
  const { pool, driver, config } = r;
  const stats = pool.stats();
  const where = (): string => `\n${note}\nstats: ${JSON.stringify(stats)}\nstatus: ${pool.status()}\ntrace: ${r.trace.join('; ')}\ndriver log: ${driver.log.slice(-40).join(', ')}`;
  const lent = held(r);
  const detachedOpen = detached(r).filter((req) => !req.pc!.connection.closed).length;
  // Callers: each held checkout has its own open driver connection.
  const ids = new Set<number>();
  for (const req of lent) {
    const conn = req.pc!.connection;
    assert.ok(!conn.closed, `r${req.id} holds closed #${conn.id}${where()}`);
    assert.ok(!ids.has(conn.id), `#${conn.id} lent twice${where()}`);
    ids.add(conn.id);
  }
  for (const req of r.reqs) {
    if (req.state === 'rejected') {
      const ok = req.error instanceof MockDisconnectError || (req.error instanceof PoolTimeoutError && config.timeout === 0) || req.error === req.controller?.signal.reason;
      assert.ok(ok, `r${req.id} rejected with ${String(req.error)}${where()}`);
    }
  }
  // The pool's counts against the callers and the driver.
  assert.equal(stats.connecting, 0, `connecting at a quiet point${where()}`);
  assert.equal(stats.pending, pending(r).length, `pending${where()}`);
  assert.equal(pool.waiting(), pending(r).length, `waiting()${where()}`);
  assert.equal(stats.used, lent.length, `used${where()}`);
  assert.equal(pool.checkedOut(), lent.length, `checkedOut()${where()}`);
  assert.equal(stats.idle + stats.used + detachedOpen, driver.live(), `idle + used + detached = open driver connections${where()}`);
  assert.equal(stats.checkouts, r.reqs.filter((req) => req.state === 'resolved').length, `checkouts${where()}`);
  assert.equal(stats.created, driver.opened, `created${where()}`);
  assert.equal(stats.closed, driver.closed, `closed${where()}`);
  assert.equal(stats.connectErrors, driver.log.filter((line) => line === 'connect-failed').length, `connectErrors${where()}`);
  assert.equal(stats.timeouts, r.reqs.filter((req) => req.error instanceof PoolTimeoutError).length, `timeouts${where()}`);
  // Limits.
  const capacity = config.poolSize + config.maxOverflow;
  assert.ok(driver.live() - detachedOpen <= capacity, `more than poolSize + maxOverflow connections${where()}`);
  assert.ok(pool.checkedIn() <= config.poolSize && stats.idle <= config.poolSize, `more than poolSize idle${where()}`);
  if (pending(r).length > 0) assert.equal(stats.idle, 0, `a caller waits while a connection is idle${where()}`);
  // minIdle: the fill stops only with minIdle idle, or no room below poolSize.
  if (quietTimers(r)) {
    const want = Math.min(config.minIdle, config.poolSize - pool.checkedOut());
    // An empty slot parked idle (its checkout came back without a connection) is refilled too
    // (test/unit/min-idle-empty-slot.test.ts): only open idle connections count.
    assert.ok(stats.idle >= want, `idle ${stats.idle} < min(minIdle ${config.minIdle}, poolSize - checkedOut ${config.poolSize - pool.checkedOut()})${where()}`);
  }
  assert.deepEqual(driver.misuse, [], `driver misuse${where()}`);
  assert.deepEqual(r.warnings.filter((w) => /double checkin/i.test(w)), [], `warnings${where()}`);
}

type Kind =
  | 'connect' | 'connectAbortable' | 'abort' | 'close' | 'invalidate' | 'softInvalidate' | 'detach' | 'closeDetached'
  | 'kill' | 'failConnects' | 'dispose' | 'poolInvalidate' | 'warmUp' | 'backoff' | 'pingFails';

class Command implements fc.AsyncCommand<Shadow, Real> {
  constructor(
    readonly kind: Kind,
    readonly arg: number,
  ) {}

  targets(s: Readonly<Shadow>): number[] {
    switch (this.kind) {
      case 'close': case 'invalidate': case 'softInvalidate': case 'detach':
        return s.held;
      case 'closeDetached':
        return s.detached;
      case 'abort':
        return s.abortable;
      case 'kill':
        return s.killable;
      case 'pingFails':
        return s.pingable;
      default:
        return [0];
    }
  }

  check(s: Readonly<Shadow>): boolean {
    return this.targets(s).length > 0;
  }

  async run(s: Shadow, r: Real): Promise<void> {
    const targets = this.targets(s);
    const target = targets[this.arg % targets.length]!;
    r.trace.push(`${this.toString()}→${this.kind === 'kill' || this.kind === 'pingFails' ? `#${target}` : `r${target}`}`);
    const req = r.reqs[target];
    const { pool, driver, config } = r;
    let note = '';
    switch (this.kind) {
      case 'connect': case 'connectAbortable':
        startRequest(r, this.kind === 'connectAbortable');
        break;
      case 'abort':
        req!.controller!.abort(new Error(`aborted r${target}`));
        break;
      case 'close': case 'closeDetached':
        req!.returned = true;
        await req!.pc!.close();
        break;
      case 'invalidate':
        req!.returned = true;
        await req!.pc!.invalidate(new Error('invalidated by test'));
        break;
      case 'softInvalidate':
        await req!.pc!.invalidate(new Error('soft-invalidated by test'), { soft: true });
        break;
      case 'detach':
        req!.pc!.detach();
        break;
      case 'kill':
        driver.get(target).kill();
        break;
      case 'pingFails':
        driver.get(target).pingResult = this.arg % 2 === 0 ? false : 'throw';
        break;
      case 'failConnects':
        driver.failConnects(this.arg % 3 + 1);
        break;
      case 'dispose':
        await pool.dispose();
        break;
      case 'poolInvalidate':
        await pool.invalidate();
        break;
      case 'backoff':
        r.timers.tick(PAST_BACKOFF);
        break;
      case 'warmUp': {
        const errorsBefore = pool.stats().connectErrors;
        const outcome: Error | null = await pool.warmUp().then(() => null, (error: unknown) => (error instanceof Error ? error : new Error(`non-Error: ${typeof error}`)));
        await settle();
        const stats = pool.stats();
        note = `warmUp() ${outcome === null ? 'resolved' : `rejected: ${String(outcome)}`}`;
        if (outcome === null) {
          const want = Math.min(Math.max(config.minIdle, 1), config.poolSize - pool.checkedOut());
          assert.ok(stats.idle >= want, `after warmUp(): idle ${stats.idle} < ${want}\ntrace: ${r.trace.join('; ')}`);
        } else {
          assert.ok(outcome instanceof MockDisconnectError, `warmUp() rejected with ${String(outcome)}`);
          assert.ok(stats.connectErrors > errorsBefore, 'warmUp() rejected, yet no connect failed');
        }
        break;
      }
    }
    await settle();
    check(r, note);
    refresh(s, r);
  }

  toString(): string {
    return `${this.kind}(${this.arg})`;
  }
}

const WEIGHTS: Readonly<Record<Kind, number>> = {
  connect: 4, connectAbortable: 2, abort: 1, close: 4, invalidate: 1, softInvalidate: 1, detach: 1, closeDetached: 1,
  kill: 2, failConnects: 1, dispose: 1, poolInvalidate: 1, warmUp: 1, backoff: 2, pingFails: 1,
};
const command = (kind: Kind): fc.Arbitrary<Command> => fc.nat({ max: 7 }).map((arg) => new Command(kind, arg));
const COMMANDS = (Object.keys(WEIGHTS) as Kind[]).flatMap((kind) => Array.from({ length: WEIGHTS[kind] }, () => command(kind)));

type Finale = 'drain' | 'close0' | 'closeWait';

/**
 * `drain`: every checkout back, the backoff past: minIdle connections idle, then close().
 * `close0`: close({ timeout: 0 }) with checkouts out: they are terminated.
 * `closeWait`: close({ timeout }) resolves once every holder returned.
 * Then: every driver connection closed exactly once, none opened after close(), counts zero.
 */
async function finish(r: Real, finale: Finale): Promise<void> {
  const { pool, driver, config, timers } = r;
  const where = (): string => `\nfinale ${finale}\ntrace: ${r.trace.join('; ')}\ndriver log: ${driver.log.slice(-40).join(', ')}`;
  const waiting = pending(r);
  if (finale === 'drain') {
    for (let round = 0; round < 1000 && held(r).length > 0; round++) {
      const req = held(r)[0]!;
      req.returned = true;
      await req.pc!.close();
      await settle();
      check(r, 'draining');
    }
    assert.equal(pending(r).length, 0, `callers still waiting with nothing checked out${where()}`);
    // Let every scripted failure be consumed by background fills, each retried after its backoff.
    for (let round = 0; round < 20 && !quietTimers(r); round++) {
      timers.tick(PAST_BACKOFF);
      await settle();
      check(r, `backoff round ${round}`);
    }
    assert.ok(quietTimers(r), `timers still armed${where()}`);
    assert.ok(pool.stats().idle >= config.minIdle, `idle ${pool.stats().idle} < minIdle with nothing checked out${where()}`);
  }
  const lent = held(r);
  const lentConns = lent.map((req) => req.pc!.connection);
  let closed = false;
  const closing = pool.close({ timeout: finale === 'closeWait' ? 60_000 : 0 }).then(() => {
    closed = true;
  });
  await settle();
  for (const req of waiting.filter((w) => w.state !== 'resolved')) {
    assert.ok(req.state === 'rejected' && (req.error instanceof PoolClosedError || req.error instanceof MockDisconnectError), `waiter r${req.id} is ${req.state} ${String(req.error)}${where()}`);
  }
  if (finale === 'closeWait') {
    if (lent.length > 0) assert.ok(!closed, `close() resolved with checkouts out${where()}`);
    for (const req of lent) {
      const conn = req.pc!.connection;
      req.returned = true;
      await req.pc!.close();
      assert.ok(conn.closed, `#${conn.id} returned after close() but still open${where()}`);
    }
  } else {
    timers.tick(1);
    await settle();
    for (const [i, req] of lent.entries()) {
      const conn = lentConns[i]!;
      assert.ok(conn.closed && conn.closedBy === 'terminate', `#${conn.id} held at close({ timeout: 0 }) is ${conn.closedBy ?? 'open'}${where()}`);
      assert.throws(() => req.pc!.connection, InvalidRequestError, `r${req.id}.connection after close({ timeout: 0 })${where()}`);
      req.returned = true;
      await req.pc!.close();
    }
  }
  await closing;
  for (const req of detached(r)) {
    req.returned = true;
    await req.pc!.close();
  }
  // Background work stopped: nothing opens any more, whatever the clock does.
  timers.tick(PAST_BACKOFF * 2);
  await settle();
  assert.ok(closed, `close() did not resolve${where()}`);
  assert.equal(driver.live(), 0, `open after close(): ${driver.openConnections().map((c) => c.id).join(',')}${where()}`);
  assert.equal(driver.opened, driver.closed, `opened/closed${where()}`);
  for (const conn of driver.connections) {
    const closes = conn.calls.filter((call) => call === 'close' || call === 'terminate').length;
    assert.equal(closes, 1, `#${conn.id} closed ${closes} times${where()}`);
  }
  assert.deepEqual(driver.misuse, [], `driver misuse${where()}`);
  const stats = pool.stats();
  assert.deepEqual([stats.idle, stats.used, stats.connecting, stats.pending, stats.closed, stats.created], [0, 0, 0, 0, driver.closed, driver.opened], `stats after close()${where()}`);
  assert.deepEqual([pool.checkedIn(), pool.checkedOut(), pool.waiting()], [0, 0, 0], `counts after close()${where()}`);
  await assert.rejects(pool.warmUp(), PoolClosedError);
}

const CONFIGS: readonly Config[] = [
  { name: 'minIdle 2, poolSize 3, maxOverflow 2, FIFO', poolSize: 3, maxOverflow: 2, minIdle: 2, timeout: Infinity, useLifo: false, sync: false, runs: 300 },
  { name: 'minIdle 3 = poolSize 3, maxOverflow 1, LIFO, maxUses 2', poolSize: 3, maxOverflow: 1, minIdle: 3, timeout: Infinity, useLifo: true, sync: false, maxUses: 2, runs: 250 },
  { name: 'minIdle 1, poolSize 2, maxOverflow 0, timeout 0, maxUses 3', poolSize: 2, maxOverflow: 0, minIdle: 1, timeout: 0, useLifo: false, sync: false, maxUses: 3, runs: 250 },
  { name: 'minIdle 2, poolSize 2, maxOverflow 1, prePing, maxUses 2', poolSize: 2, maxOverflow: 1, minIdle: 2, timeout: Infinity, useLifo: false, sync: false, prePing: true, maxUses: 2, runs: 250 },
  { name: 'sync driver, minIdle 1, poolSize 1, maxOverflow 2, prePing', poolSize: 1, maxOverflow: 2, minIdle: 1, timeout: Infinity, useLifo: false, sync: true, prePing: true, runs: 200 },
  { name: 'sync driver, minIdle 2, poolSize 3, maxOverflow 0, LIFO, maxUses 1', poolSize: 3, maxOverflow: 0, minIdle: 2, timeout: Infinity, useLifo: true, sync: true, maxUses: 1, runs: 200 },
];

describe('QueuePool with minIdle: invariants at every quiet point', () => {
  for (const config of CONFIGS) {
    it(`${config.name} (${config.runs} runs)`, async (t) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      await fc.assert(
        fc.asyncProperty(fc.commands(COMMANDS, { maxCommands: 35, size: 'max' }), fc.constantFrom<Finale>('drain', 'close0', 'closeWait'), async (cmds, finale) => {
          let real: Real | null = null;
          const setup = async (): Promise<{ model: Shadow; real: Real }> => {
            real = makeReal(config, t.mock.timers);
            // The construction-time fill: minIdle connections, one at a time.
            await settle();
            assert.equal(real.pool.stats().idle, config.minIdle, 'minIdle connections opened at construction');
            assert.equal(real.driver.opened, config.minIdle);
            check(real, 'after construction');
            return { model: shadowOf(real), real };
          };
          await fc.asyncModelRun(setup, cmds);
          await finish(real!, finale);
        }),
        { numRuns: config.runs, includeErrorInReport: true },
      );
    });
  }
});
