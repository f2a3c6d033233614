/**
 * `createCluster({ primary, replicas, ...poolOptions })`: one pool for a primary and one per replica,
 * with read-only checkouts spread over the replicas (SPEC section 14).
 *
 * It sits on top of the pools and never inside them: a write checkout is the writer pool's own
 * `connect()`, a read checkout is one reader pool's `connect()`. What it adds is the choice of pool
 * and the replicas' health: a replica whose checkout fails (connect refused, pre-ping and reconnect
 * failed, ...) is left out for a backoff period, and the same checkout moves on to the next healthy
 * replica, then to the primary, so a caller never sees a dead replica's error while the primary
 * answers.
 */
import { monotonicNow } from './clock.js';
import { createPool } from './create-pool.js';
import type { CreatePoolOptions } from './create-pool.js';
import { redactUrl } from './drivers/url.js';
import { ArgumentError } from './errors.js';
import type { CloseOptions, ConnectOptions, Pool } from './pool.js';
import type { PoolStats } from './pool-stats.js';
import type { PooledConnection } from './pooled-connection.js';

/** The first backoff after a replica's checkout fails (ms); it doubles with each further failure. */
export const REPLICA_BACKOFF_MIN_MS = 1000;
/** The longest a failing replica is left out before it is tried again (ms). */
export const REPLICA_BACKOFF_MAX_MS = 30_000;

/** `createCluster`'s options: the URLs, and the pool options every pool of the cluster shares. */
export interface ClusterOptions<C> extends CreatePoolOptions<C> {
  /** The primary's URL: every read-write checkout goes there, and read-only ones when no replica is healthy. */
  primary: string;
  /** The replicas' URLs (may be empty): read-only checkouts go round robin over the healthy ones. */
  replicas?: readonly string[];
}

/** A cluster checkout: the pool's own options plus where it may go. */
export interface ClusterConnectOptions extends ConnectOptions {
  /** `true`: a replica if one is healthy, else the primary. Default `false`: the primary. */
  readOnly?: boolean;
}

/** `cluster.stats()`: the writer's `stats()` and the readers', in the order of `replicas`. */
export interface ClusterStats {
  readonly writer: PoolStats;
  readonly readers: readonly PoolStats[];
}

/** One replica's health: healthy when `retryAt` has passed. */
interface ReplicaHealth {
  failures: number;
  retryAt: number;
}

/**
 * A primary's pool (`writer`) and its replicas' pools (`readers`). Built by {@link createCluster}.
 *
 * @example
 * const cluster = await createCluster<pg.Client>({ primary: 'postgres://app@db1/app', replicas: ['postgres://app@db2/app'], prePing: true });
 * const pc = await cluster.connect({ readOnly: true });
 * try { await pc.connection.query('SELECT 1'); } finally { await pc.close(); }
 */
export class Cluster<C> {
  readonly writer: Pool<C>;
  readonly readers: readonly Pool<C>[];
  readonly #health: ReplicaHealth[];
  #nextReader = 0;
  #closing: Promise<void> | null = null;

  /** @internal Use {@link createCluster}. */
  constructor(writer: Pool<C>, readers: readonly Pool<C>[]) {
    this.writer = writer;
    this.readers = Object.freeze([...readers]);
    this.#health = readers.map(() => ({ failures: 0, retryAt: 0 }));
  }

  /**
   * Check a connection out: from the primary, or with `readOnly: true` from the next healthy replica
   * (round robin), falling back to the primary when none is healthy or every healthy one fails.
   */
  connect(options?: ClusterConnectOptions): Promise<PooledConnection<C>> {
    if (options === undefined) return this.writer.connect();
    const given: unknown = options;
    if (typeof given !== 'object' || given === null) return Promise.reject(new ArgumentError(`Cluster.connect: options must be an object, got ${String(given)}`));
    const { readOnly, signal } = options;
    if (readOnly !== undefined && typeof readOnly !== 'boolean') {
      return Promise.reject(new ArgumentError(`Cluster.connect: readOnly must be a boolean, got ${typeof readOnly}`));
    }
    const poolOptions = signal === undefined ? undefined : { signal };
    if (readOnly !== true || this.readers.length === 0) return this.writer.connect(poolOptions);
    return this.#read(poolOptions);
  }

  async #read(poolOptions: ConnectOptions | undefined): Promise<PooledConnection<C>> {
    const count = this.readers.length;
    const start = this.#nextReader;
    this.#nextReader = (start + 1) % count;
    for (let step = 0; step < count; step++) {
      const index = (start + step) % count;
      const health = this.#health[index] as ReplicaHealth;
      if (health.retryAt > monotonicNow()) continue;
      const reader = this.readers[index] as Pool<C>;
      try {
        const pooled = await reader.connect(poolOptions);
        health.failures = 0;
        health.retryAt = 0;
        return pooled;
      } catch (error) {
        // The caller's own abort, or the cluster closing, is the caller's answer; anything else is the replica's fault.
        if (poolOptions?.signal?.aborted === true || this.#closing !== null) throw error;
        const backoff = Math.min(REPLICA_BACKOFF_MIN_MS * 2 ** health.failures, REPLICA_BACKOFF_MAX_MS);
        health.failures++;
        health.retryAt = monotonicNow() + backoff;
        const reason = error instanceof Error ? error.message : String(error);
        reader._log.warn(`replica checkout failed (${reason}); left out of read checkouts for ${backoff}ms`);
      }
    }
    return this.writer.connect(poolOptions);
  }

  /** The writer's `stats()` and the readers', in the order of `replicas`. */
  stats(): ClusterStats {
    return { writer: this.writer.stats(), readers: this.readers.map((reader) => reader.stats()) };
  }

  /** Closes every pool (as `Pool.close`, with the same options). A second call returns the first call's promise. */
  close(options?: CloseOptions): Promise<void> {
    this.#closing ??= Promise.all([this.writer, ...this.readers].map((pool) => pool.close(options))).then(() => undefined);
    return this.#closing;
  }
}

function urlArgument(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new ArgumentError(`createCluster: ${name} must be a database URL string, got ${value === '' ? 'an empty string' : typeof value}`);
  }
  return value;
}

/**
 * A {@link Cluster}: one pool per URL, built with `createPool` and the shared pool options. A read
 * checkout (`connect({ readOnly: true })`) goes round robin to the healthy replicas and falls back
 * to the primary; a failing replica is left out for 1 s, doubling with each further failure up to
 * 30 s, and a success resets it.
 *
 * @example
 * const cluster = await createCluster<pg.Client>({
 *   primary: 'postgres://app@db1:5432/app',
 *   replicas: ['postgres://app@db2:5432/app', 'postgres://app@db3:5432/app'],
 *   poolSize: 5,
 *   prePing: true,
 * });
 */
export async function createCluster<C = unknown>(options: ClusterOptions<C>): Promise<Cluster<C>> {
  const given: unknown = options;
  if (typeof given !== 'object' || given === null) throw new ArgumentError('createCluster: options must be an object ({ primary, replicas, ...poolOptions })');
  const { primary, replicas = [], ...poolOptions } = options;
  const primaryUrl = urlArgument(primary, 'primary');
  if (!Array.isArray(replicas)) throw new ArgumentError(`createCluster: replicas must be an array of database URL strings, got ${typeof replicas}`);
  const replicaUrls = replicas.map((url, index) => urlArgument(url, `replicas[${index}]`));
  const { loggingName } = poolOptions;
  if (loggingName !== undefined && typeof loggingName !== 'string') throw new ArgumentError(`createCluster: loggingName must be a string, got ${typeof loggingName}`);

  const built: Pool<C>[] = [];
  const build = async (url: string, name: string): Promise<Pool<C>> => {
    const settings: CreatePoolOptions<C> = loggingName === undefined ? { ...poolOptions } : { ...poolOptions, loggingName: `${loggingName}:${name}` };
    try {
      const pool = await createPool<C>(url, settings as CreatePoolOptions<C> & { poolClass: undefined });
      built.push(pool);
      return pool;
    } catch (error) {
      if (error instanceof ArgumentError) throw new ArgumentError(`createCluster: ${name} (${redactUrl(url)}): ${error.message}`, { cause: error });
      throw error;
    }
  };
  try {
    const writer = await build(primaryUrl, 'primary');
    const readers: Pool<C>[] = [];
    for (const [index, url] of replicaUrls.entries()) readers.push(await build(url, `replicas[${index}]`));
    return new Cluster(writer, readers);
  } catch (error) {
    await Promise.all(built.map((pool) => pool.close().catch(() => undefined)));
    throw error;
  }
}
