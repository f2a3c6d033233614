// Harnesses for the MySQL-protocol dialects (mysql2 and the MariaDB connector), sharing an admin
// connection that lists and kills the sessions connected to one throwaway database.
import * as mariadb from 'mariadb';
import mysql from 'mysql2/promise';
import mysqlCore from 'mysql2';
import { QueuePool } from '../../src/index.js';
import type { Dialect, QueuePoolOptions } from '../../src/index.js';
import { mariadbDialect } from '../../src/drivers/mariadb/index.js';
import { mysql2Dialect } from '../../src/drivers/mysql2/index.js';
import { uniqueName, withDatabase } from '../support/servers.js';
import { waitFor } from './contract.js';
import type { DialectHarness } from './contract.js';
import type { DisconnectHarness, ServerSession } from './disconnects.js';

export type Mysql2Conn = mysql.Connection;
export type Mysql2CoreConn = mysqlCore.Connection;
export type MariadbConn = mariadb.Connection;

/** An admin connection (mysql2) on the server's default database. */
export class MysqlAdmin {
  readonly #url: string;
  #conn: Promise<mysql.Connection> | undefined;
  readonly killed = new Set<number>();

  constructor(url: string) {
    this.#url = url;
  }

  conn(): Promise<mysql.Connection> {
    this.#conn ??= mysql.createConnection({ uri: this.#url }).then((conn) => {
      conn.on('error', () => {});
      return conn;
    });
    return this.#conn;
  }

  async query(sql: string, params: unknown[] = []): Promise<unknown[]> {
    const [rows] = await (await this.conn()).query(sql, params);
    return rows as unknown[];
  }

  /** Sessions whose current database is `database`, not killed by us. */
  async sessions(database: string): Promise<ServerSession[]> {
    const rows = (await this.query('SELECT ID AS id, COMMAND AS command FROM information_schema.PROCESSLIST WHERE DB = ?', [database])) as {
      id: number | bigint;
      command: string;
    }[];
    return rows
      .map((row) => ({ id: Number(row.id), command: row.command }))
      .filter((row) => !this.killed.has(row.id) && row.command !== 'Killed')
      .map((row) => ({ id: row.id, busy: row.command !== 'Sleep' }));
  }

  async kill(ids: readonly number[]): Promise<void> {
    for (const id of ids) {
      this.killed.add(id);
      try {
        await this.query(`KILL ${id}`);
      } catch (error) {
        // ER_NO_SUCH_THREAD: it ended on its own meanwhile.
        if ((error as { errno?: number }).errno !== 1094) throw error;
      }
    }
    const gone = await waitFor(async () => {
      const rows = (await this.query(`SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE ID IN (${ids.map(Number).join(',')})`)) as {
        n: number | bigint;
      }[];
      return Number(rows[0]?.n) === 0;
    }, 5000);
    if (!gone) throw new Error(`sessions ${ids.join(',')} still listed 5 s after KILL`);
  }

  async isListed(id: number): Promise<boolean> {
    const rows = (await this.query('SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE ID = ?', [id])) as { n: number | bigint }[];
    return Number(rows[0]?.n) !== 0;
  }

  async end(): Promise<void> {
    if (this.#conn !== undefined) await (await this.#conn).end();
  }
}

/** What differs between the two drivers. */
export interface MysqlDriver<C> {
  readonly name: string;
  readonly dialect: Dialect<C>;
  /** Opens a connection with no listener of ours: only the dialect's protects the process. */
  open(url: string): Promise<C>;
  query(conn: C, sql: string): Promise<unknown>;
  threadId(conn: C): number;
}

export const mysql2Driver: MysqlDriver<Mysql2Conn> = {
  name: 'mysql2',
  dialect: mysql2Dialect<Mysql2Conn>(),
  open: (url) => mysql.createConnection({ uri: url }),
  query: async (conn, sql) => (await conn.query(sql))[0],
  threadId: (conn) => conn.threadId,
};

/** mysql2's callback API (what Mysql2Pool pools): the same dialect, driving callbacks. */
export const mysql2CoreDriver: MysqlDriver<Mysql2CoreConn> = {
  name: 'mysql2 callback-API',
  dialect: mysql2Dialect<Mysql2CoreConn>(),
  open: (url) =>
    new Promise((resolve, reject) => {
      const conn = mysqlCore.createConnection({ uri: url });
      conn.connect((error) => {
        if (error === null) resolve(conn);
        else {
          conn.destroy();
          reject(error);
        }
      });
    }),
  query: (conn, sql) =>
    new Promise((resolve, reject) => {
      conn.query(sql, (error, rows) => {
        if (error === null) resolve(rows);
        else reject(error);
      });
    }),
  threadId: (conn) => conn.threadId,
};

export const mariadbDriver: MysqlDriver<MariadbConn> = {
  name: 'mariadb',
  dialect: mariadbDialect<MariadbConn>(),
  open: (url) => {
    const parsed = new URL(url);
    return mariadb.createConnection({
      host: parsed.hostname,
      port: Number(parsed.port || 3306),
      user: decodeURIComponent(parsed.username),
      password: decodeURIComponent(parsed.password),
      database: decodeURIComponent(parsed.pathname.slice(1)),
    });
  },
  query: (conn, sql) => conn.query(sql),
  threadId: (conn) => conn.threadId ?? -1,
};

/** A throwaway database per harness: its name marks the harness's sessions in the process list. */
export function mysqlHarness<C>(url: string, driver: MysqlDriver<C>, dialect: Dialect<C> = driver.dialect): DialectHarness<C> & { admin: MysqlAdmin; database: string } {
  const database = uniqueName('lg_db');
  const dbUrl = withDatabase(url, database);
  const admin = new MysqlAdmin(url);
  return {
    admin,
    database,
    dialect,
    open: () => driver.open(dbUrl),
    exec: async (conn, sql) => {
      await driver.query(conn, sql);
    },
    countRows: async (conn) => {
      const rows = (await driver.query(conn, 'SELECT count(*) AS n FROM t')) as { n: number | bigint }[];
      return Number(rows[0]?.n);
    },
    begin: 'START TRANSACTION',
    insert: 'INSERT INTO t (v) VALUES (1)',
    kill: (conn) => admin.kill([driver.threadId(conn)]),
    isClosed: (conn) => waitFor(async () => !(await admin.isListed(driver.threadId(conn))), 2000),
    setup: async () => {
      await admin.query(`CREATE DATABASE ${database}`);
      await admin.query(`CREATE TABLE ${database}.t (v int) ENGINE=InnoDB`);
    },
    teardown: async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${database}`);
      await admin.end();
    },
    clear: async () => {
      await admin.query(`DELETE FROM ${database}.t`);
    },
    noticesIdleKill: true,
  };
}

export function mysqlDisconnectHarness<C>(url: string, driver: MysqlDriver<C>): DisconnectHarness<C> & {
  setup(): Promise<void>;
  teardown(): Promise<void>;
} {
  const database = uniqueName('lg_kill');
  const dbUrl = withDatabase(url, database);
  const admin = new MysqlAdmin(url);
  return {
    dialect: driver.dialect,
    pool: (options: Partial<QueuePoolOptions<C>>) => new QueuePool<C>({ creator: () => driver.open(dbUrl), dialect: driver.dialect, ...options }),
    sessions: () => admin.sessions(database),
    killSessions: (ids) => admin.kill(ids),
    ping: 'SELECT 1',
    busy: 'SELECT SLEEP(0.02)',
    exec: async (conn, sql) => {
      await driver.query(conn, sql);
    },
    setup: async () => {
      await admin.query(`CREATE DATABASE ${database}`);
    },
    teardown: async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${database}`);
      await admin.end();
    },
  };
}
