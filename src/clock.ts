/**
 * The pool's clock. Every duration the pool measures (recycle age, waiter deadlines) comes from the
 * monotonic `performance.now()`, so a wall-clock jump (NTP, a suspended VM) never recycles a whole
 * pool at once or times a waiter out early. Timestamps shown to users are the monotonic reading
 * offset to the epoch, so they read like `Date.now()` but never go backwards.
 */
export const monotonicNow: () => number = performance.now.bind(performance);

/** A monotonic reading expressed as epoch milliseconds. */
export function toEpochMs(monotonic: number): number {
  return performance.timeOrigin + monotonic;
}
