/**
 * What watches a checkout from delivery to return, when anything does: leak detection
 * (`leakDetectionThreshold`, SPEC section 11), and the wait and use times that observers and the
 * `lifeguard:checkout`/`lifeguard:checkin` channels report (SPEC section 12). A pool with none of
 * these never reaches this module on its hot path.
 */
import { monotonicNow } from './clock.js';
import type { ConnectionRecord } from './connection-record.js';
import { runDetached } from './context.js';
import { checkinChannel, checkoutChannel, timedChannelsActive } from './observe.js';
import type { Pool } from './pool.js';
import type { PooledConnection } from './pooled-connection.js';

/** Internal (not exported from the package): what a caller carries through its checkout when something needs it. */
export interface CallerContext {
  /** Where `connect()` was called (`leakTracking`, `leakDetectionThreshold`). */
  readonly origin: Error | undefined;
  /** Monotonic time the caller began to wait, once its checkout went async; NaN while it never waited. */
  startedAt: number;
}

/** A caller context for a pool that needs one, else null (the common case: nothing to carry). */
export function callerContext<C>(pool: Pool<C>): CallerContext | null {
  // One flag, kept current by observe.ts: see watchPool.
  return pool._watched ? newCallerContext(pool) : null;
}

function newCallerContext<C>(pool: Pool<C>): CallerContext {
  return { origin: pool._tracksOrigin ? new Error('checked out here') : undefined, startedAt: Number.NaN };
}

/** The caller started to wait now: its checkout did not finish synchronously. */
export function startWaiting(context: CallerContext | null): void {
  if (context !== null && Number.isNaN(context.startedAt)) context.startedAt = monotonicNow();
}

/** A checkout reached its caller: stamp it, report its wait, and arm leak detection. */
export function watchDelivery<C>(pool: Pool<C>, pooled: PooledConnection<C>, context: CallerContext): void {
  const extras = pooled._extras;
  extras.origin = context.origin;
  const observers = pool._observers;
  const timed = observers.length !== 0 || timedChannelsActive();
  const threshold = pool._options.leakDetectionThreshold;
  if (!timed && threshold === 0) return;
  const now = monotonicNow();
  extras.checkedOutAt = now;
  if (timed) {
    // A checkout that finished synchronously waited for nothing: no clock read to say so.
    const waitMs = Number.isNaN(context.startedAt) ? 0 : now - context.startedAt;
    for (const observer of observers) observer.checkedOut?.(pooled, waitMs);
    if (checkoutChannel.hasSubscribers) checkoutChannel.publish({ pool, pooled, waitMs });
  }
  if (threshold > 0) {
    extras.leakTimer = runDetached(() => setTimeout(() => { reportLeak(pool, pooled); }, threshold));
    extras.leakTimer.unref();
  }
}

function reportLeak<C>(pool: Pool<C>, pooled: PooledConnection<C>): void {
  const extras = pooled._extras;
  extras.leakTimer = null;
  if (pooled.isClosed) return;
  extras.leakReported = true;
  const heldMs = Math.round(monotonicNow() - extras.checkedOutAt);
  const record = pooled.record;
  const which = record === null ? 'a detached connection' : `connection #${record.id}`;
  const stack = extras.origin?.stack;
  pool._log.warn(
    `Possible connection leak: ${which} has been checked out for ${heldMs}ms (leakDetectionThreshold ${pool._options.leakDetectionThreshold}ms)` +
      (stack === undefined ? '' : `; it was checked out at:\n${stack}`),
  );
}

/** A watched checkout comes back: stop leak detection (saying so if it reported), and report its use time. */
export function watchReturn<C>(pool: Pool<C>, pooled: PooledConnection<C>, record: ConnectionRecord<C> | null): void {
  const extras = pooled._extras;
  if (extras.leakTimer !== null) {
    clearTimeout(extras.leakTimer);
    extras.leakTimer = null;
  }
  if (extras.checkedOutAt === 0) return;
  const useMs = monotonicNow() - extras.checkedOutAt;
  if (extras.leakReported) {
    pool._log.notice(`The connection reported as a possible leak (${record === null ? 'detached' : `#${record.id}`}) came back after ${Math.round(useMs)}ms`);
  }
  const observers = pool._observers;
  for (const observer of observers) observer.checkedIn?.(record, useMs);
  if (checkinChannel.hasSubscribers) checkinChannel.publish({ pool, record, useMs });
}
