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
import { PoolTimeoutError, QueuePool } from '../../src/index.js';
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
}

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

  constructor(readonly config: Config) {
    const unlimited = config.poolSize === 0 || config.maxOverflow === -1;
    this.capacity = unlimited ? Infinity : config.poolSize + config.maxOverflow;
    this.keepIdle = config.poolSize === 0 ? Infinity : config.poolSize;
  }

  with(status: Status): MReq[] {
    return this.reqs.filter((req) => req.status === status);
  }

  stale(slot: MSlot): boolean {
    return slot.conn !== null && (this.dead.has(slot.conn) || slot.soft || slot.gen < this.generation);
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
      this.serve(req, { conn: null, gen: 0, soft: false, established: false });
    } else if (this.config.timeout === 0) req.status = 'timedout';
    else {
      req.status = 'waiting';
      this.waiters.push(req);
    }
  }

  /** The request got a slot: lend its live connection (pre-pinged), or (re)connect. */
  serve(req: MReq, slot: MSlot): void {
    const failure = slot.conn === null ? undefined : this.pingFails.get(slot.conn);
    if (this.config.prePing === true && failure !== undefined && !this.stale(slot)) {
      // A dead connection (false, or a disconnect error) condemns every connection opened before it.
      if (failure !== 'other' && slot.gen >= this.generation) this.generation++;
      this.closeConn(slot);
    }
    if (slot.conn === null || this.stale(slot)) {
      this.closeConn(slot);
      if (this.pendingFailures > 0) {
        this.pendingFailures--;
        req.status = 'failed';
        if (slot.established) this.doReturn(slot);
        else this.releaseCapacity();
        return;
      }
      slot.established = true;
      slot.conn = this.nextConn++;
      slot.gen = this.generation;
      slot.soft = false;
      this.live.add(slot.conn);
    }
    req.status = 'held';
    req.slot = slot;
    req.conn = slot.conn;
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
    if (waiter !== undefined) this.serve(waiter, { conn: null, gen: 0, soft: false, established: false });
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
    logger: { debug: noop, info: noop, warn: (message: string) => warnings.push(message), error: noop },
  });
  return { pool, driver, reqs: [], warnings, trace: [] };
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
}

// --------------------------------------------------------------------------------------- commands

type Kind =
  | 'connect' | 'connectAbortable' | 'close' | 'invalidate' | 'softInvalidate' | 'detach' | 'closeDetached'
  | 'abort' | 'sleep' | 'dispose' | 'poolInvalidate' | 'poolInvalidateWith' | 'failConnects' | 'kill' | 'failReset'
  | 'pingFails';

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
  pingFails: 1,
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
];

describe('QueuePool against its model', () => {
  for (const config of CONFIGS) {
    it(`${config.name} (${config.runs} runs)`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.commands(COMMANDS, { maxCommands: 35, size: 'max' }), async (cmds) => {
          let state: { model: Model; real: Real } | null = null;
          const setup = (): { model: Model; real: Real } => (state = { model: new Model(config), real: makeReal(config) });
          await fc.asyncModelRun(setup, cmds);
          const { model, real } = state!;
          await finish(model, real);
        }),
        { numRuns: config.runs, includeErrorInReport: true },
      );
    });
  }
});
