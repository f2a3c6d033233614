/**
 * What the MySQL-protocol drivers share: opening from a URL, and telling a lost connection from any other error, for the MySQL-protocol drivers (mysql2 and the
 * MariaDB connector). Both mark errors that closed the connection with `fatal: true`; the codes below
 * catch the rest (an error raised on a connection that was already gone, or a server-side kill).
 */
import type { CreatePoolDialectOptions, CreatePoolOptions } from '../create-pool.js';
import type { Dialect } from '../dialect.js';
import { ArgumentError } from '../errors.js';
import { anyError, isNetworkError, noop, numberProperty, stringProperty } from './common.js';
import { driverConnectTimeout, importDriver, member } from './load.js';
import type { Opened } from './load.js';
import type { MariadbConnection } from './mariadb/dialect.js';
import type { Mysql2Connection } from './mysql2/dialect.js';
import { decode, paramValue, parseServerUrl } from './url.js';

/** Driver and server error codes (by name) meaning the connection is gone. */
const DISCONNECT_CODES: ReadonlySet<string> = new Set([
  // mysql2
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  // MariaDB connector
  'ER_SOCKET_UNEXPECTED_CLOSE',
  'ER_CONNECTION_ALREADY_CLOSED',
  'ER_CMD_CONNECTION_CLOSED',
  'ER_CMD_NOT_EXECUTED_DESTROYED',
  'ER_SOCKET_TIMEOUT',
  'ER_SOCKET',
  'ER_PING_TIMEOUT',
  // server
  'ER_CONNECTION_KILLED',
  'ER_SERVER_SHUTDOWN',
  'ER_CLIENT_INTERACTION_TIMEOUT',
  'ER_NET_READ_ERROR',
  'ER_NET_READ_INTERRUPTED',
  'ER_NET_ERROR_ON_WRITE',
  'ER_NET_WRITE_INTERRUPTED',
  'CR_SERVER_GONE_ERROR',
  'CR_SERVER_LOST',
]);

/** The same, by number: connection killed, server shutdown, interaction timeout, net errors, client "gone away"/"lost". */
const DISCONNECT_ERRNOS: ReadonlySet<number> = new Set([1927, 1053, 4031, 1158, 1159, 1160, 1161, 2006, 2013]);

export function isMysqlDisconnect(error: unknown): boolean {
  if (isNetworkError(error)) return true;
  return anyError(error, (e) => {
    if (e !== null && typeof e === 'object' && (e as { fatal?: unknown }).fatal === true) return true;
    const code = stringProperty(e, 'code');
    if (code !== undefined && DISCONNECT_CODES.has(code)) return true;
    const errno = numberProperty(e, 'errno');
    if (errno !== undefined && DISCONNECT_ERRNOS.has(errno)) return true;
    const sqlState = stringProperty(e, 'sqlState');
    return sqlState?.startsWith('08') === true;
  });
}

// ------------------------------------------------------------------------------ opening from a URL

/** host, port, user, password, database and query parameters of a mysql:// or mariadb:// URL. */
export function mysqlConfig(url: string): Record<string, unknown> {
  const parsed = parseServerUrl(url);
  const config: Record<string, unknown> = {};
  for (const [key, value] of parsed.searchParams) config[key] = paramValue(value);
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  config.host = decode(host, url);
  if (parsed.port !== '') config.port = Number(parsed.port);
  if (parsed.username !== '') config.user = decode(parsed.username, url);
  if (parsed.password !== '') config.password = decode(parsed.password, url);
  const database = decode(parsed.pathname.replace(/^\//, ''), url);
  if (database !== '') config.database = database;
  return config;
}

/** mysql2 and mariadb open the same way: a MySQL URL, the driver's `createConnection`, an error listener. */
export async function openMysqlFamily<C extends Mysql2Connection | MariadbConnection>(
  url: string,
  options: CreatePoolOptions<unknown>,
  packageName: 'mysql2' | 'mariadb',
  specifier: string,
  dialect: Dialect<C>,
): Promise<Opened<C>> {
  const config = mysqlConfig(url);
  const createConnection = member(await importDriver(packageName, packageName === 'mysql2' ? 'mysql' : 'mariadb', specifier), 'createConnection', packageName) as (
    config: Record<string, unknown>,
  ) => Promise<C>;
  const timeout = driverConnectTimeout(options);
  const connectOptions = { ...(timeout === undefined ? {} : { connectTimeout: timeout }), ...options.connectOptions };
  return {
    creator: async () => {
      const conn = await createConnection({ ...connectOptions, ...config });
      conn.on('error', noop);
      return conn;
    },
    dialect,
    defaults: {},
  };
}

export function mysqlDialectOptions(options: CreatePoolDialectOptions | undefined, scheme: string): { sessionReset: boolean; closeTimeout?: number } {
  const sessionReset = options?.sessionReset ?? false;
  if (typeof sessionReset !== 'boolean') {
    throw new ArgumentError(`Invalid option 'dialectOptions.sessionReset' for ${scheme}: expected true or false, got ${JSON.stringify(sessionReset)}`);
  }
  return options?.closeTimeout === undefined ? { sessionReset } : { sessionReset, closeTimeout: options.closeTimeout };
}

