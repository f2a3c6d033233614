/**
 * The demo's metrics: the pool instrumented with `lifeguard/otel` on an OpenTelemetry SDK
 * `MeterProvider`. With `--metrics` the reader is `@opentelemetry/exporter-prometheus`, serving
 * http://127.0.0.1:9464/metrics while the demo runs; without it, a plain in-process reader. Either
 * way the summary's wait-time and use-time percentiles come from the same histograms a dashboard sees.
 */
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import type { Pool } from '../src/index.js';
import { instrumentPool } from '../src/otel.js';

/** Percentiles (seconds) estimated from a histogram's buckets, and how many values it holds. */
export interface HistogramSummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
}

export interface DemoMetrics {
  /** Where Prometheus can scrape, when serving. */
  readonly url: string | undefined;
  /** The wait-time and use-time histograms, now. */
  summary(): Promise<{ wait: HistogramSummary | undefined; use: HistogramSummary | undefined }>;
  stop(): Promise<void>;
}

/** A reader its owner collects from itself, exporting nothing (the summary; the bench's otel row). */
export class SummaryReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }

  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * The `q` quantile of a histogram, interpolating linearly inside the bucket that holds it (what
 * Prometheus' `histogram_quantile` does), clamped to the recorded min and max.
 */
export function quantile(histogram: Histogram, q: number): number {
  const { boundaries, counts } = histogram.buckets;
  const min = histogram.min ?? 0;
  const max = histogram.max ?? boundaries.at(-1) ?? 0;
  if (histogram.count === 0) return Number.NaN;
  const rank = q * histogram.count;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const inBucket = counts[i] ?? 0;
    if (inBucket > 0 && below + inBucket >= rank) {
      const lower = Math.max(min, i === 0 ? min : (boundaries[i - 1] ?? min));
      const upper = Math.min(max, i < boundaries.length ? (boundaries[i] ?? max) : max);
      const value = lower + (upper - lower) * ((rank - below) / inBucket);
      return Math.min(max, Math.max(min, value));
    }
    below += inBucket;
  }
  return max;
}

export async function startDemoMetrics(pool: Pool<unknown>, serve: { host: string; port: number } | undefined): Promise<DemoMetrics> {
  let reader: MetricReader;
  if (serve === undefined) {
    reader = new SummaryReader();
  } else {
    const exporter = new PrometheusExporter({ host: serve.host, port: serve.port, preventServerStart: true });
    try {
      await exporter.startServer();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`--metrics: cannot serve Prometheus metrics on ${serve.host}:${serve.port} (${reason}); choose another port with --metrics-port`);
    }
    reader = exporter;
  }
  const provider = new MeterProvider({ readers: [reader] });
  const instrumentation = instrumentPool(pool, { meterProvider: provider, poolName: 'demo' });
  return {
    url: serve === undefined ? undefined : `http://${serve.host}:${serve.port}/metrics`,
    async summary() {
      const { resourceMetrics } = await reader.collect();
      const find = (name: string): HistogramSummary | undefined => {
        for (const scope of resourceMetrics.scopeMetrics) {
          for (const metric of scope.metrics) {
            if (metric.descriptor.name !== name || metric.dataPointType !== DataPointType.HISTOGRAM) continue;
            const point = metric.dataPoints[0];
            if (point === undefined) return undefined;
            return { count: point.value.count, p50: quantile(point.value, 0.5), p95: quantile(point.value, 0.95), p99: quantile(point.value, 0.99) };
          }
        }
        return undefined;
      };
      return { wait: find('db.client.connection.wait_time'), use: find('db.client.connection.use_time') };
    },
    async stop() {
      instrumentation.unregister();
      await provider.shutdown();
    },
  };
}
