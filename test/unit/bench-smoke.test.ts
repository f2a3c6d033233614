// Runs every benchmark once with tiny counts: no timing assertions (these machines are noisy), only
// that each benchmark produced a positive, finite rate and that every pool completed all its cycles.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FACTORIES, runBenchmarks } from '../../bench/harness.js';
import type { Measurement } from '../../bench/harness.js';
import type { PgSide } from '../../bench/real-pg.js';
import { baselineFactories } from '../../bench/baseline.js';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

function assertComplete(m: Measurement | undefined, what: string, rounds: number): void {
  assert.ok(m, `${what}: no measurement`);
  assert.equal(m.completed.length, rounds, `${what}: one sample per round`);
  for (const completed of m.completed) assert.equal(completed, m.cycles, `${what}: completed every cycle`);
  assert.ok(Number.isFinite(m.median.perSecond) && m.median.perSecond > 0, `${what}: positive finite rate, got ${m.median.perSecond}`);
}

test('bench harness: every benchmark runs once with tiny counts', { timeout: 60_000 }, async (t) => {
  const results = await runBenchmarks({
    quick: true,
    rounds: 1,
    uncontendedCycles: 300,
    contendedCycles: 320,
    warmupCycles: 50,
    memoryCount: 200,
    memoryRepeats: 1,
    scaleConnections: [10, 100, 1000],
    waiters: 1000,
    pgPerCaller: 1,
    pgRounds: 1,
  });

  assert.deepEqual(results.pools.map((p) => p.name), FACTORIES.map((f) => f.name));
  for (const { name } of FACTORIES) {
    assertComplete(results.uncontended[name], `uncontended ${name}`, 1);
    assertComplete(results.contended[name], `contended ${name}`, 1);
    const memory = results.memory[name];
    assert.ok(memory && Number.isFinite(memory.bytesPerIdleSlot) && Number.isFinite(memory.bytesPerWaiter), `memory ${name}`);
  }
  for (const name of ['floor', 'lifeguard']) {
    for (const count of [10, 100, 1000]) assertComplete(results.scale.connections[name]?.[String(count)], `${count} connections ${name}`, 1);
    for (const callers of [64, 1000]) assertComplete(results.scale.waiters[name]?.[String(callers)], `${callers} callers ${name}`, 1);
  }

  const pg = results.postgres;
  assert.ok(pg);
  if (pg.skipped !== undefined) {
    // Under CI the machine's PostgreSQL must answer: an unreachable server is a failure, not a skip.
    assert.notEqual(process.env.CI, 'true', `CI=true but the real PostgreSQL part was skipped: ${pg.skipped}`);
    t.diagnostic(`real PostgreSQL part skipped: ${pg.skipped}`);
  } else {
    for (const workload of ['select1', 'transaction', 'kysely'] as const) {
      const table: Partial<Record<string, PgSide>> = pg.workloads[workload] ?? {};
      const sides = Object.entries(table).filter((entry): entry is [string, PgSide] => entry[1] !== undefined);
      assert.equal(sides.length, workload === 'kysely' ? 2 : 3, `postgres ${workload}: every side ran`);
      for (const [name, side] of sides) {
        assert.deepEqual(side.completed, [pg.unitsPerSample], `postgres ${workload} ${name}: completed every unit`);
        assert.ok(Number.isFinite(side.median.perSecond) && side.median.perSecond > 0, `postgres ${workload} ${name}: rate`);
      }
    }
  }
  assert.equal(results.targets.length, 16);
  assert.ok(results.targets.some((target) => target.name === 'postgres-kysely-throughput' && target.threshold === 1));
  assert.ok(results.targets.some((target) => target.name === 'otel-overhead' && target.threshold === 1.15));
  const safe = results.targets.filter((target) => target.name.includes('-safe-'));
  assert.deepEqual(safe.map((target) => [target.name, target.comparison, target.threshold]), [
    ['postgres-select1-safe-throughput', '>=', 0.95],
    ['postgres-select1-safe-p99', '<=', 1.05],
    ['postgres-transaction-safe-throughput', '>=', 0.95],
    ['postgres-transaction-safe-p99', '<=', 1.05],
  ]);
});

test('bench --baseline: builds a commit\'s lifeguard and runs it beside this one', { timeout: 120_000 }, async () => {
  const baseline = await baselineFactories('HEAD');
  try {
    assert.deepEqual(baseline.factories.map((f) => [f.name.replace(/\(\w+\)$/, ''), f.kind]), [['lifeguard@HEAD', 'baseline'], ['lifeguard-work@HEAD', 'baseline']]);
    const results = await runBenchmarks({ quick: true, rounds: 1, uncontendedCycles: 300, contendedCycles: 320, warmupCycles: 50, only: ['lifeguard', 'uncontended', 'contended'], extraFactories: baseline.factories });
    for (const factory of baseline.factories) {
      assertComplete(results.uncontended[factory.name], `uncontended ${factory.name}`, 1);
      assertComplete(results.contended[factory.name], `contended ${factory.name}`, 1);
    }
  } finally {
    baseline.cleanup();
  }
});

test('bench:instructions child: each scenario runs its cycles on the build it is given', { timeout: 60_000 }, () => {
  const child = fileURLToPath(new URL('../../bench/instructions-child.js', import.meta.url));
  const index = new URL('../../src/index.js', import.meta.url).href;
  for (const [scenario, expected] of [['uncontended', 1000], ['contended', 1024], ['uncontended-work', 1000], ['contended-work', 1024]] as const) {
    const out = execFileSync(process.execPath, [child, index, scenario, '1000'], { encoding: 'utf8' });
    assert.equal(out.trim(), String(expected), `${scenario}: cycles completed`);
  }
  assert.throws(() => execFileSync(process.execPath, [child, index, 'uncontended', 'many'], { stdio: 'pipe' }), /usage: instructions-child/);
});
