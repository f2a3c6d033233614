import type { ConnectionRecord } from '../connection-record.js';
import { Pool } from '../pool.js';
import type { PoolLimits } from '../pool-stats.js';

const LIMITS: PoolLimits = Object.freeze({ max: Infinity, idleMax: 0, idleMin: 0 });

/** Opens a connection for every checkout and closes it on return: no pooling, all of the pool's safety. */
export class NullPool<C> extends Pool<C> {
  static readonly classOptions: readonly string[] = [];
  /** Records checked out now (for `close({ timeout })`). */
  readonly #out = new Set<ConnectionRecord<C>>();

  protected _doGet(): ConnectionRecord<C> {
    const record = this._newRecord();
    this.#out.add(record);
    return record;
  }

  protected _doReturn(record: ConnectionRecord<C>): Promise<void> {
    this.#out.delete(record);
    return record.close();
  }

  protected _disposeIdle(): Promise<void> {
    return Promise.resolve();
  }

  protected _records(): Iterable<ConnectionRecord<C>> {
    return this.#out;
  }

  protected _limits(): PoolLimits {
    return LIMITS;
  }

  status(): string {
    return 'NullPool';
  }
}
