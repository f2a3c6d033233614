// After tsc: gives every entry point a CommonJS face, and keeps package.json's entry fields in step
// with scripts/entries.mjs.
//
// lifeguard ships one runtime copy: the ES modules in dist/. A CommonJS entry
// (dist/cjs/<entry>.cjs) is one line, `module.exports = require('<the ES module>')`, which Node
// (>= 20.19) serves from the same module instance an `import` gets, so `instanceof` holds across
// both (no dual-package hazard). TypeScript needs CommonJS-format declarations for `require`
// (node16 refuses to let a `.d.cts` re-export an ES module), so dist/cjs/ holds a `.d.cts` copy of
// every declaration, with its relative imports pointing at the copies.
//
//   node scripts/package-entries.mjs          write dist/cjs and package.json's entry fields
//   node scripts/package-entries.mjs --check  exit 1 if package.json's entry fields are stale
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENTRIES } from './entries.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const cjs = join(dist, 'cjs');

/** package.json's entry fields, as the table says they must be. */
function entryFields() {
  const exports = {};
  const typesVersions = {};
  for (const { subpath, file } of ENTRIES) {
    exports[subpath] = {
      import: { types: `./dist/${file}.d.ts`, default: `./dist/${file}.js` },
      require: { types: `./dist/cjs/${file}.d.cts`, default: `./dist/cjs/${file}.cjs` },
    };
    if (subpath !== '.') typesVersions[subpath.slice(2)] = [`./dist/cjs/${file}.d.cts`];
  }
  exports['./package.json'] = './package.json';
  const main = ENTRIES.find((entry) => entry.subpath === '.');
  return {
    main: `./dist/cjs/${main.file}.cjs`,
    types: `./dist/cjs/${main.file}.d.cts`,
    exports,
    typesVersions: { '*': typesVersions },
  };
}

function declarations(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (path === cjs) continue;
    if (statSync(path).isDirectory()) out.push(...declarations(path));
    else if (name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** `./x.js` -> `./x.cjs` in relative import/export specifiers and `import('./x.js')` types. */
function toCommonJs(text) {
  return text.replace(/((?:from\s+|import\s*\(\s*)['"])(\.{1,2}\/[^'"]*?)\.js(['"])/g, '$1$2.cjs$3');
}

function writeCommonJs() {
  rmSync(cjs, { recursive: true, force: true });
  for (const path of declarations(dist)) {
    const target = join(cjs, relative(dist, path)).replace(/\.d\.ts$/, '.d.cts');
    mkdirSync(dirname(target), { recursive: true });
    // A declaration map would point at the ES declaration's source lines from the wrong file: drop it.
    const text = toCommonJs(readFileSync(path, 'utf8')).replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n');
    writeFileSync(target, text);
  }
  for (const { file } of ENTRIES) {
    const target = join(cjs, `${file}.cjs`);
    const esm = relative(dirname(target), join(dist, `${file}.js`)).replaceAll('\\', '/');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, `'use strict';\n// The ES module itself, through Node's require(esm): one copy of every class for import and require.\nmodule.exports = require('${esm.startsWith('.') ? esm : `./${esm}`}');\n`);
  }
}

const pkgPath = join(root, 'package.json');
const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
const want = entryFields();
const stale = Object.keys(want).filter((key) => JSON.stringify(pkg[key]) !== JSON.stringify(want[key]));
if (process.argv.includes('--check')) {
  if (stale.length !== 0) {
    console.error(`package.json: ${stale.join(', ')} out of step with scripts/entries.mjs; run node scripts/package-entries.mjs`);
    process.exit(1);
  }
} else {
  if (stale.length !== 0) {
    // Keep the entry fields together, where `exports` stands.
    const next = {};
    for (const [key, value] of Object.entries(pkg)) {
      if (key === 'exports') Object.assign(next, want);
      else if (!(key in want)) next[key] = value;
    }
    writeFileSync(pkgPath, `${JSON.stringify(next, null, 2)}\n`);
    console.log(`package.json: wrote ${stale.join(', ')}`);
  }
  writeCommonJs();
}
