import type { ConnectionRecord } from './connection-record.js';
import type { PooledConnection } from './pooled-connection.js';

/** What the registry keeps of a checkout: never the `PooledConnection` itself, or it could not be collected. */
export interface AbandonedCheckout<C> {
  readonly record: ConnectionRecord<C>;
  /** Where `connect()` was called, when the pool tracks leaks. */
  readonly origin: Error | undefined;
}

const REGISTERED = -2;

/**
 * The garbage-collection safety net (SPEC section 4): a checkout that is dropped without `close()`
 * must not take its slot with it. A `FinalizationRegistry` reports the dropped `PooledConnection`,
 * and the pool terminates its connection and returns the slot.
 *
 * Registering costs ~400 ns on these machines, twice a whole uncontended checkout, so it is
 * deferred: a checkout is only remembered in `#pending` (an O(1) indexed bag) until the current
 * macrotask ends, and only checkouts still outstanding then are registered. The common checkout
 * that is returned within the same macrotask never touches the registry. A checkout dropped before
 * the flush is held until the flush, then collected like any other: the net catches it one turn late.
 */
export class LeakGuard<C> {
  /** Slots `0..#pendingCount-1` hold checkouts; the array never shrinks (a pop that shrinks it costs a reallocation at the next push). */
  readonly #pending: (PooledConnection<C> | undefined)[] = [];
  #pendingCount = 0;
  readonly #registry: FinalizationRegistry<AbandonedCheckout<C>>;
  #flushScheduled = false;
  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const pending = this.#pending;
    for (let i = 0; i < this.#pendingCount; i++) {
      const pooled = pending[i] as PooledConnection<C>;
      pending[i] = undefined;
      const record = pooled.record;
      if (record === null) continue;
      this.#registry.register(pooled, { record, origin: pooled._origin }, pooled);
      pooled._guardSlot = REGISTERED;
    }
    this.#pendingCount = 0;
  };

  constructor(onAbandoned: (checkout: AbandonedCheckout<C>) => void) {
    this.#registry = new FinalizationRegistry(onAbandoned);
  }

  track(pooled: PooledConnection<C>): void {
    const slot = this.#pendingCount++;
    pooled._guardSlot = slot;
    this.#pending[slot] = pooled;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flush);
    }
  }

  /** The checkout is returned or detached: forget it. O(1). */
  release(pooled: PooledConnection<C>): void {
    const slot = pooled._guardSlot;
    if (slot >= 0) {
      const pending = this.#pending;
      const lastSlot = --this.#pendingCount;
      if (slot !== lastSlot) {
        const last = pending[lastSlot] as PooledConnection<C>;
        pending[slot] = last;
        last._guardSlot = slot;
      }
      pending[lastSlot] = undefined;
    } else if (slot === REGISTERED) {
      this.#registry.unregister(pooled);
    }
    pooled._guardSlot = -1;
  }
}
