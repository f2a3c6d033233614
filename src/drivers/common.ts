/**
 * Pieces the built-in dialects share: reading codes off driver errors, the set of network errors
 * that always mean "this socket is gone", a close that cannot hang, and the bookkeeping that keeps a
 * connection's permanent event listeners quiet once the pool itself is closing it.
 *
 * Nothing here imports a driver.
 */

import type { Dialect } from '../dialect.js';

/**
 * What the built-in dialects export: a `Dialect` whose `ping` and `isDisconnect` are always there,
 * so callers can use them without optional chaining.
 */
export type DriverDialect<C> = Dialect<C> & Required<Pick<Dialect<C>, 'ping' | 'isDisconnect'>>;

/** Socket-level error codes: whatever the driver, the connection they come from is gone. */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ENOTCONN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** How long a graceful close may take before the dialect falls back to a hard one. */
export const DEFAULT_CLOSE_TIMEOUT = 5000;

export function noop(): void {
  /* deliberately empty */
}

/** `error` itself when it is an `Error`, else an `Error` with its text (for callbacks and events that promise an `Error`). */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * A driver facade's failure nobody awaits (a `release()` whose return failed): the facade's
 * `'error'` event when someone listens, else the pool's log. Never an uncaught `'error'`.
 */
export function reportUnawaited(
  facade: { listenerCount(event: string): number; emit(event: string, ...args: unknown[]): boolean },
  log: { error(message: string, error?: unknown): void },
  message: string,
  error: unknown,
  subject: unknown,
): void {
  if (facade.listenerCount('error') > 0) facade.emit('error', asError(error), subject);
  else log.error(message, error);
}

function property(value: unknown, name: string): unknown {
  if (value === null || typeof value !== 'object') return undefined;
  return (value as Record<string, unknown>)[name];
}

/** `error.code` when it is a string (drivers put SQLSTATEs, errno names or their own codes there). */
export function stringProperty(error: unknown, name: string): string | undefined {
  const value = property(error, name);
  return typeof value === 'string' ? value : undefined;
}

export function numberProperty(error: unknown, name: string): number | undefined {
  const value = property(error, name);
  return typeof value === 'number' ? value : undefined;
}

export function errorMessage(error: unknown): string {
  return stringProperty(error, 'message') ?? '';
}

/**
 * Calls `test` on the error, on its `cause` chain and on the members of an `AggregateError` (Node
 * reports a refused connection to every address of `localhost` that way), a few levels deep.
 */
export function anyError(error: unknown, test: (error: unknown) => boolean, depth = 4): boolean {
  if (error === null || error === undefined || depth < 0) return false;
  if (test(error)) return true;
  if (typeof error !== 'object') return false;
  const errors = property(error, 'errors');
  if (Array.isArray(errors) && errors.some((inner: unknown) => anyError(inner, test, depth - 1))) return true;
  const cause = property(error, 'cause');
  return cause !== error && anyError(cause, test, depth - 1);
}

export function isNetworkError(error: unknown): boolean {
  return anyError(error, (e) => {
    const code = stringProperty(e, 'code');
    return code !== undefined && NETWORK_ERROR_CODES.has(code);
  });
}

/**
 * Connections the dialect is closing on the pool's behalf. Their `'error'`/`'end'` events are the
 * expected echo of that close, not news for the pool, so the permanent listeners skip `markDead`.
 * (The listeners stay attached: an error after close must still find a listener, or it crashes.)
 */
export class ClosingSet {
  readonly #closing = new WeakSet<object>();

  add(conn: object): void {
    this.#closing.add(conn);
  }

  has(conn: object): boolean {
    return this.#closing.has(conn);
  }

  /**
   * A dialect's `onConnect`: for the connection's whole life, report it dead on `'error'`, and on an
   * `'end'` that no close of this set began (`endMessage` becomes the error). The `'error'` listener
   * also keeps a driver from throwing a socket error as an uncaught exception.
   */
  watch(conn: DeathSignals, markDead: (error: unknown) => void, endMessage: string): void {
    conn.on('error', (error: Error) => {
      if (!this.#closing.has(conn)) markDead(error);
    });
    conn.on('end', () => {
      if (!this.#closing.has(conn)) markDead(new Error(endMessage));
    });
  }
}

/** The two events a driver connection reports its loss by. */
export interface DeathSignals {
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
}

/**
 * Runs a graceful close, and if it has not finished within `timeoutMs`, runs `hardClose` and
 * resolves. A half-open socket (the server vanished without a FIN) can make a driver's polite
 * goodbye wait forever; the pool must not wait with it. If the graceful close fails, the connection
 * is closed hard and the error is rethrown for the pool to log. The timer is unref'd.
 */
export function closeWithin(graceful: () => Promise<unknown>, timeoutMs: number, hardClose: () => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error === undefined) resolve();
      else reject(error instanceof Error ? error : new Error('close failed', { cause: error }));
    };
    const timer = setTimeout(() => {
      try {
        hardClose();
      } catch {
        /* the connection is being abandoned either way */
      }
      finish();
    }, timeoutMs);
    timer.unref();
    let closing: Promise<unknown>;
    try {
      closing = graceful();
    } catch (error) {
      closing = Promise.reject(error);
    }
    closing.then(
      () => {
        finish();
      },
      (error: unknown) => {
        try {
          hardClose();
        } catch {
          /* ditto */
        }
        finish(error ?? new Error('close failed'));
      },
    );
  });
}

/** A driver's socket, as far as ref/unref go (a net.Socket or a TLS socket over one). */
interface Refable {
  ref?(): unknown;
  unref?(): unknown;
}

/**
 * Refs or unrefs a driver's socket (`allowExitOnIdle`): an unref'd idle connection does not keep
 * the process alive. Never throws; a missing socket (closed, or a driver without one) is ignored.
 */
export function setSocketRef(socket: unknown, ref: boolean): void {
  if (typeof socket !== 'object' || socket === null) return;
  const refable = socket as Refable;
  try {
    if (ref) refable.ref?.();
    else refable.unref?.();
  } catch {
    // best effort: a socket in the middle of closing may refuse
  }
}
