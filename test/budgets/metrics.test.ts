/**
 * The budget metrics of SPEC section 3, read through a real global MeterProvider (sdk-metrics)
 * registered before the ledger is created: gauges `spanledger.budget.limit.usd` and
 * `spanledger.budget.spent.usd` (budget, window) and the counter `spanledger.budget.events`
 * (budget, kind, action), with exact figures.
 */
import { type Attributes, type Context, context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BudgetEvent, BudgetExceededError } from '../../src/index.js';
import { harness } from '../processor/harness.js';
import { CHAT, CHAT_USD } from '../support/fixtures.js';
import { TestReader } from '../support/metrics.js';

const AT = Date.parse('2026-11-02T10:00:00Z');
const chat = CHAT;
const CALL_USD = CHAT_USD;

const manager = new AsyncLocalStorageContextManager();
let reader: TestReader;
let provider: MeterProvider;

beforeAll(() => {
  context.setGlobalContextManager(manager.enable());
  reader = new TestReader({
    aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE,
  });
  provider = new MeterProvider({ readers: [reader] });
  // Before any ledger exists: the engine takes its meter at construction.
  expect(metrics.setGlobalMeterProvider(provider)).toBe(true);
});

afterAll(async () => {
  await provider.shutdown();
  metrics.disable();
  manager.disable();
  context.disable();
});

interface Point {
  attributes: Attributes;
  value: number;
}

/** Data points of one instrument, from one collection. */
function points(rm: ResourceMetrics, name: string): Point[] {
  const out: Point[] = [];
  for (const scope of rm.scopeMetrics) {
    if (scope.scope.name !== 'spanledger') continue;
    for (const m of scope.metrics) {
      if (m.descriptor.name !== name) continue;
      for (const p of m.dataPoints)
        out.push({ attributes: p.attributes, value: p.value as number });
    }
  }
  return out;
}

function descriptor(rm: ResourceMetrics, name: string) {
  for (const scope of rm.scopeMetrics) {
    for (const m of scope.metrics) if (m.descriptor.name === name) return m;
  }
  return undefined;
}

async function collect(): Promise<ResourceMetrics> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return resourceMetrics;
}

/** `budget/kind/action` → count, for comparison with toEqual. */
function eventCounts(rm: ResourceMetrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of points(rm, 'spanledger.budget.events')) {
    const a = p.attributes;
    out[`${a.budget}/${a.kind}/${a.action}`] = p.value;
  }
  return out;
}

describe('budget metrics through the global meter', () => {
  it('gauges report limit 1 and the exact spend; the events counter counts warnings and exceeded by kind and action', async () => {
    const events: BudgetEvent[] = [];
    const h = harness({
      now: () => AT,
      onBudgetEvent: (e) => events.push(e),
      budgets: [
        {
          name: 'payments-daily',
          scope: { team: 'payments' },
          window: { calendar: 'day', timeZone: 'UTC' },
          limitUsd: 1,
          warnAt: [0.5],
          action: 'block',
        },
        { name: 'per-run', scope: 'trace', limitUsd: 0.5, warnAt: [0.5, 0.8], action: 'alert' },
      ],
    });

    // Nothing spent yet: no window is tracked, so the gauges have no points and no event fired.
    const empty = await collect();
    expect(points(empty, 'spanledger.budget.limit.usd')).toEqual([]);
    expect(points(empty, 'spanledger.budget.spent.usd')).toEqual([]);
    expect(eventCounts(empty)).toEqual({});

    const team = { 'spanledger.team': 'payments' };
    const root = h.tracer.startSpan('invoke_agent billing', { attributes: team, startTime: AT });
    const ctx = trace.setSpan(context.active(), root);
    const step = (attrs: Attributes, name = 'step') =>
      h.tracer.startSpan(name, { attributes: { ...team, ...attrs }, startTime: AT }, ctx).end();
    const manual = (usd: number) => step({ 'spanledger.manual.cost.usd': usd }, 'review');

    // Cumulative team spend / per-run spend after each span (the root itself costs nothing):
    manual(0.2); //                 0.2
    manual(0.1); //                 0.3       per-run: crosses 0.25 (50 % of 0.5)
    step(chat, 'chat gpt-4o'); //   0.30472
    manual(0.25); //                0.55472   team: crosses 0.5 (50 %); per-run: 0.4 (80 %) and 0.5 (exceeded)
    manual(0.3); //                 0.85472
    step(chat, 'chat gpt-4o'); //   0.85944
    manual(0.15); //                1.00944   team: exceeded (> 1)
    root.end();
    const costs = [0.2, 0.1, CALL_USD, 0.25, 0.3, CALL_USD, 0.15];
    const total = costs.reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(1.00944, 12);
    // The run root's rollup agrees with the sum (the same spans feed budgets and rollups).
    expect(h.span('invoke_agent billing').attributes['spanledger.trace.cost.usd']).toBeCloseTo(
      total,
      12,
    );

    // Ledger writes are asynchronous: wait until the window's settled spend is the whole sum.
    const dims = { dimensions: { team: 'payments' } };
    for (let i = 0; i < 100; i++) {
      const d = await h.ledger.check(dims);
      if (Math.abs((d.spentUsd ?? 0) - total) < 1e-9) break;
      await new Promise((r) => setImmediate(r));
    }
    const decision = await h.ledger.check({ ...dims, estimateUsd: 0.01 });
    expect(decision).toMatchObject({ action: 'block', budget: 'payments-daily', limitUsd: 1 });
    expect(Math.abs((decision.spentUsd as number) - total)).toBeLessThan(1e-9);

    const rm = await collect();
    const window = 'day@UTC';
    const limits = points(rm, 'spanledger.budget.limit.usd');
    const spent = points(rm, 'spanledger.budget.spent.usd');
    // One point each: the calendar window. Per-run budgets have no ledger window and no gauge.
    expect(limits).toEqual([{ attributes: { budget: 'payments-daily', window }, value: 1 }]);
    expect(spent).toHaveLength(1);
    expect(spent[0]?.attributes).toEqual({ budget: 'payments-daily', window });
    expect(Math.abs((spent[0]?.value as number) - total)).toBeLessThan(1e-9);

    const limitMetric = descriptor(rm, 'spanledger.budget.limit.usd');
    expect(limitMetric?.dataPointType).toBe(DataPointType.GAUGE);
    expect(limitMetric?.descriptor.unit).toBe('{USD}');
    expect(descriptor(rm, 'spanledger.budget.spent.usd')?.dataPointType).toBe(DataPointType.GAUGE);
    const eventMetric = descriptor(rm, 'spanledger.budget.events');
    expect(eventMetric?.dataPointType).toBe(DataPointType.SUM);
    expect(eventMetric?.descriptor.unit).toBe('{event}');

    expect(eventCounts(rm)).toEqual({
      'payments-daily/warning/block': 1,
      'payments-daily/exceeded/block': 1,
      'per-run/warning/alert': 2,
      'per-run/exceeded/alert': 1,
    });
    // The counter and the callback saw the same events, in spend order per budget. Per-run
    // budgets signal synchronously on the span; ledger windows once the ledger write returns
    // the window's totals (which is what makes them exactly-once across replicas).
    const seq = (budget: string) =>
      events.filter((e) => e.budget === budget).map((e) => `${e.kind}:${e.threshold ?? ''}`);
    expect(seq('per-run')).toEqual(['warning:0.5', 'warning:0.8', 'exceeded:']);
    expect(seq('payments-daily')).toEqual(['warning:0.5', 'exceeded:']);

    // Past the limit the block budget stops the next guarded call before it runs; its window
    // already signalled exceeded (the crossing), so the refusal adds no event.
    let ran = false;
    await expect(
      context.with(ctx, () =>
        h.ledger.guard(
          () => {
            ran = true;
          },
          { estimateUsd: 0.001 },
        ),
      ),
    ).rejects.toBeInstanceOf(BudgetExceededError);
    expect(ran).toBe(false);
    const after = await collect();
    expect(eventCounts(after)).toEqual(eventCounts(rm));
    expect(
      Math.abs((points(after, 'spanledger.budget.spent.usd')[0]?.value as number) - total),
    ).toBeLessThan(1e-9);
    await h.ledger.shutdown();
  });

  it('guarded calls: the spent gauge follows settled spend, warnings fire once per window', async () => {
    const h = harness({
      now: () => AT,
      budgets: [
        {
          name: 'support-daily',
          scope: { useCase: 'support' },
          window: { calendar: 'day', timeZone: 'Europe/Berlin' },
          limitUsd: 0.02,
          warnAt: [0.5, 0.8],
          action: 'degrade',
          degrade: { model: 'gpt-4o-mini' },
        },
      ],
    });
    const root = h.tracer.startSpan('invoke_agent support', {
      attributes: { 'spanledger.use_case': 'support' },
      startTime: AT,
    });
    const ctx = trace.setSpan(context.active(), root);
    // Five sequential guarded gpt-4o calls (estimate 0.005, actual 0.00472 each): 0.0236 > 0.02.
    for (let i = 0; i < 5; i++) {
      await context.with(ctx, () =>
        h.ledger.guard(
          () => h.tracer.startSpan('chat', { attributes: chat, startTime: AT }).end(),
          { estimateUsd: 0.005 },
        ),
      );
    }
    root.end();
    const rm = await collect();
    const window = 'day@Europe/Berlin';
    expect(
      points(rm, 'spanledger.budget.limit.usd').filter(
        (p) => p.attributes.budget === 'support-daily',
      ),
    ).toEqual([{ attributes: { budget: 'support-daily', window }, value: 0.02 }]);
    const spent = points(rm, 'spanledger.budget.spent.usd').filter(
      (p) => p.attributes.budget === 'support-daily',
    );
    expect(spent).toHaveLength(1);
    expect(Math.abs((spent[0]?.value as number) - 5 * CALL_USD)).toBeLessThan(1e-9);
    // 0.01416 (3rd call) crosses 50 % (0.01), 0.01888 (4th) 80 % (0.016), 0.0236 (5th) exceeds.
    const counts = eventCounts(rm);
    expect({
      warning: counts['support-daily/warning/degrade'],
      exceeded: counts['support-daily/exceeded/degrade'],
    }).toEqual({ warning: 2, exceeded: 1 });
    // Reservations are all settled: nothing held.
    const d = await h.ledger.check({ dimensions: { useCase: 'support' } });
    expect(d).toMatchObject({ action: 'degrade', suggestion: { model: 'gpt-4o-mini' } });
    expect(Math.abs((d.spentUsd as number) - 5 * CALL_USD)).toBeLessThan(1e-9);
    await h.ledger.shutdown();
  });
});

describe('the paused gauge', () => {
  it('spanledger.budget.paused reports each budget’s paused scopes, read from the ledger at each collection', async () => {
    const h = harness({
      now: () => AT,
      budgets: [
        {
          name: 'gauge-tenant-month',
          scope: { tenant: '*' },
          window: { calendar: 'month', timeZone: 'UTC' },
          limitUsd: 10,
          action: 'block',
        },
        {
          name: 'gauge-shared-day',
          scope: { team: 'payments' },
          window: { calendar: 'day', timeZone: 'UTC' },
          limitUsd: 1,
          action: 'alert',
        },
      ],
    });
    const paused = async () => {
      const out: Record<string, number> = {};
      for (const p of points(await collect(), 'spanledger.budget.paused')) {
        const budget = String(p.attributes.budget);
        if (budget.startsWith('gauge-')) out[budget] = p.value;
      }
      return out;
    };
    // Every budget with a window has a series, at 0 until something is paused.
    expect(await paused()).toEqual({ 'gauge-tenant-month': 0, 'gauge-shared-day': 0 });
    const acme = { budget: 'gauge-tenant-month', dimensions: { tenant: 'acme' } };
    await h.ledger.pause(acme, { reason: 'loop', by: 'ops' });
    await h.ledger.pause(
      { budget: 'gauge-tenant-month', dimensions: { tenant: 'globex' } },
      { reason: 'loop', by: 'ops' },
    );
    await h.ledger.pause({ budget: 'gauge-shared-day' }, { reason: 'incident', by: 'ops' });
    expect(await paused()).toEqual({ 'gauge-tenant-month': 2, 'gauge-shared-day': 1 });
    await h.ledger.resume(acme);
    expect(await paused()).toEqual({ 'gauge-tenant-month': 1, 'gauge-shared-day': 1 });
    const d = descriptor(await collect(), 'spanledger.budget.paused');
    expect(d?.descriptor.unit).toBe('{scope}');
    expect(d?.dataPointType).toBe(DataPointType.GAUGE);
    await h.ledger.shutdown();
  });
});

describe('action: pause through guard (the trial budget of the support example)', () => {
  /** The example's `trial-daily`: 1 cent a day for the trial tenant, paused at the limit. */
  const trial = {
    name: 'trial-daily',
    scope: { tenant: 'trial' },
    window: { calendar: 'day', timeZone: 'UTC' },
    limitUsd: 0.01,
    action: 'pause',
  } as const;
  const tenant = { 'spanledger.tenant': 'trial' };

  /** One guarded call under `ctx` whose span costs `usd` (a manual cost); resolves to the
   * refusal, or undefined when it ran. */
  async function call(h: ReturnType<typeof harness>, ctx: Context, usd: number) {
    let ran = false;
    const e = await context
      .with(ctx, () =>
        h.ledger.guard(
          () => {
            ran = true;
            h.tracer
              .startSpan('review', {
                attributes: { ...tenant, 'spanledger.manual.cost.usd': usd },
                startTime: AT,
              })
              .end();
          },
          { estimateUsd: 0.005 },
        ),
      )
      .then(
        () => undefined,
        (x: unknown) => x,
      );
    expect(ran).toBe(e === undefined);
    return e;
  }

  /** The `trial-daily` series of the paused gauge and of the events counter, from one
   * collection through the global MeterProvider. */
  async function figures() {
    const rm = await collect();
    const counts = eventCounts(rm);
    return {
      paused: points(rm, 'spanledger.budget.paused')
        .filter((p) => p.attributes.budget === 'trial-daily')
        .map((p) => p.value),
      exceeded: counts['trial-daily/exceeded/pause'],
    };
  }

  it.each([
    // The first call spends $0.02: its settlement crosses the limit and pauses the scope. The
    // call's spans have ended by then: the event goes to the counter and the callback only.
    { first: 0.02, reason: 'limit_usd: spent 0.02 of 0.01 USD', onRun: false },
    // The first call spends $0.006: the next one's check (0.006 + estimate 0.005) refuses it,
    // and that refusal pauses the scope; the run's span, still open, takes the event.
    {
      first: 0.006,
      reason: 'limit_usd: spent 0.006 + estimate 0.005 would exceed 0.01 USD',
      onRun: true,
    },
  ])(
    'a call of $first USD, then a refused one: the scope is paused, one exceeded event, the gauge reads 1',
    async ({ first, reason, onRun }) => {
      const events: BudgetEvent[] = [];
      const h = harness({ now: () => AT, onBudgetEvent: (e) => events.push(e), budgets: [trial] });
      const before = await figures();
      expect(before.paused).toEqual([0]);
      const root = h.tracer.startSpan('invoke_agent support', {
        attributes: tenant,
        startTime: AT,
      });
      const ctx = trace.setSpan(context.active(), root);
      expect(await call(h, ctx, first)).toBeUndefined();
      const e = await call(h, ctx, 0.001);
      root.end();
      expect(e).toBeInstanceOf(BudgetExceededError);
      expect(e).toMatchObject({
        budget: 'trial-daily',
        limit: 'paused',
        pausedBy: 'spanledger (action: pause)',
        pausedAt: new Date(AT).toISOString(),
        reason: `paused by spanledger (action: pause) at ${new Date(AT).toISOString()}: limit reached: ${reason}`,
      });
      // A shared window (a value, not '*'): the pause has no dimensions.
      expect((await h.ledger.pauses()).map((p) => [p.budget, p.dimensions, p.by])).toEqual([
        ['trial-daily', {}, 'spanledger (action: pause)'],
      ]);
      expect(events.filter((x) => x.kind === 'exceeded')).toEqual([
        {
          kind: 'exceeded',
          budget: 'trial-daily',
          action: 'pause',
          limitUsd: 0.01,
          spentUsd: first,
          limit: 'limit_usd',
        },
      ]);
      const onSpan = h
        .span('invoke_agent support')
        .events.filter((x) => x.name === 'spanledger.budget.exceeded')
        .map((x) => x.attributes);
      expect(onSpan).toEqual(
        onRun
          ? [
              {
                'spanledger.budget.name': 'trial-daily',
                'spanledger.budget.action': 'pause',
                'spanledger.budget.limit_usd': 0.01,
                'spanledger.budget.spent_usd': first,
              },
            ]
          : [],
      );
      // Refused again with the pause, and no second event.
      expect(await call(h, ctx, 0.001)).toMatchObject({ limit: 'paused' });
      expect(await figures()).toEqual({ paused: [1], exceeded: (before.exceeded ?? 0) + 1 });
      expect(await h.ledger.check({ dimensions: { tenant: 'trial' } })).toMatchObject({
        action: 'block',
        limit: 'paused',
      });
      await h.ledger.resume({ budget: 'trial-daily' });
      expect((await figures()).paused).toEqual([0]);
      await h.ledger.shutdown();
    },
  );
});

describe('a block budget refusing a call signals one exceeded event', () => {
  /** The `block` series of `budget` in the events counter, from one collection. */
  async function exceededCount(budget: string): Promise<number | undefined> {
    return eventCounts(await collect())[`${budget}/exceeded/block`];
  }
  /** One guarded call under `ctx`; resolves to its refusal, or undefined when it ran. */
  async function guarded(
    h: ReturnType<typeof harness>,
    ctx: Context,
    o: Parameters<ReturnType<typeof harness>['ledger']['guard']>[1],
    span?: () => void,
  ): Promise<unknown> {
    let ran = false;
    const e = await context
      .with(ctx, () =>
        h.ledger.guard(() => {
          ran = true;
          span?.();
        }, o),
      )
      .then(
        () => undefined,
        (x: unknown) => x,
      );
    expect(ran).toBe(e === undefined);
    return e;
  }
  const exceededOn = (h: ReturnType<typeof harness>, name: string) =>
    h
      .span(name)
      .events.filter((x) => x.name === 'spanledger.budget.exceeded')
      .map((x) => x.attributes);

  it('a run refused on its third identical tool call (the example per-run budget): one event, however often refused', async () => {
    const events: BudgetEvent[] = [];
    const h = harness({
      now: () => AT,
      onBudgetEvent: (e) => events.push(e),
      budgets: [
        {
          name: 'loop-run',
          scope: 'trace',
          maxLlmCalls: 6,
          maxRepeatedToolCalls: 2,
          action: 'block',
        },
      ],
    });
    const root = h.tracer.startSpan('invoke_agent loop', { startTime: AT });
    const ctx = trace.setSpan(context.active(), root);
    const lookup = { kind: 'tool', name: 'lookup_order', arguments: { order: 'A-404' } } as const;
    const tool = () =>
      h.tracer
        .startSpan(
          'execute_tool lookup_order',
          {
            attributes: {
              'gen_ai.operation.name': 'execute_tool',
              'gen_ai.tool.name': 'lookup_order',
              'gen_ai.tool.call.arguments': '{"order":"A-404"}',
            },
            startTime: AT,
          },
          ctx,
        )
        .end();
    const llm = () =>
      h.tracer.startSpan('chat gpt-4o', { attributes: chat, startTime: AT }, ctx).end();
    const before = (await exceededCount('loop-run')) ?? 0;

    // model, tool, model, tool: both identical lookups run.
    for (let i = 0; i < 2; i++) {
      expect(await guarded(h, ctx, { call: { kind: 'llm' } }, llm)).toBeUndefined();
      expect(await guarded(h, ctx, { call: lookup }, tool)).toBeUndefined();
    }
    // A question is not a refusal: no event.
    expect(await context.with(ctx, () => h.ledger.check({ call: lookup }))).toMatchObject({
      action: 'block',
      limit: 'max_repeated_tool_calls',
    });
    expect(events).toEqual([]);
    expect(await exceededCount('loop-run')).toBe(before || undefined);

    // The third identical lookup is refused before it runs, and again on a retry.
    for (let i = 0; i < 2; i++) {
      expect(await guarded(h, ctx, { call: lookup }, tool)).toMatchObject({
        budget: 'loop-run',
        limit: 'max_repeated_tool_calls',
        used: 2,
        max: 2,
      });
    }
    root.end();
    expect(events).toEqual([
      {
        kind: 'exceeded',
        budget: 'loop-run',
        action: 'block',
        limit: 'max_repeated_tool_calls',
        spentUsd: 2 * CALL_USD,
        unit: 'calls',
        used: 2,
        max: 2,
      },
    ]);
    expect(await exceededCount('loop-run')).toBe(before + 1);
    const run = h.span('invoke_agent loop');
    expect(exceededOn(h, 'invoke_agent loop')).toEqual([
      {
        'spanledger.budget.name': 'loop-run',
        'spanledger.budget.action': 'block',
        'spanledger.budget.spent_usd': 2 * CALL_USD,
      },
    ]);
    expect(run.attributes['spanledger.budget.exceeded']).toEqual(['loop-run']);
    expect(run.attributes['spanledger.trace.tool_calls']).toBe(2);
    await h.ledger.shutdown();
  });

  it('a calendar budget refusing two guarded calls and a reservation: one event for the window', async () => {
    const events: BudgetEvent[] = [];
    const h = harness({
      now: () => AT,
      onBudgetEvent: (e) => events.push(e),
      budgets: [
        {
          name: 'acme-daily',
          scope: { tenant: 'acme' },
          window: { calendar: 'day', timeZone: 'UTC' },
          limitUsd: 0.01,
          // No warnings: the events below are the exceeded ones.
          warnAt: [],
          action: 'block',
        },
      ],
    });
    const acme = { 'spanledger.tenant': 'acme' };
    const root = h.tracer.startSpan('invoke_agent acme', { attributes: acme, startTime: AT });
    const ctx = trace.setSpan(context.active(), root);
    const review = () =>
      h.tracer
        .startSpan(
          'review',
          { attributes: { ...acme, 'spanledger.manual.cost.usd': 0.008 }, startTime: AT },
          ctx,
        )
        .end();
    const before = (await exceededCount('acme-daily')) ?? 0;
    // $0.008 of $0.01 spent (settled when the call returns): under the limit, nothing signalled.
    expect(await guarded(h, ctx, { estimateUsd: 0.005 }, review)).toBeUndefined();
    expect(events).toEqual([]);
    // 0.008 + 0.005 > 0.01: refused twice by guard, once by reserve; check only answers.
    for (let i = 0; i < 2; i++) {
      expect(await guarded(h, ctx, { estimateUsd: 0.005 }, review)).toMatchObject({
        budget: 'acme-daily',
        limit: 'limit_usd',
      });
    }
    await expect(context.with(ctx, () => h.ledger.reserve(0.005))).rejects.toBeInstanceOf(
      BudgetExceededError,
    );
    expect(await context.with(ctx, () => h.ledger.check({ estimateUsd: 0.005 }))).toMatchObject({
      action: 'block',
    });
    root.end();
    expect(events).toEqual([
      {
        kind: 'exceeded',
        budget: 'acme-daily',
        action: 'block',
        limit: 'limit_usd',
        limitUsd: 0.01,
        spentUsd: 0.008,
      },
    ]);
    expect(await exceededCount('acme-daily')).toBe(before + 1);
    // On the open span of the run it refused; a window budget is not the run's own.
    expect(exceededOn(h, 'invoke_agent acme')).toEqual([
      {
        'spanledger.budget.name': 'acme-daily',
        'spanledger.budget.action': 'block',
        'spanledger.budget.limit_usd': 0.01,
        'spanledger.budget.spent_usd': 0.008,
      },
    ]);
    expect(h.span('invoke_agent acme').attributes['spanledger.budget.exceeded']).toBeUndefined();
    await h.ledger.shutdown();
  });

  it('a rolling budget refusing reservations: one event per window length while it refuses', async () => {
    const events: BudgetEvent[] = [];
    let now = AT;
    const h = harness({
      now: () => now,
      onBudgetEvent: (e) => events.push(e),
      budgets: [
        {
          name: 'acme-minute',
          scope: { tenant: 'acme' },
          window: { rollingMs: 60_000 },
          limitUsd: 0.01,
          action: 'block',
        },
      ],
    });
    const acme = { dimensions: { tenant: 'acme' } };
    const refuse = () =>
      expect(h.ledger.reserve(0.02, acme)).rejects.toBeInstanceOf(BudgetExceededError);
    await refuse();
    now += 59_999;
    await refuse();
    expect(events).toHaveLength(1);
    now += 1;
    await refuse();
    expect(events).toEqual([
      {
        kind: 'exceeded',
        budget: 'acme-minute',
        action: 'block',
        limit: 'limit_usd',
        limitUsd: 0.01,
        spentUsd: 0,
      },
      {
        kind: 'exceeded',
        budget: 'acme-minute',
        action: 'block',
        limit: 'limit_usd',
        limitUsd: 0.01,
        spentUsd: 0,
      },
    ]);
    await h.ledger.shutdown();
  });
});
