/** `lifeguard/mysql2`: the mysql2 driver's public entry point. */
export * from './dialect.js';
