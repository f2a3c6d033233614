/**
 * `lifeguard/pglite`: the dialect for PGlite (`@electric-sql/pglite`), PostgreSQL compiled to
 * WebAssembly and run in-process.
 *
 * A PGlite instance *is* one connection: it runs one session and serializes its queries. Two
 * instances over the same data directory corrupt it, and two in-memory instances are two separate
 * databases. So a pool of PGlite connections must never hold more than one instance per database:
 *
 * - `QueuePool` with `poolSize: 1, maxOverflow: 0` (what `createPool('pglite:...')` builds): one
 *   instance, checkouts take turns, each gets a clean transaction state; the right default.
 * - `StaticPool`: one instance shared by every concurrent checkout, no turn-taking; fine when the
 *   callers never hold transactions open across awaits.
 * - `AssertionPool`: one instance, and a loud error if two callers ever overlap.
 * - Not `SingletonContextPool` (one instance per async context) nor a `QueuePool` that may open a
 *   second connection, nor `NullPool` on a data directory (concurrent checkouts open two instances).
 *
 * Replacing the connection (invalidate, recycle) closes the instance and opens a fresh one: for a
 * data directory the data survives; for `memory://` it starts empty.
 *
 * @example
 * import { PGlite } from '@electric-sql/pglite';
 * import { QueuePool } from 'lifeguard';
 * import { pgliteDialect } from 'lifeguard/pglite';
 *
 * const pool = new QueuePool({
 *   creator: () => PGlite.create('./data'),
 *   dialect: pgliteDialect(),
 *   poolSize: 1,
 *   maxOverflow: 0,
 * });
 *
 * This module never imports PGlite: it declares the few members of an instance it uses.
 */
import type { DriverDialect } from '../common.js';
import { anyError, errorMessage, stringProperty } from '../common.js';

/** The members of a `PGlite` instance this dialect relies on. */
export interface PgliteDatabase {
  readonly closed: boolean;
  isInTransaction(): boolean;
  exec(sql: string): Promise<unknown>;
  close(): Promise<void>;
}

export interface PgliteDialectOptions {
  /**
   * After the rollback (or commit) on return, run `DISCARD ALL`: settings, temporary tables,
   * prepared statements, LISTENs and advisory locks do not carry over to the next checkout.
   * Default `false`. Runs only when `resetOnReturn` is not `'none'`.
   */
  sessionReset?: boolean;
}

/**
 * True for errors that mean the instance is unusable: it is closed or closing, or its WebAssembly
 * module aborted (`RuntimeError`), after which PGlite cannot run another query.
 */
export function isPgliteDisconnect(error: unknown): boolean {
  return anyError(error, (e) => {
    const message = errorMessage(e);
    if (message.includes('PGlite is closed') || message.includes('PGlite is closing')) return true;
    return stringProperty(e, 'name') === 'RuntimeError';
  });
}

/**
 * A PGlite dialect, configured.
 *
 * - `rollback`/`commit` run only when `isInTransaction()` says a transaction is open.
 * - `ping` is `false` for a closed instance, and otherwise runs an empty statement (which fails
 *   after a WebAssembly abort).
 * - `close` closes the instance (for a data directory, this flushes it).
 * - No `onConnect`: PGlite emits no connection events; nothing can kill it from outside.
 */
export function pgliteDialect<C extends PgliteDatabase = PgliteDatabase>(options: PgliteDialectOptions = {}): DriverDialect<C> {
  const sessionReset = options.sessionReset === true;

  const endTransaction = async (db: C, sql: 'ROLLBACK' | 'COMMIT'): Promise<void> => {
    if (db.isInTransaction()) await db.exec(sql);
    if (sessionReset) await db.exec('DISCARD ALL');
  };

  return Object.freeze({
    rollback: (db: C) => endTransaction(db, 'ROLLBACK'),
    commit: (db: C) => endTransaction(db, 'COMMIT'),
    close: async (db: C) => {
      if (!db.closed) await db.close();
    },
    ping: async (db: C) => {
      if (db.closed) return false;
      await db.exec('');
      return true;
    },
    isDisconnect: (error: unknown, db?: C) => isPgliteDisconnect(error) || db?.closed === true,
  } satisfies DriverDialect<C>);
}

export type { DriverDialect } from '../common.js';
