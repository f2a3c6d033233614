/**
 * The demo's simulated web application: a small bank where requests read account pages, log page
 * views and transfer money in transactions. Requests hold their connection for a while, as real
 * handlers do (they render, call other services), so the pool is under real contention.
 *
 * Money only moves between accounts, so the total balance never changes: the demo checks it at the
 * end, which proves no transaction was half-applied when connections were killed under it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SqlDriver } from './sql.js';

export type RequestKind = 'read' | 'write' | 'transfer';

export const ACCOUNTS = 100;
export const INITIAL_BALANCE = 1000;

/** A small, fast, seedable random generator (mulberry32), so runs are comparable. */
export function randomGenerator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 55% reads, 30% writes, 15% transfers. */
export function pickKind(random: () => number): RequestKind {
  const r = random();
  if (r < 0.55) return 'read';
  if (r < 0.85) return 'write';
  return 'transfer';
}

function between(random: () => number, low: number, high: number): number {
  return low + Math.floor(random() * (high - low + 1));
}

/** Fills the accounts table. */
export async function seed(driver: SqlDriver, connection: unknown, prefix: string): Promise<void> {
  const values: string[] = [];
  for (let id = 1; id <= ACCOUNTS; id++) values.push(`(${id}, 'customer-${id}', ${INITIAL_BALANCE})`);
  await driver.query(connection, `INSERT INTO ${prefix}accounts (id, owner, balance) VALUES ${values.join(', ')}`);
}

/** Sum of all balances: `ACCOUNTS * INITIAL_BALANCE` when every transfer was all or nothing. */
export async function totalBalance(driver: SqlDriver, connection: unknown, prefix: string): Promise<number> {
  const rows = await driver.query(connection, `SELECT SUM(balance) AS total FROM ${prefix}accounts`);
  return Number(rows[0]?.total);
}

/**
 * One request's database work on a checked-out connection. `random` decides the account, the
 * amount and how long the handler "works" while holding the connection.
 */
export async function handle(kind: RequestKind, driver: SqlDriver, connection: unknown, prefix: string, random: () => number): Promise<void> {
  const account = between(random, 1, ACCOUNTS);
  switch (kind) {
    case 'read': {
      // An account page: the account, then its recent activity, then rendering.
      await driver.query(connection, `SELECT owner, balance FROM ${prefix}accounts WHERE id = ?`, [account]);
      await driver.query(connection, `SELECT COUNT(*) AS n, COALESCE(SUM(amount), 0) AS total FROM ${prefix}transfers WHERE from_id = ?`, [
        account,
      ]);
      await sleep(between(random, 20, 80));
      return;
    }
    case 'write': {
      await sleep(between(random, 20, 80));
      await driver.query(connection, `INSERT INTO ${prefix}page_views (account_id, path) VALUES (?, ?)`, [account, `/accounts/${account}`]);
      return;
    }
    case 'transfer': {
      let other = between(random, 1, ACCOUNTS - 1);
      if (other >= account) other++;
      const amount = between(random, 1, 50);
      await sleep(between(random, 20, 60));
      // Lock both rows in id order, so two opposite transfers cannot deadlock.
      const [first, second] = account < other ? [account, other] : [other, account];
      await driver.query(connection, 'BEGIN');
      await driver.query(connection, `SELECT id, balance FROM ${prefix}accounts WHERE id IN (?, ?) ORDER BY id FOR UPDATE`, [first, second]);
      await sleep(between(random, 1, 10));
      await driver.query(connection, `UPDATE ${prefix}accounts SET balance = balance - ? WHERE id = ?`, [amount, account]);
      await driver.query(connection, `UPDATE ${prefix}accounts SET balance = balance + ? WHERE id = ?`, [amount, other]);
      await driver.query(connection, `INSERT INTO ${prefix}transfers (from_id, to_id, amount) VALUES (?, ?, ?)`, [account, other, amount]);
      await driver.query(connection, 'COMMIT');
      return;
    }
  }
}
