/**
 * A scripted, deterministic mock driver for exact unit tests of the pool's logic.
 *
 * - `driver.creator` opens `MockConnection`s (ids 1, 2, 3... in the order connects *succeed*).
 * - `driver.dialect` routes rollback/commit/close/terminate/ping through each connection's script.
 * - `driver.log` is one ordered list of every driver-level call across connections:
 *   `'connect #1'`, `'connect-failed'`, `'rollback #1'`, `'commit #1'`, `'close #1'`, `'terminate #1'`,
 *   `'ping #1'`, `'kill #1'`. `recordEvents(pool, driver)` interleaves pool events into the same log
 *   as `'event:checkout #1'` (`'event:checkin null'` when the event's connection is null).
 * - `driver.misuse` lists calls the pool must never make (any call on a closed connection).
 *
 * Async mode (default): every call settles after one microtask hop. `{ sync: true }`: the creator and
 * the dialect return and throw synchronously, except for calls scripted to hang.
 * A failed close/terminate still counts the connection as closed (the socket is gone either way).
 */
import type { Dialect } from '../../src/dialect.js';
import { POOL_EVENT_NAMES } from '../../src/events.js';

export type MockOp = 'rollback' | 'commit' | 'close' | 'terminate' | 'ping';

/** What a dead connection throws; `driver.dialect.isDisconnect` recognizes it (and only it). */
export class MockDisconnectError extends Error {
  readonly code = 'ECONNRESET';
  constructor(message = 'mock: connection lost') {
    super(message);
    this.name = 'MockDisconnectError';
  }
}

/** A call held until the test lets it go. `started` resolves when the call has been made. */
export interface Gate {
  readonly started: Promise<void>;
  readonly isStarted: boolean;
  /** Let the call go on as scripted (a connect succeeds). */
  release(): void;
  /** Make the call throw `error` (default: a `MockDisconnectError`). */
  fail(error?: unknown): void;
}

class GateImpl implements Gate {
  isStarted = false;
  readonly started: Promise<void>;
  readonly released: Promise<void>;
  #start!: () => void;
  #resolve!: () => void;
  #reject!: (error: unknown) => void;

  constructor() {
    this.started = new Promise<void>((resolve) => (this.#start = resolve));
    this.released = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.released.catch(() => undefined);
  }

  start(): Promise<void> {
    this.isStarted = true;
    this.#start();
    return this.released;
  }

  release(): void {
    this.#resolve();
  }

  fail(error: unknown = new MockDisconnectError('mock: hung call failed')): void {
    this.#reject(error);
  }
}

type ErrorListener = (error: unknown) => void;

export class MockConnection {
  /** `ping` answers this: `true`, `false` (dead), or `'throw'` (a `MockDisconnectError`). */
  pingResult: boolean | 'throw' = true;
  /** Killed: every later rollback/commit/ping throws a `MockDisconnectError`. */
  dead = false;
  /** Closed or terminated (set when the close call completes, even if it failed). */
  closed = false;
  closedBy: 'close' | 'terminate' | null = null;
  /** A close or terminate has been called (it may still be pending). */
  closing = false;
  /** Calls made on this connection, in order (`'rollback'`, `'close'`...). */
  readonly calls: MockOp[] = [];
  readonly #listeners: ErrorListener[] = [];
  readonly #failures = new Map<MockOp, { error: unknown; times: number }>();
  readonly #hangs = new Map<MockOp, GateImpl[]>();

  constructor(
    readonly id: number,
    readonly driver: MockDriver,
  ) {}

  on(_event: 'error', listener: ErrorListener): this {
    this.#listeners.push(listener);
    return this;
  }

  off(_event: 'error', listener: ErrorListener): this {
    const index = this.#listeners.indexOf(listener);
    if (index !== -1) this.#listeners.splice(index, 1);
    return this;
  }

  listenerCount(): number {
    return this.#listeners.length;
  }

  /** Make `op` throw `error` on its next `times` calls (default: every call until `heal(op)`). */
  failOn(op: MockOp, error: unknown = new Error(`mock: ${op} failed`), times = Infinity): this {
    this.#failures.set(op, { error, times });
    return this;
  }

  heal(op: MockOp): this {
    this.#failures.delete(op);
    return this;
  }

  /** Hold the next call of `op` until the returned gate is released or failed. */
  hangOn(op: MockOp): Gate {
    const gate = new GateImpl();
    const list = this.#hangs.get(op) ?? [];
    list.push(gate);
    this.#hangs.set(op, list);
    return gate;
  }

  /** The server drops the connection: mark it dead and fire its 'error' listeners. */
  kill(error: unknown = new MockDisconnectError()): void {
    this.driver.log.push(`kill #${this.id}`);
    this.dead = true;
    for (const listener of [...this.#listeners]) listener(error);
  }

  /** @internal One dialect call: log it, wait for a hang if scripted, then act (or throw). */
  _call(op: MockOp, sync: boolean): unknown {
    this.driver.log.push(`${op} #${this.id}`);
    this.calls.push(op);
    if (this.closing) this.driver.misuse.push(`${op} #${this.id} after close`);
    if (op === 'close' || op === 'terminate') this.closing = true;
    const gate = this.#hangs.get(op)?.shift();
    if (gate !== undefined) {
      return gate.start().then(
        () => this.#act(op),
        (error: unknown) => {
          this.#markClosed(op);
          throw error;
        },
      );
    }
    return sync ? this.#act(op) : Promise.resolve().then(() => this.#act(op));
  }

  #act(op: MockOp): unknown {
    const failure = this.#failures.get(op);
    if (failure !== undefined) {
      if (--failure.times <= 0) this.#failures.delete(op);
      this.#markClosed(op);
      throw failure.error;
    }
    if (this.#markClosed(op)) return undefined;
    if (this.dead) throw new MockDisconnectError(`mock: ${op} on dead connection #${this.id}`);
    if (op !== 'ping') return undefined;
    if (this.pingResult === 'throw') throw new MockDisconnectError(`mock: ping failed on #${this.id}`);
    return this.pingResult;
  }

  #markClosed(op: MockOp): boolean {
    if (op !== 'close' && op !== 'terminate') return false;
    if (!this.closed) {
      this.closed = true;
      this.closedBy = op;
      this.driver.closed++;
    }
    return true;
  }
}

type ConnectStep = { kind: 'fail'; error: unknown } | { kind: 'hang'; gate: GateImpl };

export class MockDriver {
  readonly log: string[] = [];
  /** Calls the pool should never make (e.g. any call on an already closed connection). */
  readonly misuse: string[] = [];
  /** Every connection ever opened, in id order. */
  readonly connections: MockConnection[] = [];
  /** Times the creator was called (successful, failed or still pending). */
  connectCalls = 0;
  /** Connections closed or terminated. */
  closed = 0;
  readonly sync: boolean;
  readonly #script: ConnectStep[] = [];

  constructor(options: { sync?: boolean } = {}) {
    this.sync = options.sync === true;
  }

  /** Connections successfully opened. */
  get opened(): number {
    return this.connections.length;
  }

  /** Number of connections opened and not (yet) closed or terminated. */
  live(): number {
    return this.opened - this.closed;
  }

  openConnections(): MockConnection[] {
    return this.connections.filter((conn) => !conn.closed);
  }

  /** The connection with this id (1-based); throws if there is none. */
  get(id: number): MockConnection {
    const conn = this.connections[id - 1];
    if (conn === undefined) throw new Error(`mock: no connection #${id}`);
    return conn;
  }

  /** The next `count` connects fail with `error` (default: a `MockDisconnectError`). */
  failConnects(count = 1, error: unknown = new MockDisconnectError('mock: connect refused')): this {
    for (let i = 0; i < count; i++) this.#script.push({ kind: 'fail', error });
    return this;
  }

  /** The next connect (after any already scripted) hangs until the gate is released or failed. */
  hangConnect(): Gate {
    const gate = new GateImpl();
    this.#script.push({ kind: 'hang', gate });
    return gate;
  }

  /** Scripted connect steps not yet consumed. */
  pendingScript(): number {
    return this.#script.length;
  }

  /** Use as the pool's `creator`. */
  readonly creator = (): MockConnection | Promise<MockConnection> => {
    this.connectCalls++;
    const step = this.#script.shift();
    if (step?.kind === 'hang') return step.gate.start().then(() => this.#open(), (error: unknown) => this.#refuse(error));
    const run = (): MockConnection => (step?.kind === 'fail' ? this.#refuse(step.error) : this.#open());
    return this.sync ? run() : Promise.resolve().then(run);
  };

  #open(): MockConnection {
    const conn = new MockConnection(this.connections.length + 1, this);
    this.connections.push(conn);
    this.log.push(`connect #${conn.id}`);
    return conn;
  }

  #refuse(error: unknown): never {
    this.log.push('connect-failed');
    throw error;
  }

  readonly dialect: Dialect<MockConnection> = {
    rollback: (conn) => conn._call('rollback', this.sync) as void | Promise<void>,
    commit: (conn) => conn._call('commit', this.sync) as void | Promise<void>,
    close: (conn) => conn._call('close', this.sync) as void | Promise<void>,
    terminate: (conn) => conn._call('terminate', this.sync) as void | Promise<void>,
    ping: (conn) => conn._call('ping', this.sync) as boolean | Promise<boolean>,
    isDisconnect: (error) => error instanceof MockDisconnectError,
    onConnect: (conn, markDead) => {
      conn.on('error', markDead);
    },
  };
}

/** Anything with `on`/`off` for the pool's events (every pool class). */
export interface EventSource {
  on(event: any, listener: any): unknown;
  off(event: any, listener: any): unknown;
}

/**
 * Push every pool event (SPEC section 7) into `driver.log` as `'event:<name> #<id>'`, with the id of
 * the event's mock connection, or `'event:<name> null'`. Returns a function that unsubscribes.
 */
export function recordEvents(pool: EventSource, driver: MockDriver): () => void {
  const target = pool;
  const subscriptions = POOL_EVENT_NAMES.map((name) => {
    const listener = (conn: unknown): void => {
      driver.log.push(`event:${name} ${conn instanceof MockConnection ? `#${conn.id}` : 'null'}`);
    };
    target.on(name, listener);
    return () => target.off(name, listener);
  });
  return () => {
    for (const unsubscribe of subscriptions) unsubscribe();
  };
}
