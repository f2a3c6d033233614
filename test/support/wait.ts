/**
 * Bounded waits for tests. The pool's background timers are unref'd (they must never keep a
 * finished process alive), so a test awaiting something they cause would leave node:test with an
 * empty event loop and a cancelled test. Every wait here holds a ref'd timer of its own: its bound.
 */
import type { EventSource } from './mock-driver.js';

/** Rejects with a clear message after `ms`; the timer is ref'd and cleared when `work` settles. */
export function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`timed out after ${ms}ms waiting for ${what}`)); }, ms);
  });
  return Promise.race([work, bound]).finally(() => { clearTimeout(timer); });
}

/** The arguments of the next `event` of `pool` that `filter` accepts (default: any). */
export function nextEvent(pool: EventSource, event: string, filter: (...args: any[]) => boolean = () => true, ms = 5000): Promise<unknown[]> {
  let listener: ((...args: unknown[]) => void) | undefined;
  const seen = new Promise<unknown[]>((resolve) => {
    listener = (...args: unknown[]) => {
      if (filter(...args)) resolve(args);
    };
    pool.on(event, listener);
  });
  return within(seen, ms, `the pool's '${event}' event`).finally(() => { pool.off(event, listener); });
}

/** `count` occurrences of `event` (from now on). */
export function events(pool: EventSource, event: string, count: number, ms = 5000): Promise<unknown[][]> {
  const got: unknown[][] = [];
  let listener: ((...args: unknown[]) => void) | undefined;
  const seen = new Promise<unknown[][]>((resolve) => {
    listener = (...args: unknown[]) => {
      got.push(args);
      if (got.length === count) resolve(got);
    };
    pool.on(event, listener);
  });
  return within(seen, ms, `${count} '${event}' event(s) (saw ${got.length})`).finally(() => { pool.off(event, listener); });
}

/**
 * Re-checks `check` on every turn of the event loop (and at least every 5 ms) until it holds.
 * For states no event announces; prefer `nextEvent` where one does.
 */
export function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  // The poll stops when the bound does: a check that never passes must fail the test, not keep
  // the runner alive with a timer that re-arms forever.
  let stopped = false;
  const polled = new Promise<void>((resolve) => {
    const poll = (): void => {
      if (check()) resolve();
      else if (!stopped) setTimeout(poll, 1);
    };
    poll();
  });
  return within(polled, ms, what).finally(() => {
    stopped = true;
  });
}
