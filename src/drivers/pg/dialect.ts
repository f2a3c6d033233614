/**
 * `lifeguard/pg`: the dialect for node-postgres (`pg`) `Client` connections.
 *
 * @example
 * import pg from 'pg';
 * import { QueuePool } from 'lifeguard';
 * import { pgDialect } from 'lifeguard/pg';
 *
 * const pool = new QueuePool({
 *   creator: async () => {
 *     const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
 *     await client.connect();
 *     return client;
 *   },
 *   dialect: pgDialect(),
 *   prePing: true,
 * });
 *
 * This module never imports `pg`: it declares the few members of `Client` it uses.
 */
import type { DriverDialect } from '../common.js';
import { checkNoSessionReset, pgbouncerMode, runNamedStatementsUnnamed } from './pgbouncer.js';
import type { PgBouncerMode } from './pgbouncer.js';
import {
  anyError,
  ClosingSet,
  closeWithin,
  DEFAULT_CLOSE_TIMEOUT,
  errorMessage,
  isNetworkError,
  noop,
  stringProperty,
  setSocketRef,
} from '../common.js';

/** The members of node-postgres's `Client` this dialect relies on. A real `pg.Client` fits. */
export interface PgClient {
  query(text: string): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  /** pg 8.21+: `'I'` idle, `'T'` in a transaction, `'E'` failed transaction, `null` unknown. */
  getTransactionStatus?(): string | null;
  /** `false` while a query is in flight. */
  readonly readyForQuery?: boolean;
  /** pg's wire connection: its socket, and its cache of named statements the server has parsed. */
  readonly connection?: {
    readonly stream?: { destroy(): void };
    parsedStatements?: Record<string, unknown>;
  };
}

/**
 * What to reset, besides the transaction, when a connection comes back to the pool.
 *
 * - `false` (default): nothing; the session (settings, temp tables, prepared statements, LISTENs,
 *   advisory locks) carries over to the next checkout, as in SQLAlchemy and pg-pool.
 * - `true` or `'discard-all'`: `DISCARD ALL`, the complete reset, after the rollback. It also drops
 *   every server-side prepared statement, so the dialect clears pg's client-side record of them
 *   (`client.connection.parsedStatements`); otherwise the next named query would fail with
 *   "prepared statement does not exist".
 * - `'keep-prepared'`: everything `DISCARD ALL` does except dropping prepared statements and cached
 *   plans (`RESET ALL; CLOSE ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP;
 *   DISCARD SEQUENCES`): named queries stay prepared across checkouts.
 */
export type PgSessionReset = boolean | 'discard-all' | 'keep-prepared';

export interface PgDialectOptions {
  /** See {@link PgSessionReset}. Default `false`. Runs only when `resetOnReturn` is not `'none'`. */
  sessionReset?: PgSessionReset;
  /** How long `close` waits for a polite goodbye before destroying the socket. Default 5000 ms. */
  closeTimeout?: number;
  /**
   * The clients talk to PostgreSQL through PgBouncer in this `pool_mode`. `'transaction'`: no session
   * reset (combining it with `sessionReset` is an `ArgumentError`), and named prepared statements run
   * unnamed, so they work. `'session'`: nothing changes. See README "Behind PgBouncer".
   */
  pgbouncer?: PgBouncerMode;
}

const KEEP_PREPARED_RESET =
  'RESET ALL; CLOSE ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES';

/** SQLSTATEs of a session the server ended: admin/crash shutdown, cannot connect now, database dropped, idle timeout. */
const SESSION_ENDED_SQLSTATES: ReadonlySet<string> = new Set(['57P01', '57P02', '57P03', '57P04', '57P05']);

/** pg's own errors for a dead client ("Connection terminated unexpectedly", "... not queryable", a connect timeout). */
const DISCONNECT_MESSAGES = [
  'Connection terminated',
  'not queryable',
  'timeout expired',
];

/**
 * True for an error that means the connection is unusable: a socket error, pg's own "terminated" and
 * "not queryable" errors, SQLSTATE class 08 (connection exception) and 57P01–57P05 (the server ended
 * the session).
 */
export function isPgDisconnect(error: unknown): boolean {
  if (isNetworkError(error)) return true;
  return anyError(error, (e) => {
    const code = stringProperty(e, 'code');
    if (code !== undefined && (code.startsWith('08') || SESSION_ENDED_SQLSTATES.has(code))) return true;
    const message = errorMessage(e);
    return message !== '' && DISCONNECT_MESSAGES.some((text) => message.includes(text));
  });
}

/** `false` only when the client says for sure that no transaction is open and nothing is in flight. */
function mayBeInTransaction(client: PgClient): boolean {
  if (typeof client.getTransactionStatus !== 'function') return true;
  return client.getTransactionStatus() !== 'I' || client.readyForQuery === false;
}

function forgetPreparedStatements(client: PgClient): void {
  const connection = client.connection;
  if (connection?.parsedStatements !== undefined) connection.parsedStatements = {};
}

async function discardAll(client: PgClient): Promise<void> {
  try {
    await client.query('DISCARD ALL');
  } finally {
    forgetPreparedStatements(client);
  }
}

async function keepPreparedReset(client: PgClient): Promise<void> {
  await client.query(KEEP_PREPARED_RESET);
}

function resetFor(option: PgSessionReset | undefined): ((client: PgClient) => Promise<void>) | undefined {
  switch (option) {
    case undefined:
    case false:
      return undefined;
    case true:
    case 'discard-all':
      return discardAll;
    case 'keep-prepared':
      return keepPreparedReset;
    default:
      throw new TypeError(`pgDialect: invalid sessionReset ${JSON.stringify(option)}; expected true, false, 'discard-all' or 'keep-prepared'`);
  }
}

/**
 * A dialect for node-postgres clients, configured.
 *
 * - `rollback`/`commit` send SQL, and are skipped (no round trip) when `getTransactionStatus()`
 *   says the client is idle outside a transaction; then the optional session reset runs.
 * - `ping` sends the empty query, the cheapest round trip.
 * - `close` ends the client politely, destroying the socket if that takes longer than
 *   `closeTimeout`; `terminate` destroys the socket at once.
 * - `onConnect` keeps `'error'` and `'end'` listeners on the client for its whole life: a server
 *   killing the connection marks it dead instead of crashing the process.
 *
 * @example
 * const dialect = pgDialect({ sessionReset: 'discard-all' });
 * const behindPgBouncer = pgDialect({ pgbouncer: 'transaction' });
 */
export function pgDialect<C extends PgClient = PgClient>(options: PgDialectOptions = {}): DriverDialect<C> {
  const pgbouncer = pgbouncerMode(options.pgbouncer, 'pgDialect');
  checkNoSessionReset(pgbouncer, options.sessionReset, 'pgDialect', 'sessionReset');
  const sessionReset = resetFor(options.sessionReset);
  const closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
  const closing = new ClosingSet();

  const endTransaction = (client: C, sql: 'ROLLBACK' | 'COMMIT'): void | Promise<void> => {
    if (!mayBeInTransaction(client)) return sessionReset?.(client);
    const ended = client.query(sql);
    return sessionReset === undefined ? ended.then(noop) : ended.then(() => sessionReset(client));
  };

  const destroySocket = (client: C): void => {
    client.connection?.stream?.destroy();
  };

  return Object.freeze({
    rollback: (client: C) => endTransaction(client, 'ROLLBACK'),
    commit: (client: C) => endTransaction(client, 'COMMIT'),
    close: (client: C) => {
      closing.add(client);
      return closeWithin(() => client.end(), closeTimeout, () => {
        destroySocket(client);
      });
    },
    terminate: (client: C) => {
      closing.add(client);
      // end() first, so pg knows the close is ours and reports no "terminated unexpectedly".
      const ended = client.end().catch(noop);
      destroySocket(client);
      return ended;
    },
    ping: async (client: C) => {
      await client.query('');
      return true;
    },
    ref: (client: C) => { setSocketRef(client.connection?.stream, true); },
    unref: (client: C) => { setSocketRef(client.connection?.stream, false); },
    isDisconnect: (error: unknown) => isPgDisconnect(error),
    onConnect: (client: C, markDead: (error: unknown) => void) => {
      if (pgbouncer === 'transaction') runNamedStatementsUnnamed(client);
      closing.watch(client, markDead, 'Connection terminated unexpectedly');
    },
  } satisfies DriverDialect<C>);
}

export type { DriverDialect } from '../common.js';
export type { PgBouncerMode } from './pgbouncer.js';
