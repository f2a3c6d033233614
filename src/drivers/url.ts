/**
 * What every driver's opener needs from a URL: the redaction everything lifeguard says about a URL
 * goes through, the parsing of a server URL and of a local (`sqlite:`, `pglite:`) target.
 */
import { resolve as resolvePath } from 'node:path';
import { ArgumentError } from '../errors.js';

const SECRET_PARAMS = /([?&;](?:password|passwd|pass|pwd|secret|token|access_token|api_?key|sslpassword|sslkey|auth)=)[^&#;]*/gi;

/**
 * The URL with its password (and any query parameter named like a secret: `password`, `token`,
 * `sslpassword`, ...) replaced by `***`. Works on strings that are not valid URLs too, and errs
 * on the side of hiding too much: everything between the user name's `:` and the last `@` of the
 * authority goes, so a password with an unescaped `@` or `/` does not leak its tail.
 *
 * @example
 * redactUrl('postgres://app:s3cret@db:5432/app') // 'postgres://app:***@db:5432/app'
 */
export function redactUrl(url: string): string {
  let out = url;
  const schemeEnd = out.indexOf('://');
  if (schemeEnd !== -1) {
    const authorityStart = schemeEnd + 3;
    // The last '@' anywhere: a password may hold an unescaped '?', '#' or '/'. (An '@' in a query
    // value then hides the host too: too much hidden, never too little.)
    const lastAt = out.lastIndexOf('@');
    if (lastAt >= authorityStart) {
      const colon = out.indexOf(':', authorityStart);
      if (colon !== -1 && colon < lastAt) out = `${out.slice(0, colon + 1)}***${out.slice(lastAt)}`;
    }
  }
  return out.replace(SECRET_PARAMS, '$1***');
}

export function parseServerUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not as cause: Node's URL error carries the whole input, password included.
    throw new ArgumentError(`createPool: invalid database URL ${JSON.stringify(redactUrl(url))}`);
  }
  if (parsed.hostname === '') throw new ArgumentError(`createPool: the URL ${JSON.stringify(redactUrl(url))} names no host`);
  return parsed;
}

export function decode(text: string, url: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ArgumentError(`createPool: invalid percent-encoding in ${JSON.stringify(redactUrl(url))}`);
  }
}

/** `"true"`, `"10"`, `"{...}"` become JSON values; anything else stays a string (mysql2's rule). */
export function paramValue(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/**
 * The target of a `sqlite:` or `pglite:` URL: in memory for `sqlite::memory:`, `sqlite:` and
 * `sqlite://:memory:`; otherwise a path, taken after the scheme's colon, with a leading `//` (an
 * empty URL authority) removed: `sqlite:app.db` and `sqlite://app.db` are relative,
 * `sqlite:/var/app.db` and `sqlite:///var/app.db` absolute. Query parameters are options.
 */
export function localTarget(url: string, scheme: string): { memory: boolean; path: string; params: URLSearchParams } {
  let rest = url.slice(scheme.length + 1);
  const hash = rest.indexOf('#');
  if (hash !== -1) rest = rest.slice(0, hash);
  const question = rest.indexOf('?');
  const params = new URLSearchParams(question === -1 ? '' : rest.slice(question + 1));
  if (question !== -1) rest = rest.slice(0, question);
  if (rest.startsWith('//')) rest = rest.slice(2);
  const path = decode(rest, url);
  const memory = path === '' || path === ':memory:' || path === 'memory://';
  return { memory, path: memory ? ':memory:' : resolvePath(path), params };
}

