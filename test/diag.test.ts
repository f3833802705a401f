/**
 * One `stats()` with every counter: the processor's and the budgets' problems, the budget ledger's
 * own counters and problems (RedisLedger, MemoryLedger), and the OpenAI usage instrumentation's
 * (which patches the process, not one ledger).
 */
import { describe, expect, it } from 'vitest';
import { createSpanLedger, MemoryLedger } from '../src/index.js';
import { OpenAIUsageInstrumentation } from '../src/instrumentation/openai.js';

/** A real MemoryLedger whose counters also report problems, as RedisLedger's do. */
class CountingLedger extends MemoryLedger {
  override stats() {
    return { ...super.stats(), redisTimeout: 2, problems: { redis_timeout: 2, internal_error: 1 } };
  }
}

describe('SpanLedger.stats() aggregates every reporter', () => {
  it("includes the budget ledger's counters and sums its problems with the processor's", async () => {
    const ledger = createSpanLedger({ budgetLedger: new CountingLedger() });
    // One processor problem of the same kind as one of the ledger's.
    ledger.processor.onEnding?.(null as never);
    const stats = ledger.stats();
    expect(stats.budgetLedger).toMatchObject({ redisTimeout: 2 });
    expect((stats.budgetLedger as { keys: number }).keys).toBe(0);
    expect(stats.problems.redis_timeout).toBe(2);
    expect(stats.problems.internal_error).toBe(2); // 1 from the ledger + 1 from the processor
    await ledger.shutdown();
  });

  it("includes the OpenAI usage instrumentation's problems", () => {
    const before = createSpanLedger().stats().problems.openai_client_not_found ?? 0;
    const instrumentation = new OpenAIUsageInstrumentation({ enabled: false });
    // The module definition's patch, given an `openai` export without a client class.
    const [definition] = instrumentation.getModuleDefinitions();
    definition?.patch?.({}, '6.0.0');
    const ledger = createSpanLedger();
    expect(ledger.stats().problems.openai_client_not_found).toBe(before + 1);
  });
});
