/** `lifeguard/mariadb`: the mariadb driver's public entry point. */
export * from './dialect.js';
