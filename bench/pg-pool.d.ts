// pg-pool ships no types; this is the part of its API the benchmark uses.
declare module 'pg-pool' {
  import type { EventEmitter } from 'node:events';

  interface PgPoolOptions<C> {
    Client: new (options: unknown) => C;
    max?: number;
    min?: number;
    idleTimeoutMillis?: number;
    connectionTimeoutMillis?: number;
  }

  class Pool<C> extends EventEmitter {
    constructor(options: PgPoolOptions<C>);
    readonly totalCount: number;
    readonly idleCount: number;
    readonly waitingCount: number;
    connect(): Promise<C & { release(error?: Error | boolean): void }>;
    end(): Promise<void>;
  }

  export default Pool;
}
