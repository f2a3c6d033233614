/**
 * `createPool(url, options?)`: a pool of real driver connections from a database URL (SPEC section 10).
 *
 * The driver for a scheme is loaded with a dynamic `import()` the first time that scheme is used, so
 * lifeguard itself never depends on a driver; a missing one is reported with the package to
 * install. The password in the URL never reaches a log line, an error message, `loggingName` or
 * `status()`: everything lifeguard says about the URL goes through {@link redactUrl}.
 */
import { resolve as resolvePath } from 'node:path';
import type { Dialect } from './dialect.js';
import { mariadbDialect } from './dialects/mariadb.js';
import type { MariadbConnection } from './dialects/mariadb.js';
import { mysql2Dialect } from './dialects/mysql2.js';
import type { Mysql2Connection } from './dialects/mysql2.js';
import { betterSqlite3Dialect } from './dialects/better-sqlite3.js';
import type { BetterSqlite3Database } from './dialects/better-sqlite3.js';
import { noop } from './dialects/common.js';
import { pgDialect } from './dialects/pg.js';
import type { PgClient, PgSessionReset } from './dialects/pg.js';
import { pgliteDialect } from './dialects/pglite.js';
import type { PgliteDatabase } from './dialects/pglite.js';
import { ArgumentError } from './errors.js';
import type { PoolClass } from './manage.js';
import type { PoolOptions } from './options.js';
import type { Pool } from './pool.js';
import { NullPool } from './pools/null-pool.js';
import { QueuePool } from './pools/queue-pool.js';
import type { QueuePoolOptions } from './pools/queue-pool.js';
import { SingletonContextPool } from './pools/singleton-context-pool.js';

/** Options of the built-in dialect `createPool` picks for the URL's scheme. */
export interface CreatePoolDialectOptions {
  /**
   * Reset the session when a connection comes back (after the rollback or commit). Default `false`.
   * PostgreSQL: `true`/`'discard-all'` (`DISCARD ALL`) or `'keep-prepared'`, see `lifeguard/pg`;
   * MySQL/MariaDB: `true` (COM_RESET_CONNECTION); PGlite: `true` (`DISCARD ALL`); SQLite: not supported.
   */
  sessionReset?: PgSessionReset;
  /** pg, mysql2, mariadb: how long a polite close may take before the socket is destroyed (ms). */
  closeTimeout?: number;
  /** mariadb: a ping answered later than this (ms) fails. */
  pingTimeout?: number;
}

/** `createPool`'s options: the pool's options (without `creator`) plus a few about the driver. */
export interface CreatePoolOptions<C> extends Omit<QueuePoolOptions<C>, 'creator' | 'dialect'> {
  /** The pool class. Default `QueuePool`. */
  poolClass?: PoolClass<C>;
  /** Replaces the scheme's built-in dialect. */
  dialect?: Dialect<C>;
  /** Options for the built-in dialect (ignored when `dialect` is given). */
  dialectOptions?: CreatePoolDialectOptions;
  /**
   * Extra options for the driver's connect call (e.g. `ssl`, `connectionTimeoutMillis` for pg,
   * `connectTimeout` for mysql2/mariadb, `readonly` for better-sqlite3, PGlite's options).
   * Values in the URL (its host, port, user, password, database and query parameters) win over these.
   */
  connectOptions?: Record<string, unknown>;
  /** Any further option is passed to the pool class (e.g. `storeTraceback` for AssertionPool). */
  [option: string]: unknown;
}

const SECRET_PARAMS = /([?&;](?:password|passwd|pass|pwd|secret|token|access_token|api_?key|sslpassword|sslkey|auth)=)[^&#;]*/gi;

/**
 * The URL with its password (and any query parameter named like a secret: `password`, `token`,
 * `sslpassword`, ...) replaced by `***`. Works on strings that are not valid URLs too, and errs
 * on the side of hiding too much: everything between the user name's `:` and the last `@` of the
 * authority goes, so a password with an unescaped `@` or `/` does not leak its tail.
 *
 * @example
 * redactUrl('postgres://app:s3cret@db:5432/app') // 'postgres://app:***@db:5432/app'
 */
export function redactUrl(url: string): string {
  let out = url;
  const schemeEnd = out.indexOf('://');
  if (schemeEnd !== -1) {
    const authorityStart = schemeEnd + 3;
    // The last '@' anywhere: a password may hold an unescaped '?', '#' or '/'. (An '@' in a query
    // value then hides the host too: too much hidden, never too little.)
    const lastAt = out.lastIndexOf('@');
    if (lastAt >= authorityStart) {
      const colon = out.indexOf(':', authorityStart);
      if (colon !== -1 && colon < lastAt) out = `${out.slice(0, colon + 1)}***${out.slice(lastAt)}`;
    }
  }
  return out.replace(SECRET_PARAMS, '$1***');
}

// ------------------------------------------------------------------------------ driver loading

/**
 * Imports a driver module, turning "not installed" into an `ArgumentError` that names the package
 * to install. `packageName` is what `npm install` needs; `specifier` what to import (they differ for
 * `mysql2/promise`).
 */
export async function importDriver(packageName: string, scheme: string, specifier: string = packageName): Promise<unknown> {
  try {
    return (await import(specifier)) as unknown;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    const message = error instanceof Error ? error.message : String(error);
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(packageName)) {
      throw new ArgumentError(
        `createPool: the '${scheme}' scheme needs the '${packageName}' package, which is not installed. Install it with: npm install ${packageName}`,
        { cause: error },
      );
    }
    throw new ArgumentError(`createPool: the '${packageName}' driver is installed but could not be loaded: ${message}`, { cause: error });
  }
}

/** A CommonJS driver imported from ESM has its exports on `default`. */
function exportsOf(module: unknown): Record<string, unknown> {
  const record = module as Record<string, unknown>;
  const inner = record.default;
  return inner !== null && (typeof inner === 'object' || typeof inner === 'function') ? (inner as Record<string, unknown>) : record;
}

function member(module: unknown, name: string, packageName: string): unknown {
  const exports = exportsOf(module);
  const value = name === 'default' ? exports : exports[name];
  if (typeof value !== 'function') {
    throw new ArgumentError(`createPool: the installed '${packageName}' package has no ${name === 'default' ? 'default export' : `'${name}' export`}; is it a supported version?`);
  }
  return value;
}

// ------------------------------------------------------------------------------ URL parsing

type Scheme = 'postgres' | 'mysql' | 'mariadb' | 'sqlite' | 'pglite';

function schemeOf(url: string): Scheme {
  const match = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  const name = match?.[1]?.toLowerCase();
  switch (name) {
    case 'postgres':
    case 'postgresql':
      return 'postgres';
    case 'mysql':
    case 'mariadb':
    case 'sqlite':
    case 'pglite':
      return name;
    default:
      throw new ArgumentError(
        `createPool: unsupported URL ${JSON.stringify(redactUrl(url))}; expected a postgres://, postgresql://, mysql://, mariadb://, sqlite: or pglite: URL`,
      );
  }
}

function parseServerUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not as cause: Node's URL error carries the whole input, password included.
    throw new ArgumentError(`createPool: invalid database URL ${JSON.stringify(redactUrl(url))}`);
  }
  if (parsed.hostname === '') throw new ArgumentError(`createPool: the URL ${JSON.stringify(redactUrl(url))} names no host`);
  return parsed;
}

function decode(text: string, url: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ArgumentError(`createPool: invalid percent-encoding in ${JSON.stringify(redactUrl(url))}`);
  }
}

/** `"true"`, `"10"`, `"{...}"` become JSON values; anything else stays a string (mysql2's rule). */
function paramValue(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/** host, port, user, password, database and query parameters of a mysql:// or mariadb:// URL. */
function mysqlConfig(url: string): Record<string, unknown> {
  const parsed = parseServerUrl(url);
  const config: Record<string, unknown> = {};
  for (const [key, value] of parsed.searchParams) config[key] = paramValue(value);
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  config.host = decode(host, url);
  if (parsed.port !== '') config.port = Number(parsed.port);
  if (parsed.username !== '') config.user = decode(parsed.username, url);
  if (parsed.password !== '') config.password = decode(parsed.password, url);
  const database = decode(parsed.pathname.replace(/^\//, ''), url);
  if (database !== '') config.database = database;
  return config;
}

/**
 * The target of a `sqlite:` or `pglite:` URL: in memory for `sqlite::memory:`, `sqlite:` and
 * `sqlite://:memory:`; otherwise a path, taken after the scheme's colon, with a leading `//` (an
 * empty URL authority) removed: `sqlite:app.db` and `sqlite://app.db` are relative,
 * `sqlite:/var/app.db` and `sqlite:///var/app.db` absolute. Query parameters are options.
 */
function localTarget(url: string, scheme: string): { memory: boolean; path: string; params: URLSearchParams } {
  let rest = url.slice(scheme.length + 1);
  const hash = rest.indexOf('#');
  if (hash !== -1) rest = rest.slice(0, hash);
  const question = rest.indexOf('?');
  const params = new URLSearchParams(question === -1 ? '' : rest.slice(question + 1));
  if (question !== -1) rest = rest.slice(0, question);
  if (rest.startsWith('//')) rest = rest.slice(2);
  const path = decode(rest, url);
  const memory = path === '' || path === ':memory:' || path === 'memory://';
  return { memory, path: memory ? ':memory:' : resolvePath(path), params };
}

// ------------------------------------------------------------------------------ per-driver creators

interface Opened<C> {
  creator: () => Promise<C>;
  dialect: Dialect<C>;
  /** Pool-option defaults for this target (e.g. one connection for an in-memory database). */
  defaults: Record<string, unknown>;
}

interface PgModuleClient extends PgClient {
  connect(): Promise<unknown>;
}

/**
 * The driver's own connect timeout, from the pool's `connectTimeout` (default 10000 ms): one second
 * longer, so the caller always sees the pool's `ConnectTimeoutError` at the deadline, and the
 * driver's timeout then closes the abandoned socket: a blackholed connect leaves nothing behind.
 * `Infinity` (or a value the pool will reject) is not forwarded; an explicit driver option in
 * `connectOptions` wins.
 */
const DRIVER_TIMEOUT_GRACE_MS = 1000;

function driverConnectTimeout(options: CreatePoolOptions<unknown>): number | undefined {
  const timeout: unknown = options.connectTimeout ?? 10000;
  return typeof timeout === 'number' && Number.isFinite(timeout) && timeout > 0 ? Math.ceil(timeout) + DRIVER_TIMEOUT_GRACE_MS : undefined;
}

async function openPostgres(url: string, options: CreatePoolOptions<unknown>): Promise<Opened<PgModuleClient>> {
  parseServerUrl(url);
  const Client = member(await importDriver('pg', 'postgres'), 'Client', 'pg') as new (config: Record<string, unknown>) => PgModuleClient;
  const timeout = driverConnectTimeout(options);
  const connectOptions = { ...(timeout === undefined ? {} : { connectionTimeoutMillis: timeout }), ...options.connectOptions };
  return {
    creator: async () => {
      const client = new Client({ ...connectOptions, connectionString: url });
      // Until the dialect's permanent listener is attached, an error event must not crash us.
      client.on('error', noop);
      try {
        await client.connect();
      } catch (error) {
        client.end().catch(noop);
        throw error;
      }
      return client;
    },
    dialect: pgDialect(options.dialectOptions ?? {}),
    defaults: {},
  };
}

/** mysql2 and mariadb open the same way: a MySQL URL, the driver's `createConnection`, an error listener. */
async function openMysqlFamily<C extends Mysql2Connection | MariadbConnection>(
  url: string,
  options: CreatePoolOptions<unknown>,
  packageName: 'mysql2' | 'mariadb',
  specifier: string,
  dialect: Dialect<C>,
): Promise<Opened<C>> {
  const config = mysqlConfig(url);
  const createConnection = member(await importDriver(packageName, packageName === 'mysql2' ? 'mysql' : 'mariadb', specifier), 'createConnection', packageName) as (
    config: Record<string, unknown>,
  ) => Promise<C>;
  const timeout = driverConnectTimeout(options);
  const connectOptions = { ...(timeout === undefined ? {} : { connectTimeout: timeout }), ...options.connectOptions };
  return {
    creator: async () => {
      const conn = await createConnection({ ...connectOptions, ...config });
      conn.on('error', noop);
      return conn;
    },
    dialect,
    defaults: {},
  };
}

function openMysql2(url: string, options: CreatePoolOptions<unknown>): Promise<Opened<Mysql2Connection>> {
  return openMysqlFamily(url, options, 'mysql2', 'mysql2/promise', mysql2Dialect(mysqlDialectOptions(options.dialectOptions, 'mysql')));
}

function openMariadb(url: string, options: CreatePoolOptions<unknown>): Promise<Opened<MariadbConnection>> {
  const dialect = mariadbDialect({ ...mysqlDialectOptions(options.dialectOptions, 'mariadb'), pingTimeout: options.dialectOptions?.pingTimeout });
  return openMysqlFamily(url, options, 'mariadb', 'mariadb', dialect);
}

function mysqlDialectOptions(options: CreatePoolDialectOptions | undefined, scheme: string): { sessionReset: boolean; closeTimeout?: number } {
  const sessionReset = options?.sessionReset ?? false;
  if (typeof sessionReset !== 'boolean') {
    throw new ArgumentError(`Invalid option 'dialectOptions.sessionReset' for ${scheme}: expected true or false, got ${JSON.stringify(sessionReset)}`);
  }
  return options?.closeTimeout === undefined ? { sessionReset } : { sessionReset, closeTimeout: options.closeTimeout };
}

async function openSqlite(url: string, options: CreatePoolOptions<unknown>): Promise<Opened<BetterSqlite3Database>> {
  const target = localTarget(url, 'sqlite');
  if (options.dialectOptions?.sessionReset !== undefined && options.dialectOptions.sessionReset !== false) {
    throw new ArgumentError("Invalid option 'dialectOptions.sessionReset' for sqlite: SQLite has no session reset");
  }
  const Database = member(await importDriver('better-sqlite3', 'sqlite'), 'default', 'better-sqlite3') as new (
    filename: string,
    options: Record<string, unknown>,
  ) => BetterSqlite3Database;
  const config: Record<string, unknown> = { ...options.connectOptions };
  for (const [key, value] of target.params) config[key] = paramValue(value);
  return {
    creator: () => Promise.resolve(new Database(target.path, config)),
    dialect: betterSqlite3Dialect(),
    // Every handle on ':memory:' is a separate, empty database: one connection, taking turns.
    defaults: target.memory ? { poolSize: 1, maxOverflow: 0 } : {},
  };
}

async function openPglite(url: string, options: CreatePoolOptions<unknown>): Promise<Opened<PgliteDatabase>> {
  const target = localTarget(url, 'pglite');
  const sessionReset = options.dialectOptions?.sessionReset ?? false;
  if (typeof sessionReset !== 'boolean') {
    throw new ArgumentError(`Invalid option 'dialectOptions.sessionReset' for pglite: expected true or false, got ${JSON.stringify(sessionReset)}`);
  }
  checkPgliteLimits(options, url);
  const PGlite = member(await importDriver('@electric-sql/pglite', 'pglite'), 'PGlite', '@electric-sql/pglite') as {
    create(dataDir: string | undefined, options: Record<string, unknown>): Promise<PgliteDatabase>;
  };
  const config: Record<string, unknown> = { ...options.connectOptions };
  for (const [key, value] of target.params) config[key] = paramValue(value);
  let current: PgliteDatabase | undefined;
  return {
    creator: async () => {
      // Two live instances over one data directory would corrupt it: refuse rather than open one.
      if (!target.memory && current !== undefined && !current.closed) {
        throw new ArgumentError(`createPool: the PGlite database ${JSON.stringify(target.path)} is already open in this pool; PGlite allows one instance per data directory`);
      }
      const db = await PGlite.create(target.memory ? undefined : target.path, config);
      current = db;
      return db;
    },
    dialect: pgliteDialect({ sessionReset }),
    defaults: { poolSize: 1, maxOverflow: 0 },
  };
}

/** PGlite is one connection per instance: refuse pool setups that would open a second one. */
function checkPgliteLimits(options: CreatePoolOptions<unknown>, url: string): void {
  const where = JSON.stringify(redactUrl(url));
  const poolClass = options.poolClass as unknown;
  if (poolClass === SingletonContextPool) {
    throw new ArgumentError(`createPool: ${where}: SingletonContextPool opens one PGlite instance per async context; use QueuePool (the default), StaticPool or AssertionPool`);
  }
  if (poolClass === NullPool) {
    throw new ArgumentError(`createPool: ${where}: NullPool opens one PGlite instance per checkout; use QueuePool (the default), StaticPool or AssertionPool`);
  }
  if (poolClass === undefined || poolClass === QueuePool) {
    const poolSize = options.poolSize ?? 1;
    const maxOverflow = options.maxOverflow ?? 0;
    if (poolSize !== 1 || maxOverflow !== 0) {
      throw new ArgumentError(
        `createPool: ${where}: a PGlite database is one connection; QueuePool needs poolSize 1 and maxOverflow 0 (got poolSize ${String(poolSize)}, maxOverflow ${String(maxOverflow)})`,
      );
    }
  }
}

// ------------------------------------------------------------------------------ createPool

const CREATE_POOL_ONLY: ReadonlySet<string> = new Set(['poolClass', 'dialect', 'dialectOptions', 'connectOptions']);

function open(scheme: Scheme, url: string, options: CreatePoolOptions<unknown>): Promise<Opened<unknown>> {
  switch (scheme) {
    case 'postgres':
      return openPostgres(url, options);
    case 'mysql':
      return openMysql2(url, options);
    case 'mariadb':
      return openMariadb(url, options);
    case 'sqlite':
      return openSqlite(url, options);
    case 'pglite':
      return openPglite(url, options);
  }
}

/**
 * A pool of real driver connections opened from a URL: a `QueuePool` (or `options.poolClass`) whose
 * connections are the driver's own objects, with the scheme's built-in dialect.
 *
 * | scheme | driver (install it yourself) | connection |
 * |---|---|---|
 * | `postgres://`, `postgresql://` | `pg` | a connected `pg.Client` |
 * | `mysql://` | `mysql2` | a `mysql2/promise` connection |
 * | `mariadb://` | `mariadb` | a MariaDB connector promise connection |
 * | `sqlite:<path>`, `sqlite::memory:` | `better-sqlite3` | a `Database` (`:memory:` defaults to one connection) |
 * | `pglite:<dir>`, `pglite::memory:` | `@electric-sql/pglite` | a `PGlite` instance (always one connection) |
 *
 * The type parameter names the connection type, which a URL string cannot tell TypeScript:
 *
 * @example
 * import type pg from 'pg';
 * const pool = await createPool<pg.Client>('postgres://app@127.0.0.1/app', { poolSize: 10, prePing: true });
 * const pc = await pool.connect();
 * try { await pc.connection.query('SELECT 1'); } finally { await pc.close(); }
 *
 * `loggingName` defaults to the class name and the redacted URL, e.g.
 * `QueuePool(postgres://app:***@127.0.0.1/app)`.
 */
export async function createPool<C = unknown>(url: string, options?: CreatePoolOptions<C> & { poolClass?: undefined }): Promise<QueuePool<C>>;
export async function createPool<C = unknown>(url: string, options: CreatePoolOptions<C> & { poolClass: PoolClass<C> }): Promise<Pool<C>>;
export async function createPool<C = unknown>(url: string, options: CreatePoolOptions<C> = {}): Promise<Pool<C>> {
  if (typeof url !== 'string') throw new ArgumentError(`createPool: the URL must be a string, got ${typeof url}`);
  if (typeof options !== 'object' || (options as unknown) === null) throw new ArgumentError('createPool: options must be an object');
  const scheme = schemeOf(url);
  const { poolClass, dialect } = options;
  // dialectOptions and connectOptions are read by open(); the pool gets everything else.
  const poolOptions = Object.fromEntries(Object.entries(options).filter(([key]) => !CREATE_POOL_ONLY.has(key)));
  const opened = await open(scheme, url, options as CreatePoolOptions<unknown>);
  const PoolConstructor: PoolClass<C> = poolClass ?? QueuePool;
  // A target's defaults (one connection for an in-memory database) apply to the classes that take them.
  const takes = (PoolConstructor as unknown as { classOptions?: readonly string[] }).classOptions ?? [];
  const defaults = Object.fromEntries(Object.entries(opened.defaults).filter(([key]) => takes.includes(key)));
  const settings = {
    ...defaults,
    ...poolOptions,
    loggingName: options.loggingName ?? `${PoolConstructor.name}(${redactUrl(url)})`,
    creator: opened.creator,
    dialect: dialect ?? opened.dialect,
  } as PoolOptions<C> & Record<string, unknown>;
  return new PoolConstructor(settings);
}
