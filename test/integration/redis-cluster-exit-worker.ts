/**
 * Proves a cluster ledger never keeps its host alive: connects to the Redis Cluster whose seeds it
 * is given, makes calls (so node connections are open), prints their results as one JSON line,
 * and returns WITHOUT `close()`. The parent test asserts that this process exits by itself.
 *
 * Run with `node --import tsx test/integration/redis-cluster-exit-worker.ts <seed,seed,...>`.
 */
import { RedisLedger } from '../../src/budgets/redis-ledger.js';

const [seeds] = process.argv.slice(2);
const ledger = new RedisLedger({
  cluster: { rootNodes: (seeds as string).split(',').map((url) => ({ url })) },
  keyPrefix: `exit:${process.pid}:`,
  timeoutMs: 2_000,
  failure: 'closed',
});
const key = 'spanledger:b:{exit:_}:day:2026-11-30@UTC';
const ready = await ledger.ready(10_000);
const reserve = await ledger.reserve(
  { writeKey: key, readKeys: [key], ttlMs: 60_000 },
  0.1,
  1,
  true,
);
const settled = await ledger.settle({ key, ttlMs: 60_000 }, 0.1, { key, ttlMs: 60_000 }, 0.05);
process.stdout.write(`${JSON.stringify({ ready, reserve, settled, stats: ledger.stats() })}\n`);
