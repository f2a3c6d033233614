/** `createPool`'s opener for `sqlite:` URLs: a better-sqlite3 `Database` per connection. */
import type { CreatePoolOptions } from '../../create-pool.js';
import { ArgumentError } from '../../errors.js';
import { importDriver, member } from '../load.js';
import type { Opened } from '../load.js';
import { localTarget, paramValue } from '../url.js';
import { betterSqlite3Dialect } from './dialect.js';
import type { BetterSqlite3Database } from './dialect.js';

export async function openSqlite(url: string, options: CreatePoolOptions<unknown>): Promise<Opened<BetterSqlite3Database>> {
  const target = localTarget(url, 'sqlite');
  if (options.dialectOptions?.sessionReset !== undefined && options.dialectOptions.sessionReset !== false) {
    throw new ArgumentError("Invalid option 'dialectOptions.sessionReset' for sqlite: SQLite has no session reset");
  }
  const Database = member(await importDriver('better-sqlite3', 'sqlite'), 'default', 'better-sqlite3') as new (
    filename: string,
    options: Record<string, unknown>,
  ) => BetterSqlite3Database;
  const config: Record<string, unknown> = { ...options.connectOptions };
  for (const [key, value] of target.params) config[key] = paramValue(value);
  return {
    creator: () => Promise.resolve(new Database(target.path, config)),
    dialect: betterSqlite3Dialect(),
    // Every handle on ':memory:' is a separate, empty database: one connection, taking turns.
    defaults: target.memory ? { poolSize: 1, maxOverflow: 0 } : {},
  };
}

