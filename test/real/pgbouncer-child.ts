// One application process behind PgBouncer, for test/real/pgbouncer.test.ts: the compiled lifeguard
// (build/src), a pool of 10 with `pgbouncer: 'transaction'` and prePing, and 20 workers running
// queries, named prepared statements and transactions as fast as they can until the parent says stop.
//
// IPC, parent → child: { type: 'mark', id, at } (PgBouncer came back at `at`, epoch ms) and { type: 'stop' }.
// Child → parent: { type: 'ready' } after its first success; { type: 'recovered', id, ms, failed } at the
// first request that started after a mark and succeeded; { type: 'done', ok, failed, errors, checkedOut, stats }
// after its pool is closed. Then it disconnects and must exit by itself: a leaked socket or timer
// would keep it alive.
import type pg from 'pg';
import { createPool } from '../../src/index.js';

const url = process.argv[2];
if (url === undefined) throw new Error('usage: pgbouncer-child <url>');

const WORKERS = 20;
const now = (): number => performance.timeOrigin + performance.now();
const send = (message: unknown): void => { process.send?.(message); };
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

const pool = await createPool<pg.Client>(url, {
  poolSize: 10,
  maxOverflow: 0,
  prePing: true,
  pgbouncer: 'transaction',
  timeout: 10_000,
  connectTimeout: 2000,
  logger: quiet,
});

let running = true;
let ok = 0;
let failed = 0;
const errors: string[] = [];
let ready = false;
interface Mark { id: number; at: number; failed: number }
let marks: Mark[] = [];

process.on('message', (message: { type: string; id?: number; at?: number }) => {
  if (message.type === 'mark') marks.push({ id: message.id ?? 0, at: message.at ?? now(), failed: 0 });
  if (message.type === 'stop') running = false;
});

async function request(worker: number, round: number): Promise<void> {
  const pc = await pool.connect();
  try {
    const client = pc.connection;
    switch (round % 3) {
      case 0: {
        const result = await client.query<{ n: number }>('SELECT $1::int AS n', [worker]);
        if (result.rows[0]?.n !== worker) throw new Error('wrong answer');
        break;
      }
      case 1: {
        // A named prepared statement: behind transaction pooling only lifeguard's unnaming makes it work.
        const result = await client.query<{ n: number }>({ name: 'lg_child_plus_one', text: 'SELECT $1::int + 1 AS n', values: [worker] });
        if (result.rows[0]?.n !== worker + 1) throw new Error('wrong answer');
        break;
      }
      default: {
        await client.query('BEGIN');
        const result = await client.query<{ n: string }>('SELECT txid_current()::text AS n');
        if (result.rows[0]?.n === undefined) throw new Error('no txid');
        await client.query('COMMIT');
      }
    }
  } finally {
    await pc.close();
  }
}

async function worker(index: number): Promise<void> {
  for (let round = index; running; round++) {
    const started = now();
    try {
      await request(index, round);
      ok++;
      if (!ready) {
        ready = true;
        send({ type: 'ready' });
      }
      const finished = now();
      const recovered = marks.filter((mark) => started >= mark.at);
      if (recovered.length > 0) {
        marks = marks.filter((mark) => started < mark.at);
        for (const mark of recovered) send({ type: 'recovered', id: mark.id, ms: finished - mark.at, failed: mark.failed });
      }
    } catch (error) {
      failed++;
      for (const mark of marks) mark.failed++;
      if (errors.length < 10) errors.push(error instanceof Error ? error.message : String(error));
      // Do not spin while PgBouncer is down.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

await Promise.all(Array.from({ length: WORKERS }, (_, index) => worker(index)));
const checkedOutBeforeClose = pool.checkedOut();
await pool.close();
const stats = pool.stats();
send({ type: 'done', ok, failed, errors, checkedOut: checkedOutBeforeClose, stats: { idle: stats.idle, used: stats.used, connecting: stats.connecting } });
process.disconnect();
