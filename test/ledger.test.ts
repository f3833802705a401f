/**
 * createSpanLedger's own contract: options validated as strictly as files, the decision API's
 * arguments checked with one clear line, and a closed ledger answering by its stated policy
 * (docs/budgets.md, "After shutdown").
 */
import { context, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import {
  BudgetExceededError,
  type BudgetInput,
  ConfigError,
  createSpanLedger,
  type SpanLedgerOptions,
} from '../src/index.js';
import { gpt4oChat, useContextManager } from './support/fixtures.js';

useContextManager();

const CALL = gpt4oChat(2000, 0, 300); // $0.008

const teamDay = (action: BudgetInput['action']): BudgetInput => ({
  name: `payments-${action}`,
  scope: { team: 'payments' },
  window: { calendar: 'day', timeZone: 'UTC' },
  limitUsd: 1,
  action,
});

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('createSpanLedger options are validated like files', () => {
  it.each([
    [{ budget: [] }, 'budget: unknown option (did you mean budgets?)'],
    [{ price: './prices.yaml' }, 'price: unknown option (did you mean prices?)'],
    [{ maxOpenTrace: 10 }, 'maxOpenTrace: unknown option (did you mean maxOpenTraces?)'],
    [{ maxOpenTraces: '10' }, 'maxOpenTraces: expected a positive integer, got "10"'],
    [{ traceTtlMs: -1 }, 'traceTtlMs: expected a positive integer, got -1'],
    [{ reservationTimeoutMs: 1.5 }, 'reservationTimeoutMs: expected a positive integer, got 1.5'],
    [{ onBudgetEvent: 'page' }, 'onBudgetEvent: expected a function, got string'],
    [{ now: 1 }, 'now: expected a function, got number'],
    [{ budgets: { name: 'x' } }, 'budgets: expected a list of budgets, got object'],
    [{ semconvCostAttributes: 'yes' }, 'semconvCostAttributes: expected true or false, got "yes"'],
    [
      { budgetLedger: {} },
      'budgetLedger: expected a BudgetLedger (reserve, settle, release, add, get, close)',
    ],
    [{ attribution: true }, 'attribution: expected attribution options or false, got true'],
    [
      { resource: { team: 'payments' } },
      'resource: expected a resource ({ attributes }), got object',
    ],
  ])('%j → one ConfigError line', (options, why) => {
    const e = thrown(() => createSpanLedger(options as SpanLedgerOptions));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toBe(`spanledger: invalid createSpanLedger options: ${why}`);
  });

  it('names every problem at once, in one line', () => {
    const e = thrown(() =>
      createSpanLedger({ budget: [], now: 1 } as unknown as SpanLedgerOptions),
    );
    expect(e.message).toBe(
      'spanledger: invalid createSpanLedger options: now: expected a function, got number; budget: unknown option (did you mean budgets?)',
    );
  });

  it('a valid options object is accepted as is', async () => {
    const ledger = createSpanLedger({
      budgets: [teamDay('block')],
      maxOpenTraces: 10,
      now: () => 0,
      attribution: { trustBaggage: false },
      resource: resourceFromAttributes({ 'spanledger.team': 'payments' }),
    });
    expect(ledger.budgets.map((b) => b.name)).toEqual(['payments-block']);
    await ledger.shutdown();
  });
});

describe('decision API arguments', () => {
  const ledger = createSpanLedger({ budgets: [teamDay('block')] });

  it('guard(42) says what is wrong, before anything is held', async () => {
    await expect(ledger.guard(42 as unknown as () => void)).rejects.toThrow(
      new TypeError('spanledger: guard(fn): fn must be a function, got number'),
    );
  });

  it.each([
    [
      'reserve',
      () => ledger.reserve(-1),
      'spanledger: reserve(estimateUsd): estimateUsd must be a finite non-negative number of USD, got -1',
    ],
    [
      'reserve NaN',
      () => ledger.reserve(Number.NaN),
      'spanledger: reserve(estimateUsd): estimateUsd must be a finite non-negative number of USD, got NaN',
    ],
    [
      'guard',
      () => ledger.guard(() => 1, { estimateUsd: Number.POSITIVE_INFINITY }),
      'spanledger: guard(fn, options): estimateUsd: must be a finite non-negative number of USD, got Infinity',
    ],
    [
      'check',
      () => ledger.check({ estimate: 0.02 } as never),
      'spanledger: check(options): estimate: unknown option (did you mean estimateUsd?)',
    ],
    [
      'enforce',
      () => ledger.enforce({ call: { kind: 'llms' } } as never),
      'spanledger: enforce(options): call.kind: expected "llm" or "tool"',
    ],
    [
      'check dims',
      () => ledger.check({ dimensions: { team: 7 } } as never),
      'spanledger: check(options): dimensions.team: expected a string, got number',
    ],
    [
      // A mistyped name would match no budget and lift its limit silently.
      'check, a mistyped dimension',
      () => ledger.check({ dimensions: { tenent: 'acme' } }),
      'spanledger: check(options): dimensions.tenent: unknown dimension "tenent" (known: team, costCenter, tenant, useCase, agent)',
    ],
    [
      'guard, an attribute key instead of the name',
      () => ledger.guard(() => 1, { dimensions: { 'spanledger.team': 'payments' } }),
      'spanledger: guard(fn, options): dimensions.spanledger.team: unknown dimension "spanledger.team" (known: team, costCenter, tenant, useCase, agent)',
    ],
  ])('%s: one TypeError line', async (_, call, message) => {
    await expect(call()).rejects.toThrow(new TypeError(message));
  });
});

describe('a closed ledger answers by its stated policy', () => {
  function app(options: SpanLedgerOptions) {
    const ledger = createSpanLedger(options);
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'spanledger.team': 'payments' }),
      spanProcessors: [
        ledger.processor,
        new SimpleSpanProcessor({ exporter: new InMemorySpanExporter() }),
      ],
    });
    return { ledger, tracer: provider.getTracer('t') };
  }
  const dims = { dimensions: { team: 'payments' } };

  it('block budgets refuse with limit ledger_closed; nothing runs, nothing throws a plain Error', async () => {
    const { ledger } = app({ budgets: [teamDay('block')] });
    await ledger.shutdown();
    await ledger.shutdown(); // idempotent
    expect(await ledger.check(dims)).toEqual({
      action: 'block',
      budget: 'payments-block',
      limit: 'ledger_closed',
      limitUsd: 1,
      reason: 'ledger closed (shut down)',
    });
    let ran = false;
    const refusal = await ledger
      .guard(() => {
        ran = true;
      }, dims)
      .catch((e: unknown) => e);
    expect(ran).toBe(false);
    expect(refusal).toBeInstanceOf(BudgetExceededError);
    expect((refusal as BudgetExceededError).message).toBe(
      'spanledger: budget "payments-block" blocks this call (ledger_closed: ledger closed (shut down))',
    );
    await expect(ledger.enforce(dims)).rejects.toMatchObject({ limit: 'ledger_closed' });
    await expect(ledger.reserve(0.01, dims)).rejects.toMatchObject({ limit: 'ledger_closed' });
  });

  it('alert and degrade budgets do not stop work: guard runs fn; late spend is counted, never thrown', async () => {
    const { ledger, tracer } = app({ budgets: [teamDay('alert'), teamDay('degrade')] });
    await ledger.shutdown();
    expect(await ledger.check(dims)).toEqual({ action: 'allow' });
    const answer = await ledger.guard(() => {
      tracer.startSpan('chat', { attributes: CALL }).end();
      return 42;
    }, dims);
    expect(answer).toBe(42);
    const reservation = await ledger.reserve(0.01, dims);
    await reservation.settle(0.01);
    await new Promise((r) => setImmediate(r));
    // The guarded span's spend could not be written: counted under one kind, per budget.
    expect(ledger.stats().problems).toEqual({ ledger_closed: 2 });
  });

  it('per-run budgets live in the process and keep deciding', async () => {
    const { ledger, tracer } = app({
      budgets: [{ name: 'run', scope: 'trace', maxLlmCalls: 1, action: 'block' }],
    });
    const root = tracer.startSpan('run');
    const ctx = trace.setSpan(context.active(), root);
    context.with(ctx, () => tracer.startSpan('chat', { attributes: CALL }).end());
    await ledger.shutdown();
    const d = await context.with(ctx, () => ledger.check({ call: { kind: 'llm' } }));
    expect(d).toMatchObject({ action: 'block', limit: 'max_llm_calls' });
    expect(await ledger.check({})).toEqual({ action: 'allow' });
    root.end();
  });
});
