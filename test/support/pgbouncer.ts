/**
 * A private PgBouncer for the tests behind PgBouncer (SPEC section 14).
 *
 * `startPgBouncer(target)` writes a config and an auth file into a fresh temp dir, starts
 * `/usr/sbin/pgbouncer` (or `$PGBOUNCER`) on a free loopback port in front of the PostgreSQL
 * `target`, waits until its admin console answers, and `stop()` ends it and removes the dir.
 *
 * - Its server connections log in as a role of their own (`lg_pgb_...`, created here, dropped on
 *   stop), forced by the `[databases]` entry: `pg_stat_activity.usename` counts exactly this
 *   PgBouncer's server connections, whatever its clients set (PgBouncer passes each client's
 *   `application_name` on to the server connection it lends, so that cannot tag them).
 * - `auth_type = trust` (the machine's PostgreSQL trusts 127.0.0.1 too), `server_reset_query` empty
 *   as usual for transaction pooling, an admin user `pgbadmin` for the console.
 * - PgBouncer refuses to run as root: as root it is started with `-u postgres`, and the temp dir
 *   is made readable for that user.
 *
 * Install it with `apt-get install pgbouncer`. Under `CI=true` a missing binary fails the suite;
 * otherwise the suite is skipped with a message saying so (`describeOnPgBouncer`).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { freePort } from '../../demo/embedded-postgres.js';
import { describeOnPostgres, isCI, uniqueName } from './servers.js';
import type { ServerTarget } from './servers.js';

export const PGBOUNCER_INSTALL_HINT = 'apt-get install pgbouncer';

/** The PgBouncer binary: `$PGBOUNCER`, else `/usr/sbin/pgbouncer`; undefined when it is not there. */
export function pgbouncerBinary(): string | undefined {
  const path = process.env.PGBOUNCER ?? '/usr/sbin/pgbouncer';
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    return undefined;
  }
}

export interface PgBouncerOptions {
  /** `pool_mode`. Default `transaction`. */
  poolMode?: 'transaction' | 'session';
  /** `default_pool_size`: server connections per database/user pair. Default 4. */
  poolSize?: number;
  /** More `[pgbouncer]` settings. */
  settings?: Record<string, string>;
}

export interface PgBouncer {
  readonly port: number;
  /** Clients' URL: the `lg` database alias on this PgBouncer. */
  readonly url: string;
  /** The admin console's URL. */
  readonly adminUrl: string;
  /** The role its server connections log in as (`pg_stat_activity.usename`). */
  readonly role: string;
  /** This PgBouncer's server connections, as PostgreSQL sees them. */
  serverConnections(): Promise<number>;
  /** Runs one admin console command (`RECONNECT`, `KILL lg`, `RESUME`, `SHOW POOLS`, ...). */
  admin(command: string): Promise<Record<string, unknown>[]>;
  /** Ends the process (SIGTERM: PgBouncer's immediate shutdown); `start()` brings it back on the same port. */
  kill(): Promise<void>;
  /** Starts the process again on the same port with the same config; resolves when it answers. */
  start(): Promise<void>;
  /** Ends it, drops its role and removes its temp dir. */
  stop(): Promise<void>;
}

const ADMIN_USER = 'pgbadmin';
const CLIENT_USER = 'postgres';
const DATABASE_ALIAS = 'lg';

async function onDirect<T>(target: ServerTarget, work: (client: pg.Client) => Promise<T>): Promise<T> {
  return withPgClient(target.url, work, { application_name: 'lg_pgbouncer_harness' });
}

/** Runs `work` on one plain pg client connected to `url` (PostgreSQL or PgBouncer), closed after. */
export async function withPgClient<T>(url: string, work: (client: pg.Client) => Promise<T>, config: pg.ClientConfig = {}): Promise<T> {
  const client = new pg.Client({ connectionString: url, ...config });
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** Starts a private PgBouncer in front of `target` (see the module comment). */
export async function startPgBouncer(target: ServerTarget, options: PgBouncerOptions = {}): Promise<PgBouncer> {
  const binary = pgbouncerBinary();
  if (binary === undefined) throw new Error(`PgBouncer is not installed (${PGBOUNCER_INSTALL_HINT})`);
  const server = new URL(target.url);
  const role = uniqueName('lg_pgb');
  await onDirect(target, async (client) => {
    await client.query(`CREATE ROLE ${quote(role)} LOGIN`);
    await client.query(`GRANT CREATE ON SCHEMA public TO ${quote(role)}`);
  });
  const dir = mkdtempSync(join(tmpdir(), 'lg-pgbouncer-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chmodSync(dir, 0o755);
  const port = await freePort();
  const database = decodeURIComponent(server.pathname.slice(1)) || 'postgres';
  const settings: Record<string, string> = {
    listen_addr: '127.0.0.1',
    listen_port: String(port),
    unix_socket_dir: '',
    auth_type: 'trust',
    auth_file: join(dir, 'users.txt'),
    admin_users: ADMIN_USER,
    pool_mode: options.poolMode ?? 'transaction',
    default_pool_size: String(options.poolSize ?? 4),
    max_client_conn: '500',
    server_reset_query: '',
    server_login_retry: '0',
    ...options.settings,
  };
  const config = [
    '[databases]',
    `${DATABASE_ALIAS} = host=${server.hostname} port=${server.port || '5432'} dbname=${database} user=${role}`,
    '[pgbouncer]',
    ...Object.entries(settings).map(([key, value]) => `${key} = ${value}`),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'pgbouncer.ini'), config, { mode: 0o644 });
  writeFileSync(join(dir, 'users.txt'), `"${CLIENT_USER}" ""\n"${ADMIN_USER}" ""\n`, { mode: 0o644 });
  const args = [...(asRoot ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')];
  const adminUrl = `postgres://${ADMIN_USER}@127.0.0.1:${port}/pgbouncer`;

  let child: ChildProcess | undefined;
  let output = '';
  const admin = async (command: string): Promise<Record<string, unknown>[]> => {
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2000 });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query<Record<string, unknown>>(command)).rows;
    } finally {
      await client.end().catch(() => {});
    }
  };

  const start = async (): Promise<void> => {
    const started = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    output = '';
    const collect = (chunk: Buffer): void => { output = (output + chunk.toString()).slice(-4000); };
    started.stdout.on('data', collect);
    started.stderr.on('data', collect);
    const state = { exited: false };
    started.on('error', (error) => { output += `\n${error.message}`; state.exited = true; });
    started.on('exit', () => { state.exited = true; });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (state.exited) throw new Error(`PgBouncer exited at start: ${output}`);
      try {
        await admin('SHOW VERSION');
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`PgBouncer does not answer on 127.0.0.1:${port}: ${String(error)}\n${output}`, { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  const kill = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => { resolve(); }));
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  const serverConnections = (): Promise<number> => onDirect(target, async (client) => {
    const result = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1', [role]);
    return result.rows[0]?.n ?? 0;
  });

  const stop = async (): Promise<void> => {
    await kill();
    rmSync(dir, { recursive: true, force: true });
    await onDirect(target, async (client) => {
      // The server closes the backends of a PgBouncer that is gone; wait for them before dropping the role.
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        const left = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1', [role]);
        if (left.rows[0]?.n === 0) break;
        await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role]);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await client.query(`DROP OWNED BY ${quote(role)}`);
      await client.query(`DROP ROLE IF EXISTS ${quote(role)}`);
    });
  };

  try {
    await start();
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
  return {
    port,
    url: `postgres://${CLIENT_USER}@127.0.0.1:${port}/${DATABASE_ALIAS}`,
    adminUrl,
    role,
    serverConnections,
    admin,
    kill,
    start,
    stop,
  };
}

/**
 * A suite behind PgBouncer, in front of the PostgreSQL server the other suites use. Without a
 * PgBouncer binary it fails under `CI=true` and is skipped otherwise, saying how to install one.
 */
export function describeOnPgBouncer(title: string, body: (target: ServerTarget) => void, options: { timeout?: number } = {}): Promise<void> | undefined {
  if (pgbouncerBinary() === undefined) {
    const reason = `PgBouncer is not installed (no ${process.env.PGBOUNCER ?? '/usr/sbin/pgbouncer'}): ${PGBOUNCER_INSTALL_HINT}`;
    if (isCI) {
      describe(`${title} (PgBouncer missing)`, () => {
        it('finds the PgBouncer binary', () => {
          throw new Error(`CI=true and ${reason}`);
        });
      });
    } else {
      console.warn(`\n*** SKIPPING the PgBouncer suite: ${reason} ***\n`);
      describe(title, () => { void it.skip(`PgBouncer is not installed: ${PGBOUNCER_INSTALL_HINT}`); });
    }
    return undefined;
  }
  return describeOnPostgres(`${title} behind PgBouncer`, body, options);
}
