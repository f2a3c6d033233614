/**
 * The demo end to end, as a newcomer runs it: a child process on the embedded PostgreSQL server,
 * with small counts. It must kill connections midway, survive a network partition, and still finish
 * with no failed request.
 */
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../demo/embedded-postgres.js';
import { fakeBinaries, privateDir } from '../support/embedded.js';

const MAIN = fileURLToPath(new URL('../../demo/main.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `onStdout` sees the whole stdout so far after each chunk, while the demo runs. */
function runDemo(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000, onStdout?: (stdout: string) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      onStdout?.(stdout);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGINT');
      reject(new Error(`the demo did not finish in ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function number(output: string, pattern: RegExp): number {
  const match = pattern.exec(output);
  assert.ok(match?.[1] !== undefined, `no match for ${String(pattern)} in:\n${output}`);
  return Number(match[1]);
}

describe('demo (npm start)', () => {
  it('survives killed connections and a network partition with no failed request', async () => {
    const { code, stdout, stderr } = await runDemo(['--requests', '120', '--concurrency', '20']);
    const output = `${stdout}\n${stderr}`;
    assert.equal(code, 0, output);
    assert.match(stdout, /embedded PostgreSQL server\.\.\. ready on 127\.0\.0\.1:\d+/);
    // Progress lines while it runs (stdout is not a terminal here).
    assert.match(stdout, /\d+\/120 done \| checked out \d+ \| idle \d+ \| overflow \d+\/5 \| waiting \d+ \| timeouts 0/);
    assert.equal(number(stdout, /requests\s+(\d+) ok, \d+ failed/), 120, output);
    assert.equal(number(stdout, /requests\s+\d+ ok, (\d+) failed/), 0, output);
    assert.match(stdout, /throughput\s+\d+ req\/s/);
    assert.match(stdout, /acquire wait\s+p50 [\d.]+ ms \| p95 [\d.]+ ms \| p99 [\d.]+ ms/);
    const killed = number(stdout, /killed\s+(\d+) of \d+ connections/);
    assert.ok(killed >= 1, `expected at least one killed connection:\n${output}`);
    // Recovered: the killed connections were replaced by new ones, and every request succeeded.
    assert.ok(number(stdout, /(\d+) connections? opened since the kill/) >= 1, output);
    assert.match(stdout, /balances\s+total 100000, unchanged/);
    // The partition: the demo's fault proxy froze every open connection, the pool replaced the idle
    // ones (pre-ping timeout) and the requests frozen mid-query retried; none hung.
    const frozen = number(stdout, /partition\s+(\d+) connections frozen at [\d.]+ s for 2\.00 s/);
    assert.ok(frozen >= 1, output);
    assert.match(stdout, /slowest\s+[\d.]+ s for one request, retry included: no request hung/);
    assert.match(stdout, new RegExp(`Result: 0 requests failed; the pool recovered from ${killed} killed connections? and a 2\\.00 s network partition\\.`));
    assert.doesNotMatch(stderr, /demo failed/);
  });

  it('--metrics serves the pool\'s OpenTelemetry metrics to Prometheus while it runs', async () => {
    const port = await freePort();
    let scrape: Promise<string> | undefined;
    // Scraped once the partition begins: every kind of metric has values by then, and the run
    // lasts the partition's 2 s more, so the endpoint is still up.
    const { code, stdout, stderr } = await runDemo(['--requests', '60', '--concurrency', '10', '--metrics', '--metrics-port', String(port)], {}, 60_000, (out) => {
      const match = /Metrics \(Prometheus\): (\S+)/.exec(out);
      if (match?.[1] !== undefined && out.includes('network partition: froze')) scrape ??= fetch(match[1]).then((response) => response.text());
    });
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, new RegExp(`Metrics \\(Prometheus\\): http://127\\.0\\.0\\.1:${port}/metrics`));
    assert.ok(scrape !== undefined, 'the demo printed its metrics URL');
    const text = await scrape;
    for (const series of [
      'db_client_connection_count{db_client_connection_pool_name="demo",db_client_connection_state="idle"',
      'db_client_connection_count{db_client_connection_pool_name="demo",db_client_connection_state="used"',
      'db_client_connection_pending_requests{db_client_connection_pool_name="demo"',
      'db_client_connection_max{db_client_connection_pool_name="demo"',
      'db_client_connection_create_time_bucket{db_client_connection_pool_name="demo"',
      'db_client_connection_wait_time_count{db_client_connection_pool_name="demo"',
    ]) {
      assert.ok(text.includes(series), `the scrape has ${series}:\n${text.slice(0, 2000)}`);
    }
    assert.match(text, /# TYPE db_client_connection_wait_time histogram/);
    // The summary's percentiles come from the same histograms.
    assert.match(stdout, /wait_time\s+p50 [\d.]+ ms \| p95 [\d.]+ ms \| p99 [\d.]+ ms \(\d+\): db\.client\.connection\.wait_time/);
    assert.match(stdout, /use_time\s+p50 [\d.]+ ms \| p95 [\d.]+ ms \| p99 [\d.]+ ms \(\d+\): db\.client\.connection\.use_time/);
  });

  it('prints its usage with --help, and exits 2 on a bad argument', async () => {
    const help = await runDemo(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--requests <n>/);
    assert.match(help.stdout, /--concurrency <n>/);
    assert.match(help.stdout, /--url <url>/);
    const bad = await runDemo(['--requests', 'many']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--requests must be an integer/);
  });

  it('prints what failed and what to do, and exits 1, when the embedded server cannot start', async () => {
    // The binaries of a clone the server's user cannot execute (what `npm start` as root in /root
    // used to crash on with an unhandled 'error' event).
    const home = privateDir();
    try {
      const binaries = fakeBinaries(join(home, 'native'), {
        'bin/initdb': ['#!/bin/sh\nexit 0\n', 0o644],
        'bin/postgres': ['#!/bin/sh\nexit 0\n', 0o644],
      });
      const { code, stdout, stderr } = await runDemo(['--requests', '10'], { LIFEGUARD_PG_BINARIES: binaries });
      assert.equal(code, 1, `${stdout}\n${stderr}`);
      assert.match(stdout, /Starting an embedded PostgreSQL server\.\.\. failed\n/);
      assert.match(stderr, /^demo failed: embedded PostgreSQL did not start: could not execute \S+initdb.*: permission denied \(EACCES\)\. It must be/m);
      assert.doesNotMatch(stderr, /^\s+at /m, 'a message, not a stack trace');
      assert.doesNotMatch(stderr, /Unhandled|node:events/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
