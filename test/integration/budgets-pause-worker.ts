/**
 * One service process of the pause test (test/integration/budgets-pause.test.ts): a real
 * `createSpanLedger` configured from the `SPANLEDGER_*` variables, as `spanledger/register`
 * configures it (the budgets file, the Redis ledger), making guarded calls in a loop.
 *
 * Run with `node --import tsx test/integration/budgets-pause-worker.ts`. It prints `ready` once
 * Redis answers and starts on a `go` line on stdin; then one line per change of outcome:
 * `refused <epoch ms> <JSON of the error's fields>` at the first refused call after calls ran,
 * `allowed <epoch ms>` at the first call that ran after refusals (and `running <epoch ms>` at the
 * very first call that ran). A `stop` line ends the loop; it
 * prints one JSON line of totals and exits.
 */
import { createInterface } from 'node:readline';
import type { RedisLedger } from '../../src/budgets/redis-ledger.js';
import { BudgetExceededError, createSpanLedger } from '../../src/index.js';
import { ledgerOptionsFromEnv } from '../../src/node/env.js';

const options = ledgerOptionsFromEnv(process.env);
const ledger = createSpanLedger(options);
const store = options.budgetLedger as RedisLedger;
const support = { dimensions: { useCase: 'support' }, estimateUsd: 0.001 } as const;
const totals = { ran: 0, refused: 0, errors: [] as string[] };
let stopped = false;
let state: 'allowed' | 'refused' = 'allowed';

async function loop(): Promise<void> {
  while (!stopped) {
    try {
      await ledger.guard(async () => {
        totals.ran++;
        if (totals.ran === 1) process.stdout.write(`running ${Date.now()}\n`);
      }, support);
      if (state === 'refused') {
        state = 'allowed';
        process.stdout.write(`allowed ${Date.now()}\n`);
      }
    } catch (e) {
      if (!(e instanceof BudgetExceededError)) {
        totals.errors.push(String(e));
        break;
      }
      totals.refused++;
      if (state === 'allowed') {
        state = 'refused';
        const { budget, limit, reason, pausedBy, pausedAt, until } = e;
        const fields = { budget, limit, reason, pausedBy, pausedAt, until };
        process.stdout.write(`refused ${Date.now()} ${JSON.stringify(fields)}\n`);
      }
    }
    // A call every few ms: a busy service, without starving the other processes of the test.
    await new Promise((resolve) => setTimeout(resolve, 3));
  }
}

if (!(await store.ready(10_000))) throw new Error('Redis did not answer');
const lines = createInterface({ input: process.stdin });
let running: Promise<void> | undefined;
lines.on('line', (line) => {
  if (line === 'go') running = loop();
  if (line === 'stop') {
    stopped = true;
    void (running ?? Promise.resolve()).then(async () => {
      process.stdout.write(`${JSON.stringify(totals)}\n`);
      await ledger.shutdown();
      lines.close();
    });
  }
});
process.stdout.write('ready\n');
