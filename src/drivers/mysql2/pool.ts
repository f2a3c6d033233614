/**
 * `Mysql2Pool`: mysql2's `Pool` (its callback API, and `.promise()`), backed by a lifeguard
 * `QueuePool` of mysql2 callback-API connections (SPEC section 13), so that Kysely's `MysqlDialect`,
 * Drizzle's `drizzle-orm/mysql2` and Knex's `connectionPool` run on lifeguard unchanged.
 *
 * What makes it a drop-in:
 * - `getConnection(cb)` hands out the driver connection seen through a proxy (`../lent.ts`):
 *   the same object for the same driver connection on every checkout (Kysely keys its state by it),
 *   with `release()` (never throws; a failure goes to the `'error'` event, or the log), `destroy()`
 *   (the connection is closed and the slot comes back), `end()` (a release, as a pooled mysql2
 *   connection's `end()` is; Drizzle's iterator calls it), and the driver's own `query(...)` (a
 *   mysql2 `Query`, so `.stream()` works), `execute`, `beginTransaction`, `threadId`, `config`, ...
 * - `query` and `execute` check out, run, release, as mysql2's do (`query` without a callback returns
 *   the `Query`). `promise()` is mysql2's own `PromisePool` over this pool, so `await
 *   pool.promise().query(...)` gives `[rows, fields]` and promise connections are mysql2's.
 * - It has no `pool` member: Knex uses `pool.pool || pool`, and a `.pool` that were lifeguard's pool
 *   would be taken for the mysql2 pool. The lifeguard pool is `queuePool`.
 * - No library checks `instanceof` mysql2's `Pool` (Drizzle looks for `promise()` and
 *   `getConnection`, Knex for tarn's methods, Kysely for nothing), so the prototype is left alone.
 *
 * mysql2's pool options map onto QueuePool's: `connectionLimit` (10; 0 = unlimited) and `maxIdle`
 * (= `connectionLimit`) → `poolSize: maxIdle` with `maxOverflow: connectionLimit - maxIdle`,
 * `idleTimeout` (60000 ms), `waitForConnections: false` → `timeout: 0`, `queueLimit` (0 = unlimited),
 * `resetOnRelease` → the dialect's `sessionReset`. The rest go to mysql2's `createConnection`.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { ArgumentError, PoolClosedError, PoolTimeoutError } from '../../errors.js';
import type { QueuePoolOptions } from '../../pools/queue-pool.js';
import { QueuePool } from '../../pools/queue-pool.js';
import type { PooledConnection } from '../../pooled-connection.js';
import { invalid, optionalBoolean, optionalDuration, optionalInteger } from '../../options.js';
import { driverConnectTimeout } from '../load.js';
import { isMysqlDisconnect } from '../mysql-family.js';
import { mysql2Dialect } from './dialect.js';
import type { Mysql2CoreConnection } from './dialect.js';
import { asError, noop, reportUnawaited } from '../common.js';
import { LentFaces } from '../lent.js';

/** A mysql2 callback-API connection as Mysql2Pool drives and lends it. */
export interface Mysql2PoolConnection extends Mysql2CoreConnection {
  readonly threadId: number | null;
  readonly config: Record<string, unknown>;
  query(...args: unknown[]): Mysql2Query;
  execute(...args: unknown[]): Mysql2Query;
  connect(callback: (error: Error | null) => void): void;
  /** Give the connection back (on the connections a Mysql2Pool lends). */
  release(): void;
  /** mysql2's promise-API view of the connection (`PromisePoolConnection` on a lent one). */
  promise(promiseImpl?: PromiseConstructorLike): unknown;
}

/** mysql2's `Query` command: an event emitter with `stream()`. */
export interface Mysql2Query extends EventEmitter {
  onResult?: ((error: Error | null, ...results: unknown[]) => void) | undefined;
  namedPlaceholders?: unknown;
  /** A readable stream of the rows. Typed loosely, as `PgPoolClient.query` is, so that Kysely's `MysqlDialect` takes a `Mysql2Pool` without a cast. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- mysql2's types are the app's, not lifeguard's
  stream(options?: object): any;
}

/** mysql2's pool options (and any connection option), plus lifeguard's. */
export interface Mysql2PoolConfig
  extends Partial<Omit<QueuePoolOptions<Mysql2PoolConnection>, 'creator' | 'poolSize' | 'maxOverflow' | 'idleTimeout' | 'timeout'>> {
  /** Most connections at once; 0 = unlimited. Default 10. */
  connectionLimit?: number;
  /** Idle connections kept (the rest close on return). Default `connectionLimit`. */
  maxIdle?: number;
  /** ms an idle connection may stay before it is closed. Default 60000. */
  idleTimeout?: number;
  /** false: fail at once ("No connections available.") instead of waiting. Default true. */
  waitForConnections?: boolean;
  /** Callers that may wait at once; beyond it `getConnection` fails with "Queue limit reached.". 0 = unlimited. Default 0. */
  queueLimit?: number;
  /** lifeguard's own: ms a caller may wait in all (queue, connect, pre-ping). Default: forever, as in mysql2. */
  timeout?: number;
  /** COM_RESET_CONNECTION on every return (mysql2's option; the same as `sessionReset`). */
  resetOnRelease?: boolean;
  /** COM_RESET_CONNECTION on every return (the mysql2 dialect's option). Default false. */
  sessionReset?: boolean;
  /** A pooled connection's `end()` closes it (giving the slot back) instead of releasing it. */
  gracefulEnd?: boolean;
  /** The promise implementation for `promise()`. */
  Promise?: PromiseConstructorLike;
  /** Anything else goes to mysql2's `createConnection` (uri, host, port, user, password, database, ssl, ...). */
  [connectionOption: string]: unknown;
}

/** `pool.config`, shaped as mysql2's `PoolConfig` (mysql2's `PromisePool` reads `connectionConfig`). */
export interface Mysql2PoolSettings {
  readonly connectionLimit: number;
  readonly maxIdle: number;
  readonly idleTimeout: number;
  readonly waitForConnections: boolean;
  readonly queueLimit: number;
  readonly resetOnRelease: boolean;
  /** mysql2's `ConnectionConfig` for the connection options. */
  readonly connectionConfig: Record<string, unknown>;
}

/** As mysql2 types it: `connection` is there whenever `error` is null. */
type ConnectionCallback = (error: Error | null, connection: Mysql2PoolConnection) => void;
type ResultCallback = (error: Error | null, ...results: unknown[]) => void;

interface Mysql2Module {
  createConnection(options: Record<string, unknown>): Mysql2PoolConnection;
  createQuery(sql: unknown, values: unknown, callback: unknown, config: unknown): Mysql2Query;
  ConnectionConfig: new (options: Record<string, unknown>) => Record<string, unknown>;
  escape(value: unknown, stringifyObjects?: unknown, timezone?: unknown): string;
  escapeId(value: unknown, forbidQualified?: boolean): string;
  format(sql: string, values?: unknown, stringifyObjects?: unknown, timezone?: unknown): string;
}

interface Mysql2PromiseModule {
  PromisePool: new (pool: Mysql2Pool, promiseImpl?: unknown) => object;
  PromisePoolConnection: new (connection: Mysql2PoolConnection, promiseImpl?: unknown) => object;
}

let mysql2Modules: { core: Mysql2Module; promise: Mysql2PromiseModule } | undefined;

/** The application's own mysql2 (both faces), loaded from where lifeguard is installed, on first use. */
function loadMysql2(): { core: Mysql2Module; promise: Mysql2PromiseModule } {
  if (mysql2Modules === undefined) {
    const load = createRequire(import.meta.url);
    try {
      mysql2Modules = { core: load('mysql2') as Mysql2Module, promise: load('mysql2/promise') as Mysql2PromiseModule };
    } catch (error) {
      throw new ArgumentError("Mysql2Pool: the 'mysql2' package is not installed; install it with: npm install mysql2", { cause: error });
    }
  }
  return mysql2Modules;
}

/** mysql2 pool options: read here, never passed to a connection. */
const POOL_OPTIONS = new Set(['connectionLimit', 'maxIdle', 'idleTimeout', 'waitForConnections', 'queueLimit', 'timeout', 'resetOnRelease', 'sessionReset', 'gracefulEnd', 'Promise']);

/** lifeguard options passed to the QueuePool as they are. */
const LIFEGUARD_OPTIONS = new Set([
  'dialect', 'resetOnReturn', 'prePing', 'echo', 'loggingName', 'logger', 'events', 'listeners', 'leakTracking', 'recycle', 'minIdle',
  'pingTimeout', 'prePingBypass', 'maxUses', 'allowExitOnIdle', 'leakDetectionThreshold', 'useLifo', 'keepAliveInterval',
]);

/** Options Mysql2Pool cannot honour, and why. */
const REFUSED: ReadonlyMap<string, string> = new Map([
  ['creator', 'Mysql2Pool opens its connections itself with mysql2 createConnection'],
  ['poolSize', "use mysql2's 'connectionLimit' (and 'maxIdle')"],
  ['maxOverflow', "use mysql2's 'connectionLimit' (and 'maxIdle')"],
  ['useContextLocal', 'a mysql2 pool hands out one connection per getConnection'],
  ['pool', 'set by the pool itself'],
]);


export class Mysql2Pool extends EventEmitter {
  /** mysql2's `pool.config`: the pool options and the connections' `ConnectionConfig`. */
  readonly config: Mysql2PoolSettings;
  /** The lifeguard pool underneath (not `pool`: Knex takes a `pool` member for the mysql2 pool). */
  readonly queuePool: QueuePool<Mysql2PoolConnection>;
  readonly #mysql2: { core: Mysql2Module; promise: Mysql2PromiseModule };
  readonly #gracefulEnd: boolean;
  readonly #promiseImpl: unknown;
  /** The face each connection is lent as (the same object every time), and the checkout behind each face that is out. */
  readonly #faces = new LentFaces<Mysql2PoolConnection>((face) => this.#members(face));
  #ended: Promise<void> | undefined;

  constructor(config: Mysql2PoolConfig | string = {}, existing?: QueuePool<Mysql2PoolConnection>) {
    super();
    const options: Mysql2PoolConfig = typeof config === 'string' ? { uri: config } : config;
    if (typeof options !== 'object' || (options as unknown) === null) throw invalid('options', 'an options object or a URI string (Mysql2Pool)', config);
    for (const [name, why] of REFUSED) {
      if (name in options) throw new ArgumentError(`Mysql2Pool: option '${name}' is not supported: ${why}`);
    }
    this.#mysql2 = loadMysql2();
    const connectionLimit = optionalInteger('connectionLimit', options.connectionLimit, 0, 10);
    const maxIdle = optionalInteger('maxIdle', options.maxIdle, 1, connectionLimit === 0 ? 10 : connectionLimit);
    const idleTimeout = optionalDuration('idleTimeout', options.idleTimeout, 60_000, false);
    // mysql2 closes idle connections at once with 0; lifeguard would read 0 as "never".
    if (idleTimeout === 0) throw invalid('idleTimeout', 'a duration in ms > 0 (Mysql2Pool cannot close idle connections at once; lower maxIdle instead)', 0);
    const waitForConnections = optionalBoolean('waitForConnections', options.waitForConnections, true);
    const queueLimit = optionalInteger('queueLimit', options.queueLimit, 0, 0);
    const resetOnRelease = optionalBoolean('resetOnRelease', options.resetOnRelease, false);
    const sessionReset = optionalBoolean('sessionReset', options.sessionReset, false) || resetOnRelease;
    this.#gracefulEnd = optionalBoolean('gracefulEnd', options.gracefulEnd, false);
    this.#promiseImpl = options.Promise;
    const timeout = options.timeout;
    if (timeout !== undefined && !waitForConnections) throw new ArgumentError("Mysql2Pool: options 'timeout' and 'waitForConnections: false' contradict each other; give one");

    const connectionOptions = Object.fromEntries(Object.entries(options).filter(([key]) => !POOL_OPTIONS.has(key) && !LIFEGUARD_OPTIONS.has(key) && key !== 'connectTimeout'));
    const lifeguardTimeout: unknown = options.connectTimeout;
    const driverTimeout = driverConnectTimeout({ connectTimeout: lifeguardTimeout as number | undefined });
    if (driverTimeout !== undefined) connectionOptions.connectTimeout = driverTimeout;
    const connectionConfig = new this.#mysql2.core.ConnectionConfig({ ...connectionOptions });
    this.config = Object.freeze({ connectionLimit, maxIdle: connectionLimit === 0 ? maxIdle : Math.min(maxIdle, connectionLimit), idleTimeout, waitForConnections, queueLimit, resetOnRelease, connectionConfig });

    if (existing !== undefined) this.queuePool = existing;
    else {
      const lifeguard = Object.fromEntries(Object.entries(options).filter(([key]) => LIFEGUARD_OPTIONS.has(key)));
      const keepIdle = this.config.maxIdle;
      const poolOptions: QueuePoolOptions<Mysql2PoolConnection> = {
        ...lifeguard,
        ...(lifeguardTimeout === undefined ? {} : { connectTimeout: lifeguardTimeout as number }),
        creator: () => this.#open(connectionOptions),
        dialect: options.dialect ?? mysql2Dialect<Mysql2PoolConnection>({ sessionReset }),
        poolSize: connectionLimit === 0 ? 0 : keepIdle,
        maxOverflow: connectionLimit === 0 ? -1 : connectionLimit - keepIdle,
        idleTimeout,
        timeout: !waitForConnections ? 0 : (timeout ?? Infinity),
      };
      this.queuePool = new QueuePool(poolOptions);
    }
    // A new driver connection gets its lent face now, so 'connection' listeners see the object
    // `getConnection` will hand out (and can run session set-up on it before its first use).
    this.queuePool.on('connect', (conn) => { this.emit('connection', this.#faces.faceOf(conn)); });
  }

  /** A mysql2 `Pool` face for an existing lifeguard pool of mysql2 callback-API connections. */
  static from(pool: QueuePool<Mysql2PoolConnection>, options: Mysql2PoolConfig = {}): Mysql2Pool {
    if (!(pool instanceof QueuePool)) throw invalid('pool', 'a lifeguard QueuePool of mysql2 connections (Mysql2Pool.from)', pool);
    return new Mysql2Pool(options, pool);
  }

  /** Opens one driver connection (the QueuePool's creator). */
  #open(connectionOptions: Record<string, unknown>): Promise<Mysql2PoolConnection> {
    return new Promise((resolve, reject) => {
      // A copy each time: mysql2 writes a `uri`'s parts into the options object it is given.
      const conn = this.#mysql2.core.createConnection({ ...connectionOptions });
      // Until the dialect's own listener is attached (and after, harmlessly).
      conn.on('error', noop);
      conn.connect((error) => {
        if (error === null) resolve(conn);
        else {
          conn.destroy();
          reject(error);
        }
      });
    });
  }

  /**
   * What a lent connection adds to the driver connection, as mysql2's `PoolConnection` has it:
   * `release()`, `destroy()` (gives the slot back), `end()` (a release; with `gracefulEnd` a close),
   * `promise()` and `Symbol.dispose`. Everything else is the driver connection's own.
   */
  #members(lent: Mysql2PoolConnection): ReadonlyMap<PropertyKey, unknown> {
    const release = (): void => { this.#giveBack(lent, false); };
    return new Map<PropertyKey, unknown>([
      ['release', release],
      ['destroy', () => { this.#giveBack(lent, true); }],
      [
        'end',
        (callback?: unknown) => {
          this.#giveBack(lent, this.#gracefulEnd);
          if (typeof callback === 'function') process.nextTick(callback);
        },
      ],
      ['promise', (promiseImpl?: unknown) => new this.#mysql2.promise.PromisePoolConnection(lent, promiseImpl ?? this.#promiseImpl)],
      [Symbol.dispose, release],
    ]);
  }

  /** Check a connection out: `callback(err, connection)`, called asynchronously. */
  getConnection(callback: ConnectionCallback): void {
    if (typeof callback !== 'function') throw new ArgumentError('Mysql2Pool.getConnection: expected a callback; use pool.promise().getConnection() for a promise');
    if (this.#ended !== undefined) {
      process.nextTick(callback, new Error('Pool is closed.'));
      return;
    }
    const stats = this.queuePool.stats();
    const mustWait = stats.idle === 0 && stats.used + stats.connecting >= stats.max;
    if (mustWait && this.config.waitForConnections) {
      if (this.config.queueLimit > 0 && stats.pending >= this.config.queueLimit) {
        process.nextTick(callback, new Error('Queue limit reached.'));
        return;
      }
      this.emit('enqueue');
    }
    this.queuePool.connect().then(
      (pc) => {
        const lent = this.#lend(pc);
        try {
          this.emit('acquire', lent);
        } catch (error) {
          // A throwing 'acquire' listener fails this checkout; the connection goes back.
          this.#giveBack(lent, false);
          process.nextTick(callback, asError(error));
          return;
        }
        process.nextTick(callback, null, lent);
      },
      (error: unknown) => { process.nextTick(callback, this.#checkoutError(error)); },
    );
  }

  #lend(pc: PooledConnection<Mysql2PoolConnection>): Mysql2PoolConnection {
    return this.#faces.lend(pc);
  }

  /** lifeguard's errors in mysql2's words (the original as `cause`). */
  #checkoutError(error: unknown): Error {
    if (error instanceof PoolClosedError) return new Error('Pool is closed.', { cause: error });
    if (error instanceof PoolTimeoutError && !this.config.waitForConnections) return new Error('No connections available.', { cause: error });
    return asError(error);
  }

  /**
   * The one way a lent connection comes back. Never throws: a second release, a release after
   * `destroy()` or after the pool closed the connection do nothing; a failure while returning goes
   * to the `'error'` event (or the log when nobody listens).
   */
  #giveBack(lent: Mysql2PoolConnection, destroy: boolean): void {
    const pc = this.#faces.take(lent);
    if (pc === undefined) return;
    this.emit('release', lent);
    // Not valid: the pool already terminated it (`close({ timeout })`); closing the checkout ends it.
    const conn = pc.isValid ? pc.connection : undefined;
    let done: Promise<void>;
    if (conn === undefined) done = pc.close();
    else if (destroy) done = pc.invalidate();
    else if (isBroken(conn)) done = pc.invalidate(new Error('Connection lost: mysql2 marked the connection unusable'));
    else {
      this.#faces.keep(lent);
      done = pc.close();
    }
    done.catch((failure: unknown) => { this.#failed(failure, lent); });
  }

  /** A failure nobody awaits: the 'error' event if someone listens, else the log. Never a crash. */
  #failed(error: unknown, lent?: Mysql2PoolConnection): void {
    reportUnawaited(this, this.queuePool._log, 'Mysql2Pool: returning a connection failed', error, lent);
  }

  /** Give a lent connection back (mysql2's `pool.releaseConnection(conn)`). */
  releaseConnection(connection: Mysql2PoolConnection): void {
    if (this.#faces.isOut(connection)) this.#giveBack(connection, false);
  }

  /**
   * `query(sql | options, values?, callback?)`: one query on a pooled connection, released when it
   * ends. Returns mysql2's `Query` (an event emitter with `stream()`), as mysql2's pool does.
   */
  query(sql: unknown, values?: unknown, callback?: ResultCallback): Mysql2Query {
    const { core } = this.#mysql2;
    const query = core.createQuery(sql, values, callback, this.config.connectionConfig);
    if (query.namedPlaceholders === undefined) query.namedPlaceholders = this.config.connectionConfig.namedPlaceholders;
    this.getConnection((error, conn) => {
      if (error !== null) {
        const failure = error;
        if (typeof query.onResult === 'function') query.onResult(failure);
        else query.emit('error', failure);
        return;
      }
      let queryError: unknown = null;
      const onResult = query.onResult;
      if (typeof onResult === 'function') {
        query.onResult = (err: Error | null, ...results: unknown[]) => {
          queryError = err;
          onResult(err, ...results);
        };
      } else query.once('error', (err: unknown) => { queryError = err; });
      try {
        conn.query(query).once('end', () => { this.#giveBack(conn, isMysqlDisconnect(queryError)); });
      } catch (thrown) {
        this.#giveBack(conn, false);
        if (typeof query.onResult === 'function') query.onResult(asError(thrown));
        else query.emit('error', thrown);
      }
    });
    return query;
  }

  /** `execute(sql | options, values?, callback)`: one prepared statement on a pooled connection. */
  execute(sql: unknown, values?: unknown, callback?: ResultCallback): void {
    let params = values;
    let done = callback;
    if (typeof values === 'function') {
      done = values as ResultCallback;
      params = [];
    }
    const cb: ResultCallback = done ?? ((error) => { if (error !== null) this.#failed(error); });
    this.getConnection((error, conn) => {
      if (error !== null) {
        cb(error);
        return;
      }
      let queryError: unknown = null;
      try {
        conn
          .execute(sql, params, (err: Error | null, ...results: unknown[]) => {
            queryError = err;
            cb(err, ...results);
          })
          .once('end', () => { this.#giveBack(conn, isMysqlDisconnect(queryError)); });
      } catch (thrown) {
        this.#giveBack(conn, false);
        cb(asError(thrown));
      }
    });
  }

  /**
   * Close the pool: new checkouts fail ("Pool is closed."), waiting callers are rejected, idle
   * connections close, and `callback` runs once every checked-out connection has been released and
   * closed. Calling it again waits for the same end.
   */
  end(callback?: (error?: Error) => void): void {
    this.#ended ??= this.queuePool.close();
    this.#ended.then(
      () => { if (callback !== undefined) process.nextTick(callback); },
      (error: unknown) => {
        if (callback !== undefined) process.nextTick(callback, asError(error));
        else this.#failed(error);
      },
    );
  }

  /** True once `end()` was called (mysql2's `_closed`, read by its `PromisePool`). */
  get _closed(): boolean {
    return this.#ended !== undefined;
  }

  /** mysql2's `PromisePool` over this pool: `getConnection()`, `query()`/`execute()` → `[rows, fields]`, `end()`. */
  promise(promiseImpl?: PromiseConstructorLike): object {
    return new this.#mysql2.promise.PromisePool(this, promiseImpl ?? this.#promiseImpl);
  }

  escape(value: unknown): string {
    const config = this.config.connectionConfig;
    return this.#mysql2.core.escape(value, config.stringifyObjects, config.timezone);
  }

  escapeId(value: unknown): string {
    return this.#mysql2.core.escapeId(value, false);
  }

  format(sql: string, values?: unknown): string {
    const config = this.config.connectionConfig;
    return this.#mysql2.core.format(sql, values, config.stringifyObjects, config.timezone);
  }

  [Symbol.dispose](): void {
    if (this.#ended === undefined) this.end();
  }
}

/** What mysql2 itself marks on a connection it can no longer use (Knex checks the same). */
function isBroken(conn: Mysql2PoolConnection): boolean {
  const state = conn as unknown as { _fatalError?: unknown; _protocolError?: unknown; _closing?: unknown };
  return Boolean(state._fatalError) || Boolean(state._protocolError) || state._closing === true || conn.stream?.destroyed === true;
}

