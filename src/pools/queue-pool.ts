import type { ConnectionRecord } from '../connection-record.js';
import type { PooledConnection } from '../pooled-connection.js';
import { PoolTimeoutError } from '../errors.js';
import type { PoolOptions } from '../options.js';
import { invalid, optionalBoolean, optionalInteger } from '../options.js';
import { Pool } from '../pool.js';
import { RecordDeque } from '../record-deque.js';
import { WaiterQueue } from '../waiter-queue.js';

export interface QueuePoolOptions<C> extends PoolOptions<C> {
  /** Idle connections kept; `0` = no limit at all (neither on idle nor on open connections). Default 5. */
  poolSize?: number;
  /** Connections allowed beyond `poolSize`; `-1` = no limit. Default 10. */
  maxOverflow?: number;
  /**
   * ms a checkout waits when the pool is at capacity, then `PoolTimeoutError`. Default 30000.
   * `0` fails at once instead of waiting; `Infinity` waits forever.
   */
  timeout?: number;
  /** Hand out the most recently returned connection first (lets surplus ones age out). Default false (FIFO). */
  useLifo?: boolean;
}

/**
 * The default pool. At most `poolSize + maxOverflow` connections exist; up to `poolSize` idle ones
 * are kept, and a connection returned to a full idle set is closed. Callers beyond capacity wait in
 * a strict first-come-first-served queue and are served by direct hand-off. A failed connect
 * releases its capacity at once and wakes the next waiter. Starts empty; connects lazily.
 */
export class QueuePool<C> extends Pool<C> {
  readonly #poolSize: number;
  readonly #maxOverflow: number;
  readonly #timeout: number;
  readonly #useLifo: boolean;
  /** Most connections that may exist at once. */
  readonly #capacity: number;
  /** Most idle records kept. */
  readonly #keepIdle: number;
  readonly #idle = new RecordDeque<ConnectionRecord<C>>();
  /** Records holding capacity: idle, checked out, connecting or closing. */
  #live = 0;
  readonly #waiters: WaiterQueue<PooledConnection<C>>;

  constructor(options: QueuePoolOptions<C>) {
    super(options);
    this.#poolSize = optionalInteger('poolSize', options.poolSize, 0, 5);
    this.#maxOverflow = optionalInteger('maxOverflow', options.maxOverflow, -1, 10);
    const timeout: unknown = options.timeout === undefined ? 30000 : options.timeout;
    if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) {
      throw invalid('timeout', 'a duration in ms >= 0 (0 = do not wait, Infinity = wait forever)', timeout);
    }
    this.#timeout = timeout;
    this.#useLifo = optionalBoolean('useLifo', options.useLifo, false);
    const unlimited = this.#poolSize === 0 || this.#maxOverflow === -1;
    this.#capacity = unlimited ? Infinity : this.#poolSize + this.#maxOverflow;
    this.#keepIdle = this.#poolSize === 0 ? Infinity : this.#poolSize;
    this.#waiters = new WaiterQueue(timeout, this.#timeoutError);
  }

  protected _doGet(signal: AbortSignal | null): ConnectionRecord<C> | Promise<PooledConnection<C>> {
    const record = this.#useLifo ? this.#idle.pop() : this.#idle.shift();
    if (record !== undefined) return record;
    if (this.#live < this.#capacity) {
      this.#live++;
      return this._newRecord();
    }
    if (this.#timeout === 0) throw this.#timeoutError();
    return this.#waiters.wait(signal);
  }

  protected _doReturn(record: ConnectionRecord<C>): void | Promise<void> {
    if (this.#waiters.length !== 0 && !this.closed) {
      this.#waiters.handOff(this._checkoutRecord(record, true));
      return;
    }
    if (this.#idle.length < this.#keepIdle && !this.closed) {
      this.#idle.push(record);
      return;
    }
    // Overflow: the connection closes, and its capacity is released only once it has,
    // so the server never sees more than poolSize + maxOverflow connections.
    if (record.connection === null) {
      this.#releaseCapacity();
      return;
    }
    return record.close().then(this.#releaseCapacity);
  }

  protected async _disposeIdle(): Promise<void> {
    const records = this.#idle.drain();
    await Promise.all(records.map((record) => record.close().then(this.#releaseCapacity)));
  }

  protected override _rejectWaiters(error: Error): void {
    this.#waiters.rejectAll(error);
  }

  /** A record is gone: its capacity goes to the longest waiter (who connects), or back to the pool. */
  readonly #releaseCapacity = (): void => {
    if (this.#waiters.length !== 0 && !this.closed) this.#waiters.handOff(this._checkoutRecord(this._newRecord()));
    else this.#live--;
  };

  readonly #timeoutError = (): PoolTimeoutError => {
    const cause = this._lastConnectError;
    return new PoolTimeoutError(
      `QueuePool limit of size ${this.#poolSize} overflow ${this.#maxOverflow} reached, connection timed out, timeout ${this.#timeout}ms`,
      {
        poolSize: this.#poolSize,
        maxOverflow: this.#maxOverflow,
        timeout: this.#timeout,
        checkedOut: this.checkedOut(),
        checkedIn: this.checkedIn(),
        overflow: this.overflow(),
        waiting: this.#waiters.length,
      },
      cause === undefined ? undefined : { cause },
    );
  };

  /** `poolSize`. */
  size(): number {
    return this.#poolSize;
  }

  /** Idle records (a record emptied by invalidation counts until it reconnects). */
  checkedIn(): number {
    return this.#idle.length;
  }

  /** Records handed to callers, including ones connecting. */
  checkedOut(): number {
    return this.#live - this.#idle.length;
  }

  /** Live connections minus `poolSize` (negative while below it). */
  overflow(): number {
    return this.#live - this.#poolSize;
  }

  timeout(): number {
    return this.#timeout;
  }

  /** Callers queued for a connection. */
  waiting(): number {
    return this.#waiters.length;
  }

  status(): string {
    return `Pool size: ${this.size()}  Connections in pool: ${this.checkedIn()} Current Overflow: ${this.overflow()} Current Checked out connections: ${this.checkedOut()}`;
  }
}
