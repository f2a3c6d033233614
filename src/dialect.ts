/**
 * A dialect tells the pool how to reset, close, terminate and ping one driver's connections, and how
 * to tell a disconnect from any other error. The core never imports a driver: built-in dialects for
 * real drivers live in their own subpath entry points (`lifeguard/pg`, `lifeguard/mysql2`, ...).
 *
 * @example
 * const dialect: Dialect<MyConn> = {
 *   rollback: (c) => c.query('ROLLBACK'),
 *   commit: (c) => c.query('COMMIT'),
 *   close: (c) => c.end(),
 *   ping: async (c) => { await c.query('SELECT 1'); return true; },
 * };
 */
export interface Dialect<C> {
  rollback(conn: C): void | Promise<void>;
  commit(conn: C): void | Promise<void>;
  close(conn: C): void | Promise<void>;
  /** Hard close (no goodbye to the server); used for dead or abandoned connections. Default: `close`. */
  terminate?(conn: C): void | Promise<void>;
  /** `false`, or a throw, means the connection is dead. */
  ping?(conn: C): boolean | Promise<boolean>;
  isDisconnect?(error: unknown, conn?: C): boolean;
  /**
   * Optional hook called once for every new driver connection, before any listener sees it. Built-in
   * dialects use it to keep a permanent `'error'` listener on the connection, so a server killing an
   * idle connection never crashes the process; `markDead()` makes the pool replace the connection at
   * its next checkout (or at once, when it is idle).
   */
  onConnect?(conn: C, markDead: (error: unknown) => void): void;
  /**
   * Let the connection's socket keep the Node process alive (`ref`) or not (`unref`). The pool
   * unrefs a connection when it goes idle and refs it at checkout, so a script that forgets
   * `close()` still exits (`allowExitOnIdle`).
   */
  ref?(conn: C): void;
  unref?(conn: C): void;
}

type Fn = (...args: never[]) => unknown;
type DuckConnection = Partial<Record<'rollback' | 'commit' | 'close' | 'end' | 'destroy' | 'ping', Fn>>;

function method(conn: unknown, name: keyof DuckConnection): Fn | undefined {
  // Optional chaining covers null and undefined; other primitives simply have no such method.
  const value = (conn as DuckConnection | null | undefined)?.[name];
  return typeof value === 'function' ? value : undefined;
}

function call(conn: unknown, name: keyof DuckConnection): void | Promise<void> {
  const value = (conn as DuckConnection | null | undefined)?.[name];
  return typeof value === 'function' ? (value.call(conn) as void | Promise<void>) : undefined;
}

/**
 * The default dialect: calls the connection's own `rollback`/`commit`/`close` (or `end`) when it has
 * them, and does nothing when it does not. It has no `ping`, so `prePing` needs a real dialect.
 */
export const defaultDialect: Dialect<unknown> = Object.freeze({
  rollback: (conn: unknown) => call(conn, 'rollback'),
  commit: (conn: unknown) => call(conn, 'commit'),
  close: (conn: unknown) => (method(conn, 'close') ? call(conn, 'close') : call(conn, 'end')),
  terminate: (conn: unknown) => {
    if (method(conn, 'destroy')) return call(conn, 'destroy');
    return method(conn, 'close') ? call(conn, 'close') : call(conn, 'end');
  },
});
