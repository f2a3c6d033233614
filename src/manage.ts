import { ArgumentError } from './errors.js';
import type { PoolOptions } from './options.js';
import { invalid } from './options.js';
import type { Pool } from './pool.js';
import type { PooledConnection } from './pooled-connection.js';
import { QueuePool } from './pools/queue-pool.js';

/** Anything with a `connect(...args)` that opens a driver connection (SQLAlchemy's DB-API module). */
export interface ManagedDriver<C> {
  connect(...args: never[]): C | Promise<C>;
}

/** A pool class `manage()` can build: any lifeguard pool constructor. */
export type PoolClass<C> = new (options: PoolOptions<C> & Record<string, unknown>) => Pool<C>;

export interface ManageOptions<C> extends Omit<PoolOptions<C>, 'creator'> {
  /** The pool class for each distinct set of arguments. Default `QueuePool`. */
  poolClass?: PoolClass<C>;
  /** Any further option is passed to each pool (e.g. `poolSize` for QueuePool). */
  [option: string]: unknown;
}

/** Canonical text of a value, equal for equal values: object key order is ignored. */
function canonical(value: unknown, seen: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'string':
      return JSON.stringify(value);
    case 'number':
    case 'boolean':
      return String(value);
    case 'bigint':
      return `${value}n`;
    case 'function':
    case 'symbol':
      throw invalid('connect arguments', 'plain data (strings, numbers, objects, arrays, dates, buffers)', value);
  }
  if (seen.has(value)) throw new ArgumentError('Invalid connect arguments: they contain a cycle');
  if (value instanceof Date) return `Date(${value.toISOString()})`;
  if (value instanceof Uint8Array) return `Bytes(${Buffer.from(value).toString('base64')})`;
  if (value instanceof URL) return `URL(${JSON.stringify(value.href)})`;
  // A Map, a class instance...: Object.keys would see nothing and key them all alike, handing one
  // caller's connections to another. Refuse what cannot be compared by value.
  if (!Array.isArray(value) && !isPlainObject(value)) {
    throw invalid('connect arguments', 'plain data (strings, numbers, plain objects, arrays, dates, URLs, buffers)', value);
  }
  seen.add(value);
  try {
    if (Array.isArray(value)) return `[${value.map((item) => canonical(item, seen)).join(',')}]`;
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical((value)[key], seen)}`).join(',')}}`;
  } finally {
    seen.delete(value);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Splits off a trailing `{ poolKey }`: the key names the pool and never reaches the driver. */
function splitPoolKey(args: readonly unknown[]): { driverArgs: unknown[]; poolKey: string | undefined } {
  const last = args[args.length - 1];
  if (!isPlainObject(last) || !Object.hasOwn(last, 'poolKey')) return { driverArgs: [...args], poolKey: undefined };
  const { poolKey, ...rest } = last;
  if (typeof poolKey !== 'string' || poolKey === '') throw invalid('poolKey', 'a non-empty string', poolKey);
  const driverArgs = args.slice(0, -1);
  if (Object.keys(rest).length !== 0) driverArgs.push(rest);
  return { driverArgs, poolKey };
}

/** The pool key for a call's arguments: its `poolKey`, or the arguments' canonical text. */
function keyOf(args: readonly unknown[]): { driverArgs: unknown[]; argsKey: string; key: string; poolKey: string | undefined } {
  const { driverArgs, poolKey } = splitPoolKey(args);
  const argsKey = canonical(driverArgs, new Set());
  return { driverArgs, argsKey, key: poolKey === undefined ? `args:${argsKey}` : `key:${poolKey}`, poolKey };
}

/**
 * Pools keyed by connect arguments (SQLAlchemy's `_DBProxy`): one pool per distinct set of
 * arguments, compared by value, so connections opened with one set of credentials are never handed
 * to a caller who gave another.
 */
export class DBProxy<C> {
  readonly #driver: ManagedDriver<C>;
  readonly #options: ManageOptions<C>;
  readonly #pools = new Map<string, { pool: Pool<C>; args: string }>();

  constructor(driver: ManagedDriver<C>, options: ManageOptions<C> = {}) {
    if (typeof driver !== 'object' || typeof (driver as Partial<ManagedDriver<C>> | null)?.connect !== 'function') {
      throw invalid('driver', 'an object with a connect(...args) method', driver);
    }
    if (options.poolClass !== undefined && typeof options.poolClass !== 'function') throw invalid('poolClass', 'a pool class', options.poolClass);
    this.#driver = driver;
    this.#options = options;
  }

  /** Check out from the pool for these arguments (created on first use). */
  connect(...args: unknown[]): Promise<PooledConnection<C>> {
    let pool: Pool<C>;
    try {
      pool = this.getPool(...args);
    } catch (error) {
      return Promise.reject(error);
    }
    return pool.connect();
  }

  /** The pool for these arguments, created on first use. */
  getPool(...args: unknown[]): Pool<C> {
    const { driverArgs, argsKey, key, poolKey } = keyOf(args);
    const existing = this.#pools.get(key);
    if (existing !== undefined) {
      if (existing.args !== argsKey) {
        throw new ArgumentError(`poolKey '${String(poolKey)}' is already used with other connect arguments; a pool never hands one caller's connections to another`);
      }
      return existing.pool;
    }
    const { poolClass = QueuePool, ...poolOptions } = this.#options;
    const driver = this.#driver;
    const pool = new poolClass({
      ...poolOptions,
      creator: () => (driver.connect as (...a: unknown[]) => C | Promise<C>)(...driverArgs),
    });
    this.#pools.set(key, { pool, args: argsKey });
    return pool;
  }

  /** Dispose and forget the pool for these arguments, if there is one. */
  async dispose(...args: unknown[]): Promise<void> {
    const { key } = keyOf(args);
    const entry = this.#pools.get(key);
    if (entry === undefined) return;
    this.#pools.delete(key);
    await entry.pool.dispose();
  }

  /** Dispose every pool and forget them all. */
  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map(({ pool }) => pool.dispose()));
  }

  /** How many pools exist. */
  get size(): number {
    return this.#pools.size;
  }
}

/**
 * Wrap a driver module so its `connect(...args)` is pooled per argument set.
 *
 * @example
 * const proxy = manage({ connect: (url: string) => openConnection(url) }, { poolSize: 5 });
 * const pc = await proxy.connect('postgres://app@db/app');
 */
export function manage<C>(driver: ManagedDriver<C>, options?: ManageOptions<C>): DBProxy<C> {
  return new DBProxy(driver, options);
}


