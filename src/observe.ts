/**
 * How a pool reports what happens in it (SPEC section 12), beyond its events: Node's
 * `diagnostics_channel` for anyone in the process, and observers that `lifeguard/otel` attaches to
 * one pool. Both cost nothing when unused: a message is built only when a channel has subscribers,
 * and the hot path reads the clock only while something measures times.
 */
import { channel, subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Channel } from 'node:diagnostics_channel';
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
 * `connect()` decides whether a checkout carries a caller context from one flag, `pool._watched`:
 * leak tracking, an observer, or a subscriber on `lifeguard:checkout`/`lifeguard:checkin`. Asking
 * the two channels at every checkout instead cost about 300 instructions a contended cycle
 * (`npm run bench:instructions`): V8 then optimizes the checkout and return chain worse. Node has
 * no event for a subscription, so these two channel objects get own `subscribe`, `unsubscribe`,
 * `bindStore` and `unbindStore` methods that run Node's own and then refresh the flag of every
 * live pool. `diagnostics_channel.subscribe(name, fn)` and `tracingChannel` call those same
 * methods. Several copies of lifeguard in one process share the wrappers (a process-wide symbol)
 * and each refreshes its own pools.
 */
const livePools = new Set<WeakRef<Pool<never>>>();
const forgetPool = new FinalizationRegistry<WeakRef<Pool<never>>>((ref) => {
  livePools.delete(ref);
});

/** @internal A new pool: its flag now, and again whenever a subscription changes. */
export function watchPool<C>(pool: Pool<C>): void {
  const ref = new WeakRef(pool as unknown as Pool<never>);
  livePools.add(ref);
  forgetPool.register(pool, ref);
  refreshWatched(pool);
}

/** @internal Recompute `pool._watched` (a subscription or an observer changed). */
export function refreshWatched<C>(pool: Pool<C>): void {
  pool._watched = !subscriptionHookWorks || pool._tracksOrigin || pool._observers.length !== 0 || timedChannelsActive();
}

function refreshAllPools(): void {
  for (const ref of livePools) {
    const pool = ref.deref();
    if (pool !== undefined) refreshWatched(pool);
  }
}

const SUBSCRIPTION_WATCHERS = Symbol.for('lifeguard.subscriptionWatchers');
const SUBSCRIPTION_METHODS = ['subscribe', 'unsubscribe', 'bindStore', 'unbindStore'] as const;
type WatchedChannel = Channel & { [SUBSCRIPTION_WATCHERS]?: Set<() => void> };
type ChannelMethod = (this: Channel, ...args: unknown[]) => unknown;

function onSubscriptionChange(target: WatchedChannel, watcher: () => void): void {
  let watchers = target[SUBSCRIPTION_WATCHERS];
  if (watchers === undefined) {
    const all = new Set<() => void>();
    watchers = all;
    Object.defineProperty(target, SUBSCRIPTION_WATCHERS, { value: all });
    for (const name of SUBSCRIPTION_METHODS) {
      if (typeof (target as unknown as Record<string, unknown>)[name] !== 'function') continue;
      Object.defineProperty(target, name, {
        configurable: true,
        writable: true,
        value(this: Channel, ...args: unknown[]): unknown {
          try {
            // Node's method for the channel's current state (Channel or ActiveChannel).
            const method = (Object.getPrototypeOf(this) as Record<string, ChannelMethod>)[name] as ChannelMethod;
            return Reflect.apply(method, this, args);
          } finally {
            for (const each of all) each();
          }
        },
      });
    }
  }
  watchers.add(watcher);
}

/**
 * Whether a subscription on this Node reaches the wrappers, tried once on a throw-away channel. If
 * it does not (a Node whose `diagnostics_channel` no longer subscribes through the channel
 * object's own method), every pool counts as watched: checkouts carry a context and the channels
 * are asked at delivery, which is correct, only slower.
 */
function probeSubscriptionHook(): boolean {
  try {
    const probe = channel(`lifeguard:subscription-probe:${process.pid}:${Math.random().toString(36).slice(2)}`) as WatchedChannel;
    let changes = 0;
    onSubscriptionChange(probe, () => {
      changes++;
    });
    const listener = (): void => {};
    subscribe(probe.name, listener);
    const subscribed = probe.hasSubscribers && changes >= 1;
    unsubscribe(probe.name, listener);
    return subscribed && changes >= 2 && !probe.hasSubscribers;
  } catch {
    return false;
  }
}

/** @internal Exported for the tests. */
export const subscriptionHookWorks = probeSubscriptionHook();

onSubscriptionChange(checkoutChannel, refreshAllPools);
onSubscriptionChange(checkinChannel, refreshAllPools);

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
  refreshWatched(pool);
  return () => {
    pool._observers = pool._observers.filter((each) => each !== observer);
    refreshWatched(pool);
  };
}
