// The QueuePool soak (test/soak/soak.ts) at 50,000 checkouts: exact accounting after close(), and
// every fault kind actually injected and actually seen, so the run cannot pass vacuously.
// No assertion depends on timing: counts of timeouts vary with the machine, only "at least one" is asserted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runSoak } from '../soak/soak.js';

const SEED = 20240611;

describe('QueuePool soak on the mock driver', () => {
  it('50,000 checkouts by 64 callers under random faults: every count exact after close()', async () => {
    // runSoak itself throws, naming each count that is off (pool stats, checkedOut, driver
    // connections open or closed twice, misuse, pending callers, unexpected errors).
    const report = await runSoak({ checkouts: 50_000, callers: 64, seed: SEED });
    const { outcomes, faults, connections, finalStats } = report;

    assert.equal(report.attempts, 50_000);
    const failed = outcomes.poolTimeout + outcomes.connectTimeout + outcomes.disconnect + outcomes.abortedBefore + outcomes.abortedWhileWaiting;
    assert.equal(outcomes.ok + failed, 50_000, 'every attempt settled as a success or an expected error');
    assert.ok(outcomes.ok > 40_000, `most checkouts succeed (${outcomes.ok})`);
    assert.equal(finalStats.checkouts, outcomes.ok);
    assert.equal(finalStats.timeouts, outcomes.poolTimeout);
    assert.deepEqual(
      [finalStats.used, finalStats.idle, finalStats.pending, finalStats.connecting],
      [0, 0, 0, 0],
      'nothing used, idle, waiting or connecting after close()',
    );
    assert.equal(connections.closed, connections.opened, 'every driver connection closed');
    assert.equal(finalStats.created, connections.opened);
    assert.equal(finalStats.closed, connections.closed);

    // Each fault was injected...
    for (const [kind, count] of Object.entries(faults)) assert.ok(count > 0, `fault '${kind}' was injected (${count})`);
    // ...and each had its effect.
    assert.ok(outcomes.poolTimeout > 0, 'some callers hit PoolTimeoutError');
    assert.ok(outcomes.connectTimeout > 0, 'some callers hit ConnectTimeoutError');
    assert.ok(outcomes.disconnect > 0, 'some callers saw a refused connect');
    assert.ok(outcomes.abortedBefore > 0, 'some callers were aborted before connect()');
    assert.ok(outcomes.abortedWhileWaiting > 0, 'some callers were aborted while waiting');
    assert.ok(report.prePingFailures > 0, 'some pre-pings failed and replaced connections');
    assert.ok(finalStats.invalidations >= faults.hardInvalidate + faults.softInvalidate);
    assert.ok(connections.opened > 100, `connections were replaced many times (${connections.opened} opened)`);
  });

  it('the fault schedule is a function of the seed alone', async () => {
    // Outcomes depend on real timers (timeouts, hung connects); the schedule of faults does not.
    const a = await runSoak({ checkouts: 2_000, callers: 8, seed: 7 });
    const b = await runSoak({ checkouts: 2_000, callers: 3, seed: 7 });
    const c = await runSoak({ checkouts: 2_000, callers: 8, seed: 8 });
    assert.equal(a.scheduleDigest, b.scheduleDigest);
    assert.notEqual(a.scheduleDigest, c.scheduleDigest);
  });
});
