import type { CallerContext } from '../checkout-watch.js';
import type { ConnectionRecord } from '../connection-record.js';
import type { PooledConnection } from '../pooled-connection.js';
import { PoolTimeoutError } from '../errors.js';
import type { PoolTimeoutPhase } from '../errors.js';
import type { PoolOptions } from '../options.js';
import { invalid, optionalBoolean, optionalDuration, optionalInteger } from '../options.js';
import { Pool } from '../pool.js';
import type { PoolLimits } from '../pool-stats.js';
import { RecordDeque } from '../record-deque.js';
import { WaiterQueue } from '../waiter-queue.js';
import { Housekeeper } from './housekeeper.js';

export interface QueuePoolOptions<C> extends PoolOptions<C> {
  /** Idle connections kept; `0` = no limit at all (neither on idle nor on open connections). Default 5. */
  poolSize?: number;
  /** Connections allowed beyond `poolSize`; `-1` = no limit. Default 10. */
  maxOverflow?: number;
  /**
   * ms a caller's whole `connect()` may take: waiting for capacity, then opening a connection, the
   * pre-ping and the checkout listeners; then `PoolTimeoutError`. Default 30000. `0` fails at once
   * at capacity instead of waiting (opening and pinging are then bounded by `connectTimeout` and
   * `pingTimeout` alone); `Infinity` waits forever.
   */
  timeout?: number;
  /** Hand out the most recently returned connection first (lets surplus ones age out). Default false (FIFO). */
  useLifo?: boolean;
  /**
   * Keep at least this many connections idle, opened in the background (with exponential backoff
   * after failures, up to 30 s), never more than `poolSize` in all. At most `poolSize`. Default 0.
   */
  minIdle?: number;
  /** ms: an idle connection unused for this long is closed while more than `minIdle` are idle. Default 0 (never). */
  idleTimeout?: number;
  /** ms: idle connections unused for this long are pinged in the background; dead ones are replaced. Default 0 (off). */
  keepAliveInterval?: number;
}

/**
 * The default pool. At most `poolSize + maxOverflow` connections exist; up to `poolSize` idle ones
 * are kept, and a connection returned to a full idle set is closed. Callers beyond capacity wait in
 * a strict first-come-first-served queue and are served by direct hand-off. A failed connect of a
 * new slot releases its capacity at once and wakes the next waiter. Starts empty and connects
 * lazily, unless `minIdle` asks for connections in the background.
 */
export class QueuePool<C> extends Pool<C> {
  static readonly classOptions: readonly string[] = ['poolSize', 'maxOverflow', 'timeout', 'useLifo', 'minIdle', 'idleTimeout', 'keepAliveInterval'];

  readonly #poolSize: number;
  readonly #maxOverflow: number;
  readonly #timeout: number;
  readonly #useLifo: boolean;
  readonly #minIdle: number;
  /** Most connections that may exist at once. */
  readonly #capacity: number;
  /** Most idle records kept. */
  readonly #keepIdle: number;
  readonly #idle = new RecordDeque<ConnectionRecord<C>>();
  /** Records holding capacity: idle, checked out, connecting, closing or in background work. */
  #live = 0;
  /** The same records, for `close({ timeout })`; changes only when capacity does, never per checkout. */
  readonly #records = new Set<ConnectionRecord<C>>();
  /** Background connects under way (the housekeeper's fill and `warmUp()`), so neither overshoots `minIdle`. */
  #opening = 0;
  /** Background work under way (connects, keep-alive pings, closes), for `close()` to wait on. */
  readonly #background = new Set<Promise<unknown>>();
  readonly #waiters: WaiterQueue<PooledConnection<C>, CallerContext | null>;
  readonly #housekeeper: Housekeeper<C> | null;

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
    this.#minIdle = optionalInteger('minIdle', options.minIdle, 0, 0);
    if (this.#poolSize !== 0 && this.#minIdle > this.#poolSize) {
      throw invalid('minIdle', `an integer <= poolSize (${this.#poolSize})`, this.#minIdle);
    }
    const idleTimeout = optionalDuration('idleTimeout', options.idleTimeout, 0, false);
    const keepAliveInterval = optionalDuration('keepAliveInterval', options.keepAliveInterval, 0, false);
    const unlimited = this.#poolSize === 0 || this.#maxOverflow === -1;
    this.#capacity = unlimited ? Infinity : this.#poolSize + this.#maxOverflow;
    this.#keepIdle = this.#poolSize === 0 ? Infinity : this.#poolSize;
    this.#waiters = new WaiterQueue(
      timeout,
      () => this.#timeoutError('queue'),
      (value, context, signal, deadline) => this._deliverToWaiter(value, context, signal, deadline),
      this._counters,
    );
    if (idleTimeout > 0 || keepAliveInterval > 0) this._stampReturns = true;
    this.#housekeeper = Housekeeper.needed(this.#minIdle, idleTimeout, keepAliveInterval, this._options.recycle)
      ? new Housekeeper({
          pool: this,
          idle: this.#idle,
          minIdle: this.#minIdle,
          idleTimeout,
          keepAliveInterval,
          takeSlotToFill: () => this.#takeSlotToFill(),
          place: (record, keepTurn) => { this.#place(record, keepTurn); },
          placeOpened: (record, keepTurn) => { this.#placeOpened(record, keepTurn); },
          opening: () => this.#opening,
          release: (record) => { this.#releaseCapacity(record); },
          track: (work) => { this.#track(work); },
        })
      : null;
    this.#housekeeper?.start();
  }

  protected _doGet(signal: AbortSignal | null, context: CallerContext | null): ConnectionRecord<C> | Promise<PooledConnection<C>> {
    const record = this.#useLifo ? this.#idle.pop() : this.#idle.shift();
    if (record !== undefined) {
      if (this.#minIdle !== 0) this.#taken(record);
      return record;
    }
    if (this.#live < this.#capacity) return this.#newSlot();
    return this.#timeout === 0 ? this.#noWait() : this.#waiters.wait(signal, context);
  }

  /** `timeout: 0` and no slot free: fail at once rather than queue. */
  #noWait(): never {
    throw this.#timeoutError('queue');
  }

  /** minIdle: an idle connection is being handed out (not yet counted as used). */
  #taken(record: ConnectionRecord<C>): void {
    if (record.connection !== null) this.#housekeeper?.taken();
  }

  protected _doReturn(record: ConnectionRecord<C>): void | Promise<void> {
    if (this.#waiters.length !== 0 && !this.closed) {
      // An empty slot too: the waiter connects it (a new slot would do the same).
      this.#waiters.handOff(this._checkoutRecord(record, true));
      return;
    }
    if (record.connection !== null && this.#idle.length < this.#keepIdle && !this.closed) {
      this.#idle.push(record);
      if (this.#housekeeper !== null) this.#housekeeper.parked(record);
      return;
    }
    return this.#returnElsewhere(record);
  }

  /** `_doReturn` of an empty slot, or of one the idle set has no room for. */
  #returnElsewhere(record: ConnectionRecord<C>): void | Promise<void> {
    if (this.#idle.length < this.#keepIdle && !this.closed) {
      // A new slot whose connect failed never held a connection: its capacity goes at once (as
      // SQLAlchemy's _dec_overflow). An established slot goes back empty, as in SQLAlchemy.
      if (record._established) {
        this.#idle.push(record);
        // minIdle: the slot came back without its connection (closed on return, detached).
        this.#housekeeper?.changed();
      } else this.#releaseCapacity(record);
      return;
    }
    // Overflow: the connection closes, and its capacity is released only once it has,
    // so the server never sees more than poolSize + maxOverflow connections.
    if (record.connection === null) {
      this.#releaseCapacity(record);
      return;
    }
    return record.close().then(() => { this.#releaseCapacity(record); });
  }

  protected async _disposeIdle(): Promise<void> {
    const records = this.#idle.drain();
    await Promise.all(records.map((record) => record.close().then(() => { this.#releaseCapacity(record); })));
  }

  protected override _rejectWaiters(error: Error): void {
    this.#waiters.rejectAll(error);
  }

  protected override _waiting(): number {
    return this.#waiters.length;
  }

  protected override _checkoutTimeout(): number {
    return this.#timeout === 0 ? Infinity : this.#timeout;
  }

  protected override _checkoutTimeoutError(): Error {
    return this.#timeoutError('checkout');
  }

  protected override _stopMaintenance(): void {
    this.#housekeeper?.stop();
  }

  protected override async _settleBackground(): Promise<void> {
    // Settling work may start more (a connect that lands after close() closes its connection).
    while (this.#background.size !== 0) await Promise.allSettled([...this.#background]);
  }

  /** Remember background work until it settles (its outcome is handled by whoever made it). */
  #track(work: Promise<unknown>): void {
    const background = this.#background;
    background.add(work);
    const forget = (): void => {
      background.delete(work);
    };
    work.then(forget, forget);
  }

  /** @internal */
  override _idleConnectionLost(): void {
    this.#housekeeper?.lost();
  }

  /** @internal Background timers armed now: for tests. */
  get _armedTimers(): number {
    return this.#housekeeper?.armedTimers ?? 0;
  }

  protected _records(): Iterable<ConnectionRecord<C>> {
    return this.#records;
  }

  protected _limits(): PoolLimits {
    return { max: this.#capacity, idleMax: this.#keepIdle, idleMin: this.#minIdle };
  }

  /**
   * Open connections until `minIdle` are idle (one if `minIdle` is 0), in parallel; rejects with the
   * first connect error (the connections that did open stay idle). For failing fast at start-up.
   */
  override async warmUp(): Promise<void> {
    if (this.closed) {
      await super.warmUp(); // rejects with PoolClosedError
      return;
    }
    const target = Math.min(Math.max(this.#minIdle, 1), this.#keepIdle, this.#capacity);
    const counters = this._counters;
    const opening: Promise<void>[] = [];
    // A background fill under way counts toward the target, and warmUp() waits for it too.
    const filling = this.#housekeeper?.fillAttempt;
    if (filling != null) opening.push(filling);
    while (counters.open - counters.used + this.#opening < target) {
      const record = this.#takeSlotToFill();
      if (record === null) break;
      const opened = record._openInBackground(false).then(
        () => { this.#placeOpened(record, false); },
        (error: unknown) => {
          this.#placeOpened(record, true);
          throw error;
        },
      );
      this.#track(opened);
      opening.push(opened);
    }
    const results = await Promise.allSettled(opening);
    const failed = results.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  /** A new slot, holding capacity. */
  #newSlot(): ConnectionRecord<C> {
    this.#live++;
    const record = this._newRecord();
    this.#records.add(record);
    return record;
  }

  /** A slot for a background connect: an empty idle one, or new capacity below `poolSize`; null if none. */
  #takeSlotToFill(): ConnectionRecord<C> | null {
    if (this.closed) return null;
    const empty = this.#idle.takeFirst((record) => record.connection === null);
    if (empty !== undefined) {
      this.#opening++;
      return empty;
    }
    if (this.#live >= Math.min(this.#keepIdle, this.#capacity) || this.#waiters.length !== 0) return null;
    this.#opening++;
    return this.#newSlot();
  }

  /** A slot from `#takeSlotToFill` whose connect settled. */
  #placeOpened(record: ConnectionRecord<C>, keepTurn: boolean): void {
    this.#opening--;
    this.#place(record, keepTurn);
  }

  /**
   * A record back from background work (a connect, a keep-alive ping): to the longest waiter, else
   * the idle set (at the front when it `keepTurn`s: a ping is not a use), else it goes.
   */
  #place(record: ConnectionRecord<C>, keepTurn: boolean): void {
    const live = record.connection !== null;
    if (!live && !record._established) {
      this.#releaseCapacity(record);
      return;
    }
    if (this.#waiters.length !== 0 && !this.closed) {
      this.#waiters.handOff(this._checkoutRecord(record, live));
      return;
    }
    if (this.#idle.length < this.#keepIdle && !this.closed) {
      if (keepTurn) this.#idle.unshift(record);
      else this.#idle.push(record);
      if (live) {
        this._idled(record);
        this.#housekeeper?.parked(record);
      }
      return;
    }
    if (!live) {
      this.#releaseCapacity(record);
      return;
    }
    this.#track(
      record._closeInBackground(false).then(
        () => { this.#releaseCapacity(record); },
        () => { this.#releaseCapacity(record); },
      ),
    );
  }

  /** A record is gone: its capacity goes to the longest waiter (who connects), or back to the pool. */
  #releaseCapacity(record: ConnectionRecord<C>): void {
    this.#records.delete(record);
    if (this.#waiters.length !== 0 && !this.closed) {
      this.#live--;
      this.#waiters.handOff(this._checkoutRecord(this.#newSlot()));
      return;
    }
    this.#live--;
    this.#housekeeper?.changed();
  }

  #timeoutError(phase: PoolTimeoutPhase): PoolTimeoutError {
    const cause = this._lastConnectError;
    const limits = `size ${this.#poolSize} overflow ${this.#maxOverflow}`;
    const error = new PoolTimeoutError(
      phase === 'queue'
        ? `QueuePool limit of ${limits} reached, connection timed out, timeout ${this.#timeout}ms`
        : `QueuePool connection timed out, timeout ${this.#timeout}ms: a connection was given to this caller but opening it, ` +
            `its pre-ping or the checkout listeners did not finish in time (${limits})`,
      {
        poolSize: this.#poolSize,
        maxOverflow: this.#maxOverflow,
        timeout: this.#timeout,
        checkedOut: this.checkedOut(),
        checkedIn: this.checkedIn(),
        overflow: this.overflow(),
        waiting: this.#waiters.length,
        phase,
      },
      cause === undefined ? undefined : { cause },
    );
    this._noteTimeout(error);
    return error;
  }

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
