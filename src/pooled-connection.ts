import { RESOLVED } from './awaitable.js';
import type { ConnectionRecord } from './connection-record.js';
import { InvalidRequestError } from './errors.js';
import type { Pool } from './pool.js';

/** Takes over reset-on-return from the dialect, e.g. a transaction object that knows its own state. */
export interface ResetAgent {
  rollback(): void | Promise<void>;
  commit(): void | Promise<void>;
}

interface CheckoutExtras {
  resetAgent: ResetAgent | null;
  /** Where `connect()` was called (`leakTracking`, `leakDetectionThreshold`); its `stack` is read only when reported. */
  origin: Error | undefined;
  detachedInfo: Record<string, unknown> | null;
  /** Clears the context-local slot this checkout occupies, if any. */
  onReturn: (() => void) | null;
  /** `leakDetectionThreshold`: the timer that reports this checkout, and whether it did. */
  leakTimer: NodeJS.Timeout | null;
  leakReported: boolean;
  /** Monotonic time of the checkout, when something measures how long it is held. */
  checkedOutAt: number;
}

/**
 * What `pool.connect()` hands out: one checkout of one driver connection (SQLAlchemy's
 * `_ConnectionFairy`). Close it when done — `await pc.close()` or `await using pc = await pool.connect()`
 * — and it resets the connection and gives the slot back. Once returned it is dead: a new checkout
 * gets a new `PooledConnection`, so a stale reference can never reach someone else's connection.
 *
 * @example
 * const pc = await pool.connect();
 * try {
 *   await pc.connection.query('SELECT 1');
 * } finally {
 *   await pc.close();
 * }
 */
export class PooledConnection<C> {
  /** Where an outstanding checkout sits in the pool's leak guard; see `leak-guard.ts`. @internal */
  _guardSlot = -1;
  /** The leak guard's period this checkout was tracked in. @internal */
  _guardEpoch = 0;

  readonly #pool: Pool<C>;
  #record: ConnectionRecord<C> | null;
  #connection: C | null;
  /** Nested checkouts outstanding (`useContextLocal`); 0 once returned. */
  #nesting = 1;
  /** Rarely used state, allocated on first use: most checkouts never touch it. */
  #extra: CheckoutExtras | null = null;

  constructor(pool: Pool<C>, record: ConnectionRecord<C>, connection: C) {
    this.#pool = pool;
    this.#record = record;
    this.#connection = connection;
  }

  #extras(): CheckoutExtras {
    return (this.#extra ??= {
      resetAgent: null,
      origin: undefined,
      detachedInfo: null,
      onReturn: null,
      leakTimer: null,
      leakReported: false,
      checkedOutAt: 0,
    });
  }

  /** Used for reset-on-return instead of the dialect when set. */
  get resetAgent(): ResetAgent | null {
    return this.#extra === null ? null : this.#extra.resetAgent;
  }

  set resetAgent(agent: ResetAgent | null) {
    this.#extras().resetAgent = agent;
  }

  /** @internal Where `connect()` was called, when the pool tracks leaks. */
  get _origin(): Error | undefined {
    return this.#extra?.origin;
  }

  /** @internal State of leak detection and use-time measurement; allocated on first use. */
  get _extras(): CheckoutExtras {
    return this.#extras();
  }

  /** @internal The extras if any were allocated, without allocating. */
  get _extrasIfAny(): CheckoutExtras | null {
    return this.#extra;
  }

  /**
   * The driver connection. Reading it when the checkout holds no live connection throws
   * `InvalidRequestError`: once it was returned (closed), hard-invalidated, or terminated by
   * `close({ timeout })`, the connection may already be gone or belong to someone else.
   */
  get connection(): C {
    const conn = this.#connection;
    if (this.#nesting === 0) throw new InvalidRequestError('This connection is closed');
    if (conn === null) throw new InvalidRequestError('This connection was invalidated; check out a new one');
    const record = this.#record;
    if (record !== null && record.connection !== conn) {
      throw new InvalidRequestError('This connection was closed by the pool (invalidated, or terminated by close({ timeout })); check out a new one');
    }
    return conn;
  }

  /** The record (slot) this checkout holds; `null` once detached or returned. */
  get record(): ConnectionRecord<C> | null {
    return this.#record;
  }

  /** User data tied to the driver connection (a private copy once detached). */
  get info(): Record<string, unknown> {
    if (this.#record !== null) return this.#record.info;
    const extras = this.#extras();
    return (extras.detachedInfo ??= {});
  }

  /** User data tied to the slot; `null` when detached. */
  get recordInfo(): Record<string, unknown> | null {
    return this.#record === null ? null : this.#record.recordInfo;
  }

  /** Whether the checkout holds a live connection (`connection` can be read). */
  get isValid(): boolean {
    const conn = this.#connection;
    if (conn === null || this.#nesting === 0) return false;
    const record = this.#record;
    return record === null || record.connection === conn;
  }

  get isDetached(): boolean {
    return this.#record === null && this.#nesting !== 0;
  }

  /** Whether this checkout was already given back. */
  get isClosed(): boolean {
    return this.#nesting === 0;
  }

  /**
   * Give the checkout back. Nested checkouts (`useContextLocal`) count down; the outermost close
   * resets the connection and returns the slot. Closing twice is harmless.
   */
  close(): Promise<void> {
    if (this.#nesting === 0) return RESOLVED;
    if (this.#nesting > 1) {
      this.#nesting--;
      return RESOLVED;
    }
    return this.#pool._returnPooled(this);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Hard (default): close the driver connection now and return the empty slot. Soft: keep using
   * the connection; it is replaced at its next checkout. On an invalid connection: a warning only.
   */
  async invalidate(error?: unknown, options?: { soft?: boolean }): Promise<void> {
    const conn = this.#connection;
    if (conn === null || this.#nesting === 0) {
      this.#pool._log.warn("Can't invalidate an already-closed connection");
      return;
    }
    const soft = options?.soft === true;
    const record = this.#record;
    if (!soft) this.#connection = null; // before any await: a concurrent close() must not reset it
    if (record !== null) await record.invalidate(error, { soft });
    else if (!soft) await this.#pool._closeDetached(conn, true);
    if (!soft) {
      this.#nesting = 1;
      await this.close();
    }
  }

  /**
   * The driver connection leaves the pool's control; its slot goes back empty (and counts no more).
   * A later `close()` resets and really closes the driver connection.
   */
  detach(): void {
    if (this.#nesting === 0) throw new InvalidRequestError('This connection is closed');
    const record = this.#record;
    if (record === null) return;
    const conn = this.#connection;
    this.#extras().detachedInfo = { ...record.info };
    this.#record = null;
    this.#pool._detach(this, record, conn);
  }

  /** @internal A nested checkout in the same context; false if this one can no longer be reused. */
  _reenter(): boolean {
    if (this.#nesting === 0 || this.#connection === null) return false;
    this.#nesting++;
    return true;
  }

  /** @internal The driver connection without the returned-check, for the pool's own return path. */
  get _connection(): C | null {
    return this.#connection;
  }

  /** @internal The checkout-time retry loop replaced the driver connection. */
  _replaceConnection(conn: C | null): void {
    this.#connection = conn;
  }

  /** @internal */
  _setOnReturn(callback: () => void): void {
    this.#extras().onReturn = callback;
  }

  /** @internal Mark returned and hand back what the return path needs. */
  _markReturned(): void {
    this.#nesting = 0;
    this.#record = null;
    this.#connection = null;
    const extra = this.#extra;
    if (extra?.onReturn != null) {
      const onReturn = extra.onReturn;
      extra.onReturn = null;
      onReturn();
    }
  }
}
