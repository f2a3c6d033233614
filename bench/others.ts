/* eslint-disable @typescript-eslint/await-thenable, @typescript-eslint/no-confusing-void-expression --
   every loop awaits acquire and release the same way, whether a pool's release returns a promise or
   not, and holds with `await null` */
import { createPool as createGenericPool } from 'generic-pool';
import { Pool as TarnPool } from 'tarn';
import { Pool as SequelizePool } from 'sequelize-pool';
import PgPool from 'pg-pool';
import { FakePgClient } from './fake-pg-client.js';
import { FloorPool } from './floor.js';
import type { SubjectFactory } from './subject.js';

export const floor: SubjectFactory = {
  name: 'floor',
  label: 'floor (stack + FIFO)',
  kind: 'floor',
  config: 'free stack, ring-buffer FIFO of waiters, direct hand-off',
  create(size, creator) {
    const pool = new FloorPool(creator, size);
    return {
      async uncontended(cycles) {
        let completed = 0;
        for (let i = 0; i < cycles; i++) {
          const item = await pool.acquire();
          await pool.release(item);
          completed++;
        }
        return completed;
      },
      async contended(callers, perCaller) {
        let completed = 0;
        const caller = async (): Promise<void> => {
          for (let i = 0; i < perCaller; i++) {
            const item = await pool.acquire();
            await null;
            await pool.release(item);
            completed++;
          }
        };
        const running: Promise<void>[] = [];
        for (let i = 0; i < callers; i++) running.push(caller());
        await Promise.all(running);
        return completed;
      },
      acquire: () => pool.acquire(),
      release: (item) => {
        pool.release(item as object);
      },
      close: async () => {},
    };
  },
};

export const genericPool: SubjectFactory = {
  name: 'generic-pool',
  label: 'generic-pool',
  kind: 'other',
  config: 'createPool(factory, { max, min: 0 }) (defaults: no acquire timeout, no eviction, no testOnBorrow)',
  create(size, creator) {
    const pool = createGenericPool<object>(
      { create: () => Promise.resolve(creator()), destroy: () => Promise.resolve() },
      { max: size, min: 0 },
    );
    return {
      async uncontended(cycles) {
        let completed = 0;
        for (let i = 0; i < cycles; i++) {
          const item = await pool.acquire();
          await pool.release(item);
          completed++;
        }
        return completed;
      },
      async contended(callers, perCaller) {
        let completed = 0;
        const caller = async (): Promise<void> => {
          for (let i = 0; i < perCaller; i++) {
            const item = await pool.acquire();
            await null;
            await pool.release(item);
            completed++;
          }
        };
        const running: Promise<void>[] = [];
        for (let i = 0; i < callers; i++) running.push(caller());
        await Promise.all(running);
        return completed;
      },
      acquire: () => pool.acquire(),
      release: (item) => pool.release(item as object),
      close: async () => {
        await pool.drain();
        await pool.clear();
      },
    };
  },
};

export const tarn: SubjectFactory = {
  name: 'tarn',
  label: 'tarn',
  kind: 'other',
  config: 'new Pool({ create, destroy, min: 0, max }) (defaults: 30 s acquire timeout)',
  create(size, creator) {
    const pool = new TarnPool<object>({ create: () => Promise.resolve(creator()), destroy: () => undefined, min: 0, max: size });
    return {
      async uncontended(cycles) {
        let completed = 0;
        for (let i = 0; i < cycles; i++) {
          const item = await pool.acquire().promise;
          await pool.release(item);
          completed++;
        }
        return completed;
      },
      async contended(callers, perCaller) {
        let completed = 0;
        const caller = async (): Promise<void> => {
          for (let i = 0; i < perCaller; i++) {
            const item = await pool.acquire().promise;
            await null;
            await pool.release(item);
            completed++;
          }
        };
        const running: Promise<void>[] = [];
        for (let i = 0; i < callers; i++) running.push(caller());
        await Promise.all(running);
        return completed;
      },
      acquire: () => pool.acquire().promise,
      release: (item) => pool.release(item as object),
      close: async () => {
        await pool.destroy();
      },
    };
  },
};

export const pgPool: SubjectFactory = {
  name: 'pg-pool',
  label: 'pg-pool',
  kind: 'other',
  config: 'new Pool({ Client: FakeClient, max, idleTimeoutMillis: 0 }) (idle timer off: it costs a setTimeout per release)',
  create(size, creator) {
    // pg-pool makes its own clients; the creator still runs once per client so memory is counted alike.
    class Client extends FakePgClient {
      readonly resource = creator();
    }
    const pool = new PgPool<Client>({ Client, max: size, idleTimeoutMillis: 0 });
    return {
      async uncontended(cycles) {
        let completed = 0;
        for (let i = 0; i < cycles; i++) {
          const client = await pool.connect();
          await client.release();
          completed++;
        }
        return completed;
      },
      async contended(callers, perCaller) {
        let completed = 0;
        const caller = async (): Promise<void> => {
          for (let i = 0; i < perCaller; i++) {
            const client = await pool.connect();
            await null;
            await client.release();
            completed++;
          }
        };
        const running: Promise<void>[] = [];
        for (let i = 0; i < callers; i++) running.push(caller());
        await Promise.all(running);
        return completed;
      },
      acquire: () => pool.connect(),
      release: (client) => {
        (client as { release(): void }).release();
      },
      close: () => pool.end(),
    };
  },
};

export const sequelizePool: SubjectFactory = {
  name: 'sequelize-pool',
  label: 'sequelize-pool',
  kind: 'other',
  config: 'new Pool({ name, create, destroy, validate: () => true, max, min: 0 }) (defaults: 30 s acquire timeout)',
  create(size, creator) {
    const pool = new SequelizePool<object>({
      name: 'bench',
      create: () => Promise.resolve(creator()),
      destroy: () => undefined,
      validate: () => true,
      max: size,
      min: 0,
    });
    return {
      async uncontended(cycles) {
        let completed = 0;
        for (let i = 0; i < cycles; i++) {
          const item = await pool.acquire();
          await pool.release(item);
          completed++;
        }
        return completed;
      },
      async contended(callers, perCaller) {
        let completed = 0;
        const caller = async (): Promise<void> => {
          for (let i = 0; i < perCaller; i++) {
            const item = await pool.acquire();
            await null;
            await pool.release(item);
            completed++;
          }
        };
        const running: Promise<void>[] = [];
        for (let i = 0; i < callers; i++) running.push(caller());
        await Promise.all(running);
        return completed;
      },
      acquire: () => pool.acquire(),
      release: (item) => {
        pool.release(item as object);
      },
      close: async () => {
        await pool.drain();
        await pool.destroyAllNow();
      },
    };
  },
};

export const otherPools: readonly SubjectFactory[] = [genericPool, tarn, pgPool, sequelizePool];
