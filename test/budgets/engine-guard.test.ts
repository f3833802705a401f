/**
 * Guarded calls as the README shows them: at the top of a request (no active span), with the
 * team set only on the service's resource, and per-run caps with `guard(fn, { estimateUsd })`
 * and no `call`. Figures: a gpt-4o call of 2000 input and 300 output tokens costs exactly
 * $0.008 (2000 x $2.50 + 300 x $10 per MTok).
 */
import { context, type Span, SpanKind, trace } from '@opentelemetry/api';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type BudgetDecision,
  BudgetExceededError,
  type BudgetInput,
  createSpanLedger,
  type SpanLedgerOptions,
} from '../../src/index.js';
import { gpt4oChat, gpt4oUsd, useContextManager } from '../support/fixtures.js';

useContextManager();

const CALL = gpt4oChat(2000, 0, 300);
const CALL_USD = gpt4oUsd(2000, 0, 300);

const PAYMENTS_DAY: BudgetInput = {
  name: 'payments-day',
  scope: { team: 'payments' },
  window: { calendar: 'day', timeZone: 'UTC' },
  limitUsd: 0.02,
  action: 'block',
};

/** A ledger and a tracer provider whose spans carry `resource`, as a NodeSDK app has them. */
function app(options: SpanLedgerOptions, resource = detectResources({ detectors: [envDetector] })) {
  const ledger = createSpanLedger(options);
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource,
    spanProcessors: [ledger.processor, new SimpleSpanProcessor({ exporter: exporter })],
  });
  const tracer = provider.getTracer('test');
  const exported = () =>
    exporter
      .getFinishedSpans()
      .reduce((sum, s) => sum + ((s.attributes['spanledger.cost.usd'] as number) ?? 0), 0);
  return { ledger, tracer, exporter, exported };
}

/** Guarded calls made one after another; what ran and what was refused. */
async function sixCalls(
  ledger: ReturnType<typeof createSpanLedger>,
  call: () => void,
  estimateUsd?: number,
) {
  const outcomes: string[] = [];
  const errors: BudgetExceededError[] = [];
  for (let i = 0; i < 6; i++) {
    try {
      await ledger.guard(call, estimateUsd === undefined ? {} : { estimateUsd });
      outcomes.push('ran');
    } catch (e) {
      if (!(e instanceof BudgetExceededError)) throw e;
      errors.push(e);
      outcomes.push('refused');
    }
  }
  return { outcomes, errors };
}

/** The window's settled spend, once the asynchronous ledger writes have landed (a check with
 * an estimate no budget fits, so the decision carries the figures). */
async function windowSpend(
  ledger: ReturnType<typeof createSpanLedger>,
  expected: number,
): Promise<BudgetDecision> {
  const options = { dimensions: { team: 'payments' }, estimateUsd: 1000 };
  let d = await ledger.check(options);
  for (let i = 0; i < 50 && Math.abs((d.spentUsd ?? 0) - expected) > 1e-12; i++) {
    await new Promise((r) => setImmediate(r));
    d = await ledger.check(options);
  }
  return d;
}

describe('guard() with no active span sees the resource and always accounts its spend', () => {
  const saved = process.env.OTEL_RESOURCE_ATTRIBUTES;
  afterEach(() => {
    if (saved === undefined) delete process.env.OTEL_RESOURCE_ATTRIBUTES;
    else process.env.OTEL_RESOURCE_ATTRIBUTES = saved;
  });

  it('OTEL_RESOURCE_ATTRIBUTES=spanledger.team=payments: the third $0.008 call is refused against $0.02', async () => {
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'spanledger.team=payments';
    expect(CALL_USD).toBe(0.008);
    const { ledger, tracer, exported } = app({ budgets: [PAYMENTS_DAY] });
    expect(trace.getSpan(context.active())).toBeUndefined();
    const { outcomes, errors } = await sixCalls(
      ledger,
      () => tracer.startSpan('chat gpt-4o', { attributes: CALL }).end(),
      0.008,
    );
    // 0.008 + 0.008 = 0.016 fits; 0.016 + an estimate of 0.008 = 0.024 would not.
    expect(outcomes).toEqual(['ran', 'ran', 'refused', 'refused', 'refused', 'refused']);
    expect(errors[0]).toMatchObject({ budget: 'payments-day', limit: 'limit_usd', limitUsd: 0.02 });
    expect(exported()).toBe(0.016);
    const d = await windowSpend(ledger, 0.016);
    expect(d.spentUsd).toBe(0.016);
    // A later check inside a span of the same service agrees: no room for another call.
    const span = tracer.startSpan('request');
    const inside = await context.with(trace.setSpan(context.active(), span), () =>
      ledger.check({ estimateUsd: 0.008 }),
    );
    span.end();
    expect(inside).toMatchObject({ action: 'block', budget: 'payments-day', spentUsd: 0.016 });
    await ledger.shutdown();
  });

  it('the cost of an entry span started under a guarded call goes to its hold, not the window, until it settles', async () => {
    // Entry spans (a consumer's, a server's) that start their trace get no record at start,
    // unless they start under a guarded call: then the record carries the reservation, and the
    // span's cost goes to the call's hold (spend and reservation never count it twice).
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'spanledger.team=payments';
    const { ledger, tracer, exported } = app({ budgets: [PAYMENTS_DAY] });
    const during: (BudgetDecision | undefined)[] = [];
    for (const kind of [SpanKind.CONSUMER, SpanKind.SERVER]) {
      await ledger.guard(
        async () => {
          tracer.startSpan('chat gpt-4o', { kind, attributes: CALL }).end();
          await new Promise((r) => setImmediate(r));
          during.push(await ledger.check({ dimensions: { team: 'payments' }, estimateUsd: 1000 }));
        },
        { estimateUsd: 0.008 },
      );
    }
    // Inside each call: the earlier calls' settled spend, and this call's hold of 0.008.
    expect(during.map((d) => [d?.spentUsd, d?.reservedUsd])).toEqual([
      [0, 0.008],
      [0.008, 0.008],
    ]);
    expect(exported()).toBe(0.016);
    expect((await windowSpend(ledger, 0.016)).spentUsd).toBe(0.016);
    await ledger.shutdown();
  });

  it('without an estimate the fourth call is refused and all three calls land in the window', async () => {
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'spanledger.team=payments';
    const { ledger, tracer, exported } = app({ budgets: [PAYMENTS_DAY] });
    const { outcomes } = await sixCalls(ledger, () =>
      tracer.startSpan('chat gpt-4o', { attributes: CALL }).end(),
    );
    // 0.016 + 0 fits under 0.02; 0.024 is over, so the fourth call is refused.
    expect(outcomes).toEqual(['ran', 'ran', 'ran', 'refused', 'refused', 'refused']);
    expect(exported()).toBeCloseTo(0.024, 15);
    const d = await windowSpend(ledger, exported());
    expect(d.spentUsd).toBe(exported());
    await ledger.shutdown();
  });

  it('the `resource` option: dimensions given in code count before any span exists', async () => {
    delete process.env.OTEL_RESOURCE_ATTRIBUTES;
    const resource = resourceFromAttributes({ 'spanledger.team': 'payments' });
    const { ledger, tracer, exported } = app({ budgets: [PAYMENTS_DAY], resource }, resource);
    const { outcomes } = await sixCalls(
      ledger,
      () => tracer.startSpan('chat gpt-4o', { attributes: CALL }).end(),
      0.008,
    );
    expect(outcomes).toEqual(['ran', 'ran', 'refused', 'refused', 'refused', 'refused']);
    expect((await windowSpend(ledger, 0.016)).spentUsd).toBe(exported());
    await ledger.shutdown();
  });

  it('spend of a guarded call whose reservation held nothing for the span’s budget still lands', async () => {
    // The ledger is not told the resource: the guard holds nothing for the team budget, but the
    // spans carry the team (the provider's resource) and their cost must reach the window.
    delete process.env.OTEL_RESOURCE_ATTRIBUTES;
    const { ledger, tracer, exported } = app(
      { budgets: [PAYMENTS_DAY] },
      resourceFromAttributes({ 'spanledger.team': 'payments' }),
    );
    for (let i = 0; i < 2; i++) {
      await ledger.guard(() => tracer.startSpan('chat gpt-4o', { attributes: CALL }).end(), {
        estimateUsd: 0.008,
      });
    }
    expect(exported()).toBe(0.016);
    expect((await windowSpend(ledger, 0.016)).spentUsd).toBe(0.016);
    await ledger.shutdown();
  });

  it('a hold on one tenant and a span of another tenant: each window gets its own spend, once', async () => {
    const tenantDay: BudgetInput = {
      name: 'tenant-day',
      scope: { tenant: '*' },
      window: { calendar: 'day', timeZone: 'UTC' },
      limitUsd: 1,
      action: 'block',
    };
    const { ledger, tracer } = app({ budgets: [tenantDay] }, resourceFromAttributes({}));
    await ledger.guard(
      () => {
        tracer.startSpan('acme', { attributes: { ...CALL, 'spanledger.tenant': 'acme' } }).end();
        tracer
          .startSpan('globex', { attributes: { ...CALL, 'spanledger.tenant': 'globex' } })
          .end();
      },
      { estimateUsd: 0.05, dimensions: { tenant: 'acme' } },
    );
    await new Promise((r) => setImmediate(r));
    const acme = await ledger.check({ dimensions: { tenant: 'acme' } });
    const globex = await ledger.check({ dimensions: { tenant: 'globex' } });
    // Each tenant's window: its own span's 0.008, nothing left reserved.
    expect(acme.remainingUsd).toBe(1 - 0.008);
    expect(globex.remainingUsd).toBe(1 - 0.008);
    await ledger.shutdown();
  });
});

describe('a guarded call that outlives its reservation timeout', () => {
  it('spend after the timeout still lands in the window, once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const resource = resourceFromAttributes({ 'spanledger.team': 'payments' });
      const { ledger, tracer } = app(
        { budgets: [PAYMENTS_DAY], resource, reservationTimeoutMs: 1000 },
        resource,
      );
      let finish: () => void = () => {};
      const running = ledger.guard(
        async () => {
          const span = tracer.startSpan('chat gpt-4o', { attributes: CALL });
          await new Promise<void>((r) => {
            finish = r;
          });
          span.end();
        },
        { estimateUsd: 0.008 },
      );
      await vi.advanceTimersByTimeAsync(0);
      // Held while the call runs: 0.008 of 0.02.
      expect((await ledger.check({ dimensions: { team: 'payments' } })).remainingUsd).toBe(0.012);
      await vi.advanceTimersByTimeAsync(1000);
      // The hold is given back at the timeout...
      expect((await ledger.check({ dimensions: { team: 'payments' } })).remainingUsd).toBe(0.02);
      finish();
      await running;
      // ...and the call's spend, made after it, is written to the window all the same.
      expect((await windowSpend(ledger, 0.008)).spentUsd).toBe(0.008);
      await ledger.shutdown();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('a run past a block per-run cap spends nothing more, whatever `call` says', () => {
  const perRun: BudgetInput = { name: 'per-run', scope: 'trace', maxLlmCalls: 5, action: 'block' };

  it('README pattern: maxLlmCalls 5, guard(fn, { estimateUsd }): calls 1-5 run, 6-9 are refused', async () => {
    const { ledger, tracer } = app({ budgets: [perRun] }, resourceFromAttributes({}));
    const root = tracer.startSpan('invoke_agent loop');
    const ctx = trace.setSpan(context.active(), root);
    const outcomes: string[] = [];
    let last: BudgetExceededError | undefined;
    for (let i = 0; i < 9; i++) {
      try {
        await context.with(ctx, () =>
          ledger.guard(() => tracer.startSpan('chat gpt-4o', { attributes: CALL }).end(), {
            estimateUsd: 0.02,
          }),
        );
        outcomes.push('ran');
      } catch (e) {
        if (!(e instanceof BudgetExceededError)) throw e;
        last = e;
        outcomes.push('refused');
      }
    }
    expect(outcomes).toEqual([...Array(5).fill('ran'), ...Array(4).fill('refused')]);
    expect(last).toMatchObject({ budget: 'per-run', limit: 'max_llm_calls', used: 5, max: 5 });
    expect(last?.message).toBe(
      'spanledger: budget "per-run" blocks this call (max_llm_calls: 5 of 5 LLM calls used)',
    );
    const d = await context.with(ctx, () => ledger.check({}));
    expect(d).toMatchObject({ action: 'block', budget: 'per-run', limit: 'max_llm_calls' });
    root.end();
    await ledger.shutdown();
  });

  it('once exceeded (a 6th call made unguarded), a tool call is refused too, and check() says block', async () => {
    const { ledger, tracer } = app({ budgets: [perRun] }, resourceFromAttributes({}));
    const root = tracer.startSpan('invoke_agent loop');
    const ctx = trace.setSpan(context.active(), root);
    for (let i = 0; i < 6; i++) {
      context.with(ctx, () => tracer.startSpan('chat gpt-4o', { attributes: CALL }).end());
    }
    const tool = await context.with(ctx, () =>
      ledger.check({ call: { kind: 'tool', name: 'search' } }),
    );
    expect(tool).toMatchObject({
      action: 'block',
      budget: 'per-run',
      limit: 'max_llm_calls',
      used: 6,
      max: 5,
      reason: '6 of 5 LLM calls used',
    });
    let ran = false;
    await expect(
      context.with(ctx, () =>
        ledger.guard(
          () => {
            ran = true;
          },
          { call: { kind: 'tool', name: 'search' } },
        ),
      ),
    ).rejects.toBeInstanceOf(BudgetExceededError);
    expect(ran).toBe(false);
    root.end();
    await ledger.shutdown();
  });
});

describe('refusals say which limit decided, in its unit, and why', () => {
  it('USD: spend already over the limit is named alone (the estimate did not decide)', async () => {
    const { ledger, tracer } = app(
      { budgets: [{ ...PAYMENTS_DAY, action: 'degrade' }] },
      resourceFromAttributes({ 'spanledger.team': 'payments' }),
    );
    // Three unguarded calls: 0.024 spent against 0.02.
    for (let i = 0; i < 3; i++) tracer.startSpan('chat', { attributes: CALL }).end();
    await windowSpend(ledger, 0.024);
    const d = await ledger.check({ estimateUsd: 0.008, dimensions: { team: 'payments' } });
    expect(d).toMatchObject({
      action: 'degrade',
      limit: 'limit_usd',
      spentUsd: 0.024,
      estimateUsd: 0.008,
      reason: 'spent 0.024 exceeds 0.02 USD',
    });
    await ledger.shutdown();
  });

  it('USD: spent + estimate would exceed the limit', async () => {
    const { ledger, tracer } = app(
      {
        budgets: [{ ...PAYMENTS_DAY, limitUsd: 0.05 }],
      },
      resourceFromAttributes({ 'spanledger.team': 'payments' }),
    );
    // Four calls: 0.032 spent.
    for (let i = 0; i < 4; i++) tracer.startSpan('chat', { attributes: CALL }).end();
    await windowSpend(ledger, 0.032);
    const options = { estimateUsd: 0.02, dimensions: { team: 'payments' } };
    const d = await ledger.check(options);
    expect(d).toMatchObject({
      action: 'block',
      limit: 'limit_usd',
      unit: 'USD',
      limitUsd: 0.05,
      spentUsd: 0.032,
      estimateUsd: 0.02,
      reason: 'spent 0.032 + estimate 0.02 would exceed 0.05 USD',
    });
    const error = await ledger.enforce(options).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      'spanledger: budget "payments-day" blocks this call (limit_usd: spent 0.032 + estimate 0.02 would exceed 0.05 USD)',
    );
    const refused = await ledger.reserve(0.02, options).catch((e: unknown) => e);
    expect(refused).toMatchObject({ limit: 'limit_usd', spentUsd: 0.032, estimateUsd: 0.02 });
    expect((refused as Error).message).toBe((error as Error).message);
    await ledger.shutdown();
  });

  it('a per-run USD cap: the run’s spend and the estimate', async () => {
    const { ledger, tracer } = app(
      { budgets: [{ name: 'run', scope: 'trace', limitUsd: 0.02, action: 'block' }] },
      resourceFromAttributes({}),
    );
    const root = tracer.startSpan('run');
    const ctx = trace.setSpan(context.active(), root);
    context.with(ctx, () => tracer.startSpan('chat', { attributes: CALL }).end());
    const d = await context.with(ctx, () => ledger.check({ estimateUsd: 0.016 }));
    expect(d).toMatchObject({
      action: 'block',
      limit: 'limit_usd',
      reason: 'run spent 0.008 + estimate 0.016 would exceed 0.02 USD',
    });
    root.end();
    await ledger.shutdown();
  });

  it('a fail-closed ledger that cannot reach its store says so, with no made-up spend', async () => {
    const down = {
      reserve: async () => ({ ok: false, spentUsd: 0, reservedUsd: 0, unavailable: true }),
      settle: async () => undefined,
      release: async () => {},
      add: async () => undefined,
      get: async () => ({ spentUsd: 0, reservedUsd: 0, unavailable: true }),
      close: async () => {},
    };
    const { ledger } = app(
      { budgets: [PAYMENTS_DAY], budgetLedger: down },
      resourceFromAttributes({}),
    );
    const options = { dimensions: { team: 'payments' } };
    const d = await ledger.check(options);
    expect(d).toEqual({
      action: 'block',
      budget: 'payments-day',
      limit: 'ledger_unavailable',
      limitUsd: 0.02,
      reason: 'ledger unavailable (fail-closed)',
    });
    const error = await ledger.reserve(0.01, options).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      'spanledger: budget "payments-day" blocks this call (ledger_unavailable: ledger unavailable (fail-closed))',
    );
    expect((error as BudgetExceededError).spentUsd).toBeUndefined();
    await ledger.shutdown();
  });

  it('tool and repeated-call caps count calls, not dollars', async () => {
    const { ledger, tracer } = app(
      {
        budgets: [
          { name: 'tools', scope: 'trace', maxToolCalls: 2, action: 'block' },
          { name: 'loop', scope: 'trace', maxRepeatedToolCalls: 1, action: 'alert' },
        ],
      },
      resourceFromAttributes({}),
    );
    const root: Span = tracer.startSpan('run');
    const ctx = trace.setSpan(context.active(), root);
    const tool = {
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'search',
      'gen_ai.tool.call.arguments': '{"q":"x"}',
    };
    context.with(ctx, () => tracer.startSpan('execute_tool search', { attributes: tool }).end());
    const repeat = await context.with(ctx, () =>
      ledger.check({ call: { kind: 'tool', name: 'search', arguments: { q: 'x' } } }),
    );
    expect(repeat).toMatchObject({
      action: 'alert',
      limit: 'max_repeated_tool_calls',
      unit: 'calls',
      used: 1,
      max: 1,
      reason: '1 of 1 identical calls of search used',
    });
    context.with(ctx, () =>
      tracer
        .startSpan('execute_tool search', {
          attributes: { ...tool, 'gen_ai.tool.call.arguments': '{}' },
        })
        .end(),
    );
    const more = await context.with(ctx, () => ledger.check({ call: { kind: 'tool', name: 'x' } }));
    expect(more).toMatchObject({
      action: 'block',
      limit: 'max_tool_calls',
      reason: '2 of 2 tool calls used',
    });
    expect(more.limitUsd).toBeUndefined();
    root.end();
    await ledger.shutdown();
  });
});

describe('concurrent guarded calls of one run hold their share of its per-run caps', () => {
  /** Ten guarded model calls of one run started at once; each takes a few turns to answer. */
  async function tenAtOnce(budget: BudgetInput, estimateUsd: number) {
    const { ledger, tracer, exported } = app({ budgets: [budget] }, resourceFromAttributes({}));
    const root = tracer.startSpan('invoke_agent fan-out');
    const ctx = trace.setSpan(context.active(), root);
    let calls = 0;
    const settled = await context.with(ctx, () =>
      Promise.allSettled(
        Array.from({ length: 10 }, () =>
          ledger.guard(
            async () => {
              calls++;
              const span = tracer.startSpan('chat gpt-4o', { attributes: CALL });
              for (let t = 0; t < 3; t++) await Promise.resolve();
              span.end();
            },
            { estimateUsd },
          ),
        ),
      ),
    );
    const refusals = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    const after = await context.with(ctx, () => ledger.check({ call: { kind: 'llm' } }));
    root.end();
    await ledger.shutdown();
    return { calls, refusals, after, spent: exported() };
  }

  it('maxLlmCalls 5: five of ten concurrent calls run, five are refused before spending', async () => {
    const r = await tenAtOnce(
      { name: 'per-run', scope: 'trace', maxLlmCalls: 5, action: 'block' },
      0.008,
    );
    expect(r.calls).toBe(5);
    expect(r.refusals).toHaveLength(5);
    for (const e of r.refusals) {
      expect(e).toBeInstanceOf(BudgetExceededError);
      expect(e).toMatchObject({ budget: 'per-run', limit: 'max_llm_calls', max: 5 });
    }
    expect(r.refusals[0].message).toBe(
      'spanledger: budget "per-run" blocks this call (max_llm_calls: 5 of 5 LLM calls used (5 in flight))',
    );
    expect(r.spent).toBeCloseTo(5 * CALL_USD, 12);
    expect(r.after).toMatchObject({ action: 'block', limit: 'max_llm_calls', used: 5 });
  });

  it('limitUsd 0.02 with $0.008 estimates: two of ten concurrent calls run ($0.016)', async () => {
    const r = await tenAtOnce(
      { name: 'per-run', scope: 'trace', limitUsd: 0.02, action: 'block' },
      CALL_USD,
    );
    expect(r.calls).toBe(2);
    expect(r.refusals).toHaveLength(8);
    expect(r.refusals[0]).toMatchObject({ budget: 'per-run', limit: 'limit_usd' });
    expect(r.refusals[0].message).toBe(
      'spanledger: budget "per-run" blocks this call (limit_usd: run spent 0 + held 0.016 + estimate 0.008 would exceed 0.02 USD)',
    );
    expect(r.spent).toBeCloseTo(2 * CALL_USD, 12);
    // Nothing is left held once the calls returned: the run's own spend decides.
    expect(r.after).toMatchObject({ action: 'allow' });
    expect(r.after.remainingUsd).toBeCloseTo(0.02 - 2 * CALL_USD, 12);
  });
});
