/** Helpers for the embedded-server tests: private folders, fake binary directories, a query. */
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import pg from 'pg';

/** Whether the tests run as root (in CI they do): the root-only paths are checked only then. */
export const asRoot = process.getuid?.() === 0;

/** A new folder only its owner can enter (0700), like `/root` or a `mktemp -d` folder. */
export function privateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lifeguard-private-'));
  chmodSync(dir, 0o700);
  return dir;
}

/** A new folder everyone can enter (0755): a stage root of the test's own, so /tmp keeps no leftovers. */
export function openDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lifeguard-open-'));
  chmodSync(dir, 0o755);
  return dir;
}

/** Fills `dir` with a binary directory: `path → [text, mode]` makes a file, `path → '->target'` a symlink. */
export function fakeBinaries(dir: string, entries: Record<string, readonly [string, number] | `->${string}`>): string {
  for (const [path, spec] of Object.entries(entries)) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    if (typeof spec === 'string') {
      symlinkSync(spec.slice(2), full);
    } else {
      writeFileSync(full, spec[0]);
      chmodSync(full, spec[1]);
    }
  }
  return dir;
}

/** Every entry under `dir`, sorted: relative path → `d:<mode>`, `f:<mode>` or `l:<target>`. */
export function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (current: string): void => {
    for (const name of readdirSync(current).sort()) {
      const path = join(current, name);
      const info = lstatSync(path);
      const rel = relative(dir, path);
      if (info.isSymbolicLink()) {
        out.set(rel, `l:${readlinkSync(path)}`);
      } else if (info.isDirectory()) {
        out.set(rel, `d:${(info.mode & 0o7777).toString(8)}`);
        walk(path);
      } else {
        out.set(rel, `f:${(info.mode & 0o7777).toString(8)}`);
      }
    }
  };
  walk(dir);
  return out;
}

export async function query(url: string, sql: string): Promise<pg.QueryResultRow[]> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}
