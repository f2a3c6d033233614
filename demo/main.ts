/**
 * `npm start`: lifeguard under a realistic load, with the database killing connections midway.
 *
 * Hundreds of simulated web requests (reads, writes, money transfers in transactions) run through
 * one `QueuePool` on a throwaway embedded PostgreSQL server (or any server given with `--url`).
 * Halfway through, a separate admin connection kills part of the pool's connections on the server.
 * Idle ones are caught by `prePing` and replaced before anyone sees them; a request whose connection
 * dies under it gets a disconnect error, invalidates that connection and retries once on a fresh one.
 * Three quarters through, a network partition: the pool reaches the server through the demo's own
 * loopback fault proxy, which freezes every open connection for two seconds (no byte passes, nothing
 * closes: a half-open connection) and then resets them. A frozen idle connection fails its pre-ping
 * after `pingTimeout` and is replaced; a request frozen mid-query is cut when the partition ends and
 * retries. The run ends with a summary and exits non-zero if any request failed.
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPool, redactUrl } from '../src/create-pool.js';
import type { ConnectionRecord, Logger, PooledConnection, QueuePool } from '../src/index.js';
import { PoolTimeoutError } from '../src/index.js';
import { EmbeddedPostgresError, startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.js';
import { startFaultProxy } from './fault-proxy.js';
import { startDemoMetrics } from './metrics.js';
import type { HistogramSummary } from './metrics.js';
import { driverOf, dropStatements, schemaStatements, type SqlDriver } from './sql.js';
import { ACCOUNTS, handle, INITIAL_BALANCE, pickKind, randomGenerator, seed, totalBalance, type RequestKind } from './workload.js';

const USAGE = `Usage: npm start -- [options]
       node build/demo/main.js [options]

Runs simulated web requests through a lifeguard QueuePool, kills part of the pool's connections on
the server halfway through, freezes the rest with a network partition (two seconds) three quarters
through, and shows the pool recovering with no failed request and no request hung.

Options:
  --url <url>            database to use: postgres://..., mysql://... (mysql2) or mariadb://...
                         (default: a throwaway embedded PostgreSQL server, nothing to install)
  --requests <n>         number of requests (default 600)
  --concurrency <n>      requests in flight at once (default 40)
  --pool-size <n>        QueuePool poolSize (default 5)
  --max-overflow <n>     QueuePool maxOverflow (default 5)
  --metrics              serve the pool's OpenTelemetry metrics for Prometheus while the demo runs,
                         at http://127.0.0.1:9464/metrics (lifeguard/otel)
  --metrics-port <n>     the port for --metrics (default 9464)
  --verbose              show the pool's own log (invalidations, replacements)
  -h, --help             show this help

Environment:
  LIFEGUARD_PG_BINARIES  a PostgreSQL binary directory (bin/, lib/, share/) for the embedded server,
                         instead of the one from npm

The embedded server runs as the 'postgres' system user when you are root (PostgreSQL refuses root).
The demo creates three tables named lifeguard_demo_<random>_* and drops them at the end.
Exit code: 0 when every request succeeded, 1 when one failed or the embedded server did not start,
2 on bad arguments.`;

interface Settings {
  url: string | undefined;
  requests: number;
  concurrency: number;
  poolSize: number;
  maxOverflow: number;
  verbose: boolean;
  /** Serve Prometheus metrics on this port (`--metrics`), or not. */
  metricsPort: number | undefined;
}

class UsageError extends Error {}

function positiveInteger(name: string, text: string | undefined, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new UsageError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
  return value;
}

function parseSettings(argv: string[]): Settings | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      requests: { type: 'string' },
      concurrency: { type: 'string' },
      'pool-size': { type: 'string' },
      'max-overflow': { type: 'string' },
      verbose: { type: 'boolean' },
      metrics: { type: 'boolean' },
      'metrics-port': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return 'help';
  const url = values.url;
  if (url !== undefined && !/^(postgres|postgresql|mysql|mariadb):\/\//i.test(url)) {
    throw new UsageError(`--url must be a postgres://, postgresql://, mysql:// or mariadb:// URL, got ${JSON.stringify(redactUrl(url))}`);
  }
  return {
    url,
    requests: positiveInteger('requests', values.requests, 600),
    concurrency: positiveInteger('concurrency', values.concurrency, 40),
    poolSize: positiveInteger('pool-size', values['pool-size'], 5),
    maxOverflow: positiveInteger('max-overflow', values['max-overflow'], 5, 0),
    verbose: values.verbose === true,
    metricsPort: values.metrics === true || values['metrics-port'] !== undefined ? positiveInteger('metrics-port', values['metrics-port'], 9464) : undefined,
  };
}

// ------------------------------------------------------------------------------------ output

const tty = process.stdout.isTTY;
let statusShown = false;

/** Prints a line, first wiping the live status line on a terminal. */
function say(line: string): void {
  if (tty && statusShown) process.stdout.write('\r\x1b[K');
  statusShown = false;
  process.stdout.write(`${line}\n`);
}

/** The pools log through `say`, so their lines do not collide with the status line. */
const poolLogger: Logger = {
  debug: (message) => { say(`   ${message}`); },
  info: (message) => { say(`   ${message}`); },
  warn: (message) => { say(`   warning: ${message}`); },
  error: (message) => { say(`   error: ${message}`); },
};

/** `1 request`, `2 requests`. */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function ms(value: number): string {
  return value >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(1)} ms`;
}

function retries(n: number): string {
  return `${n} ${n === 1 ? 'retry' : 'retries'}`;
}

/** A histogram's percentiles (seconds) as milliseconds. */
function percentiles(summary: HistogramSummary | undefined): string {
  if (summary === undefined || summary.count === 0) return 'none recorded';
  return `p50 ${ms(summary.p50 * 1000)} | p95 ${ms(summary.p95 * 1000)} | p99 ${ms(summary.p99 * 1000)} (${summary.count})`;
}

function seconds(value: number): string {
  return `${(value / 1000).toFixed(2)} s`;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

// ------------------------------------------------------------------------------------ the run

interface Kill {
  atMs: number;
  killed: number;
  of: number;
  checkedOut: number;
  idle: number;
}

interface Partition {
  atMs: number;
  frozen: number;
  /** Requests retried before the partition began (the kill's), for telling the two apart. */
  retriedBefore: number;
  /** Connections the pool replaced (invalidated) during the partition, and opened. */
  invalidated: number;
  opened: number;
}

/** How long the demo's network partition lasts, and how long a pre-ping may take. */
const PARTITION_MS = 2000;
const PING_TIMEOUT_MS = 500;
/** Attempts per request when its connection dies under it. */
const MAX_TRIES = 3;

async function run(settings: Settings): Promise<number> {
  const poolLabel = `QueuePool(poolSize ${settings.poolSize}, maxOverflow ${settings.maxOverflow}, prePing, pingTimeout ${PING_TIMEOUT_MS} ms)`;
  say(`lifeguard demo: ${settings.requests} requests, ${settings.concurrency} at a time, through ${poolLabel}`);
  if (settings.url !== undefined) {
    say(`Using ${redactUrl(settings.url)}`);
    return runOn(settings.url, settings);
  }
  process.stdout.write('Starting an embedded PostgreSQL server... ');
  const started = performance.now();
  let server: EmbeddedPostgres;
  try {
    server = await startEmbeddedPostgres();
  } catch (error) {
    process.stdout.write('failed\n');
    throw error;
  }
  process.stdout.write(`ready on 127.0.0.1:${server.port} in ${seconds(performance.now() - started)}\n`);
  try {
    return await runOn(server.url, settings);
  } finally {
    await server.stop();
  }
}

/** The workload on the server at `url`; returns the exit code. */
async function runOn(url: string, settings: Settings): Promise<number> {
  const runId = Math.random().toString(36).slice(2, 8);
  const applicationName = `lifeguard-demo-${runId}`;
  const prefix = `lifeguard_demo_${runId}_`;
  let demoUrl = url;
  if (/^postgres(ql)?:/i.test(url)) {
    // Names the demo's sessions in pg_stat_activity, so the admin connection can find them.
    const parsed = new URL(url);
    parsed.searchParams.set('application_name', applicationName);
    demoUrl = parsed.toString();
  }

  // The demo's pool reaches the server through a loopback fault proxy, for the partition.
  const target = new URL(url);
  const proxy = await startFaultProxy({ host: target.hostname.replace(/^\[|\]$/g, ''), port: Number(target.port || (/^postgres/i.test(url) ? 5432 : 3306)) });
  // The admin side: a one-connection pool of its own, straight to the server, for the schema, the
  // kills and the final check. (Pools connect lazily: creating them cannot fail on the network.)
  const admin = await createPool(url, { poolSize: 1, maxOverflow: 0, prePing: true, loggingName: 'demo-admin', logger: poolLogger });
  const pool: QueuePool<unknown> = await createPool(proxy.url(demoUrl), {
    poolSize: settings.poolSize,
    maxOverflow: settings.maxOverflow,
    prePing: true,
    pingTimeout: PING_TIMEOUT_MS,
    connectTimeout: 5000,
    timeout: 10_000,
    loggingName: 'demo',
    echo: settings.verbose,
    logger: poolLogger,
  });
  let driver: SqlDriver | undefined;
  let schemaCreated = false;
  const metrics = await startDemoMetrics(pool, settings.metricsPort === undefined ? undefined : { host: '127.0.0.1', port: settings.metricsPort }).catch(async (error: unknown) => {
    await Promise.all([pool.close(), admin.close(), proxy.close()]);
    throw error;
  });
  if (metrics.url !== undefined) say(`Metrics (Prometheus): ${metrics.url}`);

  const withAdmin = async <T>(work: (driver: SqlDriver, connection: unknown) => Promise<T>): Promise<T> => {
    const pc = await admin.connect();
    try {
      driver ??= driverOf(pc.connection);
      return await work(driver, pc.connection);
    } finally {
      await pc.close();
    }
  };
  const adminQuery = (statement: string): Promise<Record<string, unknown>[]> =>
    withAdmin((driver, connection) => driver.query(connection, statement));

  try {
    // ---- schema
    const first = await admin.connect();
    try {
      driver = driverOf(first.connection);
      if (driver.family === 'postgres') {
        const version = await driver.query(first.connection, 'SHOW server_version');
        say(`Server: PostgreSQL ${String(version[0]?.server_version)} (driver: ${driver.name})`);
      } else {
        const version = await driver.query(first.connection, 'SELECT VERSION() AS v');
        say(`Server: MySQL/MariaDB ${String(version[0]?.v)} (driver: ${driver.name})`);
      }
      for (const statement of schemaStatements(driver.family, prefix)) await driver.query(first.connection, statement);
      schemaCreated = true;
      await seed(driver, first.connection, prefix);
    } finally {
      await first.close();
    }
    const sql = driver;
    say(`Created tables ${prefix}{accounts,transfers,page_views} with ${ACCOUNTS} accounts of ${INITIAL_BALANCE}.`);

    // ---- what the pool is doing, from its events
    const sessionOf = new Map<ConnectionRecord<unknown>, number>();
    const checkedOutRecords = new Set<ConnectionRecord<unknown>>();
    let opened = 0;
    let openedAtKill: number | undefined;
    let peakCheckedOut = 0;
    pool.on('connect', (connection, record) => {
      opened++;
      const id = sql.sessionId(connection);
      if (id !== undefined) sessionOf.set(record, id);
    });
    pool.on('checkout', (_connection, record) => {
      checkedOutRecords.add(record);
      peakCheckedOut = Math.max(peakCheckedOut, checkedOutRecords.size);
    });
    pool.on('checkin', (_connection, record) => {
      checkedOutRecords.delete(record);
    });
    const forget = (_connection: unknown, record: ConnectionRecord<unknown>): void => {
      sessionOf.delete(record);
    };
    pool.on('close', forget);
    pool.on('invalidate', forget);

    // ---- the kill: half of the demo's sessions, a mix of checked-out and idle ones
    const kill = async (atMs: number): Promise<Kill> => {
      let sessions: number[];
      if (sql.family === 'postgres') {
        const rows = await adminQuery(
          `SELECT pid FROM pg_stat_activity WHERE application_name = '${applicationName}' AND pid <> pg_backend_pid() ORDER BY pid`,
        );
        sessions = rows.map((row) => Number(row.pid));
      } else {
        sessions = [...new Set(sessionOf.values())].sort((a, b) => a - b);
      }
      const busyIds = new Set([...checkedOutRecords].map((record) => sessionOf.get(record)));
      const busy = sessions.filter((id) => busyIds.has(id));
      const idle = sessions.filter((id) => !busyIds.has(id));
      const victims: number[] = [];
      const share = Math.ceil(sessions.length / 2);
      while (victims.length < share) {
        const next = (victims.length % 2 === 0 ? busy.shift() : idle.shift()) ?? busy.shift() ?? idle.shift();
        if (next === undefined) break;
        victims.push(next);
      }
      let killed = 0;
      if (victims.length > 0) {
        if (sql.family === 'postgres') {
          const rows = await adminQuery(`SELECT pg_terminate_backend(pid) AS killed FROM unnest(ARRAY[${victims.join(',')}]::int[]) AS pid`);
          killed = rows.filter((row) => row.killed === true).length;
        } else {
          for (const id of victims) {
            try {
              await adminQuery(`KILL CONNECTION ${id}`);
              killed++;
            } catch {
              // it closed on its own meanwhile
            }
          }
        }
      }
      const checkedOut = victims.filter((id) => busyIds.has(id)).length;
      return { atMs, killed, of: sessions.length, checkedOut, idle: victims.length - checkedOut };
    };

    // ---- the partition: every open connection frozen (half-open), then reset when it heals
    const partition = async (atMs: number): Promise<Partition> => {
      const before = pool.stats();
      const retriedBefore = retried;
      const frozen = proxy.open;
      proxy.freezeExisting();
      say(`>> ${seconds(atMs)}: network partition: froze the pool's ${frozen} open connections for ${seconds(PARTITION_MS)}`);
      await sleep(PARTITION_MS);
      proxy.resetExisting();
      const after = pool.stats();
      say(`>> ${seconds(atMs + PARTITION_MS)}: partition over: the frozen connections were reset`);
      return { atMs, frozen, retriedBefore, invalidated: after.invalidations - before.invalidations, opened: after.created - before.created };
    };

    // ---- the requests
    const waits: number[] = [];
    let slowestMs = 0;
    const kinds: Record<RequestKind, number> = { read: 0, write: 0, transfer: 0 };
    let next = 0;
    let ok = 0;
    let failed = 0;
    let retried = 0;
    let timeouts = 0;
    const failures: string[] = [];
    let killing: Promise<Kill | undefined> | undefined;
    let partitioning: Promise<Partition> | undefined;
    const started = performance.now();

    const attempt = async (kind: RequestKind, random: () => number): Promise<void> => {
      const asked = performance.now();
      let pc: PooledConnection<unknown>;
      try {
        pc = await pool.connect();
      } catch (error) {
        if (error instanceof PoolTimeoutError) timeouts++;
        throw error;
      }
      waits.push(performance.now() - asked);
      try {
        await handle(kind, sql, pc.connection, prefix, random);
      } catch (error) {
        // A dead connection must not go back to the pool; anything else is rolled back on close.
        if (sql.isDisconnect(error)) await pc.invalidate(error);
        else await pc.close();
        throw error;
      }
      await pc.close();
    };

    const request = async (index: number): Promise<void> => {
      const random = randomGenerator(index + 1);
      const kind = pickKind(random);
      kinds[kind]++;
      await sleep(Math.floor(random() * 10)); // parsing the request, before any database work
      const began = performance.now();
      try {
        // A connection that dies under a request (killed, or cut by the partition) is retried on a
        // fresh one; a request unlucky enough to meet both the kill and the partition gets a third try.
        for (let tries = 1; ; tries++) {
          try {
            await attempt(kind, random);
            break;
          } catch (error) {
            if (!sql.isDisconnect(error) || tries === MAX_TRIES) throw error;
            retried++;
          }
        }
        ok++;
      } catch (error) {
        failed++;
        if (failures.length < 5) failures.push(`${kind}: ${error instanceof Error ? error.message : String(error)}`);
      }
      slowestMs = Math.max(slowestMs, performance.now() - began);
      if (partitioning === undefined && killing !== undefined && ok + failed >= (settings.requests * 3) / 4) {
        partitioning = partition(performance.now() - started);
      }
      if (killing === undefined && ok + failed >= settings.requests / 2) {
        const atMs = performance.now() - started;
        openedAtKill = opened;
        killing = kill(atMs).then(
          (result) => {
            say(
              `>> ${seconds(atMs)}: killed ${result.killed} of the demo's ${result.of} connections on the server ` +
                `(${result.checkedOut} checked out, ${result.idle} idle in the pool)`,
            );
            return result;
          },
          (error: unknown) => {
            say(`>> could not kill connections: ${error instanceof Error ? error.message : String(error)}`);
            return undefined;
          },
        );
      }
    };

    const statusText = (): string => {
      const elapsed = (performance.now() - started) / 1000;
      return (
        `${elapsed.toFixed(1).padStart(5)}s  ${String(ok + failed).padStart(String(settings.requests).length)}/${settings.requests} done` +
        ` | checked out ${pool.checkedOut()} | idle ${pool.checkedIn()} | overflow ${Math.max(0, pool.overflow())}/${settings.maxOverflow}` +
        ` | waiting ${pool.waiting()} | timeouts ${timeouts} | retried ${retried} | failed ${failed}`
      );
    };
    const showStatus = (): void => {
      if (tty) {
        // One screen row at most: a wrapped line cannot be redrawn with \r.
        process.stdout.write(`\r\x1b[K${statusText().slice(0, Math.max(20, (process.stdout.columns || 80) - 1))}`);
        statusShown = true;
      } else {
        say(statusText());
      }
    };
    const ticker = setInterval(showStatus, tty ? 100 : 500);

    const worker = async (): Promise<void> => {
      while (next < settings.requests) await request(next++);
    };
    try {
      await Promise.all(Array.from({ length: Math.min(settings.concurrency, settings.requests) }, worker));
    } finally {
      clearInterval(ticker);
    }
    const elapsedMs = performance.now() - started;
    showStatus();
    if (tty) {
      process.stdout.write('\n');
      statusShown = false;
    }
    const killResult = await killing;
    const partitionResult = await partitioning;
    const killRetries = partitionResult?.retriedBefore ?? retried;
    const partitionRetries = retried - killRetries;

    // ---- the summary
    const total = await withAdmin((driver, connection) => totalBalance(driver, connection, prefix)).catch(() => NaN);
    const expected = ACCOUNTS * INITIAL_BALANCE;
    waits.sort((a, b) => a - b);
    say('');
    say('Summary');
    say(`  requests       ${ok} ok, ${failed} failed (${kinds.read} reads, ${kinds.write} writes, ${kinds.transfer} transfers)`);
    say(`  throughput     ${(settings.requests / (elapsedMs / 1000)).toFixed(0)} req/s (${settings.requests} requests in ${seconds(elapsedMs)})`);
    say(
      `  acquire wait   p50 ${ms(percentile(waits, 50))} | p95 ${ms(percentile(waits, 95))} | p99 ${ms(percentile(waits, 99))}` +
        ` | max ${ms(waits.at(-1) ?? 0)} (${waits.length} checkouts)`,
    );
    say(`  connections    ${opened} opened, at most ${peakCheckedOut} checked out at once, ${timeouts} pool timeouts`);
    if (killResult === undefined) {
      say('  killed         none (the kill did not run)');
    } else {
      say(
        `  killed         ${killResult.killed} of ${killResult.of} connections at ${seconds(killResult.atMs)} ` +
          `(${killResult.checkedOut} checked out, ${killResult.idle} idle)`,
      );
      const unseen = Math.max(0, killResult.killed - killRetries);
      say(`  recovered      ${retries(killRetries)} after a connection was killed under a request, each on a fresh connection;`);
      say(
        `                 ${count(unseen, 'killed connection')} retired by the pool before a request saw them; ` +
          `${count(opened - (openedAtKill ?? opened), 'connection')} opened since the kill`,
      );
    }
    if (partitionResult === undefined) {
      say('  partition      none (the run ended first)');
    } else {
      say(
        `  partition      ${partitionResult.frozen} connections frozen at ${seconds(partitionResult.atMs)} for ${seconds(PARTITION_MS)}: ` +
          `${partitionResult.invalidated} replaced by the pool (pre-ping gave up after ${PING_TIMEOUT_MS} ms), ${partitionResult.opened} opened meanwhile;`,
      );
      say(`                 ${retries(partitionRetries)} of requests frozen mid-query and cut when it ended, each on a fresh connection`);
    }
    // A request may wait out the partition once, then the pool's timeout at most: beyond that it hung.
    const hung = slowestMs >= PARTITION_MS + 10_000;
    say(`  slowest        ${seconds(slowestMs)} for one request, retry included: ${hung ? 'A REQUEST HUNG' : 'no request hung'}`);
    const histograms = await metrics.summary();
    say(`  wait_time      ${percentiles(histograms.wait)}: db.client.connection.wait_time, from its buckets`);
    say(`  use_time       ${percentiles(histograms.use)}: db.client.connection.use_time, from its buckets`);
    const conserved = total === expected;
    say(`  balances       total ${total}, ${conserved ? 'unchanged: every transfer was all or nothing' : `EXPECTED ${expected}`}`);
    for (const failure of failures) say(`  failure        ${failure}`);
    say('');
    if (failed === 0 && conserved && !hung) {
      const partitioned = partitionResult === undefined ? '' : ` and a ${seconds(PARTITION_MS)} network partition`;
      say(`Result: 0 requests failed; the pool recovered from ${count(killResult?.killed ?? 0, 'killed connection')}${partitioned}.`);
      return 0;
    }
    say(`Result: ${count(failed, 'request')} failed${conserved ? '' : ' and the balances do not add up'}.`);
    return 1;
  } finally {
    await metrics.stop().catch(() => undefined);
    await pool.close({ timeout: 5000 }).catch(() => undefined);
    if (schemaCreated) {
      for (const statement of dropStatements(prefix)) await adminQuery(statement).catch(() => undefined);
    }
    await admin.close({ timeout: 5000 }).catch(() => undefined);
    await proxy.close();
  }
}

async function main(): Promise<void> {
  let settings: Settings | 'help';
  try {
    settings = parseSettings(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (settings === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  try {
    process.exitCode = await run(settings);
  } catch (error) {
    say('');
    // The embedded server's errors say what failed and what to do: the message is the whole story.
    const text = error instanceof EmbeddedPostgresError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`demo failed: ${text}\n`);
    process.exitCode = 1;
  }
}

await main();
