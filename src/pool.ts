import type { Awaitable } from './awaitable.js';
import { andThen, isPromise, RESOLVED } from './awaitable.js';
import { retryCheckoutHooks, runCheckoutHooks } from './checkout-hooks.js';
import type { CallerContext } from './checkout-watch.js';
import { callerContext, startWaiting, watchDelivery, watchReturn } from './checkout-watch.js';
import { monotonicNow } from './clock.js';
import { ConnectionRecord } from './connection-record.js';
import type { ContextStore } from './context.js';
import { currentStore, runDetached, runInNewScope, scopeStore } from './context.js';
import { MAX_TIMER_MS, withDeadline } from './deadline.js';
import type { Dialect } from './dialect.js';
import { defaultDialect } from './dialect.js';
import { ConnectTimeoutError, DisconnectionError, InvalidRequestError, PoolClosedError } from './errors.js';
import type { PoolEventName, PoolEvents, ResetState } from './events.js';
import { emit, EventHub, POOL_EVENT_NAMES } from './events.js';
import type { AbandonedCheckout } from './leak-guard.js';
import { LeakGuard } from './leak-guard.js';
import { describeError, PoolLog } from './logging.js';
import type { PoolObserver } from './observe.js';
import { connectChannel, invalidateChannel, timeoutChannel, watchPool } from './observe.js';
import type { PoolOptions, ResolvedPoolOptions } from './options.js';
import { checkClassOptions, invalid, resolvePoolOptions } from './options.js';
import type { PoolLimits, PoolStats } from './pool-stats.js';
import { PoolCounters } from './pool-stats.js';
import type { ResetAgent } from './pooled-connection.js';
import { PooledConnection } from './pooled-connection.js';

export interface ConnectOptions {
  /** Abort the checkout: a queued caller leaves the queue at once; a late connection goes back to the pool. */
  signal?: AbortSignal;
}

export interface CloseOptions {
  /**
   * How long `close()` waits for checked-out connections to come back (ms); then they are
   * terminated and their checkouts become dead. Default: until they come back.
   */
  timeout?: number;
}

const RESET: ResetState = Object.freeze({ terminateOnly: false });
const TERMINATE_ONLY: ResetState = Object.freeze({ terminateOnly: true });
let nextPoolId = 1;

/** A rollback that answered after its deadline: the connection is already being invalidated. */
function ignoreLate(): void {
  // nothing to do
}

/**
 * The abstract pool (SPEC sections 2–4, 11, 12). A strategy subclass decides *which* record a
 * checkout gets (`_doGet`) and where a returned record goes (`_doReturn`); everything else —
 * connecting, pre-ping, checkout listeners, deadlines, reset on return, invalidation, the
 * garbage-collection safety net, the counters behind `stats()` — lives here, and every way a
 * connection comes back runs through one return path (`_returnPooled` → `ConnectionRecord.checkin`
 * → `_checkinRecord` → `_doReturn`), so the accounting is right by construction.
 */
export abstract class Pool<C> {
  readonly loggingName: string;
  /** @internal */ readonly _options: ResolvedPoolOptions;
  /** @internal */ readonly _dialect: Dialect<C>;
  /** @internal */ readonly _events = new EventHub();
  /** @internal */ readonly _log: PoolLog;
  /** @internal The counters behind `stats()`. */
  readonly _counters = new PoolCounters();
  /** @internal Observers attached by `lifeguard/otel`; empty unless instrumented. */
  _observers: readonly PoolObserver<C>[] = [];
  /** @internal Records stamp the time a connection comes back (bypass window, idle timeout, keep-alive). */
  _stampReturns: boolean;
  /** @internal Every checkout records where `connect()` was called (`leakTracking`, `leakDetectionThreshold`). */
  readonly _tracksOrigin: boolean;
  /**
   * @internal Every checkout carries a caller context: `_tracksOrigin`, observers attached, or a
   * subscriber on the timed channels (one flag for the hot path, kept current by `observe.ts`).
   */
  _watched = false;
  /**
   * @internal Pool-wide invalidation counter. A connection opened under an older generation is
   * replaced at its next checkout; comparing counters, unlike timestamps, cannot be fooled by a clock.
   */
  _generation = 0;

  readonly #creator: PoolOptions<C>['creator'];
  readonly #givenOptions: PoolOptions<C>;
  readonly #contextLocal: boolean;
  readonly #rootStore: ContextStore = new Map();
  readonly #leakGuard: LeakGuard<C>;
  /** Idle connections are unref'd: `allowExitOnIdle` and a dialect that can. */
  readonly #unrefsIdle: boolean;
  #firstConnectDone = false;
  #firstConnectRunning: Promise<void> | null = null;
  #lastConnectError: unknown = undefined;
  #closed = false;
  /** The dialect's rollback or commit, chosen once from `resetOnReturn`; null for 'none'. */
  readonly #resetByDialect: ((conn: C) => void | Promise<void>) | null;
  /** Checkouts handed a record and not yet checked in. */
  #outstanding = 0;
  #drainedListeners: (() => void)[] = [];

  constructor(options: PoolOptions<C>) {
    this._options = resolvePoolOptions(options);
    const classOptions = (new.target as unknown as { classOptions?: readonly string[] }).classOptions ?? [];
    checkClassOptions(new.target.name, options, classOptions);
    this.#givenOptions = options;
    this.#creator = options.creator;
    this._dialect = options.dialect ?? defaultDialect;
    this.loggingName = options.loggingName ?? `${new.target.name}@${(nextPoolId++).toString(36)}`;
    this._log = new PoolLog(this.loggingName, options.logger ?? console, this._options.echo);
    this.#contextLocal = this._options.useContextLocal || this._alwaysContextLocal();
    this._tracksOrigin = this._options.leakTracking || this._options.leakDetectionThreshold > 0;
    this._stampReturns = this._options.prePingBypass > 0;
    this.#unrefsIdle = this._options.allowExitOnIdle && typeof this._dialect.unref === 'function';
    const dialect = this._dialect;
    const mode = this._options.resetOnReturn;
    this.#resetByDialect = mode === 'none' ? null : mode === 'rollback' ? (conn) => dialect.rollback(conn) : (conn) => dialect.commit(conn);
    this.#leakGuard = new LeakGuard((checkout) => { this.#reclaim(checkout); });
    for (const [name, listener] of options.events ?? []) this.on(name, listener);
    for (const listener of options.listeners ?? []) {
      for (const name of ['connect', 'firstConnect', 'checkout', 'checkin'] as const) {
        const method = listener[name];
        if (method !== undefined) this.on(name, method.bind(listener));
      }
    }
    watchPool(this);
  }

  // ---------------------------------------------------------------- strategy hooks

  /**
   * Pick a record for a checkout: an idle one or a new one; or queue the caller and return the
   * promise of its checkout, which a later return fulfils with `_checkoutRecord(record)` (one
   * promise hop per waiter). May throw (timeout, assertion).
   */
  protected abstract _doGet(signal: AbortSignal | null, context: CallerContext | null): ConnectionRecord<C> | Promise<PooledConnection<C>>;
  /** A record came back (its connection live, or empty): keep it, hand it to a waiter, or drop it. */
  protected abstract _doReturn(record: ConnectionRecord<C>): void | Promise<void>;
  /** Close and forget every idle record. */
  protected abstract _disposeIdle(): Promise<void>;
  /** Every record that may be checked out now (for `close({ timeout })`). */
  protected abstract _records(): Iterable<ConnectionRecord<C>>;
  /** The limits `stats()` reports. */
  protected abstract _limits(): PoolLimits;
  /** One line describing the pool's state. */
  abstract status(): string;

  /** Reject queued callers (the pool was closed). Pools with a queue override it. */
  protected _rejectWaiters(_error: Error): void {
    // No queue in this pool class.
  }

  /** Callers queued for a connection. */
  protected _waiting(): number {
    return 0;
  }

  /** ms a caller's checkout may still take once it has a slot; only QueuePool has a `timeout`. */
  protected _checkoutTimeout(): number {
    return Infinity;
  }

  /** The error of a caller whose checkout outlived `_checkoutTimeout()` (only reached when that is finite). */
  protected _checkoutTimeoutError(): Error {
    return new InvalidRequestError('checkout timed out');
  }

  /** Stop background work (`close()`). */
  protected _stopMaintenance(): void {
    // No background work in this pool class.
  }

  /** Resolves once background work under way (connects, pings, closes) has settled (`close()`). */
  protected _settleBackground(): Promise<void> {
    return RESOLVED;
  }

  /** @internal An idle connection was dropped by the server and closed: the pool may replace it. */
  _idleConnectionLost(_record: ConnectionRecord<C>): void {
    // Nothing to do unless the pool keeps connections open in the background.
  }

  /** `SingletonContextPool` reuses the context's checkout whatever `useContextLocal` says. */
  protected _alwaysContextLocal(): boolean {
    return false;
  }

  /** The store of the current `scope()` (or the pool's root store outside any scope). */
  protected _currentContext(): ContextStore {
    return currentStore(this.#rootStore);
  }

  /** A new, empty record of this pool. */
  protected _newRecord(): ConnectionRecord<C> {
    return new ConnectionRecord(this);
  }

  // ---------------------------------------------------------------- public API

  /** Whether `close()` was called: the pool accepts no more checkouts. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Check a connection out. Close the result when done. With `useContextLocal`, a second call in the
   * same `scope()` returns the same checkout (nesting counted).
   */
  connect(options?: ConnectOptions): Promise<PooledConnection<C>> {
    if (options === undefined && !this.#contextLocal) return this.#checkout(null, callerContext(this));
    return this.#connectWith(options);
  }

  /** `connect()` with options, or with `useContextLocal`. */
  #connectWith(options: ConnectOptions | undefined): Promise<PooledConnection<C>> {
    if (this.#closed) return Promise.reject(this.#closedError());
    let signal: AbortSignal | null;
    try {
      signal = signalOf(options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#contextLocal) return this.#contextLocalCheckout(signal, callerContext(this));
    return this.#checkout(signal, callerContext(this));
  }

  /** A checkout that ignores the context-local connection. */
  uniqueConnection(options?: ConnectOptions): Promise<PooledConnection<C>> {
    let signal: AbortSignal | null;
    try {
      signal = signalOf(options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#checkout(signal, callerContext(this));
  }

  /** Run `fn` in a fresh async context: the "thread" of `useContextLocal` and `SingletonContextPool`. */
  scope<T>(fn: () => Promise<T>): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(invalid('fn', 'a function', fn));
    return runInNewScope(fn);
  }

  /**
   * Every connection opened before now is replaced at its next checkout (SQLAlchemy's
   * `Pool._invalidate`). If `connection` is given and still valid, it is invalidated too. An error
   * reported on a connection older than the last invalidation does not invalidate the pool again:
   * it is one of the connections that invalidation already condemned.
   */
  async invalidate(connection?: PooledConnection<C>, error?: unknown): Promise<void> {
    if (connection !== undefined && !(connection instanceof PooledConnection)) throw invalid('connection', 'a PooledConnection', connection);
    const record = connection?.record ?? null;
    if (record === null || record.generation >= this._generation) {
      this._generation++;
      const reason = error === undefined ? '' : ` (reason: ${describeError(error)})`;
      this._log.info(`Pool invalidated${reason}: connections opened before now are replaced at their next checkout`);
    }
    if (connection?.isValid === true) await connection.invalidate(error);
  }

  /**
   * Close every idle connection now; checked-out ones are closed when they come back. The pool stays
   * usable and its counts exact: new checkouts open new connections.
   */
  async dispose(): Promise<void> {
    this._generation++;
    await this._disposeIdle();
    this._log.info(`Pool disposed. ${this.status()}`);
  }

  /**
   * Open connections now, for failing fast at start-up: rejects with the connect error when the
   * database cannot be reached. QueuePool opens until `minIdle` connections are idle (one if
   * `minIdle` is 0); the other classes check one connection out and back in.
   */
  async warmUp(): Promise<void> {
    if (this.#closed) throw this.#closedError();
    const pooled = await this.uniqueConnection();
    await pooled.close();
  }

  /**
   * Shut the pool down: new checkouts fail with `PoolClosedError` at once, queued callers are
   * rejected, background work stops, idle connections are closed, and the returned promise settles
   * when every checked-out connection has come back and been closed. With `timeout`, connections
   * still checked out then are terminated (the `close` event fires for each) and their checkouts
   * become dead: reading `connection` throws.
   */
  async close(options?: CloseOptions): Promise<void> {
    const given: unknown = options;
    if (given !== undefined && (typeof given !== 'object' || given === null)) throw invalid('options', 'an options object ({ timeout })', given);
    const timeout = options?.timeout ?? Infinity;
    if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) throw invalid('timeout', 'a duration in ms >= 0', timeout);
    if (!this.#closed) {
      this.#closed = true;
      this._stopMaintenance();
      this._rejectWaiters(this.#closedError());
    }
    await this.dispose();
    // A background connect or ping that was under way delivers its record after the idle set was
    // closed: the pool, now closed, closes it; wait for that too.
    await this._settleBackground();
    if (this.#outstanding > 0) {
      let timer: NodeJS.Timeout | undefined;
      const drained = new Promise<boolean>((resolve) => {
        this.#drainedListeners.push(() => { resolve(true); });
        // Past setTimeout's range (about 24.8 days) the wait is as good as unbounded.
        if (timeout < MAX_TIMER_MS) timer = setTimeout(() => { resolve(false); }, timeout);
      });
      const complete = await drained;
      clearTimeout(timer);
      if (!complete) await this.#terminateCheckedOut(timeout);
      await this._disposeIdle();
      await this._settleBackground();
    }
  }

  /** `close({ timeout })` ran out: terminate every connection still checked out. */
  async #terminateCheckedOut(timeout: number): Promise<void> {
    const out = [...this._records()].filter((record) => record.inUse && record.connection !== null);
    this._log.warn(`close() timed out after ${timeout}ms with ${this.#outstanding} checkout(s) still out; terminating ${out.length} connection(s)`);
    await Promise.all(out.map((record) => record._closeConnection(true)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** A snapshot of the pool's counts (SPEC section 12); cheap enough to call at any rate. */
  stats(): PoolStats {
    return this._counters.snapshot(this.loggingName, this._limits(), this._waiting());
  }

  /** A new pool of the same class with identical options and listeners. It connects nothing. */
  recreate(): Pool<C> {
    this._log.info('Pool recreating');
    const PoolClass = this.constructor as new (options: PoolOptions<C>) => Pool<C>;
    const pool = new PoolClass({ ...this.#givenOptions, events: undefined, listeners: undefined });
    pool._events.copyFrom(this._events);
    return pool;
  }

  /** Listen to a pool event (SPEC section 7). `prepend` runs this listener before the others. */
  on<K extends PoolEventName>(event: K, listener: PoolEvents<C>[K], options?: { prepend?: boolean }): this {
    this.#checkListener(event, listener);
    this._events.on(event, listener as never, options?.prepend === true);
    return this;
  }

  off<K extends PoolEventName>(event: K, listener: PoolEvents<C>[K]): this {
    this.#checkListener(event, listener);
    this._events.off(event, listener as never);
    return this;
  }

  #checkListener(event: unknown, listener: unknown): void {
    if (typeof event !== 'string' || !(POOL_EVENT_NAMES as readonly string[]).includes(event)) {
      throw invalid('event', `an event name (${POOL_EVENT_NAMES.join(', ')})`, event);
    }
    if (typeof listener !== 'function') throw invalid('listener', 'a function', listener);
  }

  #closedError(): PoolClosedError {
    return new PoolClosedError(`Pool ${this.loggingName} is closed; create a new pool (or call recreate()) to connect again`);
  }

  // ---------------------------------------------------------------- checkout

  #checkout(signal: AbortSignal | null, context: CallerContext | null): Promise<PooledConnection<C>> {
    if (this.#closed || signal?.aborted === true) return this.#refused(signal);
    let got: ConnectionRecord<C> | Promise<PooledConnection<C>>;
    try {
      got = this._doGet(signal, context);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!(got instanceof ConnectionRecord)) return context === null ? got : this.#queued(got, context);
    const result = this._checkoutRecord(got);
    if (isPromise(result)) return this.#checkoutUnderWay(result, context, signal);
    this._delivered(result, context);
    return Promise.resolve(result);
  }

  /** A checkout refused before it started: the pool is closed, or the caller's signal already aborted. */
  #refused(signal: AbortSignal | null): Promise<never> {
    return Promise.reject(this.#closed ? this.#closedError() : ((signal as AbortSignal).reason as Error));
  }

  /** The caller joined the queue: its wait starts now. */
  #queued(waiting: Promise<PooledConnection<C>>, context: CallerContext): Promise<PooledConnection<C>> {
    startWaiting(context);
    return waiting;
  }

  /** The caller's checkout went async (connecting, pinging): it waits under its deadline. Off the hot path. */
  #checkoutUnderWay(result: Promise<PooledConnection<C>>, context: CallerContext | null, signal: AbortSignal | null): Promise<PooledConnection<C>> {
    if (context !== null) startWaiting(context);
    const timeout = this._checkoutTimeout();
    return this._guard(result, context, signal, timeout === Infinity ? Infinity : monotonicNow() + timeout);
  }

  /**
   * @internal A checkout still under way (connecting, pinging, async listeners) on behalf of a
   * caller: the caller is counted as pending until it holds the connection or gives up — at its
   * deadline (`PoolTimeoutError`) or when its signal aborts. A connection that arrives after the
   * caller gave up goes back to the pool (to the next waiter, or idle).
   */
  _guard(result: Promise<PooledConnection<C>>, context: CallerContext | null, signal: AbortSignal | null, deadline: number): Promise<PooledConnection<C>> {
    const counters = this._counters;
    counters.inFlight++;
    return new Promise<PooledConnection<C>>((resolve, reject) => {
      let done = false;
      let timer: NodeJS.Timeout | null = null;
      const finish = (): boolean => {
        if (done) return false;
        done = true;
        counters.inFlight--;
        if (timer !== null) clearTimeout(timer);
        if (signal !== null) signal.removeEventListener('abort', onAbort);
        return true;
      };
      const onAbort = (): void => {
        if (finish()) reject((signal as AbortSignal).reason as Error);
      };
      if (signal !== null) signal.addEventListener('abort', onAbort, { once: true });
      const remaining = deadline - monotonicNow();
      if (remaining < MAX_TIMER_MS) {
        timer = runDetached(() =>
          setTimeout(() => {
            if (finish()) reject(this._checkoutTimeoutError());
          }, Math.max(0, remaining)),
        );
      }
      result.then(
        (pooled) => {
          if (finish()) {
            this._delivered(pooled, context);
            resolve(pooled);
          } else void pooled.close();
        },
        (error: unknown) => {
          if (finish()) reject(error);
        },
      );
    });
  }

  /**
   * @internal What a waiter resolves with when it is handed `value`: the checkout itself when it is
   * ready, else a guard that keeps the waiter's deadline and signal.
   */
  _deliverToWaiter(value: PooledConnection<C> | Promise<PooledConnection<C>>, context: CallerContext | null, signal: AbortSignal | null, deadline: number): PooledConnection<C> | Promise<PooledConnection<C>> {
    if (isPromise(value)) return this._guard(value, context, signal, deadline);
    this._delivered(value, context);
    return value;
  }

  /** @internal A checkout reached its caller. */
  _delivered(pooled: PooledConnection<C>, context: CallerContext | null): void {
    this._counters.checkouts++;
    if (context !== null) watchDelivery(this, pooled, context);
  }

  #contextLocalCheckout(signal: AbortSignal | null, context: CallerContext | null): Promise<PooledConnection<C>> {
    // Outside any scope, unrelated callers must not share a checkout (and its transaction);
    // SingletonContextPool alone gives code outside a scope one shared root context, as SPEC says.
    const scoped = scopeStore();
    if (scoped === undefined && !this._alwaysContextLocal()) return this.#checkout(signal, context);
    const store = scoped ?? this.#rootStore;
    const existing = store.get(this) as Promise<PooledConnection<C>> | undefined;
    if (existing !== undefined) {
      return existing.then(
        (pooled) => (pooled._reenter() ? pooled : this.#contextLocalCheckout(signal, context)),
        () => this.#contextLocalCheckout(signal, context),
      );
    }
    const checkout = this.#checkout(signal, context);
    store.set(this, checkout);
    const forget = (): void => {
      if (store.get(this) === checkout) store.delete(this);
    };
    checkout.then((pooled) => { pooled._setOnReturn(forget); }, forget);
    return checkout;
  }

  /**
   * Lend `record` to a checkout: connect it if needed, then run the checkout hooks. Never throws.
   * `justReturned`: the record's connection passed the staleness check in this same synchronous
   * return (a direct hand-off to a waiter), so it is not checked again.
   */
  protected _checkoutRecord(record: ConnectionRecord<C>, justReturned = false): Awaitable<PooledConnection<C>> {
    record._checkedOut();
    if (this.#unrefsIdle) record._setRef(true);
    this.#outstanding++;
    const live = record.connection;
    if (live !== null && (justReturned || !record.isStale())) return this.#lend(record, live);
    return this.#connectAndLend(record);
  }

  /** The record is empty or its connection stale: (re)connect it, then lend it. */
  #connectAndLend(record: ConnectionRecord<C>): Awaitable<PooledConnection<C>> {
    let conn: C | Promise<C>;
    try {
      conn = record.getConnection();
    } catch (error) {
      return this.#checkoutFailed(record, error);
    }
    if (isPromise(conn)) {
      return conn.then(
        (opened) => this.#lend(record, opened),
        (error: unknown) => this.#checkoutFailed(record, error),
      );
    }
    return this.#lend(record, conn);
  }

  /**
   * Connecting failed: the record (already empty: a failed connect never leaves a connection on
   * it) goes back through the return path, which releases its capacity (a new slot) or keeps the
   * empty slot (an established one, as SQLAlchemy does).
   */
  async #checkoutFailed(record: ConnectionRecord<C>, error: unknown): Promise<never> {
    await record.checkin();
    throw error;
  }

  #lend(record: ConnectionRecord<C>, conn: C): Awaitable<PooledConnection<C>> {
    const pooled = new PooledConnection(this, record, conn);
    this.#leakGuard.track(pooled);
    record._noteUse();
    const fresh = record._takeFresh();
    if (this._log.debugEnabled) this.#logCheckedOut(record);
    if (this._options.prePing || this._events.lists.checkout.length !== 0) return this.#checkoutHooks(pooled, record, conn, fresh);
    return pooled;
  }

  #logCheckedOut(record: ConnectionRecord<C>): void {
    this._log.debug(`Connection #${record.id} checked out from pool`);
  }

  /** Pre-ping and `checkout` listeners: synchronous when both are (each await here would cost ~100 ns). */
  #checkoutHooks(pooled: PooledConnection<C>, record: ConnectionRecord<C>, conn: C, fresh: boolean): Awaitable<PooledConnection<C>> {
    let first: Awaitable<void>;
    try {
      first = runCheckoutHooks(this, pooled, record, conn, fresh);
    } catch (error) {
      return retryCheckoutHooks(this, pooled, record, conn, Promise.reject(error));
    }
    return isPromise(first) ? retryCheckoutHooks(this, pooled, record, conn, first) : pooled;
  }

  // ---------------------------------------------------------------- the return path

  /** @internal The outermost close of a checkout, a hard invalidation, or a failed checkout hook. */
  _returnPooled(pooled: PooledConnection<C>): Promise<void> {
    const record = pooled.record;
    const conn = pooled._connection;
    const agent = pooled._extrasIfAny === null ? null : this.#returnExtras(pooled, record);
    this.#leakGuard.release(pooled);
    pooled._markReturned();
    const done = this.#finalize(record, conn, agent);
    return isPromise(done) ? done : RESOLVED;
  }

  /** A checkout with extras comes back: its watchers stop; returns its reset agent. Off the hot path. */
  #returnExtras(pooled: PooledConnection<C>, record: ConnectionRecord<C> | null): ResetAgent | null {
    const extras = pooled._extras;
    if (extras.checkedOutAt !== 0 || extras.leakTimer !== null) watchReturn(this, pooled, record);
    return extras.resetAgent;
  }

  /**
   * Reset a live connection, then check the record in (or, detached, close the connection for
   * real). A connection the server already dropped is not reset (it would only fail); the record
   * goes back and `#putBack` terminates it.
   */
  #finalize(record: ConnectionRecord<C> | null, conn: C | null, agent: ResetAgent | null): Awaitable<void> {
    // Skip the reset when the record no longer holds `conn` (a StaticPool checkout whose shared
    // connection was replaced meanwhile, or one terminated by close({ timeout })).
    if (conn !== null && (record === null || (!record._dead && record.connection === conn))) {
      const reset = this.#reset(conn, record, agent);
      if (isPromise(reset)) return this.#afterResetSettles(reset, record, conn);
    }
    return this.#afterReset(record, conn);
  }

  /** Kept apart from `#finalize`: a closure there would cost every return a context allocation. */
  #afterResetSettles(reset: Promise<void>, record: ConnectionRecord<C> | null, conn: C): Promise<void> {
    return reset.then(() => this.#afterReset(record, conn));
  }

  #afterReset(record: ConnectionRecord<C> | null, conn: C | null): Awaitable<void> {
    if (record !== null) return record.checkin();
    return conn === null ? undefined : this._closeDetached(conn, false);
  }

  /**
   * Never throws: a failed reset is logged and invalidates the connection. The common case (the
   * dialect's reset alone) is kept short, so that V8 inlines it into the return path.
   */
  #reset(conn: C, record: ConnectionRecord<C> | null, agent: ResetAgent | null): Awaitable<void> {
    const reset = this.#resetByDialect;
    if (agent !== null || this._events.lists.reset.length !== 0 || this._log.debugEnabled) return this.#resetFully(conn, record, agent);
    if (reset === null) return;
    let done: void | Promise<void>;
    try {
      done = reset(conn);
    } catch (error) {
      return this.#resetFailed(record, conn, error);
    }
    return isPromise(done) ? this.#resetSettles(done, conn, record) : undefined;
  }

  /** The dialect's reset answered with a promise: bounded if it is a rollback, failures handled. */
  #resetSettles(done: Promise<void>, conn: C, record: ConnectionRecord<C> | null): Promise<void> {
    const settled = this._options.resetOnReturn === 'rollback' ? this.#boundedRollback(done, record) : done;
    return settled.catch((error: unknown) => this.#resetFailed(record, conn, error));
  }

  /** The reset with `reset` listeners, a reset agent, or debug logging. */
  #resetFully(conn: C, record: ConnectionRecord<C> | null, agent: ResetAgent | null): Awaitable<void> {
    const listeners = this._events.lists.reset;
    if (listeners.length === 0 && this.#resetByDialect === null) return;
    try {
      // A detached connection is closed after its reset, never pooled again (SQLAlchemy 2's terminate_only).
      const state = record === null ? TERMINATE_ONLY : RESET;
      const result = listeners.length === 0
        ? this.#resetConnection(conn, record, agent)
        : andThen(emit(listeners, conn, record, state), () => this.#resetConnection(conn, record, agent));
      if (isPromise(result)) return result.catch((error: unknown) => this.#resetFailed(record, conn, error));
    } catch (error) {
      return this.#resetFailed(record, conn, error);
    }
    return undefined;
  }

  #resetConnection(conn: C, record: ConnectionRecord<C> | null, agent: ResetAgent | null): Awaitable<void> {
    const reset = this.#resetByDialect;
    if (reset === null) return;
    const mode = this._options.resetOnReturn;
    if (this._log.debugEnabled) this._log.debug(`Connection #${record?.id ?? 'detached'} ${mode}-on-return${agent === null ? '' : ', via agent'}`);
    if (agent !== null) return mode === 'rollback' ? agent.rollback() : agent.commit();
    const done = reset(conn);
    return mode === 'rollback' && isPromise(done) ? this.#boundedRollback(done, record) : done;
  }

  /**
   * A rollback on return that does not answer within `pingTimeout` fails: the connection is then
   * invalidated (terminated; the server rolls the transaction back itself) and its slot comes back,
   * instead of waiting forever on a connection that died without the driver noticing. A commit on
   * return is never cut short: whether it happened would be unknown.
   */
  #boundedRollback(done: Promise<void>, record: ConnectionRecord<C> | null): Promise<void> {
    const timeout = this._options.pingTimeout;
    if (timeout === Infinity) return done;
    const which = record === null ? 'a detached connection' : `connection #${record.id}`;
    return withDeadline(done, timeout, () => new DisconnectionError(`The rollback on return of ${which} did not finish within ${timeout}ms (pingTimeout)`), ignoreLate, false);
  }

  /** Invalidates the record only while it still holds `conn` (a StaticPool neighbour may have replaced it meanwhile). */
  #resetFailed(record: ConnectionRecord<C> | null, conn: C, error: unknown): Awaitable<void> {
    this._log.error(`Exception during reset of connection #${record?.id ?? 'detached'}`, error);
    return record?.connection === conn ? record.invalidate(error) : undefined;
  }

  /** @internal Close a detached connection for real: nobody else will. Terminated when it was invalidated. */
  async _closeDetached(conn: C, terminate: boolean): Promise<void> {
    await emitSafely(this._log, 'closeDetached', this._events.lists.closeDetached, conn);
    await this._closeDriverConnection(conn, terminate);
  }

  /** @internal Called by `ConnectionRecord.checkin` once its finalize callbacks ran. */
  _checkinRecord(record: ConnectionRecord<C>, conn: C | null): Awaitable<void> {
    this.#outstanding--;
    if (this._log.debugEnabled || this._events.lists.checkin.length !== 0) return this.#checkinListeners(record, conn);
    return this.#putBack(record);
  }

  /** `_checkinRecord` with debug logging or `checkin` listeners. */
  #checkinListeners(record: ConnectionRecord<C>, conn: C | null): Awaitable<void> {
    if (this._log.debugEnabled) this._log.debug(`Connection #${record.id} being returned to pool`);
    const listeners = this._events.lists.checkin;
    if (listeners.length !== 0) {
      const emitted = emitSafely(this._log, 'checkin', listeners, conn, record);
      if (isPromise(emitted)) return emitted.then(() => this.#putBack(record));
    }
    return this.#putBack(record);
  }

  /**
   * A connection nobody may use again (stale, dead, disposed, past `maxUses`) is closed now instead
   * of kept idle. One that stays idle stops keeping the process alive (`allowExitOnIdle`).
   */
  #putBack(record: ConnectionRecord<C>): Awaitable<void> {
    let done: Awaitable<void>;
    if (record.connection !== null && !record.inUse && record.isStale()) done = this.#closeStale(record);
    else {
      done = this._doReturn(record);
      if (this.#unrefsIdle) this._idled(record);
    }
    if (this.#outstanding === 0 && this.#drainedListeners.length !== 0) return this.#drained(done);
    return done;
  }

  /** A stale connection came back: closed, then its empty slot returns. */
  #closeStale(record: ConnectionRecord<C>): Promise<void> {
    this._log.info(`Connection #${record.id} closed on return: ${record.staleReason() ?? 'stale'}`);
    return record._closeConnection(record._dead).then(() => this._doReturn(record));
  }

  /** The last checkout came back: tell `close()`, once the return is done. */
  #drained(done: Awaitable<void>): Awaitable<void> {
    const notify = (): void => {
      const listeners = this.#drainedListeners;
      this.#drainedListeners = [];
      for (const listener of listeners) listener();
    };
    if (isPromise(done)) return done.then(notify);
    notify();
    return undefined;
  }

  /** @internal A record that stays idle stops keeping the process alive (`allowExitOnIdle`). */
  _idled(record: ConnectionRecord<C>): void {
    if (this.#unrefsIdle && !record.inUse && record.connection !== null) record._setRef(false);
  }

  /** @internal `PooledConnection.detach`: the slot goes back empty; the driver connection is the caller's. */
  _detach(pooled: PooledConnection<C>, record: ConnectionRecord<C>, conn: C | null): void {
    this.#leakGuard.release(pooled);
    record._release();
    const listeners = this._events.lists.detach;
    const emitted = conn === null || listeners.length === 0 ? undefined : emitSafely(this._log, 'detach', listeners, conn, record);
    const done = isPromise(emitted) ? emitted.then(() => record.checkin()) : record.checkin();
    if (isPromise(done)) done.catch((error: unknown) => { this._log.error('detach failed', error); });
  }

  /** A checkout was garbage-collected while out: terminate its connection (it may be mid-transaction) and free the slot. */
  #reclaim(checkout: AbandonedCheckout<C>): void {
    const { record, origin } = checkout;
    const stack = origin?.stack;
    this._log.warn(
      `A checkout of connection #${record.id} was garbage-collected without close(); its connection was terminated and its slot returned. ` +
        `Close every checkout (await pc.close(), or 'await using').${stack === undefined ? ' Set leakTracking: true to log where it was checked out.' : `\nChecked out at: ${stack}`}`,
    );
    this._reclaimAbandoned(record).catch((error: unknown) => { this._log.error('reclaiming an abandoned connection failed', error); });
  }

  /** @internal Overridden by StaticPool, whose one connection is shared and must not be terminated. */
  async _reclaimAbandoned(record: ConnectionRecord<C>): Promise<void> {
    const conn = record.connection;
    if (conn !== null) {
      await emitSafely(this._log, 'reset', this._events.lists.reset, conn, record, TERMINATE_ONLY);
      await record._closeConnection(true);
    }
    await record.checkin();
  }

  // ---------------------------------------------------------------- connecting and closing

  /**
   * @internal Open a driver connection, outside any caller's async context, within
   * `connectTimeout`: an attempt that takes longer is abandoned (`ConnectTimeoutError`) and a
   * connection it delivers later is terminated. `background` connects (`minIdle`) do not keep the
   * process alive with their timer.
   */
  async _invokeCreator(record: ConnectionRecord<C>, background: boolean): Promise<C> {
    const counters = this._counters;
    counters.connecting++;
    const started = monotonicNow();
    let conn: C;
    try {
      const attempt = Promise.resolve(runDetached(() => this.#creator(record)));
      const timeout = this._options.connectTimeout;
      conn = await (timeout === Infinity
        ? attempt
        : withDeadline(attempt, timeout, () => this.#connectTimedOut(timeout), (late) => { this.#terminateLate(late); }, background));
    } catch (error) {
      counters.connecting--;
      counters.connectErrors++;
      this.#lastConnectError = error;
      this._log.debug(`Error on connect(): ${describeError(error)}`);
      throw error;
    }
    counters.connecting--;
    if (conn === null || conn === undefined) {
      counters.connectErrors++;
      throw new InvalidRequestError(`The pool's creator returned ${String(conn)}; it must return a driver connection`);
    }
    counters.created++;
    this.#lastConnectError = undefined;
    const observers = this._observers;
    if (observers.length !== 0 || connectChannel.hasSubscribers) {
      const durationMs = monotonicNow() - started;
      for (const observer of observers) observer.connected?.(record, durationMs);
      if (connectChannel.hasSubscribers) connectChannel.publish({ pool: this, record, durationMs });
    }
    return conn;
  }

  #connectTimedOut(timeout: number): ConnectTimeoutError {
    this._log.info(`A connect attempt was abandoned after ${timeout}ms (connectTimeout)`);
    return new ConnectTimeoutError(`Connect timed out after ${timeout}ms (connectTimeout): the database did not complete the connection in time`, timeout);
  }

  /** A connection that arrived after its connect was abandoned: nobody waits for it. */
  #terminateLate(conn: C): void {
    if (conn === null || conn === undefined) return;
    this._counters.created++;
    // Its error listener first: a socket error during the terminate must not crash the process.
    try {
      this._dialect.onConnect?.(conn, () => undefined);
    } catch {
      /* it is terminated either way */
    }
    this._log.info('A connection arrived after its connect attempt was abandoned (connectTimeout); terminating it');
    void this._closeDriverConnection(conn, true);
  }

  /** @internal The last connect error since the last successful connect (the `cause` of a timeout). */
  get _lastConnectError(): unknown {
    return this.#lastConnectError;
  }

  /** @internal `firstConnect` (once, retried until it succeeds), then `connect` listeners. */
  async _connected(conn: C, record: ConnectionRecord<C>): Promise<void> {
    if (!this.#firstConnectDone) await this.#firstConnect(conn, record);
    const listeners = this._events.lists.connect;
    if (listeners.length !== 0) await emit(listeners, conn, record);
  }

  async #firstConnect(conn: C, record: ConnectionRecord<C>): Promise<void> {
    while (this.#firstConnectRunning !== null) {
      await this.#firstConnectRunning.catch(() => undefined);
      if (this.#firstConnectDone) return;
    }
    if (this.#firstConnectDone) return;
    const running = (async () => {
      await emit(this._events.lists.firstConnect, conn, record);
    })();
    this.#firstConnectRunning = running;
    try {
      await running;
      this.#firstConnectDone = true;
    } finally {
      this.#firstConnectRunning = null;
    }
  }

  /** @internal Close (or terminate) a driver connection; errors are logged and swallowed. */
  async _closeDriverConnection(conn: C, terminate: boolean): Promise<void> {
    this._counters.closed++;
    const dialect = this._dialect;
    try {
      await (terminate && dialect.terminate !== undefined ? dialect.terminate(conn) : dialect.close(conn));
    } catch (error) {
      this._log.error(`Exception ${terminate ? 'terminating' : 'closing'} connection`, error);
    }
  }

  /** @internal A record's connection is being invalidated: count it and tell whoever watches. */
  _noteInvalidation(record: ConnectionRecord<C>, error: unknown, soft: boolean): void {
    this._counters.invalidations++;
    for (const observer of this._observers) observer.invalidated?.(record, error, soft);
    if (invalidateChannel.hasSubscribers) invalidateChannel.publish({ pool: this, record, error, soft });
  }

  /** @internal A `PoolTimeoutError` was raised: count it and tell whoever watches. */
  _noteTimeout(error: Error): void {
    this._counters.timeouts++;
    for (const observer of this._observers) observer.timedOut?.(error);
    if (timeoutChannel.hasSubscribers) timeoutChannel.publish({ pool: this, error });
  }

  /** @internal The number of checkouts handed a record and not yet returned. */
  get _outstanding(): number {
    return this.#outstanding;
  }
}

/** The `signal` of `connect()`'s options; an `ArgumentError` for anything but an options object with an AbortSignal. */
function signalOf(options: ConnectOptions | undefined): AbortSignal | null {
  if (options === undefined) return null;
  const given: unknown = options;
  if (typeof given !== 'object' || given === null) throw invalid('options', 'an options object ({ signal })', given);
  const signal: unknown = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid('signal', 'an AbortSignal', signal);
  return signal ?? null;
}

/** Emit where a listener's failure must not stop the pool: it is logged. */
function emitSafely(log: PoolLog, name: string, list: EventHub['lists'][PoolEventName], a: unknown, b?: unknown, c?: unknown): Awaitable<void> {
  try {
    const result = emit(list, a, b, c);
    if (isPromise(result)) return result.catch((error: unknown) => { log.error(`${name} listener failed`, error); });
  } catch (error) {
    log.error(`${name} listener failed`, error);
  }
  return undefined;
}
