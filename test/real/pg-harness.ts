// pg harnesses for the shared contract and the disconnect suite, and an admin connection.
import pg from 'pg';
import { QueuePool } from '../../src/index.js';
import type { Dialect, QueuePoolOptions } from '../../src/index.js';
import { pgDialect } from '../../src/drivers/pg/index.js';

/** The pg dialect typed for `pg.Client`. */
export const clientDialect = pgDialect<pg.Client>();
import { uniqueName, withParam } from '../support/servers.js';
import { waitFor } from './contract.js';
import type { DialectHarness } from './contract.js';
import type { DisconnectHarness, ServerSession } from './disconnects.js';

/** A connected client (with an error listener: admin connections must not crash the run either). */
export async function pgClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/**
 * A connected client with no lasting listener of ours: pooled through the pg dialect, only the
 * dialect's `onConnect` listener stands between a server-side kill and an uncaught 'error' crashing
 * the run. A guard listener covers the connect itself and is removed on the next turn of the event
 * loop, once the pool has attached the dialect's: pg parses a whole socket read at once, so a kill
 * that lands in the same read as ReadyForQuery emits 'error' before `connect()`'s promise can
 * resolve (what the README asks of every custom creator).
 */
export async function rawPgClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  const guard = (): void => {};
  client.on('error', guard);
  try {
    await client.connect();
  } finally {
    setImmediate(() => client.off('error', guard));
  }
  return client;
}

/** An admin connection that lists and kills the sessions of one application name. */
export class PgAdmin {
  readonly #url: string;
  #client: Promise<pg.Client> | undefined;
  /** Sessions this admin killed: excluded from counts even before the server reaps them. */
  readonly killed = new Set<number>();

  constructor(url: string) {
    this.#url = url;
  }

  client(): Promise<pg.Client> {
    this.#client ??= pgClient(this.#url);
    return this.#client;
  }

  async query(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
    return (await this.client()).query(sql, params);
  }

  async sessions(applicationName: string): Promise<ServerSession[]> {
    const { rows } = await this.query('SELECT pid, state FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
    return (rows as { pid: number; state: string | null }[])
      .filter((row) => !this.killed.has(row.pid))
      .map((row) => ({ id: row.pid, busy: row.state !== 'idle' }));
  }

  async kill(pids: readonly number[]): Promise<void> {
    for (const pid of pids) this.killed.add(pid);
    await this.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const { rows } = await this.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1::int[])', [pids]);
      if ((rows[0] as { n: number }).n === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`sessions ${pids.join(',')} still listed 5 s after pg_terminate_backend`);
  }

  async end(): Promise<void> {
    if (this.#client !== undefined) await (await this.#client).end();
  }
}

function processId(client: pg.Client): number {
  return (client as unknown as { processID: number }).processID;
}

export function pgHarness(url: string, dialect: Dialect<pg.Client> = clientDialect): DialectHarness<pg.Client> & { admin: PgAdmin } {
  const table = uniqueName('lg_contract');
  const applicationName = uniqueName('lg_app');
  const connectionString = withParam(url, 'application_name', applicationName);
  const admin = new PgAdmin(url);
  return {
    admin,
    dialect,
    open: () => rawPgClient(connectionString),
    exec: async (client, sql) => {
      await client.query(sql);
    },
    countRows: async (client) => {
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${table}`);
      return (rows[0] as { n: number }).n;
    },
    begin: 'BEGIN',
    insert: `INSERT INTO ${table} (v) VALUES (1)`,
    kill: async (client) => {
      await admin.kill([processId(client)]);
    },
    // The server lists a backend until it has exited, a moment after the client's socket closed.
    isClosed: (client) =>
      waitFor(async () => {
        const { rows } = await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [processId(client)]);
        return (rows[0] as { n: number }).n === 0;
      }, 2000),
    setup: async () => {
      await admin.query(`CREATE TABLE ${table} (v int)`);
    },
    teardown: async () => {
      await admin.query(`DROP TABLE IF EXISTS ${table}`);
      await admin.end();
    },
    clear: async () => {
      await admin.query(`TRUNCATE ${table}`);
    },
    noticesIdleKill: true,
  };
}

export function pgDisconnectHarness(url: string): DisconnectHarness<pg.Client> & { admin: PgAdmin } {
  const applicationName = uniqueName('lg_kill');
  const connectionString = withParam(url, 'application_name', applicationName);
  const admin = new PgAdmin(url);
  return {
    admin,
    dialect: clientDialect,
    pool: (options: Partial<QueuePoolOptions<pg.Client>>) =>
      new QueuePool<pg.Client>({ creator: () => rawPgClient(connectionString), dialect: clientDialect, ...options }),
    sessions: () => admin.sessions(applicationName),
    killSessions: (ids) => admin.kill(ids),
    ping: 'SELECT 1',
    busy: 'SELECT pg_sleep(0.02)',
    exec: async (client, sql) => {
      await client.query(sql);
    },
  };
}
