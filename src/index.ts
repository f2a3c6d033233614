/**
 * lifeguard: a database connection pool for TypeScript and Node.js, after SQLAlchemy's pool.
 *
 * @example
 * import { QueuePool } from 'lifeguard';
 * const pool = new QueuePool({ creator: () => openConnection(), poolSize: 5 });
 * const pc = await pool.connect();
 * try { await pc.connection.query('SELECT 1'); } finally { await pc.close(); }
 */
export { ConnectionRecord } from './connection-record.js';
export type { Dialect } from './dialect.js';
export { defaultDialect } from './dialect.js';
export {
  ArgumentError,
  ConnectTimeoutError,
  DisconnectionError,
  InvalidatePoolError,
  InvalidRequestError,
  NoMatchingHostError,
  PoolAssertionError,
  PoolClosedError,
  PoolError,
  PoolTimeoutError,
} from './errors.js';
export type { HostAnswer, PoolTimeoutCounts, PoolTimeoutPhase } from './errors.js';
export { POOL_EVENT_NAMES } from './events.js';
export type { PoolEventName, PoolEvents, PoolListener, ResetState } from './events.js';
export type { EchoLevel, Logger } from './logging.js';
export { DBProxy, manage } from './manage.js';
export type { ManagedDriver, ManageOptions, PoolClass } from './manage.js';
export type { EventRegistration, PoolOptions, ResetOnReturn } from './options.js';
export { Pool } from './pool.js';
export type { CloseOptions, ConnectOptions } from './pool.js';
export { CHANNELS } from './observe.js';
export type { PoolLimits, PoolStats } from './pool-stats.js';
export { PooledConnection } from './pooled-connection.js';
export type { ResetAgent } from './pooled-connection.js';
export { AssertionPool } from './pools/assertion-pool.js';
export type { AssertionPoolOptions } from './pools/assertion-pool.js';
export { NullPool } from './pools/null-pool.js';
export { QueuePool } from './pools/queue-pool.js';
export type { QueuePoolOptions } from './pools/queue-pool.js';
export { SingletonContextPool } from './pools/singleton-context-pool.js';
export type { SingletonContextPoolOptions } from './pools/singleton-context-pool.js';
export { StaticPool } from './pools/static-pool.js';
export { createPool, redactUrl } from './create-pool.js';
export { Cluster, createCluster, REPLICA_BACKOFF_MAX_MS, REPLICA_BACKOFF_MIN_MS } from './cluster.js';
export type { ClusterConnectOptions, ClusterOptions, ClusterStats } from './cluster.js';
export type { CreatePoolDialectOptions, CreatePoolOptions } from './create-pool.js';
