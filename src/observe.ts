/**
 * How a pool reports what happens in it (SPEC section 12), beyond its events: Node's
 * `diagnostics_channel` for anyone in the process, and observers that `lifeguard/otel` attaches to
 * one pool. Both cost nothing when unused: a message is built only when a channel has subscribers,
 * and the hot path reads the clock only while something measures times.
 */
import { channel } from 'node:diagnostics_channel';
import type { ConnectionRecord } from './connection-record.js';
import type { Pool } from './pool.js';
import type { PooledConnection } from './pooled-connection.js';

/** The channels, by name. Messages: see each. */
export const CHANNELS = Object.freeze({
  /** `{ pool, record, durationMs }` after a new driver connection opens. */
  connect: 'lifeguard:connect',
  /** `{ pool, pooled, waitMs }` when a caller gets its connection. */
  checkout: 'lifeguard:checkout',
  /** `{ pool, record, useMs }` when a checkout is returned (`record` is null once detached). */
  checkin: 'lifeguard:checkin',
  /** `{ pool, error }` for each `PoolTimeoutError`. */
  timeout: 'lifeguard:timeout',
  /** `{ pool, record, error, soft }` when a record's connection is invalidated. */
  invalidate: 'lifeguard:invalidate',
});

export const connectChannel = channel(CHANNELS.connect);
export const checkoutChannel = channel(CHANNELS.checkout);
export const checkinChannel = channel(CHANNELS.checkin);
export const timeoutChannel = channel(CHANNELS.timeout);
export const invalidateChannel = channel(CHANNELS.invalidate);

/** Whether anyone listens to the channels that need checkout times. */
export function timedChannelsActive(): boolean {
  return checkoutChannel.hasSubscribers || checkinChannel.hasSubscribers;
}

/**
 * @internal Per-pool callbacks (what `instrumentPool` attaches). Times are milliseconds from the
 * monotonic clock.
 */
export interface PoolObserver<C> {
  connected?(record: ConnectionRecord<C>, durationMs: number): void;
  checkedOut?(pooled: PooledConnection<C>, waitMs: number): void;
  checkedIn?(record: ConnectionRecord<C> | null, useMs: number): void;
  timedOut?(error: Error): void;
  invalidated?(record: ConnectionRecord<C>, error: unknown, soft: boolean): void;
}

/**
 * @internal Attach `observer` to `pool` (what `lifeguard/otel` does); returns its removal. The list
 * is replaced, never mutated, so a hook running while another is removed sees a stable array.
 */
export function addObserver<C>(pool: Pool<C>, observer: PoolObserver<C>): () => void {
  pool._observers = [...pool._observers, observer];
  pool._watched = true;
  return () => {
    pool._observers = pool._observers.filter((each) => each !== observer);
    pool._watched = pool._tracksOrigin || pool._observers.length !== 0;
  };
}
