/**
 * A PostgreSQL primary and a streaming replica of it, built for a test with the machine's own
 * PostgreSQL 15 binaries (initdb, pg_ctl, pg_basebackup) in a temporary folder, on free loopback
 * ports (never 5432), run as the `postgres` OS user (the server refuses root).
 *
 * The pair is tuned for speed, not safety (fsync off, small buffers): throw-away test data only.
 * The primary runs `synchronous_standby_names = '*'` with `synchronous_commit = local` as the
 * default, so a session that asks for `synchronous_commit = on` gets a commit only once the replica
 * has the WAL (what "no committed write is lost on failover" needs), while everything else does not
 * wait for the replica (and keeps working while it is stopped).
 *
 * Under `CI=true` missing binaries fail the suite; otherwise it is skipped with a message.
 */
import { execFile } from 'node:child_process';
import { accessSync, appendFileSync, chmodSync, chownSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from '../../demo/embedded-postgres.js';
import { isCI } from './servers.js';

const run = promisify(execFile);

export const PG_BIN = process.env.LIFEGUARD_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const TOOLS = ['initdb', 'pg_ctl', 'pg_basebackup', 'postgres'] as const;

export interface ReplicaNode {
  readonly name: 'primary' | 'replica';
  readonly port: number;
  readonly dataDir: string;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust: no password). */
  readonly url: string;
  /** `127.0.0.1:<port>`, as lifeguard's messages name it. */
  readonly hostPort: string;
}

export interface ReplicationPair {
  readonly primary: ReplicaNode;
  readonly replica: ReplicaNode;
  /** Stops a server (`immediate` is a crash, `fast` a clean shutdown). Waits until it is down. */
  stop(node: ReplicaNode, mode?: 'immediate' | 'fast'): Promise<void>;
  /** Starts a stopped server again and waits until it answers (a replica also until it streams). */
  start(node: ReplicaNode): Promise<void>;
  /** Promotes the replica (`pg_ctl promote -w`): resolves once it accepts writes. */
  promote(node: ReplicaNode): Promise<void>;
  /** Resolves once the replica streams from the primary and has replayed everything written so far. */
  waitForReplay(timeoutMs?: number): Promise<void>;
  /** Stops both servers and removes the folder. Safe to call twice. */
  teardown(): Promise<void>;
}

/** Why the replication suites cannot run here, or `null` when the binaries are present. */
export function replicationUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'the replication suites need root (to run the servers as the postgres user)';
  for (const tool of TOOLS) {
    try {
      accessSync(join(PG_BIN, tool), constants.X_OK);
    } catch {
      return `${join(PG_BIN, tool)} is missing (install postgresql-15)`;
    }
  }
  return null;
}

/** Whether the replication suites run, and if not whether that fails (CI) or skips them: for the banner. */
export function replicationPlan(): string {
  const missing = replicationUnavailable();
  if (missing === null) return `the replication suite (a primary and a streaming replica from ${PG_BIN}) runs`;
  return isCI ? `the replication suite will FAIL: ${missing}` : `the replication suite is SKIPPED: ${missing}`;
}

/** Runs a PostgreSQL tool as the postgres user. */
async function asPostgres(tool: string, args: readonly string[], timeoutMs = 60_000): Promise<string> {
  try {
    const { stdout } = await run('runuser', ['-u', 'postgres', '--', join(PG_BIN, tool), ...args], { timeout: timeoutMs });
    return stdout;
  } catch (error) {
    const detail = error as { stderr?: string; stdout?: string };
    throw new Error(`${tool} ${args.join(' ')} failed: ${detail.stderr ?? ''}${detail.stdout ?? ''}`.trim(), { cause: error });
  }
}

async function queryOnce(url: string, sql: string): Promise<pg.QueryResultRow[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.query(sql)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

/** The folders of pairs this process built and has not torn down (root → data folders): an exit still kills and removes them. */
const leftovers = new Map<string, string[]>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous last resort: kill the servers by their postmaster.pid, then remove the folders.
  const killLeftovers = (): void => {
    for (const [root, dataDirs] of leftovers) {
      for (const dataDir of dataDirs) {
        try {
          const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
          if (pid > 0) process.kill(pid, 'SIGQUIT');
        } catch {
          /* not running */
        }
      }
      rmSync(root, { recursive: true, force: true });
    }
    leftovers.clear();
  };
  process.once('exit', killLeftovers);
  // A signal skips 'exit': clean up, then let the signal do what it would have done.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killLeftovers();
      process.kill(process.pid, signal);
    });
  }
}

const CONFIG = [
  "listen_addresses = '127.0.0.1'",
  'fsync = off',
  'synchronous_commit = local',
  "synchronous_standby_names = '*'",
  'full_page_writes = off',
  'shared_buffers = 16MB',
  'max_connections = 40',
  'wal_level = replica',
  'max_wal_senders = 4',
  'wal_keep_size = 64MB',
  'hot_standby = on',
  'wal_receiver_status_interval = 1s',
  'wal_retrieve_retry_interval = 200ms',
  'checkpoint_timeout = 30min',
  "log_min_messages = 'warning'",
].join('\n');

/** Builds and starts a primary and a streaming replica. Call `teardown()` in an `after` hook. */
export async function startReplicationPair(): Promise<ReplicationPair> {
  const missing = replicationUnavailable();
  if (missing !== null) throw new Error(missing);
  const root = mkdtempSync(join(tmpdir(), 'lifeguard-replication-'));
  chmodSync(root, 0o700);
  const { uid, gid } = await postgresIds();
  chownSync(root, uid, gid);
  const [primaryPort, replicaPort] = [await freePort(), await freePort()];
  const node = (name: 'primary' | 'replica', port: number): ReplicaNode => ({
    name,
    port,
    dataDir: join(root, name),
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    hostPort: `127.0.0.1:${port}`,
  });
  const primary = node('primary', primaryPort);
  const replica = node('replica', replicaPort);
  leftovers.set(root, [primary.dataDir, replica.dataDir]);
  installExitHook();
  const running = new Set<ReplicaNode>();

  const pgCtlStart = async (target: ReplicaNode): Promise<void> => {
    await asPostgres('pg_ctl', ['start', '-w', '-t', '60', '-D', target.dataDir, '-l', join(root, `${target.name}.log`), '-o', `-p ${target.port} -k ${root}`]);
    running.add(target);
  };
  const answers = (target: ReplicaNode): Promise<void> =>
    until(`${target.name} to answer`, async () => (await queryOnce(target.url, 'SELECT 1 AS one')).length === 1, 30_000);
  const streams = (): Promise<void> =>
    until(
      'the replica to stream',
      async () => (await queryOnce(primary.url, "SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'"))[0]?.n === 1,
      30_000,
    );

  const teardown = async (): Promise<void> => {
    for (const target of [replica, primary]) {
      if (!running.has(target)) continue;
      await asPostgres('pg_ctl', ['stop', '-w', '-m', 'immediate', '-D', target.dataDir]).catch(() => {});
      running.delete(target);
    }
    rmSync(root, { recursive: true, force: true });
    leftovers.delete(root);
  };
  try {
    await asPostgres('initdb', ['-D', primary.dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '--no-instructions']);
    appendFileSync(join(primary.dataDir, 'postgresql.conf'), `\n${CONFIG}\n`);
    appendFileSync(join(primary.dataDir, 'pg_hba.conf'), '\nhost replication postgres 127.0.0.1/32 trust\n');
    await pgCtlStart(primary);
    await answers(primary);
    await asPostgres('pg_basebackup', ['-D', replica.dataDir, '-R', '-X', 'stream', '-c', 'fast', '-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '--no-sync']);
    chmodSync(replica.dataDir, 0o700);
    // The copied configuration names every standby synchronous; the replica has none of its own, and
    // once promoted it must not wait for one.
    appendFileSync(join(replica.dataDir, 'postgresql.conf'), "\nsynchronous_standby_names = ''\n");
    await pgCtlStart(replica);
    await answers(replica);
    await streams();
  } catch (error) {
    await teardown();
    throw error;
  }

  return {
    primary,
    replica,
    async stop(target, mode = 'fast') {
      await asPostgres('pg_ctl', ['stop', '-w', '-t', '60', '-m', mode, '-D', target.dataDir]);
      running.delete(target);
    },
    async start(target) {
      await pgCtlStart(target);
      await answers(target);
      if (target === replica) await streams();
    },
    async promote(target) {
      await asPostgres('pg_ctl', ['promote', '-w', '-t', '60', '-D', target.dataDir]);
    },
    async waitForReplay(timeoutMs = 10_000) {
      await streams();
      const [row] = await queryOnce(primary.url, 'SELECT pg_current_wal_lsn()::text AS lsn');
      const lsn = String(row?.lsn);
      await until('the replica to replay', async () => (await queryOnce(replica.url, `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn AS done`))[0]?.done === true, timeoutMs);
    },
    teardown,
  };
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}
