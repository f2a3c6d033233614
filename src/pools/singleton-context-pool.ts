import type { ConnectionRecord } from '../connection-record.js';
import type { ContextStore } from '../context.js';
import type { PoolOptions } from '../options.js';
import { optionalInteger } from '../options.js';
import { Pool } from '../pool.js';
import type { PoolLimits } from '../pool-stats.js';

export interface SingletonContextPoolOptions<C> extends PoolOptions<C> {
  /** Connections kept; beyond it the least recently used idle ones are closed. Default 5. */
  poolSize?: number;
}

/**
 * SQLAlchemy's `SingletonThreadPool`, where the thread is an async context (`pool.scope()`; code
 * outside any scope shares one root context): one connection per context, reused with a nesting
 * count, and no reset until the outermost close. At most `poolSize` connections are kept: whenever
 * more exist, the least recently used idle ones are closed (at creation and at return), never one in use.
 */
export class SingletonContextPool<C> extends Pool<C> {
  static readonly classOptions: readonly string[] = ['poolSize'];
  readonly #poolSize: number;
  readonly #byContext = new WeakMap<ContextStore, ConnectionRecord<C>>();
  /** Every record that may hold a connection, least recently used first. */
  readonly #records = new Set<ConnectionRecord<C>>();

  constructor(options: SingletonContextPoolOptions<C>) {
    super(options);
    this.#poolSize = optionalInteger('poolSize', options.poolSize, 1, 5);
  }

  protected override _alwaysContextLocal(): boolean {
    return true;
  }

  protected _doGet(): ConnectionRecord<C> {
    const context = this._currentContext();
    let record = this.#byContext.get(context);
    if (record === undefined) {
      record = this._newRecord();
      this.#byContext.set(context, record);
    } else if (record.inUse) {
      // uniqueConnection() inside a context that already holds its connection: a record of its own.
      record = this._newRecord();
    }
    this.#touch(record);
    this.#closeExcess(record);
    return record;
  }

  protected _doReturn(record: ConnectionRecord<C>): void {
    this.#touch(record);
    this.#closeExcess(null);
  }

  #touch(record: ConnectionRecord<C>): void {
    this.#records.delete(record);
    this.#records.add(record);
  }

  /** Close least recently used idle records while more than `poolSize` exist. */
  #closeExcess(keep: ConnectionRecord<C> | null): void {
    let excess = this.#records.size - this.#poolSize;
    for (const record of this.#records) {
      if (excess <= 0) break;
      if (record === keep || record.inUse) continue;
      this.#records.delete(record);
      excess--;
      record.close().catch((error: unknown) => { this._log.error(`closing connection #${record.id} failed`, error); });
    }
  }

  protected async _disposeIdle(): Promise<void> {
    const idle = [...this.#records].filter((record) => !record.inUse);
    for (const record of idle) this.#records.delete(record);
    await Promise.all(idle.map((record) => record.close()));
  }

  protected _records(): Iterable<ConnectionRecord<C>> {
    return this.#records;
  }

  protected _limits(): PoolLimits {
    return { max: Infinity, idleMax: this.#poolSize, idleMin: 0 };
  }

  /** Connections currently kept. */
  size(): number {
    return this.#records.size;
  }

  status(): string {
    return `SingletonContextPool size: ${this.#records.size}`;
  }
}
