/**
 * The embedded server as a newcomer starts it: from a clone in a private (0700) folder, which as
 * root means staging the binaries for the `postgres` user; and every way it can fail to start
 * giving one clear EmbeddedPostgresError, never an unhandled 'error' event or a bare stack trace.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, lstatSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join, sep } from 'node:path';
import { describe, it } from 'node:test';
import { EmbeddedPostgresError, startEmbeddedPostgres } from '../../demo/embedded-postgres.js';
import { defaultBinaries } from '../../demo/postgres-binaries.js';
import { asRoot, fakeBinaries, openDir, privateDir, query, tree } from '../support/embedded.js';

function isStartError(reason: EmbeddedPostgresError['reason'], pattern: RegExp): (error: unknown) => true {
  return (error) => {
    assert.ok(error instanceof EmbeddedPostgresError, `an EmbeddedPostgresError, not ${String(error)}`);
    assert.equal(error.name, 'EmbeddedPostgresError');
    assert.equal(error.reason, reason, error.message);
    assert.match(error.message, /^embedded PostgreSQL did not start: /);
    assert.match(error.message, pattern);
    return true;
  };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

describe('the embedded server from a clone in a private folder', { timeout: 90_000 }, () => {
  const title = asRoot
    ? 'as root: binaries inside a 0700 folder are staged for the postgres user; the server starts, answers, and cleans up'
    : 'not root (so this checks the non-root path: binaries run in place, as us): binaries inside a 0700 folder of ours start, answer, and clean up';
  it(title, async (t) => {
    if (!asRoot) t.diagnostic('not running as root: the root path (staging for the postgres user) is not exercised by this run');
    const home = privateDir();
    const stageRoot = openDir();
    try {
      // What a clone in /root or `mktemp -d` looks like: the binaries under a folder only we can enter.
      const binaries = join(home, 'clone', 'node_modules', 'native');
      cpSync(defaultBinaries(), binaries, { recursive: true, verbatimSymlinks: true });
      const server = await startEmbeddedPostgres({ binaries, stageRoot });
      let dataDir = '';
      try {
        const [row] = await query(server.url, "SELECT current_user AS who, current_setting('data_directory') AS dir, 6 * 7 AS answer");
        assert.equal(row?.answer, 42);
        dataDir = String(row.dir);
        assert.ok(existsSync(dataDir));
        if (asRoot) {
          assert.equal(server.runAs, 'postgres');
          assert.ok(server.binaries.startsWith(stageRoot + sep), `runs from a stage outside the private folder: ${server.binaries}`);
          const stage = lstatSync(server.binaries);
          assert.ok(stage.isDirectory() && !stage.isSymbolicLink());
          assert.equal(stage.uid, 0);
          assert.equal(stage.mode & 0o777, 0o755);
          assert.notEqual(statSync(dataDir).uid, 0, 'the data directory is the postgres user’s');
          const links = (dir: string): string[] => [...tree(dir)].filter(([, kind]) => kind.startsWith('l:')).map(([path, kind]) => `${path} ${kind}`);
          assert.deepEqual(links(server.binaries), links(binaries), 'the library symlinks are kept as symlinks');
          for (const [path, kind] of tree(server.binaries)) {
            if (kind.startsWith('l:')) continue;
            assert.equal(Number.parseInt(kind.slice(2), 8) & 0o022, 0, `${path} is not group/world-writable`);
          }
        } else {
          assert.equal(server.runAs, undefined);
          assert.equal(server.binaries, binaries);
        }
      } finally {
        await server.stop();
      }
      assert.equal(server.running, false);
      assert.equal(existsSync(dataDir), false, 'the data directory is removed');
      if (asRoot) assert.ok(existsSync(join(server.binaries, 'bin')), 'the stage stays, for the next start');
    } finally {
      rmSync(home, { recursive: true, force: true });
      rmSync(stageRoot, { recursive: true, force: true });
    }
  });
});

describe('every start failure is one clear EmbeddedPostgresError', { timeout: 60_000 }, () => {
  it('a binary that cannot be executed (initdb without its x bits)', async () => {
    const home = privateDir();
    const stageRoot = openDir();
    try {
      const binaries = fakeBinaries(join(home, 'native'), {
        'bin/initdb': ['#!/bin/sh\nexit 0\n', 0o644],
        'bin/postgres': ['#!/bin/sh\nexit 0\n', 0o755],
      });
      await assert.rejects(
        startEmbeddedPostgres({ binaries, stageRoot }),
        isStartError('spawn', /could not execute \S+initdb.*: permission denied \(EACCES\)\. It must be/),
      );
    } finally {
      rmSync(home, { recursive: true, force: true });
      rmSync(stageRoot, { recursive: true, force: true });
    }
  });

  it('a missing binary', async () => {
    const home = privateDir();
    try {
      const binaries = fakeBinaries(join(home, 'native'), { 'bin/initdb': ['#!/bin/sh\nexit 0\n', 0o755] });
      await assert.rejects(
        startEmbeddedPostgres({ binaries }),
        isStartError('binaries', /there is no PostgreSQL binary at \S+postgres \(ENOENT\)\. Reinstall the dependencies/),
      );
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('initdb failing, with its output', async () => {
    const home = privateDir();
    const stageRoot = openDir();
    try {
      const binaries = fakeBinaries(join(home, 'native'), {
        'bin/initdb': ['#!/bin/sh\necho "initdb: could not find a suitable text search configuration" >&2\nexit 3\n', 0o755],
        'bin/postgres': ['#!/bin/sh\nexit 0\n', 0o755],
      });
      await assert.rejects(
        startEmbeddedPostgres({ binaries, stageRoot }),
        isStartError('initdb', /initdb \(\S+\) failed with exit code 3\..*\nLast server output:\n {2}initdb: could not find a suitable/s),
      );
    } finally {
      rmSync(home, { recursive: true, force: true });
      rmSync(stageRoot, { recursive: true, force: true });
    }
  });

  it('the port taken', async () => {
    const occupier = createServer();
    const port = await listen(occupier);
    try {
      await assert.rejects(
        startEmbeddedPostgres({ port }),
        isStartError('port', new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use\\. Stop what listens there.*\\n.*Address already in use`, 's')),
      );
    } finally {
      await new Promise<void>((resolve) => {
        occupier.close(() => {
          resolve();
        });
      });
    }
  });

  it(
    asRoot ? 'as root, no such system user to run the server as' : 'as root, no such system user to run the server as (not root: skipped)',
    { skip: asRoot ? false : 'not running as root: the server runs as us, no system user is looked up' },
    async () => {
      await assert.rejects(
        startEmbeddedPostgres({ systemUser: 'lifeguard-no-such-user' }),
        isStartError('user', /PostgreSQL refuses to run as root, and there is no 'lifeguard-no-such-user' system user .* Create one \(useradd/),
      );
    },
  );
});
