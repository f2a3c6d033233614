import type { Awaitable } from './awaitable.js';
import { andThen, isPromise, RESOLVED } from './awaitable.js';
import { ConnectionRecord } from './connection-record.js';
import type { ContextStore } from './context.js';
import { currentStore, runDetached, runInNewScope, scopeStore } from './context.js';
import type { Dialect } from './dialect.js';
import { defaultDialect } from './dialect.js';
import { DisconnectionError, InvalidatePoolError, InvalidRequestError, PoolClosedError } from './errors.js';
import type { PoolEventName, PoolEvents, ResetState } from './events.js';
import { emit, EventHub, POOL_EVENT_NAMES } from './events.js';
import type { AbandonedCheckout } from './leak-guard.js';
import { LeakGuard } from './leak-guard.js';
import { MAX_TIMER_MS } from './waiter-queue.js';
import { describeError, PoolLog } from './logging.js';
import type { PoolOptions, ResolvedPoolOptions } from './options.js';
import { invalid, resolvePoolOptions } from './options.js';
import type { ResetAgent } from './pooled-connection.js';
import { PooledConnection } from './pooled-connection.js';

export interface ConnectOptions {
  /** Abort the checkout: a queued caller leaves the queue at once; a late connection goes back to the pool. */
  signal?: AbortSignal;
}

export interface CloseOptions {
  /** How long `close()` waits for checked-out connections to come back (ms). Default: until they do. */
  timeout?: number;
}

const RESET: ResetState = Object.freeze({ terminateOnly: false });
const TERMINATE_ONLY: ResetState = Object.freeze({ terminateOnly: true });
/** A checkout listener may throw DisconnectionError this many times; each time the connection is replaced. */
const MAX_CHECKOUT_REPLACEMENTS = 2;
let nextPoolId = 1;

/**
 * The abstract pool (SPEC sections 2–4). A strategy subclass decides *which* record a checkout gets
 * (`_doGet`) and where a returned record goes (`_doReturn`); everything else — connecting, pre-ping,
 * checkout listeners, reset on return, invalidation, the garbage-collection safety net — lives here,
 * and every way a connection comes back runs through one return path (`_returnPooled` →
 * `ConnectionRecord.checkin` → `_checkinRecord` → `_doReturn`), so the accounting is right by
 * construction.
 */
export abstract class Pool<C> {
  readonly loggingName: string;
  /** @internal */ readonly _options: ResolvedPoolOptions;
  /** @internal */ readonly _dialect: Dialect<C>;
  /** @internal */ readonly _events = new EventHub();
  /** @internal */ readonly _log: PoolLog;
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
    this.#givenOptions = options;
    this.#creator = options.creator;
    this._dialect = options.dialect ?? defaultDialect;
    this.loggingName = options.loggingName ?? `${new.target.name}@${(nextPoolId++).toString(36)}`;
    this._log = new PoolLog(this.loggingName, options.logger ?? console, this._options.echo);
    this.#contextLocal = this._options.useContextLocal || this._alwaysContextLocal();
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
  }

  // ---------------------------------------------------------------- strategy hooks

  /**
   * Pick a record for a checkout: an idle one or a new one; or queue the caller and return the
   * promise of its checkout, which a later return fulfils with `_checkoutRecord(record)` (one
   * promise hop per waiter). May throw (timeout, assertion).
   */
  protected abstract _doGet(signal: AbortSignal | null): ConnectionRecord<C> | Promise<PooledConnection<C>>;
  /** A record came back (its connection live, or empty): keep it, hand it to a waiter, or drop it. */
  protected abstract _doReturn(record: ConnectionRecord<C>): void | Promise<void>;
  /** Close and forget every idle record. */
  protected abstract _disposeIdle(): Promise<void>;
  /** One line describing the pool's state. */
  abstract status(): string;

  /** Reject queued callers (the pool was closed). Pools with a queue override it. */
  protected _rejectWaiters(_error: Error): void {
    // No queue in this pool class.
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
    if (options === undefined && !this.#contextLocal) return this.#checkout(null);
    if (this.#closed) return Promise.reject(this.#closedError());
    let signal: AbortSignal | null;
    try {
      signal = signalOf(options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#contextLocal) return this.#contextLocalCheckout(signal);
    return this.#checkout(signal);
  }

  /** A checkout that ignores the context-local connection. */
  uniqueConnection(options?: ConnectOptions): Promise<PooledConnection<C>> {
    let signal: AbortSignal | null;
    try {
      signal = signalOf(options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#checkout(signal);
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
    if (connection?.isValid === true && !connection.isClosed) await connection.invalidate(error);
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
   * Shut the pool down: new checkouts fail with `PoolClosedError` at once, queued callers are
   * rejected, idle connections are closed, and the returned promise settles when every checked-out
   * connection has come back and been closed (or after `timeout`, with a warning naming how many are out).
   */
  async close(options?: CloseOptions): Promise<void> {
    const timeout = options?.timeout ?? Infinity;
    if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) throw invalid('timeout', 'a duration in ms >= 0', timeout);
    if (!this.#closed) {
      this.#closed = true;
      this._rejectWaiters(this.#closedError());
    }
    await this.dispose();
    if (this.#outstanding > 0) {
      let timer: NodeJS.Timeout | undefined;
      const drained = new Promise<boolean>((resolve) => {
        this.#drainedListeners.push(() => { resolve(true); });
        // Past setTimeout's range (about 24.8 days) the wait is as good as unbounded.
        if (timeout < MAX_TIMER_MS) timer = setTimeout(() => { resolve(false); }, timeout);
      });
      const complete = await drained;
      clearTimeout(timer);
      if (!complete) this._log.warn(`close() timed out after ${timeout}ms with ${this.#outstanding} connection(s) still checked out; they are closed when they come back`);
      await this._disposeIdle();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
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

  #checkout(signal: AbortSignal | null): Promise<PooledConnection<C>> {
    if (this.#closed) return Promise.reject(this.#closedError());
    if (signal !== null) return this.#checkoutWithSignal(signal);
    try {
      const result = this.#checkoutNow(null);
      return isPromise(result) ? result : Promise.resolve(result);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #checkoutNow(signal: AbortSignal | null): Awaitable<PooledConnection<C>> {
    const got = this._doGet(signal);
    return got instanceof ConnectionRecord ? this._checkoutRecord(got) : got;
  }

  /** The caller may give up at any time; a connection that arrives after that goes straight back. */
  #checkoutWithSignal(signal: AbortSignal): Promise<PooledConnection<C>> {
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      let settled = false;
      const onAbort = (): void => {
        if (settled) return;
        settled = true;
        reject(signal.reason as Error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const done = (): void => { signal.removeEventListener('abort', onAbort); };
      let result: Awaitable<PooledConnection<C>>;
      try {
        result = this.#checkoutNow(signal);
      } catch (error) {
        done();
        reject(error);
        return;
      }
      Promise.resolve(result).then(
        (pooled) => {
          done();
          if (settled) void pooled.close();
          else {
            settled = true;
            resolve(pooled);
          }
        },
        (error: unknown) => {
          done();
          if (!settled) {
            settled = true;
            reject(error);
          }
        },
      );
    });
  }

  #contextLocalCheckout(signal: AbortSignal | null): Promise<PooledConnection<C>> {
    // Outside any scope, unrelated callers must not share a checkout (and its transaction);
    // SingletonContextPool alone gives code outside a scope one shared root context, as SPEC says.
    const scoped = scopeStore();
    if (scoped === undefined && !this._alwaysContextLocal()) return this.#checkout(signal);
    const store = scoped ?? this.#rootStore;
    const existing = store.get(this) as Promise<PooledConnection<C>> | undefined;
    if (existing !== undefined) {
      return existing.then(
        (pooled) => (pooled._reenter() ? pooled : this.#contextLocalCheckout(signal)),
        () => this.#contextLocalCheckout(signal),
      );
    }
    const checkout = this.#checkout(signal);
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
    this.#outstanding++;
    if (justReturned && record.connection !== null) return this.#lend(record, record.connection);
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
   * it) goes back through the return path, releasing its capacity.
   */
  async #checkoutFailed(record: ConnectionRecord<C>, error: unknown): Promise<never> {
    await record.checkin();
    throw error;
  }

  #lend(record: ConnectionRecord<C>, conn: C): Awaitable<PooledConnection<C>> {
    const pooled = new PooledConnection(this, record, conn);
    this.#leakGuard.track(pooled);
    const fresh = record._takeFresh();
    if (this._log.debugEnabled) this._log.debug(`Connection #${record.id} checked out from pool`);
    if (this._options.leakTracking) pooled._stack = new Error('checked out here').stack;
    if (this._options.prePing || this._events.lists.checkout.length !== 0) {
      // Synchronous when the ping and the listeners are: each await here would cost ~100 ns.
      let first: Awaitable<void>;
      try {
        first = this.#runCheckoutHooks(pooled, record, conn, fresh);
      } catch (error) {
        return this.#retryCheckoutHooks(pooled, record, conn, Promise.reject(error));
      }
      if (isPromise(first)) return this.#retryCheckoutHooks(pooled, record, conn, first);
    }
    return pooled;
  }

  /** One round of the checkout hooks: pre-ping (unless the connection is fresh), then the `checkout` listeners. */
  #runCheckoutHooks(pooled: PooledConnection<C>, record: ConnectionRecord<C>, conn: C, fresh: boolean): Awaitable<void> {
    const listeners = this._events.lists.checkout;
    if (this._options.prePing && !fresh) {
      const pinged = this.#ping(conn, record);
      if (isPromise(pinged)) return listeners.length === 0 ? pinged : pinged.then(() => emit(listeners, conn, record, pooled));
    }
    return listeners.length === 0 ? undefined : emit(listeners, conn, record, pooled);
  }

  /**
   * The checkout hooks' outcome, awaited. Either hook may declare the connection dead
   * (`DisconnectionError`): it is replaced and the hooks run again on the new one, at most twice;
   * a connection opened during this checkout is never pinged.
   */
  async #retryCheckoutHooks(pooled: PooledConnection<C>, record: ConnectionRecord<C>, conn: C, attempt: Promise<void>): Promise<PooledConnection<C>> {
    for (let replacements = 0; ; replacements++) {
      try {
        await attempt;
        return pooled;
      } catch (error) {
        if (!(error instanceof DisconnectionError)) {
          await this._returnPooled(pooled);
          throw error;
        }
        if (replacements === MAX_CHECKOUT_REPLACEMENTS) {
          this._log.info('Reconnection attempts exhausted on checkout');
          await pooled.invalidate(error);
          throw new InvalidRequestError('This connection is closed: it was replaced twice on checkout and is still reported disconnected', { cause: error });
        }
        if (error.invalidatePool) {
          this._log.info(`Disconnection detected on checkout, invalidating all pooled connections opened before now (reason: ${describeError(error)})`);
          const condemnsPool = record.generation >= this._generation;
          await record.invalidate(error);
          if (condemnsPool) this._generation++;
        } else {
          this._log.info(`Disconnection detected on checkout, invalidating connection #${record.id} (reason: ${describeError(error)})`);
          await record.invalidate(error);
        }
        try {
          conn = await record.getConnection();
        } catch (connectError) {
          pooled._replaceConnection(null); // the old connection is already closed: nothing to reset
          await this._returnPooled(pooled);
          throw connectError;
        }
        pooled._replaceConnection(conn);
        try {
          attempt = Promise.resolve(this.#runCheckoutHooks(pooled, record, conn, record._takeFresh()));
        } catch (hookError) {
          attempt = Promise.reject(hookError);
        }
      }
    }
  }

  /** Dead (false, or a disconnect error) → InvalidatePoolError; any other error → replace just this one. */
  #ping(conn: C, record: ConnectionRecord<C>): Awaitable<void> {
    if (this._log.debugEnabled) this._log.debug(`Pool pre-ping on connection #${record.id}`);
    let alive: boolean | Promise<boolean>;
    try {
      alive = (this._dialect.ping as (conn: C) => boolean | Promise<boolean>).call(this._dialect, conn);
    } catch (error) {
      throw this.#pingError(conn, record, error);
    }
    if (isPromise(alive)) {
      return alive.then(
        (ok) => { if (!ok) throw new InvalidatePoolError(`Pre-ping failed on connection #${record.id}`); },
        (error: unknown) => { throw this.#pingError(conn, record, error); },
      );
    }
    if (!alive) throw new InvalidatePoolError(`Pre-ping failed on connection #${record.id}`);
  }

  #pingError(conn: C, record: ConnectionRecord<C>, error: unknown): DisconnectionError {
    const isDisconnect = this._dialect.isDisconnect?.call(this._dialect, error, conn) ?? true;
    const message = `Pre-ping failed on connection #${record.id}`;
    return isDisconnect ? new InvalidatePoolError(message, { cause: error }) : new DisconnectionError(message, { cause: error });
  }

  // ---------------------------------------------------------------- the return path

  /** @internal The outermost close of a checkout, a hard invalidation, or a failed checkout hook. */
  _returnPooled(pooled: PooledConnection<C>): Promise<void> {
    const record = pooled.record;
    const conn = pooled._connection;
    const agent = pooled.resetAgent;
    this.#leakGuard.release(pooled);
    pooled._markReturned();
    const done = this.#finalize(record, conn, agent);
    return isPromise(done) ? done : RESOLVED;
  }

  /**
   * Reset a live connection, then check the record in (or, detached, close the connection for
   * real). A connection the server already dropped is not reset (it would only fail); the record
   * goes back and `#putBack` terminates it.
   */
  #finalize(record: ConnectionRecord<C> | null, conn: C | null, agent: ResetAgent | null): Awaitable<void> {
    // Skip the reset when the record no longer holds `conn` (a StaticPool checkout whose shared
    // connection was replaced meanwhile): that connection is closed, and the new one is not ours.
    if (conn !== null && (record === null || (!record._dead && record.connection === conn))) {
      const reset = this.#reset(conn, record, agent);
      if (isPromise(reset)) return reset.then(() => this.#afterReset(record, conn));
    }
    return this.#afterReset(record, conn);
  }

  #afterReset(record: ConnectionRecord<C> | null, conn: C | null): Awaitable<void> {
    if (record !== null) return record.checkin();
    return conn === null ? undefined : this._closeDetached(conn, false);
  }

  /** Never throws: a failed reset is logged and invalidates the connection. */
  #reset(conn: C, record: ConnectionRecord<C> | null, agent: ResetAgent | null): Awaitable<void> {
    const listeners = this._events.lists.reset;
    if (listeners.length === 0 && this.#resetByDialect === null) return;
    try {
      const result = listeners.length === 0
        ? this.#resetConnection(conn, record, agent)
        : andThen(emit(listeners, conn, record, RESET), () => this.#resetConnection(conn, record, agent));
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
    return reset(conn);
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
    if (this._log.debugEnabled) this._log.debug(`Connection #${record.id} being returned to pool`);
    const listeners = this._events.lists.checkin;
    if (listeners.length !== 0) {
      const emitted = emitSafely(this._log, 'checkin', listeners, conn, record);
      if (isPromise(emitted)) return emitted.then(() => this.#putBack(record));
    }
    return this.#putBack(record);
  }

  /** A connection nobody may use again (stale, dead, disposed) is closed now instead of kept idle. */
  #putBack(record: ConnectionRecord<C>): Awaitable<void> {
    let done: Awaitable<void>;
    if (record.connection !== null && !record.inUse && record.isStale()) {
      this._log.info(`Connection #${record.id} closed on return: ${record.staleReason() ?? 'stale'}`);
      done = record._closeConnection(record._dead).then(() => this._doReturn(record));
    } else done = this._doReturn(record);
    if (this.#outstanding === 0 && this.#drainedListeners.length !== 0) {
      const notify = (): void => {
        const listeners = this.#drainedListeners;
        this.#drainedListeners = [];
        for (const listener of listeners) listener();
      };
      if (isPromise(done)) return done.then(notify);
      notify();
    }
    return done;
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
    const { record, stack } = checkout;
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

  /** @internal Open a driver connection, outside any caller's async context. */
  async _invokeCreator(record: ConnectionRecord<C>): Promise<C> {
    let conn: C;
    try {
      conn = await runDetached(() => this.#creator(record));
    } catch (error) {
      this.#lastConnectError = error;
      this._log.debug(`Error on connect(): ${describeError(error)}`);
      throw error;
    }
    if (conn === null || conn === undefined) {
      throw new InvalidRequestError(`The pool's creator returned ${String(conn)}; it must return a driver connection`);
    }
    this.#lastConnectError = undefined;
    return conn;
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
    const dialect = this._dialect;
    try {
      await (terminate && dialect.terminate !== undefined ? dialect.terminate(conn) : dialect.close(conn));
    } catch (error) {
      this._log.error(`Exception ${terminate ? 'terminating' : 'closing'} connection`, error);
    }
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
