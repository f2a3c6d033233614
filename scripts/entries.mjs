// The package's entry points: one table, from which scripts/package-entries.mjs writes the CommonJS
// shims and their declarations, and package.json's `exports`, `main`, `types` and `typesVersions`.
// A new subpath (lifeguard/otel, a driver facade) is one line here, then `npm run build`.

/** `subpath` as users import it; `file`: the module under src/ (and dist/), without extension. */
export const ENTRIES = [
  { subpath: '.', file: 'index' },
  { subpath: './pg', file: 'dialects/pg' },
  { subpath: './mysql2', file: 'dialects/mysql2' },
  { subpath: './mariadb', file: 'dialects/mariadb' },
  { subpath: './better-sqlite3', file: 'dialects/better-sqlite3' },
  { subpath: './pglite', file: 'dialects/pglite' },
  { subpath: './otel', file: 'otel' },
];
