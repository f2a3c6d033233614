import type { ConnectionRecord } from './connection-record.js';
import type { Dialect } from './dialect.js';
import { ArgumentError } from './errors.js';
import type { PoolEventName, PoolEvents, PoolListener } from './events.js';
import { POOL_EVENT_NAMES } from './events.js';
import type { EchoLevel, Logger } from './logging.js';

export type ResetOnReturn = 'rollback' | 'commit' | 'none' | true | false | null;

/** A listener for any one event, as given in the `events` option. */
export type EventRegistration<C> = {
  [K in PoolEventName]: readonly [K, PoolEvents<C>[K]];
}[PoolEventName];

/** Options every pool class takes (SPEC section 2). Durations are milliseconds. */
export interface PoolOptions<C> {
  /** Opens a new driver connection. Required. */
  creator: (record: ConnectionRecord<C>) => C | Promise<C>;
  /** How to reset, close and ping connections. Default: duck-typed (the connection's own methods). */
  dialect?: Dialect<C>;
  /** Close and replace a connection older than this at its next checkout. `-1` (default): never. */
  recycle?: number;
  /** What to do with a connection's transaction when it comes back. Default `'rollback'`. */
  resetOnReturn?: ResetOnReturn;
  /** Ping pooled connections before handing them out; needs `dialect.ping`. Default `false`. */
  prePing?: boolean;
  echo?: EchoLevel;
  loggingName?: string;
  logger?: Logger;
  /** Listeners registered at construction, before any other. */
  events?: readonly EventRegistration<C>[];
  /** Legacy listener objects (SQLAlchemy's `PoolListener`), adapted to events. */
  listeners?: readonly Partial<PoolListener<C>>[];
  /** Inside one `pool.scope()`, `connect()` returns the same checkout again (nesting counted). */
  useContextLocal?: boolean;
  /**
   * Record the stack of every checkout, so a connection that is garbage-collected while checked out
   * is reported with the place it was taken. Costs one stack capture per checkout. Default `false`.
   */
  leakTracking?: boolean;
  /**
   * ms one attempt to open a connection may take; then it is abandoned with `ConnectTimeoutError`,
   * its capacity is released, and a connection that arrives later is terminated. Positive or
   * `Infinity`. Default 10000.
   */
  connectTimeout?: number;
  /**
   * ms a pre-ping or keep-alive ping may take; a late answer is a failed ping. It also bounds the
   * dialect's rollback on return: one that does not answer in time invalidates the connection (a
   * commit on return is never cut short). Positive or `Infinity`. Default 5000.
   */
  pingTimeout?: number;
  /** ms: a connection returned less than this long ago is handed out without a pre-ping. Default 0 (ping every time). */
  prePingBypass?: number;
  /** A connection is closed when it comes back after this many checkouts. Default `Infinity`. */
  maxUses?: number;
  /**
   * Idle connections never keep the Node process alive: the dialect's `unref` runs when a connection
   * goes idle and `ref` at checkout. Default `true`.
   */
  allowExitOnIdle?: boolean;
  /**
   * ms: a checkout held longer than this logs one warning with the stack where it was checked out,
   * and one info line when it finally comes back. Default 0 (off).
   */
  leakDetectionThreshold?: number;
}

/** The validated, defaulted form the pool runs on. */
export interface ResolvedPoolOptions {
  readonly recycle: number;
  readonly resetOnReturn: 'rollback' | 'commit' | 'none';
  readonly prePing: boolean;
  readonly echo: EchoLevel;
  readonly useContextLocal: boolean;
  readonly leakTracking: boolean;
  readonly connectTimeout: number;
  readonly pingTimeout: number;
  readonly prePingBypass: number;
  readonly maxUses: number;
  readonly allowExitOnIdle: boolean;
  readonly leakDetectionThreshold: number;
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return value.toString();
  if (Array.isArray(value)) return 'an array';
  if (value !== null && typeof value === 'object') return 'an object';
  return String(value);
}

export function invalid(option: string, expected: string, value: unknown): ArgumentError {
  return new ArgumentError(`Invalid option '${option}': expected ${expected}, got ${show(value)}`);
}

/** An integer at least `min`, or `undefined` for the default. */
export function optionalInteger(option: string, value: unknown, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw invalid(option, `an integer >= ${min}`, value);
  }
  return value;
}

export function optionalBoolean(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalid(option, 'true or false', value);
  return value;
}

/** A duration in ms (finite, >= 0), or `-1` for "never" when `allowNever`. */
export function optionalDuration(option: string, value: unknown, fallback: number, allowNever: boolean): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && allowNever && value === -1) return -1;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalid(option, allowNever ? 'a duration in ms >= 0, or -1 for never' : 'a duration in ms >= 0', value);
  }
  return value;
}

/** A positive duration in ms, or `Infinity` (a deadline that may be switched off, never 0). */
export function optionalDeadline(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw invalid(option, 'a duration in ms > 0, or Infinity', value);
  }
  return value;
}

/** An integer >= 1, or `Infinity`. */
function optionalCount(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(Number.isInteger(value) || value === Infinity) || value < 1) {
    throw invalid(option, 'an integer >= 1, or Infinity', value);
  }
  return value;
}

function resolveReset(value: unknown): 'rollback' | 'commit' | 'none' {
  if (value === undefined || value === true || value === 'rollback') return 'rollback';
  if (value === false || value === null || value === 'none') return 'none';
  if (value === 'commit') return 'commit';
  throw invalid('resetOnReturn', "'rollback', 'commit', 'none', true, false or null", value);
}

const LOGGER_METHODS = ['debug', 'info', 'warn', 'error'] as const;

/** Checks every option of SPEC section 2; throws `ArgumentError` naming the first bad one. */
export function resolvePoolOptions<C>(options: PoolOptions<C>): ResolvedPoolOptions {
  const given: unknown = options;
  if (typeof given !== 'object' || given === null) throw invalid('options', 'an options object', given);
  const creator: unknown = options.creator;
  if (typeof creator !== 'function') throw invalid('creator', 'a function returning a connection', creator);
  const dialect: unknown = options.dialect;
  if (dialect !== undefined) {
    if (typeof dialect !== 'object' || dialect === null) throw invalid('dialect', 'a Dialect object', dialect);
    for (const name of ['rollback', 'commit', 'close'] as const) {
      if (typeof (dialect as Record<string, unknown>)[name] !== 'function') throw invalid(`dialect.${name}`, 'a function', (dialect as Record<string, unknown>)[name]);
    }
    for (const name of ['terminate', 'ping', 'isDisconnect', 'onConnect', 'ref', 'unref'] as const) {
      const fn = (dialect as Record<string, unknown>)[name];
      if (fn !== undefined && typeof fn !== 'function') throw invalid(`dialect.${name}`, 'a function or undefined', fn);
    }
  }
  const prePing = optionalBoolean('prePing', options.prePing, false);
  if (prePing && typeof options.dialect?.ping !== 'function') {
    throw new ArgumentError("Invalid option 'prePing': true needs a dialect with a ping() method (the default dialect has none)");
  }
  const echo: unknown = options.echo;
  if (echo !== undefined && typeof echo !== 'boolean' && echo !== 'debug') throw invalid('echo', "true, false or 'debug'", echo);
  if (options.loggingName !== undefined && (typeof options.loggingName !== 'string' || options.loggingName === '')) {
    throw invalid('loggingName', 'a non-empty string', options.loggingName);
  }
  const logger: unknown = options.logger;
  if (logger !== undefined) {
    if (typeof logger !== 'object' || logger === null) throw invalid('logger', 'an object with debug, info, warn and error methods', logger);
    for (const name of LOGGER_METHODS) {
      if (typeof (logger as Record<string, unknown>)[name] !== 'function') throw invalid(`logger.${name}`, 'a function', (logger as Record<string, unknown>)[name]);
    }
  }
  validateListeners(options);
  return {
    recycle: optionalDuration('recycle', options.recycle, -1, true),
    resetOnReturn: resolveReset(options.resetOnReturn),
    prePing,
    echo: echo ?? false,
    useContextLocal: optionalBoolean('useContextLocal', options.useContextLocal, false),
    leakTracking: optionalBoolean('leakTracking', options.leakTracking, false),
    connectTimeout: optionalDeadline('connectTimeout', options.connectTimeout, 10000),
    pingTimeout: optionalDeadline('pingTimeout', options.pingTimeout, 5000),
    prePingBypass: optionalDuration('prePingBypass', options.prePingBypass, 0, false),
    maxUses: optionalCount('maxUses', options.maxUses, Infinity),
    allowExitOnIdle: optionalBoolean('allowExitOnIdle', options.allowExitOnIdle, true),
    leakDetectionThreshold: optionalDuration('leakDetectionThreshold', options.leakDetectionThreshold, 0, false),
  };
}

/** Options that only some pool classes take; anything else given one of these is an error. */
const CLASS_OPTIONS: readonly string[] = [
  'poolSize',
  'maxOverflow',
  'timeout',
  'useLifo',
  'minIdle',
  'idleTimeout',
  'keepAliveInterval',
  'storeTraceback',
];

/**
 * Refuses a class-specific option (`minIdle`, `poolSize`, ...) given to a class that does not take
 * it: silently ignoring `minIdle` on a `NullPool` would hide a configuration mistake.
 */
export function checkClassOptions(className: string, options: object, supported: readonly string[]): void {
  for (const name of CLASS_OPTIONS) {
    if ((options as Record<string, unknown>)[name] !== undefined && !supported.includes(name)) {
      throw new ArgumentError(`Invalid option '${name}': ${className} does not support it${supported.length === 0 ? '' : ` (it takes ${supported.join(', ')})`}`);
    }
  }
}

function validateListeners<C>(options: PoolOptions<C>): void {
  const events: unknown = options.events;
  if (events !== undefined) {
    if (!Array.isArray(events)) throw invalid('events', 'an array of [eventName, listener] pairs', events);
    events.forEach((entry: unknown, index) => {
      if (!Array.isArray(entry) || entry.length !== 2) throw invalid(`events[${index}]`, 'an [eventName, listener] pair', entry);
      const [name, listener] = entry as [unknown, unknown];
      if (typeof name !== 'string' || !(POOL_EVENT_NAMES as readonly string[]).includes(name)) {
        throw invalid(`events[${index}]`, `an event name (${POOL_EVENT_NAMES.join(', ')})`, name);
      }
      if (typeof listener !== 'function') throw invalid(`events[${index}]`, 'a listener function', listener);
    });
  }
  const listeners: unknown = options.listeners;
  if (listeners !== undefined) {
    if (!Array.isArray(listeners)) throw invalid('listeners', 'an array of listener objects', listeners);
    listeners.forEach((entry: unknown, index) => {
      if (typeof entry !== 'object' || entry === null) throw invalid(`listeners[${index}]`, 'a listener object', entry);
      for (const name of ['connect', 'firstConnect', 'checkout', 'checkin'] as const) {
        const fn = (entry as Record<string, unknown>)[name];
        if (fn !== undefined && typeof fn !== 'function') throw invalid(`listeners[${index}].${name}`, 'a function', fn);
      }
    });
  }
}
