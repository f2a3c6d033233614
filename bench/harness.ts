/**
 * The benchmark harness (issue #4): every pool in one process, interleaved over several rounds,
 * medians reported. `runBenchmarks` returns plain data; `run.ts` prints and writes it.
 *
 * Fairness: each pool has its own loop written the way a user would write it (see `others.ts`),
 * awaits acquire and release alike, is warmed up before the first round, runs the same cycle
 * counts, and gets a full garbage collection before each sample. Within a round the pools run one
 * after another, starting one place later each round, so machine noise hits all of them alike.
 */
import os from 'node:os';
import { floor, otherPools } from './others.js';
import { lifeguard, lifeguardOtel, lifeguardWork } from './lifeguard-subject.js';
import { DEFAULT_PG_URL, runRealPg } from './real-pg.js';
import type { RealPgResults } from './real-pg.js';
import { canCollectGarbage, collectGarbage, median, now, settle } from './stats.js';
import type { Subject, SubjectFactory } from './subject.js';

export const SECTIONS = ['uncontended', 'contended', 'scale', 'memory', 'postgres'] as const;
export type Section = (typeof SECTIONS)[number];

/** Every pool, in table order. */
export const FACTORIES: readonly SubjectFactory[] = [floor, lifeguard, lifeguardWork, lifeguardOtel, ...otherPools];

export interface BenchOptions {
  rounds: number;
  /** Cycles per uncontended sample. */
  uncontendedCycles: number;
  /** Cycles per contended sample (rounded up to a multiple of `callers`). */
  contendedCycles: number;
  /** Cycles each pool runs, per scenario, before the first round. */
  warmupCycles: number;
  callers: number;
  connections: number;
  scaleConnections: readonly number[];
  /** Callers queued over `connections` in the waiter-scale test. */
  waiters: number;
  /** Idle slots and queued waiters created for the memory figures. */
  memoryCount: number;
  /** Memory measurements per pool (the median is reported). */
  memoryRepeats: number;
  pgUrl: string;
  pgCallers: number;
  pgPoolSize: number;
  /** Queries (or transactions) per caller per sample. */
  pgPerCaller: number;
  pgRounds: number;
  /** Pool names and section names to run; empty = everything. */
  only: readonly string[];
  /** Progress lines. */
  log: (line: string) => void;
  /** Pools run with the selected ones in the cycle sections, e.g. a baseline build (`--baseline`). */
  extraFactories?: readonly SubjectFactory[];
}

export function defaultOptions(quick = false): BenchOptions {
  const base = {
    callers: 64,
    connections: 8,
    scaleConnections: [10, 100, 1000],
    waiters: 10_000,
    pgUrl: process.env.LIFEGUARD_PG_URL ?? DEFAULT_PG_URL,
    pgCallers: 64,
    pgPoolSize: 10,
    only: [],
    log: () => {},
  };
  return quick
    ? { ...base, rounds: 1, uncontendedCycles: 2_000, contendedCycles: 2_048, warmupCycles: 500, memoryCount: 1_000, memoryRepeats: 1, pgPerCaller: 2, pgRounds: 1 }
    : { ...base, rounds: 7, uncontendedCycles: 300_000, contendedCycles: 320_000, warmupCycles: 100_000, memoryCount: 10_000, memoryRepeats: 3, pgPerCaller: 30, pgRounds: 11 };
}

/** One timed scenario of one pool: a sample per round, and the medians. */
export interface Measurement {
  cycles: number;
  completed: number[];
  nsPerCycle: number[];
  median: { nsPerCycle: number; perSecond: number };
}

export interface Target {
  name: string;
  description: string;
  /** The measured ratio (or NaN when a part it needs did not run). */
  value: number;
  /** What the ratio is compared with, and how. */
  threshold: number;
  comparison: '>=' | '<=';
  met: boolean | null;
  /** The same ratio for the floor, where it has one: what physics allows on this machine. */
  floor?: number;
}

export interface BenchResults {
  machine: { cpu: string; cores: number; node: string; platform: string; date: string };
  options: Omit<BenchOptions, 'log'>;
  gcExposed: boolean;
  pools: { name: string; label: string; kind: string; config: string }[];
  uncontended: Record<string, Measurement>;
  contended: Record<string, Measurement>;
  scale: {
    /** pool -> connection count -> uncontended measurement over that many idle connections. */
    connections: Record<string, Record<string, Measurement>>;
    /** pool -> caller count (`callers` and `waiters`) -> contended measurement over `connections`. */
    waiters: Record<string, Record<string, Measurement>>;
  };
  memory: Record<string, { bytesPerIdleSlot: number; bytesPerWaiter: number }>;
  postgres: RealPgResults | null;
  targets: Target[];
  durationMs: number;
}

interface Bench {
  label: string;
  measurement: Measurement;
  warmup(): Promise<unknown>;
  run(): Promise<number>;
}

function newMeasurement(cycles: number): Measurement {
  return { cycles, completed: [], nsPerCycle: [], median: { nsPerCycle: Number.NaN, perSecond: Number.NaN } };
}

/** Checks out `count` connections at once and returns them all, so they exist and are idle. */
async function fill(subject: Subject, count: number): Promise<void> {
  const held = await Promise.all(Array.from({ length: count }, () => subject.acquire()));
  for (const item of held) await subject.release(item);
  await settle();
}

/** Warm every bench, then `rounds` rounds, each starting one bench later than the last. */
async function runRounds(benches: readonly Bench[], rounds: number, section: string, log: (line: string) => void): Promise<void> {
  for (const bench of benches) await bench.warmup();
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < benches.length; k++) {
      const bench = benches[(k + round) % benches.length]!;
      collectGarbage();
      await settle();
      const start = now();
      const completed = await bench.run();
      const ns = Number(now() - start);
      bench.measurement.completed.push(completed);
      bench.measurement.nsPerCycle.push(ns / Math.max(1, completed));
    }
    log(`${section}: round ${round + 1}/${rounds} done`);
  }
  for (const bench of benches) {
    const m = bench.measurement;
    const perSecond = median(m.nsPerCycle.map((ns) => 1e9 / ns));
    m.median = { nsPerCycle: 1e9 / perSecond, perSecond };
  }
}

function uncontendedBench(subject: Subject, cycles: number, warmupCycles: number, label: string): Bench {
  return {
    label,
    measurement: newMeasurement(cycles),
    warmup: () => subject.uncontended(warmupCycles),
    run: () => subject.uncontended(cycles),
  };
}

function contendedBench(subject: Subject, callers: number, cycles: number, warmupCycles: number, label: string): Bench {
  const perCaller = Math.max(1, Math.ceil(cycles / callers));
  return {
    label,
    measurement: newMeasurement(perCaller * callers),
    warmup: () => subject.contended(callers, Math.max(1, Math.ceil(warmupCycles / callers))),
    run: () => subject.contended(callers, perCaller),
  };
}

/** Bytes of heap per idle connection slot, beyond the connection object itself. */
async function bytesPerIdleSlot(factory: SubjectFactory, count: number): Promise<number> {
  // The connection objects exist before the baseline, so only the pool's own bookkeeping counts.
  const connections = Array.from({ length: count }, () => ({}));
  let next = 0;
  const subject = factory.create(count, () => connections[next++] ?? {});
  await settle();
  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  await fill(subject, count);
  collectGarbage();
  const after = process.memoryUsage().heapUsed;
  await subject.close();
  return (after - before) / count;
}

/** Bytes of heap per queued waiter, counting the promise the caller holds. */
async function bytesPerWaiter(factory: SubjectFactory, count: number): Promise<number> {
  const subject = factory.create(1, () => ({}));
  const held = await subject.acquire();
  const pending = new Array<Promise<unknown> | null>(count).fill(null);
  await settle();
  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) pending[i] = subject.acquire();
  await settle();
  collectGarbage();
  const after = process.memoryUsage().heapUsed;
  await subject.release(held);
  for (let i = 0; i < count; i++) {
    const item = await pending[i]!;
    pending[i] = null;
    await subject.release(item);
  }
  await subject.close();
  return (after - before) / count;
}

function ratio(a: number | undefined, b: number | undefined): number {
  return a === undefined || b === undefined ? Number.NaN : a / b;
}

function target(name: string, description: string, value: number, comparison: '>=' | '<=', threshold: number): Target {
  const met = Number.isFinite(value) ? (comparison === '>=' ? value >= threshold : value <= threshold) : null;
  return { name, description, value, comparison, threshold, met };
}

/** The median over rounds of a per-round value, skipping rounds where it is undefined. */
function perRound(rounds: number, value: (round: number) => number | undefined): number {
  const values: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const v = value(round);
    if (v !== undefined && Number.isFinite(v)) values.push(v);
  }
  return values.length > 0 ? median(values) : Number.NaN;
}

/** How many times faster `a` is than `b`: each round's ratio of rates, median over the rounds. */
export function speedRatio(a: Measurement | undefined, b: Measurement | undefined): number {
  if (a === undefined || b === undefined) return Number.NaN;
  return perRound(Math.min(a.nsPerCycle.length, b.nsPerCycle.length), (i) => ratio(b.nsPerCycle[i], a.nsPerCycle[i]));
}

/**
 * The targets of issue #4, as ratios from this run. A ratio of two benchmarks is taken within each
 * round (the pools of a round run back to back, so they share the machine's mood) and the median
 * over rounds is reported: sturdier than a ratio of medians when the machine is busy. The spread over
 * connection counts (a max over three) uses the medians instead.
 */
export function evaluateTargets(results: Omit<BenchResults, 'targets' | 'durationMs'>): Target[] {
  const others = results.pools.filter((p) => p.kind === 'other').map((p) => p.name);
  const rounds = results.options.rounds;
  const rate = (m: Measurement | undefined, round: number): number | undefined => {
    const ns = m?.nsPerCycle[round];
    return ns === undefined ? undefined : 1e9 / ns;
  };
  const targets: Target[] = [];
  for (const [section, vsOthers, vsFloor] of [
    ['uncontended', 3, 0.5],
    ['contended', 2, 0.6],
  ] as const) {
    const table = results[section];
    const fastestOther = (round: number): number | undefined => {
      const rates = others.map((name) => rate(table[name], round)).filter((r): r is number => r !== undefined);
      return rates.length > 0 ? Math.max(...rates) : undefined;
    };
    // Issue 8: what instrumentPool costs per cycle (cycle time with it ÷ without), target under 15%.
    if (section === 'uncontended') {
      targets.push(target('otel-overhead', 'uncontended: cycle time with instrumentPool / without', perRound(rounds, (i) => ratio(table['lifeguard-otel']?.nsPerCycle[i], table.lifeguard?.nsPerCycle[i])), '<=', 1.15));
    }
    targets.push(
      target(`${section}-vs-others`, `${section}: lifeguard / fastest other pool`, perRound(rounds, (i) => ratio(rate(table.lifeguard, i), fastestOther(i))), '>=', vsOthers),
      target(`${section}-vs-floor`, `${section}: lifeguard / floor`, perRound(rounds, (i) => ratio(rate(table.lifeguard, i), rate(table.floor, i))), '>=', vsFloor),
    );
  }
  const pg = results.postgres;
  for (const workload of ['select1', 'transaction'] as const) {
    const sides = pg?.skipped === undefined ? pg?.workloads[workload] : undefined;
    const pgRounds = pg?.rounds ?? 0;
    const label = workload === 'select1' ? 'SELECT 1' : 'transaction';
    targets.push(
      target(
        `postgres-${workload}-throughput`,
        `PostgreSQL ${label}: lifeguard / pg.Pool throughput`,
        perRound(pgRounds, (i) => ratio(sides?.lifeguard?.perSecond[i], sides?.['pg.Pool']?.perSecond[i])),
        '>=',
        1,
      ),
      target(
        `postgres-${workload}-p99`,
        `PostgreSQL ${label}: lifeguard / pg.Pool p99 acquire wait`,
        perRound(pgRounds, (i) => ratio(sides?.lifeguard?.p99us[i], sides?.['pg.Pool']?.p99us[i])),
        '<=',
        1,
      ),
      // Issue 7: the safety (prePing with a 500 ms bypass, reset on return) should cost nothing.
      target(
        `postgres-${workload}-safe-throughput`,
        `PostgreSQL ${label}: lifeguard (safe) / pg.Pool throughput`,
        perRound(pgRounds, (i) => ratio(sides?.['lifeguard (safe)']?.perSecond[i], sides?.['pg.Pool']?.perSecond[i])),
        '>=',
        0.95,
      ),
      target(
        `postgres-${workload}-safe-p99`,
        `PostgreSQL ${label}: lifeguard (safe) / pg.Pool p99 acquire wait`,
        perRound(pgRounds, (i) => ratio(sides?.['lifeguard (safe)']?.p99us[i], sides?.['pg.Pool']?.p99us[i])),
        '<=',
        1.05,
      ),
    );
  }
  // Issue 9: Kysely on PgPool (safe settings) against Kysely on pg.Pool.
  const kysely = pg?.skipped === undefined ? pg?.workloads.kysely : undefined;
  targets.push(
    target(
      'postgres-kysely-throughput',
      'PostgreSQL through Kysely: PgPool (safe) / pg.Pool throughput',
      perRound(pg?.rounds ?? 0, (i) => ratio(kysely?.['Kysely on PgPool (safe)']?.perSecond[i], kysely?.['Kysely on pg.Pool']?.perSecond[i])),
      '>=',
      1,
    ),
  );
  // Max / min over the connection counts uses the medians: taken per round, it would grow with noise.
  const connectionSpread = (name: string): number => {
    const costs = Object.values(results.scale.connections[name] ?? {}).map((m) => m.median.nsPerCycle);
    return costs.length > 1 ? Math.max(...costs) / Math.min(...costs) : Number.NaN;
  };
  const waiterGrowth = (name: string): number => {
    const byCallers = results.scale.waiters[name];
    const many = byCallers?.[String(results.options.waiters)];
    const few = byCallers?.[String(results.options.callers)];
    return perRound(rounds, (i) => ratio(many?.nsPerCycle[i], few?.nsPerCycle[i]));
  };
  const counts = results.options.scaleConnections;
  targets.push(
    {
      ...target('scale-connections', `scale: slowest / fastest cycle over ${counts.join(', ')} idle connections`, connectionSpread('lifeguard'), '<=', 1.2),
      floor: connectionSpread('floor'),
    },
    {
      ...target('scale-waiters', `scale: cycle with ${results.options.waiters} queued callers / with ${results.options.callers}`, waiterGrowth('lifeguard'), '<=', 1.2),
      floor: waiterGrowth('floor'),
    },
  );
  return targets;
}

/** Runs the benchmarks picked by `options.only` (everything by default). */
export async function runBenchmarks(overrides: Partial<BenchOptions> & { quick?: boolean } = {}): Promise<BenchResults> {
  const { quick, ...rest } = overrides;
  const options: BenchOptions = { ...defaultOptions(quick ?? false), ...rest };
  const started = Date.now();
  const only = options.only.map((s) => s.toLowerCase());
  const sectionFilter = only.filter((s) => (SECTIONS as readonly string[]).includes(s));
  const poolFilter = only.filter((s) => !(SECTIONS as readonly string[]).includes(s));
  const unknown = poolFilter.filter((s) => !FACTORIES.some((f) => f.name === s));
  if (unknown.length > 0) {
    throw new Error(`--only: unknown name(s) ${unknown.join(', ')}; pools: ${FACTORIES.map((f) => f.name).join(', ')}; sections: ${SECTIONS.join(', ')}`);
  }
  const wants = (section: Section): boolean => sectionFilter.length === 0 || sectionFilter.includes(section);
  const factories = [...FACTORIES.filter((f) => poolFilter.length === 0 || poolFilter.includes(f.name)), ...(options.extraFactories ?? [])];
  const { log } = options;
  // The record keeps plain data: no callbacks, no pool factories.
  const recordedOptions: Omit<BenchOptions, 'log'> = { ...options };
  delete (recordedOptions as Partial<BenchOptions>).log;
  delete recordedOptions.extraFactories;

  const cpus = os.cpus();
  const results: Omit<BenchResults, 'targets' | 'durationMs'> = {
    machine: {
      cpu: cpus[0]?.model.trim() ?? 'unknown',
      cores: cpus.length,
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      date: new Date().toISOString(),
    },
    options: recordedOptions,
    gcExposed: canCollectGarbage,
    pools: factories.map(({ name, label, kind, config }) => ({ name, label, kind, config })),
    uncontended: {},
    contended: {},
    scale: { connections: {}, waiters: {} },
    memory: {},
    postgres: null,
  };

  // Uncontended and contended cycles, every pool, interleaved.
  if (wants('uncontended') || wants('contended')) {
    const benches: Bench[] = [];
    const subjects: Subject[] = [];
    for (const factory of factories) {
      if (wants('uncontended')) {
        const subject = factory.create(options.connections, () => ({}));
        subjects.push(subject);
        const bench = uncontendedBench(subject, options.uncontendedCycles, options.warmupCycles, `uncontended ${factory.name}`);
        results.uncontended[factory.name] = bench.measurement;
        benches.push(bench);
      }
      if (wants('contended')) {
        const subject = factory.create(options.connections, () => ({}));
        subjects.push(subject);
        const bench = contendedBench(subject, options.callers, options.contendedCycles, options.warmupCycles, `contended ${factory.name}`);
        results.contended[factory.name] = bench.measurement;
        benches.push(bench);
      }
    }
    log(`cycles: ${benches.length} benches, ${options.rounds} rounds`);
    await runRounds(benches, options.rounds, 'cycles', log);
    for (const subject of subjects) await subject.close();
  }

  // Scale: lifeguard and the floor over many idle connections and many waiters.
  if (wants('scale')) {
    const benches: Bench[] = [];
    const subjects: Subject[] = [];
    for (const factory of factories.filter((f) => f.name === 'lifeguard' || f.name === 'floor')) {
      const byConnections: Record<string, Measurement> = {};
      for (const count of options.scaleConnections) {
        const subject = factory.create(count, () => ({}));
        subjects.push(subject);
        await fill(subject, count);
        const bench = uncontendedBench(subject, options.uncontendedCycles, options.warmupCycles, `${count} connections ${factory.name}`);
        byConnections[String(count)] = bench.measurement;
        benches.push(bench);
      }
      results.scale.connections[factory.name] = byConnections;
      const byCallers: Record<string, Measurement> = {};
      for (const callers of [options.callers, options.waiters]) {
        const subject = factory.create(options.connections, () => ({}));
        subjects.push(subject);
        const bench = contendedBench(subject, callers, options.contendedCycles, options.warmupCycles, `${callers} callers ${factory.name}`);
        byCallers[String(callers)] = bench.measurement;
        benches.push(bench);
      }
      results.scale.waiters[factory.name] = byCallers;
    }
    log(`scale: ${benches.length} benches, ${options.rounds} rounds`);
    await runRounds(benches, options.rounds, 'scale', log);
    for (const subject of subjects) await subject.close();
  }

  // Memory per idle slot and per waiter (median of `memoryRepeats`), every pool.
  if (wants('memory')) {
    for (const factory of factories) {
      const slots: number[] = [];
      const waiters: number[] = [];
      for (let i = 0; i < options.memoryRepeats; i++) {
        slots.push(await bytesPerIdleSlot(factory, options.memoryCount));
        waiters.push(await bytesPerWaiter(factory, options.memoryCount));
      }
      results.memory[factory.name] = { bytesPerIdleSlot: median(slots), bytesPerWaiter: median(waiters) };
    }
    log('memory: done');
  }

  if (wants('postgres')) {
    results.postgres = await runRealPg({
      url: options.pgUrl,
      callers: options.pgCallers,
      poolSize: options.pgPoolSize,
      perCaller: options.pgPerCaller,
      rounds: options.pgRounds,
      log,
    });
    if (results.postgres.skipped !== undefined) log(`postgres: skipped: ${results.postgres.skipped}`);
  }

  return { ...results, targets: evaluateTargets(results), durationMs: Date.now() - started };
}
