/**
 * `lifeguard/better-sqlite3`: the dialect for better-sqlite3 `Database` handles (v12 runs on
 * Node 20; v13 needs Node 22).
 *
 * better-sqlite3 is synchronous and in-process: there is no server to lose, so there are no events
 * to listen to and a "ping" is just `db.open`. A pool still earns its keep for file databases
 * (bounded handles, reset on return, recycle). For `:memory:` each handle is its own database:
 * use one connection (`QueuePool` with `poolSize: 1, maxOverflow: 0`, or `StaticPool`).
 *
 * @example
 * import Database from 'better-sqlite3';
 * import { QueuePool } from 'lifeguard';
 * import { betterSqlite3Dialect } from 'lifeguard/better-sqlite3';
 *
 * const pool = new QueuePool({ creator: () => new Database('app.db'), dialect: betterSqlite3Dialect() });
 *
 * This module never imports `better-sqlite3`: it declares the few members of `Database` it uses.
 */
import type { DriverDialect } from '../common.js';
import { anyError, errorMessage, stringProperty } from '../common.js';

/** The members of a better-sqlite3 `Database` this dialect relies on. */
export interface BetterSqlite3Database {
  readonly open: boolean;
  readonly inTransaction: boolean;
  exec(sql: string): unknown;
  close(): unknown;
}

/** SQLite result codes after which a handle is not worth keeping. */
const BROKEN_HANDLE_CODES = ['SQLITE_IOERR', 'SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CANTOPEN'];

/**
 * True for errors that mean the handle is unusable: "The database connection is not open", and the
 * I/O, corruption and can't-open result codes (extended codes like `SQLITE_IOERR_READ` included).
 */
export function isBetterSqlite3Disconnect(error: unknown): boolean {
  return anyError(error, (e) => {
    if (errorMessage(e).includes('database connection is not open')) return true;
    const code = stringProperty(e, 'code');
    return code !== undefined && BROKEN_HANDLE_CODES.some((prefix) => code === prefix || code.startsWith(`${prefix}_`));
  });
}

/**
 * The better-sqlite3 dialect: `ROLLBACK`/`COMMIT` only when `db.inTransaction` (nothing to do
 * otherwise, and SQLite would raise "no transaction is active"); `ping` is `db.open`; `close` is
 * `db.close()`.
 */
const BETTER_SQLITE3_DIALECT: DriverDialect<BetterSqlite3Database> = Object.freeze({
  rollback: (db: BetterSqlite3Database) => {
    if (db.open && db.inTransaction) db.exec('ROLLBACK');
  },
  commit: (db: BetterSqlite3Database) => {
    if (db.open && db.inTransaction) db.exec('COMMIT');
  },
  close: (db: BetterSqlite3Database) => {
    if (db.open) db.close();
  },
  ping: (db: BetterSqlite3Database) => db.open,
  isDisconnect: (error: unknown, db?: BetterSqlite3Database) => isBetterSqlite3Disconnect(error) || db?.open === false,
} satisfies DriverDialect<BetterSqlite3Database>);

export type { DriverDialect } from '../common.js';

/**
 * The better-sqlite3 dialect (it has no options); `betterSqlite3Dialect<Database.Database>()` types
 * it for the driver's own class. Every call returns the same frozen object.
 */
export function betterSqlite3Dialect<C extends BetterSqlite3Database = BetterSqlite3Database>(): DriverDialect<C> {
  return BETTER_SQLITE3_DIALECT;
}
