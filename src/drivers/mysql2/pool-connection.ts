/**
 * The connection a `Mysql2Pool` hands out: the mysql2 callback-API connection itself, seen through a
 * `Proxy` that adds what a mysql2 `PoolConnection` has beyond a plain connection (`release()`,
 * `destroy()` that gives the slot back, `end()` as a release, `promise()`, `Symbol.dispose`).
 *
 * Why a proxy and not the driver connection with patched methods:
 * - The garbage-collection safety net needs an object that only the caller holds. The pool's record
 *   holds the driver connection for its whole life, so a checkout reachable from the driver
 *   connection could never be collected. The proxy is held by the caller alone while it is checked
 *   out (the pool keeps it only while it is idle), so a proxy dropped without `release()` takes its
 *   checkout with it, and lifeguard terminates the connection and returns the slot.
 * - The driver connection stays untouched: the pool's dialect closes it with its own `end()` and
 *   `destroy()`, never with the release semantics a pooled `end()` has.
 * Everything else (`query(...)` returning mysql2's `Query`, so `.stream()` works, `execute`,
 * `beginTransaction`, `threadId`, `config`, events, `instanceof`) is the driver connection's own:
 * methods run bound to it, and property writes (Knex's `__knexUid`) land on it.
 */
import type { Mysql2CoreConnection } from './dialect.js';

/** What a lent connection asks its pool to do. */
export interface LentConnectionOwner<Conn> {
  release(lent: Conn): void;
  destroy(lent: Conn): void;
  /** A pooled `end()`: a release, or with mysql2's `gracefulEnd` a close that gives the slot back. */
  end(lent: Conn): void;
  /** A promise-API view of the lent connection (mysql2's `PromisePoolConnection`). */
  promise(lent: Conn, promiseImpl: unknown): unknown;
}

type AnyFunction = (...args: unknown[]) => unknown;

/**
 * Wraps `conn` for lending. The overrides close over `owner` and the proxy; the driver's methods
 * are bound to `conn` once each (and again only if someone replaces one on the connection).
 */
export function lentConnection<Conn extends Mysql2CoreConnection>(conn: Conn, owner: LentConnectionOwner<Conn>): Conn {
  const bound = new Map<PropertyKey, { original: AnyFunction; bound: AnyFunction }>();
  // Assigned right below: the overrides need the proxy, the proxy needs the overrides.
  let lent = null as unknown as Conn;
  const overrides = new Map<PropertyKey, AnyFunction>([
    ['release', () => { owner.release(lent); }],
    ['destroy', () => { owner.destroy(lent); }],
    [
      'end',
      (callback?: unknown) => {
        owner.end(lent);
        if (typeof callback === 'function') process.nextTick(callback);
      },
    ],
    ['promise', (promiseImpl?: unknown) => owner.promise(lent, promiseImpl)],
    [Symbol.dispose, () => { owner.release(lent); }],
  ]);
  lent = new Proxy(conn, {
    get(target, key) {
      const override = overrides.get(key);
      if (override !== undefined) return override;
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== 'function') return value;
      const cached = bound.get(key);
      if (cached?.original === value) return cached.bound;
      const fn = value as AnyFunction;
      const bind: AnyFunction = fn.bind(target);
      bound.set(key, { original: fn, bound: bind });
      return bind;
    },
    set(target, key, value) {
      return Reflect.set(target, key, value, target);
    },
  });
  return lent;
}
