/* eslint-disable @typescript-eslint/await-thenable -- the hold is one microtask, `await null` */
import { QueuePool } from '../src/index.js';
import type { Dialect } from '../src/index.js';
import type { SubjectFactory } from './subject.js';

/** A dialect that does nothing, so "reset on return" and "pre-ping" cost only lifeguard's own work. */
export const noopDialect: Dialect<object> = {
  rollback() {},
  commit() {},
  close() {},
  ping() {
    return true;
  },
};

function lifeguardFactory(work: boolean): SubjectFactory {
  return {
    name: work ? 'lifeguard-work' : 'lifeguard',
    label: work ? 'lifeguard + real work' : 'lifeguard',
    kind: 'lifeguard',
    config: work
      ? "new QueuePool({ creator, poolSize, maxOverflow: 0, timeout: 30000, dialect: no-op, resetOnReturn: 'rollback', prePing: true }) + a 'checkout' listener"
      : 'new QueuePool({ creator, poolSize, maxOverflow: 0, timeout: 30000 })',
    create(size, creator) {
      const pool = work
        ? new QueuePool<object>({
            creator,
            poolSize: size,
            maxOverflow: 0,
            timeout: 30000,
            dialect: noopDialect,
            resetOnReturn: 'rollback',
            prePing: true,
          })
        : new QueuePool<object>({ creator, poolSize: size, maxOverflow: 0, timeout: 30000 });
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
        acquire: () => pool.connect(),
        release: (pc) => (pc as { close(): Promise<void> }).close(),
        close: () => pool.dispose(),
      };
    },
  };
}

export const lifeguard = lifeguardFactory(false);
export const lifeguardWork = lifeguardFactory(true);
