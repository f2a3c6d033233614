/** `createPool`'s opener for `postgres://` and `postgresql://` URLs: a connected `pg.Client` per connection. */
import type { CreatePoolOptions } from '../../create-pool.js';
import { noop } from '../common.js';
import { driverConnectTimeout, importDriver, member } from '../load.js';
import type { Opened } from '../load.js';
import { parseServerUrl } from '../url.js';
import { pgDialect } from './dialect.js';
import type { PgClient } from './dialect.js';
import { openMatching, parsePgTargets } from './multi-host.js';
import type { PgHost } from './multi-host.js';
import { checkBuiltInDialect, checkNoSessionReset, pgbouncerMode } from './pgbouncer.js';

interface PgModuleClient extends PgClient {
  connect(): Promise<unknown>;
}

export async function openPostgres(url: string, options: CreatePoolOptions<unknown>): Promise<Opened<PgModuleClient>> {
  // A plain URL (one host, no target_session_attrs) goes to pg as it is; the others are split per host.
  const targets = parsePgTargets(url);
  if (targets === null) parseServerUrl(url);
  const pgbouncer = pgbouncerMode(options.pgbouncer, 'createPool');
  checkBuiltInDialect(pgbouncer, options.dialect, 'createPool');
  checkNoSessionReset(pgbouncer, options.dialectOptions?.sessionReset, 'createPool', 'dialectOptions.sessionReset');
  const Client = member(await importDriver('pg', 'postgres'), 'Client', 'pg') as new (config: Record<string, unknown>) => PgModuleClient;
  const timeout = driverConnectTimeout(options);
  const connectOptions = { ...(timeout === undefined ? {} : { connectionTimeoutMillis: timeout }), ...options.connectOptions };
  const open = async (connectionString: string, config: Record<string, unknown>): Promise<PgModuleClient> => {
    const client = new Client({ ...config, connectionString });
    // Until the dialect's permanent listener is attached, an error event must not crash us.
    client.on('error', noop);
    try {
      await client.connect();
    } catch (error) {
      client.end().catch(noop);
      throw error;
    }
    return client;
  };
  const dialect = pgDialect<PgModuleClient>({ ...options.dialectOptions, ...(pgbouncer === undefined ? {} : { pgbouncer }) });
  if (targets === null) return { creator: () => open(url, connectOptions), dialect, defaults: {} };

  // The pool's connectTimeout bounds the whole walk over the hosts; each host gets what is left.
  const budget: unknown = options.connectTimeout ?? 10000;
  const budgetMs = typeof budget === 'number' && Number.isFinite(budget) && budget > 0 ? budget : undefined;
  const driverTimeout = connectOptions.connectionTimeoutMillis;
  const connectHost = (host: PgHost, timeoutMs: number | undefined): Promise<PgModuleClient> => {
    const limits = [timeoutMs, typeof driverTimeout === 'number' && driverTimeout > 0 ? driverTimeout : undefined].filter((value) => value !== undefined);
    const config = limits.length === 0 ? connectOptions : { ...connectOptions, connectionTimeoutMillis: Math.min(...limits) };
    return open(host.url, config);
  };
  // A session that does not match (or did not answer the check) is not ours to keep: close it at once.
  const discard = (client: PgModuleClient): void => {
    client.end().catch(noop);
    client.connection?.stream?.destroy();
  };
  return {
    creator: () => openMatching(targets, connectHost, discard, budgetMs),
    dialect,
    defaults: {},
  };
}
