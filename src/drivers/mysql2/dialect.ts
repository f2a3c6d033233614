/**
 * `lifeguard/mysql2`: the dialect for mysql2 connections, of either API: the **promise API**
 * (`await mysql.createConnection(...)` from `mysql2/promise`) and the **callback API**
 * (`mysql.createConnection(...)` from `mysql2`, what `Mysql2Pool` pools).
 *
 * @example
 * import mysql from 'mysql2/promise';
 * import { QueuePool } from 'lifeguard';
 * import { mysql2Dialect } from 'lifeguard/mysql2';
 *
 * const pool = new QueuePool({
 *   creator: () => mysql.createConnection({ host: '127.0.0.1', user: 'app', database: 'app' }),
 *   dialect: mysql2Dialect(),
 *   prePing: true,
 * });
 *
 * This module never imports `mysql2`: it declares the few members of a connection it uses.
 */
import type { DriverDialect } from '../common.js';
import { ClosingSet, closeWithin, DEFAULT_CLOSE_TIMEOUT, noop, setSocketRef } from '../common.js';
import { isMysqlDisconnect } from '../mysql-family.js';

/** A mysql2 connection's socket, as far as closing goes. */
interface Mysql2Socket {
  readonly destroyed?: boolean;
  destroy(): void;
  once(event: 'close', listener: () => void): unknown;
}

type Done = (error: Error | null) => void;

/**
 * The members of a mysql2 callback-API ("core") connection this dialect relies on: what
 * `createConnection` from `mysql2` returns, and what a promise connection wraps as `.connection`.
 */
export interface Mysql2CoreConnection {
  ping(callback: Done): unknown;
  rollback(callback: Done): unknown;
  commit(callback: Done): unknown;
  /** COM_RESET_CONNECTION; used only with `sessionReset`. */
  reset?(callback: Done): unknown;
  end(callback?: Done): unknown;
  destroy(): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  /**
   * Queues a command. Only callback-API connections have it: that is how the dialect tells the two
   * APIs apart at run time (optional here because mysql2's own typings leave it out).
   */
  addCommand?(command: unknown): unknown;
  readonly stream?: Mysql2Socket;
}

/** The members of a mysql2 promise connection this dialect relies on. */
export interface Mysql2Connection {
  ping(): Promise<unknown>;
  rollback(): Promise<unknown>;
  commit(): Promise<unknown>;
  /** COM_RESET_CONNECTION; used only with `sessionReset`. */
  reset?(): Promise<unknown>;
  end(): Promise<unknown>;
  destroy(): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  /** The callback-API connection the promise wrapper drives, and its socket. */
  readonly connection?: {
    readonly stream?: Mysql2Socket;
  };
}

/** Either API's connection. */
export type Mysql2AnyConnection = Mysql2Connection | Mysql2CoreConnection;

type Command = 'ping' | 'rollback' | 'commit' | 'reset' | 'end';

function isCore(conn: Mysql2AnyConnection): conn is Mysql2CoreConnection {
  return typeof (conn as Partial<Mysql2CoreConnection>).addCommand === 'function';
}

/** Runs one of the connection's commands as a promise, whichever API the connection has. */
function run(conn: Mysql2AnyConnection, command: Command): Promise<void> {
  const method = (conn as unknown as Partial<Record<Command, (...args: unknown[]) => unknown>>)[command];
  if (typeof method !== 'function') return Promise.reject(new TypeError(`mysql2Dialect: the connection has no ${command}()`));
  if (!isCore(conn)) return (method.call(conn) as Promise<unknown>).then(noop);
  return new Promise<void>((resolve, reject) => {
    method.call(conn, (error: Error | null) => {
      if (error) reject(error);
      else resolve();
    });
  });
}

/** The connection's socket: the core connection's own, or the one under a promise wrapper. */
function socketOf(conn: Mysql2AnyConnection): Mysql2Socket | undefined {
  return isCore(conn) ? conn.stream : conn.connection?.stream;
}

export interface Mysql2DialectOptions {
  /**
   * After the rollback (or commit) on return, reset the session with COM_RESET_CONNECTION
   * (`connection.reset()`): user variables, session settings, temporary tables, locks and server-side
   * prepared statements are dropped (mysql2 clears its statement cache with them). With a rollback
   * the reset alone does the job: it rolls back too. Needs MySQL 5.7.3+ or MariaDB 10.2.4+.
   * Default `false`. Runs only when `resetOnReturn` is not `'none'`.
   */
  sessionReset?: boolean;
  /** How long `close` waits for COM_QUIT and the socket to close before destroying it. Default 5000 ms. */
  closeTimeout?: number;
}

/** True when the error means the connection is gone (`fatal`, connection-lost codes, socket errors). */
export function isMysql2Disconnect(error: unknown): boolean {
  return isMysqlDisconnect(error);
}

/**
 * A dialect for mysql2 connections (promise or callback API), configured.
 *
 * - `rollback`/`commit`/`ping` use the connection's own methods (`ping` is COM_PING).
 * - `close` sends COM_QUIT and waits for the socket to close (the pool's connection count then
 *   matches the server's), destroying it after `closeTimeout`; `terminate` destroys it at once.
 * - `onConnect` listens for `'error'` and `'end'` on the promise wrapper for the connection's whole
 *   life. The wrapper forwards the core connection's `'error'` only while someone listens on the
 *   wrapper, so this listener is also what makes a server-side kill reach the pool at all.
 *
 * @example
 * const dialect = mysql2Dialect({ sessionReset: true });
 */
export function mysql2Dialect<C extends Mysql2AnyConnection = Mysql2Connection>(
  options: Mysql2DialectOptions = {},
): DriverDialect<C> {
  const sessionReset = options.sessionReset === true;
  const closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
  const closing = new ClosingSet();

  const reset = (conn: C): Promise<void> => {
    if (typeof conn.reset !== 'function') return Promise.reject(new TypeError('mysql2Dialect: sessionReset needs connection.reset() (mysql2 3.x)'));
    return run(conn, 'reset');
  };

  const hardClose = (conn: C): void => {
    conn.destroy();
    socketOf(conn)?.destroy();
  };

  return Object.freeze({
    rollback: (conn: C) => (sessionReset ? reset(conn) : run(conn, 'rollback')),
    commit: async (conn: C) => {
      await run(conn, 'commit');
      if (sessionReset) await reset(conn);
    },
    close: (conn: C) => {
      closing.add(conn);
      const stream = socketOf(conn);
      if (stream === undefined) return closeWithin(() => run(conn, 'end'), closeTimeout, () => { hardClose(conn); });
      if (stream.destroyed === true) {
        hardClose(conn);
        return undefined;
      }
      const closed = new Promise<void>((resolve) => stream.once('close', resolve));
      // end() completes once COM_QUIT is sent; the socket closes when the server has read it.
      return closeWithin(() => Promise.all([run(conn, 'end'), closed]), closeTimeout, () => { hardClose(conn); });
    },
    terminate: (conn: C) => {
      closing.add(conn);
      hardClose(conn);
    },
    ping: async (conn: C) => {
      await run(conn, 'ping');
      return true;
    },
    ref: (conn: C) => { setSocketRef(socketOf(conn), true); },
    unref: (conn: C) => { setSocketRef(socketOf(conn), false); },
    isDisconnect: (error: unknown) => isMysqlDisconnect(error),
    onConnect: (conn: C, markDead: (error: unknown) => void) => {
      closing.watch(conn, markDead, 'Connection lost: the server closed the connection');
    },
  } satisfies DriverDialect<C>);
}

export type { DriverDialect } from '../common.js';
