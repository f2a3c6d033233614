/**
 * `npm run bench:instructions -- [--baseline <git-ref>]`: machine instructions per cycle of the
 * uncontended and contended micro-benchmarks, counted by valgrind's callgrind, for this build and
 * optionally a baseline build of another commit.
 *
 * Why: on a shared machine the timed bench scatters by ±10% from round to round, so it cannot
 * show whether a change costs 3%. An instruction count is deterministic: each scenario runs twice
 * (`--cycles` and three times as many), and the difference divided by the extra cycles is the
 * cost of one cycle, start-up, JIT warm-up and module loading cancelling out. V8's randomness
 * (hash seeds, GC timing) is pinned with `--random-seed`, `--hash-seed`,
 * `--predictable-gc-schedule` and `--single-threaded`, so two runs of the same build agree to
 * within a few instructions. Instructions are not time (cache misses and branch mispredictions
 * are not counted); they are the part of the cost the code decides.
 *
 * Needs valgrind (`apt-get install valgrind`); not part of `npm test`.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildBaseline } from './baseline.js';
import type { BaselineBuild } from './baseline.js';

const SCENARIOS = ['uncontended', 'contended', 'uncontended-work', 'contended-work'] as const;
type Scenario = (typeof SCENARIOS)[number];

const usage = 'usage: npm run bench:instructions -- [--baseline <git-ref>] [--cycles N]';

function parseArgs(argv: readonly string[]): { baseline?: string; cycles: number } {
  let baseline: string | undefined;
  let cycles = 100_000;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--baseline') baseline = argv[++i];
    else if (arg === '--cycles') cycles = Number(argv[++i]);
    else throw new Error(`unknown argument ${arg}\n${usage}`);
  }
  if (baseline === '') throw new Error(`--baseline needs a git ref\n${usage}`);
  if (!Number.isInteger(cycles) || cycles < 1000) throw new Error(`--cycles needs an integer >= 1000\n${usage}`);
  return baseline === undefined ? { cycles } : { baseline, cycles };
}

const child = fileURLToPath(new URL('./instructions-child.js', import.meta.url));

/**
 * A copy of this build's compiled `src/` under `scratch`. The child imports the bench's subject,
 * which imports this build's `src/` itself; a pool loaded from that same module graph and one loaded
 * from a copy differ by up to 6% in V8's inlining of the uncontended loop, so both sides are copies.
 */
function copyThisBuild(scratch: string): string {
  const dir = join(scratch, 'this-build');
  cpSync(fileURLToPath(new URL('../src/', import.meta.url)), join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  return pathToFileURL(join(dir, 'src/index.js')).href;
}
const V8_FLAGS = ['--single-threaded', '--predictable-gc-schedule', '--random-seed=42', '--hash-seed=42'];

/** Instructions callgrind counted for one child run. */
function countInstructions(indexUrl: string, scenario: Scenario, cycles: number, scratch: string): Promise<number> {
  const out = join(scratch, `callgrind.${scenario}.${cycles}.${Math.random().toString(36).slice(2)}`);
  const args = ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, ...V8_FLAGS, child, indexUrl, scenario, String(cycles)];
  return new Promise((resolve, reject) => {
    execFile('valgrind', args, { maxBuffer: 64 << 20 }, (error, _stdout, stderr) => {
      if (error !== null) {
        reject(new Error(`valgrind ${scenario} ${cycles}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'valgrind is not installed (apt-get install valgrind)' : stderr || error.message}`));
        return;
      }
      const total = /^summary:\s+(\d+)/m.exec(readFileSync(out, 'utf8'));
      rmSync(out, { force: true });
      if (total === null) reject(new Error(`valgrind ${scenario} ${cycles}: no summary in callgrind's output`));
      else resolve(Number(total[1]));
    });
  });
}

/** Runs `jobs` at most `limit` at a time, in order. */
async function runLimited<T>(jobs: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const index = next++;
      results[index] = await jobs[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

async function main(): Promise<void> {
  const { baseline, cycles } = parseArgs(process.argv.slice(2));
  let baselineBuild: BaselineBuild | undefined;
  const scratch = mkdtempSync(join(tmpdir(), 'lifeguard-instructions-'));
  try {
    const builds: { name: string; indexUrl: string }[] = [{ name: 'this build', indexUrl: copyThisBuild(scratch) }];
    if (baseline !== undefined) {
      baselineBuild = buildBaseline(baseline);
      builds.push({ name: `lifeguard@${baselineBuild.name}`, indexUrl: baselineBuild.indexUrl });
    }
    const started = Date.now();
    const jobs = builds.flatMap((build) =>
      SCENARIOS.flatMap((scenario) => [cycles, cycles * 3].map((n) => () => countInstructions(build.indexUrl, scenario, n, scratch))),
    );
    console.log(`callgrind: ${jobs.length} runs of ${cycles.toLocaleString('en-US')} and ${(cycles * 3).toLocaleString('en-US')} cycles, ${availableParallelism()} at a time...`);
    const counts = await runLimited(jobs, availableParallelism());
    const perCycle = (b: number, s: number): number => (counts[(b * SCENARIOS.length + s) * 2 + 1]! - counts[(b * SCENARIOS.length + s) * 2]!) / (cycles * 2);
    const header = ['scenario', ...builds.map((build) => build.name), ...(builds.length > 1 ? ['change'] : [])];
    const rows = SCENARIOS.map((scenario, s) => {
      const values = builds.map((_, b) => perCycle(b, s));
      const change = values.length > 1 ? [`${((values[0]! / values[1]! - 1) * 100).toFixed(1)}%`] : [];
      return [scenario, ...values.map((v) => v.toFixed(0)), ...change];
    });
    const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => row[i]!.length)));
    for (const row of [header, ...rows]) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
    console.log(`\ninstructions per cycle (callgrind, Node ${process.version}); "change" is this build against the baseline; ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    baselineBuild?.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
