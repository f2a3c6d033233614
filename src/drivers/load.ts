/**
 * Loading a driver package on first use, and what an opener gives `createPool`: a creator, a
 * dialect and pool-option defaults. Each driver's opener lives in `src/drivers/<name>/open.ts`.
 */
import type { CreatePoolOptions } from '../create-pool.js';
import type { Dialect } from '../dialect.js';
import { ArgumentError } from '../errors.js';

/**
 * Imports a driver module, turning "not installed" into an `ArgumentError` that names the package
 * to install. `packageName` is what `npm install` needs; `specifier` what to import (they differ for
 * `mysql2/promise`).
 */
export async function importDriver(packageName: string, scheme: string, specifier: string = packageName): Promise<unknown> {
  try {
    return (await import(specifier)) as unknown;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    const message = error instanceof Error ? error.message : String(error);
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(packageName)) {
      throw new ArgumentError(
        `createPool: the '${scheme}' scheme needs the '${packageName}' package, which is not installed. Install it with: npm install ${packageName}`,
        { cause: error },
      );
    }
    throw new ArgumentError(`createPool: the '${packageName}' driver is installed but could not be loaded: ${message}`, { cause: error });
  }
}

/** A CommonJS driver imported from ESM has its exports on `default`. */
function exportsOf(module: unknown): Record<string, unknown> {
  const record = module as Record<string, unknown>;
  const inner = record.default;
  return inner !== null && (typeof inner === 'object' || typeof inner === 'function') ? (inner as Record<string, unknown>) : record;
}

export function member(module: unknown, name: string, packageName: string): unknown {
  const exports = exportsOf(module);
  const value = name === 'default' ? exports : exports[name];
  if (typeof value !== 'function') {
    throw new ArgumentError(`createPool: the installed '${packageName}' package has no ${name === 'default' ? 'default export' : `'${name}' export`}; is it a supported version?`);
  }
  return value;
}

export interface Opened<C> {
  creator: () => Promise<C>;
  dialect: Dialect<C>;
  /** Pool-option defaults for this target (e.g. one connection for an in-memory database). */
  defaults: Record<string, unknown>;
}

/** A driver's opener: what `createPool` looks up by URL scheme. */
export type Opener<C = unknown> = (url: string, options: CreatePoolOptions<unknown>) => Promise<Opened<C>>;

/**
 * The driver's own connect timeout, from the pool's `connectTimeout` (default 10000 ms): one second
 * longer, so the caller always sees the pool's `ConnectTimeoutError` at the deadline, and the
 * driver's timeout then closes the abandoned socket: a blackholed connect leaves nothing behind.
 * `Infinity` (or a value the pool will reject) is not forwarded; an explicit driver option in
 * `connectOptions` wins.
 */
const DRIVER_TIMEOUT_GRACE_MS = 1000;

export function driverConnectTimeout(options: CreatePoolOptions<unknown>): number | undefined {
  const timeout: unknown = options.connectTimeout ?? 10000;
  return typeof timeout === 'number' && Number.isFinite(timeout) && timeout > 0 ? Math.ceil(timeout) + DRIVER_TIMEOUT_GRACE_MS : undefined;
}

