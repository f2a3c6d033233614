// lifeguard behind a real PgBouncer 1.18 in transaction pooling (SPEC section 14, README "Behind
// PgBouncer"): three processes with a pool of 10 each share 4 server connections under load with no
// failed request; each recovers within 1 s of PgBouncer coming back (admin console RECONNECT, KILL +
// RESUME, a process restart) with prePing; named prepared statements work with `pgbouncer:
// 'transaction'` and fail as PostgreSQL says without it; the option's ArgumentErrors; Drizzle's named
// prepared queries through PgPool; and what transaction pooling breaks (SET, advisory locks, LISTEN,
// temp tables, startup parameters), shown on the real thing.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import { sql as dsql } from 'drizzle-orm';
import { ArgumentError, createPool, QueuePool } from '../../src/index.js';
import { pgDialect, PgPool } from '../../src/drivers/pg/index.js';
import type { PgPoolClient } from '../../src/drivers/pg/index.js';
import { describeOnPgBouncer, startPgBouncer, withPgClient } from '../support/pgbouncer.js';
import type { PgBouncer } from '../support/pgbouncer.js';
import { quietLogger, waitFor } from './contract.js';

const CHILD = fileURLToPath(new URL('./pgbouncer-child.js', import.meta.url));
const now = (): number => performance.timeOrigin + performance.now();

interface Done { ok: number; failed: number; errors: string[]; checkedOut: number; stats: { idle: number; used: number; connecting: number } }
interface Recovered { id: number; ms: number; failed: number }

/** One child process running lifeguard's pool against `url`, and what it reported. */
class App {
  readonly child: ChildProcess;
  ready = false;
  done: Done | undefined;
  exitCode: number | null | undefined;
  readonly recovered = new Map<number, Recovered>();

  constructor(url: string) {
    this.child = fork(CHILD, [url], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (message: { type: string } & Partial<Done & Recovered>) => {
      if (message.type === 'ready') this.ready = true;
      if (message.type === 'recovered') this.recovered.set(message.id ?? -1, message as Recovered);
      if (message.type === 'done') this.done = message as unknown as Done;
    });
    this.child.on('exit', (code) => { this.exitCode = code; });
  }

  mark(id: number, at: number): void {
    this.child.send({ type: 'mark', id, at });
  }

  /** Asks it to stop, and waits for its report and its own exit. */
  async stop(): Promise<Done> {
    if (this.child.connected) this.child.send({ type: 'stop' });
    const exited = await waitFor(() => this.exitCode !== undefined, 15_000);
    if (!exited) this.child.kill('SIGKILL');
    assert.ok(exited, 'the child exits by itself once its pool is closed (nothing left open)');
    assert.equal(this.exitCode, 0);
    assert.ok(this.done !== undefined, 'the child reported');
    return this.done;
  }
}

async function startApps(url: string, count: number): Promise<App[]> {
  const apps = Array.from({ length: count }, () => new App(url));
  assert.ok(await waitFor(() => apps.every((app) => app.ready || app.exitCode !== undefined), 20_000), 'every child ran a request');
  assert.ok(apps.every((app) => app.ready), 'every child is running');
  return apps;
}

/** Marks PgBouncer's return in every child and waits for each one's first success after it. */
async function recoveries(apps: App[], id: number, at: number): Promise<Recovered[]> {
  for (const app of apps) app.mark(id, at);
  assert.ok(await waitFor(() => apps.every((app) => app.recovered.has(id)), 10_000), `every child recovered (mark ${id})`);
  return apps.map((app) => app.recovered.get(id) as Recovered);
}


/** Connected clients to `url`, ended by `after`. */
function clients(url: string): { open(): Promise<pg.Client>; endAll(): Promise<void> } {
  const opened: pg.Client[] = [];
  return {
    open: async () => {
      const client = new pg.Client({ connectionString: url });
      client.on('error', () => {});
      await client.connect();
      opened.push(client);
      return client;
    },
    endAll: async () => { await Promise.all(opened.splice(0).map((client) => client.end().catch(() => {}))); },
  };
}

await describeOnPgBouncer('lifeguard', (target) => {
  describe('three processes on one PgBouncer pool of 4', () => {
    let bouncer: PgBouncer;
    before(async () => { bouncer = await startPgBouncer(target, { poolSize: 4 }); });
    after(() => bouncer.stop());

    it('3 x a pool of 10 under load for 3 s: no failed request, the server never sees more than 4', async () => {
      let sampling = true;
      let most = 0;
      let samples = 0;
      const sampler = (async () => {
        while (sampling) {
          most = Math.max(most, await bouncer.serverConnections());
          samples++;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      const apps = await startApps(bouncer.url, 3);
      // The workload's length, not a synchronisation: the children run flat out meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const reports = await Promise.all(apps.map((app) => app.stop()));
      sampling = false;
      await sampler;
      console.log(`    3 processes: ${reports.map((r) => r.ok).join(' / ')} requests, ${reports.map((r) => r.failed).join(' / ')} failed; at most ${most} server connections in ${samples} samples`);
      for (const report of reports) {
        assert.equal(report.failed, 0, `no failed request (${report.errors.join('; ')})`);
        assert.ok(report.ok > 30, `the child ran requests (${report.ok})`);
        assert.equal(report.checkedOut, 0);
        assert.deepEqual(report.stats, { idle: 0, used: 0, connecting: 0 });
      }
      assert.ok(samples >= 10, `the sampler ran (${samples} samples)`);
      assert.ok(most >= 1 && most <= 4, `PgBouncer's server connections: at most 4, saw ${most}`);
    });

    it('admin console RECONNECT, then KILL + RESUME: every process recovers within 1 s with prePing', async () => {
      const apps = await startApps(bouncer.url, 3);
      try {
        await bouncer.admin('RECONNECT lg');
        const afterReconnect = await recoveries(apps, 1, now());
        await bouncer.admin('KILL lg');
        await bouncer.admin('RESUME lg');
        const afterKill = await recoveries(apps, 2, now());
        console.log(`    RECONNECT: recovered after ${afterReconnect.map((r) => r.ms.toFixed(1)).join(' / ')} ms (${afterReconnect.map((r) => r.failed).join(' / ')} failed)`);
        console.log(`    KILL + RESUME: recovered after ${afterKill.map((r) => r.ms.toFixed(1)).join(' / ')} ms (${afterKill.map((r) => r.failed).join(' / ')} failed before)`);
        for (const r of afterReconnect) {
          assert.ok(r.ms < 1000, `RECONNECT: recovered in ${r.ms} ms`);
          assert.equal(r.failed, 0, 'RECONNECT closes server connections between transactions: no client notices');
        }
        for (const r of afterKill) assert.ok(r.ms < 1000, `KILL + RESUME: recovered in ${r.ms} ms`);
      } finally {
        const reports = await Promise.all(apps.map((app) => app.stop()));
        for (const report of reports) assert.equal(report.checkedOut, 0);
      }
    });

    it('a PgBouncer process restart on the same port: every process recovers within 1 s with prePing', async () => {
      const apps = await startApps(bouncer.url, 3);
      try {
        const killedAt = now();
        await bouncer.kill();
        await bouncer.start();
        const backAt = now();
        const afterRestart = await recoveries(apps, 3, backAt);
        console.log(`    process restart (down ${(backAt - killedAt).toFixed(0)} ms): recovered ${afterRestart.map((r) => r.ms.toFixed(1)).join(' / ')} ms after it answered (${afterRestart.map((r) => r.failed).join(' / ')} failed meanwhile)`);
        for (const r of afterRestart) assert.ok(r.ms < 1000, `recovered in ${r.ms} ms`);
      } finally {
        const reports = await Promise.all(apps.map((app) => app.stop()));
        for (const report of reports) assert.equal(report.checkedOut, 0);
      }
    });
  });

  describe('named prepared statements (a PgBouncer pool of 2)', () => {
    let bouncer: PgBouncer;
    before(async () => { bouncer = await startPgBouncer(target, { poolSize: 2 }); });
    after(() => bouncer.stop());

    /**
     * The trap, made deterministic with 2 server connections: `a` prepares `q` on one server
     * connection, `holder1`/`holder2` keep transactions open so that `a`'s next bind lands on the
     * other one. Returns each step's outcome.
     */
    async function trap(a: pg.Client, holder1: pg.Client, holder2: pg.Client, name: string): Promise<unknown[]> {
      const outcomes: unknown[] = [];
      const named = { name, text: 'SELECT $1::int * 2 AS n', values: [21] };
      await holder1.query('BEGIN'); // holds server connection 1
      outcomes.push((await a.query<{ n: number }>(named)).rows[0]?.n); // parses on server connection 2
      await holder2.query('BEGIN'); // holds server connection 2
      await holder1.query('COMMIT'); // frees server connection 1
      try {
        outcomes.push((await a.query<{ n: number }>(named)).rows[0]?.n); // lands on server connection 1
      } finally {
        await holder2.query('COMMIT');
      }
      return outcomes;
    }

    it("plain pg and lifeguard's default mode: PostgreSQL's own 'does not exist' / 'already exists' reach the caller", async () => {
      const a = new pg.Client({ connectionString: bouncer.url });
      const h1 = new pg.Client({ connectionString: bouncer.url });
      const h2 = new pg.Client({ connectionString: bouncer.url });
      for (const client of [a, h1, h2]) client.on('error', () => {});
      await Promise.all([a.connect(), h1.connect(), h2.connect()]);
      try {
        await assert.rejects(trap(a, h1, h2, 'lg_trap_plain'), /prepared statement "lg_trap_plain" does not exist/);
        // The other half: with one server connection held, `a` and then `h2` (which never parsed the name) both
        // land on the other one, where `a` left it: pg sends `h2`'s Parse, and PostgreSQL refuses it.
        const named = { name: 'lg_trap_other', text: 'SELECT $1::int * 2 AS n', values: [21] };
        await h1.query('BEGIN');
        try {
          assert.equal((await a.query<{ n: number }>(named)).rows[0]?.n, 42);
          await assert.rejects(h2.query(named), /prepared statement "lg_trap_other" already exists/);
        } finally {
          await h1.query('COMMIT');
        }
      } finally {
        await Promise.all([a, h1, h2].map((client) => client.end().catch(() => {})));
      }

      // lifeguard without the option leaves pg's behaviour as it is.
      const pool = await createPool<pg.Client>(bouncer.url, { poolSize: 3, logger: quietLogger });
      try {
        const [pa, p1, p2] = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
        await assert.rejects(trap(pa.connection, p1.connection, p2.connection, 'lg_trap_default'), /prepared statement "lg_trap_default" does not exist/);
        await Promise.all([pa.close(), p1.close(), p2.close()]);
      } finally {
        await pool.close();
      }
    });

    it("createPool with pgbouncer: 'transaction' runs them unnamed: the same sequence works", async () => {
      const pool = await createPool<pg.Client>(bouncer.url, { poolSize: 3, pgbouncer: 'transaction', prePing: true, logger: quietLogger });
      try {
        const [pa, p1, p2] = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
        assert.deepEqual(await trap(pa.connection, p1.connection, p2.connection, 'lg_trap_fixed'), [42, 42]);
        // The "already exists" sequence: one server connection held, two clients parse the same name.
        await p1.connection.query('BEGIN');
        const other = { name: 'lg_trap_fixed_other', text: 'SELECT $1::int * 2 AS n', values: [21] };
        assert.equal((await pa.connection.query<{ n: number }>(other)).rows[0]?.n, 42);
        assert.equal((await p2.connection.query<{ n: number }>(other)).rows[0]?.n, 42);
        await p1.connection.query('COMMIT');
        // Many clients, one name, at once: no "already exists" either.
        const results = await Promise.all([pa, p1, p2].map((pc) => pc.connection.query<{ n: number }>({ name: 'lg_trap_fixed', text: 'SELECT $1::int * 2 AS n', values: [5] })));
        assert.deepEqual(results.map((result) => result.rows[0]?.n), [10, 10, 10]);
        // A pg.Query object (a Submittable) with a name too.
        const submitted = await new Promise<number | undefined>((resolve, reject) => {
          const query = new pg.Query({ name: 'lg_trap_fixed', text: 'SELECT $1::int * 2 AS n', values: [4] });
          query.on('row', (row: { n: number }) => { resolve(row.n); });
          query.on('error', reject);
          pa.connection.query(query);
        });
        assert.equal(submitted, 8);
        await Promise.all([pa.close(), p1.close(), p2.close()]);
        assert.equal(pool.checkedOut(), 0);
      } finally {
        await pool.close();
      }
    });

    it("PgPool with pgbouncer: 'transaction' under Drizzle (named prepared queries): query and transaction", async () => {
      const pool = new PgPool({ connectionString: bouncer.url, max: 5, pgbouncer: 'transaction', prePing: true, logger: quietLogger });
      const db = drizzle({ client: pool as unknown as pg.Pool });
      try {
        const prepared = db.execute(dsql`SELECT 1 AS n`);
        assert.equal(Number((await prepared).rows[0]?.n), 1);
        // Drizzle sends `name` for a prepared query; run it from many callers at once across the 2 server connections.
        const table = `lg_pgb_drizzle_${process.pid}`;
        await db.execute(dsql.raw(`CREATE TABLE IF NOT EXISTS ${table} (v int)`));
        const { integer, pgTable } = await import('drizzle-orm/pg-core');
        const t = pgTable(table, { v: integer('v') });
        const byValue = db.select().from(t).where(dsql`${t.v} = ${dsql.placeholder('v')}`).prepare('lg_drizzle_by_value');
        await db.transaction(async (tx) => {
          await tx.insert(t).values([{ v: 1 }, { v: 2 }, { v: 3 }]);
        });
        await assert.rejects(db.transaction(async (tx) => {
          await tx.insert(t).values({ v: 99 });
          throw new Error('roll back');
        }), /roll back/);
        const found = await Promise.all(Array.from({ length: 30 }, (_, i) => byValue.execute({ v: (i % 4) + 1 })));
        assert.deepEqual(found.map((rows) => rows.length), Array.from({ length: 30 }, (_, i) => (i % 4 === 3 ? 0 : 1)));
        assert.equal((await db.select().from(t)).length, 3, 'the rolled-back insert is gone');
        await db.execute(dsql.raw(`DROP TABLE ${table}`));
        assert.equal(pool.pool.checkedOut(), 0);
      } finally {
        await pool.end();
      }
    });
  });

  describe('the option', () => {
    it("pgbouncer: 'transaction' with a session reset is an ArgumentError naming both options", async () => {
      await assert.rejects(createPool('postgres://u@127.0.0.1:1/db', { pgbouncer: 'transaction', dialectOptions: { sessionReset: 'discard-all' } }),
        (error: unknown) => error instanceof ArgumentError && /'pgbouncer/.test(error.message) && /'dialectOptions\.sessionReset'/.test(error.message));
      assert.throws(() => new PgPool({ pgbouncer: 'transaction', sessionReset: true }),
        (error: unknown) => error instanceof ArgumentError && /'pgbouncer/.test(error.message) && /'sessionReset'/.test(error.message));
      assert.throws(() => pgDialect({ pgbouncer: 'transaction', sessionReset: 'keep-prepared' }), ArgumentError);
      // Session pooling keeps the session: a reset is the caller's choice there.
      const session = new PgPool({ pgbouncer: 'session', sessionReset: 'discard-all' });
      await session.end();
    });

    it('other values, other schemes and a dialect of your own are ArgumentErrors naming pgbouncer', async () => {
      await assert.rejects(createPool('postgres://u@127.0.0.1:1/db', { pgbouncer: 'statement' as never }), (error: unknown) => error instanceof ArgumentError && /'pgbouncer'/.test(error.message));
      assert.throws(() => new PgPool({ pgbouncer: true as never }), (error: unknown) => error instanceof ArgumentError && /'pgbouncer'/.test(error.message));
      await assert.rejects(createPool('mysql://root@127.0.0.1:1/db', { pgbouncer: 'transaction' }), (error: unknown) => error instanceof ArgumentError && /'pgbouncer'/.test(error.message));
      await assert.rejects(createPool('sqlite::memory:', { pgbouncer: 'session' }), (error: unknown) => error instanceof ArgumentError && /'pgbouncer'/.test(error.message));
      const existing = new QueuePool<PgPoolClient>({ creator: () => Promise.reject(new Error('unused')), dialect: pgDialect<PgPoolClient>() });
      assert.throws(() => PgPool.from(existing, { pgbouncer: 'transaction' }), (error: unknown) => error instanceof ArgumentError && /'pgbouncer'/.test(error.message));
      await existing.close();
      await assert.rejects(createPool('postgres://u@127.0.0.1:1/db', { pgbouncer: 'transaction', dialect: pgDialect() }), (error: unknown) => error instanceof ArgumentError && /'pgbouncer'/.test(error.message) && /'dialect'/.test(error.message));
    });
  });

  describe('what transaction pooling breaks (a PgBouncer pool of 1 or 2)', () => {
    let one: PgBouncer;
    let two: PgBouncer;
    before(async () => {
      one = await startPgBouncer(target, { poolSize: 1 });
      two = await startPgBouncer(target, { poolSize: 2 });
    });
    after(async () => {
      await one.stop();
      await two.stop();
    });

    it('SET without LOCAL leaks into other clients; SET LOCAL does not', async () => {
      const other = clients(one.url);
      try {
        const a = await other.open();
        const b = await other.open();
        await a.query("SET statement_timeout = '4321ms'");
        assert.equal((await b.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0]?.statement_timeout, '4321ms', "b sees a's setting");
        await a.query('RESET statement_timeout');
        await a.query('BEGIN');
        await a.query("SET LOCAL statement_timeout = '1234ms'");
        assert.equal((await a.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0]?.statement_timeout, '1234ms');
        await a.query('COMMIT');
        assert.equal((await b.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0]?.statement_timeout, '0', 'SET LOCAL ended with the transaction');
      } finally {
        await other.endAll();
      }
    });

    it('session advisory locks belong to the server connection (another client gets the same lock); xact locks exclude', async () => {
      const key = 4_000_000 + (process.pid % 1_000_000);
      const on1 = clients(one.url);
      const on2 = clients(two.url);
      try {
        const a = await on1.open();
        const b = await on1.open();
        assert.equal((await a.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [key])).rows[0]?.ok, true);
        assert.equal((await b.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [key])).rows[0]?.ok, true, 'b "gets" the lock a holds: same server session');
        await a.query('SELECT pg_advisory_unlock_all()');
        const c = await on2.open();
        const d = await on2.open();
        await c.query('BEGIN');
        assert.equal((await c.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [key])).rows[0]?.ok, true);
        assert.equal((await d.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [key])).rows[0]?.ok, false, 'the transaction-scoped lock excludes d');
        await c.query('COMMIT');
        assert.equal((await d.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [key])).rows[0]?.ok, true, 'released at COMMIT');
      } finally {
        await on1.endAll();
        await on2.endAll();
      }
    });

    it('temp tables belong to the server connection: another client sees them', async () => {
      const on1 = clients(one.url);
      try {
        const a = await on1.open();
        const b = await on1.open();
        await a.query('CREATE TEMP TABLE lg_pgb_temp (v int)');
        await a.query('INSERT INTO lg_pgb_temp VALUES (7)');
        assert.deepEqual((await b.query<{ v: number }>('SELECT v FROM lg_pgb_temp')).rows, [{ v: 7 }], "b reads a's temp table");
        await a.query('DROP TABLE lg_pgb_temp');
      } finally {
        await on1.endAll();
      }
    });

    it('LISTEN: the notification never reaches the listening client (PgBouncer drops it, or a bystander gets it)', async () => {
      const on1 = clients(one.url);
      const straight = clients(target.url);
      try {
        const listener = await on1.open();
        const bystander = await on1.open();
        const control = await straight.open();
        const heard: string[] = [];
        listener.on('notification', (n) => { heard.push(`listener:${n.payload ?? ''}`); });
        bystander.on('notification', (n) => { heard.push(`bystander:${n.payload ?? ''}`); });
        control.on('notification', (n) => { heard.push(`direct:${n.payload ?? ''}`); });
        await listener.query('LISTEN lg_pgb_channel');
        await control.query('LISTEN lg_pgb_channel');
        await withPgClient(target.url, (client) => client.query("NOTIFY lg_pgb_channel, 'hello'"));
        assert.ok(await waitFor(() => heard.includes('direct:hello'), 5000), 'a direct connection hears it');
        // The server sends it to the listening backend too: when no client is linked to that server connection
        // PgBouncer drops it ("got packet 'A' from server when not linked"); when one is, that client gets it.
        // Any later round trip on the listener would have carried it.
        await bystander.query('SELECT 1');
        await listener.query('SELECT 1');
        assert.ok(!heard.includes('listener:hello'), `the listener never hears it (heard: ${heard.join(', ')})`);
        assert.deepEqual(heard.filter((entry) => entry !== 'bystander:hello'), ['direct:hello']);
        console.log(`    LISTEN behind PgBouncer: ${heard.includes('bystander:hello') ? 'the bystander got it' : 'dropped'}`);
        await listener.query('UNLISTEN *');
      } finally {
        await on1.endAll();
        await straight.endAll();
      }
    });

    it("startup parameters such as pg's statement_timeout are refused by PgBouncer", async () => {
      await assert.rejects(withPgClient(one.url, (client) => client.query('SELECT 1'), { statement_timeout: 1000 }), /unsupported startup parameter: statement_timeout/);
      const pool = await createPool<pg.Client>(one.url, { pgbouncer: 'transaction', connectOptions: { statement_timeout: 1000 }, logger: quietLogger });
      try {
        await assert.rejects(pool.connect(), /unsupported startup parameter: statement_timeout/);
        assert.equal(pool.checkedOut(), 0);
      } finally {
        await pool.close();
      }
    });
  });
}, { timeout: 120_000 });
