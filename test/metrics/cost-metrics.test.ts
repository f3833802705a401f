import { context, trace } from '@opentelemetry/api';
import type { DataPoint, Histogram } from '@opentelemetry/sdk-metrics';
import { TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { gpt4oChat, gpt4oUsd } from '../support/fixtures.js';
import { metricPipeline, sumOf } from '../support/metrics.js';

const AT = new Date('2026-11-02T10:00:00Z');
const chat = gpt4oChat;
const usd = gpt4oUsd;

async function pipeline(ratio: number) {
  return metricPipeline({}, new TraceIdRatioBasedSampler(ratio));
}

describe('cost metrics are exact under head sampling', () => {
  it.each([0.01, 0.1])(
    'at %s sampling the cost counter equals the sum of every span',
    async (ratio) => {
      const p = await pipeline(ratio);
      let expected = 0;
      let expectedTraces = 0;
      const runs = 2000;
      for (let i = 0; i < runs; i++) {
        const input = 500 + (i % 37) * 100;
        const cached = (i % 3) * 100;
        const output = 50 + (i % 11) * 10;
        const root = p.tracer.startSpan('invoke_agent', {
          startTime: AT,
          attributes: { 'spanledger.tenant': `t${i % 5}` },
        });
        p.tracer
          .startSpan(
            'chat',
            { attributes: chat(input, cached, output), startTime: AT },
            trace.setSpan(context.active(), root),
          )
          .end();
        root.end();
        expected += usd(input, cached, output);
        expectedTraces += 1;
      }
      const { resourceMetrics: rm } = await p.reader.collect();
      // Every span was priced and counted...
      expect(Math.abs(sumOf(rm, 'spanledger.cost.usd') - expected) / expected).toBeLessThan(1e-9);
      expect(Math.abs(sumOf(rm, 'spanledger.trace.cost.usd') - expected) / expected).toBeLessThan(
        1e-9,
      );
      expect(
        sumOf(rm, 'spanledger.operations', (a) => a['spanledger.cost.status'] === 'priced'),
      ).toBe(runs);
      // ...while only the sampled traces were exported (both spans of a run share its decision).
      const exported = p.exporter.getFinishedSpans().filter((s) => s.name === 'chat').length;
      expect(exported).toBeGreaterThan(0);
      expect(exported).toBeLessThan(runs * ratio * 3);
      // Per tenant, the attribution dimension splits the same total.
      const t0 = sumOf(rm, 'spanledger.cost.usd', (a) => a['spanledger.tenant'] === 't0');
      expect(t0).toBeGreaterThan(0);
      expect(t0).toBeLessThan(expected);
      expect(expectedTraces).toBe(runs);
      await p.meterProvider.shutdown();
    },
  );

  it('counts tokens by type (disjoint: they add up to the call totals) and unpriced spans', async () => {
    const p = await pipeline(1);
    p.tracer
      .startSpan('a', {
        attributes: { ...chat(1200, 1024, 300), 'gen_ai.usage.reasoning.output_tokens': 128 },
        startTime: AT,
      })
      .end();
    p.tracer
      .startSpan('b', {
        attributes: { ...chat(10, 0, 10), 'gen_ai.request.model': 'gpt-unknown' },
        startTime: AT,
      })
      .end();
    const { resourceMetrics: rm } = await p.reader.collect();
    const tokens = (type: string) =>
      sumOf(
        rm,
        'spanledger.tokens',
        (a) => a['gen_ai.token.type'] === type && a['gen_ai.request.model'] === 'gpt-4o',
      );
    expect([
      tokens('input'),
      tokens('cache_read'),
      tokens('cache_write'),
      tokens('output'),
      tokens('reasoning'),
    ]).toEqual([176, 1024, 0, 172, 128]);
    expect(
      sumOf(
        rm,
        'spanledger.unpriced',
        (a) => a['spanledger.cost.unpriced_reason'] === 'unknown_model',
      ),
    ).toBe(1);
    expect(sumOf(rm, 'spanledger.cache.savings.usd')).toBeCloseTo((1024 * 1.25) / 1e6, 15);
    await p.meterProvider.shutdown();
  });
});

describe('series of consecutive spans', () => {
  // `record` reuses the series of the previous span when its model, status and dimensions are
  // the same: runs of repeats and switches must land every span in its own series.
  it('keeps each tenant, model and status in its own series through repeats and switches', async () => {
    const p = await pipeline(1);
    const calls: [tenant: string, model: string, input: number][] = [
      ['a', 'gpt-4o', 1000],
      ['a', 'gpt-4o', 2000],
      ['b', 'gpt-4o', 3000],
      ['a', 'gpt-4o', 4000],
      ['a', 'gpt-unknown', 5000],
      ['a', 'gpt-4o', 6000],
      ['b', 'gpt-4o', 7000],
      ['b', 'gpt-4o', 8000],
    ];
    for (const [tenant, model, input] of calls) {
      p.tracer
        .startSpan('chat', {
          attributes: {
            ...chat(input, 0, 100),
            'gen_ai.request.model': model,
            'gen_ai.response.model': model,
            'spanledger.tenant': tenant,
          },
          startTime: AT,
        })
        .end();
    }
    const { resourceMetrics: rm } = await p.reader.collect();
    const priced = (tenant: string) =>
      calls
        .filter(([t, m]) => t === tenant && m === 'gpt-4o')
        .reduce((sum, [, , input]) => sum + usd(input, 0, 100), 0);
    const cost = (tenant: string) =>
      sumOf(rm, 'spanledger.cost.usd', (a) => a['spanledger.tenant'] === tenant);
    expect(cost('a')).toBeCloseTo(priced('a'), 12);
    expect(cost('b')).toBeCloseTo(priced('b'), 12);
    const input = (tenant: string, model: string) =>
      sumOf(
        rm,
        'spanledger.tokens',
        (a) =>
          a['spanledger.tenant'] === tenant &&
          a['gen_ai.request.model'] === model &&
          a['gen_ai.token.type'] === 'input',
      );
    expect(input('a', 'gpt-4o')).toBe(1000 + 2000 + 4000 + 6000);
    expect(input('b', 'gpt-4o')).toBe(3000 + 7000 + 8000);
    expect(input('a', 'gpt-unknown')).toBe(5000);
    const ops = (status: string) =>
      sumOf(rm, 'spanledger.operations', (a) => a['spanledger.cost.status'] === status);
    expect(ops('priced')).toBe(7);
    expect(ops('unpriced')).toBe(1);
    await p.meterProvider.shutdown();
  });
});

describe('the run-cost histogram keeps unknown apart from zero', () => {
  it('records a run whose only call is unpriced under spanledger.cost.status=partial', async () => {
    const p = await pipeline(1);
    const run = (name: string, model: string, input: number, output: number) => {
      const root = p.tracer.startSpan(name, { startTime: AT });
      p.tracer
        .startSpan(
          'chat',
          {
            attributes: { ...chat(input, 0, output), 'gen_ai.request.model': model },
            startTime: AT,
          },
          trace.setSpan(context.active(), root),
        )
        .end();
      root.end();
    };
    run('priced 1', 'gpt-4o', 1000, 100);
    run('priced 2', 'gpt-4o', 3000, 0);
    run('unknown', 'gpt-unknown', 1000, 100);
    const rm = await p.metrics();
    const hist = rm.scopeMetrics
      .flatMap((sm) => sm.metrics)
      .filter((m) => m.descriptor.name === 'spanledger.trace.cost.usd')
      .flatMap((m) => m.dataPoints as DataPoint<Histogram>[]);
    const byStatus = (s: string) =>
      hist.find((d) => d.attributes['spanledger.cost.status'] === s)?.value;
    expect(hist).toHaveLength(2);
    expect(byStatus('priced')?.count).toBe(2);
    expect(byStatus('priced')?.sum).toBeCloseTo(usd(1000, 0, 100) + usd(3000, 0, 0), 12);
    expect(byStatus('partial')?.count).toBe(1);
    expect(byStatus('partial')?.sum).toBe(0);
  });
});
