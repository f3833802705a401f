import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { createSpanLedger } from '../../src/index.js';
import { MeterSource } from '../../src/metrics/meter-source.js';
import { CHAT, CHAT_USD } from '../support/fixtures.js';

class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const cumulative = () =>
  new TestReader({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });

async function costTotal(reader: MetricReader): Promise<number> {
  const { resourceMetrics } = await reader.collect();
  let total = 0;
  for (const sm of resourceMetrics.scopeMetrics) {
    for (const m of sm.metrics) {
      if (m.descriptor.name !== 'spanledger.cost.usd') continue;
      expect(m.dataPointType).toBe(DataPointType.SUM);
      for (const p of m.dataPoints) total += p.value as number;
    }
  }
  return total;
}

afterEach(() => metrics.disable());

describe('MeterSource', () => {
  it('a ledger created before the global meter provider records on it once registered', async () => {
    // The NodeSDK order: the ledger (its processor goes into the SDK config) first, then
    // start() registers the global meter provider.
    const ledger = createSpanLedger();
    const tracer = new TracerProvider({ spanProcessors: [ledger.processor] }).getTracer('t');
    const at = new Date('2026-11-02T10:00:00Z');
    tracer.startSpan('chat gpt-4o', { attributes: CHAT, startTime: at }).end();

    const reader = cumulative();
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
    for (let i = 0; i < 3; i++) {
      tracer.startSpan('chat gpt-4o', { attributes: CHAT, startTime: at }).end();
    }
    // The span ended before registration went to the no-op meter; the three after it count.
    expect(await costTotal(reader)).toBeCloseTo(3 * CHAT_USD, 12);
  });

  it('an explicit provider is used as given, and bind() builds once per meter', () => {
    const provider = new MeterProvider({ readers: [cumulative()] });
    const source = new MeterSource(provider);
    let builds = 0;
    const get = source.bind(() => ++builds);
    expect([get(), get(), get()]).toEqual([1, 1, 1]);
    expect(source.get()).toBe(provider.getMeter('spanledger'));
  });

  it('builds nothing on the no-op meter, then once when the global provider appears', () => {
    const source = new MeterSource();
    let builds = 0;
    const get = source.bind(() => ++builds);
    expect(get()).toBeUndefined();
    expect(get()).toBeUndefined();
    expect(builds).toBe(0);
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [cumulative()] }));
    expect(get()).toBe(1);
    expect(get()).toBe(1);
  });
});
