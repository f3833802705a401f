/** The BudgetLedger contract (ledger-contract.ts) on the in-memory ledger, on a fake clock. */
import { MemoryLedger } from '../../src/budgets/memory-ledger.js';
import { ledgerContract } from './ledger-contract.js';

ledgerContract('MemoryLedger', async () => {
  let now = Date.parse('2026-11-30T12:00:00Z');
  return {
    ledger: new MemoryLedger({ now: () => now }),
    now: () => now,
    elapse: async (ms) => {
      now += ms;
    },
  };
});
