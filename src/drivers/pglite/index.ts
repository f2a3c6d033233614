/** `lifeguard/pglite`: the pglite driver's public entry point. */
export * from './dialect.js';
