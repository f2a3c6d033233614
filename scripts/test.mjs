// Runs every compiled test file under node's test runner, with --expose-gc so the garbage-collection
// safety net can be tested deterministically. Server suites report which server they ran against.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...find(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

/** Say up front which server suites run, against what (the suites' own names repeat it). */
async function banner() {
  const servers = await import('../build/test/support/servers.js');
  const replication = await import('../build/test/support/replication.js');
  const { redactUrl } = await import('../build/src/create-pool.js');
  const ci = process.env.CI === 'true';
  const answer = async (probe, url) => probe(url).then(() => 'answers', (error) => `does not answer (${error instanceof Error ? error.message : String(error)})`);
  const pgUrl = process.env.LIFEGUARD_PG_URL ?? servers.DEFAULT_PG_URL;
  const myUrl = process.env.LIFEGUARD_MYSQL_URL ?? servers.DEFAULT_MYSQL_URL;
  const pg = await answer(servers.probePostgres, pgUrl);
  const my = await answer(servers.probeMysql, myUrl);
  const pgPlan = pg === 'answers' ? 'PostgreSQL suites run on it' : ci || process.env.LIFEGUARD_PG_URL ? 'PostgreSQL suites will FAIL' : 'PostgreSQL suites run on an embedded server';
  const pgbouncerBinary = process.env.PGBOUNCER ?? '/usr/sbin/pgbouncer';
  const hasPgbouncer = existsSync(pgbouncerBinary);
  const pgbouncerPlan = hasPgbouncer
    ? `${pgbouncerBinary} found: the PgBouncer suite runs (its own PgBouncer processes, in front of the PostgreSQL above)`
    : `${pgbouncerBinary} missing: the PgBouncer suite ${ci ? 'will FAIL' : 'is SKIPPED'} (apt-get install pgbouncer)`;
  const myPlan = my === 'answers' ? 'MariaDB suites (mysql2 and mariadb) run on it' : ci ? 'MariaDB suites will FAIL' : 'MariaDB suites are SKIPPED';
  console.log([
    `lifeguard tests${ci ? ' (CI=true: an unreachable server fails its suites)' : ''}:`,
    '  unit, property and bench-smoke suites: mock driver, always',
    '  SQLite (better-sqlite3) and PGlite suites: in-process, always; the PostgreSQL restart suite: its own embedded server, always',
    `  PostgreSQL ${redactUrl(pgUrl)} ${pg}: ${pgPlan}`,
    `  MariaDB ${redactUrl(myUrl)} ${my}: ${myPlan}`,
    `  PgBouncer: ${pgbouncerPlan}`,
    `  several hosts and replicas: ${replication.replicationPlan()}`,
    '',
  ].join('\n'));
}

const filter = process.argv[2];
const files = find('build/test').filter((f) => !filter || f.includes(filter)).sort();
if (files.length === 0) {
  console.error('no test files found under build/test');
  process.exit(1);
}
if (!filter || filter.includes('real')) await banner();
const result = spawnSync(process.execPath, ['--expose-gc', '--test', '--test-timeout=120000', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
