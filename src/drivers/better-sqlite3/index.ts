/** `lifeguard/better-sqlite3`: the better-sqlite3 driver's public entry point. */
export * from './dialect.js';
