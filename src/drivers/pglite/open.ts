/** `createPool`'s opener for `pglite:` URLs: one PGlite instance, the pool's only connection. */
import type { CreatePoolOptions } from '../../create-pool.js';
import { ArgumentError } from '../../errors.js';
import { NullPool } from '../../pools/null-pool.js';
import { QueuePool } from '../../pools/queue-pool.js';
import { SingletonContextPool } from '../../pools/singleton-context-pool.js';
import { importDriver, member } from '../load.js';
import type { Opened } from '../load.js';
import { localTarget, paramValue, redactUrl } from '../url.js';
import { pgliteDialect } from './dialect.js';
import type { PgliteDatabase } from './dialect.js';

export async function openPglite(url: string, options: CreatePoolOptions<unknown>): Promise<Opened<PgliteDatabase>> {
  const target = localTarget(url, 'pglite');
  const sessionReset = options.dialectOptions?.sessionReset ?? false;
  if (typeof sessionReset !== 'boolean') {
    throw new ArgumentError(`Invalid option 'dialectOptions.sessionReset' for pglite: expected true or false, got ${JSON.stringify(sessionReset)}`);
  }
  checkPgliteLimits(options, url);
  const PGlite = member(await importDriver('@electric-sql/pglite', 'pglite'), 'PGlite', '@electric-sql/pglite') as {
    create(dataDir: string | undefined, options: Record<string, unknown>): Promise<PgliteDatabase>;
  };
  const config: Record<string, unknown> = { ...options.connectOptions };
  for (const [key, value] of target.params) config[key] = paramValue(value);
  let current: PgliteDatabase | undefined;
  return {
    creator: async () => {
      // Two live instances over one data directory would corrupt it: refuse rather than open one.
      if (!target.memory && current !== undefined && !current.closed) {
        throw new ArgumentError(`createPool: the PGlite database ${JSON.stringify(target.path)} is already open in this pool; PGlite allows one instance per data directory`);
      }
      const db = await PGlite.create(target.memory ? undefined : target.path, config);
      current = db;
      return db;
    },
    dialect: pgliteDialect({ sessionReset }),
    defaults: { poolSize: 1, maxOverflow: 0 },
  };
}

/** PGlite is one connection per instance: refuse pool setups that would open a second one. */
function checkPgliteLimits(options: CreatePoolOptions<unknown>, url: string): void {
  const where = JSON.stringify(redactUrl(url));
  const poolClass = options.poolClass as unknown;
  if (poolClass === SingletonContextPool) {
    throw new ArgumentError(`createPool: ${where}: SingletonContextPool opens one PGlite instance per async context; use QueuePool (the default), StaticPool or AssertionPool`);
  }
  if (poolClass === NullPool) {
    throw new ArgumentError(`createPool: ${where}: NullPool opens one PGlite instance per checkout; use QueuePool (the default), StaticPool or AssertionPool`);
  }
  if (poolClass === undefined || poolClass === QueuePool) {
    const poolSize = options.poolSize ?? 1;
    const maxOverflow = options.maxOverflow ?? 0;
    if (poolSize !== 1 || maxOverflow !== 0) {
      throw new ArgumentError(
        `createPool: ${where}: a PGlite database is one connection; QueuePool needs poolSize 1 and maxOverflow 0 (got poolSize ${String(poolSize)}, maxOverflow ${String(maxOverflow)})`,
      );
    }
  }
}

