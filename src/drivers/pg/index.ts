/** `lifeguard/pg`: the pg driver's public entry point. */
export * from './dialect.js';
export { PgPool } from './pg-pool.js';
export type { PgPoolClient, PgPoolConfig } from './pg-pool.js';
