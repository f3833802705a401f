/**
 * One process of the shared-budget test on a Redis Cluster (redis-cluster.test.ts): runs `loops`
 * concurrent agents against one daily window. Each reserves an estimate, "calls" (a short random
 * wait), settles a random actual cost no larger than the estimate, and stops at its first
 * reservation refused by the limit. A reservation refused because the ledger is unavailable
 * (fail-closed, during a failover) is counted and tried again after 5 ms, as a caller that
 * retries would. Prints one JSON line: `{ pid, spent, calls, callsAfterOutage, limitRefusals,
 * unavailableRefusals, stats }` where `spent` is the sum of the actual costs it settled.
 *
 * Run with `node --import tsx test/integration/redis-cluster-worker.ts <seed,seed,...> <prefix>
 * <key> <limit> <estimate> <loops> <open|closed>`; it prints `ready` when connected and starts
 * on a line on stdin.
 */
import { RedisLedger } from '../../src/budgets/redis-ledger.js';

const [seeds, keyPrefix, key, limitArg, estimateArg, loopsArg, failureArg] = process.argv.slice(2);
const limit = Number(limitArg);
const estimate = Number(estimateArg);
const loops = Number(loopsArg);
const failure = failureArg === 'open' ? 'open' : 'closed';
const window = { writeKey: key as string, readKeys: [key as string], ttlMs: 86_400_000 };
const ledger = new RedisLedger({
  cluster: { rootNodes: (seeds as string).split(',').map((url) => ({ url })) },
  keyPrefix,
  // Generous: this test is about atomicity and failover, not about deadlines on a busy machine.
  timeoutMs: 1_000,
  failure,
});

let spent = 0;
let calls = 0;
let callsAfterOutage = 0;
let limitRefusals = 0;
let unavailableRefusals = 0;

async function agent(): Promise<void> {
  for (;;) {
    const r = await ledger.reserve(window, estimate, limit, true);
    if (!r.ok && r.unavailable) {
      unavailableRefusals++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      continue;
    }
    if (!r.ok) {
      limitRefusals++;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
    // Actual cost 0.01..estimate, in whole hundredths of a cent to vary the sums.
    const actual = 0.01 + Math.floor(Math.random() * ((estimate - 0.01) * 10_000 + 1)) / 10_000;
    const ref = { key: window.writeKey, ttlMs: window.ttlMs };
    await ledger.settle(ref, estimate, ref, actual);
    spent += actual;
    calls++;
    if (ledger.stats().degradedReserves > 0) callsAfterOutage++;
  }
}

if (!(await ledger.ready(20_000))) throw new Error(`worker ${process.pid}: Redis not ready`);
// Barrier: say "ready", start on the parent's "go" line, so that all processes really overlap.
process.stdout.write('ready\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.pause();
await Promise.all(Array.from({ length: loops }, agent));
// A service keeps running: the writes kept during the failover are replayed once the promoted
// replica answers (close() would give up on them: `unconfirmed_at_close`).
const drainBy = Date.now() + 30_000;
while (ledger.stats().pendingWrites > 0 && Date.now() < drainBy) {
  await new Promise((resolve) => setTimeout(resolve, 20));
}
await ledger.close();
const stats = ledger.stats();
process.stdout.write(
  `${JSON.stringify({ pid: process.pid, spent, calls, callsAfterOutage, limitRefusals, unavailableRefusals, stats })}\n`,
);
