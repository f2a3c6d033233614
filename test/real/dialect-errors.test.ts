// Which errors each built-in dialect calls a disconnect, and the dialects' shape (no server needed).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { betterSqlite3Dialect as makeBetterSqlite3Dialect } from '../../src/drivers/better-sqlite3/index.js';
import { closeWithin } from '../../src/drivers/common.js';
import { within } from '../support/wait.js';
import { mariadbDialect as makeMariadbDialect } from '../../src/drivers/mariadb/index.js';
import { mysql2Dialect as makeMysql2Dialect } from '../../src/drivers/mysql2/index.js';
import { isPgDisconnect, pgDialect as makePgDialect } from '../../src/drivers/pg/index.js';
import { pgliteDialect as makePgliteDialect } from '../../src/drivers/pglite/index.js';

const pgDialect = makePgDialect();
const mysql2Dialect = makeMysql2Dialect();
const mariadbDialect = makeMariadbDialect();
const betterSqlite3Dialect = makeBetterSqlite3Dialect();
const pgliteDialect = makePgliteDialect();

const withCode = (message: string, fields: Record<string, unknown>): Error => Object.assign(new Error(message), fields);

describe('pg dialect: isDisconnect', () => {
  const disconnects: [string, unknown][] = [
    ['ECONNRESET', withCode('read ECONNRESET', { code: 'ECONNRESET' })],
    ['EPIPE', withCode('write EPIPE', { code: 'EPIPE' })],
    ['ETIMEDOUT', withCode('connect ETIMEDOUT', { code: 'ETIMEDOUT' })],
    ['ECONNREFUSED inside an AggregateError', new AggregateError([withCode('connect ECONNREFUSED ::1:5432', { code: 'ECONNREFUSED' })], '')],
    ['terminated unexpectedly', new Error('Connection terminated unexpectedly')],
    ['not queryable (error)', new Error('Client has encountered a connection error and is not queryable')],
    ['not queryable (closed)', new Error('Client was closed and is not queryable')],
    ['SQLSTATE 08006', withCode('connection failure', { code: '08006' })],
    ['SQLSTATE 08P01', withCode('protocol violation', { code: '08P01' })],
    ['SQLSTATE 57P01', withCode('terminating connection due to administrator command', { code: '57P01' })],
    ['SQLSTATE 57P02', withCode('crash shutdown', { code: '57P02' })],
    ['SQLSTATE 57P03', withCode('the database system is starting up', { code: '57P03' })],
    ['SQLSTATE 57P05', withCode('idle session timeout', { code: '57P05' })],
    ['a disconnect as cause', new Error('wrapped', { cause: withCode('x', { code: '57P01' }) })],
  ];
  for (const [name, error] of disconnects) {
    it(`${name} is a disconnect`, () => {
      assert.equal(pgDialect.isDisconnect(error), true);
      assert.equal(isPgDisconnect(error), true);
    });
  }
  const others: [string, unknown][] = [
    ['division by zero 22012', withCode('division by zero', { code: '22012' })],
    ['unique violation 23505', withCode('duplicate key', { code: '23505' })],
    ['query canceled 57014', withCode('canceling statement due to user request', { code: '57014' })],
    ['a string', 'oops'],
    ['null', null],
    ['undefined', undefined],
  ];
  for (const [name, error] of others) {
    it(`${name} is not a disconnect`, () => {
      assert.equal(pgDialect.isDisconnect(error), false);
    });
  }

  it('rejects an unknown sessionReset at construction', () => {
    assert.throws(() => makePgDialect({ sessionReset: 'everything' as never }), /sessionReset/);
  });
});

describe('mysql2 and mariadb dialects: isDisconnect', () => {
  const disconnects: [string, unknown][] = [
    ['fatal: true', withCode('anything', { fatal: true })],
    ['PROTOCOL_CONNECTION_LOST', withCode('Connection lost: The server closed the connection.', { code: 'PROTOCOL_CONNECTION_LOST', fatal: true })],
    ["mysql2's closed-state error", withCode("Can't add new command when connection is in closed state", { fatal: true })],
    ['ER_SOCKET_UNEXPECTED_CLOSE', withCode('socket has unexpectedly been closed', { code: 'ER_SOCKET_UNEXPECTED_CLOSE', errno: 45009 })],
    ['ER_CMD_CONNECTION_CLOSED', withCode('Cannot execute new commands: connection closed', { code: 'ER_CMD_CONNECTION_CLOSED' })],
    ['ER_CONNECTION_KILLED (1927)', withCode('Connection was killed', { errno: 1927 })],
    ['ER_CLIENT_INTERACTION_TIMEOUT', withCode('timeout', { code: 'ER_CLIENT_INTERACTION_TIMEOUT' })],
    ['server gone away (2006)', withCode('MySQL server has gone away', { errno: 2006 })],
    ['SQLSTATE 08S01', withCode('x', { sqlState: '08S01' })],
    ['ECONNRESET', withCode('read ECONNRESET', { code: 'ECONNRESET' })],
  ];
  const others: [string, unknown][] = [
    ['ER_DUP_ENTRY', withCode('Duplicate entry', { code: 'ER_DUP_ENTRY', errno: 1062, sqlState: '23000', fatal: false })],
    ['ER_LOCK_DEADLOCK', withCode('Deadlock found', { code: 'ER_LOCK_DEADLOCK', errno: 1213, sqlState: '40001' })],
    ['ER_PARSE_ERROR', withCode('syntax', { code: 'ER_PARSE_ERROR', errno: 1064, sqlState: '42000' })],
  ];
  for (const [dialectName, dialect] of [
    ['mysql2', mysql2Dialect],
    ['mariadb', mariadbDialect],
  ] as const) {
    for (const [name, error] of disconnects) {
      it(`${dialectName}: ${name} is a disconnect`, () => {
        assert.equal(dialect.isDisconnect(error), true);
      });
    }
    for (const [name, error] of others) {
      it(`${dialectName}: ${name} is not a disconnect`, () => {
        assert.equal(dialect.isDisconnect(error), false);
      });
    }
  }
});

describe('every built-in dialect', () => {
  const all = { pgDialect, mysql2Dialect, mariadbDialect, betterSqlite3Dialect, pgliteDialect };
  for (const [name, dialect] of Object.entries(all)) {
    it(`${name} has rollback, commit, close, ping and isDisconnect, and is frozen`, () => {
      for (const method of ['rollback', 'commit', 'close', 'ping', 'isDisconnect'] as const) {
        assert.equal(typeof dialect[method], 'function', method);
      }
      assert.ok(Object.isFrozen(dialect));
    });
  }

  it('each pgDialect(options) call is a dialect of its own', () => {
    assert.notEqual(makePgDialect(), makePgDialect());
    assert.throws(() => makePgDialect({ sessionReset: 'bogus' as never }), /sessionReset/);
  });

  it('the server dialects keep error and end listeners through onConnect', () => {
    const events: string[] = [];
    const fake = {
      on(event: string) {
        events.push(event);
        return fake;
      },
    };
    for (const dialect of [pgDialect, mysql2Dialect, mariadbDialect]) {
      events.length = 0;
      (dialect.onConnect as (conn: unknown, markDead: (error: unknown) => void) => void)(fake, () => {});
      assert.deepEqual(events.sort(), ['end', 'error']);
    }
  });
});

describe('closeWithin', () => {
  it('falls back to the hard close when the polite one hangs', async () => {
    let hard = 0;
    const started = Date.now();
    // closeWithin's timer is unref'd (it must not keep a finished process alive): the ref'd bound
    // of within() keeps the event loop alive while the test waits on it.
    await within(
      closeWithin(() => new Promise(() => {}), 50, () => {
        hard++;
      }),
      5000,
      'the hard close',
    );
    assert.equal(hard, 1);
    assert.ok(Date.now() - started < 1000);
  });

  it('closes hard and rethrows when the polite close fails', async () => {
    let hard = 0;
    await assert.rejects(
      closeWithin(() => Promise.reject(new Error('no goodbye')), 1000, () => {
        hard++;
      }),
      /no goodbye/,
    );
    assert.equal(hard, 1);
  });

  it('does nothing more when the polite close works', async () => {
    let hard = 0;
    await closeWithin(() => Promise.resolve(), 1000, () => {
      hard++;
    });
    assert.equal(hard, 0);
  });
});
