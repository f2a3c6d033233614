import type { ConnectionRecord } from '../connection-record.js';
import { PoolAssertionError } from '../errors.js';
import type { PoolOptions } from '../options.js';
import { optionalBoolean } from '../options.js';
import { Pool } from '../pool.js';
import type { PoolLimits } from '../pool-stats.js';

const LIMITS: PoolLimits = Object.freeze({ max: 1, idleMax: 1, idleMin: 0 });

export interface AssertionPoolOptions<C> extends PoolOptions<C> {
  /** Remember where the outstanding checkout was made, and show it in the assertion. Default true. */
  storeTraceback?: boolean;
}

/** One connection, and at most one checkout at a time: a test tool that proves code never holds two. */
export class AssertionPool<C> extends Pool<C> {
  static readonly classOptions: readonly string[] = ['storeTraceback'];
  readonly #storeTraceback: boolean;
  #record: ConnectionRecord<C> | null = null;
  #checkedOut = false;
  #checkoutStack: string | undefined = undefined;

  constructor(options: AssertionPoolOptions<C>) {
    super(options);
    this.#storeTraceback = optionalBoolean('storeTraceback', options.storeTraceback, true);
  }

  protected _doGet(): ConnectionRecord<C> {
    if (this.#checkedOut) {
      const where = this.#checkoutStack === undefined ? '' : `\nIt was checked out at: ${this.#checkoutStack}`;
      throw new PoolAssertionError(`connection is already checked out${where}`);
    }
    this.#checkedOut = true;
    if (this.#storeTraceback) this.#checkoutStack = new Error('first checkout').stack;
    return (this.#record ??= this._newRecord());
  }

  protected _doReturn(): void {
    this.#checkedOut = false;
    this.#checkoutStack = undefined;
  }

  protected async _disposeIdle(): Promise<void> {
    const record = this.#record;
    if (record === null || this.#checkedOut) return;
    this.#record = null;
    await record.close();
  }

  protected _records(): Iterable<ConnectionRecord<C>> {
    return this.#record === null ? [] : [this.#record];
  }

  protected _limits(): PoolLimits {
    return LIMITS;
  }

  status(): string {
    return 'AssertionPool';
  }
}
