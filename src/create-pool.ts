/**
 * `createPool(url, options?)`: a pool of real driver connections from a database URL (SPEC section 10).
 *
 * The driver for a scheme is loaded with a dynamic `import()` the first time that scheme is used, so
 * lifeguard itself never depends on a driver; a missing one is reported with the package to
 * install. The password in the URL never reaches a log line, an error message, `loggingName` or
 * `status()`: everything lifeguard says about the URL goes through {@link redactUrl}.
 */
import type { Dialect } from './dialect.js';
import { openSqlite } from './drivers/better-sqlite3/open.js';
import type { Opener } from './drivers/load.js';
import { openMariadb } from './drivers/mariadb/open.js';
import { openMysql2 } from './drivers/mysql2/open.js';
import { openPostgres } from './drivers/pg/open.js';
import type { PgSessionReset } from './drivers/pg/dialect.js';
import type { PgBouncerMode } from './drivers/pg/pgbouncer.js';
import { openPglite } from './drivers/pglite/open.js';
import { redactUrl } from './drivers/url.js';
import { ArgumentError } from './errors.js';
import type { PoolClass } from './manage.js';
import type { PoolOptions } from './options.js';
import type { Pool } from './pool.js';
import { QueuePool } from './pools/queue-pool.js';
import type { QueuePoolOptions } from './pools/queue-pool.js';

export { redactUrl } from './drivers/url.js';

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
  /**
   * PostgreSQL only: the URL points at PgBouncer in this `pool_mode`. `'transaction'` sends no session
   * reset (with `dialectOptions.sessionReset` as well it is an `ArgumentError`) and runs named prepared
   * statements unnamed; `'session'` changes nothing. See README "Behind PgBouncer".
   */
  pgbouncer?: PgBouncerMode;
  /** Any further option is passed to the pool class (e.g. `storeTraceback` for AssertionPool). */
  [option: string]: unknown;
}

// ------------------------------------------------------------------------------ URL schemes

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

// ------------------------------------------------------------------------------ createPool

const CREATE_POOL_ONLY: ReadonlySet<string> = new Set(['poolClass', 'dialect', 'dialectOptions', 'connectOptions', 'pgbouncer']);

/** Each scheme's driver module: its opener lives in `src/drivers/<name>/open.ts`. */
const OPENERS: Record<Scheme, Opener> = {
  postgres: openPostgres,
  mysql: openMysql2,
  mariadb: openMariadb,
  sqlite: openSqlite,
  pglite: openPglite,
};

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
  // The pg opener reads and checks 'pgbouncer'; no other scheme has a use for it.
  if (options.pgbouncer !== undefined && scheme !== 'postgres') {
    throw new ArgumentError(`createPool: option 'pgbouncer' is for postgres:// and postgresql:// URLs, not ${scheme}:`);
  }
  // dialectOptions and connectOptions are read by open(); the pool gets everything else.
  const poolOptions = Object.fromEntries(Object.entries(options).filter(([key]) => !CREATE_POOL_ONLY.has(key)));
  const opened = await OPENERS[scheme](url, options as CreatePoolOptions<unknown>);
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
