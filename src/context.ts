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

/** The current `scope()` store, or `undefined` outside any scope. */
export function scopeStore(): ContextStore | undefined {
  return storage.getStore();
}

const moduleSnapshot = AsyncLocalStorage.snapshot();

/**
 * Runs `fn` in the async context of the moment this module was loaded (no request's). Pools open
 * connections and arm timers through it, so a long-lived socket or timer never captures, and keeps
 * alive, the context of whichever request triggered it, even for a pool built lazily inside a
 * request (as `manage()` does).
 */
export function runDetached<R>(fn: () => R): R {
  return moduleSnapshot(fn);
}
