/** Where log lines go: `console` by default, or any object with these four methods. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export type EchoLevel = boolean | 'debug';

/**
 * The pool's log, prefixed with its `loggingName`. `echo: true` shows invalidations, recycles and
 * disposals (info); `echo: 'debug'` adds checkout, checkin and reset. Warnings and errors (a double
 * checkin, a leaked connection, a failed reset) are always written: they mean something is wrong.
 * Log lines name connections by their slot number, never by the driver object, so a connection's
 * configuration (and its password) never reaches a log.
 */
export class PoolLog {
  readonly debugEnabled: boolean;
  readonly infoEnabled: boolean;
  readonly #prefix: string;
  readonly #logger: Logger;

  constructor(name: string, logger: Logger, echo: EchoLevel) {
    this.#prefix = `[${name}] `;
    this.#logger = logger;
    this.debugEnabled = echo === 'debug';
    this.infoEnabled = echo !== false;
  }

  debug(message: string): void {
    if (this.debugEnabled) this.#logger.debug(this.#prefix + message);
  }

  info(message: string): void {
    if (this.infoEnabled) this.#logger.info(this.#prefix + message);
  }

  /** An info line written whatever `echo` says (e.g. a leak-detection report coming to its end). */
  notice(message: string): void {
    this.#logger.info(this.#prefix + message);
  }

  warn(message: string): void {
    this.#logger.warn(this.#prefix + message);
  }

  error(message: string, error?: unknown): void {
    this.#logger.error(this.#prefix + message + (error === undefined ? '' : `: ${describeError(error)}`));
  }
}

/** `Name: message` for an error, or a safe string for anything else thrown. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  try {
    return String(error);
  } catch {
    return Object.prototype.toString.call(error);
  }
}
