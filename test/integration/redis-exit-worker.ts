/**
 * Proves the ledger never keeps its host alive: points a ledger at a port where nothing listens,
 * makes calls, prints their results as one JSON line, and returns WITHOUT `close()`. The parent
 * test asserts that this process exits by itself although the client keeps reconnecting.
 *
 * Run with `node --import tsx test/integration/redis-exit-worker.ts <url> <open|closed>`.
 */
import { RedisLedger } from '../../src/budgets/redis-ledger.js';

const [url, failure] = process.argv.slice(2);
const ledger = new RedisLedger({ url, failure: failure === 'closed' ? 'closed' : 'open' });
const window = { writeKey: 'day', readKeys: ['day'], ttlMs: 60_000 };
const reserve = await ledger.reserve(window, 0.1, 1, true);
await ledger.settle({ key: 'day', ttlMs: 60_000 }, 0.1, { key: 'day', ttlMs: 60_000 }, 0.05);
const totals = await ledger.get(['day']);
// Let the reconnect loop run a few rounds before returning.
await new Promise((resolve) => setTimeout(resolve, 300));
process.stdout.write(`${JSON.stringify({ reserve, totals, stats: ledger.stats() })}\n`);
