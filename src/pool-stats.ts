/**
 * `pool.stats()` (SPEC section 12): a plain snapshot of a pool, cheap enough to call at any rate.
 * The counters behind it are plain fields bumped where things happen (connect, checkout, return,
 * close), never recomputed by walking the pool, so a snapshot costs a dozen field reads.
 */

/** What `pool.stats()` returns. Counts of connections count driver connections that exist. */
export interface PoolStats {
  /** The pool's `loggingName`. */
  readonly name: string;
  /** Most connections that may exist at once (`Infinity` when unlimited). */
  readonly max: number;
  /** Most idle connections kept (`Infinity` when unlimited). */
  readonly idleMax: number;
  /** Idle connections the pool keeps open in the background (`minIdle`). */
  readonly idleMin: number;
  /** Open connections not checked out. */
  readonly idle: number;
  /** Checked-out connections. */
  readonly used: number;
  /** Connect attempts under way now. */
  readonly connecting: number;
  /** Callers waiting for a connection: from `connect()` until they hold one or give up. */
  readonly pending: number;
  /** Driver connections opened since construction (a late one that was terminated counts too). */
  readonly created: number;
  /** Driver connections closed or terminated since construction. */
  readonly closed: number;
  /** `PoolTimeoutError`s since construction. */
  readonly timeouts: number;
  /** Failed connect attempts, including those abandoned at `connectTimeout`. */
  readonly connectErrors: number;
  /** Hard and soft invalidations of single connections (not pool-wide `invalidate()`). */
  readonly invalidations: number;
  /** Successful checkouts. */
  readonly checkouts: number;
}

/** The limits a pool class reports in its stats. */
export interface PoolLimits {
  readonly max: number;
  readonly idleMax: number;
  readonly idleMin: number;
}

/**
 * @internal The counters behind `stats()`, owned by the pool and bumped by it and its records.
 * `open` counts driver connections held by records (from a successful connect until their close
 * begins, or a detach); `used` those of them checked out; idle = open - used.
 */
export class PoolCounters {
  open = 0;
  used = 0;
  connecting = 0;
  /** Callers past the queue whose checkout is still under way (connecting, pinging, listeners). */
  inFlight = 0;
  created = 0;
  closed = 0;
  timeouts = 0;
  connectErrors = 0;
  invalidations = 0;
  checkouts = 0;

  snapshot(name: string, limits: PoolLimits, waiting: number): PoolStats {
    return {
      name,
      max: limits.max,
      idleMax: limits.idleMax,
      idleMin: limits.idleMin,
      idle: this.open - this.used,
      used: this.used,
      connecting: this.connecting,
      pending: waiting + this.inFlight,
      created: this.created,
      closed: this.closed,
      timeouts: this.timeouts,
      connectErrors: this.connectErrors,
      invalidations: this.invalidations,
      checkouts: this.checkouts,
    };
  }
}
