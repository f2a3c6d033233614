/** `createPool`'s opener for `postgres://` and `postgresql://` URLs: a connected `pg.Client` per connection. */
import type { CreatePoolOptions } from '../../create-pool.js';
import { noop } from '../common.js';
import { driverConnectTimeout, importDriver, member } from '../load.js';
import type { Opened } from '../load.js';
import { parseServerUrl } from '../url.js';
import { pgDialect } from './dialect.js';
import type { PgClient } from './dialect.js';
import { checkNoSessionReset, pgbouncerMode } from './pgbouncer.js';

interface PgModuleClient extends PgClient {
  connect(): Promise<unknown>;
}

export async function openPostgres(url: string, options: CreatePoolOptions<unknown>): Promise<Opened<PgModuleClient>> {
  parseServerUrl(url);
  const pgbouncer = pgbouncerMode(options.pgbouncer, 'createPool');
  checkNoSessionReset(pgbouncer, options.dialectOptions?.sessionReset, 'createPool', 'dialectOptions.sessionReset');
  const Client = member(await importDriver('pg', 'postgres'), 'Client', 'pg') as new (config: Record<string, unknown>) => PgModuleClient;
  const timeout = driverConnectTimeout(options);
  const connectOptions = { ...(timeout === undefined ? {} : { connectionTimeoutMillis: timeout }), ...options.connectOptions };
  return {
    creator: async () => {
      const client = new Client({ ...connectOptions, connectionString: url });
      // Until the dialect's permanent listener is attached, an error event must not crash us.
      client.on('error', noop);
      try {
        await client.connect();
      } catch (error) {
        client.end().catch(noop);
        throw error;
      }
      return client;
    },
    dialect: pgDialect({ ...options.dialectOptions, ...(pgbouncer === undefined ? {} : { pgbouncer }) }),
    defaults: {},
  };
}

