// The published declarations must type-check in a consumer that checks libraries too
// (skipLibCheck: false): a type marked @internal and stripped from the output, but still referenced,
// broke every strict consumer once. Builds the declarations into a temp dir and compiles a consumer.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { it } from 'node:test';

const root = resolve(import.meta.dirname, '../../..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');

it('the declarations tsconfig.build.json emits type-check on their own (skipLibCheck: false)', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeguard-dts-'));
  try {
    const out = join(dir, 'dist');
    const build = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', out, '--declarationMap', 'false', '--sourceMap', 'false'], { encoding: 'utf8' });
    assert.equal(build.status, 0, build.stdout + build.stderr);
    // Every entry point package.json publishes (scripts/entries.mjs writes them).
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, string | { import: { default: string } }> };
    const entries = Object.values(pkg.exports).flatMap((target) => (typeof target === 'string' ? [] : [target.import.default.replace(/^\.\/dist\/(.+)\.js$/, '$1')]));
    assert.ok(entries.includes('index') && entries.includes('drivers/pg/index'), `entries: ${entries.join(', ')}`);
    writeFileSync(join(dir, 'consumer.ts'), entries.map((entry, i) => `import * as m${i} from './dist/${entry}.js';\nvoid m${i};\n`).join(''));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'node16',
          moduleResolution: 'node16',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          lib: ['es2023'],
          types: ['node'],
          typeRoots: [join(root, 'node_modules/@types')],
          // lifeguard/otel's declarations import the optional peer's types, as a user's install has them.
          paths: { '@opentelemetry/api': [join(root, 'node_modules/@opentelemetry/api/build/src/index.d.ts')] },
        },
        files: ['consumer.ts'],
      }),
    );
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    const check = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
    assert.equal(check.status, 0, `the published declarations do not type-check:\n${check.stdout}${check.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
