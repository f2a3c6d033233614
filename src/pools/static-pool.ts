import type { ConnectionRecord } from '../connection-record.js';
import { Pool } from '../pool.js';
import type { PoolLimits } from '../pool-stats.js';

const LIMITS: PoolLimits = Object.freeze({ max: 1, idleMax: 1, idleMin: 0 });

/**
 * Exactly one driver connection, shared by every checkout: opened lazily, replaced if invalidated,
 * closed by `dispose()`. For an in-process database with one connection (SQLite `:memory:`, PGlite).
 */
export class StaticPool<C> extends Pool<C> {
  static readonly classOptions: readonly string[] = [];
  #record: ConnectionRecord<C> | null = null;

  protected _doGet(): ConnectionRecord<C> {
    return (this.#record ??= this._newRecord());
  }

  protected _doReturn(): void {
    // The record stays: every checkout shares it.
  }

  protected async _disposeIdle(): Promise<void> {
    const record = this.#record;
    if (record === null || record.inUse) return; // in use: closed when its last holder returns it
    this.#record = null;
    await record.close();
  }

  /** The shared connection may be in use by other checkouts: give back only this one's share. */
  override async _reclaimAbandoned(record: ConnectionRecord<C>): Promise<void> {
    await record.checkin();
  }

  protected _records(): Iterable<ConnectionRecord<C>> {
    return this.#record === null ? [] : [this.#record];
  }

  protected _limits(): PoolLimits {
    return LIMITS;
  }

  status(): string {
    return 'StaticPool';
  }
}
