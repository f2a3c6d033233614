/**
 * `lifeguard/mariadb`: the dialect for MariaDB Connector/Node.js promise connections
 * (`await mariadb.createConnection(...)`).
 *
 * @example
 * import mariadb from 'mariadb';
 * import { QueuePool } from 'lifeguard';
 * import { mariadbDialect } from 'lifeguard/mariadb';
 *
 * const pool = new QueuePool({
 *   creator: () => mariadb.createConnection({ host: '127.0.0.1', user: 'app', database: 'app' }),
 *   dialect: mariadbDialect(),
 *   prePing: true,
 * });
 *
 * This module never imports `mariadb`: it declares the few members of a connection it uses.
 */
import type { DriverDialect } from '../common.js';
import { ClosingSet, closeWithin, DEFAULT_CLOSE_TIMEOUT, setSocketRef } from '../common.js';
import { isMysqlDisconnect } from '../mysql-family.js';

/** The members of a MariaDB connector promise connection this dialect relies on. */
export interface MariadbConnection {
  /** COM_PING; with a timeout, a late answer fails the ping and closes the connection. */
  ping(timeout?: number): Promise<unknown>;
  /** What the driver knows locally (sends nothing): `false` once the connection is closed or broken. */
  isValid(): boolean;
  /** Skipped by the driver (no round trip) when the server says no transaction is open. */
  rollback(): Promise<unknown>;
  commit(): Promise<unknown>;
  /** COM_RESET_CONNECTION, then the driver re-runs its connection-time setup. */
  reset?(): Promise<unknown>;
  end(): Promise<unknown>;
  destroy(): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
}

export interface MariadbDialectOptions {
  /**
   * After the rollback (or commit) on return, reset the session with COM_RESET_CONNECTION
   * (`connection.reset()`): user variables, session settings, temporary tables, locks and prepared
   * statements are dropped, then the driver re-applies its own session setup (charset, time zone,
   * `initSql`). With a rollback the reset alone does the job. Needs MariaDB 10.2.4+ or MySQL 5.7.3+.
   * Default `false`. Runs only when `resetOnReturn` is not `'none'`.
   */
  sessionReset?: boolean;
  /** Passed to `ping(timeout)`: a ping answered later than this fails. Default: no timeout. */
  pingTimeout?: number;
  /** How long `close` waits for COM_QUIT before destroying the socket. Default 5000 ms. */
  closeTimeout?: number;
}

/** True when the error means the connection is gone (`fatal`, codes like `ER_SOCKET_UNEXPECTED_CLOSE`, socket errors). */
export function isMariadbDisconnect(error: unknown): boolean {
  return isMysqlDisconnect(error);
}

/**
 * A dialect for MariaDB connector promise connections, configured.
 *
 * - `rollback`/`commit` use the connection's own methods (which skip the round trip outside a
 *   transaction); `ping` answers `false` without a round trip when `isValid()` already knows the
 *   connection is closed, and sends COM_PING otherwise.
 * - `close` ends politely (or destroys a connection that is already broken), destroying it after
 *   `closeTimeout`; `terminate` destroys it at once.
 * - `onConnect` keeps `'error'` and `'end'` listeners for the connection's whole life: without an
 *   `'error'` listener the connector throws a socket error from a callback, an uncaught exception.
 *
 * @example
 * const dialect = mariadbDialect({ sessionReset: true, pingTimeout: 1000 });
 */
export function mariadbDialect<C extends MariadbConnection = MariadbConnection>(
  options: MariadbDialectOptions = {},
): DriverDialect<C> {
  const sessionReset = options.sessionReset === true;
  const closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
  const pingTimeout = options.pingTimeout;
  const closing = new ClosingSet();

  const reset = async (conn: C): Promise<void> => {
    if (typeof conn.reset !== 'function') throw new TypeError('mariadbDialect: sessionReset needs connection.reset() (mariadb 3.x)');
    await conn.reset();
  };

  /**
   * The connector keeps its socket private; its one way out is `__tests.getSocket()` (mariadb 3.x),
   * an internal testing hook. Used defensively: without it, ref/unref do nothing (the connection
   * then keeps the process alive while idle, as before).
   */
  const socketOf = (conn: C): unknown => {
    try {
      const hooks = (conn as { __tests?: { getSocket?: () => unknown } }).__tests;
      return typeof hooks?.getSocket === 'function' ? hooks.getSocket() : undefined;
    } catch {
      return undefined;
    }
  };

  return Object.freeze({
    ref: (conn: C) => { setSocketRef(socketOf(conn), true); },
    unref: (conn: C) => { setSocketRef(socketOf(conn), false); },
    rollback: async (conn: C) => {
      if (sessionReset) await reset(conn);
      else await conn.rollback();
    },
    commit: async (conn: C) => {
      await conn.commit();
      if (sessionReset) await reset(conn);
    },
    close: (conn: C) => {
      closing.add(conn);
      if (!conn.isValid()) {
        conn.destroy();
        return undefined;
      }
      return closeWithin(() => conn.end(), closeTimeout, () => {
        conn.destroy();
      });
    },
    terminate: (conn: C) => {
      closing.add(conn);
      // Drop the socket itself. The connector's destroy() opens a second connection to KILL a
      // command still running (a ping on a frozen connection: more connections than the pool's
      // limit), and leaves that KILL's failure as an unhandled rejection (its promise ends in
      // .finally()): seen when the KILL went through a partitioned network.
      const socket = socketOf(conn) as { destroy?: () => void } | undefined;
      if (typeof socket?.destroy === 'function') socket.destroy();
      else conn.destroy();
    },
    ping: async (conn: C) => {
      if (!conn.isValid()) return false;
      await conn.ping(pingTimeout);
      return true;
    },
    isDisconnect: (error: unknown, conn?: C) => isMysqlDisconnect(error) || (conn !== undefined && !conn.isValid()),
    onConnect: (conn: C, markDead: (error: unknown) => void) => {
      closing.watch(conn, markDead, 'socket has unexpectedly been closed');
    },
  } satisfies DriverDialect<C>);
}

export type { DriverDialect } from '../common.js';
