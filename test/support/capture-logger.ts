import type { Logger } from '../../src/index.js';

/** A logger that keeps every line, so tests can assert on warnings and stay quiet. */
type Level = 'debug' | 'info' | 'warn' | 'error';

export class CaptureLogger implements Logger {
  readonly lines: { level: Level; message: string }[] = [];
  readonly #watchers: { level: Level; pattern: RegExp; resolve: (message: string) => void }[] = [];
  debug(message: string): void {
    this.#add('debug', message);
  }
  info(message: string): void {
    this.#add('info', message);
  }
  warn(message: string): void {
    this.#add('warn', message);
  }
  error(message: string): void {
    this.#add('error', message);
  }
  #add(level: Level, message: string): void {
    this.lines.push({ level, message });
    for (const watcher of [...this.#watchers]) {
      if (watcher.level === level && watcher.pattern.test(message)) {
        this.#watchers.splice(this.#watchers.indexOf(watcher), 1);
        watcher.resolve(message);
      }
    }
  }
  /** The next line at `level` matching `pattern` (one already logged counts), within `ms` (a ref'd bound). */
  next(level: Level, pattern: RegExp, ms = 5000): Promise<string> {
    const already = this.at(level).find((message) => pattern.test(message));
    if (already !== undefined) return Promise.resolve(already);
    let timer: NodeJS.Timeout | undefined;
    return new Promise<string>((resolve, reject) => {
      this.#watchers.push({ level, pattern, resolve });
      timer = setTimeout(() => { reject(new Error(`no ${level} line matching ${String(pattern)} within ${ms}ms`)); }, ms);
    }).finally(() => { clearTimeout(timer); });
  }
  /** Messages at `level`. */
  at(level: 'debug' | 'info' | 'warn' | 'error'): string[] {
    return this.lines.filter((line) => line.level === level).map((line) => line.message);
  }
}

/** Resolves after pending I/O callbacks and immediates: lets fire-and-forget work finish. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
