/** The embedded PostgreSQL launcher the demo and the server tests use. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import pg from 'pg';
import { freePort, startEmbeddedPostgres } from '../../demo/embedded-postgres.js';

async function query(url: string, sql: string): Promise<pg.QueryResultRow[]> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('startEmbeddedPostgres', () => {
  it('starts a server on 127.0.0.1, restarts it with its data, and removes everything on stop', async () => {
    const server = await startEmbeddedPostgres();
    let dataDir = '';
    // A getter, read fresh each time (assert.equal would narrow a plain property read).
    const running = (): boolean => server.running;
    try {
      assert.match(server.url, /^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/postgres$/);
      assert.equal(running(), true);
      const [row] = await query(server.url, "SELECT current_setting('data_directory') AS dir, version() AS version");
      dataDir = String(row?.dir);
      assert.match(String(row?.version), /^PostgreSQL 18/);
      await query(server.url, 'CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)');

      // A session open across the restart dies with it.
      const client = new pg.Client({ connectionString: server.url });
      client.on('error', () => {});
      await client.connect();
      await server.stopServer();
      assert.equal(running(), false);
      await assert.rejects(query(server.url, 'SELECT 1'), /ECONNREFUSED/);
      await assert.rejects(client.query('SELECT 1'));
      await server.startServer();
      assert.equal(running(), true);
      assert.deepEqual(await query(server.url, 'SELECT x FROM kept'), [{ x: 42 }]);
      await client.end().catch(() => undefined);
    } finally {
      await server.stop();
    }
    assert.equal(running(), false);
    assert.ok(dataDir !== '' && !existsSync(dataDir), 'the data directory is removed');
    await server.stop(); // idempotent
    await assert.rejects(server.startServer(), /stopped for good/);
  });

  it('uses the port it is given', async () => {
    const port = await freePort();
    const server = await startEmbeddedPostgres({ port });
    try {
      assert.equal(server.port, port);
      assert.deepEqual(await query(server.url, 'SELECT 1 AS one'), [{ one: 1 }]);
    } finally {
      await server.stop();
    }
  });
});
