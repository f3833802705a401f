/**
 * CostMetrics aggregates per series and reports through observable counters: the figures must be
 * those synchronous counters would give, for either temporality, with a bounded series count.
 */
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  MeterProvider,
} from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { CostMetrics } from '../../src/metrics/cost-metrics.js';
import type { SpanCost } from '../../src/processor/span-cost.js';
import { sumOf, TestReader } from '../support/metrics.js';

function setup(temporality: AggregationTemporality, maxSeries?: number) {
  const reader = new TestReader({ aggregationTemporalitySelector: () => temporality });
  const provider = new MeterProvider({ readers: [reader] });
  const metrics = new CostMetrics(
    provider.getMeter('t'),
    maxSeries !== undefined ? { maxSeries } : {},
  );
  return { reader, metrics };
}

const toolCost = (usd: number): SpanCost => ({
  category: 'tool',
  status: 'priced',
  costUsd: usd,
  source: 'rule',
  invalid: [],
});

const points = async (reader: TestReader, name: string) => {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics
    .flatMap((sm) => sm.metrics)
    .filter((m) => m.descriptor.name === name)
    .flatMap((m) => m.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value })));
};

describe('CostMetrics series', () => {
  it('sums a series and keeps absent and empty dimension values apart', async () => {
    const { reader, metrics } = setup(AggregationTemporality.CUMULATIVE);
    metrics.record(toolCost(0.25), { 'spanledger.tenant': 'acme' });
    metrics.record(toolCost(0.5), {}, { 'spanledger.tenant': 'acme' }); // from the run's root
    metrics.record(toolCost(0.125), {});
    const cost = await points(reader, 'spanledger.cost.usd');
    expect(cost).toHaveLength(2);
    expect(cost.find((p) => p.attributes['spanledger.tenant'] === 'acme')?.value).toBe(0.75);
    expect(cost.find((p) => !('spanledger.tenant' in p.attributes))?.value).toBe(0.125);
  });

  it('folds series beyond maxSeries into one overflow series, conserving the total', async () => {
    const { reader, metrics } = setup(AggregationTemporality.CUMULATIVE, 3);
    for (let i = 0; i < 100; i++) {
      metrics.record(toolCost(0.01 * (i + 1)), { 'spanledger.tenant': `t${i}` });
    }
    const cost = await points(reader, 'spanledger.cost.usd');
    expect(cost).toHaveLength(4);
    const overflow = cost.find((p) => p.attributes['otel.metric.overflow'] === true);
    expect(overflow?.value).toBeCloseTo(0.01 * (5050 - 6), 12); // tenants t3..t99
    const { resourceMetrics } = await reader.collect();
    expect(sumOf(resourceMetrics, 'spanledger.cost.usd')).toBeCloseTo(0.01 * 5050, 12);
  });

  it('caps the run-cost histogram across combinations of dimensions, conserving the sum', async () => {
    const { reader, metrics } = setup(AggregationTemporality.CUMULATIVE, 50);
    // Every dimension under a small cap of its own (10 tenants, 10 teams, 5 use cases), yet
    // 500 combinations: the cap holds across them.
    let total = 0;
    for (let i = 0; i < 20_000; i++) {
      const usd = 0.001 * ((i % 97) + 1);
      total += usd;
      metrics.recordTrace(usd, i % 7 === 0 ? 'partial' : 'priced', {
        'spanledger.tenant': `t${i % 10}`,
        'spanledger.team': `team${Math.floor(i / 10) % 10}`,
        'spanledger.use_case': `u${Math.floor(i / 100) % 5}`,
      });
    }
    const { resourceMetrics } = await reader.collect();
    const hist = resourceMetrics.scopeMetrics
      .flatMap((sm) => sm.metrics)
      .filter((m) => m.descriptor.name === 'spanledger.trace.cost.usd')
      .flatMap((m) => m.dataPoints as DataPoint<Histogram>[]);
    expect(hist.length).toBe(51); // 50 series and the overflow series
    const overflow = hist.filter((d) => d.attributes['otel.metric.overflow'] === true);
    expect(overflow).toHaveLength(1);
    const counted = hist.reduce((n, d) => n + d.value.count, 0);
    expect(counted).toBe(20_000);
    const sum = sumOf(resourceMetrics, 'spanledger.trace.cost.usd');
    expect(Math.abs(sum - total) / total).toBeLessThan(1e-9);
    const inOverflow = overflow[0]?.value.sum ?? 0;
    const inSeries = sum - inOverflow;
    expect(inOverflow).toBeGreaterThan(0);
    expect(Math.abs(inSeries + inOverflow - total) / total).toBeLessThan(1e-9);
  });

  it('reports deltas to a delta reader, totals to a cumulative one', async () => {
    const { reader, metrics } = setup(AggregationTemporality.DELTA);
    metrics.record(toolCost(0.25), {});
    expect((await points(reader, 'spanledger.cost.usd'))[0]?.value).toBe(0.25);
    metrics.record(toolCost(0.5), {});
    expect((await points(reader, 'spanledger.cost.usd'))[0]?.value).toBe(0.5);
    outcomeTwice(metrics);
    // One collection for both outcome counters: a second one would report their delta, 0.
    const { resourceMetrics } = await reader.collect();
    expect(sumOf(resourceMetrics, 'spanledger.outcomes')).toBe(3);
    expect(sumOf(resourceMetrics, 'spanledger.outcome.value.usd')).toBe(37.5);
  });
});

function outcomeTwice(metrics: CostMetrics): void {
  metrics.recordOutcome('ticket_resolved', 1, 12.5, { 'spanledger.tenant': 'acme' });
  metrics.recordOutcome('ticket_resolved', 2, 25, {}, { 'spanledger.tenant': 'acme' });
}
