/**
 * `npm run soak` — the QueuePool soak (see soak.ts) at scale, with a small table of its figures.
 *
 *   --checkouts N   checkout attempts in all (default 1,000,000)
 *   --callers N     concurrent callers (default 256)
 *   --seed N        PRNG seed (default 1)
 *
 * Exits 1, printing every count that is off, if the accounting is not exact after close().
 */
import { runSoak, SOAK_POOL } from './soak.js';
import type { SoakReport } from './soak.js';

const usage = 'usage: npm run soak -- [--checkouts N] [--callers N] [--seed N]';

function parse(argv: readonly string[]): { checkouts: number; callers: number; seed: number } {
  const parsed = { checkouts: 1_000_000, callers: 256, seed: 1 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      console.log(usage);
      process.exit(0);
    }
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (flag !== '--checkouts' && flag !== '--callers' && flag !== '--seed') throw new Error(`unknown argument ${arg}\n${usage}`);
    const text = inline ?? argv[++i];
    const value = Number(text?.replaceAll('_', ''));
    const min = flag === '--seed' ? 0 : 1;
    if (text === undefined || !Number.isSafeInteger(value) || value < min) throw new Error(`${flag} needs an integer >= ${min}, got ${text ?? 'nothing'}\n${usage}`);
    parsed[flag.slice(2) as 'checkouts' | 'callers' | 'seed'] = value;
  }
  return parsed;
}

function table(report: SoakReport): string {
  const n = (value: number): string => Math.round(value).toLocaleString('en-US');
  const { outcomes, faults, connections, finalStats } = report;
  const rows: [string, string][] = [
    ['seed', String(report.seed)],
    ['callers', n(report.callers)],
    ['checkout attempts', n(report.attempts)],
    ['  ok', n(outcomes.ok)],
    ['  PoolTimeoutError', n(outcomes.poolTimeout)],
    ['  ConnectTimeoutError', n(outcomes.connectTimeout)],
    ['  MockDisconnectError (refused connect)', n(outcomes.disconnect)],
    ['  aborted before connect()', n(outcomes.abortedBefore)],
    ['  aborted while waiting', n(outcomes.abortedWhileWaiting)],
    ['faults: connects refused / hung', `${n(faults.connectRefused)} / ${n(faults.connectHung)}`],
    ['faults: kills (held / other)', `${n(faults.killHeld)} / ${n(faults.killOther)}`],
    ['faults: invalidations (hard / soft)', `${n(faults.hardInvalidate)} / ${n(faults.softInvalidate)}`],
    ['faults: aborts (before / later)', `${n(faults.abortBefore)} / ${n(faults.abortLater)}`],
    ['faults: failing pings set / pre-ping failures', `${n(faults.pingFail)} / ${n(report.prePingFailures)}`],
    ['faults: hog episodes (ended by a timeout)', `${n(faults.hogEpisodes)} (${n(report.hogEpisodesEndedByTimeout)})`],
    ['driver connections opened / closed', `${n(connections.opened)} / ${n(connections.closed)}`],
    ['driver connect calls', n(connections.connectCalls)],
    ['stats(): checkouts / timeouts / invalidations', `${n(finalStats.checkouts)} / ${n(finalStats.timeouts)} / ${n(finalStats.invalidations)}`],
    ['pool log lines (warn / error)', `${n(report.logged.warn)} / ${n(report.logged.error)}`],
    ['duration', `${(report.durationMs / 1000).toFixed(2)} s`],
    ['checkout attempts per second', n(report.checkoutsPerSecond)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}

let options: { checkouts: number; callers: number; seed: number };
try {
  options = parse(process.argv.slice(2));
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(2);
}
console.log(`QueuePool soak: poolSize ${SOAK_POOL.poolSize}, maxOverflow ${SOAK_POOL.maxOverflow}, timeout ${SOAK_POOL.timeout}ms, ` +
  `connectTimeout ${SOAK_POOL.connectTimeout}ms, maxUses ${SOAK_POOL.maxUses}, minIdle ${SOAK_POOL.minIdle}, prePing`);
try {
  const report = await runSoak({ ...options, log: (line) => { console.log(`  ${line}`); } });
  console.log(table(report));
  if (report.logged.samples.length !== 0) console.log(`pool log (first lines):\n  ${report.logged.samples.join('\n  ')}`);
  console.log('accounting exact after close(): OK');
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
