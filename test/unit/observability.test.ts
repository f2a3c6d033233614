// SPEC section 12 on the mock driver: lifeguard/otel's metrics read back through the real
// OpenTelemetry SDK (an in-memory exporter), and every diagnostics_channel message's shape.
import assert from 'node:assert/strict';
import { channel, subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel';
import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AggregationTemporality, DataPointType, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics';
import { ArgumentError, CHANNELS, ConnectionRecord, NullPool, PooledConnection, PoolTimeoutError, QueuePool } from '../../src/index.js';
import type { Pool } from '../../src/index.js';
import { instrumentPool, TIME_BUCKETS_SECONDS } from '../../src/otel.js';
import { subscriptionHookWorks } from '../../src/observe.js';
import { MockDisconnectError, MockDriver } from '../support/mock-driver.js';
import type { MockConnection } from '../support/mock-driver.js';

const POOL_NAME = 'db.client.connection.pool.name';
const STATE = 'db.client.connection.state';

type Kind = 'Counter' | 'UpDownCounter' | 'Histogram' | 'ObservableUpDownCounter';

/**
 * A MeterProvider whose metrics the test reads on demand. The exported data does not say which
 * instrument made a metric, so the meter is wrapped to record the `create*` call behind each name.
 */
function otelSdk(): { provider: MeterProvider; kinds: Map<string, Kind>; collect(): Promise<Map<string, MetricData>> } {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const sdkProvider = new MeterProvider({ readers: [reader] });
  const kinds = new Map<string, Kind>();
  const provider = new Proxy(sdkProvider, {
    get(target, key, receiver) {
      if (key !== 'getMeter') return Reflect.get(target, key, receiver) as unknown;
      return (...args: Parameters<MeterProvider['getMeter']>) => {
        const meter = target.getMeter(...args);
        return new Proxy(meter, {
          get(m, k, r) {
            const value = Reflect.get(m, k, r) as unknown;
            if (typeof k !== 'string' || !k.startsWith('create') || typeof value !== 'function') return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(m) : value;
            return (name: string, ...rest: unknown[]) => {
              kinds.set(name, k.slice('create'.length) as Kind);
              return (value as (...a: unknown[]) => unknown).call(m, name, ...rest);
            };
          },
        });
      };
    },
  });
  return {
    provider,
    kinds,
    async collect() {
      exporter.reset();
      await reader.forceFlush();
      const byName = new Map<string, MetricData>();
      for (const resource of exporter.getMetrics()) {
        for (const scope of resource.scopeMetrics) {
          assert.equal(scope.scope.name, 'lifeguard');
          for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
        }
      }
      return byName;
    },
  };
}

const SHAPES: Record<Kind, { point: DataPointType; monotonic?: boolean }> = {
  Counter: { point: DataPointType.SUM, monotonic: true },
  UpDownCounter: { point: DataPointType.SUM, monotonic: false },
  ObservableUpDownCounter: { point: DataPointType.SUM, monotonic: false },
  Histogram: { point: DataPointType.HISTOGRAM },
};

let kindsOf: Map<string, Kind> = new Map();

function metric(metrics: Map<string, MetricData>, name: string, kind: Kind, unit: string): MetricData {
  const found = metrics.get(name);
  assert.ok(found, `metric ${name} is exported (have: ${[...metrics.keys()].join(', ')})`);
  assert.equal(kindsOf.get(name), kind, `${name}: made with create${kind}`);
  assert.equal(found.dataPointType, SHAPES[kind].point, `${name}: data point type`);
  if (found.dataPointType === DataPointType.SUM) assert.equal(found.isMonotonic, SHAPES[kind].monotonic, `${name}: monotonic`);
  assert.equal(found.descriptor.unit, unit, `${name}: unit`);
  assert.ok(found.descriptor.description.length > 0, `${name}: has a description`);
  return found;
}

/** The one value of a sum-type metric with exactly these attributes. */
function sumAt(data: MetricData, attributes: Record<string, string>): number {
  const points = (data.dataPoints as DataPoint<number>[]).filter((point) => JSON.stringify(point.attributes) === JSON.stringify(attributes));
  assert.equal(points.length, 1, `${data.descriptor.name}: one point for ${JSON.stringify(attributes)}, got ${JSON.stringify(data.dataPoints.map((p) => p.attributes))}`);
  return points[0]!.value;
}

function histogramAt(data: MetricData, attributes: Record<string, string>): Histogram {
  assert.ok(data.dataPointType === DataPointType.HISTOGRAM, `${data.descriptor.name}: a histogram`);
  const points = data.dataPoints.filter((point) => JSON.stringify(point.attributes) === JSON.stringify(attributes));
  assert.equal(points.length, 1, `${data.descriptor.name}: one point for ${JSON.stringify(attributes)}`);
  return points[0]!.value;
}

describe('lifeguard/otel: instrumentPool', () => {
  it('emits every metric with its semantic-convention name, type, unit, attributes and value after a scripted workload', async () => {
    const driver = new MockDriver();
    const pool = new QueuePool<MockConnection>({ creator: driver.creator, dialect: driver.dialect, poolSize: 2, maxOverflow: 1, timeout: 1000, loggingName: 'orders' });
    const sdk = otelSdk();
    kindsOf = sdk.kinds;
    const instrumentation = instrumentPool(pool, { meterProvider: sdk.provider });
    const pool1 = { [POOL_NAME]: 'orders' };

    // Three connections (one overflow), held 20 ms each; a fourth caller times out (after 1 s); a
    // fifth waits for the first return and is served (the timeout is long enough that a busy
    // machine cannot time it out too).
    const held = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
    await assert.rejects(pool.connect(), PoolTimeoutError);
    const waiter = pool.connect();
    await sleep(20);
    const during = await sdk.collect();
    assert.equal(sumAt(metric(during, 'db.client.connection.count', 'ObservableUpDownCounter', '{connection}'), { ...pool1, [STATE]: 'used' }), 3);
    assert.equal(sumAt(metric(during, 'db.client.connection.count', 'ObservableUpDownCounter', '{connection}'), { ...pool1, [STATE]: 'idle' }), 0);
    assert.equal(sumAt(metric(during, 'db.client.connection.pending_requests', 'ObservableUpDownCounter', '{request}'), pool1), 1);
    for (const pc of held) await pc.close();
    const fifth = await waiter;
    await sleep(20);
    await fifth.close();

    const after = await sdk.collect();
    const count = metric(after, 'db.client.connection.count', 'ObservableUpDownCounter', '{connection}');
    assert.equal(count.dataPointType, DataPointType.SUM);
    assert.equal(sumAt(count, { ...pool1, [STATE]: 'idle' }), 2, 'poolSize 2 idle: the overflow connection closed');
    assert.equal(sumAt(count, { ...pool1, [STATE]: 'used' }), 0);
    assert.equal(sumAt(metric(after, 'db.client.connection.pending_requests', 'ObservableUpDownCounter', '{request}'), pool1), 0);
    assert.equal(sumAt(metric(after, 'db.client.connection.idle.max', 'UpDownCounter', '{connection}'), pool1), 2);
    assert.equal(sumAt(metric(after, 'db.client.connection.idle.min', 'UpDownCounter', '{connection}'), pool1), 0, 'recorded even when 0');
    assert.equal(sumAt(metric(after, 'db.client.connection.max', 'UpDownCounter', '{connection}'), pool1), 3);
    const timeouts = metric(after, 'db.client.connection.timeouts', 'Counter', '{timeout}');
    assert.equal(sumAt(timeouts, pool1), 1);

    const create = histogramAt(metric(after, 'db.client.connection.create_time', 'Histogram', 's'), pool1);
    assert.equal(create.count, 3, 'three connects');
    assert.ok(create.sum !== undefined && create.sum >= 0 && create.sum < 1, `create_time in seconds: ${create.sum}`);
    assert.deepEqual(create.buckets.boundaries, [...TIME_BUCKETS_SECONDS]);
    const wait = histogramAt(metric(after, 'db.client.connection.wait_time', 'Histogram', 's'), pool1);
    assert.equal(wait.count, 4, 'four successful checkouts (not the one that timed out)');
    assert.ok(wait.max !== undefined && wait.max >= 0.015 && wait.max < 5, `the fifth caller waited ~20 ms, in seconds: ${wait.max}`);
    const use = histogramAt(metric(after, 'db.client.connection.use_time', 'Histogram', 's'), pool1);
    assert.equal(use.count, 4);
    assert.ok(use.min !== undefined && use.min >= 0.015 && use.max !== undefined && use.max < 5, `each checkout held ~20 ms, in seconds: ${use.min}..${use.max}`);

    // After unregister() nothing more is recorded; what was recorded stays.
    instrumentation.unregister();
    instrumentation.unregister();
    await (await pool.connect()).close();
    const a = await pool.connect();
    const b = await pool.connect();
    const c = await pool.connect();
    await assert.rejects(pool.connect(), PoolTimeoutError);
    for (const pc of [a, b, c]) await pc.close();
    const later = await sdk.collect();
    assert.equal(histogramAt(later.get('db.client.connection.wait_time')!, pool1).count, 4);
    assert.equal(histogramAt(later.get('db.client.connection.use_time')!, pool1).count, 4);
    assert.equal(histogramAt(later.get('db.client.connection.create_time')!, pool1).count, 3);
    assert.equal(sumAt(later.get('db.client.connection.timeouts')!, pool1), 1);
    assert.equal(pool.stats().timeouts, 2, 'the pool itself still counts');
    await pool.close();
    await sdk.provider.shutdown();
  });

  it('names the pool with poolName, and records no limit that is unlimited', async () => {
    const driver = new MockDriver();
    const pool = new NullPool<MockConnection>({ creator: driver.creator, dialect: driver.dialect });
    const sdk = otelSdk();
    kindsOf = sdk.kinds;
    const instrumentation = instrumentPool(pool, { meterProvider: sdk.provider, poolName: 'reports' });
    await (await pool.connect()).close();
    const metrics = await sdk.collect();
    assert.ok(!metrics.has('db.client.connection.max'), 'NullPool has no maximum');
    assert.equal(sumAt(metric(metrics, 'db.client.connection.idle.max', 'UpDownCounter', '{connection}'), { [POOL_NAME]: 'reports' }), 0, 'NullPool keeps no idle connection');
    assert.equal(sumAt(metric(metrics, 'db.client.connection.idle.min', 'UpDownCounter', '{connection}'), { [POOL_NAME]: 'reports' }), 0);
    assert.equal(histogramAt(metrics.get('db.client.connection.use_time')!, { [POOL_NAME]: 'reports' }).count, 1);
    instrumentation.unregister();
    await pool.close();
    await sdk.provider.shutdown();
  });

  it('refuses bad arguments with an ArgumentError that names them', () => {
    const driver = new MockDriver();
    const pool = new QueuePool<MockConnection>({ creator: driver.creator, dialect: driver.dialect });
    assert.throws(() => instrumentPool(Object.create(null) as Pool<MockConnection>), (error: unknown) => error instanceof ArgumentError && /'pool': expected a lifeguard Pool/.test(error.message));
    assert.throws(() => instrumentPool(pool, null as unknown as object), (error: unknown) => error instanceof ArgumentError && /'options': expected an options object/.test(error.message));
    assert.throws(() => instrumentPool(pool, { poolName: '' }), (error: unknown) => error instanceof ArgumentError && /'poolName': expected a non-empty string/.test(error.message));
    assert.throws(() => instrumentPool(pool, { meterProvider: {} as never }), (error: unknown) => error instanceof ArgumentError && /'meterProvider': expected an OpenTelemetry MeterProvider/.test(error.message));
  });
});

describe('diagnostics_channel', () => {
  const seen = new Map<string, unknown[]>();
  const listeners = Object.fromEntries(
    Object.values(CHANNELS).map((name) => [name, (message: unknown) => {
      const list = seen.get(name) ?? [];
      list.push(message);
      seen.set(name, list);
    }]),
  );
  beforeEach(() => {
    seen.clear();
    for (const [name, listener] of Object.entries(listeners)) subscribe(name, listener);
  });
  afterEach(() => {
    for (const [name, listener] of Object.entries(listeners)) unsubscribe(name, listener);
  });

  it('publishes connect, checkout, checkin, timeout and invalidate with the documented shapes', async () => {
    assert.deepEqual(CHANNELS, { connect: 'lifeguard:connect', checkout: 'lifeguard:checkout', checkin: 'lifeguard:checkin', timeout: 'lifeguard:timeout', invalidate: 'lifeguard:invalidate' });
    const driver = new MockDriver();
    const pool = new QueuePool<MockConnection>({ creator: driver.creator, dialect: driver.dialect, poolSize: 1, maxOverflow: 0, timeout: 20 });
    const pc = await pool.connect();
    await assert.rejects(pool.connect(), PoolTimeoutError);
    await pc.invalidate(new MockDisconnectError(), { soft: true });
    await pc.close();

    const [connect] = seen.get('lifeguard:connect') as { pool: unknown; record: unknown; durationMs: number }[];
    assert.equal(seen.get('lifeguard:connect')?.length, 1);
    assert.deepEqual(Object.keys(connect!).sort(), ['durationMs', 'pool', 'record']);
    assert.equal(connect!.pool, pool);
    assert.ok(connect!.record instanceof ConnectionRecord);
    assert.ok(connect!.durationMs >= 0 && connect!.durationMs < 5000);

    const [checkout] = seen.get('lifeguard:checkout') as { pool: unknown; pooled: unknown; waitMs: number }[];
    assert.equal(seen.get('lifeguard:checkout')?.length, 1);
    assert.deepEqual(Object.keys(checkout!).sort(), ['pool', 'pooled', 'waitMs']);
    assert.equal(checkout!.pooled, pc);
    assert.ok(checkout!.pooled instanceof PooledConnection);
    assert.ok(checkout!.waitMs >= 0);

    const [timeout] = seen.get('lifeguard:timeout') as { pool: unknown; error: unknown }[];
    assert.equal(seen.get('lifeguard:timeout')?.length, 1);
    assert.deepEqual(Object.keys(timeout!).sort(), ['error', 'pool']);
    assert.ok(timeout!.error instanceof PoolTimeoutError);

    const [invalidate] = seen.get('lifeguard:invalidate') as { pool: unknown; record: unknown; error: unknown; soft: boolean }[];
    assert.equal(seen.get('lifeguard:invalidate')?.length, 1);
    assert.deepEqual(Object.keys(invalidate!).sort(), ['error', 'pool', 'record', 'soft']);
    assert.equal(invalidate!.soft, true);
    assert.ok(invalidate!.error instanceof MockDisconnectError);
    assert.equal(invalidate!.record, pc.record ?? invalidate!.record);

    const [checkin] = seen.get('lifeguard:checkin') as { pool: unknown; record: unknown; useMs: number }[];
    assert.equal(seen.get('lifeguard:checkin')?.length, 1);
    assert.deepEqual(Object.keys(checkin!).sort(), ['pool', 'record', 'useMs']);
    assert.ok(checkin!.record instanceof ConnectionRecord);
    assert.ok(checkin!.useMs >= 20, `held across the 20 ms timeout: ${checkin!.useMs}`);
    for (const message of [...seen.values()].flat()) assert.equal((message as { pool: unknown }).pool, pool);
    await pool.close();
  });

  it('builds no message while nobody subscribes', async () => {
    for (const [name, listener] of Object.entries(listeners)) unsubscribe(name, listener);
    const driver = new MockDriver();
    const pool = new QueuePool<MockConnection>({ creator: driver.creator, dialect: driver.dialect });
    await (await pool.connect()).close();
    assert.equal(seen.size, 0);
    await pool.close();
  });
});

describe('diagnostics_channel: subscriptions made while pools exist', () => {
  // connect() reads one flag per pool (`_watched`) instead of asking the channels each time; the
  // channels' own subscribe/unsubscribe/bindStore/unbindStore keep every live pool's flag current.
  const watched = (pool: Pool<MockConnection>): boolean => (pool as unknown as { _watched: boolean })._watched;
  const checkoutAndReturn = async (pool: Pool<MockConnection>): Promise<void> => {
    const pc = await pool.connect();
    await sleep(5);
    await pc.close();
  };

  it('a subscriber that arrives after the pool was built gets checkout and checkin with times, and leaving stops them', async () => {
    const driver = new MockDriver();
    const pool = new QueuePool<MockConnection>({ creator: driver.creator, dialect: driver.dialect, poolSize: 1 });
    await checkoutAndReturn(pool);
    assert.equal(watched(pool), false, 'nothing watches yet');
    const checkouts: { waitMs: number }[] = [];
    const checkins: { useMs: number }[] = [];
    const onCheckout = (message: unknown): void => { checkouts.push(message as { waitMs: number }); };
    const onCheckin = (message: unknown): void => { checkins.push(message as { useMs: number }); };
    subscribe(CHANNELS.checkout, onCheckout);
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- deprecated, still used: the hook must see it
    channel(CHANNELS.checkin).subscribe(onCheckin);
    assert.equal(watched(pool), true, 'subscribing marked the existing pool');
    await checkoutAndReturn(pool);
    assert.equal(checkouts.length, 1);
    assert.ok(checkouts[0]!.waitMs >= 0 && checkouts[0]!.waitMs < 1000);
    assert.equal(checkins.length, 1);
    assert.ok(checkins[0]!.useMs >= 4, `held 5 ms: ${checkins[0]!.useMs}`);
    unsubscribe(CHANNELS.checkout, onCheckout);
    assert.equal(watched(pool), true, 'checkin still has a subscriber');
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- as above
    channel(CHANNELS.checkin).unsubscribe(onCheckin);
    assert.equal(watched(pool), false, 'the last subscriber left');
    await checkoutAndReturn(pool);
    assert.equal(checkouts.length, 1);
    assert.equal(checkins.length, 1);
    await pool.close();
  });

  it('a pool built while a subscriber listens is watched from its first checkout; tracingChannel and bindStore count too', async () => {
    const driver = new MockDriver();
    const onCheckin = (): void => {};
    subscribe(CHANNELS.checkin, onCheckin);
    const pool = new QueuePool<MockConnection>({ creator: driver.creator, dialect: driver.dialect });
    try {
      assert.equal(watched(pool), true);
    } finally {
      unsubscribe(CHANNELS.checkin, onCheckin);
    }
    assert.equal(watched(pool), false);
    // A store bound to the channel makes it active (hasSubscribers) too.
    const store = new AsyncLocalStorage();
    channel(CHANNELS.checkout).bindStore(store);
    assert.equal(watched(pool), true, 'bindStore');
    channel(CHANNELS.checkout).unbindStore(store);
    assert.equal(watched(pool), false, 'unbindStore');
    // tracingChannel subscribes through each channel object's own subscribe.
    const traced = tracingChannel<unknown, object>({
      start: channel(CHANNELS.checkout),
      end: channel('lifeguard-test:end'),
      asyncStart: channel('lifeguard-test:asyncStart'),
      asyncEnd: channel('lifeguard-test:asyncEnd'),
      error: channel('lifeguard-test:error'),
    } as never);
    const ignore = (): void => {};
    const handlers = { start: ignore, end: ignore, asyncStart: ignore, asyncEnd: ignore, error: ignore };
    traced.subscribe(handlers);
    assert.equal(watched(pool), true, 'tracingChannel');
    traced.unsubscribe(handlers);
    assert.equal(watched(pool), false);
    await pool.close();
  });

  it('an observer keeps the pool watched whatever the channels do; leak tracking always does', async () => {
    const driver = new MockDriver();
    const pool = new QueuePool<MockConnection>({ creator: driver.creator, dialect: driver.dialect });
    const provider = new MeterProvider();
    const instrumentation = instrumentPool(pool, { meterProvider: provider });
    const listener = (): void => {};
    subscribe(CHANNELS.checkout, listener);
    unsubscribe(CHANNELS.checkout, listener);
    assert.equal(watched(pool), true, 'the observer still needs times');
    instrumentation.unregister();
    assert.equal(watched(pool), false);
    const tracked = new QueuePool<MockConnection>({ creator: driver.creator, dialect: driver.dialect, leakTracking: true });
    subscribe(CHANNELS.checkout, listener);
    unsubscribe(CHANNELS.checkout, listener);
    assert.equal(watched(tracked), true);
    await provider.shutdown();
    await pool.close();
    await tracked.close();
  });

  it('the probe at load found that subscriptions on this Node reach the hooks (else every pool would count as watched)', () => {
    assert.equal(subscriptionHookWorks, true);
  });

  it('another copy of lifeguard in the process shares the channel hooks through a process-wide symbol', () => {
    const watchers = (channel(CHANNELS.checkout) as unknown as Record<symbol, Set<() => void>>)[Symbol.for('lifeguard.subscriptionWatchers')];
    assert.ok(watchers instanceof Set && watchers.size >= 1, 'this copy registered its watcher');
    let calls = 0;
    const otherCopy = (): void => { calls++; };
    watchers.add(otherCopy);
    try {
      const listener = (): void => {};
      subscribe(CHANNELS.checkout, listener);
      unsubscribe(CHANNELS.checkout, listener);
      assert.ok(calls >= 2, `the other copy heard the subscribe and the unsubscribe: ${calls}`);
    } finally {
      watchers.delete(otherCopy);
    }
  });
});
