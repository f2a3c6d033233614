// Runs every compiled test file under node's test runner, with --expose-gc so the garbage-collection
// safety net can be tested deterministically. Server suites report which server they ran against.
import { readdirSync, statSync } from 'node:fs';
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

const filter = process.argv[2];
const files = find('build/test').filter((f) => !filter || f.includes(filter)).sort();
if (files.length === 0) {
  console.error('no test files found under build/test');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--expose-gc', '--test', '--test-timeout=120000', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
