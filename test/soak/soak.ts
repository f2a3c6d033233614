/**
 * A soak test of QueuePool on the mock driver: many concurrent callers check connections out and
 * back in while faults are injected at random (a seeded PRNG, so a run is reproducible from its
 * seed up to the timing of real timers): refused and hung connects, connections killed by the
 * "server", hard and soft invalidation, aborted checkouts, failing pre-pings, and episodes where
 * every connection is hogged until waiters hit `PoolTimeoutError`.
 *
 * At the end the pool is closed and every count must be exact: nothing checked out, waiting or
 * connecting, every driver connection closed exactly once, and the pool's checkout counter equal to
 * the checkouts the callers received. Any error a caller sees that is not one of the expected
 * kinds fails the soak.
 */
import { ConnectTimeoutError, InvalidatePoolError, PoolTimeoutError, QueuePool } from '../../src/index.js';
import type { Logger, PooledConnection, PoolStats } from '../../src/index.js';
import { randomGenerator } from '../../demo/workload.js';
import { MockDisconnectError, MockDriver } from '../support/mock-driver.js';
import type { Gate, MockConnection } from '../support/mock-driver.js';

export interface SoakOptions {
  /** Checkout attempts in all (successful and failed). */
  checkouts: number;
  /** Concurrent callers. */
  callers: number;
  /** Seeds the PRNG that picks faults and hold times. */
  seed: number;
  /** Progress lines (optional). */
  log?: (line: string) => void;
}

/** Faults injected (what the soak did), whatever came of them. */
export interface SoakFaults {
  /** `driver.failConnects(1)`: the next connect, whoever makes it, is refused. */
  connectRefused: number;
  /** `driver.hangConnect()`: the next connect hangs past `connectTimeout`. */
  connectHung: number;
  /** The caller's own connection was killed while it held it. */
  killHeld: number;
  /** A recent driver connection (idle, held by another caller, ...) was killed. */
  killOther: number;
  hardInvalidate: number;
  softInvalidate: number;
  /** `connect({ signal })` with a signal aborted before the call. */
  abortBefore: number;
  /** `connect({ signal })` aborted after the call (after a microtask or a `setImmediate`). */
  abortLater: number;
  /** The caller's connection will fail its next pre-ping. */
  pingFail: number;
  /** Episodes where every caller holds its connection until some waiter times out. */
  hogEpisodes: number;
}

/** What the callers saw: successes and each kind of expected error. */
export interface SoakOutcomes {
  ok: number;
  poolTimeout: number;
  connectTimeout: number;
  /** `MockDisconnectError`: a refused (or failed hung) connect. */
  disconnect: number;
  /** Rejected with the reason of a signal aborted before `connect()` was called. */
  abortedBefore: number;
  /** Rejected with the reason of a signal aborted while the caller waited. */
  abortedWhileWaiting: number;
}

export interface SoakReport {
  seed: number;
  callers: number;
  /** A digest of the fault schedule (every attempt's random draws, in order): equal for equal seeds. */
  scheduleDigest: number;
  /** Checkout attempts made (= options.checkouts). */
  attempts: number;
  outcomes: SoakOutcomes;
  faults: SoakFaults;
  /** Pre-pings that failed and made the pool replace connections (seen through `invalidate` events). */
  prePingFailures: number;
  /** Hogs released because a waiter timed out (the rest by the episode's bound). */
  hogEpisodesEndedByTimeout: number;
  /** Connections opened and closed by the mock driver; connect calls (including refused and hung ones). */
  connections: { opened: number; closed: number; connectCalls: number };
  /** Log lines the pool wrote at warn and error level (expected: failed background connects, ...). */
  logged: { warn: number; error: number; samples: string[] };
  /** `pool.stats()` after `close()`. */
  finalStats: PoolStats;
  durationMs: number;
  checkoutsPerSecond: number;
}

/** Pool settings of the soak: small, so capacity is contended and faults interact. */
export const SOAK_POOL = {
  poolSize: 5,
  maxOverflow: 5,
  /** ms a caller's connect() may take: hog episodes wait this long. */
  timeout: 20,
  /** ms one driver connect may take: a hung connect costs this long. */
  connectTimeout: 5,
  maxUses: 50,
  minIdle: 2,
} as const;

/** The random values one attempt draws, all at its start. */
interface Draws {
  /** Refuse or hang the next connect; start a hog episode. */
  connectFault: number;
  /** Abort before, abort later, a signal that never aborts, or none. */
  signal: number;
  /** Our own abort reason, or the default AbortError. */
  abortReason: number;
  /** Abort after a microtask, or after a setImmediate. */
  abortTiming: number;
  /** Invalidate, kill, fail the next ping, kill another connection, or nothing. */
  holdFault: number;
  /** Hold for nothing, one microtask, or one setImmediate. */
  holdTime: number;
  /** A second choice within a fault (release or fail a hung connect, ping false or throw, which connection to kill). */
  variant: number;
}

/** The reason of our own aborts (half of them; the others abort with the default `AbortError`). */
class SoakAbortReason extends Error {
  constructor(readonly when: 'before' | 'later') {
    super(`soak: caller aborted ${when}`);
    this.name = 'SoakAbortReason';
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}${error.stack === undefined ? '' : `\n${error.stack}`}` : String(error);
}

/** Run the soak; throws an Error naming every count that is not exact. */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const { checkouts: total, callers, seed } = options;
  if (!Number.isInteger(total) || total < 1) throw new Error(`runSoak: checkouts must be a positive integer, got ${total}`);
  if (!Number.isInteger(callers) || callers < 1) throw new Error(`runSoak: callers must be a positive integer, got ${callers}`);
  const log = options.log ?? ((): void => undefined);
  const random = randomGenerator(seed); // mulberry32, the demo's
  let digest = 0x811c9dc5;
  const draw = (): Draws => {
    const d: Draws = {
      connectFault: random(),
      signal: random(),
      abortReason: random(),
      abortTiming: random(),
      holdFault: random(),
      holdTime: random(),
      variant: random(),
    };
    // FNV-1a over the draws, in attempt order: two runs with one seed share this schedule.
    for (const value of Object.values(d)) digest = Math.imul(digest ^ Math.floor(value * 0x100000000), 0x01000193) >>> 0;
    return d;
  };
  const driver = new MockDriver();
  const logSamples: string[] = [];
  const logged = { warn: 0, error: 0 };
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (message) => {
      logged.warn++;
      if (logSamples.length < 10) logSamples.push(`warn: ${message}`);
    },
    error: (message) => {
      logged.error++;
      if (logSamples.length < 10) logSamples.push(`error: ${message}`);
    },
  };
  const pool = new QueuePool<MockConnection>({
    creator: driver.creator,
    dialect: driver.dialect,
    logger,
    loggingName: `soak-${seed}`,
    prePing: true,
    ...SOAK_POOL,
  });

  let prePingFailures = 0;
  pool.on('invalidate', (_conn, _record, error) => {
    if (error instanceof InvalidatePoolError && error.message.startsWith('Pre-ping failed')) prePingFailures++;
  });

  const faults: SoakFaults = {
    connectRefused: 0,
    connectHung: 0,
    killHeld: 0,
    killOther: 0,
    hardInvalidate: 0,
    softInvalidate: 0,
    abortBefore: 0,
    abortLater: 0,
    pingFail: 0,
    hogEpisodes: 0,
  };
  const outcomes: SoakOutcomes = { ok: 0, poolTimeout: 0, connectTimeout: 0, disconnect: 0, abortedBefore: 0, abortedWhileWaiting: 0 };
  const unexpected: string[] = [];

  let started = 0;
  let settled = 0;
  /** connect() promises issued and not yet settled. */
  let pendingConnects = 0;

  // A hung connect is let go a little after its connectTimeout, so the late connection it delivers
  // is terminated by the pool (or, if its connect was not abandoned, used normally).
  const gates: { gate: Gate; settled: Promise<void> }[] = [];
  const settleGate = (gate: Gate, release: boolean): void => {
    gates.push({
      gate,
      settled: gate.started.then(
        () =>
          new Promise<void>((resolve) => {
            setTimeout(() => {
              if (release) gate.release();
              else gate.fail(new MockDisconnectError('soak: hung connect failed late'));
              resolve();
            }, SOAK_POOL.connectTimeout + 2);
          }),
      ),
    });
  };
  /** Wait until every hung connect that started has been let go. */
  const settleStartedGates = async (): Promise<void> => {
    for (let waited = 0; ; ) {
      const open = gates.filter((g) => g.gate.isStarted);
      if (open.length === waited) return;
      waited = open.length;
      await Promise.all(open.map((g) => g.settled));
    }
  };

  // Hog episodes: every caller holding a connection keeps it until a waiter times out (or a bound).
  let hog: { done: Promise<void>; end: (byTimeout: boolean) => void } | null = null;
  let hogEpisodesEndedByTimeout = 0;
  const startHog = (): void => {
    faults.hogEpisodes++;
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    const bound = setTimeout(() => { episode.end(false); }, SOAK_POOL.timeout * 5);
    const episode = {
      done,
      end: (byTimeout: boolean): void => {
        if (hog !== episode) return;
        hog = null;
        clearTimeout(bound);
        if (byTimeout) hogEpisodesEndedByTimeout++;
        resolveDone();
      },
    };
    hog = episode;
  };

  const endHog = (): void => {
    hog?.end(false);
  };

  const classify = (error: unknown, reason: unknown, when: 'before' | 'later' | null): void => {
    if (reason !== undefined && error === reason) {
      if (when === 'before') outcomes.abortedBefore++;
      else outcomes.abortedWhileWaiting++;
    } else if (error instanceof PoolTimeoutError) {
      outcomes.poolTimeout++;
      hog?.end(true);
    } else if (error instanceof ConnectTimeoutError) outcomes.connectTimeout++;
    else if (error instanceof MockDisconnectError) outcomes.disconnect++;
    else unexpected.push(`a caller's connect() rejected with an unexpected error: ${describe(error)}`);
  };

  /** Kill one of the most recent driver connections still open (idle, held, or being returned). */
  const killOther = (pick: number): void => {
    const conns = driver.connections;
    const index = conns.length - 1 - Math.floor(pick * Math.min(conns.length, 16));
    const conn = conns[index];
    if (conn !== undefined && !conn.closed && !conn.dead) {
      faults.killOther++;
      conn.kill();
    }
  };

  const hold = async (pc: PooledConnection<MockConnection>, d: Draws): Promise<void> => {
    const currentHog = hog;
    if (currentHog !== null) {
      await currentHog.done;
      await pc.close();
      return;
    }
    const r = d.holdFault;
    const conn = pc.connection;
    if (r < 0.02) {
      faults.hardInvalidate++;
      await pc.invalidate(new Error('soak: hard invalidate'));
      return;
    }
    if (r < 0.04) {
      faults.softInvalidate++;
      await pc.invalidate(new Error('soak: soft invalidate'), { soft: true });
      await pc.close();
      return;
    }
    if (r < 0.06) {
      faults.killHeld++;
      conn.kill();
      await pc.close();
      return;
    }
    if (r < 0.08) {
      faults.pingFail++;
      conn.pingResult = d.variant < 0.5 ? false : 'throw';
      await pc.close();
      return;
    }
    if (r < 0.09) killOther(d.variant);
    const h = d.holdTime;
    if (h < 0.7) {
      // hold for nothing: close at once
    } else if (h < 0.9) {
      await Promise.resolve();
    } else {
      await nextTurn();
    }
    await pc.close();
  };

  const attempt = async (): Promise<void> => {
    // Every attempt draws the same number of values, at its start: the fault schedule is a pure
    // function of the seed and the attempt's index, whatever the callers' interleaving.
    const d = draw();
    const r = d.connectFault;
    if (hog === null && r < 1 / 4000) startHog();
    if (r < 0.02) {
      if (driver.pendingScript() < 4) {
        faults.connectRefused++;
        driver.failConnects(1);
      }
    } else if (r < 0.025) {
      if (driver.pendingScript() < 4) {
        faults.connectHung++;
        settleGate(driver.hangConnect(), d.variant < 0.5);
      }
    }
    const s = d.signal;
    let reason: unknown = undefined;
    let when: 'before' | 'later' | null = null;
    let controller: AbortController | null = null;
    let signal: AbortSignal | undefined;
    if (s < 0.01) {
      faults.abortBefore++;
      when = 'before';
      controller = new AbortController();
      if (d.abortReason < 0.5) controller.abort(new SoakAbortReason('before'));
      else controller.abort();
      reason = controller.signal.reason;
      signal = controller.signal;
    } else if (s < 0.03) {
      faults.abortLater++;
      when = 'later';
      controller = new AbortController();
      signal = controller.signal;
    } else if (s < 0.06) {
      // A signal that never aborts: the checkout path with a listener to remove.
      signal = new AbortController().signal;
    }
    started++;
    pendingConnects++;
    const promise = pool.connect(signal === undefined ? undefined : { signal });
    if (when === 'later' && controller !== null) {
      const ctl = controller;
      const ownReason = d.abortReason < 0.5;
      const abort = (): void => {
        if (ownReason) ctl.abort(new SoakAbortReason('later'));
        else ctl.abort();
        reason = ctl.signal.reason;
      };
      if (d.abortTiming < 0.5) queueMicrotask(abort);
      else setImmediate(abort);
    }
    let pc: PooledConnection<MockConnection>;
    try {
      pc = await promise;
    } catch (error) {
      pendingConnects--;
      settled++;
      // An abort scheduled with setImmediate may not have run yet; then this error is not its reason.
      classify(error, reason, when);
      return;
    }
    pendingConnects--;
    settled++;
    outcomes.ok++;
    try {
      await hold(pc, d);
    } catch (error) {
      unexpected.push(`returning a checkout failed: ${describe(error)}`);
    }
  };

  const caller = async (): Promise<void> => {
    while (started < total && unexpected.length === 0) {
      await attempt();
      if (started % 4096 === 0) {
        // The mock driver logs every call; keep memory flat over a long soak.
        driver.log.length = 0;
        if (started % 65536 === 0) log(`${started} attempts, ${outcomes.ok} ok`);
      }
    }
  };

  const t0 = performance.now();
  // A stall watchdog: a caller promise that never settles must fail the soak, not hang it.
  let lastSettled = -1;
  let watchdog: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_resolve, reject) => {
    watchdog = setInterval(() => {
      if (settled === lastSettled) {
        reject(new Error(`soak stalled: no checkout settled for 5 s; ${pendingConnects} connect() promise(s) pending; ` +
          `stats ${JSON.stringify(pool.stats())}; checkedOut ${pool.checkedOut()}; waiting ${pool.waiting()}`));
      }
      lastSettled = settled;
    }, 5000);
  });
  try {
    await Promise.race([Promise.all(Array.from({ length: callers }, caller)), stalled]);
  } finally {
    clearInterval(watchdog);
  }
  endHog();
  // Let every hung connect go (a late connection is terminated by the pool), then close.
  await settleStartedGates();
  await pool.close();
  const durationMs = performance.now() - t0;

  const stats = pool.stats();
  const problems = [...unexpected];
  const expect = (what: string, actual: unknown, expected: unknown): void => {
    if (actual !== expected) problems.push(`${what}: expected ${String(expected)}, got ${String(actual)}`);
  };
  expect('attempts made', started, total);
  expect('attempts settled', settled, total);
  expect('connect() promises still pending', pendingConnects, 0);
  const outcomeSum = outcomes.ok + outcomes.poolTimeout + outcomes.connectTimeout + outcomes.disconnect + outcomes.abortedBefore + outcomes.abortedWhileWaiting;
  if (unexpected.length === 0) expect('outcomes counted (ok + every error kind)', outcomeSum, total);
  expect('stats().used after close()', stats.used, 0);
  expect('stats().idle after close()', stats.idle, 0);
  expect('stats().pending (waiting) after close()', stats.pending, 0);
  expect('stats().connecting after close()', stats.connecting, 0);
  expect('pool.checkedOut() after close()', pool.checkedOut(), 0);
  expect('pool.waiting() after close()', pool.waiting(), 0);
  expect("successful checkouts vs stats().checkouts", outcomes.ok, stats.checkouts);
  expect('PoolTimeoutErrors seen by callers vs stats().timeouts', outcomes.poolTimeout, stats.timeouts);
  expect('driver connections still open after close()', driver.live(), 0);
  expect('driver connections opened vs stats().created', driver.opened, stats.created);
  expect('driver connections closed vs stats().closed', driver.closed, stats.closed);
  const notClosed = driver.connections.filter((conn) => !conn.closed).map((conn) => `#${conn.id}`);
  if (notClosed.length !== 0) problems.push(`driver connections never closed: ${notClosed.slice(0, 20).join(', ')}${notClosed.length > 20 ? ', ...' : ''}`);
  const closedTwice = driver.connections.filter((conn) => conn.calls.filter((op) => op === 'close' || op === 'terminate').length > 1);
  if (closedTwice.length !== 0) problems.push(`driver connections closed more than once: ${closedTwice.slice(0, 20).map((conn) => `#${conn.id} (${conn.calls.join(' ')})`).join(', ')}`);
  if (driver.misuse.length !== 0) problems.push(`driver misuse (${driver.misuse.length}): ${driver.misuse.slice(0, 20).join('; ')}`);
  if (stats.invalidations < faults.hardInvalidate + faults.softInvalidate) {
    problems.push(`stats().invalidations ${stats.invalidations} < caller invalidations ${faults.hardInvalidate + faults.softInvalidate}`);
  }
  if (problems.length !== 0) {
    throw new Error(`soak (seed ${seed}, ${total} checkouts, ${callers} callers) failed:\n  - ${problems.join('\n  - ')}` +
      `\n  final stats: ${JSON.stringify(stats)}\n  pool log samples:\n    ${logSamples.join('\n    ')}`);
  }
  return {
    seed,
    callers,
    scheduleDigest: digest,
    attempts: started,
    outcomes,
    faults,
    prePingFailures,
    hogEpisodesEndedByTimeout,
    connections: { opened: driver.opened, closed: driver.closed, connectCalls: driver.connectCalls },
    logged: { ...logged, samples: logSamples },
    finalStats: stats,
    durationMs,
    checkoutsPerSecond: (total / durationMs) * 1000,
  };
}
