/**
 * A real SDK pipeline for driving real clients: the spanledger processor first, then an
 * in-memory exporter, a real MeterProvider, registered globally (the instrumentations and the
 * Anthropic SDK use the global tracer provider), with the async context manager NodeSDK uses.
 */
import { type Attributes, context, type Span, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, MeterProvider } from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { createSpanLedger } from '../../../src/index.js';
import { sumOf, TestReader } from '../../support/metrics.js';

export function clientPipeline() {
  const reader = new TestReader({
    aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE,
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const ledger = createSpanLedger({ meterProvider });
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    spanProcessors: [ledger.processor, new SimpleSpanProcessor({ exporter: exporter })],
  });
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  trace.setGlobalTracerProvider(provider);
  let seen = 0;
  return {
    ledger,
    /** Spans ended since the last call, after pending promise reactions have run. */
    async newSpans(): Promise<ReadableSpan[]> {
      await new Promise((resolve) => setImmediate(resolve));
      const all = exporter.getFinishedSpans();
      const fresh = all.slice(seen);
      seen = all.length;
      return fresh;
    },
    allSpans: () => exporter.getFinishedSpans(),
    /** Sum of one counter's data points (those whose attributes match `where`). */
    async counterSum(name: string, where?: (a: Attributes) => boolean): Promise<number> {
      return sumOf((await reader.collect()).resourceMetrics, name, where);
    },
    async shutdown(): Promise<void> {
      await provider.shutdown();
      await meterProvider.shutdown();
      await ledger.shutdown();
      trace.disable();
      context.disable();
    },
  };
}

/** Spans that record a model call (they carry `gen_ai.operation.name`). */
export function modelCalls(spans: ReadableSpan[], operation?: string): ReadableSpan[] {
  return spans.filter((s) => {
    const op = s.attributes['gen_ai.operation.name'];
    return op !== undefined && (operation === undefined || op === operation);
  });
}

/** Run `fn` inside a parent span (a user's own span around the call). */
export function inSpan<T>(name: string, fn: (span: Span) => Promise<T>): Promise<T> {
  return trace.getTracer('test').startActiveSpan(name, async (span) => {
    try {
      return await fn(span);
    } finally {
      span.end();
    }
  });
}
