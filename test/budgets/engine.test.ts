import { type Attributes, context, type Span, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { type BudgetEvent, BudgetExceededError, type BudgetInput } from '../../src/index.js';
import { harness } from '../processor/harness.js';
import { CHAT, CHAT_USD, useContextManager } from '../support/fixtures.js';

const AT = new Date('2026-11-02T10:00:00Z');
const chat = CHAT;
const CALL_USD = CHAT_USD;

useContextManager();

function within<T>(span: Span, fn: () => T): T {
  return context.with(trace.setSpan(context.active(), span), fn);
}

function run(budgets: BudgetInput[], extra: Parameters<typeof harness>[0] = {}) {
  const h = harness({ budgets, ...extra });
  const root = h.tracer.startSpan('invoke_agent loop', { startTime: AT });
  const call = (attrs: Attributes = chat, name = 'chat') =>
    within(root, () => h.tracer.startSpan(name, { attributes: attrs, startTime: AT }).end());
  return { h, root, call };
}

describe('per-run budgets stop an agent loop at the right call', () => {
  it('blocks the 6th LLM call under maxLlmCalls: 5', async () => {
    const { h, root, call } = run([
      { name: 'run-calls', scope: 'trace', maxLlmCalls: 5, action: 'block' },
    ]);
    let made = 0;
    let error: unknown;
    for (let i = 0; i < 20; i++) {
      try {
        await within(root, () => h.ledger.enforce({ call: { kind: 'llm' } }));
      } catch (e) {
        error = e;
        break;
      }
      call();
      made++;
    }
    expect(made).toBe(5);
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect((error as BudgetExceededError).budget).toBe('run-calls');
    expect((error as BudgetExceededError).limit).toBe('max_llm_calls');
  });

  it('blocks the call whose estimate would pass a per-run USD cap', async () => {
    const { h, root, call } = run([
      { name: 'run-usd', scope: 'trace', limitUsd: 0.012, action: 'block' },
    ]);
    const decisions: string[] = [];
    for (let i = 0; i < 5; i++) {
      const d = await within(root, () =>
        h.ledger.check({ estimateUsd: CALL_USD, call: { kind: 'llm' } }),
      );
      decisions.push(d.action);
      if (d.action === 'block') {
        expect(d.spentUsd).toBeCloseTo(2 * CALL_USD, 15);
        expect(d.remainingUsd).toBeCloseTo(0.012 - 2 * CALL_USD, 15);
        break;
      }
      call();
    }
    // Two calls (0.00944) fit; a third (0.01416) would not.
    expect(decisions).toEqual(['allow', 'allow', 'block']);
  });

  it.each([
    [
      'semconv',
      'execute_tool search_orders',
      (args: string) => ({
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': 'search_orders',
        'gen_ai.tool.call.arguments': args,
      }),
    ],
    [
      'Vercel AI SDK',
      'ai.toolCall',
      (args: string) => ({
        'ai.operationId': 'ai.toolCall',
        'ai.toolCall.name': 'search_orders',
        'ai.toolCall.id': 'call_1',
        'ai.toolCall.args': args,
      }),
    ],
  ])(
    'catches a repeated identical tool call at the configured count (%s spans)',
    async (_, spanName, tool) => {
      const { h, root, call } = run([
        { name: 'loop-guard', scope: 'trace', maxRepeatedToolCalls: 3, action: 'block' },
      ]);
      const same = '{"customer": "c-17", "status": "open"}';
      // Key order and whitespace do not make a call different.
      const reordered = '{ "status":"open","customer":"c-17" }';
      for (const args of [same, reordered, same]) {
        const d = await within(root, () =>
          h.ledger.check({
            call: { kind: 'tool', name: 'search_orders', arguments: JSON.parse(args) },
          }),
        );
        expect(d.action).toBe('allow');
        call(tool(args), spanName);
      }
      const fourth = await within(root, () =>
        h.ledger.check({
          call: { kind: 'tool', name: 'search_orders', arguments: JSON.parse(same) },
        }),
      );
      expect(fourth).toMatchObject({
        action: 'block',
        budget: 'loop-guard',
        limit: 'max_repeated_tool_calls',
      });
      const other = await within(root, () =>
        h.ledger.check({
          call: { kind: 'tool', name: 'search_orders', arguments: { customer: 'c-18' } },
        }),
      );
      expect(other.action).toBe('allow');
      root.end();
      expect(h.span('invoke_agent loop').attributes['spanledger.budget.exceeded']).toBeUndefined();
    },
  );

  it('signals warnings and the exceeded event on spans, the callback and the run root', async () => {
    const events: BudgetEvent[] = [];
    const { h, root, call } = run(
      [{ name: 'run-usd', scope: 'trace', limitUsd: 0.01, warnAt: [0.5, 0.8], action: 'alert' }],
      {
        onBudgetEvent: (e) => {
          events.push(e);
          throw new Error('a broken user callback must not break the span path');
        },
      },
    );
    call(); // 0.00472: below 50 %
    call(); // 0.00944: crosses 50 % and 80 %
    call(); // 0.01416: exceeded
    root.end();
    expect(events.map((e) => `${e.kind}:${e.threshold ?? ''}`)).toEqual([
      'warning:0.5',
      'warning:0.8',
      'exceeded:',
    ]);
    const spans = h.exporter.getFinishedSpans().filter((s) => s.name === 'chat');
    expect(spans.map((s) => s.events.map((e) => e.name))).toEqual([
      [],
      ['spanledger.budget.warning', 'spanledger.budget.warning'],
      ['spanledger.budget.exceeded'],
    ]);
    const exceeded = spans[2]?.events[0]?.attributes ?? {};
    expect(exceeded['spanledger.budget.name']).toBe('run-usd');
    expect(exceeded['spanledger.budget.limit_usd']).toBe(0.01);
    expect(exceeded['spanledger.budget.spent_usd']).toBeCloseTo(3 * CALL_USD, 15);
    expect(exceeded['spanledger.budget.action']).toBe('alert');
    expect(h.span('invoke_agent loop').attributes['spanledger.budget.exceeded']).toEqual([
      'run-usd',
    ]);
    expect(h.ledger.stats().problems.callback_error).toBe(3);
  });
});

describe('calendar budgets', () => {
  it('rolls a monthly America/New_York budget over at local midnight on the 1st', async () => {
    let now = Date.parse('2026-11-30T23:59:00-05:00');
    const h = harness({
      now: () => now,
      budgets: [
        {
          name: 'payments-monthly',
          scope: { team: 'payments' },
          window: { calendar: 'month', timeZone: 'America/New_York' },
          limitUsd: 10,
          action: 'block',
        },
      ],
    });
    const dims = { 'spanledger.team': 'payments' };
    h.run('review', { ...dims, 'spanledger.manual.cost.usd': 9.99 });
    // Let the ledger write land.
    await new Promise((r) => setImmediate(r));
    const before = await h.ledger.check({ estimateUsd: 0.02, dimensions: { team: 'payments' } });
    expect(before).toMatchObject({ action: 'block', budget: 'payments-monthly', limitUsd: 10 });
    expect(before.spentUsd).toBeCloseTo(9.99, 12);
    await expect(
      h.ledger.enforce({ estimateUsd: 0.02, dimensions: { team: 'payments' } }),
    ).rejects.toThrow(BudgetExceededError);
    now = Date.parse('2026-12-01T00:00:00-05:00');
    const after = await h.ledger.check({ estimateUsd: 0.02, dimensions: { team: 'payments' } });
    expect(after).toEqual({ action: 'allow', remainingUsd: 10 });
    // Another team is not in scope.
    now = Date.parse('2026-11-30T23:59:30-05:00');
    expect(
      (await h.ledger.check({ estimateUsd: 0.02, dimensions: { team: 'search' } })).action,
    ).toBe('allow');
  });

  it('returns a usable degrade suggestion with the room left', async () => {
    const h = harness({
      budgets: [
        {
          name: 'support-daily',
          scope: { useCase: 'support' },
          window: { calendar: 'day', timeZone: 'UTC' },
          limitUsd: 1,
          action: 'degrade',
          degrade: { model: 'gpt-4o-mini', maxTokens: 256, skipOptional: true },
        },
      ],
    });
    h.run('spend', { 'spanledger.use_case': 'support', 'spanledger.manual.cost.usd': 0.97 });
    await new Promise((r) => setImmediate(r));
    const d = await h.ledger.check({ estimateUsd: 0.05, dimensions: { useCase: 'support' } });
    expect(d.action).toBe('degrade');
    expect(d.suggestion).toEqual({ model: 'gpt-4o-mini', maxTokens: 256, skipOptional: true });
    expect(d.remainingUsd).toBeCloseTo(0.03, 12);
    // Degrade never throws: enforce hands the decision back.
    expect(
      (await h.ledger.enforce({ estimateUsd: 0.05, dimensions: { useCase: 'support' } })).action,
    ).toBe('degrade');
  });

  it('guards concurrent calls: reservations never let them overshoot the limit', async () => {
    const h = harness({
      budgets: [
        {
          name: 'daily',
          scope: { tenant: '*' },
          window: { calendar: 'day', timeZone: 'UTC' },
          limitUsd: 0.05,
          action: 'block',
        },
      ],
    });
    const root = h.tracer.startSpan('tenant request', {
      attributes: { 'spanledger.tenant': 'acme' },
    });
    let blocked = 0;
    let made = 0;
    // 20 concurrent calls, each reserving 0.005 and costing exactly one gpt-4o call (0.00472).
    await Promise.all(
      Array.from({ length: 20 }, () =>
        within(root, () =>
          h.ledger
            .guard(
              async () => {
                await new Promise((r) => setImmediate(r));
                h.tracer.startSpan('chat', { attributes: chat, startTime: AT }).end();
                made++;
              },
              { estimateUsd: 0.005 },
            )
            .catch((e) => {
              expect(e).toBeInstanceOf(BudgetExceededError);
              blocked++;
            }),
        ),
      ),
    );
    // 10 reservations of 0.005 fill 0.05 exactly; the other 10 are refused before spending.
    expect(made).toBe(10);
    expect(blocked).toBe(10);
    const after = await within(root, () => h.ledger.check({ estimateUsd: 0 }));
    // Settled to the actual cost: 10 x 0.00472 spent, nothing left reserved.
    expect(after.remainingUsd).toBeCloseTo(0.05 - 10 * CALL_USD, 12);
  });

  it('accounts a span that outlives its guarded call (a stream consumed later) exactly once', async () => {
    const h = harness({
      budgets: [
        {
          name: 'daily',
          scope: { team: 'search' },
          window: { calendar: 'day', timeZone: 'UTC' },
          limitUsd: 1,
          action: 'block',
        },
      ],
    });
    const root = h.tracer.startSpan('request', { attributes: { 'spanledger.team': 'search' } });
    const stream = await within(root, () =>
      h.ledger.guard(
        async () => h.tracer.startSpan('chat stream', { attributes: chat, startTime: AT }),
        {
          estimateUsd: 0.01,
        },
      ),
    );
    // Settled at 0 when the call returned; the stream's span ends afterwards.
    stream.end();
    await new Promise((r) => setImmediate(r));
    const d = await within(root, () => h.ledger.check({}));
    expect(d.remainingUsd).toBeCloseTo(1 - CALL_USD, 12);
  });
});
