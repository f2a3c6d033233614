/** `lifeguard/mysql2`: the mysql2 driver's public entry point: its dialect, and `Mysql2Pool`. */
export * from './dialect.js';
export { Mysql2Pool } from './pool.js';
export type { Mysql2PoolConfig, Mysql2PoolConnection, Mysql2PoolSettings, Mysql2Query } from './pool.js';
