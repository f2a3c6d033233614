// libpq multi-host URLs and target_session_attrs: parsing, redaction, and the walk over the hosts (fake clients).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArgumentError, NoMatchingHostError, redactUrl } from '../../src/index.js';
import { openMatching, parsePgTargets } from '../../src/drivers/pg/multi-host.js';
import type { PgHost, PgTargets, TargetSessionAttrs } from '../../src/drivers/pg/multi-host.js';

describe('parsePgTargets', () => {
  it('a plain single-host URL is left to pg (null)', () => {
    assert.equal(parsePgTargets('postgres://app:pw@db:5432/app?sslmode=disable'), null);
    assert.equal(parsePgTargets('postgresql://db/app'), null);
  });

  it('splits the hosts into single-host URLs, without target_session_attrs', () => {
    const targets = parsePgTargets('postgres://app:p%40ss@h1:5432,h2:5433,[::1]:5434/app?target_session_attrs=read-write&application_name=x');
    assert.deepEqual(targets, {
      attrs: 'read-write',
      hosts: [
        { label: 'h1:5432', url: 'postgres://app:p%40ss@h1:5432/app?application_name=x' },
        { label: 'h2:5433', url: 'postgres://app:p%40ss@h2:5433/app?application_name=x' },
        { label: '[::1]:5434', url: 'postgres://app:p%40ss@[::1]:5434/app?application_name=x' },
      ],
    });
  });

  it('a host without a port takes 5432 (libpq\'s default), or the port= parameter (one for all, or one per host)', () => {
    assert.deepEqual(parsePgTargets('postgres://h1,h2:6000,[::1]/db')?.hosts.map((host) => host.label), ['h1:5432', 'h2:6000', '[::1]:5432']);
    assert.deepEqual(parsePgTargets('postgres://h1,h2/db?port=6001')?.hosts.map((host) => host.url), ['postgres://h1:6001/db', 'postgres://h2:6001/db']);
    assert.deepEqual(parsePgTargets('postgres://h1,h2:7000/db?port=6001,6002')?.hosts.map((host) => host.label), ['h1:6001', 'h2:7000']);
  });

  it('a single host with target_session_attrs is checked too; the default is any', () => {
    assert.deepEqual(parsePgTargets('postgres://u@db/app?target_session_attrs=standby'), { attrs: 'standby', hosts: [{ label: 'db:5432', url: 'postgres://u@db:5432/app' }] });
    assert.equal(parsePgTargets('postgres://h1,h2/app')?.attrs, 'any');
  });

  it('bad input is an ArgumentError that never shows the password', () => {
    const bad: [string, RegExp][] = [
      ['postgres://u:secret@h1,h2/db?target_session_attrs=writable', /target_session_attrs must be one of any, read-write, read-only, primary, standby, prefer-standby; got "writable"/],
      ['postgres://u:secret@h1,,h2/db', /has an empty host \(entry 2\)/],
      ['postgres://u:secret@h1:99999,h2/db', /invalid port "99999" for host h1/],
      ['postgres://u:secret@h1:5x,h2/db', /invalid port "5x"/],
      ['postgres://u:secret@[::1,h2/db', /unclosed IPv6 address/],
      ['postgres://u:secret@h1,h2/db?port=1,2,3', /gives 3 ports in port= for 2 hosts/],
      ['postgres://u:secret@h1,h2/db?host=/tmp', /host= parameter/],
    ];
    for (const [url, pattern] of bad) {
      assert.throws(() => parsePgTargets(url), (error: unknown) => {
        assert.ok(error instanceof ArgumentError, url);
        assert.match(error.message, pattern);
        assert.doesNotMatch(error.message, /secret/);
        return true;
      });
    }
  });
});

describe('redactUrl with several hosts', () => {
  it('hides the password and keeps every host', () => {
    assert.equal(redactUrl('postgres://app:s3cret@h1:5432,h2:5433,[::1]:5434/db?target_session_attrs=read-write'), 'postgres://app:***@h1:5432,h2:5433,[::1]:5434/db?target_session_attrs=read-write');
    assert.equal(redactUrl('postgres://app@h1,h2/db?password=s3cret'), 'postgres://app@h1,h2/db?password=***');
    assert.equal(redactUrl('postgres://h1:5432,h2:5433/db'), 'postgres://h1:5432,h2:5433/db');
  });
});

/** A fake host: refuses, or gives a session of a kind; records what was opened and discarded. */
type Kind = 'refused' | 'primary' | 'standby' | 'read-only-primary' | 'check-fails';
class FakeClient {
  discarded = false;
  constructor(readonly kind: Kind, readonly label: string) {}
  query(): Promise<unknown> {
    if (this.kind === 'check-fails') return Promise.reject(new Error('boom'));
    const inRecovery = this.kind === 'standby';
    return Promise.resolve({ rows: [{ in_recovery: inRecovery, read_only: inRecovery || this.kind === 'read-only-primary' ? 'on' : 'off' }] });
  }
}

async function walk(attrs: TargetSessionAttrs, kinds: Kind[], budgetMs?: number) {
  const targets: PgTargets = { attrs, hosts: kinds.map((_kind, index): PgHost => ({ label: `h${index + 1}:5432`, url: `postgres://h${index + 1}:5432/db` })) };
  const opened: FakeClient[] = [];
  const timeouts: (number | undefined)[] = [];
  const connect = (host: PgHost, timeoutMs: number | undefined): Promise<FakeClient> => {
    timeouts.push(timeoutMs);
    const kind = kinds[targets.hosts.indexOf(host)] as Kind;
    if (kind === 'refused') return Promise.reject(Object.assign(new Error(`connect ECONNREFUSED ${host.label}`), { code: 'ECONNREFUSED' }));
    const client = new FakeClient(kind, host.label);
    opened.push(client);
    return Promise.resolve(client);
  };
  const discard = (client: FakeClient): void => {
    client.discarded = true;
  };
  try {
    const kept = await openMatching(targets, connect, discard, budgetMs);
    return { kept: kept.label, opened, timeouts, error: undefined };
  } catch (error) {
    return { kept: undefined, opened, timeouts, error };
  }
}

describe('openMatching', () => {
  const cases: [TargetSessionAttrs, Kind[], string][] = [
    ['any', ['primary', 'standby'], 'h1:5432'],
    ['any', ['refused', 'standby'], 'h2:5432'],
    ['read-write', ['standby', 'primary'], 'h2:5432'],
    ['read-write', ['read-only-primary', 'primary'], 'h2:5432'],
    ['read-only', ['primary', 'read-only-primary'], 'h2:5432'],
    ['read-only', ['primary', 'standby'], 'h2:5432'],
    ['primary', ['standby', 'read-only-primary'], 'h2:5432'],
    ['standby', ['refused', 'primary', 'standby'], 'h3:5432'],
    ['prefer-standby', ['primary', 'standby'], 'h2:5432'],
    ['prefer-standby', ['refused', 'primary', 'primary'], 'h2:5432'],
    ['read-write', ['check-fails', 'primary'], 'h2:5432'],
  ];
  for (const [attrs, kinds, expected] of cases) {
    it(`${attrs} over [${kinds.join(', ')}] keeps ${expected} and closes every other session`, async () => {
      const result = await walk(attrs, kinds);
      assert.equal(result.error, undefined);
      assert.equal(result.kept, expected);
      for (const client of result.opened) assert.equal(client.discarded, client.label !== expected, client.label);
    });
  }

  it('none matching: NoMatchingHostError names the value and each host\'s answer', async () => {
    const result = await walk('read-write', ['standby', 'refused', 'read-only-primary', 'check-fails']);
    assert.ok(result.error instanceof NoMatchingHostError);
    assert.equal(result.error.code, 'NO_MATCHING_HOST');
    assert.equal(result.error.targetSessionAttrs, 'read-write');
    assert.equal(
      result.error.message,
      'no host matches target_session_attrs=read-write (h1:5432: read-only (in recovery); h2:5432: ECONNREFUSED; h3:5432: read-only (primary, transaction_read_only is on); h4:5432: session check failed: boom)',
    );
    assert.equal(result.error.hosts.length, 4);
    assert.ok(result.opened.every((client) => client.discarded), 'every session it opened is closed');
  });

  it('each host gets what is left of the budget; none is tried after it', async () => {
    const result = await walk('read-write', ['refused', 'primary'], 5000);
    assert.equal(result.kept, 'h2:5432');
    assert.equal(result.timeouts.length, 2);
    for (const timeout of result.timeouts) assert.ok(timeout !== undefined && timeout > 0 && timeout <= 5000);
    const unbounded = await walk('any', ['primary']);
    assert.deepEqual(unbounded.timeouts, [undefined]);
  });
});
