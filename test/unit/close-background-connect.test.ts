// Found while building the soak (test/soak/soak.ts): QueuePool.close() used to resolve while a
// background connect (the minIdle fill) was still under way; the connection it delivered was opened
// after close() resolved and closed later, unawaited. close() now waits for the pool's background
// work (connects, keep-alive pings, closes) to settle, and closes what it delivers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QueuePool } from '../../src/index.js';
import { CaptureLogger } from '../support/capture-logger.js';
import { MockDriver } from '../support/mock-driver.js';
import type { MockConnection } from '../support/mock-driver.js';
import { within } from '../support/wait.js';

function afterClose(pool: QueuePool<MockConnection>, driver: MockDriver): unknown {
  const stats = pool.stats();
  return { open: driver.live(), checkedOut: pool.checkedOut(), idle: stats.idle, connecting: stats.connecting };
}

const CLEAN = { open: 0, checkedOut: 0, idle: 0, connecting: 0 };

describe('QueuePool.close() with a background connect in flight', () => {
  it('close() right after construction (the minIdle fill is connecting) leaves no connection open', async () => {
    const driver = new MockDriver();
    const pool = new QueuePool<MockConnection>({ creator: driver.creator, dialect: driver.dialect, logger: new CaptureLogger(), poolSize: 2, minIdle: 1 });
    await pool.close();
    assert.deepEqual(afterClose(pool, driver), CLEAN);
  });

  it('close() while the top-up after a checkout is connecting leaves no connection open', async () => {
    const driver = new MockDriver();
    const pool = new QueuePool<MockConnection>({ creator: driver.creator, dialect: driver.dialect, logger: new CaptureLogger(), poolSize: 2, minIdle: 1 });
    await pool.warmUp();
    const gate = driver.hangConnect();
    const pc = await pool.connect(); // takes the idle connection: the housekeeper tops the idle set up
    await within(gate.started, 2000, 'the background top-up connect');
    await pc.close();
    const closing = pool.close();
    gate.release(); // the driver completes the connect while close() is under way
    await closing;
    assert.deepEqual(afterClose(pool, driver), CLEAN);
  });
});
