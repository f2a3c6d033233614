/** Renders benchmark results: the terminal table, results.json, chart.svg and README-table.md. */
import { speedRatio } from './harness.js';
import type { BenchResults, Measurement } from './harness.js';
import { WORKLOADS } from './real-pg.js';
import type { Workload } from './real-pg.js';

const WORKLOAD_LABEL: Record<Workload, string> = { select1: 'SELECT 1', transaction: 'BEGIN; SELECT 1; COMMIT', kysely: 'SELECT 1 through Kysely' };

function rate(perSecond: number | undefined): string {
  if (perSecond === undefined || !Number.isFinite(perSecond)) return '-';
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k/s`;
  return `${perSecond.toFixed(0)} /s`;
}

function ns(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '-' : `${value.toFixed(0)} ns`;
}

function times(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '-' : `${value.toFixed(2)}×`;
}

function bytes(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '-' : `${value.toFixed(0)} B`;
}

function us(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '-';
  return value >= 1000 ? `${(value / 1000).toFixed(2)} ms` : `${value.toFixed(0)} µs`;
}

function thousands(n: number): string {
  return n.toLocaleString('en-US');
}

/** Left-aligns the first column, right-aligns the rest. */
function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`, ...rows.map(line)].join('\n');
}

/**
 * lifeguard's speed ÷ this pool's, paired within rounds (see `speedRatio`); none for lifeguard
 * itself. A baseline build's `lifeguard-work@<ref>` row is compared with this build's
 * `lifeguard-work`, so both rows of a `--baseline` run read as "this build ÷ that commit".
 */
function lifeguardOver(table: Record<string, Measurement>, name: string): number | undefined {
  const mine = name.startsWith('lifeguard-work@') ? 'lifeguard-work' : 'lifeguard';
  const ours = table[mine];
  return name === mine || ours === undefined || table[name] === undefined ? undefined : speedRatio(ours, table[name]);
}

function cycleRows(results: BenchResults, withNs: boolean): string[][] {
  return results.pools.map((pool) => {
    const u = results.uncontended[pool.name];
    const c = results.contended[pool.name];
    const cells = [pool.label, rate(u?.median.perSecond)];
    if (withNs) cells.push(ns(u?.median.nsPerCycle));
    cells.push(times(lifeguardOver(results.uncontended, pool.name)), rate(c?.median.perSecond));
    if (withNs) cells.push(ns(c?.median.nsPerCycle));
    cells.push(times(lifeguardOver(results.contended, pool.name)));
    return cells;
  });
}

function pgRows(results: BenchResults): string[][] {
  const pg = results.postgres;
  if (pg === null || pg.skipped !== undefined) return [];
  const rows: string[][] = [];
  for (const workload of WORKLOADS) {
    const sides = pg.workloads[workload];
    if (sides === undefined) continue;
    for (const [name, side] of Object.entries(sides)) {
      rows.push([WORKLOAD_LABEL[workload], name, rate(side.median.perSecond), us(side.median.p50us), us(side.median.p99us)]);
    }
  }
  return rows;
}

function scaleRows(results: BenchResults): { header: string[]; rows: string[][] } {
  const { scaleConnections, callers, waiters, connections } = results.options;
  const header = [
    'pool (ns per cycle)',
    ...scaleConnections.map((n) => `${thousands(n)} idle conns`),
    `${callers} callers / ${connections}`,
    `${thousands(waiters)} callers / ${connections}`,
  ];
  const rows = Object.keys(results.scale.connections).map((name) => [
    results.pools.find((p) => p.name === name)?.label ?? name,
    ...scaleConnections.map((n) => ns(results.scale.connections[name]?.[String(n)]?.median.nsPerCycle)),
    ns(results.scale.waiters[name]?.[String(callers)]?.median.nsPerCycle),
    ns(results.scale.waiters[name]?.[String(waiters)]?.median.nsPerCycle),
  ]);
  return { header, rows };
}

function machineLine(results: BenchResults): string {
  const m = results.machine;
  return `${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.platform}, ${m.date.slice(0, 10)}`;
}

function cycleHeader(results: BenchResults, withNs: boolean): string[] {
  const { callers, connections } = results.options;
  const u = ['uncontended', ...(withNs ? ['ns/cycle'] : []), 'lifeguard is'];
  const c = [`contended ${callers}/${connections}`, ...(withNs ? ['ns/cycle'] : []), 'lifeguard is'];
  return ['pool', ...u, ...c];
}

/** The table printed to the terminal. */
export function renderText(results: BenchResults, command: string): string {
  const out: string[] = [];
  const o = results.options;
  out.push(`lifeguard bench: ${machineLine(results)}`);
  out.push(`${command}: ${o.rounds} round(s), medians; ${thousands(o.uncontendedCycles)} uncontended / ${thousands(o.contendedCycles)} contended cycles per sample; ${(results.durationMs / 1000).toFixed(0)} s`);
  if (Object.keys(results.uncontended).length + Object.keys(results.contended).length > 0) {
    out.push('', `Cycles: acquire + release of an idle no-op connection; contended = ${o.callers} callers over ${o.connections} connections holding one microtask; "lifeguard is" = lifeguard's rate ÷ that pool's, within each round, median over rounds`);
    out.push(textTable(cycleHeader(results, true), cycleRows(results, true)));
    if (results.pools.some((p) => p.kind === 'baseline')) {
      out.push('(--baseline: in a lifeguard@<ref> row, "lifeguard is" = this build ÷ that commit; in lifeguard-work@<ref>, the same for lifeguard-work. Below 1.00× is slower.)');
    }
  }
  if (Object.keys(results.scale.connections).length > 0) {
    out.push('', 'Scale: uncontended cycles over N idle connections; contended cycles with many queued callers');
    const { header, rows } = scaleRows(results);
    out.push(textTable(header, rows));
  }
  if (Object.keys(results.memory).length > 0) {
    out.push('', `Memory (heap bytes, ${thousands(o.memoryCount)} of each${results.gcExposed ? '' : '; no --expose-gc, so rough'})`);
    out.push(
      textTable(
        ['pool', 'per idle slot', 'per waiter'],
        results.pools.filter((p) => p.name in results.memory).map((p) => [p.label, bytes(results.memory[p.name]?.bytesPerIdleSlot), bytes(results.memory[p.name]?.bytesPerWaiter)]),
      ),
    );
  }
  const pg = results.postgres;
  if (pg !== null) {
    out.push('');
    if (pg.skipped !== undefined) {
      out.push(`Real PostgreSQL: skipped: ${pg.skipped}`);
    } else {
      out.push(`Real PostgreSQL (${pg.url}): ${pg.callers} callers, pool of ${pg.poolSize}, ${thousands(pg.unitsPerSample)} per sample, ${pg.rounds} round(s); lifeguard dialect: ${pg.dialect}`);
      out.push(textTable(['workload', 'pool', 'throughput', 'acquire wait p50', 'p99'], pgRows(results)));
    }
  }
  out.push('', 'Targets (a ratio of two benchmarks is taken within each round, median over the rounds)');
  for (const t of results.targets) {
    const state = t.met === null ? 'n/a    ' : t.met ? 'met    ' : 'NOT MET';
    const value = Number.isFinite(t.value) ? `${t.value.toFixed(2)}×` : '-';
    const floor =
      t.floor !== undefined && Number.isFinite(t.floor)
        ? `; the floor: ${t.floor.toFixed(2)}×, so lifeguard / floor: ${(t.value / t.floor).toFixed(2)}×`
        : '';
    out.push(`  ${state}  ${t.description}: ${value} (target ${t.comparison} ${t.threshold}${floor})`);
  }
  const others = results.pools.filter((p) => p.kind === 'other');
  for (const section of ['uncontended', 'contended'] as const) {
    const work = results[section]['lifeguard-work']?.median.perSecond;
    const fastest = Math.max(...others.map((p) => results[section][p.name]?.median.perSecond ?? Number.NaN).filter(Number.isFinite));
    const floor = results[section].floor?.median.perSecond;
    if (work === undefined || !Number.isFinite(fastest)) continue;
    out.push(`  (info)   ${section}, lifeguard + real work: ${times(work / fastest)} the fastest other pool, ${times(floor === undefined ? undefined : work / floor)} the floor`);
  }
  return out.join('\n');
}

/** The Markdown the README quotes: the main table, the real-database table, machine and command. */
export function renderMarkdown(results: BenchResults, command: string): string {
  const o = results.options;
  const out: string[] = [];
  out.push(
    `Cycles per second (acquire + release of an idle no-op connection; contended = ${o.callers} callers over ${o.connections} connections, each holding one microtask). Medians of ${o.rounds} interleaved rounds; "lifeguard is" = lifeguard's rate ÷ that pool's, taken within each round (median over rounds).`,
    '',
    markdownTable(cycleHeader(results, false), cycleRows(results, false)),
  );
  const rows = pgRows(results);
  const pg = results.postgres;
  if (pg !== null && rows.length > 0) {
    out.push('', `Real PostgreSQL on the same machine: ${pg.callers} callers, pool of ${pg.poolSize}.`, '', markdownTable(['workload', 'pool', 'throughput', 'acquire wait p50', 'p99'], rows));
  }
  if (Object.keys(results.scale.connections).length > 0) {
    const { header, rows: scale } = scaleRows(results);
    out.push('', 'Scale (ns per cycle):', '', markdownTable(header, scale));
  }
  out.push('', `Machine: ${machineLine(results)}. Command: \`${command}\`.`);
  return out.join('\n') + '\n';
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * A hand-written SVG: for each scenario, one bar per pool showing lifeguard's rate ÷ that pool's, on
 * a log scale around 1× (right: lifeguard faster; left: slower, as it must be against the floor).
 */
export function renderSvg(results: BenchResults): string {
  const pools = results.pools.filter((p) => p.kind !== 'lifeguard');
  const groups = [
    { title: 'Uncontended cycle', table: results.uncontended },
    { title: `Contended cycle (${results.options.callers} callers / ${results.options.connections} connections)`, table: results.contended },
  ];
  const rows: ({ kind: 'title'; text: string } | { kind: 'bar'; label: string; value: number; floor: boolean })[] = [];
  for (const group of groups) {
    rows.push({ kind: 'title', text: group.title });
    for (const pool of pools) {
      const value = lifeguardOver(group.table, pool.name);
      if (value !== undefined && Number.isFinite(value)) rows.push({ kind: 'bar', label: pool.label, value, floor: pool.kind === 'floor' });
    }
  }
  const values = rows.flatMap((r) => (r.kind === 'bar' ? [r.value] : []));
  // One spare tick on the left, so the ratio printed left of a short bar never reaches the labels.
  const lo = Math.min(-1, Math.floor(Math.log2(Math.min(1, ...values)))) - 1;
  const hi = Math.max(1, Math.ceil(Math.log2(Math.max(1, ...values))));
  const width = 780;
  const left = 190;
  const right = width - 70;
  const rowHeight = 24;
  const top = 56;
  const height = top + rows.length * rowHeight + 40;
  const x = (v: number): number => left + ((Math.log2(v) - lo) / (hi - lo)) * (right - left);
  const svg: string[] = [];
  svg.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="13">`);
  svg.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  svg.push(`<text x="16" y="24" font-size="16" font-weight="600">lifeguard's speed ÷ each pool's (log scale; right of 1× = lifeguard faster)</text>`);
  svg.push(`<text x="16" y="42" fill="#666">${escapeXml(machineLine(results))}; medians of ${results.options.rounds} rounds</text>`);
  const axisBottom = top + rows.length * rowHeight;
  for (let p = lo; p <= hi; p++) {
    const v = 2 ** p;
    const tx = x(v).toFixed(1);
    svg.push(`<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${axisBottom}" stroke="${p === 0 ? '#333' : '#e3e3e3'}" stroke-width="${p === 0 ? 1.5 : 1}"${p === 0 ? '' : ' stroke-dasharray="3 3"'}/>`);
    svg.push(`<text x="${tx}" y="${axisBottom + 16}" text-anchor="middle" fill="#555">${v >= 1 ? v : `1/${1 / v}`}×</text>`);
  }
  rows.forEach((row, i) => {
    const y = top + i * rowHeight;
    if (row.kind === 'title') {
      svg.push(`<text x="16" y="${y + 16}" font-weight="600">${escapeXml(row.text)}</text>`);
      return;
    }
    const x0 = x(1);
    const x1 = x(row.value);
    const bx = Math.min(x0, x1);
    const bw = Math.max(1, Math.abs(x1 - x0));
    const fill = row.floor ? '#8c8c8c' : row.value >= 1 ? '#2e7d32' : '#c62828';
    svg.push(`<text x="${left - 8}" y="${y + 16}" text-anchor="end">vs ${escapeXml(row.label)}</text>`);
    svg.push(`<rect x="${bx.toFixed(1)}" y="${y + 5}" width="${bw.toFixed(1)}" height="${rowHeight - 9}" fill="${fill}" rx="2"/>`);
    const labelX = row.value >= 1 ? x1 + 6 : x1 - 6;
    svg.push(`<text x="${labelX.toFixed(1)}" y="${y + 16}" text-anchor="${row.value >= 1 ? 'start' : 'end'}" fill="#222">${row.value.toFixed(2)}×</text>`);
  });
  svg.push('</svg>');
  return svg.join('\n') + '\n';
}
