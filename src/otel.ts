/**
 * `lifeguard/otel`: OpenTelemetry metrics for one pool (SPEC section 12), named as OpenTelemetry's
 * semantic conventions name the database-client connection-pool metrics.
 *
 * @example
 * import { instrumentPool } from 'lifeguard/otel';
 * const instrumentation = instrumentPool(pool, { poolName: 'orders' });
 * // ... at shutdown:
 * instrumentation.unregister();
 *
 * `@opentelemetry/api` is an optional peer dependency: only this entry point imports it, and the
 * core never does. Instruments are created on `meterProvider` (default: the global one). The
 * connection and request counts are observable up-down counters, read from `pool.stats()` when the
 * SDK collects, so the hot path pays nothing for them; the three times are histograms in seconds,
 * recorded from the pool's own observer hooks; the limits are recorded once.
 */
import { metrics } from '@opentelemetry/api';
import type { Attributes, BatchObservableCallback, MeterProvider } from '@opentelemetry/api';
import { addObserver } from './observe.js';
import { invalid } from './options.js';
import type { PoolObserver } from './observe.js';
import { Pool } from './pool.js';

export interface InstrumentPoolOptions {
  /** Where the instruments are created. Default: the global `MeterProvider` (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider;
  /** The `db.client.connection.pool.name` attribute. Default: the pool's `loggingName`. */
  poolName?: string;
}

export interface PoolInstrumentation {
  /** Stop recording for this pool. Counters and histograms keep the values they had. Idempotent. */
  unregister(): void;
}

/** Bucket boundaries (seconds) for the three times: from 100 µs (a warm checkout) to 10 s (a connect timing out). */
export const TIME_BUCKETS_SECONDS: readonly number[] = Object.freeze([0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

const METER_NAME = 'lifeguard';
const POOL_NAME = 'db.client.connection.pool.name';
const STATE = 'db.client.connection.state';

/**
 * Emit the OpenTelemetry connection-pool metrics for `pool`:
 *
 * | metric | instrument, unit |
 * |---|---|
 * | `db.client.connection.count` (`db.client.connection.state` = `idle` / `used`) | observable UpDownCounter, `{connection}` |
 * | `db.client.connection.idle.max`, `.idle.min`, `.max` (once; an unlimited one is not recorded) | UpDownCounter, `{connection}` |
 * | `db.client.connection.pending_requests` | observable UpDownCounter, `{request}` |
 * | `db.client.connection.timeouts` | Counter, `{timeout}` |
 * | `db.client.connection.create_time`, `.wait_time`, `.use_time` | Histogram, `s` |
 *
 * Every data point carries `db.client.connection.pool.name`. A checkout that completed without
 * waiting (an idle connection was there) records a wait of 0 s: no clock is read for it.
 */
export function instrumentPool<C>(pool: Pool<C>, options: InstrumentPoolOptions = {}): PoolInstrumentation {
  if (!(pool instanceof Pool)) throw invalid('pool', 'a lifeguard Pool (instrumentPool)', pool);
  if (typeof options !== 'object' || (options as unknown) === null) throw invalid('options', 'an options object (instrumentPool)', options);
  const { meterProvider, poolName } = options;
  if (meterProvider !== undefined && typeof (meterProvider as Partial<MeterProvider>).getMeter !== 'function') {
    throw invalid('meterProvider', 'an OpenTelemetry MeterProvider, with getMeter() (instrumentPool)', meterProvider);
  }
  if (poolName !== undefined && (typeof poolName !== 'string' || poolName === '')) {
    throw invalid('poolName', 'a non-empty string (instrumentPool)', poolName);
  }

  const meter = (meterProvider ?? metrics.getMeterProvider()).getMeter(METER_NAME);
  const base: Attributes = { [POOL_NAME]: poolName ?? pool.loggingName };
  const idle: Attributes = { ...base, [STATE]: 'idle' };
  const used: Attributes = { ...base, [STATE]: 'used' };

  const count = meter.createObservableUpDownCounter('db.client.connection.count', {
    unit: '{connection}',
    description: 'The number of connections that are currently in the state described by the state attribute',
  });
  const pending = meter.createObservableUpDownCounter('db.client.connection.pending_requests', {
    unit: '{request}',
    description: 'The number of current pending requests for an open connection',
  });
  const observe: BatchObservableCallback = (result) => {
    const stats = pool.stats();
    result.observe(count, stats.idle, idle);
    result.observe(count, stats.used, used);
    result.observe(pending, stats.pending, base);
  };
  meter.addBatchObservableCallback(observe, [count, pending]);

  const limits = pool.stats();
  for (const [name, value, description] of [
    ['db.client.connection.idle.max', limits.idleMax, 'The maximum number of idle open connections allowed'],
    ['db.client.connection.idle.min', limits.idleMin, 'The minimum number of idle open connections allowed'],
    ['db.client.connection.max', limits.max, 'The maximum number of open connections allowed'],
  ] as const) {
    if (Number.isFinite(value)) meter.createUpDownCounter(name, { unit: '{connection}', description }).add(value, base);
  }

  const timeouts = meter.createCounter('db.client.connection.timeouts', {
    unit: '{timeout}',
    description: 'The number of connection timeouts that have occurred trying to obtain a connection from the pool',
  });
  const histogram = (name: string, description: string) =>
    meter.createHistogram(name, { unit: 's', description, advice: { explicitBucketBoundaries: [...TIME_BUCKETS_SECONDS] } });
  const createTime = histogram('db.client.connection.create_time', 'The time it took to create a new connection');
  const waitTime = histogram('db.client.connection.wait_time', 'The time it took to obtain an open connection from the pool');
  const useTime = histogram('db.client.connection.use_time', 'The time between borrowing a connection and returning it to the pool');

  const observer: PoolObserver<C> = {
    connected: (_record, durationMs) => { createTime.record(durationMs / 1000, base); },
    checkedOut: (_pooled, waitMs) => { waitTime.record(waitMs / 1000, base); },
    checkedIn: (_record, useMs) => { useTime.record(useMs / 1000, base); },
    timedOut: () => { timeouts.add(1, base); },
  };
  const remove = addObserver(pool, observer);
  let active = true;
  return {
    unregister: () => {
      if (!active) return;
      active = false;
      remove();
      meter.removeBatchObservableCallback(observe, [count, pending]);
    },
  };
}
