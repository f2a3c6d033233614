import { runDetached } from './context.js';

/** The longest delay `setTimeout` honours (about 24.8 days); longer deadlines are as good as none. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Races `attempt` against a timer of `ms`. On expiry the promise rejects with `onExpire()`, and a
 * value that `attempt` delivers afterwards goes to `onLate` (so a late connection is terminated,
 * never leaked); a late rejection is swallowed. `background` unrefs the timer: background work
 * (a keep-alive ping, a `minIdle` connect) never keeps the process alive. A caller's own deadline
 * stays ref'd, so a process never exits while someone awaits it.
 */
export function withDeadline<T>(
  attempt: Promise<T>,
  ms: number,
  onExpire: () => Error,
  onLate: (value: T) => void,
  background: boolean,
): Promise<T> {
  if (ms >= MAX_TIMER_MS) return attempt;
  return new Promise<T>((resolve, reject) => {
    let expired = false;
    const timer = runDetached(() =>
      setTimeout(() => {
        expired = true;
        reject(onExpire());
      }, ms),
    );
    if (background) timer.unref();
    attempt.then(
      (value) => {
        if (expired) onLate(value);
        else {
          clearTimeout(timer);
          resolve(value);
        }
      },
      (error: unknown) => {
        if (expired) return;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
