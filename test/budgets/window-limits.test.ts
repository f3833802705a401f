/**
 * Token and call limits on calendar and rolling windows (docs/budgets.md, "Limits"), end to end
 * through `createSpanLedger` on the in-memory ledger and a fake clock: guarded calls reserve one
 * call of their kind and their estimated tokens, settle to the calls and tokens of the spans
 * they produced, and release on error; unguarded spans are counted as they end. Figures: a
 * gpt-4o call of 2000 input and 300 output tokens is 2300 tokens and costs $0.008.
 */
import { type Attributes, context, trace } from '@opentelemetry/api';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import {
  type BudgetEvent,
  BudgetExceededError,
  type BudgetInput,
  createSpanLedger,
} from '../../src/index.js';
import { gpt4oChat, useContextManager } from '../support/fixtures.js';

useContextManager();

const CALL = gpt4oChat(2000, 0, 300);
const TOOL = { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search' };
const TEAM = { dimensions: { team: 'payments' } };

function app(budgets: BudgetInput[], start = '2026-11-16T12:00:00Z') {
  let now = Date.parse(start);
  const events: BudgetEvent[] = [];
  const ledger = createSpanLedger({
    budgets,
    now: () => now,
    onBudgetEvent: (e) => events.push(e),
  });
  const provider = new TracerProvider({ spanProcessors: [ledger.processor] });
  const tracer = provider.getTracer('test');
  /** A span ended now (inside a guarded call: under its hold). */
  const end = (attrs: Attributes) => {
    tracer.startSpan('work', { attributes: { 'spanledger.team': 'payments', ...attrs } }).end();
  };
  /** A guarded call that ends `spans` spans; 'ran' or the refusal. */
  const guarded = async (
    options: Parameters<typeof ledger.guard>[1],
    spans: Attributes[] = [CALL],
  ): Promise<'ran' | BudgetExceededError> => {
    try {
      await ledger.guard(
        async () => {
          await new Promise((r) => setImmediate(r));
          for (const s of spans) end(s);
        },
        { ...TEAM, ...options },
      );
      return 'ran';
    } catch (e) {
      if (e instanceof BudgetExceededError) return e;
      throw e;
    }
  };
  /** Let the asynchronous ledger writes of unguarded spans land. */
  const settled = () => new Promise((r) => setImmediate(r));
  return {
    ledger,
    events,
    end,
    guarded,
    settled,
    at: (iso: string) => {
      now = Date.parse(iso);
    },
  };
}

const monthlyTokens = (maxTokens: BudgetInput['maxTokens'], action: 'block' | 'alert' = 'block') =>
  ({
    name: 'tokens-month',
    scope: { team: 'payments' },
    window: { calendar: 'month', timeZone: 'UTC' },
    maxTokens,
    action,
  }) satisfies BudgetInput;

describe('token limits on a calendar window', () => {
  it('reserves the estimate, settles the tokens the call used, refuses the call that would not fit', async () => {
    const a = app([monthlyTokens(10_000)]);
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await a.guarded({ estimateTokens: 3000 }));
    // 4 calls of 2300 tokens: 9200 used; the 5th's 3000 would exceed 10000.
    expect(outcomes.slice(0, 4)).toEqual(['ran', 'ran', 'ran', 'ran']);
    const refused = outcomes[4] as BudgetExceededError;
    expect(refused).toBeInstanceOf(BudgetExceededError);
    expect({ ...refused, message: refused.message }).toMatchObject({
      budget: 'tokens-month',
      limit: 'max_tokens',
      unit: 'tokens',
      used: 9200,
      max: 10_000,
      reason: '9200 of 10000 tokens used + estimate 3000 would exceed the limit',
      message:
        'spanledger: budget "tokens-month" blocks this call (max_tokens: 9200 of 10000 tokens used + estimate 3000 would exceed the limit)',
    });
    // A smaller call fits; check() says the same as the reservation would.
    expect(await a.ledger.check({ ...TEAM, estimateTokens: 800 })).toMatchObject({
      action: 'allow',
    });
    expect(await a.ledger.check({ ...TEAM, estimateTokens: 801 })).toMatchObject({
      action: 'block',
      limit: 'max_tokens',
      used: 9200,
    });
    // A tool call does not use tokens: a token limit does not stop it.
    expect(await a.guarded({ call: { kind: 'tool', name: 'search' } }, [TOOL])).toBe('ran');
  });

  it('concurrent guarded calls: exactly those whose estimates fit run, no overshoot', async () => {
    const a = app([monthlyTokens(10_000)]);
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () => a.guarded({ estimateTokens: 3000 })),
    );
    expect(outcomes.filter((o) => o === 'ran')).toHaveLength(3);
    const d = await a.ledger.check({ ...TEAM, estimateTokens: 3101 });
    // 3 x 2300 settled, nothing held any more.
    expect(d).toMatchObject({ action: 'block', used: 6900, max: 10_000 });
  });

  it('a call with no estimate runs while a token is left, and is refused once they are used up', async () => {
    const a = app([monthlyTokens(4600)]);
    expect(await a.guarded({})).toBe('ran');
    expect(await a.guarded({})).toBe('ran');
    expect(await a.guarded({})).toMatchObject({
      limit: 'max_tokens',
      used: 4600,
      reason: '4600 of 4600 tokens used',
    });
  });

  it('an error releases the hold: the tokens held come back', async () => {
    const a = app([monthlyTokens(5000)]);
    await expect(
      a.ledger.guard(
        () => {
          throw new Error('provider down');
        },
        { ...TEAM, estimateTokens: 5000 },
      ),
    ).rejects.toThrow('provider down');
    expect(await a.ledger.check({ ...TEAM, estimateTokens: 5000 })).toMatchObject({
      action: 'allow',
    });
  });

  it('spans outside any guarded call count as they end', async () => {
    const a = app([monthlyTokens(5000)]);
    a.end(CALL);
    a.end(CALL);
    await a.settled();
    expect(await a.ledger.check({ ...TEAM, estimateTokens: 401 })).toMatchObject({
      action: 'block',
      used: 4600,
    });
  });

  it('per token type: each type its own limit, with estimates by type', async () => {
    const a = app([monthlyTokens({ input: 100_000, output: 700 })]);
    // Output decides: 300 per call, 700 allowed.
    expect(await a.guarded({ estimateTokens: { input: 2000, output: 300 } })).toBe('ran');
    expect(await a.guarded({ estimateTokens: { input: 2000, output: 300 } })).toBe('ran');
    expect(await a.guarded({ estimateTokens: { input: 2000, output: 300 } })).toMatchObject({
      limit: 'max_tokens',
      unit: 'tokens',
      used: 600,
      max: 700,
      reason: '600 of 700 output tokens used + estimate 300 would exceed the limit',
    });
    // A total estimate is held on every type: 400 does not fit in the 100 output tokens left.
    expect(await a.ledger.check({ ...TEAM, estimateTokens: 400 })).toMatchObject({
      action: 'block',
      reason: '600 of 700 output tokens used + estimate 400 would exceed the limit',
    });
  });

  it('warnings at the configured fractions of the token limit, then exceeded, once each', async () => {
    const a = app([{ ...monthlyTokens(10_000, 'alert'), warnAt: [0.4, 0.9] }]);
    for (let i = 0; i < 5; i++) expect(await a.guarded({ estimateTokens: 3000 })).toBe('ran');
    const summary = a.events.map((e) => [e.kind, e.limit, e.unit, e.used, e.max, e.threshold]);
    expect(summary).toEqual([
      ['warning', 'max_tokens', 'tokens', 4600, 10_000, 0.4],
      ['warning', 'max_tokens', 'tokens', 9200, 10_000, 0.9],
      ['exceeded', 'max_tokens', 'tokens', 11_500, 10_000, undefined],
    ]);
  });

  it('reserve() by hand: tokens held count as used unless settle says how many', async () => {
    const a = app([monthlyTokens(10_000)]);
    const r1 = await a.ledger.reserve(0.01, {
      ...TEAM,
      estimateTokens: 4000,
      call: { kind: 'llm' },
    });
    await r1.settle(0.005);
    const r2 = await a.ledger.reserve(0.01, {
      ...TEAM,
      estimateTokens: 4000,
      call: { kind: 'llm' },
    });
    await r2.settle(0.005, { tokens: 1000 });
    expect(await a.ledger.check({ ...TEAM, estimateTokens: 5001 })).toMatchObject({
      action: 'block',
      used: 5000,
    });
    // Settled once: a second settle changes nothing.
    await r2.settle(0.005, { tokens: 4000 });
    expect(await a.ledger.check({ ...TEAM, estimateTokens: 5000 })).toMatchObject({
      action: 'allow',
    });
    const r3 = await a.ledger.reserve(0, { ...TEAM, estimateTokens: 5000 });
    await expect(r3.settle(0, { tokens: Number.NaN })).rejects.toThrow(
      'spanledger: settle(actualUsd, actual): actual.tokens must be a finite non-negative number of tokens, or one per type (input, output, cacheRead, cacheWrite, reasoning), got NaN',
    );
    await expect(a.ledger.check({ ...TEAM, estimateTokens: -5 })).rejects.toThrow(
      'estimateTokens: must be a finite non-negative number of tokens',
    );
  });
});

describe('call limits on a rolling window', () => {
  const calls: BudgetInput = {
    name: 'calls-hour',
    scope: { team: 'payments' },
    window: { rollingMs: 3_600_000 },
    maxLlmCalls: 3,
    maxToolCalls: 2,
    action: 'block',
  };

  it('each kind against its own limit; refusals name the unit and the figures', async () => {
    const a = app([calls]);
    const llm = { call: { kind: 'llm' as const } };
    const tool = { call: { kind: 'tool' as const, name: 'search' } };
    expect(await Promise.all([a.guarded(llm), a.guarded(llm), a.guarded(llm)])).toEqual([
      'ran',
      'ran',
      'ran',
    ]);
    expect(await a.guarded(llm)).toMatchObject({
      limit: 'max_llm_calls',
      unit: 'calls',
      used: 3,
      max: 3,
      reason: '3 of 3 LLM calls used',
    });
    expect(await a.guarded(tool, [TOOL])).toBe('ran');
    expect(await a.guarded(tool, [TOOL])).toBe('ran');
    expect(await a.guarded(tool, [TOOL])).toMatchObject({
      limit: 'max_tool_calls',
      used: 2,
      max: 2,
    });
    // An hour later (plus one bucket) the window has room again.
    a.at('2026-11-16T13:01:01Z');
    expect(await a.guarded(llm)).toBe('ran');
  });

  it('concurrent calls hold one call each while in flight: no more run than the limit', async () => {
    const a = app([calls]);
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () => a.guarded({ call: { kind: 'llm' } })),
    );
    expect(outcomes.filter((o) => o === 'ran')).toHaveLength(3);
    const refused = outcomes.find((o) => o !== 'ran') as BudgetExceededError;
    expect(refused.reason).toMatch(/^[0-3] of 3 LLM calls used \([1-3] in flight\)$/);
  });

  it('a call of unknown kind holds one of each; a tool span inside an LLM call counts as a tool call', async () => {
    const a = app([calls]);
    expect(await a.guarded({}, [CALL, TOOL])).toBe('ran');
    expect(await a.guarded({}, [TOOL])).toBe('ran');
    // Two tool calls made: a third, of any kind that may be a tool call, is refused.
    expect(await a.guarded({})).toMatchObject({ limit: 'max_tool_calls', used: 2 });
    expect(await a.guarded({ call: { kind: 'llm' } })).toBe('ran');
  });
});

describe('a quarterly token budget in Europe/Paris, fiscal year from April', () => {
  it('rolls over at local midnight on 1 July (2026-06-30T22:00Z), not at UTC midnight', async () => {
    const a = app(
      [
        {
          name: 'q-tokens',
          scope: { team: 'payments' },
          window: { calendar: 'quarter', timeZone: 'Europe/Paris', fiscalYearStartMonth: 4 },
          maxTokens: 4600,
          action: 'block',
        },
      ],
      '2026-06-30T21:00:00Z',
    );
    expect(await a.guarded({})).toBe('ran');
    expect(await a.guarded({})).toBe('ran');
    a.at('2026-06-30T21:59:59.999Z');
    expect(await a.guarded({})).toMatchObject({ limit: 'max_tokens', used: 4600 });
    a.at('2026-06-30T22:00:00Z');
    expect(await a.guarded({})).toBe('ran');
  });
});

describe('context', () => {
  it('guarded calls in a run also count toward window limits', async () => {
    const a = app([monthlyTokens(2300)]);
    const root = trace.getTracer('x').startSpan('root');
    await context.with(trace.setSpan(context.active(), root), () => a.guarded({}));
    root.end();
    expect(await a.guarded({})).toMatchObject({ limit: 'max_tokens' });
  });
});
