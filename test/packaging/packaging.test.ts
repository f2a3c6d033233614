// The package as a user installs it: `npm pack`, the tarball installed into a fresh consumer project
// outside the repository (pg, @types/node and @opentelemetry/api from the registry), then
// - an .mjs file importing and a .cjs file requiring lifeguard and lifeguard/pg each run a query on
//   the real PostgreSQL and exit by themselves, sharing one copy of every class;
// - strict TypeScript compiles one small program under commonjs+node10, node16 (.cts and .mts),
//   nodenext and esnext+bundler, and the compiled programs run;
// - attw and publint report nothing, and the tarball holds only what a user needs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { postgresServer } from '../support/servers.js';
import type { ServerTarget } from '../support/servers.js';

const root = resolve(import.meta.dirname, '../../..');
const bin = (name: string): string => join(root, 'node_modules/.bin', name);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }): SpawnSyncReturns<string> {
  return spawnSync(command, args, { encoding: 'utf8', timeout: 120_000, ...options });
}

function ok(result: SpawnSyncReturns<string>, what: string): string {
  const how = result.error !== undefined ? String(result.error) : result.signal !== null ? `killed by ${result.signal}` : `exit code ${result.status}`;
  assert.equal(result.status, 0, `${what}: ${how}\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** The published files, by path inside the package. */
interface PackedFile {
  path: string;
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown> };
/** Every entry point but package.json, as users import them. */
const entries = Object.keys(pkg.exports)
  .filter((subpath) => subpath !== './package.json')
  .map((subpath) => (subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`));

// The program every TypeScript setup compiles: no top-level await, so it is valid as CommonJS too.
const PROGRAM = `import { createPool, QueuePool, PoolTimeoutError } from 'lifeguard';
import type { PoolTimeoutCounts } from 'lifeguard';
import { pgDialect } from 'lifeguard/pg';
import type { PgClient } from 'lifeguard/pg';

interface Client extends PgClient {
  query(sql: string): Promise<{ rows: Array<{ n: number }> }>;
}

async function main(): Promise<void> {
  const pool = await createPool<Client>(process.env.LIFEGUARD_PG_URL ?? '', { poolSize: 2, prePing: true });
  const pc = await pool.connect();
  const { rows } = await pc.connection.query('SELECT 41 + 1 AS n');
  await pc.close();
  const dialect = pgDialect<Client>();
  const counts: PoolTimeoutCounts = { poolSize: 2, maxOverflow: 0, timeout: 1, checkedOut: 2, checkedIn: 0, overflow: 0, waiting: 1, phase: 'queue' };
  const error: Error = new PoolTimeoutError('typed', counts);
  // No pool.close(): the process must exit by itself.
  console.log(JSON.stringify({ n: rows[0]?.n, queuePool: pool instanceof QueuePool, ping: typeof dialect.ping, error: error.name }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
`;

const MJS = `import * as lifeguard from 'lifeguard';
import { pgDialect } from 'lifeguard/pg';
const pool = await lifeguard.createPool(process.env.LIFEGUARD_PG_URL);
const pc = await pool.connect();
const { rows } = await pc.connection.query('SELECT 41 + 1 AS n');
await pc.close();
console.log(JSON.stringify({ n: rows[0].n, dialect: typeof pgDialect }));
`;

// The application requires lifeguard; a library it uses imports it: both must get the same classes.
const CJS = `const lifeguard = require('lifeguard');
const { pgDialect } = require('lifeguard/pg');
(async () => {
  const pool = await lifeguard.createPool(process.env.LIFEGUARD_PG_URL);
  const pc = await pool.connect();
  const { rows } = await pc.connection.query('SELECT 41 + 1 AS n');
  await pc.close();
  const esm = await import('lifeguard');
  const esmPg = await import('lifeguard/pg');
  const same = esm.QueuePool === lifeguard.QueuePool && esm.PoolTimeoutError === lifeguard.PoolTimeoutError && esmPg.pgDialect === pgDialect;
  console.log(JSON.stringify({ n: rows[0].n, same, queuePool: pool instanceof esm.QueuePool }));
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;

describe('the packed package in a fresh consumer project', { timeout: 600_000 }, () => {
  let server: ServerTarget;
  let work: string;
  let consumer: string;
  let tarball: string;
  let packed: string[];
  let env: NodeJS.ProcessEnv;

  before(async () => {
    server = await postgresServer();
    env = { ...process.env, LIFEGUARD_PG_URL: server.url };
    work = mkdtempSync(join(tmpdir(), 'lifeguard-pack-'));
    const fresh = run(process.execPath, [join(root, 'scripts/package-entries.mjs'), '--check'], { cwd: root });
    ok(fresh, 'package.json entry fields match scripts/entries.mjs');
    // prepack builds dist/ from a clean slate.
    const out = ok(run(npm, ['pack', '--json', '--pack-destination', work], { cwd: root, timeout: 300_000 }), 'npm pack');
    const [info] = JSON.parse(out.slice(out.indexOf('['))) as [{ filename: string; files: PackedFile[] }];
    tarball = join(work, info.filename);
    packed = info.files.map((file) => file.path);
    consumer = join(work, 'consumer');
    mkdirSync(consumer);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'lifeguard-consumer', private: true }));
    ok(run(npm, ['install', '--no-audit', '--no-fund', tarball, 'pg@8', '@types/node@20', '@opentelemetry/api@1'], { cwd: consumer, timeout: 300_000 }), 'npm install of the tarball');
  });

  after(async () => {
    rmSync(work, { recursive: true, force: true });
    await server.stop();
  });

  it('holds only the built package: dist (ES modules, CommonJS shims, declarations), README, LICENSE', () => {
    const unexpected = packed.filter(
      (path) => !['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'].includes(path) && !/^dist\/.+\.(js|d\.ts|cjs|d\.cts)$/.test(path),
    );
    assert.deepEqual(unexpected, [], 'files a user does not need');
    assert.ok(packed.includes('dist/index.js') && packed.includes('dist/cjs/index.cjs') && packed.includes('dist/cjs/index.d.cts'));
    // No source map may point at a file the tarball lacks (there are none at all).
    const installed = join(consumer, 'node_modules/lifeguard');
    for (const path of packed.filter((p) => /\.(js|cjs|d\.ts|d\.cts)$/.test(p))) {
      const match = /\/\/# sourceMappingURL=(\S+)/.exec(readFileSync(join(installed, path), 'utf8'));
      if (match?.[1] !== undefined) assert.ok(existsSync(join(installed, path, '..', match[1])), `${path} maps to ${match[1]}, which is not in the package`);
    }
  });

  it('an .mjs file importing lifeguard and lifeguard/pg runs a query and exits by itself', () => {
    writeFileSync(join(consumer, 'check.mjs'), MJS);
    const out = ok(run(process.execPath, ['check.mjs'], { cwd: consumer, env, timeout: 30_000 }), 'check.mjs');
    assert.deepEqual(JSON.parse(out), { n: 42, dialect: 'function' });
  });

  it('a .cjs file requiring lifeguard and lifeguard/pg runs a query, exits by itself, and shares the ES module classes', () => {
    writeFileSync(join(consumer, 'check.cjs'), CJS);
    const result = run(process.execPath, ['check.cjs'], { cwd: consumer, env, timeout: 30_000 });
    const out = ok(result, 'check.cjs');
    assert.deepEqual(JSON.parse(out), { n: 42, same: true, queuePool: true });
    assert.doesNotMatch(result.stderr, /Warning/, 'require of lifeguard prints no warning');
  });

  it('every entry point requires and imports at run time', () => {
    const script = `const entries = ${JSON.stringify(entries)};
(async () => { for (const e of entries) { const a = require(e); const b = await import(e); if (Object.keys(a).length === 0 || Object.keys(a).some((k) => a[k] !== b[k])) throw new Error(e); } })().catch((e) => { console.error(e); process.exitCode = 1; });`;
    writeFileSync(join(consumer, 'entries.cjs'), script);
    ok(run(process.execPath, ['entries.cjs'], { cwd: consumer }), `require and import of ${entries.join(', ')}`);
  });

  const setups: { name: string; compilerOptions: Record<string, unknown>; files: string[]; runs: string[] }[] = [
    { name: 'commonjs + node10 (NestJS)', compilerOptions: { module: 'commonjs', moduleResolution: 'node10', target: 'es2022' }, files: ['app.ts'], runs: ['app.js'] },
    { name: 'node16 (.cts and .mts)', compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'es2022' }, files: ['app.cts', 'app.mts'], runs: ['app.cjs', 'app.mjs'] },
    { name: 'nodenext', compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022' }, files: ['app.ts', 'app.mts'], runs: ['app.js', 'app.mjs'] },
    { name: 'esnext + bundler', compilerOptions: { module: 'esnext', moduleResolution: 'bundler', target: 'es2022', noEmit: true }, files: ['app.ts'], runs: [] },
  ];
  for (const setup of setups) {
    it(`TypeScript (strict, skipLibCheck false) compiles under ${setup.name}${setup.runs.length === 0 ? '' : ', and the output runs'}`, () => {
      const dir = join(consumer, `ts-${setup.name.replace(/\W+/g, '-')}`);
      mkdirSync(dir);
      for (const file of setup.files) writeFileSync(join(dir, file), PROGRAM);
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { strict: true, skipLibCheck: false, types: ['node'], outDir: 'out', ...setup.compilerOptions }, files: setup.files }),
      );
      ok(run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], { cwd: dir }), `tsc under ${setup.name}`);
      for (const file of setup.runs) {
        const out = ok(run(process.execPath, [join(dir, 'out', file)], { cwd: dir, env, timeout: 30_000 }), `node out/${file}`);
        assert.deepEqual(JSON.parse(out), { n: 42, queuePool: true, ping: 'function', error: 'PoolTimeoutError' });
      }
    });
  }

  it('attw finds no problem in any entry point under any resolution', () => {
    const result = run(bin('attw'), [tarball, '--format', 'json'], { cwd: work });
    const report = JSON.parse(result.stdout) as { problems: Record<string, unknown> };
    assert.deepEqual(report.problems, {}, 'attw problems');
    assert.equal(result.status, 0);
  });

  it('publint (strict) finds nothing in the packed files', () => {
    const unpacked = join(work, 'unpacked');
    mkdirSync(unpacked);
    ok(run('tar', ['xzf', tarball, '-C', unpacked], { cwd: work }), 'tar');
    const out = ok(run(bin('publint'), [join(unpacked, 'package'), '--pack', 'false', '--strict'], { cwd: work }), 'publint');
    assert.match(out, /All good/);
  });
});
