/**
 * recordOutcome through a real SDK pipeline: the processor turns outcome spans into the
 * `spanledger.outcomes` and `spanledger.outcome.value.usd` counters with the attribution
 * dimensions, exactly under head sampling, and never into cost.
 */
import type { Attributes } from '@opentelemetry/api';
import { ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { recordOutcome, withAttribution } from '../../src/index.js';
import { gpt4oChat, gpt4oUsd, useContextManager } from '../support/fixtures.js';
import { metricPipeline, sumOf } from '../support/metrics.js';

useContextManager();

const named =
  (outcome: string, dims: Attributes = {}) =>
  (a: Attributes) =>
    a['spanledger.outcome.name'] === outcome && Object.entries(dims).every(([k, v]) => a[k] === v);

describe('recordOutcome', () => {
  it('3 outcomes worth $12.50 each: outcomes 3, value 37.5, by tenant and use case; cost unchanged', async () => {
    const p = metricPipeline();
    const chatUsd = gpt4oUsd(1000, 0, 100);
    await withAttribution({ tenant: 'acme', useCase: 'support' }, () =>
      p.tracer.startActiveSpan('agent run', async (root) => {
        p.tracer.startSpan('chat', { attributes: gpt4oChat(1000, 0, 100) }).end();
        for (let i = 0; i < 3; i++) {
          recordOutcome('ticket_resolved', { tracer: p.tracer, valueUsd: 12.5 });
        }
        root.end();
      }),
    );
    withAttribution({ tenant: 'globex', useCase: 'sales' }, () =>
      recordOutcome('lead_qualified', { tracer: p.tracer, valueUsd: 40, count: 2 }),
    );
    const rm = await p.metrics();
    const acme = { 'spanledger.tenant': 'acme', 'spanledger.use_case': 'support' };
    expect(sumOf(rm, 'spanledger.outcomes', named('ticket_resolved', acme))).toBe(3);
    expect(sumOf(rm, 'spanledger.outcome.value.usd', named('ticket_resolved', acme))).toBe(37.5);
    const globex = { 'spanledger.tenant': 'globex', 'spanledger.use_case': 'sales' };
    expect(sumOf(rm, 'spanledger.outcomes', named('lead_qualified', globex))).toBe(2);
    expect(sumOf(rm, 'spanledger.outcome.value.usd', named('lead_qualified', globex))).toBe(80);
    // Outcomes are value, never cost: the cost counter and the run's total are the chat alone.
    expect(sumOf(rm, 'spanledger.cost.usd')).toBe(chatUsd);
    expect(sumOf(rm, 'spanledger.operations')).toBe(1);
    expect(p.span('agent run').attributes['spanledger.trace.cost.usd']).toBe(chatUsd);
    const outcome = p.span('outcome ticket_resolved').attributes;
    expect(outcome).toMatchObject({
      'spanledger.outcome.name': 'ticket_resolved',
      'spanledger.outcome.count': 1,
      'spanledger.outcome.value.usd': 12.5,
      'spanledger.tenant': 'acme',
    });
    expect(Object.keys(outcome).filter((k) => k.startsWith('spanledger.cost'))).toEqual([]);
    expect(p.span('outcome lead_qualified').attributes['spanledger.outcome.value.usd']).toBe(80);
  });

  it('an outcome span is never priced, even carrying a cost attribute; bad values are reported', async () => {
    const p = metricPipeline();
    p.tracer
      .startSpan('hand-made', {
        attributes: { 'spanledger.outcome.name': 'sale', 'spanledger.manual.cost.usd': 5 },
      })
      .end();
    p.tracer
      .startSpan('garbled', {
        attributes: { 'spanledger.outcome.name': 'sale', 'spanledger.outcome.count': -1 },
      })
      .end();
    const rm = await p.metrics();
    expect(sumOf(rm, 'spanledger.cost.usd')).toBe(0);
    expect(sumOf(rm, 'spanledger.outcomes', named('sale'))).toBe(1);
    expect(p.span('hand-made').attributes['spanledger.cost.usd']).toBeUndefined();
    expect(p.ledger.stats().problems.invalid_attribute).toBe(1);
  });

  it('stays exact at 10% head sampling with the ledger sampler wrapper', async () => {
    const sampler = new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.1) });
    const p = metricPipeline({}, sampler);
    const runs = 2000;
    let expectedCount = 0;
    let expectedValue = 0;
    let expectedT0 = 0;
    for (let i = 0; i < runs; i++) {
      const count = 1 + (i % 3);
      withAttribution({ tenant: `t${i % 4}` }, () =>
        p.tracer.startActiveSpan('agent run', (root) => {
          recordOutcome('ticket_resolved', { tracer: p.tracer, valueUsd: 12.5, count });
          root.end();
        }),
      );
      expectedCount += count;
      expectedValue += 12.5 * count;
      if (i % 4 === 0) expectedT0 += count;
    }
    const rm = await p.metrics();
    expect(sumOf(rm, 'spanledger.outcomes', named('ticket_resolved'))).toBe(expectedCount);
    expect(sumOf(rm, 'spanledger.outcome.value.usd', named('ticket_resolved'))).toBe(expectedValue);
    const t0 = sumOf(
      rm,
      'spanledger.outcomes',
      named('ticket_resolved', { 'spanledger.tenant': 't0' }),
    );
    expect(t0).toBe(expectedT0);
    // Only the sampled runs were exported (the outcome follows its run's decision).
    const exported = p.exporter
      .getFinishedSpans()
      .filter((s) => s.name === 'outcome ticket_resolved').length;
    expect(exported).toBeGreaterThan(0);
    expect(exported).toBeLessThan(runs * 0.1 * 3);
  });

  it('bad options throw a TypeError naming the option', () => {
    expect(() => recordOutcome('', {})).toThrow(/recordOutcome: name must be a non-empty string/);
    expect(() => recordOutcome('x', { valueUsd: Number.POSITIVE_INFINITY })).toThrow(
      'spanledger: recordOutcome: invalid options: valueUsd: must be a finite number >= 0, got Infinity',
    );
    expect(() => recordOutcome('x', { count: -2 })).toThrow(/invalid options: count: /);
  });
});
