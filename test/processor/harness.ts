/**
 * A real SDK pipeline for processor tests: a TracerProvider with spanledger's processor
 * first and an in-memory exporter after it, as an application would register them.
 */
import type { Attributes, Span, Tracer } from '@opentelemetry/api';
import { context, trace } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { createSpanLedger, type SpanLedger, type SpanLedgerOptions } from '../../src/index.js';

export interface Harness {
  ledger: SpanLedger;
  tracer: Tracer;
  exporter: InMemorySpanExporter;
  provider: TracerProvider;
  /** Finished span by name (the last one with that name). */
  span(name: string): ReadableSpan;
  /** Start a span as a child of `parent` (or a root), run `fn`, end it. */
  run(
    name: string,
    attrs: Attributes,
    fn?: (span: Span) => void,
    parent?: Span,
    startTime?: Date,
  ): Span;
}

export function harness(options: SpanLedgerOptions = {}): Harness {
  const ledger = createSpanLedger(options);
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    spanProcessors: [ledger.processor, new SimpleSpanProcessor({ exporter: exporter })],
  });
  const tracer = provider.getTracer('spanledger-test');
  return {
    ledger,
    tracer,
    exporter,
    provider,
    span(name) {
      const found = exporter.getFinishedSpans().filter((s) => s.name === name);
      const last = found[found.length - 1];
      if (!last) throw new Error(`no finished span named ${name}`);
      return last;
    },
    run(name, attrs, fn, parent, startTime) {
      const ctx = parent ? trace.setSpan(context.active(), parent) : context.active();
      const span = tracer.startSpan(
        name,
        { attributes: attrs, ...(startTime ? { startTime } : {}) },
        ctx,
      );
      fn?.(span);
      span.end();
      return span;
    },
  };
}
