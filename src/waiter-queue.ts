import { monotonicNow } from './clock.js';
import { runDetached } from './context.js';
import { MAX_TIMER_MS } from './deadline.js';

/** One caller waiting for a slot. A node of the queue's doubly linked list, so removal is O(1). */
interface Waiter<T, X> {
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (error: unknown) => void;
  deadline: number;
  prev: Waiter<T, X> | null;
  next: Waiter<T, X> | null;
  signal: AbortSignal | null;
  onAbort: (() => void) | null;
  /** What the caller carries along (see `Pool`), handed to `deliver`. */
  context: X;
}

/**
 * Turns what a waiter is handed into what it resolves with. A value ready now is delivered as it
 * is; a checkout still under way (connecting, pinging) keeps the waiter's deadline and signal.
 */
export type Deliver<T, X> = (value: T | Promise<T>, context: X, signal: AbortSignal | null, deadline: number) => T | Promise<T>;

/**
 * Callers waiting for a slot, served strictly first come, first served. `handOff` gives a slot to
 * the longest waiter directly, so a returning connection never goes to whoever calls `connect()`
 * next. Every waiter of a pool waits the same `timeout`, so deadlines are in queue order and one
 * shared timer, armed for the head, serves them all; it is cleared whenever the queue empties, so
 * an idle pool holds no timer. An aborted waiter leaves the queue at once.
 *
 * Reading the clock costs 100–150 ns on these machines, a fifth of a contended checkout, so waiters
 * are not stamped one by one: every waiter queued during one run of the event loop's microtasks is
 * stamped with the clock read when that run ends (one `setImmediate`, one read). A timeout is thus
 * never early, and late by at most the length of that run — during which the event loop was
 * blocked and no timer could have fired anyway.
 */
export class WaiterQueue<T, X> {
  #head: Waiter<T, X> | null = null;
  #tail: Waiter<T, X> | null = null;
  #length = 0;
  #timer: NodeJS.Timeout | null = null;
  /** The first waiter not yet stamped with a deadline; every waiter after it is unstamped too. */
  #unstamped: Waiter<T, X> | null = null;
  #stampScheduled = false;
  readonly #timeout: number;
  readonly #onTimeout: () => Error;
  readonly #deliver: Deliver<T, X>;
  readonly #delivered: { checkouts: number };

  /**
   * @param timeout ms each waiter waits; `Infinity` waits forever.
   * @param onTimeout builds the error a timed-out waiter gets.
   * @param deliver turns a hand-off into what the waiter resolves with.
   * @param delivered the pool's counters: a hand-off of a ready value to a waiter with a null
   *   context skips `deliver` and counts the checkout here (what `deliver` would have done).
   */
  constructor(timeout: number, onTimeout: () => Error, deliver: Deliver<T, X>, delivered: { checkouts: number }) {
    this.#timeout = timeout;
    this.#onTimeout = onTimeout;
    this.#deliver = deliver;
    this.#delivered = delivered;
  }

  get length(): number {
    return this.#length;
  }

  /** Wait for a hand-off. Rejects with the timeout error, or with the signal's reason when it aborts. */
  wait(signal: AbortSignal | null, context: X): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T, X> = { resolve, reject, deadline: Infinity, prev: this.#tail, next: null, signal: null, onAbort: null, context };
      if (this.#timeout !== Infinity && this.#unstamped === null) {
        this.#unstamped = waiter;
        if (!this.#stampScheduled) {
          this.#stampScheduled = true;
          runDetached(() => setImmediate(this.#stamp));
        }
      }
      if (signal !== null) {
        const onAbort = (): void => {
          if (this.#unlink(waiter)) reject(signal.reason as Error);
        };
        waiter.signal = signal;
        waiter.onAbort = onAbort;
        signal.addEventListener('abort', onAbort, { once: true });
      }
      if (this.#tail === null) this.#head = waiter;
      else this.#tail.next = waiter;
      this.#tail = waiter;
      this.#length++;
    });
  }

  /**
   * Give `value` to the longest waiter. Returns false when nobody waits. A waiter queued in the
   * microtask run still going on has no deadline stamped yet: its clock starts now.
   */
  handOff(value: T | Promise<T>): boolean {
    const waiter = this.#head;
    if (waiter === null) return false;
    this.#unlink(waiter);
    if (waiter.context === null && !(value instanceof Promise)) {
      // The common case, without a call: a checkout ready now, for a caller nobody watches.
      this.#delivered.checkouts++;
      waiter.resolve(value);
    } else this.#deliverTo(waiter, value);
    return true;
  }

  /** A hand-off of a checkout still under way, or to a caller something watches: through `deliver`. */
  #deliverTo(waiter: Waiter<T, X>, value: T | Promise<T>): void {
    let deadline = waiter.deadline;
    if (deadline === Infinity && this.#timeout !== Infinity && value instanceof Promise) deadline = monotonicNow() + this.#timeout;
    waiter.resolve(this.#deliver(value, waiter.context, waiter.signal, deadline));
  }

  /** Reject every waiter with `error` (pool closed). */
  rejectAll(error: unknown): void {
    let waiter = this.#head;
    while (waiter !== null) {
      const next = waiter.next;
      this.#unlink(waiter);
      waiter.reject(error);
      waiter = next;
    }
  }

  /** Take a waiter out of the list; false if it already left (served, timed out or aborted). */
  #unlink(waiter: Waiter<T, X>): boolean {
    const { prev, next } = waiter;
    if (prev === null && this.#head !== waiter) return false;
    if (this.#unstamped === waiter) this.#unstamped = next;
    if (prev === null) this.#head = next;
    else prev.next = next;
    if (next === null) this.#tail = prev;
    else next.prev = prev;
    waiter.prev = waiter.next = null;
    this.#length--;
    if (waiter.onAbort !== null) {
      (waiter.signal as AbortSignal).removeEventListener('abort', waiter.onAbort);
      waiter.onAbort = null;
    }
    if (this.#length === 0 && this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    return true;
  }

  /** End of a microtask run: waiters queued during it start their clock now. */
  readonly #stamp = (): void => {
    this.#stampScheduled = false;
    let waiter = this.#unstamped;
    if (waiter === null) return;
    this.#unstamped = null;
    const deadline = monotonicNow() + this.#timeout;
    for (; waiter !== null; waiter = waiter.next) waiter.deadline = deadline;
    if (this.#timer === null) this.#arm(this.#timeout);
  };

  #arm(delay: number): void {
    // setTimeout fires after 1 ms for delays past 2^31-1 ms; arm for at most that, and #expire re-arms.
    const ms = Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(delay)));
    this.#timer = runDetached(() => setTimeout(this.#expire, ms));
  }

  readonly #expire = (): void => {
    this.#timer = null;
    const now = monotonicNow();
    let waiter = this.#head;
    while (waiter !== null && waiter.deadline <= now) {
      this.#unlink(waiter);
      waiter.reject(this.#onTimeout());
      waiter = this.#head;
    }
    // An unstamped head is armed by #stamp once its microtask run ends.
    if (waiter !== null && waiter.deadline !== Infinity) this.#arm(waiter.deadline - now);
  };
}
