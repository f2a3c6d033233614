// The loopback fault proxy (test/support/fault-proxy.ts): every mode against a plain echo server,
// its counts and waits, that close() leaves nothing behind, and, through it, real PostgreSQL (pg)
// and MariaDB (mysql2) connects that work in 'pass' and time out in 'blackhole'. Under CI=true an
// unreachable server fails its test; otherwise MariaDB is skipped loudly (PostgreSQL falls back to
// an embedded server, see servers.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { startFaultProxy } from '../support/fault-proxy.js';
import type { FaultMode, FaultProxy } from '../support/fault-proxy.js';
import { describeOnPostgres, whenMysql } from '../support/servers.js';

const WAIT_MS = 5000;
/** How long a negative check ("no reply") listens. Only ever used to show that something does NOT happen. */
const SILENCE_MS = 200;

/** A promise settled by `executor`, or rejected after `ms` by a ref'd timer that is cleared either way. */
function within<T>(ms: number, what: string, executor: (resolve: (value: T) => void, reject: (error: Error) => void) => (() => void) | void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let cleanup: (() => void) | void = undefined;
    const timer = setTimeout(() => { finish(); reject(new Error(`timed out after ${ms} ms waiting for ${what}`)); }, ms);
    const finish = (): void => {
      clearTimeout(timer);
      if (cleanup) cleanup();
    };
    cleanup = executor((value) => { finish(); resolve(value); }, (error) => { finish(); reject(error); });
  });
}

/** A plain echo server on 127.0.0.1 that knows its open sockets. */
class EchoServer {
  readonly sockets = new Set<net.Socket>();
  readonly #events = new EventEmitter();
  readonly server = net.createServer((socket) => {
    this.sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.#events.emit('change');
    });
    socket.pipe(socket);
  });

  static async start(): Promise<EchoServer> {
    const echo = new EchoServer();
    await new Promise<void>((resolve, reject) => {
      echo.server.once('error', reject);
      echo.server.listen(0, '127.0.0.1', () => { resolve(); });
    });
    return echo;
  }

  get port(): number { return (this.server.address() as net.AddressInfo).port; }
  get target(): { host: string; port: number } { return { host: '127.0.0.1', port: this.port }; }

  /** Resolves when the echo server holds no connection. */
  idle(ms = WAIT_MS): Promise<void> {
    return within<void>(ms, `the echo server to drop its ${this.sockets.size} connection(s)`, (resolve) => {
      const check = (): void => { if (this.sockets.size === 0) resolve(); };
      this.#events.on('change', check);
      check();
      return () => { this.#events.off('change', check); };
    });
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise<void>((resolve) => { this.server.close(() => { resolve(); }); });
  }
}

/** A client socket that records what it gets. */
class Client {
  readonly socket: net.Socket;
  readonly #chunks: Buffer[] = [];
  #length = 0;
  error: NodeJS.ErrnoException | undefined;
  closed = false;
  readonly #events = new EventEmitter();

  /** Everything received so far. */
  get received(): Buffer {
    if (this.#chunks.length > 1) this.#chunks.splice(0, this.#chunks.length, Buffer.concat(this.#chunks));
    return this.#chunks[0] ?? Buffer.alloc(0);
  }

  /** How many bytes have arrived. */
  get length(): number { return this.#length; }

  private constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.socket.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
      this.#events.emit('data');
    });
    this.socket.on('error', (error: NodeJS.ErrnoException) => { this.error ??= error; });
    this.socket.once('close', () => {
      this.closed = true;
      this.#events.emit('close');
    });
  }

  /** Starts connecting and returns at once. */
  static start(port: number, clients: Client[]): Client {
    const client = new Client(port);
    clients.push(client);
    return client;
  }

  /** Connects (the TCP handshake, which the kernel completes even for a connection about to be refused). */
  static async connect(port: number, clients: Client[]): Promise<Client> {
    const client = Client.start(port, clients);
    await within<void>(WAIT_MS, `a connection to port ${port}`, (resolve, reject) => {
      const onClose = (): void => { reject(client.error ?? new Error('closed before connecting')); };
      client.socket.once('connect', resolve);
      client.#events.once('close', onClose);
      return () => {
        client.socket.off('connect', resolve);
        client.#events.off('close', onClose);
      };
    });
    return client;
  }

  /** Writes `text` and waits for the same text back. */
  async echo(text: string): Promise<void> {
    const start = this.length;
    this.socket.write(text);
    await this.receive(start + Buffer.byteLength(text));
    assert.equal(this.received.subarray(start).toString(), text);
  }

  /** Resolves when `bytes` bytes in all have arrived; rejects on close or after `ms`. */
  receive(bytes: number, ms = WAIT_MS): Promise<void> {
    return within<void>(ms, `${bytes} bytes (got ${this.length})`, (resolve, reject) => {
      const onData = (): void => { if (this.length >= bytes) resolve(); };
      const onClose = (): void => { reject(new Error(`closed after ${this.length} of ${bytes} bytes (${this.error?.code ?? 'no error'})`)); };
      this.#events.on('data', onData);
      this.#events.once('close', onClose);
      onData();
      if (this.closed) onClose();
      return () => {
        this.#events.off('data', onData);
        this.#events.off('close', onClose);
      };
    });
  }

  /**
   * The negative check: nothing arrives and the socket stays open for `ms`. The only wait in this file
   * that a timer ends on purpose, and it only shows that something does NOT happen.
   */
  silent(ms = SILENCE_MS): Promise<void> {
    const before = this.length;
    return new Promise<void>((resolve, reject) => {
      const onData = (): void => { finish(); reject(new Error(`expected silence, got ${this.length - before} bytes`)); };
      const onClose = (): void => { finish(); reject(new Error(`expected an open, silent socket; it closed (${this.error?.code ?? 'no error'})`)); };
      const timer = setTimeout(() => { finish(); resolve(); }, ms);
      const finish = (): void => {
        clearTimeout(timer);
        this.#events.off('data', onData);
        this.#events.off('close', onClose);
      };
      this.#events.on('data', onData);
      this.#events.once('close', onClose);
      if (this.closed) onClose();
    });
  }

  /** Resolves with the socket's error code (if any) when it closes; rejects after `ms`. */
  whenClosed(ms = WAIT_MS): Promise<string | undefined> {
    return within<string | undefined>(ms, 'the client socket to close', (resolve) => {
      const onClose = (): void => { resolve(this.error?.code); };
      this.#events.once('close', onClose);
      if (this.closed) onClose();
      return () => { this.#events.off('close', onClose); };
    });
  }
}

/** What a client sees from a reset: an RST (ECONNRESET, or EPIPE when it lost the race on a write). */
const RESET_CODES = ['ECONNRESET', 'EPIPE'];

async function assertReset(client: Client): Promise<void> {
  const code = await client.whenClosed();
  assert.ok(code !== undefined && RESET_CODES.includes(code), `expected a reset, got ${code ?? 'a clean close'}`);
}

/** An echo server, a proxy in front of it, and clients, all torn down after the test. */
async function setup(t: TestContext, mode?: FaultMode): Promise<{ echo: EchoServer; proxy: FaultProxy; clients: Client[]; connect: () => Promise<Client> }> {
  const echo = await EchoServer.start();
  const proxy = await startFaultProxy(echo.target, mode === undefined ? undefined : { mode });
  const clients: Client[] = [];
  t.after(async () => {
    for (const client of clients) client.socket.destroy();
    await proxy.close();
    await echo.close();
  });
  return { echo, proxy, clients, connect: () => Client.connect(proxy.port, clients) };
}

function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of process.getActiveResourcesInfo()) counts.set(name, (counts.get(name) ?? 0) + 1);
  return counts;
}

describe('fault proxy', () => {
  it('listens on 127.0.0.1 on a port of its own, in pass mode, with nothing counted', async (t) => {
    const { proxy, echo } = await setup(t);
    assert.equal(proxy.host, '127.0.0.1');
    assert.ok(proxy.port > 0 && proxy.port !== echo.port);
    assert.equal(proxy.mode, 'pass');
    assert.equal(proxy.accepted, 0);
    assert.equal(proxy.open, 0);
  });

  it('url() moves a database URL to the proxy and keeps user, password, database and parameters', async (t) => {
    const { proxy } = await setup(t);
    assert.equal(proxy.url('postgres://postgres@127.0.0.1:5432/test'), `postgres://postgres@127.0.0.1:${proxy.port}/test`);
    assert.equal(proxy.url('postgresql://u:p%40ss@db.example:6543/app?sslmode=disable&application_name=x'), `postgresql://u:p%40ss@127.0.0.1:${proxy.port}/app?sslmode=disable&application_name=x`);
    assert.equal(proxy.url('mysql://root@localhost/test'), `mysql://root@127.0.0.1:${proxy.port}/test`);
    assert.equal(proxy.url('mariadb://root:pw@[::1]:3306/test'), `mariadb://root:pw@127.0.0.1:${proxy.port}/test`);
  });

  it('refuses an unknown mode', async (t) => {
    const { proxy } = await setup(t);
    assert.throws(() => { proxy.setMode('drop' as FaultMode); }, TypeError);
    await assert.rejects(startFaultProxy({ host: '127.0.0.1', port: 1 }, { mode: 'drop' as FaultMode }), TypeError);
    assert.equal(proxy.mode, 'pass');
  });

  it('pass: echoes, counts accepted and open connections, and lets go when the client hangs up', async (t) => {
    const { proxy, echo, connect } = await setup(t);
    const a = await connect();
    await a.echo('hello');
    const b = await connect();
    await b.echo('world');
    await a.echo('again');
    assert.equal(proxy.accepted, 2);
    assert.equal(proxy.open, 2);
    assert.equal(echo.sockets.size, 2);
    a.socket.end();
    await proxy.waitForOpen(1);
    assert.equal(await a.whenClosed(), undefined, 'a clean close');
    b.socket.destroy();
    await proxy.waitForOpen(0);
    await echo.idle();
    assert.equal(proxy.accepted, 2);
  });

  it('pass: 8 MiB both ways arrive intact (backpressure)', async (t) => {
    const { connect } = await setup(t);
    const client = await connect();
    const payload = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < payload.length; i += 1) payload[i] = (i * 31) & 0xff;
    client.socket.write(payload);
    await client.receive(payload.length, 20_000);
    assert.ok(client.received.equals(payload));
  });

  it('pass: a server that resets the connection resets the client; one that closes cleanly closes it cleanly', async (t) => {
    const { proxy, echo, connect } = await setup(t);
    const a = await connect();
    await a.echo('x');
    for (const socket of echo.sockets) socket.resetAndDestroy();
    await assertReset(a);
    const b = await connect();
    await b.echo('y');
    for (const socket of echo.sockets) socket.end();
    assert.equal(await b.whenClosed(), undefined);
    await proxy.waitForOpen(0);
  });

  it('pass: an unreachable target resets the client', async (t) => {
    const free = net.createServer();
    await new Promise<void>((resolve) => { free.listen(0, '127.0.0.1', resolve); });
    const port = (free.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => { free.close(() => { resolve(); }); });
    const proxy = await startFaultProxy({ host: '127.0.0.1', port });
    const clients: Client[] = [];
    t.after(() => proxy.close());
    t.after(() => { for (const c of clients) c.socket.destroy(); });
    const client = await Client.connect(proxy.port, clients);
    await assertReset(client);
    await proxy.waitForOpen(0);
  });

  it('blackhole: accepts and reads, never answers, never closes; notices the client hanging up', async (t) => {
    const { proxy, echo, connect } = await setup(t, 'blackhole');
    assert.equal(proxy.mode, 'blackhole');
    const client = await connect();
    client.socket.write('anyone there?');
    await client.silent();
    assert.equal(proxy.open, 1);
    assert.equal(echo.sockets.size, 0, 'nothing reached the server');
    client.socket.end();
    await proxy.waitForOpen(0);
  });

  it('blackhole: reads and discards, so the client can write megabytes without backing up', async (t) => {
    const { connect } = await setup(t, 'blackhole');
    const client = await connect();
    const flushed = new Promise<void>((resolve) => { client.socket.write(Buffer.alloc(32 * 1024 * 1024), () => { resolve(); }); });
    await within<void>(WAIT_MS, 'the 32 MiB write to be taken', (resolve, reject) => { flushed.then(resolve, reject); });
    await client.silent();
  });

  it('freeze (for new connections): accepts, forwards nothing, stays open', async (t) => {
    const { proxy, echo, connect } = await setup(t, 'freeze');
    const client = await connect();
    client.socket.write('ping');
    await client.silent();
    assert.equal(proxy.open, 1);
    assert.equal(echo.sockets.size, 0, 'no upstream connection');
  });

  it('refuse: the listener stays bound, each new connection is reset at once; existing ones are untouched', async (t) => {
    const { proxy, connect, clients } = await setup(t);
    const old = await connect();
    await old.echo('before');
    proxy.setMode('refuse');
    assert.equal(proxy.mode, 'refuse');
    for (let i = 0; i < 3; i += 1) {
      const refused = Client.start(proxy.port, clients);
      const code = await refused.whenClosed();
      assert.ok(code !== undefined && RESET_CODES.includes(code), `refused connection ${i}: expected a reset, got ${code ?? 'a clean close'}`);
    }
    await proxy.waitForAccepted(4);
    await proxy.waitForOpen(1);
    await old.echo('still here');
    proxy.setMode('pass');
    const fresh = await connect();
    await fresh.echo('same port, working again');
  });

  it('reset: new connections are accepted then reset; setMode("reset") resets existing ones too', async (t) => {
    const { proxy, echo, connect } = await setup(t);
    const a = await connect();
    const b = await connect();
    await a.echo('a');
    await b.echo('b');
    proxy.setMode('reset');
    await assertReset(a);
    await assertReset(b);
    const c = await connect().catch(() => undefined); // the handshake may or may not be seen before the RST
    if (c !== undefined) await assertReset(c);
    await proxy.waitForAccepted(3);
    await proxy.waitForOpen(0);
    await echo.idle();
  });

  it('resetExisting(): existing clients get an RST, new ones work (the mode is unchanged)', async (t) => {
    const { proxy, echo, connect } = await setup(t);
    const old = await connect();
    await old.echo('x');
    proxy.resetExisting();
    await assertReset(old);
    assert.equal(proxy.mode, 'pass');
    await echo.idle();
    const fresh = await connect();
    await fresh.echo('y');
    assert.equal(proxy.open, 1);
  });

  it('freezeExisting(): the old connection gets no reply and stays open; a new one still echoes', async (t) => {
    const { proxy, echo, connect } = await setup(t);
    const old = await connect();
    await old.echo('before');
    proxy.freezeExisting();
    assert.equal(proxy.mode, 'pass');
    old.socket.write('after');
    const fresh = await connect();
    await fresh.echo('new connection');
    await old.silent();
    assert.equal(old.received.toString(), 'before');
    assert.equal(proxy.open, 2);
    assert.equal(echo.sockets.size, 2, 'the frozen upstream is kept open too');
    // A frozen socket reads nothing, so it does not see its client go either: only a reset frees it.
    old.socket.destroy();
    fresh.socket.destroy();
    await proxy.waitForOpen(1);
    proxy.resetExisting();
    await proxy.waitForOpen(0);
    await echo.idle();
  });

  it('a frozen connection does not buffer at the proxy: the client backs up (freezeExisting and freeze mode)', async (t) => {
    const { proxy, connect } = await setup(t);
    const old = await connect();
    await old.echo('warm');
    proxy.freezeExisting();
    proxy.setMode('freeze');
    const fresh = await connect();
    // The proxy reads nothing now, so once the kernel's buffers (a few MiB) are full, the rest stays queued at the client.
    const flood = 64 * 1024 * 1024;
    old.socket.write(Buffer.alloc(flood));
    fresh.socket.write(Buffer.alloc(flood));
    await Promise.all([old.silent(), fresh.silent()]);
    for (const client of [old, fresh]) {
      assert.ok(client.socket.writableLength > flood / 2, `${client.socket.writableLength} of ${flood} bytes still queued at the client`);
    }
    assert.equal(old.received.toString(), 'warm');
  });

  it('setMode("freeze") freezes existing connections and new ones', async (t) => {
    const { proxy, echo, connect } = await setup(t);
    const old = await connect();
    await old.echo('x');
    proxy.setMode('freeze');
    assert.equal(proxy.mode, 'freeze');
    old.socket.write('y');
    const fresh = await connect();
    fresh.socket.write('z');
    await Promise.all([old.silent(), fresh.silent()]);
    assert.equal(proxy.open, 2);
    assert.equal(echo.sockets.size, 1, 'only the old connection has an upstream');
  });

  it('mode can be assigned (the same as setMode)', async (t) => {
    const { proxy, connect } = await setup(t);
    const old = await connect();
    await old.echo('x');
    proxy.mode = 'reset';
    assert.equal(proxy.mode, 'reset');
    await assertReset(old);
  });

  it('waitForOpen()/waitForAccepted(): resolve on the event, reject after ms with a clear message, leave no timer', async (t) => {
    const { proxy, connect } = await setup(t);
    const timers = (): number => resourceCounts().get('Timeout') ?? 0;
    const before = timers();
    const opened = proxy.waitForOpen(2);
    const accepted = proxy.waitForAccepted(2);
    assert.equal(timers(), before + 2, 'each wait holds one ref\'d timer');
    const a = await connect();
    const b = await connect();
    await opened;
    await accepted;
    assert.equal(timers(), before, 'timers cleared on success');
    await proxy.waitForAccepted(1); // already past: at once
    await assert.rejects(proxy.waitForOpen(5, 50), /waited 50 ms for open === 5, but open is 2/);
    await assert.rejects(proxy.waitForAccepted(3, 50), /waited 50 ms for accepted >= 3, but accepted is 2/);
    assert.equal(timers(), before, 'timers cleared on timeout');
    a.socket.destroy();
    b.socket.destroy();
    await proxy.waitForOpen(0);
  });

  it('close(): destroys every connection in every state, rejects pending waits, and leaves no handle behind', async (t) => {
    const echo = await EchoServer.start();
    t.after(() => echo.close());
    const baseline = resourceCounts();
    const proxy = await startFaultProxy(echo.target);
    const clients: Client[] = [];
    const connect = (): Promise<Client> => Client.connect(proxy.port, clients);
    const passing = await connect();
    await passing.echo('x');
    const frozen = await connect();
    await frozen.echo('y');
    proxy.freezeExisting();
    proxy.setMode('blackhole');
    const blackholed = await connect();
    blackholed.socket.write('z');
    proxy.setMode('freeze');
    const frozenNew = await connect();
    await proxy.waitForOpen(4);
    const pending = proxy.waitForOpen(99, 60_000);
    await proxy.close();
    await assert.rejects(pending, /closed while waiting/);
    await assert.rejects(proxy.waitForOpen(1), /closed/);
    await proxy.close(); // idempotent
    assert.equal(proxy.open, 0);
    for (const client of [passing, frozen, blackholed, frozenNew]) await client.whenClosed();
    await echo.idle();
    await assert.rejects(Client.connect(proxy.port, clients), /ECONNREFUSED/);
    const now = resourceCounts();
    for (const [name, count] of now) {
      assert.ok(count <= (baseline.get(name) ?? 0), `${name}: ${count} active after close(), ${baseline.get(name) ?? 0} before`);
    }
  });

  it('close(): a process that used the proxy in every mode exits on its own', async () => {
    const proxyModule = new URL('../support/fault-proxy.js', import.meta.url).href;
    const script = `
      import net from 'node:net';
      import { once } from 'node:events';
      const { startFaultProxy } = await import(${JSON.stringify(proxyModule)});
      const echo = net.createServer((s) => { s.on('error', () => {}); s.pipe(s); });
      echo.listen(0, '127.0.0.1');
      await once(echo, 'listening');
      const proxy = await startFaultProxy({ host: '127.0.0.1', port: echo.address().port });
      const clients = [];
      const connect = async () => {
        const c = net.connect(proxy.port, '127.0.0.1');
        c.on('error', () => {});
        clients.push(c);
        await once(c, 'connect');
        return c;
      };
      const a = await connect(); a.write('a'); await once(a, 'data');
      proxy.freezeExisting();
      const b = await connect(); b.write('b'); await once(b, 'data');
      proxy.setMode('blackhole'); (await connect()).write('c');
      proxy.setMode('freeze'); (await connect()).write('d');
      proxy.setMode('refuse'); const r = net.connect(proxy.port, '127.0.0.1'); r.on('error', () => {}); clients.push(r);
      await proxy.waitForAccepted(5);
      const pending = proxy.waitForOpen(99, 60000).catch((e) => e.message);
      await proxy.close();
      for (const c of clients) c.destroy();
      echo.close();
      console.log(JSON.stringify({ pending: await pending, open: proxy.open }));
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const code = await within<number | null>(15_000, 'the child process to exit on its own', (resolve) => {
      child.once('close', resolve);
      return () => { child.off('close', resolve); };
    }).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw new Error(`${String(error)}; stdout: ${stdout}; stderr: ${stderr}`);
    });
    assert.equal(code, 0, `exit code ${code}; stderr: ${stderr}`);
    assert.deepEqual(JSON.parse(stdout), { pending: 'fault proxy: closed while waiting', open: 0 });
  });
});


/** host:port of a database URL, as a proxy target. */
function targetOf(url: string, defaultPort: number): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: parsed.port === '' ? defaultPort : Number(parsed.port) };
}

/** Resolves with how long `promise` took to reject, and its error; fails if it resolves. */
async function rejectsAfter(promise: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const start = performance.now();
  try {
    await promise;
  } catch (error) {
    return { ms: performance.now() - start, error };
  }
  assert.fail('expected a rejection');
}

await describeOnPostgres('fault proxy in front of PostgreSQL, with pg', (server) => {
  let proxy: FaultProxy;
  before(async () => { proxy = await startFaultProxy(targetOf(server.url, 5432)); });
  after(async () => {
    await proxy.close();
  });

  it('pass: a pg.Client connects and queries through the proxy', async () => {
    proxy.setMode('pass');
    const accepted = proxy.accepted;
    const client = new pg.Client({ connectionString: proxy.url(server.url), connectionTimeoutMillis: WAIT_MS });
    client.on('error', () => {});
    await client.connect();
    try {
      const result = await client.query<{ one: number }>('SELECT 1 AS one');
      assert.equal(result.rows[0]?.one, 1);
      assert.equal(proxy.accepted, accepted + 1);
      assert.equal(proxy.open, 1);
    } finally {
      await client.end();
    }
    await proxy.waitForOpen(0);
  });

  it('blackhole: a pg connect with connectionTimeoutMillis 500 fails in about 500 ms', async () => {
    proxy.setMode('blackhole');
    const client = new pg.Client({ connectionString: proxy.url(server.url), connectionTimeoutMillis: 500 });
    client.on('error', () => {});
    const { ms, error } = await rejectsAfter(client.connect());
    assert.match(String(error), /timeout/i);
    assert.ok(ms >= 450 && ms < 3000, `failed after ${Math.round(ms)} ms`);
    await proxy.waitForOpen(0); // pg hung up, and the blackhole read its FIN
  });

  it('freezeExisting(): a connected client\'s query times out, a new client works; reset frees the frozen one', async () => {
    proxy.setMode('pass');
    const frozen = new pg.Client({ connectionString: proxy.url(server.url), connectionTimeoutMillis: WAIT_MS, query_timeout: 300 });
    frozen.on('error', () => {});
    await frozen.connect();
    await frozen.query('SELECT 1');
    proxy.freezeExisting();
    await assert.rejects(frozen.query('SELECT 2'), /timeout/i);
    const fresh = new pg.Client({ connectionString: proxy.url(server.url), connectionTimeoutMillis: WAIT_MS });
    fresh.on('error', () => {});
    await fresh.connect();
    assert.equal((await fresh.query<{ n: number }>('SELECT 3 AS n')).rows[0]?.n, 3);
    await fresh.end();
    await proxy.waitForOpen(1);
    proxy.resetExisting();
    await proxy.waitForOpen(0);
    await frozen.end().catch(() => {});
  });

  it('setMode("reset"): a connected client\'s next query fails at once', async () => {
    proxy.setMode('pass');
    const client = new pg.Client({ connectionString: proxy.url(server.url), connectionTimeoutMillis: WAIT_MS });
    const errors: unknown[] = [];
    client.on('error', (error) => { errors.push(error); });
    await client.connect();
    proxy.setMode('reset');
    await proxy.waitForOpen(0);
    await assert.rejects(client.query('SELECT 1'));
    await client.end().catch(() => {});
    proxy.setMode('pass');
  });
});

await whenMysql('fault proxy, with mysql2', (server) => {
  describe(`fault proxy in front of ${server.label}, with mysql2`, () => {
    let proxy: FaultProxy;
    before(async () => { proxy = await startFaultProxy(targetOf(server.url, 3306)); });
    after(() => proxy.close());

    it('pass: a mysql2 connection queries through the proxy', async () => {
      proxy.setMode('pass');
      const conn = await mysql.createConnection({ uri: proxy.url(server.url), connectTimeout: WAIT_MS });
      conn.on('error', () => {});
      try {
        const [rows] = await conn.query('SELECT 1 AS one');
        assert.equal(Number((rows as { one: unknown }[])[0]?.one), 1);
        assert.equal(proxy.open, 1);
      } finally {
        await conn.end();
      }
      await proxy.waitForOpen(0);
    });

    it('blackhole: a mysql2 connect with connectTimeout 500 fails in about 500 ms', async () => {
      proxy.setMode('blackhole');
      const { ms, error } = await rejectsAfter(mysql.createConnection({ uri: proxy.url(server.url), connectTimeout: 500 }));
      assert.equal((error as { code?: unknown }).code, 'ETIMEDOUT', String(error));
      assert.ok(ms >= 450 && ms < 3000, `failed after ${Math.round(ms)} ms`);
      await proxy.waitForOpen(0);
    });

    it('refuse: a mysql2 connect fails at once', async () => {
      proxy.setMode('refuse');
      const { ms, error } = await rejectsAfter(mysql.createConnection({ uri: proxy.url(server.url), connectTimeout: WAIT_MS }));
      assert.ok(['ECONNRESET', 'EPIPE', 'PROTOCOL_CONNECTION_LOST'].includes(String((error as { code?: unknown }).code)), String(error));
      assert.ok(ms < 1000, `failed after ${Math.round(ms)} ms`);
      await proxy.waitForOpen(0);
    });
  });
});
