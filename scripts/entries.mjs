// The package's entry points: one table, from which scripts/package-entries.mjs writes the CommonJS
// shims and their declarations, and package.json's `exports`, `main`, `types` and `typesVersions`.
// A new subpath (lifeguard/otel, a driver facade) is one line here, then `npm run build`.

/** `subpath` as users import it; `file`: the module under src/ (and dist/), without extension. */
export const ENTRIES = [
  { subpath: '.', file: 'index' },
  { subpath: './pg', file: 'drivers/pg/index' },
  { subpath: './mysql2', file: 'drivers/mysql2/index' },
  { subpath: './mariadb', file: 'drivers/mariadb/index' },
  { subpath: './better-sqlite3', file: 'drivers/better-sqlite3/index' },
  { subpath: './pglite', file: 'drivers/pglite/index' },
  { subpath: './otel', file: 'otel' },
];
