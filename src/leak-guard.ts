import type { ConnectionRecord } from './connection-record.js';
import { runDetached } from './context.js';
import type { PooledConnection } from './pooled-connection.js';

/** What the registry keeps of a checkout: never the `PooledConnection` itself, or it could not be collected. */
export interface AbandonedCheckout<C> {
  readonly record: ConnectionRecord<C>;
  /** Where `connect()` was called, when the pool tracks leaks. */
  readonly origin: Error | undefined;
}

const REGISTERED = -2;

/** ms a checkout stays out before it is registered: between one and two of these. */
export const LEAK_GUARD_PERIOD_MS = 500;

/**
 * The garbage-collection safety net (SPEC section 4): a checkout that is dropped without `close()`
 * must not take its slot with it. A `FinalizationRegistry` reports the dropped `PooledConnection`,
 * and the pool terminates its connection and returns the slot.
 *
 * Registering and unregistering cost ~0.5 µs together on these machines, and more in the garbage
 * collector's weak-reference processing: under a real database workload, where every checkout
 * outlives the macrotask it began in, that was 2–3 µs of CPU per query. So registration is
 * deferred by time: a checkout only goes into a bag (O(1) insert and removal), and a timer run
 * every {@link LEAK_GUARD_PERIOD_MS} registers the checkouts tracked before its previous run, that
 * is, out for at least one period. A checkout returned sooner, which is almost
 * every checkout, never touches the registry. A leaked one is held by the bag until it is
 * registered, then collected like any other: the net catches it up to two periods late, and it
 * was never the mechanism (SPEC section 4), only the net. The timer is unref'd and runs only while
 * the bags hold something.
 */
export class LeakGuard<C> {
  /** Checkouts not yet registered, in slots `0..#count-1`; never shrinks (a pop that shrinks it costs a reallocation at the next push). */
  readonly #bag: (PooledConnection<C> | undefined)[] = [];
  #count = 0;
  /** Periods elapsed; a checkout remembers the one it was tracked in (`_guardEpoch`). */
  #epoch = 0;
  #timer: NodeJS.Timeout | null = null;
  readonly #registry: FinalizationRegistry<AbandonedCheckout<C>>;
  readonly #tick = (): void => {
    this.#timer = null;
    this.#registerBefore(this.#epoch);
    this.#epoch++;
    if (this.#count !== 0) this.#arm();
  };

  constructor(onAbandoned: (checkout: AbandonedCheckout<C>) => void) {
    this.#registry = new FinalizationRegistry(onAbandoned);
  }

  track(pooled: PooledConnection<C>): void {
    const slot = this.#count++;
    pooled._guardSlot = slot;
    pooled._guardEpoch = this.#epoch;
    this.#bag[slot] = pooled;
    if (this.#timer === null) this.#arm();
  }

  /** The checkout is returned or detached: forget it. O(1). */
  release(pooled: PooledConnection<C>): void {
    const slot = pooled._guardSlot;
    if (slot >= 0) {
      const bag = this.#bag;
      const lastSlot = --this.#count;
      if (slot !== lastSlot) {
        const last = bag[lastSlot] as PooledConnection<C>;
        bag[slot] = last;
        last._guardSlot = slot;
      }
      bag[lastSlot] = undefined;
    } else if (slot === REGISTERED) {
      this.#registry.unregister(pooled);
    }
    pooled._guardSlot = -1;
  }

  /** @internal Register every checkout out now, without waiting for the timer (tests). */
  flush(): void {
    this.#registerBefore(Infinity);
  }

  /** Register the checkouts tracked before `epoch`; keep the rest, packed at the front. */
  #registerBefore(epoch: number): void {
    const bag = this.#bag;
    const count = this.#count;
    let kept = 0;
    for (let i = 0; i < count; i++) {
      const pooled = bag[i] as PooledConnection<C>;
      bag[i] = undefined;
      if (pooled._guardEpoch >= epoch) {
        bag[kept] = pooled;
        pooled._guardSlot = kept++;
        continue;
      }
      const record = pooled.record;
      if (record === null) {
        pooled._guardSlot = -1;
        continue;
      }
      this.#registry.register(pooled, { record, origin: pooled._origin }, pooled);
      pooled._guardSlot = REGISTERED;
    }
    this.#count = kept;
  }

  #arm(): void {
    this.#timer = runDetached(() => setTimeout(this.#tick, LEAK_GUARD_PERIOD_MS));
    this.#timer.unref();
  }
}
