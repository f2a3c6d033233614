import type { ConnectionRecord } from '../connection-record.js';
import { Pool } from '../pool.js';

/** Opens a connection for every checkout and closes it on return: no pooling, all of the pool's safety. */
export class NullPool<C> extends Pool<C> {
  protected _doGet(): ConnectionRecord<C> {
    return this._newRecord();
  }

  protected _doReturn(record: ConnectionRecord<C>): Promise<void> {
    return record.close();
  }

  protected _disposeIdle(): Promise<void> {
    return Promise.resolve();
  }

  status(): string {
    return 'NullPool';
  }
}
