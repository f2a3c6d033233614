/**
 * Every error lifeguard raises extends {@link PoolError} and carries a stable `code`, so callers can
 * branch on `error.code` without string-matching messages. Driver errors pass through unchanged, or
 * ride along as `cause` where lifeguard wraps them.
 */
export class PoolError extends Error {
  readonly code: string = 'POOL_ERROR';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An option or argument has the wrong type or range. The message names it and the value given. */
export class ArgumentError extends PoolError {
  override readonly code = 'ARGUMENT';
}

/**
 * Where a caller's `timeout` ran out: waiting for capacity in the queue, or after it had a slot
 * (opening a connection, the pre-ping, the checkout listeners).
 */
export type PoolTimeoutPhase = 'queue' | 'checkout';

/** What a timeout error reports about the pool at the moment the waiter gave up. */
export interface PoolTimeoutCounts {
  readonly poolSize: number;
  readonly maxOverflow: number;
  readonly timeout: number;
  readonly checkedOut: number;
  readonly checkedIn: number;
  readonly overflow: number;
  readonly waiting: number;
  readonly phase: PoolTimeoutPhase;
}

/**
 * No connection became available within `timeout`, which bounds the caller's whole `connect()`:
 * the wait in the queue (`phase: 'queue'`) and, after that, opening a connection, the pre-ping and
 * the checkout listeners (`phase: 'checkout'`). `cause` is the last connect error the pool saw,
 * if any: a pool that cannot reach its server times out *because* of that error, so it is reported.
 */
export class PoolTimeoutError extends PoolError implements PoolTimeoutCounts {
  override readonly code = 'POOL_TIMEOUT';
  readonly poolSize: number;
  readonly maxOverflow: number;
  readonly timeout: number;
  readonly checkedOut: number;
  readonly checkedIn: number;
  readonly overflow: number;
  readonly waiting: number;
  readonly phase: PoolTimeoutPhase;

  constructor(message: string, counts: PoolTimeoutCounts, options?: { cause?: unknown }) {
    super(message, options);
    this.poolSize = counts.poolSize;
    this.maxOverflow = counts.maxOverflow;
    this.timeout = counts.timeout;
    this.checkedOut = counts.checkedOut;
    this.checkedIn = counts.checkedIn;
    this.overflow = counts.overflow;
    this.waiting = counts.waiting;
    this.phase = counts.phase;
  }
}

/**
 * Thrown by a `checkout` listener (or raised internally by a failed pre-ping) to say the connection
 * is dead: the pool replaces it and tries again, at most twice. With `invalidatePool` set, every
 * connection opened before this one is replaced at its next checkout too.
 */
export class DisconnectionError extends PoolError {
  override readonly code: string = 'DISCONNECTED';
  readonly invalidatePool: boolean = false;
}

/** A {@link DisconnectionError} that also invalidates every older connection in the pool. */
export class InvalidatePoolError extends DisconnectionError {
  override readonly code = 'DISCONNECTED_INVALIDATE_POOL';
  override readonly invalidatePool = true;
}

/** The request cannot be carried out in the object's current state (e.g. a returned connection). */
export class InvalidRequestError extends PoolError {
  override readonly code = 'INVALID_REQUEST';
}

/** `AssertionPool`: a second checkout while the first is still out. */
export class PoolAssertionError extends PoolError {
  override readonly code = 'POOL_ASSERTION';
}

/** The pool was closed with `close()`: it accepts no more checkouts. */
export class PoolClosedError extends PoolError {
  override readonly code = 'POOL_CLOSED';
}

/**
 * One attempt to open a connection took longer than `connectTimeout` (SPEC section 11). The attempt
 * is abandoned: its capacity is released at once, and a driver connection that arrives later is
 * terminated. `timeout` is the `connectTimeout` in ms.
 */
export class ConnectTimeoutError extends PoolError {
  override readonly code = 'CONNECT_TIMEOUT';
  readonly timeout: number;

  constructor(message: string, timeout: number, options?: { cause?: unknown }) {
    super(message, options);
    this.timeout = timeout;
  }
}

/** One host of a multi-host PostgreSQL URL and what it answered when a connection was opened. */
export interface HostAnswer {
  /** `host:port`, as tried (IPv6 in brackets). */
  readonly host: string;
  /** E.g. `read-only (in recovery)`, `read-write (primary)` or the connect error's code (`ECONNREFUSED`). */
  readonly answer: string;
}

/**
 * No host of a PostgreSQL URL gave a session matching its `target_session_attrs` (SPEC section 14).
 * The message names the value asked for and each host's answer; `cause` is the last connect error,
 * if any host failed to connect. A pool counts it as a failed connect, like any other.
 */
export class NoMatchingHostError extends PoolError {
  override readonly code = 'NO_MATCHING_HOST';
  readonly targetSessionAttrs: string;
  readonly hosts: readonly HostAnswer[];

  constructor(targetSessionAttrs: string, hosts: readonly HostAnswer[], options?: { cause?: unknown }) {
    const answers = hosts.map((entry) => `${entry.host}: ${entry.answer}`).join('; ');
    super(`no host matches target_session_attrs=${targetSessionAttrs} (${answers})`, options);
    this.targetSessionAttrs = targetSessionAttrs;
    this.hosts = hosts;
  }
}
