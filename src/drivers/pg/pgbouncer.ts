/**
 * Running pg clients behind PgBouncer (SPEC section 14, "Behind PgBouncer").
 *
 * In PgBouncer's transaction pooling a client's server connection changes between transactions, so
 * nothing that lives in the session can be relied on. Two things follow for the pool:
 *
 * - no session reset: `DISCARD ALL` and friends would run on whatever server connection PgBouncer
 *   picked for that one statement, and PgBouncer resets server connections itself;
 * - named prepared statements are run unnamed. pg parses a named statement once per client and then
 *   only binds it, remembering the name client-side. Behind PgBouncer the bind may land on a server
 *   connection that never parsed it ("prepared statement ... does not exist"), and the parse on one
 *   that another client already prepared it on ("... already exists"). Without the name pg sends the
 *   parse, bind and execute together, which PgBouncer keeps on one server connection.
 *
 * Session pooling gives each client one server connection for its whole life, as a direct
 * connection does, so `'session'` changes nothing in the pool: a session reset still works and is
 * still the caller's choice (PgBouncer's own `server_reset_query` runs only when lifeguard closes the
 * client).
 */
import { ArgumentError } from '../../errors.js';
import { invalid } from '../../options.js';

/** How the PgBouncer in front of PostgreSQL pools server connections (its `pool_mode`). */
export type PgBouncerMode = 'transaction' | 'session';

/** `undefined` or a valid mode; anything else is an `ArgumentError` naming `pgbouncer`. */
export function pgbouncerMode(value: unknown, where: string): PgBouncerMode | undefined {
  if (value === undefined || value === 'transaction' || value === 'session') return value;
  throw invalid('pgbouncer', `'transaction' or 'session' (${where})`, value);
}

/**
 * Throws when a session reset is asked for in transaction pooling. `resetName` is how the caller
 * spelled that option (`dialectOptions.sessionReset`, `sessionReset`).
 */
export function checkNoSessionReset(mode: PgBouncerMode | undefined, sessionReset: unknown, where: string, resetName: string): void {
  if (mode !== 'transaction' || sessionReset === undefined || sessionReset === false) return;
  throw new ArgumentError(
    `${where}: options 'pgbouncer: "transaction"' and '${resetName}' cannot be combined: in transaction pooling the session ` +
      `is not the client's between transactions and PgBouncer resets server connections itself; remove '${resetName}'`,
  );
}

/** Throws when a dialect of the caller's own is given with `pgbouncer`, which configures the built-in one. */
export function checkBuiltInDialect(mode: PgBouncerMode | undefined, dialect: unknown, where: string): void {
  if (mode === undefined || dialect === undefined) return;
  throw new ArgumentError(
    `${where}: options 'pgbouncer' and 'dialect' cannot be combined: 'pgbouncer' configures the built-in pg dialect; ` +
      `pass pgDialect({ pgbouncer: '${mode}' }) from 'lifeguard/pg' as your dialect instead`,
  );
}

interface QueryingClient {
  query: (...args: never[]) => unknown;
}

/**
 * Makes one client run named statements (`query({ name, text, values })`) unnamed, for transaction
 * pooling. Only this client's own `query` is replaced; other clients, and every client of a pool
 * without `pgbouncer: 'transaction'`, keep pg's.
 */
export function runNamedStatementsUnnamed(client: QueryingClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  client.query = (config: unknown, ...rest: unknown[]): unknown => query(withoutName(config), ...rest);
}

function withoutName(config: unknown): unknown {
  if (typeof config !== 'object' || config === null) return config;
  const named = config as { name?: unknown; submit?: unknown };
  if (named.name === undefined || named.name === null || named.name === '') return config;
  if (typeof named.submit === 'function') {
    // A Submittable (a pg.Query made by the caller) reads its name when it is submitted.
    named.name = undefined;
    return config;
  }
  const copy = { ...(config as Record<string, unknown>) };
  delete copy.name;
  return copy;
}
