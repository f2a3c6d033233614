/**
 * Just enough of a SQL layer for the demo to run the same workload on node-postgres, mysql2 and the
 * MariaDB connector: one `query()` returning rows, `?` placeholders everywhere, and the few
 * statements that differ between PostgreSQL and MySQL/MariaDB.
 *
 * The driver is recognised from the connection object the pool hands out, so the demo does not
 * depend on which driver `createPool` picks for a scheme.
 */
import { isMariadbDisconnect } from '../src/drivers/mariadb/index.js';
import { isMysql2Disconnect } from '../src/drivers/mysql2/index.js';
import { isPgDisconnect } from '../src/drivers/pg/index.js';

export type Row = Record<string, unknown>;

export interface SqlDriver {
  readonly name: 'pg' | 'mysql2' | 'mariadb';
  readonly family: 'postgres' | 'mysql';
  /** Runs one statement with `?` placeholders; returns the rows (empty for statements without rows). */
  query(connection: unknown, sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** The server's id for this session: the backend pid (PostgreSQL) or the thread id (MySQL). */
  sessionId(connection: unknown): number | undefined;
  /** The dialect's disconnect test: this error means the connection is dead. */
  isDisconnect(error: unknown): boolean;
}

interface AnyConnection {
  query(sql: string, params?: readonly unknown[]): Promise<unknown>;
  escapeIdentifier?: unknown;
  isValid?: unknown;
  execute?: unknown;
  processID?: number | null;
  threadId?: number | null;
  connection?: { threadId?: number | null };
}

/** `?` → `$1`, `$2`... (the demo's SQL has no `?` inside string literals). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

const pgDriver: SqlDriver = {
  name: 'pg',
  family: 'postgres',
  async query(connection, sql, params) {
    const result = (await (connection as AnyConnection).query(numbered(sql), params)) as { rows?: Row[] };
    return result.rows ?? [];
  },
  sessionId: (connection) => (connection as AnyConnection).processID ?? undefined,
  isDisconnect: isPgDisconnect,
};

const mysql2Driver: SqlDriver = {
  name: 'mysql2',
  family: 'mysql',
  async query(connection, sql, params) {
    // The promise API resolves to [rows, fields]; rows is a ResultSetHeader for statements without rows.
    const [rows] = (await (connection as AnyConnection).query(sql, params)) as [unknown, unknown];
    return Array.isArray(rows) ? (rows as Row[]) : [];
  },
  sessionId: (connection) => (connection as AnyConnection).connection?.threadId ?? undefined,
  isDisconnect: isMysql2Disconnect,
};

const mariadbDriver: SqlDriver = {
  name: 'mariadb',
  family: 'mysql',
  async query(connection, sql, params) {
    // Rows for a SELECT, an OkPacket for the rest.
    const rows = await (connection as AnyConnection).query(sql, params);
    return Array.isArray(rows) ? (rows as Row[]) : [];
  },
  sessionId: (connection) => (connection as AnyConnection).threadId ?? undefined,
  isDisconnect: isMariadbDisconnect,
};

/** Which driver made this connection. */
export function driverOf(connection: unknown): SqlDriver {
  const c = connection as AnyConnection;
  if (typeof c.escapeIdentifier === 'function') return pgDriver;
  if (typeof c.isValid === 'function') return mariadbDriver;
  if (typeof c.execute === 'function' && c.connection !== undefined) return mysql2Driver;
  throw new Error('the demo knows pg, mysql2 and mariadb connections only');
}

/** The demo's schema: accounts that transfer money, and a log of page views. */
export function schemaStatements(family: SqlDriver['family'], prefix: string): string[] {
  const id = family === 'postgres' ? 'BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY' : 'BIGINT AUTO_INCREMENT PRIMARY KEY';
  const engine = family === 'postgres' ? '' : ' ENGINE=InnoDB';
  return [
    `CREATE TABLE ${prefix}accounts (id INT PRIMARY KEY, owner VARCHAR(40) NOT NULL, balance BIGINT NOT NULL)${engine}`,
    `CREATE TABLE ${prefix}transfers (id ${id}, from_id INT NOT NULL, to_id INT NOT NULL, amount BIGINT NOT NULL, ` +
      `created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)${engine}`,
    `CREATE INDEX ${prefix}transfers_from ON ${prefix}transfers (from_id)`,
    `CREATE TABLE ${prefix}page_views (id ${id}, account_id INT NOT NULL, path VARCHAR(100) NOT NULL, ` +
      `viewed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)${engine}`,
  ];
}

export function dropStatements(prefix: string): string[] {
  return [`DROP TABLE IF EXISTS ${prefix}page_views`, `DROP TABLE IF EXISTS ${prefix}transfers`, `DROP TABLE IF EXISTS ${prefix}accounts`];
}
