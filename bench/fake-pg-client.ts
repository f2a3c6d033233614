import { EventEmitter } from 'node:events';

/**
 * A stand-in for `pg.Client` so pg-pool can be measured as a pool, with no network. pg-pool reads
 * `_queryable` and `_ending` on release (a client that is not queryable is thrown away), listens for
 * `'error'` and `'end'`, and calls `connect(cb)` and `end(cb)`.
 */
export class FakePgClient extends EventEmitter {
  _queryable = true;
  _ending = false;

  constructor(_options?: unknown) {
    super();
  }

  connect(callback: (error?: Error) => void): void {
    process.nextTick(callback);
  }

  query(): Promise<{ rows: unknown[] }> {
    return Promise.resolve({ rows: [] });
  }

  end(callback?: () => void): void {
    this._ending = true;
    this._queryable = false;
    this.emit('end');
    if (callback) process.nextTick(callback);
  }
}
