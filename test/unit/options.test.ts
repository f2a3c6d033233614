// Bad input: every option of SPEC sections 2 and 5, on every pool class, with a wrong type or an
// out-of-range value, is refused at construction with an ArgumentError naming the option and the value.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArgumentError, AssertionPool, NullPool, QueuePool, SingletonContextPool, StaticPool } from '../../src/index.js';
import { MockDriver } from '../support/mock-driver.js';

type AnyOptions = Record<string, unknown>;
type Factory = (options: AnyOptions) => unknown;

const POOLS: Record<string, Factory> = {
  QueuePool: (o) => new QueuePool(o as never),
  NullPool: (o) => new NullPool(o as never),
  StaticPool: (o) => new StaticPool(o as never),
  AssertionPool: (o) => new AssertionPool(o as never),
  SingletonContextPool: (o) => new SingletonContextPool(o as never),
};

const noop = (): void => undefined;
const quietLogger = { debug: noop, info: noop, warn: noop, error: noop };
const driver = new MockDriver();
const dialectWithout = (name: string): AnyOptions => Object.fromEntries(Object.entries(driver.dialect).filter(([key]) => key !== name));

/** [option, bad value, text the message must contain besides the option name (default: the value)]. */
type Case = readonly [option: string, value: unknown, shows?: string];

/** SPEC section 2: every pool class. */
const COMMON: readonly Case[] = [
  ['creator', undefined, 'undefined'],
  ['creator', 'postgres://localhost'],
  ['creator', 42],
  ['creator', null, 'null'],
  ['creator', {}, 'object'],
  ['dialect', 'pg'],
  ['dialect', 7],
  ['dialect', null, 'null'],
  ['dialect.rollback', dialectWithout('rollback'), 'undefined'],
  ['dialect.commit', { ...driver.dialect, commit: 'COMMIT' }, 'COMMIT'],
  ['dialect.close', dialectWithout('close'), 'undefined'],
  ['dialect.terminate', { ...driver.dialect, terminate: true }, 'true'],
  ['dialect.ping', { ...driver.dialect, ping: 'SELECT 1' }, 'SELECT 1'],
  ['dialect.isDisconnect', { ...driver.dialect, isDisconnect: 1 }, '1'],
  ['recycle', -2],
  ['recycle', -0.5],
  ['recycle', '3600'],
  ['recycle', Number.NaN, 'NaN'],
  ['recycle', null, 'null'],
  ['resetOnReturn', 'rollbak'],
  ['resetOnReturn', 'ROLLBACK'],
  ['resetOnReturn', 0],
  ['resetOnReturn', {}, 'object'],
  ['prePing', 'yes'],
  ['prePing', 1],
  ['echo', 'verbose'],
  ['echo', 1],
  ['loggingName', 42],
  ['loggingName', ''],
  ['logger', 'console'],
  ['logger', null, 'null'],
  ['logger.warn', { debug: noop, info: noop, error: noop }, 'undefined'],
  ['events', 'connect'],
  ['events[0]', [['conect', noop]], 'conect'],
  ['events[0]', [['connect', 42]], '42'],
  ['events[0]', [42], '42'],
  ['listeners', { connect: noop }, 'object'],
  ['listeners[0]', [42], '42'],
  ['listeners[0].checkout', [{ checkout: 'yes' }], 'yes'],
  ['useContextLocal', 'true'],
  ['useContextLocal', 1],
];

/** SPEC section 5, per class. */
const SPECIFIC: Record<string, readonly Case[]> = {
  QueuePool: [
    ['poolSize', -1],
    ['poolSize', 2.5],
    ['poolSize', '5'],
    ['poolSize', Number.NaN, 'NaN'],
    ['poolSize', Infinity, 'Infinity'],
    ['maxOverflow', -2],
    ['maxOverflow', 1.5],
    ['maxOverflow', '10'],
    ['maxOverflow', null, 'null'],
    ['timeout', -1],
    ['timeout', Number.NaN, 'NaN'],
    ['timeout', '30000'],
    ['timeout', null, 'null'],
    ['useLifo', 'true'],
    ['useLifo', 1],
  ],
  NullPool: [],
  StaticPool: [],
  AssertionPool: [
    ['storeTraceback', 'no'],
    ['storeTraceback', 0],
  ],
  SingletonContextPool: [
    ['poolSize', -1],
    ['poolSize', 0],
    ['poolSize', 1.5],
    ['poolSize', '5'],
  ],
};

function optionsWith(option: string, value: unknown): AnyOptions {
  const [head] = option.split(/[.[]/);
  const base: AnyOptions = { creator: driver.creator, dialect: driver.dialect, logger: quietLogger };
  // An option given as undefined is left out altogether (the way a caller forgets it).
  return Object.fromEntries([...Object.entries(base).filter(([key]) => key !== head), ...(value === undefined ? [] : [[head!, value]])]);
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  return '';
}

function expectArgumentError(make: () => unknown, option: string, shows: string): void {
  assert.throws(make, (error: unknown) => {
    assert.ok(error instanceof ArgumentError, `expected an ArgumentError, got ${String(error)}`);
    assert.equal(error.code, 'ARGUMENT');
    assert.ok(error.message.includes(option), `message ${JSON.stringify(error.message)} should name ${option}`);
    assert.ok(error.message.includes(shows), `message ${JSON.stringify(error.message)} should show ${JSON.stringify(shows)}`);
    return true;
  });
}

for (const [className, make] of Object.entries(POOLS)) {
  describe(`${className} options`, () => {
    it('accepts the valid minimal and edge values', () => {
      make({ creator: driver.creator });
      make(optionsWith('recycle', -1));
      make(optionsWith('recycle', 0));
      for (const reset of ['rollback', 'commit', 'none', true, false, null]) make(optionsWith('resetOnReturn', reset));
      make({ ...optionsWith('echo', 'debug'), logger: quietLogger });
      make(optionsWith('prePing', true));
    });

    it('refuses a missing or non-object options argument', () => {
      expectArgumentError(() => make(undefined as never), 'options', 'undefined');
      expectArgumentError(() => make('postgres://x' as never), 'options', 'postgres://x');
    });

    it('refuses prePing without a dialect ping', () => {
      expectArgumentError(() => make({ creator: driver.creator, dialect: dialectWithout('ping'), prePing: true }), 'prePing', 'ping');
      expectArgumentError(() => make({ creator: driver.creator, prePing: true }), 'prePing', 'ping');
    });

    for (const [option, value, shows] of [...COMMON, ...(SPECIFIC[className] ?? [])]) {
      const label = typeof value === 'string' ? JSON.stringify(value) : describeValue(value) || (Array.isArray(value) ? 'an array' : 'an object');
      it(`refuses ${option} = ${label}`, () => {
        expectArgumentError(() => make(optionsWith(option, value)), option, shows ?? describeValue(value));
      });
    }
  });
}

describe('QueuePool option edge values', () => {
  it('accepts poolSize 0, maxOverflow -1 and 0, timeout 0 and Infinity', () => {
    for (const extra of [{ poolSize: 0 }, { maxOverflow: -1 }, { maxOverflow: 0 }, { timeout: 0 }, { timeout: Infinity }, { useLifo: true }]) {
      const pool = new QueuePool({ creator: driver.creator, dialect: driver.dialect, ...extra });
      assert.ok(pool instanceof QueuePool);
    }
  });
});
