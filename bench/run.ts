/**
 * `npm run bench` — runs the benchmarks of issue #4 and prints a table; a full run also writes
 * bench/results.json, bench/chart.svg and bench/README-table.md.
 *
 *   --quick        tiny counts, one round (a smoke run)
 *   --rounds N     rounds of interleaved samples (default 7)
 *   --only NAME    a pool (floor, lifeguard, lifeguard-work, generic-pool, tarn, pg-pool,
 *                  sequelize-pool) or a section (uncontended, contended, scale, memory, postgres);
 *                  repeat or separate with commas
 *   --write        write the output files even for a --quick or --only run
 *   --baseline REF also run lifeguard as built from git ref REF, interleaved in the same rounds
 *                  (e.g. `--baseline HEAD~3 --only lifeguard,lifeguard-work,uncontended,contended`)
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { baselineFactories } from './baseline.js';
import { FACTORIES, SECTIONS, runBenchmarks } from './harness.js';
import { renderMarkdown, renderSvg, renderText } from './report.js';

const usage = `usage: npm run bench -- [--quick] [--rounds N] [--only NAME]... [--baseline REF] [--write]
  NAME: ${FACTORIES.map((f) => f.name).join(', ')}, or ${SECTIONS.join(', ')}`;

interface Args {
  quick: boolean;
  rounds?: number;
  only: string[];
  write: boolean;
  baseline?: string;
}

function parse(argv: readonly string[]): Args {
  const parsed: Args = { quick: false, only: [], write: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value\n${usage}`);
      return next;
    };
    if (arg === '--quick') parsed.quick = true;
    else if (arg === '--write') parsed.write = true;
    else if (arg === '--rounds' || arg.startsWith('--rounds=')) {
      const n = Number(arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : value());
      if (!Number.isInteger(n) || n < 1) throw new Error(`--rounds needs a positive integer\n${usage}`);
      parsed.rounds = n;
    } else if (arg === '--only' || arg.startsWith('--only=')) {
      const names = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : value();
      parsed.only.push(...names.split(',').filter((s) => s !== ''));
    } else if (arg === '--baseline' || arg.startsWith('--baseline=')) {
      parsed.baseline = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : value();
    } else if (arg === '--help' || arg === '-h') {
      console.log(usage);
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}\n${usage}`);
  }
  return parsed;
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const command = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
  if ((globalThis as { gc?: unknown }).gc === undefined) console.error('note: run with --expose-gc (npm run bench does) for fair samples and memory figures');
  const baseline = args.baseline === undefined ? undefined : await baselineFactories(args.baseline);
  const results = await runBenchmarks({
    quick: args.quick,
    ...(baseline === undefined ? {} : { extraFactories: baseline.factories }),
    only: args.only,
    ...(args.rounds === undefined ? {} : { rounds: args.rounds }),
    log: (line) => {
      console.error(`  … ${line}`);
    },
  });
  baseline?.cleanup();
  console.log(renderText(results, command));
  const partial = args.quick || args.only.length > 0 || baseline !== undefined;
  if (partial && !args.write) {
    console.log('\n(partial run: bench/results.json, chart.svg and README-table.md left as they were; --write to overwrite)');
    return;
  }
  // build/bench/run.js -> bench/
  const dir = fileURLToPath(new URL('../../bench/', import.meta.url));
  writeFileSync(`${dir}results.json`, JSON.stringify({ command, ...results }, null, 2) + '\n');
  writeFileSync(`${dir}chart.svg`, renderSvg(results));
  writeFileSync(`${dir}README-table.md`, renderMarkdown(results, command));
  console.log('\nwrote bench/results.json, bench/chart.svg, bench/README-table.md');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
