/** The BudgetLedger contract (test/budgets/ledger-contract.ts) on RedisLedger against a real
 * redis-server; each test gets its own key prefix, and time passes for real (Redis expires keys). */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { RedisLedger } from '../../src/budgets/redis-ledger.js';
import { ledgerContract } from '../budgets/ledger-contract.js';
import { startTestRedis, stopTestRedis, type TestRedis } from './redis-server.js';

let redis: TestRedis | undefined;
const ledgers: RedisLedger[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
});

afterAll(async () => {
  for (const l of ledgers) await l.close();
  await stopTestRedis(redis);
});

ledgerContract('RedisLedger', async () => {
  if (!redis) return undefined;
  const ledger = new RedisLedger({
    url: redis.server.url,
    keyPrefix: `contract:${randomUUID()}:`,
    // A generous deadline and fail-closed: a slow answer never passes for Redis' own.
    timeoutMs: 2_000,
    failure: 'closed',
  });
  ledgers.push(ledger);
  if (!(await ledger.ready())) throw new Error('Redis did not answer');
  return {
    ledger,
    now: Date.now,
    elapse: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
});
