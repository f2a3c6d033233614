/* eslint-disable @typescript-eslint/await-thenable -- the hold is one microtask, `await null` */
import { QueuePool } from '../src/index.js';
import type { Dialect, QueuePoolOptions } from '../src/index.js';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { SummaryReader } from '../demo/metrics.js';
import { instrumentPool } from '../src/otel.js';
import type { Subject, SubjectFactory } from './subject.js';

/** A dialect that does nothing, so "reset on return" and "pre-ping" cost only lifeguard's own work. */
export const noopDialect: Dialect<object> = {
  rollback() {},
  commit() {},
  close() {},
  ping() {
    return true;
  },
};

/** The QueuePool constructor of this build, or of a baseline build (`--baseline <ref>`). */
type QueuePoolClass = new (options: QueuePoolOptions<object>) => QueuePool<object>;

/**
 * `version`: undefined for this build; a git ref for a baseline build of lifeguard loaded from
 * elsewhere (`bench/baseline.ts`), named `lifeguard@<ref>` and compared like any other pool.
 */
export function lifeguardFactory(work: boolean, Pool: QueuePoolClass = QueuePool, version?: string): SubjectFactory {
  const at = version === undefined ? '' : `@${version}`;
  return {
    name: `${work ? 'lifeguard-work' : 'lifeguard'}${at}`,
    label: `${work ? 'lifeguard + real work' : 'lifeguard'}${at}`,
    kind: version === undefined ? 'lifeguard' : 'baseline',
    config: work
      ? "new QueuePool({ creator, poolSize, maxOverflow: 0, timeout: 30000, dialect: no-op, resetOnReturn: 'rollback', prePing: true }) + a 'checkout' listener"
      : 'new QueuePool({ creator, poolSize, maxOverflow: 0, timeout: 30000 })',
    create(size, creator) {
      const pool = work
        ? new Pool({
            creator,
            poolSize: size,
            maxOverflow: 0,
            timeout: 30000,
            dialect: noopDialect,
            resetOnReturn: 'rollback',
            prePing: true,
          })
        : new Pool({ creator, poolSize: size, maxOverflow: 0, timeout: 30000 });
      if (work) pool.on('checkout', () => {});
      return {
        async uncontended(cycles) {
          let completed = 0;
          for (let i = 0; i < cycles; i++) {
            const pc = await pool.connect();
            await pc.close();
            completed++;
          }
          return completed;
        },
        async contended(callers, perCaller) {
          let completed = 0;
          const caller = async (): Promise<void> => {
            for (let i = 0; i < perCaller; i++) {
              const pc = await pool.connect();
              await null;
              await pc.close();
              completed++;
            }
          };
          const running: Promise<void>[] = [];
          for (let i = 0; i < callers; i++) running.push(caller());
          await Promise.all(running);
          return completed;
        },
        pool,
        acquire: () => pool.connect(),
        release: (pc) => (pc as { close(): Promise<void> }).close(),
        close: () => pool.dispose(),
      };
    },
  };
}

export const lifeguard = lifeguardFactory(false);
export const lifeguardWork = lifeguardFactory(true);

/** lifeguard with `instrumentPool` on a real OpenTelemetry SDK MeterProvider: the cost of the metrics. */
export const lifeguardOtel: SubjectFactory = {
  name: 'lifeguard-otel',
  label: 'lifeguard + otel',
  kind: 'lifeguard',
  config: 'the lifeguard pool + instrumentPool(pool, { meterProvider }) on @opentelemetry/sdk-metrics',
  create(size, creator) {
    const subject = lifeguard.create(size, creator);
    const provider = new MeterProvider({ readers: [new SummaryReader()] }) // never collected: the hot-path cost alone;
    const pool = (subject as Subject & { pool: QueuePool<object> }).pool;
    const instrumentation = instrumentPool(pool, { meterProvider: provider });
    return {
      ...subject,
      close: async () => {
        instrumentation.unregister();
        await provider.shutdown();
        await subject.close();
      },
    };
  },
};
