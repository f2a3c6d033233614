import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The "thread" of `useContextLocal` and `SingletonContextPool`: an async context opened by
 * `pool.scope(fn)`. Each scope gets a fresh store; code outside any scope uses the pool's root store.
 * Stores are keyed by pool, so one scope serves every pool used inside it.
 */
export type ContextStore = Map<object, unknown>;

const storage = new AsyncLocalStorage<ContextStore>();

export function currentStore(root: ContextStore): ContextStore {
  return storage.getStore() ?? root;
}

export function runInNewScope<T>(fn: () => Promise<T>): Promise<T> {
  return storage.run(new Map(), fn);
}

/**
 * A function that runs its argument in the async context of the moment it was made. The pool makes
 * one at construction and opens connections and arms timers through it, so a long-lived socket or
 * timer never captures (and keeps alive) the context of whichever request happened to trigger it.
 */
export function detachedRunner(): <R>(fn: () => R) => R {
  const snapshot = AsyncLocalStorage.snapshot();
  return <R>(fn: () => R): R => snapshot(fn);
}
