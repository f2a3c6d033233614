/**
 * What runs between handing a record to a caller and the caller holding it (SPEC sections 2, 7
 * and 11): the pre-ping (bounded by `pingTimeout`, skipped inside `prePingBypass`), the `checkout`
 * listeners, and the `DisconnectionError` retry that replaces a dead connection at most twice.
 * Everything stays synchronous while the ping and the listeners are: each `await` on this path costs
 * ~100 ns, a fifth of a whole checkout.
 */
import type { Awaitable } from './awaitable.js';
import { isPromise } from './awaitable.js';
import { monotonicNow } from './clock.js';
import type { ConnectionRecord } from './connection-record.js';
import { withDeadline } from './deadline.js';
import { DisconnectionError, InvalidatePoolError, InvalidRequestError } from './errors.js';
import { emit } from './events.js';
import { describeError } from './logging.js';
import type { Pool } from './pool.js';
import type { PooledConnection } from './pooled-connection.js';

/** A checkout listener may throw DisconnectionError this many times; each time the connection is replaced. */
const MAX_CHECKOUT_REPLACEMENTS = 2;

function noop(): void {
  /* a late ping answer is ignored: the connection was already condemned */
}

/**
 * Ping `conn`. Resolves (or returns) when it is alive; throws `InvalidatePoolError` when it is dead
 * (`false`, a disconnect error, or no answer within `pingTimeout`) and `DisconnectionError` for any
 * other error (replace just this one). `background` (a keep-alive ping) unrefs the ping's timer.
 */
export function pingConnection<C>(pool: Pool<C>, conn: C, record: ConnectionRecord<C>, background: boolean): Awaitable<void> {
  if (pool._log.debugEnabled) logPing(pool, record, background);
  const dialect = pool._dialect;
  let alive: boolean | Promise<boolean>;
  try {
    alive = (dialect.ping as (conn: C) => boolean | Promise<boolean>).call(dialect, conn);
  } catch (error) {
    throw pingError(pool, conn, record, error, pingName(background));
  }
  // A synchronous "alive" returns at once; the rest is kept out of this function, so V8 inlines it.
  return alive === true ? undefined : pingAnswered(pool, conn, record, alive, background);
}

function logPing<C>(pool: Pool<C>, record: ConnectionRecord<C>, background: boolean): void {
  pool._log.debug(`Pool ${background ? 'keep-alive' : 'pre'}-ping on connection #${record.id}`);
}

function pingName(background: boolean): string {
  return background ? 'Keep-alive ping' : 'Pre-ping';
}

/** A ping that answered false, or a promise: dead at once, or awaited within `pingTimeout`. */
function pingAnswered<C>(pool: Pool<C>, conn: C, record: ConnectionRecord<C>, alive: boolean | Promise<boolean>, background: boolean): Awaitable<void> {
  const what = pingName(background);
  if (!isPromise(alive)) {
    if (!alive) throw new InvalidatePoolError(`${what} failed on connection #${record.id}`);
    return undefined;
  }
  const timeout = pool._options.pingTimeout;
  const answered = timeout === Infinity
    ? alive
    : withDeadline(alive, timeout, () => new InvalidatePoolError(`${what} of connection #${record.id} timed out after ${timeout}ms (pingTimeout)`), noop, background);
  return answered.then(
    (ok) => {
      if (!ok) throw new InvalidatePoolError(`${what} failed on connection #${record.id}`);
    },
    (error: unknown) => {
      throw error instanceof DisconnectionError ? error : pingError(pool, conn, record, error, what);
    },
  );
}

function pingError<C>(pool: Pool<C>, conn: C, record: ConnectionRecord<C>, error: unknown, what: string): DisconnectionError {
  const isDisconnect = pool._dialect.isDisconnect?.call(pool._dialect, error, conn) ?? true;
  const message = `${what} failed on connection #${record.id}`;
  return isDisconnect ? new InvalidatePoolError(message, { cause: error }) : new DisconnectionError(message, { cause: error });
}

/** Whether the pre-ping may be skipped: the connection came back less than `prePingBypass` ago. */
function recentlyReturned<C>(pool: Pool<C>, record: ConnectionRecord<C>): boolean {
  const bypass = pool._options.prePingBypass;
  return bypass > 0 && monotonicNow() - record._lastReturned < bypass;
}

/** One round of the checkout hooks: pre-ping (unless the connection is fresh or recently returned), then the `checkout` listeners. */
export function runCheckoutHooks<C>(pool: Pool<C>, pooled: PooledConnection<C>, record: ConnectionRecord<C>, conn: C, fresh: boolean): Awaitable<void> {
  const listeners = pool._events.lists.checkout;
  if (pool._options.prePing && !fresh && !recentlyReturned(pool, record)) {
    const pinged = pingConnection(pool, conn, record, false);
    if (isPromise(pinged)) return listeners.length === 0 ? pinged : emitAfter(pinged, listeners, conn, record, pooled);
  }
  return listeners.length === 0 ? undefined : emit(listeners, conn, record, pooled);
}

/** Kept apart from `runCheckoutHooks`: a closure there would cost every checkout a context allocation. */
function emitAfter<C>(pinged: Promise<void>, listeners: Parameters<typeof emit>[0], conn: C, record: ConnectionRecord<C>, pooled: PooledConnection<C>): Promise<void> {
  return pinged.then(() => emit(listeners, conn, record, pooled));
}

/**
 * The checkout hooks' outcome, awaited. Either hook may declare the connection dead
 * (`DisconnectionError`): it is replaced and the hooks run again on the new one, at most twice;
 * a connection opened during this checkout is never pinged.
 */
export async function retryCheckoutHooks<C>(
  pool: Pool<C>,
  pooled: PooledConnection<C>,
  record: ConnectionRecord<C>,
  conn: C,
  attempt: Promise<void>,
): Promise<PooledConnection<C>> {
  for (let replacements = 0; ; replacements++) {
    try {
      await attempt;
      return pooled;
    } catch (error) {
      if (!(error instanceof DisconnectionError)) {
        await pool._returnPooled(pooled);
        throw error;
      }
      if (replacements === MAX_CHECKOUT_REPLACEMENTS) {
        pool._log.info('Reconnection attempts exhausted on checkout');
        await pooled.invalidate(error);
        throw new InvalidRequestError('This connection is closed: it was replaced twice on checkout and is still reported disconnected', { cause: error });
      }
      if (error.invalidatePool) {
        pool._log.info(`Disconnection detected on checkout, invalidating all pooled connections opened before now (reason: ${describeError(error)})`);
        const condemnsPool = record.generation >= pool._generation;
        await record.invalidate(error);
        if (condemnsPool) pool._generation++;
      } else {
        pool._log.info(`Disconnection detected on checkout, invalidating connection #${record.id} (reason: ${describeError(error)})`);
        await record.invalidate(error);
      }
      try {
        conn = await record.getConnection();
      } catch (connectError) {
        pooled._replaceConnection(null); // the old connection is already closed: nothing to reset
        await pool._returnPooled(pooled);
        throw connectError;
      }
      pooled._replaceConnection(conn);
      record._noteUse();
      try {
        attempt = Promise.resolve(runCheckoutHooks(pool, pooled, record, conn, record._takeFresh()));
      } catch (hookError) {
        attempt = Promise.reject(hookError);
      }
    }
  }
}
