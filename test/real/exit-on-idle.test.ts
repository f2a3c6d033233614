// allowExitOnIdle (SPEC section 11): a script that runs a query and forgets pool.close() exits on its
// own, on the real servers through pg, mysql2 and mariadb; with allowExitOnIdle: false it stays alive.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { isReachable, mysqlServer, postgresServer } from '../support/servers.js';

const createPoolUrl = pathToFileURL(resolve(import.meta.dirname, '../../src/create-pool.js')).href;

/** Runs a script that queries once and never closes the pool; resolves with its exit code, or 'alive' at `ms` (then kills it). */
function runForgetful(url: string, allowExitOnIdle: boolean, ms: number): Promise<number | 'alive'> {
  const script = `
    const { createPool } = await import(${JSON.stringify(createPoolUrl)});
    const pool = await createPool(process.env.LG_URL, { allowExitOnIdle: ${String(allowExitOnIdle)} });
    const pc = await pool.connect();
    await pc.connection.query('SELECT 1');
    await pc.close();
    console.log('done');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, LG_URL: url }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolvePromise('alive');
    }, ms);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!out.includes('done')) reject(new Error(`the script failed (exit ${String(code)}): ${out}`));
      else resolvePromise(code ?? -1);
    });
  });
}

const pg = await postgresServer();
after(() => pg.stop());
const mysql = await mysqlServer();
const targets: [string, string][] = [[`pg on ${pg.label}`, pg.url]];
if (isReachable(mysql)) targets.push([`mysql2 on ${mysql.label}`, mysql.url], [`mariadb on ${mysql.label}`, mysql.url.replace(/^mysql:/, 'mariadb:')]);
else if (mysql.mustFail) {
  it(`exit-on-idle on ${mysql.label}`, () => {
    assert.fail(mysql.reason);
  });
}

for (const [label, url] of targets) {
  describe(`allowExitOnIdle: ${label}`, { timeout: 60_000 }, () => {
    it('a script that forgets pool.close() exits on its own', async () => {
      assert.equal(await runForgetful(url, true, 15_000), 0);
    });
    it('with allowExitOnIdle: false, the idle connection keeps it alive (the control)', async () => {
      assert.equal(await runForgetful(url, false, 3000), 'alive');
    });
  });
}
