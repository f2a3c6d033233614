import { RESOLVED } from './awaitable.js';
import type { ConnectionRecord } from './connection-record.js';
import { InvalidRequestError } from './errors.js';
import type { Pool } from './pool.js';

/** Takes over reset-on-return from the dialect, e.g. a transaction object that knows its own state. */
export interface ResetAgent {
  rollback(): void | Promise<void>;
  commit(): void | Promise<void>;
}

const enum State {
  CheckedOut,
  Returned,
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
  /** The checkout's stack, when the pool has `leakTracking` on. @internal */
  _stack: string | undefined = undefined;
  /** Used for reset-on-return instead of the dialect when set. */
  resetAgent: ResetAgent | null = null;

  readonly #pool: Pool<C>;
  #record: ConnectionRecord<C> | null;
  #connection: C | null;
  #nesting = 1;
  #state = State.CheckedOut;
  #detachedInfo: Record<string, unknown> | null = null;
  /** Clears the context-local slot this checkout occupies, if any. */
  #onReturn: (() => void) | null = null;

  constructor(pool: Pool<C>, record: ConnectionRecord<C>, connection: C) {
    this.#pool = pool;
    this.#record = record;
    this.#connection = connection;
  }

  /**
   * The driver connection; `null` after a hard invalidation. Reading it after the checkout was
   * returned throws `InvalidRequestError`: the connection may already belong to someone else.
   */
  get connection(): C | null {
    if (this.#state === State.Returned) throw new InvalidRequestError('This connection is closed');
    return this.#connection;
  }

  /** The record (slot) this checkout holds; `null` once detached or returned. */
  get record(): ConnectionRecord<C> | null {
    return this.#record;
  }

  /** User data tied to the driver connection (a private copy once detached). */
  get info(): Record<string, unknown> {
    if (this.#record !== null) return this.#record.info;
    return (this.#detachedInfo ??= {});
  }

  /** User data tied to the slot; `null` when detached. */
  get recordInfo(): Record<string, unknown> | null {
    return this.#record === null ? null : this.#record.recordInfo;
  }

  get isValid(): boolean {
    return this.#connection !== null;
  }

  get isDetached(): boolean {
    return this.#record === null && this.#state === State.CheckedOut;
  }

  /** Whether this checkout was already given back. */
  get isClosed(): boolean {
    return this.#state === State.Returned;
  }

  /**
   * Give the checkout back. Nested checkouts (`useContextLocal`) count down; the outermost close
   * resets the connection and returns the slot. Closing twice is harmless.
   */
  close(): Promise<void> {
    if (this.#state === State.Returned) return RESOLVED;
    if (--this.#nesting > 0) return RESOLVED;
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
    if (conn === null || this.#state === State.Returned) {
      this.#pool._log.warn("Can't invalidate an already-closed connection");
      return;
    }
    const soft = options?.soft === true;
    const record = this.#record;
    if (record !== null) await record.invalidate(error, { soft });
    if (!soft) {
      this.#connection = null;
      this.#nesting = 1;
      await this.close();
    }
  }

  /**
   * The driver connection leaves the pool's control; its slot goes back empty (and counts no more).
   * A later `close()` resets and really closes the driver connection.
   */
  detach(): void {
    if (this.#state === State.Returned) throw new InvalidRequestError('This connection is closed');
    const record = this.#record;
    if (record === null) return;
    const conn = this.#connection;
    this.#detachedInfo = { ...record.info };
    this.#record = null;
    this.#pool._detach(this, record, conn);
  }

  /** @internal A nested checkout in the same context; false if this one can no longer be reused. */
  _reenter(): boolean {
    if (this.#state === State.Returned || this.#connection === null) return false;
    this.#nesting++;
    return true;
  }

  /** @internal The driver connection without the returned-check, for the pool's own return path. */
  get _connection(): C | null {
    return this.#connection;
  }

  /** @internal The checkout-time retry loop replaced the driver connection. */
  _replaceConnection(conn: C): void {
    this.#connection = conn;
  }

  /** @internal */
  _setOnReturn(callback: () => void): void {
    this.#onReturn = callback;
  }

  /** @internal Mark returned and hand back what the return path needs. */
  _markReturned(): void {
    this.#state = State.Returned;
    this.#record = null;
    this.#connection = null;
    const onReturn = this.#onReturn;
    if (onReturn !== null) {
      this.#onReturn = null;
      onReturn();
    }
  }
}
