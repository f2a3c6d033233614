/**
 * libpq's multi-host URLs and `target_session_attrs` for the pg opener (SPEC section 14).
 *
 * node-postgres's `Client` takes one host, so a URL such as
 * `postgres://app@h1:5432,h2:5433/app?target_session_attrs=read-write` is split into one
 * single-host URL per host (each still parsed by pg itself), and a new connection tries them in
 * order, keeping the first whose session matches. A plain URL (one host, no
 * `target_session_attrs`) never comes here: it is opened exactly as before.
 */
import { ArgumentError, NoMatchingHostError } from '../../errors.js';
import type { HostAnswer } from '../../errors.js';
import { monotonicNow } from '../../clock.js';
import { withDeadline } from '../../deadline.js';
import { noop, stringProperty } from '../common.js';
import { parseServerUrl, redactUrl } from '../url.js';

/** libpq's `target_session_attrs` values. */
export type TargetSessionAttrs = 'any' | 'read-write' | 'read-only' | 'primary' | 'standby' | 'prefer-standby';

const TARGET_SESSION_ATTRS: ReadonlySet<string> = new Set(['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby']);

/** libpq's default port, for a host written without one. */
const DEFAULT_PORT = 5432;

export interface PgHost {
  /** `host:port` for messages (an IPv6 address keeps its brackets). */
  readonly label: string;
  /** A single-host URL for pg: the original with this host and port, `target_session_attrs` removed. */
  readonly url: string;
}

export interface PgTargets {
  readonly attrs: TargetSessionAttrs;
  readonly hosts: readonly PgHost[];
}

/** What a session says about itself: one round trip right after connecting. */
export interface SessionState {
  readonly inRecovery: boolean;
  readonly readOnly: boolean;
}

/** The query-string keys the split takes out of what pg sees. */
function queryKey(segment: string): string {
  const equals = segment.indexOf('=');
  const raw = equals === -1 ? segment : segment.slice(0, equals);
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

function queryValue(segment: string): string {
  const equals = segment.indexOf('=');
  if (equals === -1) return '';
  try {
    return decodeURIComponent(segment.slice(equals + 1).replace(/\+/g, ' '));
  } catch {
    return segment.slice(equals + 1);
  }
}

function bad(url: string, what: string): ArgumentError {
  return new ArgumentError(`createPool: the URL ${JSON.stringify(redactUrl(url))} ${what}`);
}

/**
 * The hosts of a PostgreSQL URL and its `target_session_attrs`, or `null` for a plain URL (one
 * host, no `target_session_attrs`), which the opener hands to pg unchanged.
 *
 * A host written without a port takes the URL's `port=` query parameter (one value for every host,
 * or a comma-separated list with one value per host), else 5432: libpq's rule, where an empty item
 * of the port list means the default port.
 */
export function parsePgTargets(url: string): PgTargets | null {
  const schemeEnd = url.indexOf('://');
  if (schemeEnd === -1) return null;
  const authorityStart = schemeEnd + 3;
  let authorityEnd = url.length;
  for (const stop of ['/', '?', '#']) {
    const at = url.indexOf(stop, authorityStart);
    if (at !== -1 && at < authorityEnd) authorityEnd = at;
  }
  const authority = url.slice(authorityStart, authorityEnd);
  const at = authority.lastIndexOf('@');
  const hostPart = authority.slice(at + 1);
  const multiHost = hostPart.includes(',');
  if (!multiHost && !url.includes('target_session_attrs')) return null;

  // Path, query (without the keys we handle) and no fragment.
  const hashAt = url.indexOf('#', authorityEnd);
  const rest = hashAt === -1 ? url.slice(authorityEnd) : url.slice(authorityEnd, hashAt);
  const questionAt = rest.indexOf('?');
  const path = questionAt === -1 ? rest : rest.slice(0, questionAt);
  const segments = questionAt === -1 ? [] : rest.slice(questionAt + 1).split('&').filter((segment) => segment !== '');
  let attrs: string = 'any';
  let portList: string[] = [];
  const kept: string[] = [];
  for (const segment of segments) {
    const key = queryKey(segment);
    if (key === 'target_session_attrs') attrs = queryValue(segment);
    else if (key === 'port' && multiHost) portList = queryValue(segment).split(',');
    else if (key === 'host' && multiHost) throw bad(url, 'names its hosts both in the authority and in a host= parameter; list them in the authority only');
    else kept.push(segment);
  }
  if (!TARGET_SESSION_ATTRS.has(attrs)) {
    throw new ArgumentError(
      `createPool: target_session_attrs must be one of any, read-write, read-only, primary, standby, prefer-standby; got ${JSON.stringify(attrs)}`,
    );
  }
  const entries = hostPart.split(',');
  if (portList.length > 1 && portList.length !== entries.length) throw bad(url, `gives ${portList.length} ports in port= for ${entries.length} hosts`);
  const prefix = url.slice(0, authorityStart) + (at === -1 ? '' : authority.slice(0, at + 1));
  const tail = path + (kept.length === 0 ? '' : `?${kept.join('&')}`);
  const hosts = entries.map((entry, index): PgHost => {
    let host: string;
    let portText: string | undefined;
    if (entry.startsWith('[')) {
      const close = entry.indexOf(']');
      if (close === -1) throw bad(url, `has an unclosed IPv6 address ${JSON.stringify(entry)}`);
      host = entry.slice(0, close + 1);
      const after = entry.slice(close + 1);
      if (after !== '' && !after.startsWith(':')) throw bad(url, `has an invalid host ${JSON.stringify(entry)}`);
      portText = after === '' ? undefined : after.slice(1);
    } else {
      const colon = entry.indexOf(':');
      host = colon === -1 ? entry : entry.slice(0, colon);
      portText = colon === -1 ? undefined : entry.slice(colon + 1);
    }
    if (host === '' || host === '[]') throw bad(url, `has an empty host (entry ${index + 1})`);
    if (portText === undefined || portText === '') portText = (portList.length === 1 ? portList[0] : portList[index]) ?? '';
    const port = portText === '' ? DEFAULT_PORT : Number(portText);
    if (!/^\d*$/.test(portText) || !Number.isInteger(port) || port < 1 || port > 65535) throw bad(url, `has an invalid port ${JSON.stringify(portText)} for host ${host}`);
    const single = `${prefix}${host}:${port}${tail}`;
    parseServerUrl(single);
    return { label: `${host}:${port}`, url: single };
  });
  return { attrs: attrs as TargetSessionAttrs, hosts };
}

/** The one round trip that tells a session's kind. */
export const SESSION_QUERY = "SELECT pg_is_in_recovery() AS in_recovery, current_setting('transaction_read_only') AS read_only";

export function sessionState(result: unknown): SessionState {
  const row = (result as { rows?: Record<string, unknown>[] } | null)?.rows?.[0];
  if (row === undefined) throw new Error('the session check returned no row');
  return { inRecovery: row.in_recovery === true || row.in_recovery === 't', readOnly: row.read_only === 'on' };
}

/** Whether a session is what `attrs` asks for (`prefer-standby` prefers a standby; see {@link openMatching}). */
export function matches(attrs: TargetSessionAttrs, session: SessionState): boolean {
  switch (attrs) {
    case 'any':
      return true;
    case 'read-write':
      return !session.readOnly;
    case 'read-only':
      return session.readOnly;
    case 'primary':
      return !session.inRecovery;
    case 'standby':
    case 'prefer-standby':
      return session.inRecovery;
  }
}

export function describeSession(session: SessionState): string {
  if (session.inRecovery) return 'read-only (in recovery)';
  return session.readOnly ? 'read-only (primary, transaction_read_only is on)' : 'read-write (primary)';
}

/** A connect error in a few words: a socket code (`ECONNREFUSED`) alone, otherwise the message. */
export function describeConnectError(error: unknown): string {
  const code = stringProperty(error, 'code');
  if (code !== undefined && /^E[A-Z]+$/.test(code)) return code;
  const message = error instanceof Error ? error.message : String(error);
  return code === undefined ? message : `${message} (${code})`;
}

/** What {@link openMatching} needs from a connected client. */
export interface MatchableClient {
  query(text: string): Promise<unknown>;
}

/**
 * Connects to the hosts in order and returns the first session that matches `targets.attrs`,
 * closing every other one it opened. `budgetMs` (the pool's `connectTimeout`) bounds the whole
 * attempt: each host gets what is left of it, and hosts not reached in time are reported so.
 * With `prefer-standby`, the first session of any kind is kept while the others are tried, and
 * returned when no host is a standby (libpq tries standbys first, then any host).
 */
export async function openMatching<C extends MatchableClient>(
  targets: PgTargets,
  connect: (host: PgHost, timeoutMs: number | undefined) => Promise<C>,
  discard: (client: C) => void,
  budgetMs: number | undefined,
): Promise<C> {
  const deadline = budgetMs === undefined ? Infinity : monotonicNow() + budgetMs;
  const answers: HostAnswer[] = [];
  let lastError: unknown;
  let fallback: C | null = null;
  for (const host of targets.hosts) {
    const remaining = deadline - monotonicNow();
    if (remaining <= 0) {
      answers.push({ host: host.label, answer: 'not tried (connectTimeout passed)' });
      continue;
    }
    const timeoutMs = remaining === Infinity ? undefined : Math.max(1, Math.ceil(remaining));
    let client: C;
    try {
      client = await connect(host, timeoutMs);
    } catch (error) {
      lastError = error;
      answers.push({ host: host.label, answer: describeConnectError(error) });
      continue;
    }
    let session: SessionState;
    try {
      session = targets.attrs === 'any' ? { inRecovery: false, readOnly: false } : sessionState(await withinTime(client.query(SESSION_QUERY), deadline));
    } catch (error) {
      discard(client);
      lastError = error;
      answers.push({ host: host.label, answer: `session check failed: ${describeConnectError(error)}` });
      continue;
    }
    if (matches(targets.attrs, session)) {
      if (fallback !== null) discard(fallback);
      return client;
    }
    answers.push({ host: host.label, answer: describeSession(session) });
    if (targets.attrs === 'prefer-standby' && fallback === null) fallback = client;
    else discard(client);
  }
  if (fallback !== null) return fallback;
  throw new NoMatchingHostError(targets.attrs, answers, lastError === undefined ? undefined : { cause: lastError });
}

/** `promise` bounded by the walk's deadline (the pool's own connect deadline keeps the caller's process alive). */
function withinTime<T>(promise: Promise<T>, deadline: number): Promise<T> {
  if (deadline === Infinity) return promise;
  return withDeadline(promise, Math.max(0, deadline - monotonicNow()), () => new Error('no answer before connectTimeout'), noop, true);
}
