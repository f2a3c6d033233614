// Regression (found by the lifecycle model test): a checkout that came back WITHOUT its connection
// (closed on return at maxUses, stale, dead, or detached) parked its established slot in the idle
// set empty and never told the housekeeper, so fewer than minIdle connections stayed idle until some
// unrelated event triggered a fill. QueuePool._doReturn now asks the housekeeper to top up.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QueuePool } from '../../src/index.js';
import type { QueuePoolOptions } from '../../src/index.js';
import { MockDriver } from '../support/mock-driver.js';
import type { MockConnection } from '../support/mock-driver.js';
import { until } from '../support/wait.js';

function setup(options: Partial<QueuePoolOptions<MockConnection>>) {
  const driver = new MockDriver();
  const noop = (): void => undefined;
  const logger = { debug: noop, info: noop, warn: noop, error: noop };
  const pool = new QueuePool<MockConnection>({ creator: driver.creator, dialect: driver.dialect, logger, poolSize: 2, maxOverflow: 0, minIdle: 2, ...options });
  return { driver, pool };
}

describe('minIdle after a checkout comes back without its connection', () => {
  it('maxUses: the connection closed on return is replaced in the background', async () => {
    const { driver, pool } = setup({ maxUses: 1 });
    await until(() => pool.stats().idle === 2, 'minIdle (2) connections at construction');
    const pc = await pool.connect();
    await pc.close(); // its one use is spent: closed on return, the slot goes back to the idle set empty
    assert.equal(driver.get(1).closed, true, '#1 closed on return');
    await until(() => pool.stats().idle === 2, 'the idle set topped up to minIdle again', 500);
    await pool.close();
  });

  it('detach: the slot given back empty is refilled in the background', async () => {
    const { pool } = setup({});
    await until(() => pool.stats().idle === 2, 'minIdle (2) connections at construction');
    const pc = await pool.connect();
    await until(() => pool.stats().idle === 1 && pool.stats().connecting === 0, 'one idle (no room below poolSize to fill)');
    pc.detach(); // the slot goes back empty; the driver connection is the caller's
    await until(() => pool.stats().idle === 2, 'the idle set topped up to minIdle again', 500);
    await pc.close();
    await pool.close();
  });
});
