/**
 * A loopback-only TCP fault proxy (for the tests and the demo): put it between a driver and a database server and make
 * the network misbehave on demand.
 *
 * Modes, for connections accepted from now on:
 * - `pass`: forward both ways (with backpressure), mirroring half-closes and resets.
 * - `blackhole`: accept, read and discard, never answer, never close (a client that hangs up is
 *   still noticed: the proxy reads its FIN and lets the socket go).
 * - `freeze`: accept, never read, never forward, keep open. The socket stays paused from the start,
 *   so the kernel's buffers fill and the client's writes back up (nothing buffers at the proxy).
 * - `refuse`: the listener stays bound, but each new connection is reset (`resetAndDestroy()`) the
 *   moment it is accepted, before anything is read. The kernel has already completed the handshake,
 *   so a client may see `connect` first; then it gets ECONNRESET (or EPIPE on a write), at once.
 *   A true ECONNREFUSED would need the port unbound, and then it could be taken by someone else.
 * - `reset`: the same for new connections (accept, then RST at once). Unlike `refuse`,
 *   `setMode('reset')` also resets every existing connection.
 *
 * `setMode('freeze')` also freezes existing connections; `setMode('reset')` also resets them; the
 * other modes leave existing connections as they are (a frozen one stays frozen: there is no thaw).
 *
 * A frozen connection reads nothing, so it never sees its client hang up either: it stays open at
 * the proxy (and in `open`) until `resetExisting()`, `setMode('reset')` or `close()`.
 *
 * `accepted` counts every accepted connection, refused and reset ones included; `open` counts
 * accepted client sockets that have not yet closed (a refused one for a tick).
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';

export type FaultMode = 'pass' | 'blackhole' | 'freeze' | 'refuse' | 'reset';

export interface FaultProxy {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Rewrites host:port of a database URL to the proxy (user, password, path and query are kept). */
  readonly url: (base: string) => string;
  /** The mode for new connections (assigning it is `setMode`). */
  mode: FaultMode;
  /** Applies to NEW connections; 'freeze' and 'reset' also act on existing ones. */
  setMode(mode: FaultMode): void;
  /** Existing connections stop forwarding both ways (both sockets paused, kept open). The mode for new connections is unchanged. */
  freezeExisting(): void;
  /** Destroys existing client sockets with RST (their upstream sockets are destroyed too). */
  resetExisting(): void;
  /** Connections accepted so far (refused and reset ones included). */
  readonly accepted: number;
  /** Client connections currently open at the proxy. */
  readonly open: number;
  /** Resolves when `open === n`; rejects after `ms` (default 5000). */
  waitForOpen(n: number, ms?: number): Promise<void>;
  /** Resolves when `accepted >= n`; rejects after `ms` (default 5000). */
  waitForAccepted(n: number, ms?: number): Promise<void>;
  /** Destroys every socket, closes the listener, rejects pending waits; leaves no handle open. Idempotent. */
  close(): Promise<void>;
}

const MODES: readonly FaultMode[] = ['pass', 'blackhole', 'freeze', 'refuse', 'reset'];
const DEFAULT_WAIT_MS = 5000;

interface Connection {
  readonly client: net.Socket;
  upstream: net.Socket | undefined;
  frozen: boolean;
}

interface Waiter {
  readonly check: () => boolean;
  readonly settle: (error?: Error) => void;
}

function reset(socket: net.Socket): void {
  if (socket.destroyed) return;
  // resetAndDestroy() needs a live TCP handle; without one, a plain destroy is all there is to do.
  if ((socket as unknown as { _handle: unknown })._handle) socket.resetAndDestroy();
  else socket.destroy();
}

function assertMode(mode: unknown): asserts mode is FaultMode {
  if (!MODES.includes(mode as FaultMode)) throw new TypeError(`fault proxy: unknown mode ${String(mode)} (one of ${MODES.join(', ')})`);
}

class FaultProxyServer implements FaultProxy {
  readonly host = '127.0.0.1' as const;
  #port = 0;
  #mode: FaultMode;
  #accepted = 0;
  #closing: Promise<void> | undefined;
  readonly #target: { host: string; port: number };
  readonly #server: net.Server;
  readonly #connections = new Set<Connection>();
  /** Every socket the proxy owns (clients and upstreams) until its 'close'. */
  readonly #sockets = new Set<net.Socket>();
  readonly #waiters = new Set<Waiter>();
  readonly #events = new EventEmitter();

  constructor(target: { host: string; port: number }, mode: FaultMode) {
    this.#target = { host: target.host, port: target.port };
    this.#mode = mode;
    this.#server = net.createServer({ pauseOnConnect: true }, (client) => { this.#accept(client); });
    this.#events.on('change', () => {
      for (const waiter of this.#waiters) if (waiter.check()) waiter.settle();
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#server.on('error', () => {}); // after listening, nothing the server reports needs an answer
    this.#port = (this.#server.address() as net.AddressInfo).port;
  }

  get port(): number { return this.#port; }
  get accepted(): number { return this.#accepted; }
  get open(): number { return this.#connections.size; }
  get mode(): FaultMode { return this.#mode; }
  set mode(mode: FaultMode) { this.setMode(mode); }

  readonly url = (base: string): string => {
    const parsed = new URL(base);
    parsed.hostname = this.host;
    parsed.port = String(this.#port);
    return parsed.toString();
  };

  setMode(mode: FaultMode): void {
    assertMode(mode);
    this.#mode = mode;
    if (mode === 'freeze') this.freezeExisting();
    else if (mode === 'reset') this.resetExisting();
  }

  freezeExisting(): void {
    for (const conn of this.#connections) {
      conn.frozen = true;
      conn.client.pause();
      conn.upstream?.pause();
    }
  }

  resetExisting(): void {
    for (const conn of this.#connections) {
      reset(conn.client);
      conn.upstream?.destroy();
    }
  }

  waitForOpen(n: number, ms = DEFAULT_WAIT_MS): Promise<void> {
    return this.#waitFor(`open === ${n}`, () => this.open === n, () => `open is ${this.open}`, ms);
  }

  waitForAccepted(n: number, ms = DEFAULT_WAIT_MS): Promise<void> {
    return this.#waitFor(`accepted >= ${n}`, () => this.#accepted >= n, () => `accepted is ${this.#accepted}`, ms);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const listenerClosed = new Promise<void>((resolve) => { this.#server.close(() => { resolve(); }); });
    const socketsClosed = [...this.#sockets].map((socket) => new Promise<void>((resolve) => { socket.once('close', () => { resolve(); }); }));
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all([listenerClosed, ...socketsClosed]);
    this.#events.emit('change');
    for (const waiter of this.#waiters) waiter.settle(new Error('fault proxy: closed while waiting'));
  }

  #waitFor(goal: string, check: () => boolean, now: () => string, ms: number): Promise<void> {
    if (check()) return Promise.resolve();
    if (this.#closing !== undefined) return Promise.reject(new Error(`fault proxy: closed, ${goal} will not happen (${now()})`));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiter.settle(new Error(`fault proxy on port ${this.#port}: waited ${ms} ms for ${goal}, but ${now()}`));
      }, ms);
      const waiter: Waiter = {
        check,
        settle: (error) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          if (error === undefined) resolve();
          else reject(error);
        },
      };
      this.#waiters.add(waiter);
    });
  }

  #track(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on('error', () => {}); // resets and refusals are this proxy's business; nobody should crash on them
    socket.once('close', () => { this.#sockets.delete(socket); });
  }

  #accept(client: net.Socket): void {
    this.#track(client);
    if (this.#closing !== undefined) {
      client.destroy();
      return;
    }
    const conn: Connection = { client, upstream: undefined, frozen: false };
    this.#connections.add(conn);
    this.#accepted += 1;
    client.once('close', () => {
      this.#connections.delete(conn);
      this.#events.emit('change');
    });
    this.#events.emit('change');

    switch (this.#mode) {
      case 'pass':
        this.#forward(conn);
        break;
      case 'blackhole':
        client.on('data', () => {});
        client.resume();
        break;
      case 'freeze':
        conn.frozen = true; // paused since accept (pauseOnConnect): the kernel holds what the client sends
        break;
      case 'refuse':
      case 'reset':
        reset(client);
        break;
    }
  }

  #forward(conn: Connection): void {
    const { client } = conn;
    const upstream = net.connect({ host: this.#target.host, port: this.#target.port });
    conn.upstream = upstream;
    this.#track(upstream);

    const pipe = (from: net.Socket, to: net.Socket): void => {
      from.on('data', (chunk: Buffer) => {
        if (conn.frozen || to.destroyed) return;
        if (!to.write(chunk)) from.pause();
      });
      to.on('drain', () => { if (!conn.frozen) from.resume(); });
      from.on('end', () => { if (!conn.frozen && !to.destroyed) to.end(); });
    };
    pipe(client, upstream);
    pipe(upstream, client);

    // An upstream that fails or is reset resets the client; a clean end was passed on as a FIN.
    upstream.once('close', (hadError) => {
      if (conn.frozen) return;
      if (hadError) reset(client);
      else if (!client.destroyed && !client.writableEnded) client.end();
    });
    // A client that goes away takes its upstream with it, unless the upstream is still flushing the client's FIN.
    client.once('close', (hadError) => {
      if (hadError || conn.frozen || !upstream.writableEnded) upstream.destroy();
    });
    client.resume();
  }
}

/** Starts a fault proxy on 127.0.0.1 (a free port) in front of `target`; the mode defaults to 'pass'. */
export async function startFaultProxy(target: { host: string; port: number }, options?: { mode?: FaultMode }): Promise<FaultProxy> {
  const mode = options?.mode ?? 'pass';
  assertMode(mode);
  const proxy = new FaultProxyServer(target, mode);
  await proxy.listen();
  return proxy;
}
