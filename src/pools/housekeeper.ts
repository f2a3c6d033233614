/**
 * QueuePool's background work (SPEC section 11): keep `minIdle` connections idle, close
 * connections idle longer than `idleTimeout`, retire idle connections at their `recycle` age (with
 * HikariCP's 2.5% jitter), and ping idle connections unused for `keepAliveInterval`, replacing the
 * dead ones before a caller finds them.
 *
 * One unref'd timer, armed for the earliest moment something is due; a connection going idle can
 * only bring that moment closer, which costs one comparison on the return path. Background work
 * never keeps the process alive, never holds a caller up (a record being pinged is out of the idle
 * set, so callers take another one or new capacity), and stops at `close()`.
 */
import { monotonicNow } from '../clock.js';
import type { ConnectionRecord } from '../connection-record.js';
import { runDetached } from '../context.js';
import { MAX_TIMER_MS } from '../deadline.js';
import { DisconnectionError } from '../errors.js';
import { describeError } from '../logging.js';
import { pingConnection } from '../checkout-hooks.js';
import type { Pool } from '../pool.js';
import type { RecordDeque } from '../record-deque.js';

/** After a failed background connect, wait this long, doubling up to {@link MAX_BACKOFF_MS}. */
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 30_000;

/** What the housekeeper needs from its QueuePool. */
export interface HousekeeperHost<C> {
  readonly pool: Pool<C>;
  readonly idle: RecordDeque<ConnectionRecord<C>>;
  readonly minIdle: number;
  readonly idleTimeout: number;
  readonly keepAliveInterval: number;
  /** A slot for a new background connection: an empty idle one, or new capacity below `poolSize`; null if none. */
  takeSlotToFill(): ConnectionRecord<C> | null;
  /** A record whose background work is over goes back: to a waiter, the idle set, or away. */
  place(record: ConnectionRecord<C>, keepTurn: boolean): void;
  /** A record from `takeSlotToFill` whose connect settled goes back (as `place`). */
  placeOpened(record: ConnectionRecord<C>, keepTurn: boolean): void;
  /** Background connects under way (this housekeeper's and `warmUp()`'s). */
  opening(): number;
  /** The record leaves the pool: its capacity is released (to a waiter, or freed). */
  release(record: ConnectionRecord<C>): void;
  /** Background work under way, which `close()` waits for. */
  track(work: Promise<unknown>): void;
}

export class Housekeeper<C> {
  readonly #host: HousekeeperHost<C>;
  readonly #recycle: number;
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Infinity;
  #stopped = false;
  /** A background connect is under way (one at a time). */
  #filling = false;
  /** That connect, for `warmUp()` to wait on. */
  #fillAttempt: Promise<void> | null = null;
  /** The retry timer after a failed background connect. */
  #backoffTimer: NodeJS.Timeout | null = null;
  #backoff = 0;
  /** A keep-alive ping is under way (one at a time). */
  #pinging = false;
  /** Connections found dead in the background and not replaced yet. */
  #owed = 0;

  constructor(host: HousekeeperHost<C>) {
    this.#host = host;
    this.#recycle = host.pool._options.recycle;
  }

  /** Whether a pool with these settings has background work at all. */
  static needed(minIdle: number, idleTimeout: number, keepAliveInterval: number, recycle: number): boolean {
    return minIdle > 0 || idleTimeout > 0 || keepAliveInterval > 0 || recycle >= 0;
  }

  start(): void {
    this.fill(0);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#backoffTimer !== null) clearTimeout(this.#backoffTimer);
    this.#timer = this.#backoffTimer = null;
    this.#timerAt = Infinity;
  }

  /** A record went idle: wake up when its next maintenance is due, if that is sooner than planned. */
  parked(record: ConnectionRecord<C>): void {
    const due = this.#dueOf(record, true);
    if (due < this.#timerAt) this.#arm(due);
  }

  /** An idle connection was lost, or capacity was freed: top the idle set up again. */
  changed(): void {
    if (this.#host.minIdle > 0 || this.#owed > 0) this.fill(0);
  }

  /** An idle connection is being handed out (not yet counted as used): top the idle set up again. */
  taken(): void {
    this.fill(1);
  }

  /** The background connect under way, if any (it rejects if the connect fails). */
  get fillAttempt(): Promise<void> | null {
    return this.#fillAttempt;
  }

  /** Timers armed now (maintenance and backoff): for tests. */
  get armedTimers(): number {
    return (this.#timer === null ? 0 : 1) + (this.#backoffTimer === null ? 0 : 1);
  }

  /** An idle connection was found dead by the server's hand: with keep-alive on, it is replaced at once. */
  lost(): void {
    if (this.#host.keepAliveInterval > 0) this.#owed++;
    this.fill(0);
  }

  #dueOf(record: ConnectionRecord<C>, idleTimeoutApplies: boolean): number {
    const { idleTimeout, keepAliveInterval } = this.#host;
    let due = record._retireAt;
    if (idleTimeout > 0 && idleTimeoutApplies) due = Math.min(due, record._lastReturned + idleTimeout);
    if (keepAliveInterval > 0 && !this.#pinging) due = Math.min(due, record._lastActive + keepAliveInterval);
    if (record.isStale()) due = Math.min(due, monotonicNow());
    return due;
  }

  #arm(due: number): void {
    if (this.#stopped || due === Infinity) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(due - monotonicNow())));
    this.#timerAt = due;
    this.#timer = runDetached(() => setTimeout(this.#sweep, delay));
    this.#timer.unref();
  }

  /** Idle connections open now (excluding empty slots). */
  #idleOpen(): number {
    const counters = this.#host.pool._counters;
    return counters.open - counters.used;
  }

  readonly #sweep = (): void => {
    this.#timer = null;
    this.#timerAt = Infinity;
    const host = this.#host;
    const pool = host.pool;
    if (this.#stopped || pool.closed) return;
    const now = monotonicNow();
    let idleOpen = this.#idleOpen();
    const kept: ConnectionRecord<C>[] = [];
    let toPing: ConnectionRecord<C> | null = null;
    for (const record of host.idle.drain()) {
      if (record.connection === null) {
        kept.push(record); // an empty slot: the fill reconnects it
        continue;
      }
      let why: string | null = record.staleReason();
      const replace = why !== null;
      if (why === null && now >= record._retireAt) why = `it reached its recycle age (${this.#recycle}ms)`;
      if (why === null && host.idleTimeout > 0 && now - record._lastReturned >= host.idleTimeout && idleOpen > host.minIdle) {
        why = `it was idle longer than idleTimeout (${host.idleTimeout}ms)`;
      }
      if (why !== null) {
        idleOpen--;
        if (replace && host.keepAliveInterval > 0) this.#owed++;
        this.#retire(record, why);
        continue;
      }
      if (host.keepAliveInterval > 0 && !this.#pinging && toPing === null && now - record._lastActive >= host.keepAliveInterval) {
        toPing = record;
        continue;
      }
      kept.push(record);
    }
    for (const record of kept) host.idle.push(record);
    if (toPing !== null) this.#keepAlive(toPing);
    this.fill(0);
    this.#rearm(idleOpen);
  };

  /** Arm the timer for the earliest due moment among the idle records. */
  #rearm(idleOpen: number): void {
    const idleTimeoutApplies = idleOpen > this.#host.minIdle;
    let due = Infinity;
    for (const record of this.#host.idle.drain()) {
      if (record.connection !== null) due = Math.min(due, this.#dueOf(record, idleTimeoutApplies));
      this.#host.idle.push(record);
    }
    this.#arm(due);
  }

  #retire(record: ConnectionRecord<C>, why: string): void {
    const host = this.#host;
    host.pool._log.info(`Connection #${record.id} closed in the background: ${why}`);
    host.track(
      record._closeInBackground(record._dead).then(
        () => { host.release(record); },
        (error: unknown) => {
          host.pool._log.error(`closing connection #${record.id} failed`, error);
          host.release(record);
        },
      ),
    );
  }

  /** Ping one idle connection, out of the idle set; a dead one is terminated, replaced, and condemns older ones. */
  #keepAlive(record: ConnectionRecord<C>): void {
    const host = this.#host;
    const pool = host.pool;
    const conn = record.connection as C;
    this.#pinging = true;
    let pinged: Promise<void>;
    try {
      pinged = Promise.resolve(pingConnection(pool, conn, record, true));
    } catch (error) {
      pinged = Promise.reject(error);
    }
    const settled = pinged.then(
      () => {
        this.#pinging = false;
        if (record.connection === conn && !pool.closed) {
          record._pinged(monotonicNow());
          host.place(record, true);
        } else this.#retire(record, pool.closed ? 'the pool is closed' : 'the server dropped it');
        this.#arm(monotonicNow());
      },
      (error: unknown) => this.#keepAliveFailed(record, error),
    );
    host.track(settled);
  }

  async #keepAliveFailed(record: ConnectionRecord<C>, error: unknown): Promise<void> {
    this.#pinging = false;
    const host = this.#host;
    const pool = host.pool;
    pool._log.info(`Keep-alive ping failed on connection #${record.id}; replacing it (reason: ${describeError(error)})`);
    // As a failed pre-ping: a dead connection means the server dropped it, and every connection
    // opened before it is condemned too; the next sweep replaces those idle ones now.
    if (error instanceof DisconnectionError && error.invalidatePool && record.generation >= pool._generation) pool._generation++;
    this.#owed++;
    try {
      await record.invalidate(error);
    } finally {
      host.release(record);
      this.#arm(monotonicNow());
    }
  }

  /**
   * Open connections in the background, one at a time, while fewer than `minIdle` are idle or
   * dead ones are owed a replacement; never beyond `poolSize` (an overflow connection would only be
   * closed again on its return). A failure is logged and retried with exponential backoff.
   */
  fill(leaving = 0): void {
    const host = this.#host;
    if (this.#stopped || host.pool.closed || this.#filling || this.#backoffTimer !== null) return;
    if (this.#idleOpen() + host.opening() - leaving >= host.minIdle && this.#owed === 0) return;
    const record = host.takeSlotToFill();
    if (record === null) return;
    this.#filling = true;
    const attempt = record._openInBackground(true).then(() => undefined);
    this.#fillAttempt = attempt;
    const settled = attempt.then(
      () => {
        this.#filling = false;
        this.#fillAttempt = null;
        this.#backoff = 0;
        if (this.#owed > 0) this.#owed--;
        host.placeOpened(record, false);
        this.fill(0);
      },
      (error: unknown) => {
        this.#filling = false;
        this.#fillAttempt = null;
        this.#backoff = this.#backoff === 0 ? FIRST_BACKOFF_MS : Math.min(MAX_BACKOFF_MS, this.#backoff * 2);
        host.pool._log.warn(`Background connect failed (keeping ${host.minIdle} idle connection(s)); retrying in ${this.#backoff}ms: ${describeError(error)}`);
        // The retry timer first: giving the slot back may ask for a fill, which must wait for it.
        if (!this.#stopped) {
          this.#backoffTimer = runDetached(() =>
            setTimeout(() => {
              this.#backoffTimer = null;
              this.fill(0);
            }, this.#backoff),
          );
          this.#backoffTimer.unref();
        }
        host.placeOpened(record, true);
      },
    );
    host.track(settled);
  }
}
