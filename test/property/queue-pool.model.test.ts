// Model-based property test of QueuePool (SPEC section 5): random sequences of checkouts, returns,
// hard and soft invalidations, detaches, aborts, timeouts, disposals, pool-wide invalidations, server
// kills and connect failures, run against a model that predicts every caller's outcome (down to which
// driver connection it holds), the pool's counts, and the exact set of open driver connections.
//
// Each command runs on the real pool, then the event loop is let run until the pool is quiet (the
// mock driver settles in microtasks), then the model takes the same step and everything is compared.
// With short `timeout`s a waiter may time out at any moment: the model learns which did from the real
// pool (checking each waited at least `timeout` and was a waiter in the model), and treats a
// timed-out waiter as gone before the step, so hand-offs must still go to the longest live waiter.
import assert from 'node:assert/strict';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
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
  readonly timeout: number;
  readonly useLifo: boolean;
  readonly resetOnReturn: 'rollback' | 'commit' | 'none';
  readonly sync: boolean;
  readonly prePing?: boolean;
  /** A connection is closed when it comes back after this many checkouts (and replaced at the next). */
  readonly maxUses?: number;
  /** Skip the pre-ping for a connection returned less than this long ago: huge here, so it never pings. */
  readonly prePingBypass?: number;
  /** End runs with a random finale (dispose, close({ timeout: 0 }), or close() awaiting the returns) instead of dispose. */
  readonly finales?: boolean;
  readonly runs: number;
}

/** A timeout this short lets waiters time out during the run (and enables the `sleep` command). */
const SHORT_TIMEOUT = 5;
const NEVER = 10_000;

// ------------------------------------------------------------------------------------------ model

/** How a pre-ping fails: `false`, a disconnect error, or some other error (replaces only this one). */
type PingFailure = 'false' | 'disconnect' | 'other';

type Status = 'waiting' | 'held' | 'detached' | 'returned' | 'failed' | 'aborted' | 'timedout';

/** A slot (ConnectionRecord): the mock id of its driver connection, or null when empty. */
interface MSlot {
  conn: number | null;
  gen: number;
  soft: boolean;
  /** It once held a connection: an established slot whose reconnect fails goes back empty (SQLAlchemy); a new one releases its capacity. */
  established: boolean;
  /** Checkouts of its current connection (`maxUses`). */
  uses: number;
}

const newSlot = (): MSlot => ({ conn: null, gen: 0, soft: false, established: false, uses: 0 });

interface MReq {
  readonly id: number;
  readonly abortable: boolean;
  status: Status;
  slot: MSlot | null;
  conn: number | null;
}

class Model {
  readonly capacity: number;
  readonly keepIdle: number;
  /** Idle slots, oldest return first. */
  idle: MSlot[] = [];
  /** Slots holding capacity: idle or lent. */
  total = 0;
  waiters: MReq[] = [];
  readonly reqs: MReq[] = [];
  generation = 0;
  pendingFailures = 0;
  nextConn = 1;
  readonly live = new Set<number>();
  readonly dead = new Set<number>();
  /** Connections whose next pre-ping fails, and how. */
  readonly pingFails = new Map<number, PingFailure>();
  /** Successful checkouts and connect failures: the pool's `stats()` counters. */
  checkouts = 0;
  connectErrors = 0;
  /** `warmUp()` calls that rejected. */
  warmUpFailures = 0;
  /** The pre-ping runs (it is on and not bypassed). */
  readonly pings: boolean;
  readonly maxUses: number;

  constructor(readonly config: Config) {
    const unlimited = config.poolSize === 0 || config.maxOverflow === -1;
    this.capacity = unlimited ? Infinity : config.poolSize + config.maxOverflow;
    this.keepIdle = config.poolSize === 0 ? Infinity : config.poolSize;
    this.pings = config.prePing === true && !((config.prePingBypass ?? 0) > 0);
    this.maxUses = config.maxUses ?? Infinity;
  }

  with(status: Status): MReq[] {
    return this.reqs.filter((req) => req.status === status);
  }

  stale(slot: MSlot): boolean {
    return slot.conn !== null && (this.dead.has(slot.conn) || slot.soft || slot.gen < this.generation || slot.uses >= this.maxUses);
  }

  closeConn(slot: MSlot): void {
    if (slot.conn !== null) this.live.delete(slot.conn);
    slot.conn = null;
  }

  request(req: MReq): void {
    this.reqs.push(req);
    const slot = this.config.useLifo ? this.idle.pop() : this.idle.shift();
    if (slot !== undefined) this.serve(req, slot);
    else if (this.total < this.capacity) {
      this.total++;
      this.serve(req, newSlot());
    } else if (this.config.timeout === 0) req.status = 'timedout';
    else {
      req.status = 'waiting';
      this.waiters.push(req);
    }
  }

  /** The request got a slot: lend its live connection (pre-pinged), or (re)connect. */
  serve(req: MReq, slot: MSlot): void {
    const failure = slot.conn === null ? undefined : this.pingFails.get(slot.conn);
    if (this.pings && failure !== undefined && !this.stale(slot)) {
      // A dead connection (false, or a disconnect error) condemns every connection opened before it.
      if (failure !== 'other' && slot.gen >= this.generation) this.generation++;
      this.closeConn(slot);
    }
    if (slot.conn === null || this.stale(slot)) {
      this.closeConn(slot);
      if (this.pendingFailures > 0) {
        this.pendingFailures--;
        this.connectErrors++;
        req.status = 'failed';
        if (slot.established) this.doReturn(slot);
        else this.releaseCapacity();
        return;
      }
      this.open(slot);
    }
    slot.uses++;
    this.checkouts++;
    req.status = 'held';
    req.slot = slot;
    req.conn = slot.conn;
  }

  /** The slot gets a new driver connection. */
  open(slot: MSlot): void {
    slot.established = true;
    slot.conn = this.nextConn++;
    slot.gen = this.generation;
    slot.soft = false;
    slot.uses = 0;
    this.live.add(slot.conn);
  }

  /**
   * `warmUp()` with `minIdle` 0: open connections (in parallel, in order) until one is idle: empty
   * idle slots first, then new capacity below min(poolSize, capacity) while nobody waits. Each goes
   * back as background work does (`#place`): a failed one to the front of the idle set, or its
   * capacity released. Returns whether warmUp() rejects (some connect failed).
   */
  warmUp(): boolean {
    const target = Math.min(1, this.keepIdle, this.capacity);
    const fillLimit = Math.min(this.keepIdle, this.capacity);
    const slots: MSlot[] = [];
    while (this.idle.filter((slot) => slot.conn !== null).length + slots.length < target) {
      const empty = this.idle.findIndex((slot) => slot.conn === null);
      if (empty !== -1) slots.push(...this.idle.splice(empty, 1));
      else if (this.total < fillLimit && this.waiters.length === 0) {
        this.total++;
        slots.push(newSlot());
      } else break;
    }
    let failed = false;
    for (const slot of slots) {
      if (this.pendingFailures > 0) {
        this.pendingFailures--;
        this.connectErrors++;
        failed = true;
        if (slot.established) this.place(slot, true);
        else this.releaseCapacity();
      } else {
        this.open(slot);
        this.place(slot, false);
      }
    }
    return failed;
  }

  /** A slot back from background work: the longest waiter, else the idle set (front if `keepTurn`), else gone. */
  place(slot: MSlot, keepTurn: boolean): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) this.serve(waiter, slot);
    else if (this.idle.length < this.keepIdle) {
      if (keepTurn) this.idle.unshift(slot);
      else this.idle.push(slot);
    } else {
      this.closeConn(slot);
      this.releaseCapacity();
    }
  }

  /** A slot comes back (live or empty): longest waiter, else the idle set if room, else gone. */
  doReturn(slot: MSlot): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) this.serve(waiter, slot);
    else if (this.idle.length < this.keepIdle) this.idle.push(slot);
    else {
      this.closeConn(slot);
      this.releaseCapacity();
    }
  }

  releaseCapacity(): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) this.serve(waiter, newSlot());
    else this.total--;
  }

  giveBack(req: MReq, resetFails: boolean): void {
    const slot = req.slot!;
    req.status = 'returned';
    req.slot = null;
    if (resetFails || this.stale(slot)) this.closeConn(slot);
    this.doReturn(slot);
  }

  hardInvalidate(req: MReq): void {
    this.closeConn(req.slot!);
    this.giveBack(req, false);
  }

  detach(req: MReq): void {
    const slot = req.slot!;
    req.status = 'detached';
    req.slot = null;
    slot.conn = null;
    this.doReturn(slot);
  }

  kill(conn: number): void {
    this.dead.add(conn);
    const idle = this.idle.find((slot) => slot.conn === conn);
    if (idle !== undefined) this.closeConn(idle);
  }

  dispose(): void {
    this.generation++;
    const idle = this.idle;
    this.idle = [];
    for (const slot of idle) {
      this.closeConn(slot);
      this.releaseCapacity();
    }
  }

  describe(): string {
    const reqs = this.reqs.filter((r) => r.status === 'waiting' || r.status === 'held' || r.status === 'detached');
    return `model: total=${this.total} idle=[${this.idle.map((s) => s.conn ?? 'empty').join(',')}] gen=${this.generation} ` +
      `live={${[...this.live].join(',')}} failures=${this.pendingFailures} reqs=${reqs.map((r) => `r${r.id}:${r.status}${r.conn === null ? '' : `#${r.conn}`}`).join(' ')}`;
  }
}

// ------------------------------------------------------------------------------------------- real

interface RReq {
  readonly id: number;
  readonly startedAt: number;
  readonly controller: AbortController | null;
  readonly reason: Error | null;
  state: 'pending' | 'resolved' | 'rejected';
  pc: PooledConnection<MockConnection> | null;
  error: unknown;
  settledAt: number;
}

interface Real {
  readonly pool: QueuePool<MockConnection>;
  readonly driver: MockDriver;
  readonly reqs: RReq[];
  readonly warnings: string[];
  readonly trace: string[];
  /** How each `warmUp()` settled, in order. */
  readonly warmUps: ('resolved' | 'rejected')[];
}

function makeReal(config: Config): Real {
  const driver = new MockDriver({ sync: config.sync });
  const warnings: string[] = [];
  const noop = (): void => undefined;
  const pool = new QueuePool<MockConnection>({
    creator: driver.creator,
    dialect: driver.dialect,
    poolSize: config.poolSize,
    maxOverflow: config.maxOverflow,
    timeout: config.timeout,
    useLifo: config.useLifo,
    resetOnReturn: config.resetOnReturn,
    prePing: config.prePing === true,
    ...(config.maxUses === undefined ? {} : { maxUses: config.maxUses }),
    ...(config.prePingBypass === undefined ? {} : { prePingBypass: config.prePingBypass }),
    logger: { debug: noop, info: noop, warn: (message: string) => warnings.push(message), error: noop },
  });
  return { pool, driver, reqs: [], warnings, trace: [], warmUps: [] };
}

/** Let every microtask chain and immediate the pool started run to completion. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await tick();
}

function startRequest(r: Real, abortable: boolean): RReq {
  const controller = abortable ? new AbortController() : null;
  const req: RReq = {
    id: r.reqs.length,
    startedAt: performance.now(),
    controller,
    reason: abortable ? new Error(`aborted r${r.reqs.length}`) : null,
    state: 'pending',
    pc: null,
    error: undefined,
    settledAt: 0,
  };
  r.reqs.push(req);
  const promise = controller === null ? r.pool.connect() : r.pool.connect({ signal: controller.signal });
  promise.then(
    (pc) => {
      req.state = 'resolved';
      req.pc = pc;
      req.settledAt = performance.now();
    },
    (error: unknown) => {
      req.state = 'rejected';
      req.error = error;
      req.settledAt = performance.now();
    },
  );
  return req;
}

/** Waiters the real pool timed out: checked, then removed from the model's queue. */
function syncTimeouts(m: Model, r: Real): void {
  if (m.config.timeout !== SHORT_TIMEOUT) return;
  for (const waiter of [...m.waiters]) {
    const real = r.reqs[waiter.id]!;
    if (real.state === 'rejected' && real.error instanceof PoolTimeoutError) {
      m.waiters.splice(m.waiters.indexOf(waiter), 1);
      waiter.status = 'timedout';
    }
  }
}

function connId(pc: PooledConnection<MockConnection>): number | null {
  return pc.isValid ? pc.connection.id : null;
}

function compare(m: Model, r: Real): void {
  const where = (): string => `\n${m.describe()}\nstatus: ${r.pool.status()}\ntrace: ${r.trace.join('; ')}\ndriver log: ${r.driver.log.slice(-30).join(', ')}`;
  const holders = new Map<number, number>();
  for (const req of m.reqs) {
    const real = r.reqs[req.id]!;
    const what = `r${req.id} should be ${req.status}${req.conn === null ? '' : ` #${req.conn}`}`;
    const { pc } = real;
    switch (req.status) {
      case 'waiting':
        assert.equal(real.state, 'pending', `${what}, is ${real.state} (${String(real.error)})${where()}`);
        break;
      case 'held':
      case 'detached':
        assert.ok(pc !== null, `${what}, is ${real.state} (${String(real.error)})${where()}`);
        assert.ok(!pc.isClosed, `${what}, but it is closed${where()}`);
        assert.equal(pc.isDetached, req.status === 'detached', `${what}, isDetached=${pc.isDetached}${where()}`);
        assert.equal(connId(pc), req.conn, `${what}, holds #${connId(pc)}${where()}`);
        if (req.conn !== null) {
          assert.ok(!holders.has(req.conn), `#${req.conn} lent to r${holders.get(req.conn)} and r${req.id}${where()}`);
          holders.set(req.conn, req.id);
        }
        break;
      case 'returned':
        assert.ok(pc?.isClosed === true, `${what}${where()}`);
        break;
      case 'failed':
        assert.ok(real.state === 'rejected' && real.error instanceof MockDisconnectError, `${what} (connect error), is ${real.state} ${String(real.error)}${where()}`);
        break;
      case 'aborted':
        assert.ok(real.state === 'rejected' && real.error === real.reason, `${what}, is ${real.state} ${String(real.error)}${where()}`);
        break;
      case 'timedout': {
        assert.ok(real.state === 'rejected' && real.error instanceof PoolTimeoutError, `${what}, is ${real.state} ${String(real.error)}${where()}`);
        const waited = real.settledAt - real.startedAt;
        assert.ok(waited >= m.config.timeout - 1, `r${req.id} timed out after ${waited.toFixed(2)}ms < ${m.config.timeout}ms${where()}`);
        break;
      }
    }
  }
  const { pool, driver, config } = { ...r, config: m.config };
  assert.equal(pool.checkedIn(), m.idle.length, `checkedIn()${where()}`);
  assert.equal(pool.checkedOut(), m.total - m.idle.length, `checkedOut()${where()}`);
  assert.equal(pool.overflow(), m.total - config.poolSize, `overflow()${where()}`);
  assert.equal(pool.waiting(), m.waiters.length, `waiting()${where()}`);
  assert.ok(m.total <= m.capacity && pool.checkedIn() <= m.keepIdle, `limits exceeded${where()}`);
  assert.ok(driver.live() <= m.capacity + m.with('detached').length, `more live connections than capacity${where()}`);
  // Nothing leaked: every open driver connection is idle, lent or detached, and nothing else is open.
  const accounted = new Set<number>([...holders.keys(), ...m.idle.flatMap((slot) => (slot.conn === null ? [] : [slot.conn]))]);
  assert.deepEqual([...m.live].sort((a, b) => a - b), [...accounted].sort((a, b) => a - b), `model is inconsistent${where()}`);
  const open = driver.openConnections().map((conn) => conn.id);
  assert.deepEqual(open, [...m.live].sort((a, b) => a - b), `open driver connections${where()}`);
  assert.equal(driver.opened, m.nextConn - 1, `connections opened${where()}`);
  assert.deepEqual(driver.misuse, [], `driver misuse${where()}`);
  assert.deepEqual(r.warnings.filter((w) => /double checkin/i.test(w)), [], `warnings${where()}`);
  compareStats(m, r, where);
}

/** `pool.stats()` against the model and the driver, at a quiet point. */
function compareStats(m: Model, r: Real, where: () => string): void {
  const { pool, driver } = r;
  const stats = pool.stats();
  const idleOpen = m.idle.filter((slot) => slot.conn !== null).length;
  const used = m.with('held').filter((req) => req.slot?.conn != null).length;
  const detachedOpen = m.with('detached').filter((req) => req.conn !== null && m.live.has(req.conn)).length;
  const what = (field: string): string => `stats().${field} (${JSON.stringify(stats)})${where()}`;
  assert.equal(stats.idle, idleOpen, what('idle'));
  assert.equal(stats.used, used, what('used'));
  assert.equal(stats.idle + stats.used + detachedOpen, driver.live(), what('idle + used + detached = open driver connections'));
  assert.equal(stats.connecting, 0, what('connecting'));
  assert.equal(stats.pending, m.waiters.length, what('pending'));
  assert.equal(pool.checkedOut(), m.total - m.idle.length, `checkedOut()${where()}`);
  assert.equal(stats.checkouts, m.checkouts, what('checkouts'));
  assert.equal(stats.created, driver.opened, what('created'));
  assert.equal(stats.closed, driver.closed, what('closed'));
  assert.equal(stats.connectErrors, m.connectErrors, what('connectErrors'));
  assert.equal(stats.connectErrors, driver.log.filter((line) => line === 'connect-failed').length, what('connectErrors (driver)'));
  assert.equal(stats.timeouts, m.with('timedout').length, what('timeouts'));
  assert.equal(r.warmUps.filter((outcome) => outcome === 'rejected').length, m.warmUpFailures, `warmUp() outcomes ${r.warmUps.join(',')}${where()}`);
}

// --------------------------------------------------------------------------------------- commands

type Kind =
  | 'connect' | 'connectAbortable' | 'close' | 'invalidate' | 'softInvalidate' | 'detach' | 'closeDetached'
  | 'abort' | 'sleep' | 'dispose' | 'poolInvalidate' | 'poolInvalidateWith' | 'failConnects' | 'kill' | 'failReset'
  | 'pingFails' | 'warmUp';

class Command implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly kind: Kind,
    readonly arg: number,
  ) {}

  /** The model's candidates for this command's target. */
  targets(m: Readonly<Model>): number[] {
    switch (this.kind) {
      case 'close': case 'invalidate': case 'softInvalidate': case 'detach': case 'poolInvalidateWith':
        return m.with('held').map((req) => req.id);
      case 'failReset':
        return m.config.resetOnReturn === 'none' ? [] : m.with('held').map((req) => req.id);
      case 'closeDetached':
        return m.with('detached').map((req) => req.id);
      case 'abort':
        return m.waiters.filter((req) => req.abortable).map((req) => req.id);
      case 'kill':
        return [...m.live].filter((conn) => !m.dead.has(conn));
      case 'pingFails':
        return m.config.prePing === true ? [...m.live].filter((conn) => !m.dead.has(conn) && !m.pingFails.has(conn)) : [];
      default:
        return [0];
    }
  }

  check(m: Readonly<Model>): boolean {
    if (this.kind === 'sleep' && m.config.timeout !== SHORT_TIMEOUT) return false;
    return this.targets(m).length > 0;
  }

  async run(m: Model, r: Real): Promise<void> {
    const targets = this.targets(m);
    const target = targets[this.arg % targets.length]!;
    r.trace.push(`${this.toString()}→${this.kind === 'kill' ? `#${target}` : `r${target}`}`);
    const mreq = m.reqs[target];
    const pc = r.reqs[target]?.pc ?? null;
    // 1. the real pool
    switch (this.kind) {
      case 'connect': case 'connectAbortable':
        startRequest(r, this.kind === 'connectAbortable');
        break;
      case 'close': case 'closeDetached':
        await pc!.close();
        break;
      case 'failReset':
        pc!.connection.failOn(m.config.resetOnReturn === 'commit' ? 'commit' : 'rollback', new Error('reset failed'), 1);
        await pc!.close();
        break;
      case 'invalidate':
        await pc!.invalidate(new Error('invalidated by test'));
        break;
      case 'softInvalidate':
        await pc!.invalidate(new Error('soft-invalidated by test'), { soft: true });
        break;
      case 'detach':
        pc!.detach();
        break;
      case 'abort': {
        const real = r.reqs[target]!;
        real.controller!.abort(real.reason);
        break;
      }
      case 'sleep':
        await sleep(SHORT_TIMEOUT + 10);
        break;
      case 'dispose':
        await r.pool.dispose();
        break;
      case 'poolInvalidate':
        await r.pool.invalidate();
        break;
      case 'poolInvalidateWith':
        await r.pool.invalidate(pc!, new Error('pool invalidated by test'));
        break;
      case 'failConnects':
        r.driver.failConnects(this.arg % 3 + 1);
        break;
      case 'kill':
        r.driver.get(target).kill();
        break;
      case 'warmUp':
        await r.pool.warmUp().then(
          () => r.warmUps.push('resolved'),
          (error: unknown) => {
            assert.ok(error instanceof MockDisconnectError, `warmUp() rejected with ${String(error)}`);
            r.warmUps.push('rejected');
          },
        );
        break;
      case 'pingFails': {
        const conn = r.driver.get(target);
        const failure = pingFailure(this.arg);
        if (failure === 'false') conn.pingResult = false;
        else if (failure === 'disconnect') conn.pingResult = 'throw';
        else conn.failOn('ping', new Error('ping: some other error'));
        break;
      }
    }
    await settle();
    // 2. the model takes the same step
    syncTimeouts(m, r);
    switch (this.kind) {
      case 'connect': case 'connectAbortable':
        m.request({ id: m.reqs.length, abortable: this.kind === 'connectAbortable', status: 'waiting', slot: null, conn: null });
        break;
      case 'close':
        m.giveBack(mreq!, false);
        break;
      case 'failReset':
        m.giveBack(mreq!, true);
        break;
      case 'closeDetached':
        m.live.delete(mreq!.conn!);
        mreq!.status = 'returned';
        break;
      case 'invalidate':
        m.hardInvalidate(mreq!);
        break;
      case 'softInvalidate':
        mreq!.slot!.soft = true;
        break;
      case 'detach':
        m.detach(mreq!);
        break;
      case 'abort':
        if (mreq!.status === 'waiting') {
          m.waiters.splice(m.waiters.indexOf(mreq!), 1);
          mreq!.status = 'aborted';
        }
        break;
      case 'sleep':
        for (const waiter of m.waiters) waiter.status = 'timedout';
        m.waiters = [];
        break;
      case 'dispose':
        m.dispose();
        break;
      case 'poolInvalidate':
        m.generation++;
        break;
      case 'poolInvalidateWith':
        if (mreq!.slot!.gen >= m.generation) m.generation++;
        m.hardInvalidate(mreq!);
        break;
      case 'failConnects':
        m.pendingFailures += this.arg % 3 + 1;
        break;
      case 'kill':
        m.kill(target);
        break;
      case 'pingFails':
        m.pingFails.set(target, pingFailure(this.arg));
        break;
      case 'warmUp':
        if (m.warmUp()) m.warmUpFailures++;
        break;
    }
    syncTimeouts(m, r);
    compare(m, r);
  }

  toString(): string {
    return `${this.kind}(${this.arg})`;
  }
}

const pingFailure = (arg: number): PingFailure => (['false', 'disconnect', 'other'] as const)[arg % 3]!;

const command = (kind: Kind): fc.Arbitrary<Command> => fc.nat({ max: 7 }).map((arg) => new Command(kind, arg));

/** Weighted so the pool often reaches capacity and callers queue. */
const WEIGHTS: Readonly<Record<Kind, number>> = {
  connect: 4, connectAbortable: 4, close: 3, invalidate: 1, softInvalidate: 1, detach: 1, closeDetached: 1,
  abort: 2, sleep: 1, dispose: 1, poolInvalidate: 1, poolInvalidateWith: 1, failConnects: 1, kill: 1, failReset: 1,
  pingFails: 1, warmUp: 1,
};
const COMMANDS = (Object.keys(WEIGHTS) as Kind[]).flatMap((kind) => Array.from({ length: WEIGHTS[kind] }, () => command(kind)));

/** Return everything, then dispose: every connection ever opened is closed and the counts are zero. */
async function finish(m: Model, r: Real): Promise<void> {
  for (let round = 0; round < 1000 && m.with('held').length > 0; round++) await new Command('close', 0).run(m, r);
  assert.equal(m.waiters.length, 0, `waiters left with nothing checked out\n${m.describe()}`);
  while (m.with('detached').length > 0) await new Command('closeDetached', 0).run(m, r);
  await new Command('dispose', 0).run(m, r);
  const { pool, driver } = r;
  assert.equal(driver.live(), 0, `open connections after dispose: ${driver.openConnections().map((c) => c.id).join(',')}`);
  assert.equal(driver.opened, driver.closed);
  assert.deepEqual([pool.checkedIn(), pool.checkedOut(), pool.overflow(), pool.waiting()], [0, 0, 0 - m.config.poolSize, 0]);
  assert.deepEqual(driver.misuse, []);
}

type Finale = 'dispose' | 'close0' | 'closeWait';

/**
 * End the run with `close({ timeout })`, checkouts still out: `close0` terminates them after 0 ms
 * (their holders then find `connection` throws, and their `close()` touches no driver connection);
 * `closeWait` resolves only once every holder has returned. Either way queued callers get
 * `PoolClosedError`, and afterwards every driver connection was closed or terminated exactly once.
 */
async function closeFinale(m: Model, r: Real, finale: Exclude<Finale, 'dispose'>): Promise<void> {
  const { pool, driver } = r;
  const where = (): string => `\n${finale}: ${m.describe()}\ntrace: ${r.trace.join('; ')}\ndriver log: ${driver.log.slice(-30).join(', ')}`;
  const held = m.with('held');
  const waiters = [...m.waiters];
  let closed = false;
  const closing = pool.close({ timeout: finale === 'close0' ? 0 : 60_000 }).then(() => {
    closed = true;
  });
  await settle();
  for (const waiter of waiters) {
    const real = r.reqs[waiter.id]!;
    assert.ok(real.state === 'rejected' && real.error instanceof PoolClosedError, `waiter r${waiter.id} is ${real.state} ${String(real.error)}${where()}`);
  }
  if (finale === 'closeWait') {
    if (held.length > 0) assert.ok(!closed, `close() resolved with ${held.length} checkout(s) out${where()}`);
    for (const req of held) {
      await r.reqs[req.id]!.pc!.close();
      assert.ok(driver.get(req.conn!).closed, `#${req.conn} returned after close() but not closed${where()}`);
    }
    await closing;
  } else {
    await closing;
    for (const req of held) {
      const pc = r.reqs[req.id]!.pc!;
      const conn = driver.get(req.conn!);
      assert.ok(conn.closed && conn.closedBy === 'terminate', `#${conn.id} held at close({ timeout: 0 }) is ${conn.closedBy ?? 'open'}${where()}`);
      assert.throws(() => pc.connection, InvalidRequestError, `r${req.id}.connection after close({ timeout: 0 })${where()}`);
      await pc.close();
    }
  }
  for (const req of m.with('detached')) await r.reqs[req.id]!.pc!.close();
  await settle();
  assert.ok(closed, `close() not resolved${where()}`);
  assert.equal(driver.live(), 0, `open connections after close(): ${driver.openConnections().map((c) => c.id).join(',')}${where()}`);
  assert.equal(driver.opened, driver.closed, `opened/closed${where()}`);
  for (const conn of driver.connections) {
    const closes = conn.calls.filter((call) => call === 'close' || call === 'terminate').length;
    assert.equal(closes, 1, `#${conn.id} closed ${closes} times${where()}`);
  }
  assert.deepEqual(driver.misuse, [], `driver misuse${where()}`);
  const stats = pool.stats();
  assert.deepEqual([stats.idle, stats.used, stats.connecting, stats.pending, stats.closed, stats.created], [0, 0, 0, 0, driver.closed, driver.opened], `stats after close()${where()}`);
  assert.deepEqual([pool.checkedIn(), pool.checkedOut(), pool.waiting()], [0, 0, 0], `counts after close()${where()}`);
  await assert.rejects(pool.connect(), PoolClosedError);
  await assert.rejects(pool.warmUp(), PoolClosedError);
  assert.deepEqual(r.warnings.filter((w) => /double checkin/i.test(w)), [], `warnings${where()}`);
}

const CONFIGS: readonly Config[] = [
  { name: 'poolSize 2, maxOverflow 1, FIFO, rollback', poolSize: 2, maxOverflow: 1, timeout: NEVER, useLifo: false, resetOnReturn: 'rollback', sync: false, runs: 200 },
  { name: 'poolSize 3, maxOverflow 0, LIFO', poolSize: 3, maxOverflow: 0, timeout: NEVER, useLifo: true, resetOnReturn: 'rollback', sync: false, runs: 150 },
  { name: 'poolSize 1, maxOverflow 2, short timeout, commit', poolSize: 1, maxOverflow: 2, timeout: SHORT_TIMEOUT, useLifo: false, resetOnReturn: 'commit', sync: false, runs: 150 },
  { name: 'poolSize 2, maxOverflow 0, timeout 0, LIFO', poolSize: 2, maxOverflow: 0, timeout: 0, useLifo: true, resetOnReturn: 'rollback', sync: false, runs: 150 },
  { name: 'poolSize 2, unlimited overflow, no reset', poolSize: 2, maxOverflow: -1, timeout: NEVER, useLifo: false, resetOnReturn: 'none', sync: false, runs: 100 },
  { name: 'poolSize 0 (no limit)', poolSize: 0, maxOverflow: 3, timeout: NEVER, useLifo: false, resetOnReturn: 'rollback', sync: false, runs: 75 },
  { name: 'prePing, poolSize 2, maxOverflow 1', poolSize: 2, maxOverflow: 1, timeout: NEVER, useLifo: false, resetOnReturn: 'rollback', sync: false, prePing: true, runs: 150 },
  { name: 'sync driver, poolSize 1, maxOverflow 1, FIFO', poolSize: 1, maxOverflow: 1, timeout: NEVER, useLifo: false, resetOnReturn: 'rollback', sync: true, runs: 100 },
  { name: 'sync driver, poolSize 2, maxOverflow 1, short timeout, LIFO, prePing', poolSize: 2, maxOverflow: 1, timeout: SHORT_TIMEOUT, useLifo: true, resetOnReturn: 'rollback', sync: true, prePing: true, runs: 100 },
  // The lifecycle options (README "Connection lifecycle"): maxUses, prePingBypass, and close({ timeout }) finales.
  { name: 'maxUses 2, poolSize 2, maxOverflow 1, FIFO, close finales', poolSize: 2, maxOverflow: 1, timeout: NEVER, useLifo: false, resetOnReturn: 'rollback', sync: false, maxUses: 2, finales: true, runs: 300 },
  { name: 'maxUses 3, poolSize 3, maxOverflow 0, LIFO, close finales', poolSize: 3, maxOverflow: 0, timeout: NEVER, useLifo: true, resetOnReturn: 'rollback', sync: false, maxUses: 3, finales: true, runs: 250 },
  { name: 'maxUses 1, poolSize 1, maxOverflow 1, timeout 0, commit', poolSize: 1, maxOverflow: 1, timeout: 0, useLifo: false, resetOnReturn: 'commit', sync: false, maxUses: 1, finales: true, runs: 200 },
  { name: 'maxUses 2, prePing, poolSize 2, maxOverflow 1, close finales', poolSize: 2, maxOverflow: 1, timeout: NEVER, useLifo: false, resetOnReturn: 'rollback', sync: false, prePing: true, maxUses: 2, finales: true, runs: 250 },
  { name: 'maxUses 2, short timeout, poolSize 1, maxOverflow 2, close finales', poolSize: 1, maxOverflow: 2, timeout: SHORT_TIMEOUT, useLifo: false, resetOnReturn: 'rollback', sync: false, maxUses: 2, finales: true, runs: 150 },
  { name: 'prePing bypassed (prePingBypass huge: failing pings never seen), maxUses 2', poolSize: 2, maxOverflow: 1, timeout: NEVER, useLifo: true, resetOnReturn: 'rollback', sync: false, prePing: true, prePingBypass: 1e9, maxUses: 2, finales: true, runs: 200 },
  { name: 'sync driver, maxUses 2, prePing, poolSize 2, maxOverflow 1, LIFO', poolSize: 2, maxOverflow: 1, timeout: NEVER, useLifo: true, resetOnReturn: 'rollback', sync: true, prePing: true, maxUses: 2, finales: true, runs: 200 },
  { name: 'maxUses 2, poolSize 0 (no limit), close finales', poolSize: 0, maxOverflow: 3, timeout: NEVER, useLifo: false, resetOnReturn: 'none', sync: false, maxUses: 2, finales: true, runs: 100 },
  { name: 'close finales, poolSize 2, maxOverflow 1, no lifecycle options', poolSize: 2, maxOverflow: 1, timeout: NEVER, useLifo: false, resetOnReturn: 'rollback', sync: false, finales: true, runs: 150 },
];

const FINALES = (config: Config): fc.Arbitrary<Finale> =>
  config.finales === true ? fc.constantFrom<Finale>('dispose', 'close0', 'closeWait') : fc.constant<Finale>('dispose');

describe('QueuePool against its model', () => {
  for (const config of CONFIGS) {
    it(`${config.name} (${config.runs} runs)`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.commands(COMMANDS, { maxCommands: 35, size: 'max' }), FINALES(config), async (cmds, finale) => {
          let state: { model: Model; real: Real } | null = null;
          const setup = (): { model: Model; real: Real } => (state = { model: new Model(config), real: makeReal(config) });
          await fc.asyncModelRun(setup, cmds);
          const { model, real } = state!;
          if (finale === 'dispose') await finish(model, real);
          else await closeFinale(model, real, finale);
        }),
        { numRuns: config.runs, includeErrorInReport: true },
      );
    });
  }
});
