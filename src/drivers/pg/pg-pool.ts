/**
 * `PgPool`: node-postgres's `pg.Pool`, backed by a lifeguard `QueuePool` (SPEC section 13), so that
 * Kysely, Drizzle, Knex, TypeORM and Prisma can run on lifeguard unchanged.
 *
 * What makes it a drop-in:
 * - It *is* a `pg.Pool` for `instanceof` (Prisma's check) and by constructor name (Drizzle's): on
 *   first construction its prototype is chained to the application's own `pg.Pool` (loaded from
 *   where lifeguard is installed). Every public method of `pg.Pool` is its own.
 * - `connect()` hands out the driver's `pg.Client`, seen through a face that adds `release(err?)`
 *   (`src/drivers/lent.ts`): the same object for the same connection (Kysely keys state by
 *   client), and one that only the caller holds while it is out, so a client never released is
 *   caught by lifeguard's garbage-collection safety net. `release()` is
 *   synchronous and never rejects: a failure goes to the pool's `'error'` event when it has a
 *   listener, to the pool's log otherwise. `release(err)` / `release(true)` destroys the client.
 * - A client the server kills while checked out is an ordinary error for that request, never an
 *   uncaught `'error'` that crashes the process (the pg dialect's permanent listener).
 *
 * pg.Pool options map onto QueuePool's: `max` (10) → `poolSize` with `maxOverflow: 0`, `min` →
 * `minIdle`, `idleTimeoutMillis` (10000) → `idleTimeout`, `connectionTimeoutMillis` (0: none) →
 * `timeout`, `maxUses`, `allowExitOnIdle` (false, as in pg), `maxLifetimeSeconds` → `recycle`.
 * lifeguard's own options (`prePing`, `prePingBypass`, `pingTimeout`, `resetOnReturn`,
 * `sessionReset`, `logger`, ...) are accepted beside them.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { ArgumentError } from '../../errors.js';
import type { QueuePoolOptions } from '../../pools/queue-pool.js';
import { QueuePool } from '../../pools/queue-pool.js';
import type { PooledConnection } from '../../pooled-connection.js';
import { invalid, optionalDuration, optionalInteger } from '../../options.js';
import { asError, noop, reportUnawaited } from '../common.js';
import { LentFaces } from '../lent.js';
import { pgDialect } from './dialect.js';
import type { PgClient, PgSessionReset } from './dialect.js';
import { checkBuiltInDialect, checkNoSessionReset, pgbouncerMode } from './pgbouncer.js';
import type { PgBouncerMode } from './pgbouncer.js';

/** A node-postgres client as PgPool drives it (`pg.Client`, or the `Client` option). */
export interface PgPoolClient extends PgClient {
  connect(): Promise<unknown>;
  /**
   * pg's own `query`, in all its forms. Typed loosely on purpose: lifeguard does not depend on
   * `@types/pg`, and this is what lets Kysely's `PostgresDialect` take a `PgPool` without a cast.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above: pg's types are the app's, not lifeguard's
  query(...args: any[]): any;
  on(event: string, listener: (...args: never[]) => void): unknown;
  /** Gives the client back (`release(err)` / `release(true)` destroys it), as on a pg.Pool client. */
  release: (destroy?: Error | boolean) => void;
}

/** `pg.Pool`'s options (passed to each `Client` too), plus lifeguard's. */
export interface PgPoolConfig extends Partial<Omit<QueuePoolOptions<PgPoolClient>, 'creator' | 'poolSize' | 'maxOverflow' | 'minIdle' | 'idleTimeout' | 'timeout' | 'recycle'>> {
  /** Most clients at once. Default 10. */
  max?: number;
  /** Idle clients kept open (lifeguard `minIdle`). Default 0. */
  min?: number;
  /** ms an idle client may stay before it is closed; 0 never. Default 10000. */
  idleTimeoutMillis?: number;
  /** ms `connect()` may take in all (waiting and connecting); 0 waits forever. Default 0. */
  connectionTimeoutMillis?: number;
  /** Retire a client after this many seconds; 0 never. Default 0. */
  maxLifetimeSeconds?: number;
  /** The client class. Default: `pg.Client`. */
  Client?: new (config: Record<string, unknown>) => PgPoolClient;
  /** Runs on each new client before its first use; a rejection discards the client. */
  onConnect?: (client: PgPoolClient) => unknown;
  /** lifeguard's pg dialect option: reset the session on return. */
  sessionReset?: PgSessionReset;
  /**
   * The clients talk to PgBouncer in this `pool_mode`. `'transaction'`: no session reset (with
   * `sessionReset` as well it is an `ArgumentError`), named prepared statements run unnamed.
   * `'session'`: nothing changes. See README "Behind PgBouncer".
   */
  pgbouncer?: PgBouncerMode;
  /** Anything else goes to the `Client` (connectionString, host, user, ssl, ...). */
  [clientOption: string]: unknown;
}

type Callback<T> = (error: Error | undefined, value?: T) => void;
type ConnectCallback = (error: Error | undefined, client: PgPoolClient | undefined, release: (destroy?: Error | boolean) => void) => void;

const POOL_ONLY = new Set(['max', 'min', 'idleTimeoutMillis', 'connectionTimeoutMillis', 'maxLifetimeSeconds', 'Client', 'onConnect', 'sessionReset', 'pgbouncer', 'log', 'Promise', 'poolSize']);

interface PgModule {
  Pool: abstract new (...args: never[]) => object;
  Client: new (config: Record<string, unknown>) => PgPoolClient;
}

let pgModule: PgModule | null | undefined;

/** The application's own `pg`, loaded from where lifeguard is installed; null when it is not installed. */
function loadPg(): PgModule | null {
  if (pgModule === undefined) {
    try {
      pgModule = createRequire(import.meta.url)('pg') as PgModule;
    } catch {
      pgModule = null;
    }
  }
  return pgModule;
}

export class PgPool extends EventEmitter {
  /** The options as given (password hidden from logs), as `pg.Pool#options`. */
  readonly options: Record<string, unknown>;
  /** The client class, as `pg.Pool#Client`. */
  readonly Client: new (config: Record<string, unknown>) => PgPoolClient;
  /** The lifeguard pool underneath. */
  readonly pool: QueuePool<PgPoolClient>;
  ending = false;
  ended = false;
  /** The face each client is handed out as, and the checkout behind each face that is out. */
  readonly #faces = new LentFaces<PgPoolClient>(
    (face) => new Map([['release', (destroy?: Error | boolean) => { this.#release(face, destroy); }]]),
  );

  constructor(config: PgPoolConfig = {}, existing?: QueuePool<PgPoolClient>) {
    super();
    if (typeof config !== 'object' || (config as unknown) === null) throw invalid('options', 'an options object (PgPool)', config);
    const pg = loadPg();
    const poolPrototype = pg?.Pool.prototype as object | undefined;
    if (poolPrototype !== undefined && Object.getPrototypeOf(PgPool.prototype) !== poolPrototype) {
      // Prisma checks `instanceof pg.Pool`; Drizzle checks the constructor name. Both must hold.
      Object.setPrototypeOf(PgPool.prototype, poolPrototype);
    }
    this.options = { ...config };
    if ('password' in config) Object.defineProperty(this.options, 'password', { enumerable: false, value: config.password, writable: true, configurable: true });
    const Client = config.Client ?? pg?.Client;
    if (Client === undefined) throw new ArgumentError("PgPool: the 'pg' package is not installed; install it, or pass the Client option");
    this.Client = Client;
    if (existing !== undefined && config.pgbouncer !== undefined) {
      throw new ArgumentError("PgPool.from: option 'pgbouncer' configures a new pool's dialect; give the QueuePool pgDialect({ pgbouncer }) instead");
    }
    this.pool = existing ?? new QueuePool<PgPoolClient>(this.#poolOptions(config));
    this.pool.on('connect', (client) => { this.emit('connect', this.#faces.faceOf(client)); });
    this.pool.on('close', (client) => { this.emit('remove', this.#faces.known(client)); });
  }

  /** A `pg.Pool` face for an existing lifeguard pool of pg clients. */
  static from(pool: QueuePool<PgPoolClient>, options: PgPoolConfig = {}): PgPool {
    if (!(pool instanceof QueuePool)) throw invalid('pool', 'a lifeguard QueuePool of pg clients (PgPool.from)', pool);
    return new PgPool(options, pool);
  }

  #poolOptions(config: PgPoolConfig): QueuePoolOptions<PgPoolClient> {
    const lifeguard = Object.fromEntries(Object.entries(config).filter(([key]) => !POOL_ONLY.has(key) && LIFEGUARD_OPTIONS.has(key)));
    const max = config.max ?? (config.poolSize as number | undefined) ?? 10;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) throw invalid('max', 'an integer >= 1', max);
    const lifetime = optionalDuration('maxLifetimeSeconds', config.maxLifetimeSeconds ?? undefined, 0, false);
    const connectionTimeout = optionalDuration('connectionTimeoutMillis', config.connectionTimeoutMillis ?? undefined, 0, false);
    const onConnect = config.onConnect;
    if (onConnect !== undefined && typeof onConnect !== 'function') throw invalid('onConnect', 'a function', onConnect);
    const pgbouncer = pgbouncerMode(config.pgbouncer, 'PgPool');
    checkNoSessionReset(pgbouncer, config.sessionReset, 'PgPool', 'sessionReset');
    checkBuiltInDialect(pgbouncer, config.dialect, 'PgPool');
    const clientConfig = Object.fromEntries(Object.entries(config).filter(([key]) => !POOL_ONLY.has(key) && !LIFEGUARD_OPTIONS.has(key)));
    if ('password' in config) clientConfig.password = config.password;
    return {
      allowExitOnIdle: false,
      ...lifeguard,
      creator: async () => {
        const client = new this.Client(clientConfig);
        // Until the dialect's own listener is attached (and after, harmlessly).
        client.on('error', noop);
        await client.connect();
        if (onConnect !== undefined) {
          try {
            await onConnect(this.#faces.faceOf(client));
          } catch (error) {
            await client.end().catch(noop);
            throw error;
          }
        }
        return client;
      },
      dialect: config.dialect ?? pgDialect<PgPoolClient>({
        ...(config.sessionReset === undefined ? {} : { sessionReset: config.sessionReset }),
        ...(pgbouncer === undefined ? {} : { pgbouncer }),
      }),
      poolSize: max,
      maxOverflow: 0,
      minIdle: optionalInteger('min', config.min ?? undefined, 0, 0),
      idleTimeout: optionalDuration('idleTimeoutMillis', config.idleTimeoutMillis ?? undefined, 10_000, false),
      timeout: connectionTimeout === 0 ? Infinity : connectionTimeout,
      recycle: lifetime === 0 ? -1 : lifetime * 1000,
    };
  }

  /** Check a client out: a promise, or `callback(err, client, release)` (then it returns undefined). */
  connect(): Promise<PgPoolClient>;
  connect(callback: ConnectCallback): void;
  connect(callback?: ConnectCallback): Promise<PgPoolClient> | undefined {
    const got = this.ending ? Promise.reject(new Error('Cannot use a pool after calling end on the pool')) : this.pool.connect().then((pc) => this.#lend(pc));
    if (callback === undefined) return got;
    got.then(
      (client) => { callback(undefined, client, client.release); },
      (error: unknown) => { callback(asError(error), undefined, noop); },
    );
    return undefined;
  }

  #lend(pc: PooledConnection<PgPoolClient>): PgPoolClient {
    const client = this.#faces.lend(pc);
    this.emit('acquire', client);
    return client;
  }

  #release(client: PgPoolClient, destroy: Error | boolean | undefined): void {
    const error = destroy instanceof Error ? destroy : undefined;
    const destroying = destroy === true || error !== undefined;
    const pc = this.#faces.take(client);
    if (pc === undefined) throw new Error('Release called on client which has already been released to the pool.');
    if (!destroying) this.#faces.keep(client);
    this.emit('release', error, client);
    const done = destroying ? pc.invalidate(error) : pc.close();
    done.catch((failure: unknown) => { this.#failed(failure, client); });
  }

  /** A failure nobody awaits (a release): the 'error' event if someone listens, else the log. Never a crash. */
  #failed(error: unknown, client: PgPoolClient): void {
    reportUnawaited(this, this.pool._log, 'PgPool: returning a client failed', error, client);
  }

  /** `pool.query(text | config, values?, callback?)`: one query on a pooled client. */
  query(text: unknown, callback: Callback<unknown>): void;
  query(text: unknown, values: unknown, callback: Callback<unknown>): void;
  query(text: unknown, values?: unknown): Promise<unknown>;
  query(text: unknown, values?: unknown, callback?: Callback<unknown>): Promise<unknown> | undefined {
    if (typeof text === 'function') {
      const error = new Error('Passing a function as the first parameter to pool.query is not supported');
      setImmediate(() => { (text as Callback<unknown>)(error); });
      return undefined;
    }
    let args: unknown[] = [text, values];
    if (typeof values === 'function') {
      callback = values as Callback<unknown>;
      args = [text];
    } else if (values === undefined) args = [text];
    const run = async (): Promise<unknown> => {
      const pc = await this.connect();
      try {
        const result: unknown = await pc.query(...args);
        pc.release();
        return result;
      } catch (error) {
        // A broken connection is dropped; a query error leaves it usable (pg does the same).
        pc.release(this.pool._dialect.isDisconnect?.(error) === true ? asError(error) : undefined);
        throw error;
      }
    };
    const result = run();
    if (callback === undefined) return result;
    const cb = callback;
    result.then(
      (value) => { cb(undefined, value); },
      (error: unknown) => { cb(asError(error)); },
    );
    return undefined;
  }

  /** Close every client once it is released; a promise, or `callback(err)`. */
  end(): Promise<void>;
  end(callback: (error?: Error) => void): void;
  end(callback?: (error?: Error) => void): Promise<void> | undefined {
    if (this.ending) {
      const error = new Error('Called end on pool more than once');
      if (callback !== undefined) {
        callback(error);
        return undefined;
      }
      return Promise.reject(error);
    }
    this.ending = true;
    const done = this.pool.close().then(() => {
      this.ended = true;
      this.emit('end');
    });
    if (callback === undefined) return done;
    done.then(
      () => { callback(); },
      (error: unknown) => { callback(asError(error)); },
    );
    return undefined;
  }

  /** Clients open or opening. */
  get totalCount(): number {
    const stats = this.pool.stats();
    return stats.idle + stats.used + stats.connecting;
  }

  get idleCount(): number {
    return this.pool.stats().idle;
  }

  get waitingCount(): number {
    return this.pool.stats().pending;
  }

  /** Clients past `maxLifetimeSeconds` still checked out: lifeguard replaces them on return, so none are counted. */
  get expiredCount(): number {
    return 0;
  }
}

const LIFEGUARD_OPTIONS = new Set([
  'dialect', 'resetOnReturn', 'prePing', 'echo', 'loggingName', 'logger', 'events', 'listeners', 'useContextLocal', 'leakTracking',
  'connectTimeout', 'pingTimeout', 'prePingBypass', 'maxUses', 'allowExitOnIdle', 'leakDetectionThreshold', 'useLifo', 'keepAliveInterval',
]);

