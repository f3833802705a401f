/**
 * A real SDK pipeline with metrics: spanledger's processor first, an in-memory span exporter
 * after it, and a real MeterProvider read by an in-memory (cumulative) metric reader.
 */
import type { Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  type Sampler,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { createSpanLedger, type SpanLedgerOptions } from '../../src/index.js';

/** A metric reader collected on demand. */
export class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** The sum of an instrument's data points (histogram sums) whose attributes match `where`. */
export function sumOf(
  rm: ResourceMetrics,
  name: string,
  where: (a: Attributes) => boolean = () => true,
): number {
  let total = 0;
  for (const sm of rm.scopeMetrics) {
    for (const m of sm.metrics) {
      if (m.descriptor.name !== name) continue;
      for (const p of m.dataPoints) {
        if (!where(p.attributes)) continue;
        if (m.dataPointType === DataPointType.HISTOGRAM) total += (p.value as { sum: number }).sum;
        else total += p.value as number;
      }
    }
  }
  return total;
}

/** The pipeline; `sampler` is wrapped with `ledger.sampler(...)` as the docs require. */
export function metricPipeline(options: SpanLedgerOptions = {}, sampler?: Sampler) {
  const reader = new TestReader({
    aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE,
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const ledger = createSpanLedger({ ...options, meterProvider });
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    ...(sampler ? { sampler: ledger.sampler(sampler) } : {}),
    spanProcessors: [ledger.processor, new SimpleSpanProcessor({ exporter: exporter })],
  });
  return {
    ledger,
    exporter,
    provider,
    tracer: provider.getTracer('spanledger-test'),
    reader,
    meterProvider,
    /** The last exported span with this name. */
    span(name: string): ReadableSpan {
      const found = exporter.getFinishedSpans().filter((s) => s.name === name);
      const last = found[found.length - 1];
      if (!last) throw new Error(`no finished span named ${name}`);
      return last;
    },
    /** Collect the metrics so far. */
    async metrics(): Promise<ResourceMetrics> {
      return (await reader.collect()).resourceMetrics;
    },
  };
}
