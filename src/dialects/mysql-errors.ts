/**
 * Telling a lost connection from any other error, for the MySQL-protocol drivers (mysql2 and the
 * MariaDB connector). Both mark errors that closed the connection with `fatal: true`; the codes below
 * catch the rest (an error raised on a connection that was already gone, or a server-side kill).
 */
import { anyError, isNetworkError, numberProperty, stringProperty } from './common.js';

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
