/**
 * One process of the shared-budget test: runs `loops` concurrent agents against one daily window;
 * each reserves an estimate, "calls" (a short random wait), settles a random actual cost no larger
 * than the estimate, and stops at its first rejected reservation. Prints one JSON line:
 * `{ pid, spent, calls, rejected, stats }` where `spent` is the sum of the actual costs it settled.
 *
 * Run with `node --import tsx test/integration/redis-worker.ts <url> <prefix> <key> <limit>
 * <estimate> <loops>`; it prints `ready` when connected and starts on a line on stdin.
 */
import { RedisLedger } from '../../src/budgets/redis-ledger.js';

const [url, keyPrefix, key, limitArg, estimateArg, loopsArg] = process.argv.slice(2);
const limit = Number(limitArg);
const estimate = Number(estimateArg);
const loops = Number(loopsArg);
const window = { writeKey: key as string, readKeys: [key as string], ttlMs: 86_400_000 };
// A generous deadline: this test is about atomicity under load, not about the failure policy
// (which is fail-closed here so that a slow answer could never pass as a success).
const ledger = new RedisLedger({ url, keyPrefix, timeoutMs: 2_000, failure: 'closed' });

let spent = 0;
let calls = 0;
let rejected = 0;

async function agent(): Promise<void> {
  for (;;) {
    const r = await ledger.reserve(window, estimate, limit, true);
    if (!r.ok) {
      rejected++;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
    // Actual cost 0.01..estimate, in whole hundredths of a cent to vary the sums.
    const actual = 0.01 + Math.floor(Math.random() * ((estimate - 0.01) * 10_000 + 1)) / 10_000;
    const ref = { key: window.writeKey, ttlMs: window.ttlMs };
    await ledger.settle(ref, estimate, ref, actual);
    spent += actual;
    calls++;
  }
}

if (!(await ledger.ready(10_000))) throw new Error(`worker ${process.pid}: Redis not ready`);
// Barrier: say "ready", start on the parent's "go" line, so that all processes really overlap.
process.stdout.write('ready\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.pause();
await Promise.all(Array.from({ length: loops }, agent));
const stats = ledger.stats();
await ledger.close();
process.stdout.write(`${JSON.stringify({ pid: process.pid, spent, calls, rejected, stats })}\n`);
