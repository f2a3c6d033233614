/**
 * Staging the PostgreSQL binaries for the `postgres` user when we run as root: made once, safely,
 * and anything else found at the stage's path (a planted symlink, someone else's directory, a
 * writable one, a half-made copy) is replaced, never followed. Staging is root-only; run as another
 * user, these tests say so and are skipped.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkBinaries, EmbeddedPostgresError, stageBinaries, systemUser } from '../../demo/postgres-binaries.js';
import { asRoot, fakeBinaries, openDir, privateDir, tree } from '../support/embedded.js';

const skip = asRoot ? false : 'staging is root-only and these tests do not run as root';

/** A small binary directory, inside a 0700 folder, with the kinds of entries the real one has. */
function sample(home: string): string {
  return fakeBinaries(join(home, 'native'), {
    'bin/initdb': ['#!/bin/sh\nexit 0\n', 0o755],
    'bin/postgres': ['#!/bin/sh\nexit 0\n', 0o4755], // setuid: dropped in the copy
    'lib/libpq.so.5.18': ['library', 0o644],
    'lib/libpq.so.5': '->libpq.so.5.18',
    'lib/libpq.so': '->libpq.so.5',
    'share/zone/Europe/Paris': ['zone', 0o666], // world-writable: not in the copy
    'share/link-to-lib': '->../lib',
  });
}

/** What a correct stage looks like: root-owned, 0755 directories, nothing group/world-writable. */
function assertSafeStage(stage: string, source: string): void {
  const info = lstatSync(stage);
  assert.ok(info.isDirectory() && !info.isSymbolicLink(), `${stage} is a real directory`);
  assert.equal(info.uid, 0);
  assert.equal(info.mode & 0o7777, 0o755);
  assert.ok(readFileSync(join(stage, '.lifeguard-stage-complete'), 'utf8').length > 0, 'the completion marker is there');
  const copied = tree(stage);
  copied.delete('.lifeguard-stage-complete');
  const expected = new Map(
    [...tree(source)].map(([path, kind]) => [path, kind.startsWith('d:') ? 'd:755' : kind.startsWith('f:') ? `f:${(Number.parseInt(kind.slice(2), 8) & 0o755).toString(8)}` : kind]),
  );
  assert.deepEqual(copied, expected, 'same entries; symlinks kept as the same symlinks; modes without write-for-others or setuid');
  for (const [path, kind] of copied) {
    if (kind.startsWith('l:')) continue;
    assert.equal(lstatSync(join(stage, path)).uid, 0, `${path} is root's`);
  }
}

describe('staging the PostgreSQL binaries for the postgres user (root only)', { skip, timeout: 60_000 }, () => {
  it('copies a binary directory from a 0700 folder once, root-owned, 0755, symlinks kept, no writable or setuid file', async () => {
    const home = privateDir();
    const root = openDir();
    try {
      const source = sample(home);
      const stage = await stageBinaries(source, { stageRoot: root });
      assert.ok(!stage.startsWith(home), 'the stage is outside the private folder');
      assertSafeStage(stage, source);
      assert.ok(lstatSync(join(stage, 'lib', 'libpq.so')).isSymbolicLink());
      assert.equal(readFileSync(join(stage, 'lib', 'libpq.so'), 'utf8'), 'library', 'a kept symlink resolves inside the copy');

      // Made once: the next start finds it and copies nothing.
      const inode = lstatSync(join(stage, 'bin', 'initdb')).ino;
      assert.equal(await stageBinaries(source, { stageRoot: root }), stage);
      assert.equal(lstatSync(join(stage, 'bin', 'initdb')).ino, inode);
      // Nothing left behind but the stage itself (no partial copy).
      assert.deepEqual([...tree(root).keys()].filter((path) => !path.includes('/')), [stage.slice(root.length + 1)]);

      // Other binaries (another version) get a stage of their own.
      writeFileSync(join(source, 'bin', 'initdb'), '#!/bin/sh\nexit 1\n# version 2\n');
      const other = await stageBinaries(source, { stageRoot: root });
      assert.notEqual(other, stage);
      assertSafeStage(other, source);
    } finally {
      rmSync(home, { recursive: true, force: true });
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('replaces, never follows or trusts, whatever else is at the stage path', async () => {
    const home = privateDir();
    const root = openDir();
    const postgres = await systemUser('postgres');
    try {
      const source = sample(home);
      const stage = await stageBinaries(source, { stageRoot: root });
      const marker = readFileSync(join(stage, '.lifeguard-stage-complete'), 'utf8');

      // 1. A symlink planted at the path, to a directory of the attacker's: replaced, the target untouched.
      const victim = join(home, 'victim');
      mkdirSync(victim);
      writeFileSync(join(victim, 'keep'), 'mine');
      rmSync(stage, { recursive: true });
      symlinkSync(victim, stage);
      assert.equal(await stageBinaries(source, { stageRoot: root }), stage);
      assertSafeStage(stage, source);
      assert.deepEqual([...tree(victim).keys()], ['keep'], 'nothing was written through the symlink');

      // 2. A complete-looking stage owned by another user: replaced by root's own.
      rmSync(stage, { recursive: true });
      mkdirSync(join(stage, 'bin'), { recursive: true });
      writeFileSync(join(stage, 'bin', 'initdb'), '#!/bin/sh\necho planted\n');
      writeFileSync(join(stage, '.lifeguard-stage-complete'), marker);
      chmodSync(stage, 0o755);
      chownSync(stage, postgres.uid, postgres.gid);
      await stageBinaries(source, { stageRoot: root });
      assertSafeStage(stage, source);

      // 3. Root's, but group- or world-writable: replaced.
      for (const mode of [0o775, 0o757]) {
        chmodSync(stage, mode);
        await stageBinaries(source, { stageRoot: root });
        assertSafeStage(stage, source);
      }

      // 4. A marker that is not root's, or is writable by others: replaced.
      chownSync(join(stage, '.lifeguard-stage-complete'), postgres.uid, postgres.gid);
      await stageBinaries(source, { stageRoot: root });
      assertSafeStage(stage, source);

      // 5. Half a copy (no completion marker), as an interrupted copy would leave: redone.
      rmSync(join(stage, '.lifeguard-stage-complete'));
      rmSync(join(stage, 'share'), { recursive: true });
      await stageBinaries(source, { stageRoot: root });
      assertSafeStage(stage, source);

      // 6. A plain file at the path: replaced.
      rmSync(stage, { recursive: true });
      writeFileSync(stage, 'not a directory');
      await stageBinaries(source, { stageRoot: root });
      assertSafeStage(stage, source);
    } finally {
      rmSync(home, { recursive: true, force: true });
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('copies what a symlink pointing outside the binary directory points to, as a plain file', async () => {
    const home = privateDir();
    const root = openDir();
    try {
      writeFileSync(join(home, 'outside.conf'), 'outside');
      const source = fakeBinaries(join(home, 'native'), {
        'bin/initdb': ['#!/bin/sh\n', 0o755],
        'bin/postgres': ['#!/bin/sh\n', 0o755],
        'share/outside.conf': `->${join(home, 'outside.conf')}`,
      });
      const stage = await stageBinaries(source, { stageRoot: root });
      const copy = lstatSync(join(stage, 'share', 'outside.conf'));
      assert.ok(copy.isFile(), 'not a link back into the private folder');
      assert.equal(readFileSync(join(stage, 'share', 'outside.conf'), 'utf8'), 'outside');
    } finally {
      rmSync(home, { recursive: true, force: true });
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses a world-writable stage root without the sticky bit', async () => {
    const home = privateDir();
    const root = openDir();
    try {
      chmodSync(root, 0o777);
      await assert.rejects(stageBinaries(sample(home), { stageRoot: root }), (error: unknown) => {
        assert.ok(error instanceof EmbeddedPostgresError);
        assert.equal(error.reason, 'stage');
        assert.match(error.message, /world-writable without the sticky bit/);
        return true;
      });
      assert.equal(tree(root).size, 0, 'nothing was copied there');
    } finally {
      rmSync(home, { recursive: true, force: true });
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('checking a binary directory', () => {
  it('names a missing binary, and library symlinks missing because the install script did not run', async () => {
    const home = privateDir();
    try {
      const empty = fakeBinaries(join(home, 'empty'), { 'share/x': ['', 0o644] });
      await assert.rejects(checkBinaries(empty), (error: unknown) => {
        assert.ok(error instanceof EmbeddedPostgresError);
        assert.equal(error.reason, 'binaries');
        assert.match(error.message, /^embedded PostgreSQL did not start: there is no PostgreSQL binary at .*initdb \(ENOENT\)\. Reinstall/);
        return true;
      });
      const unhydrated = fakeBinaries(join(home, 'native'), {
        'bin/initdb': ['#!/bin/sh\n', 0o755],
        'bin/postgres': ['#!/bin/sh\n', 0o755],
        'lib/libpq.so.5.18': ['library', 0o644],
        'pg-symlinks.json': [JSON.stringify([{ source: 'native/lib/libpq.so.5.18', target: 'native/lib/libpq.so.5' }]), 0o644],
      });
      await assert.rejects(checkBinaries(unhydrated), (error: unknown) => {
        assert.ok(error instanceof EmbeddedPostgresError);
        assert.equal(error.reason, 'binaries');
        assert.match(error.message, /lack their symlinks .* install script .* allowScripts/);
        return true;
      });
      symlinkSync('libpq.so.5.18', join(unhydrated, 'lib', 'libpq.so.5'));
      await checkBinaries(unhydrated);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
