import type { ConnectionRecord } from './connection-record.js';
import type { PooledConnection } from './pooled-connection.js';
import { isPromise } from './awaitable.js';

/** What the `reset` event is told: `terminateOnly` when the connection is about to be terminated, not reset. */
export interface ResetState {
  readonly terminateOnly: boolean;
}

type Awaitable = void | Promise<void>;

/**
 * The pool's events (SPEC section 7). Listeners run in registration order (`prepend` puts one first)
 * and may be async: the pool awaits each before the next.
 */
export interface PoolEvents<C> {
  /** After the first successful connect of this pool, before `connect`; retried until it succeeds. */
  firstConnect: (conn: C, record: ConnectionRecord<C>) => Awaitable;
  /** After every successful connect: new, reconnect or recycle. A throw closes that connection. */
  connect: (conn: C, record: ConnectionRecord<C>) => Awaitable;
  /** At every outermost checkout. Throw `DisconnectionError` to have the connection replaced. */
  checkout: (conn: C, record: ConnectionRecord<C>, pooled: PooledConnection<C>) => Awaitable;
  /** When a record goes back to the pool; `conn` is `null` when it was invalidated. */
  checkin: (conn: C | null, record: ConnectionRecord<C>) => Awaitable;
  /** Before the rollback/commit of a live connection being returned, or closed after a detach. */
  reset: (conn: C, record: ConnectionRecord<C> | null, state: ResetState) => Awaitable;
  invalidate: (conn: C, record: ConnectionRecord<C>, error?: unknown) => Awaitable;
  softInvalidate: (conn: C, record: ConnectionRecord<C>, error?: unknown) => Awaitable;
  /** Before a record's connection is closed. */
  close: (conn: C, record: ConnectionRecord<C>) => Awaitable;
  /** After a connection is detached from its record. */
  detach: (conn: C, record: ConnectionRecord<C>) => Awaitable;
  /** Before a detached connection is closed. */
  closeDetached: (conn: C) => Awaitable;
}

export type PoolEventName = keyof PoolEvents<unknown>;

export const POOL_EVENT_NAMES: readonly PoolEventName[] = Object.freeze([
  'firstConnect',
  'connect',
  'checkout',
  'checkin',
  'reset',
  'invalidate',
  'softInvalidate',
  'close',
  'detach',
  'closeDetached',
]);

/** SQLAlchemy's legacy listener object: any of these methods, adapted to events. */
export interface PoolListener<C> {
  connect(conn: C, record: ConnectionRecord<C>): Awaitable;
  firstConnect(conn: C, record: ConnectionRecord<C>): Awaitable;
  checkout(conn: C, record: ConnectionRecord<C>, pooled: PooledConnection<C>): Awaitable;
  checkin(conn: C | null, record: ConnectionRecord<C>): Awaitable;
}

type AnyListener = (a: unknown, b: unknown, c: unknown) => Awaitable;

/**
 * Listener lists, one array per event. Arrays are replaced, never mutated, on `on`/`off`, so an
 * emit in progress keeps the list it started with, and the hot path can test `lists.checkout.length`.
 */
export class EventHub {
  readonly lists: Record<PoolEventName, readonly AnyListener[]>;

  constructor() {
    const lists = {} as Record<PoolEventName, readonly AnyListener[]>;
    for (const name of POOL_EVENT_NAMES) lists[name] = [];
    this.lists = lists;
  }

  on(name: PoolEventName, listener: AnyListener, prepend: boolean): void {
    const list = this.lists[name];
    this.lists[name] = prepend ? [listener, ...list] : [...list, listener];
  }

  off(name: PoolEventName, listener: AnyListener): void {
    const list = this.lists[name];
    const index = list.lastIndexOf(listener);
    if (index !== -1) this.lists[name] = [...list.slice(0, index), ...list.slice(index + 1)];
  }

  copyFrom(other: EventHub): void {
    for (const name of POOL_EVENT_NAMES) this.lists[name] = other.lists[name];
  }
}

/**
 * Runs listeners in order, synchronously until one returns a promise; from there each is awaited
 * before the next. A throw (or rejection) stops the run and reaches the caller.
 */
export function emit(list: readonly AnyListener[], a: unknown, b?: unknown, c?: unknown): Awaitable {
  for (let i = 0; i < list.length; i++) {
    const result = (list[i] as AnyListener)(a, b, c);
    if (isPromise(result)) return finishAsync(list, i + 1, result, a, b, c);
  }
  return undefined;
}

async function finishAsync(list: readonly AnyListener[], from: number, pending: Promise<void>, a: unknown, b: unknown, c: unknown): Promise<void> {
  await pending;
  for (let i = from; i < list.length; i++) await (list[i] as AnyListener)(a, b, c);
}
