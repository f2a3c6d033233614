import { monotonicNow, toEpochMs } from './clock.js';
import { emit } from './events.js';
import { describeError } from './logging.js';
import type { Pool } from './pool.js';

let nextRecordId = 1;

const enum Staleness {
  Fresh,
  Dead,
  Invalidated,
  SoftInvalidated,
  UsedUp,
  Old,
}

/**
 * A long-lived slot of the pool (SQLAlchemy's `_ConnectionRecord`). It holds at most one driver
 * connection at a time and outlives it: when its connection is invalidated, recycled or found dead,
 * the record opens a new one at its next checkout and keeps its `recordInfo`.
 *
 * The record owns one connection's life — open, stale checks, invalidate, close. Which record a
 * caller gets is the pool's business; what one checkout does is the `PooledConnection`'s.
 */
export class ConnectionRecord<C> {
  /** A number unique in the process; log lines name connections by it (`#7`), never by the driver object. */
  readonly id: number = nextRecordId++;
  /** The driver connection, or `null` when the record is empty (never connected, invalidated, closed). */
  connection: C | null = null;
  /** When the current connection was opened (epoch ms from the monotonic clock), 0 if never. */
  startTime = 0;
  /** Run with the driver connection at the next checkin, last added first; dropped if the connection closes. */
  readonly finalizeCallbacks: ((conn: C) => void)[] = [];

  readonly #pool: Pool<C>;
  #info: Record<string, unknown> | null = null;
  #recordInfo: Record<string, unknown> | null = null;
  /**
   * The monotonic time the current connection finished opening; recycle ages count from it, so a
   * connect slower than `recycle` does not condemn the connection it just made. (The generation,
   * by contrast, is taken when the connect begins: an invalidation during a connect condemns it.)
   */
  #openedAt = 0;
  /** The pool's invalidation generation when the current connection's connect began. */
  #generation = 0;
  #softInvalidated = false;
  /** Set by the dialect's error listener: the server dropped this connection. */
  #dead = false;
  /** Opened during the checkout in progress, so pre-ping must skip it. */
  #fresh = false;
  /** Outstanding checkouts of this record: 0 or 1, except in StaticPool where many share it. */
  #checkouts = 0;
  #connecting: Promise<C> | null = null;
  /** A connection of this record has passed its `connect` listeners: the slot is established. */
  #established = false;
  /** Checkouts of the current connection, for `maxUses`. */
  #uses = 0;
  /** Monotonic time the current connection last came back (or was opened in the background). */
  #lastReturned = 0;
  /** Monotonic time of the last keep-alive ping (a ping is not a use). */
  #lastPinged = 0;
  /** Monotonic time background recycle retires the connection: its `recycle` age minus up to 2.5% jitter. */
  #retireAt = Infinity;
  /** Whether the connection's socket may keep the process alive (`allowExitOnIdle`). */
  #refd = true;

  constructor(pool: Pool<C>) {
    this.#pool = pool;
  }

  /** User data tied to the driver connection: kept across checkouts, emptied when the connection is replaced. */
  get info(): Record<string, unknown> {
    return (this.#info ??= {});
  }

  /** User data tied to this record: survives reconnects and invalidation. */
  get recordInfo(): Record<string, unknown> {
    return (this.#recordInfo ??= {});
  }

  /** Alias of `startTime` (SQLAlchemy's `last_connect_time`). */
  get lastConnectTime(): number {
    return this.startTime;
  }

  get inUse(): boolean {
    return this.#checkouts > 0;
  }

  /** @internal The dialect reported the current connection dead: no reset is attempted on it. */
  get _dead(): boolean {
    return this.#dead;
  }

  /** @internal Invalidation generation of the current connection. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Why the current connection must not be handed out again, or `null` if it may. Checked at
   * checkout (replace it) and at return (close it now rather than keep a connection nobody can use).
   */
  staleReason(): string | null {
    switch (this.#staleness()) {
      case Staleness.Fresh:
        return null;
      case Staleness.Dead:
        return 'the server dropped it';
      case Staleness.Invalidated:
        return 'the pool was invalidated or disposed';
      case Staleness.SoftInvalidated:
        return 'it was soft-invalidated';
      case Staleness.UsedUp:
        return `it served maxUses (${this.#pool._options.maxUses}) checkouts`;
      case Staleness.Old:
        return `it is older than recycle (${this.#pool._options.recycle}ms)`;
    }
  }

  /**
   * `staleReason() !== null`, without building the reason: runs on every checkout and return, so
   * it is one expression (the same tests as `#staleness`), small enough for V8 to inline.
   */
  isStale(): boolean {
    const pool = this.#pool;
    const options = pool._options;
    return this.#dead || this.#softInvalidated || this.#generation < pool._generation || this.#uses >= options.maxUses || (options.recycle >= 0 && this.#olderThan(options.recycle));
  }

  #olderThan(ms: number): boolean {
    return monotonicNow() - this.#openedAt > ms;
  }

  #staleness(): Staleness {
    if (this.#dead) return Staleness.Dead;
    const pool = this.#pool;
    if (this.#generation < pool._generation) return Staleness.Invalidated;
    if (this.#softInvalidated) return Staleness.SoftInvalidated;
    const options = pool._options;
    if (this.#uses >= options.maxUses) return Staleness.UsedUp;
    const recycle = options.recycle;
    if (recycle >= 0 && monotonicNow() - this.#openedAt > recycle) return Staleness.Old;
    return Staleness.Fresh;
  }

  /** Connect, or replace a stale connection, then return the driver connection. */
  getConnection(): C | Promise<C> {
    const conn = this.connection;
    if (conn !== null && !this.isStale()) return conn;
    return (this.#connecting ??= this.#reconnect().finally(() => (this.#connecting = null)));
  }

  async #reconnect(): Promise<C> {
    const old = this.connection;
    if (old !== null) {
      this.#pool._log.info(`Connection #${this.id} is replaced: ${this.staleReason() ?? 'stale'}`);
      await this.#closeConnection(old, this.#dead);
    }
    this.#info = null;
    return this.#connect(true, false);
  }

  /**
   * `forCheckout`: opened for the checkout under way, so its pre-ping is skipped. `unrefTimer`: a
   * background connect, whose deadline timer must not keep the process alive.
   */
  async #connect(forCheckout: boolean, unrefTimer: boolean): Promise<C> {
    const pool = this.#pool;
    this.connection = null;
    this.#generation = pool._generation;
    this.#softInvalidated = false;
    this.#dead = false;
    const conn = await pool._invokeCreator(this, unrefTimer);
    const openedAt = monotonicNow();
    this.connection = conn;
    const counters = pool._counters;
    counters.open++;
    if (this.#checkouts !== 0) counters.used++;
    this.#openedAt = openedAt;
    this.#lastReturned = openedAt;
    this.#lastPinged = 0;
    this.#uses = 0;
    this.#refd = true;
    const recycle = pool._options.recycle;
    // HikariCP's jitter: connections opened together do not all retire at once.
    this.#retireAt = recycle < 0 ? Infinity : openedAt + recycle - Math.random() * recycle * 0.025;
    this.startTime = toEpochMs(openedAt);
    this.#fresh = forCheckout;
    pool._log.debug(`Created new connection #${this.id}`);
    const dialect = pool._dialect;
    if (dialect.onConnect !== undefined) dialect.onConnect(conn, (error: unknown) => { this.#markDead(conn, error); });
    try {
      await pool._connected(conn, this);
    } catch (error) {
      // A connect listener refused the new connection: close it rather than leak it.
      await this.#closeConnection(conn, false);
      throw error;
    }
    this.#established = true;
    return conn;
  }

  /**
   * @internal Open a connection for the idle set (`minIdle`, `warmUp`, a keep-alive replacement):
   * no checkout is involved, and the connection is not "fresh" (its first checkout pre-pings it like
   * any idle connection). `unrefTimer`: background work, whose timer must not keep the process alive.
   */
  _openInBackground(unrefTimer: boolean): Promise<C> {
    return (this.#connecting ??= this.#connect(false, unrefTimer).finally(() => (this.#connecting = null)));
  }

  /** The dialect saw the connection die (its 'error' event): replace it at checkout, or close it now if idle. */
  #markDead(conn: C, error: unknown): void {
    if (this.connection !== conn || this.#dead) return;
    this.#dead = true;
    const pool = this.#pool;
    pool._log.info(`Connection #${this.id} was dropped by the server (${describeError(error)})`);
    if (!this.inUse && this.#connecting === null) {
      void this.#closeConnection(conn, true);
      pool._idleConnectionLost(this);
    }
  }

  /**
   * Invalidate the driver connection. Hard (default): close it now and leave the record empty.
   * Soft: keep using it, replace it at its next checkout.
   */
  async invalidate(error?: unknown, options?: { soft?: boolean }): Promise<void> {
    const conn = this.connection;
    if (conn === null) return;
    const soft = options?.soft === true;
    const pool = this.#pool;
    pool._noteInvalidation(this, error, soft);
    // Hard: empty the record before the first await, so nobody (a close() that was not waiting for
    // this invalidate, a waiter) can be handed the connection while it is being closed.
    if (!soft) this.#empty(conn);
    try {
      await emit(soft ? pool._events.lists.softInvalidate : pool._events.lists.invalidate, conn, this, error);
    } catch (listenerError) {
      pool._log.error(`${soft ? 'softInvalidate' : 'invalidate'} listener failed`, listenerError);
    }
    const reason = error === undefined ? '' : ` (reason: ${describeError(error)})`;
    pool._log.info(`${soft ? 'Soft invalidate' : 'Invalidate'} connection #${this.id}${reason}`);
    if (soft) this.#softInvalidated = true;
    else await this.#closeConnection(conn, true);
  }

  #empty(conn: C): void {
    if (this.connection === conn) {
      this.connection = null;
      const counters = this.#pool._counters;
      counters.open--;
      if (this.#checkouts !== 0) counters.used--;
    }
    this.finalizeCallbacks.length = 0;
    this.#info = null;
  }

  /**
   * Close the driver connection (if any) and keep the record reusable. The connection's socket is
   * ref'd first, so a caller awaiting the close (`await pool.close()`) is not cut short by an
   * idle connection's unref'd socket.
   */
  close(): Promise<void> {
    this._setRef(true);
    return this._closeConnection(false);
  }

  /** @internal Close (or terminate) the current connection, if any; the record stays reusable. */
  _closeConnection(terminate: boolean): Promise<void> {
    const conn = this.connection;
    return conn === null ? Promise.resolve() : this.#closeConnection(conn, terminate);
  }

  /** Empties the record first, so no one can take the connection while it closes. */
  async #closeConnection(conn: C, terminate: boolean): Promise<void> {
    this.#empty(conn);
    const pool = this.#pool;
    pool._log.debug(`Closing connection #${this.id}`);
    try {
      await emit(pool._events.lists.close, conn, this);
    } catch (listenerError) {
      pool._log.error('close listener failed', listenerError);
    }
    await pool._closeDriverConnection(conn, terminate);
  }

  /**
   * Give the record back to the pool: run the finalize callbacks, emit `checkin`, then let the pool
   * decide where the record goes. A second checkin warns "Double checkin attempted" and does nothing.
   */
  checkin(): void | Promise<void> {
    const conn = this.connection;
    // The common case, kept short so that V8 inlines it into the return path.
    if (this.#checkouts === 1 && conn !== null && this.finalizeCallbacks.length === 0) {
      this.#checkouts = 0;
      const pool = this.#pool;
      pool._counters.used--;
      if (pool._stampReturns) this.#lastReturned = monotonicNow();
      return pool._checkinRecord(this, conn);
    }
    return this.#checkinSlow();
  }

  /** `checkin` of a nested or empty checkout, with finalize callbacks, or a double checkin. */
  #checkinSlow(): void | Promise<void> {
    if (this.#checkouts === 0) {
      this.#pool._log.warn(`Double checkin attempted on connection #${this.id}`);
      return;
    }
    const conn = this.connection;
    const pool = this.#pool;
    if (--this.#checkouts === 0 && conn !== null) {
      pool._counters.used--;
      if (pool._stampReturns) this.#lastReturned = monotonicNow();
    }
    const callbacks = this.finalizeCallbacks;
    if (conn !== null) {
      while (callbacks.length !== 0) {
        const callback = callbacks.pop() as (conn: C) => void;
        try {
          callback(conn);
        } catch (error) {
          this.#pool._log.error(`finalize callback failed on connection #${this.id}`, error);
        }
      }
    } else callbacks.length = 0;
    return pool._checkinRecord(this, conn);
  }

  /** @internal The pool hands this record to a checkout. */
  _checkedOut(): void {
    if (this.#checkouts++ === 0 && this.connection !== null) this.#pool._counters.used++;
  }

  /** @internal Let the connection's socket keep the process alive, or not (`allowExitOnIdle`). */
  _setRef(on: boolean): void {
    const conn = this.connection;
    if (this.#refd === on || conn === null) return;
    this.#refd = on;
    const dialect = this.#pool._dialect;
    try {
      if (on) dialect.ref?.(conn);
      else dialect.unref?.(conn);
    } catch (error) {
      this.#pool._log.error(`${on ? 'ref' : 'unref'} failed on connection #${this.id}`, error);
    }
  }

  /** @internal The current connection was handed to a caller (a use, for `maxUses`). */
  _noteUse(): void {
    this.#uses++;
  }

  /** @internal Whether the slot ever held a connection that passed its `connect` listeners. */
  get _established(): boolean {
    return this.#established;
  }

  /** @internal Monotonic time the current connection last came back (or was opened in the background). */
  get _lastReturned(): number {
    return this.#lastReturned;
  }

  /** @internal The last use or keep-alive ping, whichever is later. */
  get _lastActive(): number {
    return Math.max(this.#lastReturned, this.#lastPinged);
  }

  /** @internal A keep-alive ping succeeded at `now`. */
  _pinged(now: number): void {
    this.#lastPinged = now;
  }

  /** @internal When background recycle retires the current connection. */
  get _retireAt(): number {
    return this.#retireAt;
  }

  /** @internal Close the connection from background maintenance: no ref first, so it never holds the process. */
  _closeInBackground(terminate: boolean): Promise<void> {
    return this._closeConnection(terminate);
  }

  /** @internal Whether the current connection was opened during this checkout (clears the mark). */
  _takeFresh(): boolean {
    const fresh = this.#fresh;
    this.#fresh = false;
    return fresh;
  }

  /** @internal A detach takes the driver connection away: the record becomes empty without closing it. */
  _release(): void {
    if (this.connection !== null) this.#empty(this.connection);
  }
}
