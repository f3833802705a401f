/**
 * Pause and resume through the decision API on the in-memory ledger (docs/budgets.md, "Pause
 * and resume"): what a paused scope refuses, `until`, `action: pause`, and the argument checks.
 * The fleet-wide behaviour on Redis is in test/integration/budgets-pause.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  type BudgetEvent,
  BudgetExceededError,
  type BudgetInput,
  ConfigError,
  createSpanLedger,
} from '../../src/index.js';

const T0 = Date.parse('2026-11-30T09:15:00Z');

function subject(budgets: BudgetInput[]) {
  let now = T0;
  const events: BudgetEvent[] = [];
  const ledger = createSpanLedger({
    now: () => now,
    budgets,
    onBudgetEvent: (e) => events.push(e),
  });
  return {
    ledger,
    events,
    advance(ms: number) {
      now += ms;
    },
  };
}

const refusal = async (p: Promise<unknown>): Promise<BudgetExceededError> => {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(BudgetExceededError);
  return e as BudgetExceededError;
};

describe('a paused scope', () => {
  it('refuses every kind of call, even one no limit of the budget counts, and on an alert budget', async () => {
    const { ledger } = subject([
      {
        name: 'llm-calls-day',
        scope: { team: 'payments' },
        window: { calendar: 'day', timeZone: 'UTC' },
        maxLlmCalls: 100,
        action: 'alert',
      },
    ]);
    const team = { dimensions: { team: 'payments' } };
    const tool = { ...team, call: { kind: 'tool', name: 'search' } } as const;
    expect(await ledger.guard(async () => 'ran', tool)).toBe('ran');
    await ledger.pause({ budget: 'llm-calls-day' }, { reason: 'incident 42', by: 'ops' });
    // A tool call does not count against maxLlmCalls, and the budget only alerts: still refused.
    const e = await refusal(ledger.guard(async () => 'ran', tool));
    expect(e).toMatchObject({
      budget: 'llm-calls-day',
      limit: 'paused',
      pausedBy: 'ops',
      pausedAt: '2026-11-30T09:15:00.000Z',
      reason: 'paused by ops at 2026-11-30T09:15:00.000Z: incident 42',
    });
    expect(e.message).toBe(
      'spanledger: budget "llm-calls-day" blocks this call (paused: paused by ops at 2026-11-30T09:15:00.000Z: incident 42)',
    );
    await refusal(ledger.reserve(0, tool));
    expect(await ledger.check(tool)).toMatchObject({ action: 'block', limit: 'paused' });
    expect(await ledger.check(team)).toMatchObject({ action: 'block', limit: 'paused' });
    // Outside the scope nothing changes.
    expect(await ledger.check({ dimensions: { team: 'search' } })).toEqual({ action: 'allow' });
    expect(await ledger.resume({ budget: 'llm-calls-day' })).toBe(true);
    expect(await ledger.guard(async () => 'ran', tool)).toBe('ran');
    await ledger.shutdown();
  });

  it('lifts by itself at until; pauses() lists it until then', async () => {
    const s = subject([
      {
        name: 'tenant-month',
        scope: { tenant: '*' },
        window: { calendar: 'month', timeZone: 'UTC' },
        limitUsd: 10,
        action: 'block',
      },
    ]);
    const acme = { budget: 'tenant-month', dimensions: { tenant: 'acme' } };
    const p = await s.ledger.pause(acme, {
      reason: 'maintenance',
      by: 'ops',
      until: '2026-11-30T10:15:00+00:00',
    });
    expect(p).toEqual({
      budget: 'tenant-month',
      dimensions: { tenant: 'acme' },
      key: 'spanledger:b:{tenant-month:tenant=acme}:paused',
      reason: 'maintenance',
      by: 'ops',
      pausedAt: '2026-11-30T09:15:00.000Z',
      until: '2026-11-30T10:15:00.000Z',
    });
    expect(await s.ledger.pauses()).toEqual([p]);
    const dims = { dimensions: { tenant: 'acme' } };
    const e = await refusal(s.ledger.reserve(1, dims));
    expect(e.until).toBe('2026-11-30T10:15:00.000Z');
    expect(e.reason).toBe(
      'paused by ops at 2026-11-30T09:15:00.000Z until 2026-11-30T10:15:00.000Z: maintenance',
    );
    s.advance(3_600_000 - 1);
    await refusal(s.ledger.reserve(1, dims));
    s.advance(1);
    await (await s.ledger.reserve(1, dims)).settle(1);
    expect(await s.ledger.pauses()).toEqual([]);
    expect(await s.ledger.resume(acme)).toBe(false);
    await s.ledger.shutdown();
  });
});

describe('action: pause', () => {
  it('a call-count limit reached pauses the scope; it stays paused in the next window', async () => {
    const s = subject([
      {
        name: 'calls-day',
        scope: { useCase: 'triage' },
        window: { calendar: 'day', timeZone: 'Europe/Paris' },
        maxLlmCalls: 2,
        action: 'pause',
      },
    ]);
    const llm = { dimensions: { useCase: 'triage' }, call: { kind: 'llm' } } as const;
    for (let i = 0; i < 2; i++) await (await s.ledger.reserve(0, llm)).settle(0);
    const e = await refusal(s.ledger.reserve(0, llm));
    expect(e).toMatchObject({
      limit: 'paused',
      pausedBy: 'spanledger (action: pause)',
      reason:
        'paused by spanledger (action: pause) at 2026-11-30T09:15:00.000Z: limit reached: max_llm_calls: 2 of 2 LLM calls used',
    });
    // The second call's settlement reached the limit: one exceeded event, with the pause.
    expect(s.events.filter((e) => e.kind === 'exceeded')).toEqual([
      {
        kind: 'exceeded',
        budget: 'calls-day',
        action: 'pause',
        limit: 'max_llm_calls',
        unit: 'calls',
        used: 2,
        max: 2,
      },
    ]);
    // Midnight in Paris: a new, empty window; the scope is still paused.
    s.advance(14 * 3_600_000);
    expect(await s.ledger.check(llm)).toMatchObject({ action: 'block', limit: 'paused' });
    await s.ledger.resume({ budget: 'calls-day' });
    await (await s.ledger.reserve(0, llm)).settle(0);
    await s.ledger.shutdown();
  });

  it('a reservation or an enforce refused at the limit pauses the scope; a check only answers', async () => {
    const s = subject([
      {
        name: 'trial-daily',
        scope: { tenant: 'trial' },
        window: { calendar: 'day', timeZone: 'UTC' },
        limitUsd: 0.01,
        warnAt: [],
        action: 'pause',
      },
    ]);
    const trial = { dimensions: { tenant: 'trial' } };
    await (await s.ledger.reserve(0.005, trial)).settle(0.006);
    // 0.006 + 0.005 does not fit: check answers block at the limit, and pauses nothing.
    expect(await s.ledger.check({ ...trial, estimateUsd: 0.005 })).toMatchObject({
      action: 'block',
      limit: 'limit_usd',
      reason: 'spent 0.006 + estimate 0.005 would exceed 0.01 USD',
    });
    expect(await s.ledger.pauses()).toEqual([]);
    expect(s.events).toEqual([]);
    const paused = {
      limit: 'paused',
      pausedBy: 'spanledger (action: pause)',
      reason:
        'paused by spanledger (action: pause) at 2026-11-30T09:15:00.000Z: limit reached: limit_usd: spent 0.006 + estimate 0.005 would exceed 0.01 USD',
    };
    const exceeded = {
      kind: 'exceeded',
      budget: 'trial-daily',
      action: 'pause',
      limit: 'limit_usd',
      limitUsd: 0.01,
      spentUsd: 0.006,
    };
    // The reservation that does not fit is refused with the pause it leaves.
    expect(await refusal(s.ledger.reserve(0.005, trial))).toMatchObject(paused);
    expect((await s.ledger.pauses()).map((p) => p.budget)).toEqual(['trial-daily']);
    expect(s.events).toEqual([exceeded]);
    // Paused: refused with the pause, no second event.
    expect(await refusal(s.ledger.enforce(trial))).toMatchObject({ limit: 'paused' });
    expect(s.events).toHaveLength(1);
    // Resumed at the limit: enforce's refusal pauses the scope again, with a new event.
    expect(await s.ledger.resume({ budget: 'trial-daily' })).toBe(true);
    expect(await refusal(s.ledger.enforce({ ...trial, estimateUsd: 0.005 }))).toMatchObject(paused);
    expect(s.events).toEqual([exceeded, exceeded]);
    await s.ledger.shutdown();
  });

  it('is refused on a per-run budget: a run has no window to outlive', () => {
    expect(() =>
      createSpanLedger({
        budgets: [{ name: 'run', scope: 'trace', limitUsd: 1, action: 'pause' }],
      }),
    ).toThrow(
      new ConfigError(
        "spanledger: invalid budgets in options.budgets: budgets[0].action: 'pause' applies to calendar and rolling windows: use 'block' per run",
      ),
    );
  });
});

describe('pause arguments', () => {
  const { ledger } = subject([
    {
      name: 'tenant-month',
      scope: { tenant: '*', team: 'payments' },
      window: { calendar: 'month', timeZone: 'UTC' },
      limitUsd: 10,
    },
    {
      name: 'shared-day',
      scope: { team: 'payments' },
      window: { rollingMs: 3_600_000 },
      limitUsd: 1,
    },
    { name: 'per-run', scope: 'trace', limitUsd: 1 },
  ]);
  const why = { reason: 'x', by: 'ops' };

  it.each([
    [
      { budget: 'tenant-mnth' },
      why,
      'spanledger: pause(scope, options): unknown budget "tenant-mnth" (budgets with windows: tenant-month, shared-day)',
    ],
    [
      { budget: 'per-run' },
      why,
      'spanledger: pause(scope, options): budget "per-run" is per run: only calendar and rolling budgets can be paused',
    ],
    [
      { budget: 'tenant-month' },
      why,
      'spanledger: pause(scope, options): budget "tenant-month" has one window per tenant: give tenant (e.g. tenant=acme)',
    ],
    [
      { budget: 'tenant-month', dimensions: { tenant: 'acme', team: 'payments' } },
      why,
      'spanledger: pause(scope, options): budget "tenant-month" has one window per tenant: team is not one of them',
    ],
    [
      { budget: 'shared-day', dimensions: { team: 'payments' } },
      why,
      'spanledger: pause(scope, options): budget "shared-day" has one shared window: give no dimension (got team)',
    ],
    [
      { budget: 'shared-day', dimensions: { tenantt: 'acme' } },
      why,
      'spanledger: pause(scope, options): dimensions.tenantt: unknown dimension "tenantt" (known: team, costCenter, tenant, useCase, agent)',
    ],
    [
      { budget: 'shared-day' },
      { reason: ' ' },
      'spanledger: pause(scope, options): options.reason: say why, in one line',
    ],
    [
      { budget: 'shared-day' },
      { reason: 'x', until: '2026-11-30T09:00:00Z' },
      'spanledger: pause(scope, options): options.until: expected a future instant (Date, epoch ms or ISO 8601 with a zone), got "2026-11-30T09:00:00Z"',
    ],
    [
      { budget: 'shared-day' },
      { reason: 'x', until: '2026-12-01' },
      'spanledger: pause(scope, options): options.until: expected a future instant (Date, epoch ms or ISO 8601 with a zone), got "2026-12-01"',
    ],
  ])('%j %j: TypeError', async (scope, options, message) => {
    await expect(ledger.pause(scope, options)).rejects.toThrow(new TypeError(message));
    expect(await ledger.pauses()).toEqual([]);
  });
});
