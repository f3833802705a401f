import { setFlagsFromString } from 'node:v8';
import {
  type Attributes,
  type Context,
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider } from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSpanLedger } from '../../src/index.js';
import { DeferredPipeline } from '../../src/processor/deferred.js';
import { CostProcessor } from '../../src/processor/processor.js';
import { leaveOpenAIUsage } from '../../src/usage/openai-response.js';
import { CHAT, CHAT_USD, gpt4oChat, gpt4oUsd, useContextManager } from '../support/fixtures.js';
import { sumOf, TestReader } from '../support/metrics.js';

useContextManager();

/** A ledger's pipeline: deferred (with these options) or the plain one, exporting in memory. */
function pipeline(deferred: false | { maxQueuedSpans?: number; maxDelayMs?: number }) {
  const reader = new TestReader({
    aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE,
  });
  const ledger = createSpanLedger({ meterProvider: new MeterProvider({ readers: [reader] }) });
  const exporter = new InMemorySpanExporter();
  const exporting = new SimpleSpanProcessor({ exporter });
  const processor = ledger.processor;
  if (!(processor instanceof CostProcessor)) throw new Error('not the cost processor');
  const spanProcessors: SpanProcessor[] =
    deferred === false
      ? [processor, exporting]
      : [new DeferredPipeline({ processor, downstream: [exporting], ...deferred })];
  const provider = new TracerProvider({ spanProcessors });
  return { ledger, exporter, provider, reader, tracer: provider.getTracer('deferred-test') };
}

/** A search tool call started in `parent`, whose work is one ended gpt-4o call (500 in, 20
 * out); the tool span is returned open. */
function toolCall(tracer: ReturnType<TracerProvider['getTracer']>, parent: Context) {
  const tool = tracer.startSpan(
    'execute_tool search',
    { attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search' } },
    parent,
  );
  tracer
    .startSpan('chat gpt-4o', { attributes: gpt4oChat(500, 0, 20) }, trace.setSpan(parent, tool))
    .end();
  return tool;
}

/** An agent run: a tool call whose work is a model call, two more calls (one fails), and an
 * HTTP span with no cost. Every span ends before its parent, as in an application. */
function agentRun(tracer: ReturnType<TracerProvider['getTracer']>): void {
  const root = tracer.startSpan('invoke_agent support', {
    attributes: { 'gen_ai.operation.name': 'invoke_agent', 'spanledger.team': 'support' },
  });
  const inRoot = trace.setSpan(context.active(), root);
  toolCall(tracer, inRoot).end();
  tracer.startSpan('chat gpt-4o', { attributes: CHAT }, inRoot).end();
  const failed = tracer.startSpan('chat gpt-4o', { attributes: gpt4oChat(100, 0, 0) }, inRoot);
  failed.setStatus({ code: SpanStatusCode.ERROR });
  failed.end();
  tracer.startSpan('GET', { attributes: { 'http.request.method': 'GET' } }, inRoot).end();
  root.end();
}

const RUN_USD = gpt4oUsd(500, 0, 20) + CHAT_USD + gpt4oUsd(100, 0, 0);

/** Each exported span's name and attributes, in export order. */
const exported = (exporter: InMemorySpanExporter): [string, Attributes][] =>
  exporter.getFinishedSpans().map((s: ReadableSpan) => [s.name, s.attributes]);

afterEach(() => {
  vi.useRealTimers();
});

describe('DeferredPipeline (cost accounting in batches before the exporters)', () => {
  it('exports every span with the same attributes as the plain pipeline, and no span before its cost', async () => {
    const plain = pipeline(false);
    const deferred = pipeline({ maxQueuedSpans: 1000, maxDelayMs: 60_000 });
    agentRun(plain.tracer);
    agentRun(deferred.tracer);
    // Nothing reached the exporter yet: the six spans wait for a drain.
    expect(deferred.exporter.getFinishedSpans()).toHaveLength(0);
    await deferred.provider.forceFlush();
    const want = exported(plain.exporter);
    expect(want).toHaveLength(6);
    expect(exported(deferred.exporter)).toEqual(want);
    const root = deferred.exporter.getFinishedSpans()[5];
    expect(root?.attributes['spanledger.trace.cost.usd']).toBeCloseTo(RUN_USD, 15);
    expect(root?.attributes['spanledger.trace.llm_calls']).toBe(3);
    expect(root?.attributes['spanledger.trace.tool_calls']).toBe(1);
    expect(root?.attributes['spanledger.trace.failed_cost.usd']).toBeCloseTo(
      gpt4oUsd(100, 0, 0),
      15,
    );
    expect(root?.attributes['spanledger.subtree.cost.usd']).toBeCloseTo(RUN_USD, 15);
    expect(
      deferred.exporter.getFinishedSpans()[1]?.attributes['spanledger.subtree.cost.usd'],
    ).toBeCloseTo(gpt4oUsd(500, 0, 20), 15); // the tool's subtree: its model call
    expect(deferred.ledger.stats().spans).toEqual(plain.ledger.stats().spans);
    await Promise.all([plain.provider.shutdown(), deferred.provider.shutdown()]);
  });

  it('keeps every span on one hidden class: one own property, set at start, whatever it is marked with later', async () => {
    // The SDK's, the instrumentations' and the exporters' code reads every span: a property added
    // per mark as it arises made several shapes of one class, and that code polymorphic
    // (docs/performance.md, "2026-12-01: one record per span, and the order of the turns").
    setFlagsFromString('--allow-natives-syntax');
    const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (
      a: object,
      b: object,
    ) => boolean;
    for (const options of [false, { maxQueuedSpans: 1000, maxDelayMs: 60_000 }] as const) {
      const { exporter, provider, tracer } = pipeline(options);
      agentRun(tracer);
      // A call whose usage an instrumentation left for the accounting, in a run of its own.
      const chat = tracer.startSpan('chat gpt-4o', { attributes: gpt4oChat(1200, 0, 300) });
      expect(
        leaveOpenAIUsage(
          chat,
          { usage: { prompt_tokens_details: { cached_tokens: 1024 } } },
          'flex',
        ),
      ).toBe(true);
      chat.end();
      // An entry span that starts its trace and costs nothing: without the batches it never
      // gets a record; with them, it gets the same one at its end as the others at their start.
      tracer.startSpan('GET /health', { kind: SpanKind.SERVER }).end();
      await provider.forceFlush();
      const spans = exporter.getFinishedSpans();
      expect(spans).toHaveLength(8);
      expect(spans[6]?.attributes['gen_ai.usage.cache_read.input_tokens']).toBe(1024);
      for (const span of spans.slice(0, 7)) {
        expect(Object.getOwnPropertySymbols(span)).toHaveLength(1);
        expect(sameMap(span, spans[0] as object)).toBe(true);
      }
      const entry = spans[7] as object;
      expect(Object.getOwnPropertySymbols(entry)).toHaveLength(options === false ? 0 : 1);
      expect(sameMap(entry, spans[0] as object)).toBe(options !== false);
      await provider.shutdown();
    }
  });

  it('attributes and links spans as the plain pipeline does: baggage per step, a late span, a name set after start', async () => {
    /** A run under one tenant's baggage, with a step under another's, three levels deep; the
     * application names the root's team itself after start, and one span ends after its run. */
    const run = (tracer: ReturnType<TracerProvider['getTracer']>) => {
      const acme = propagation.setBaggage(
        context.active(),
        propagation.createBaggage({ 'spanledger.tenant': { value: 'acme' } }),
      );
      const root = tracer.startSpan('invoke_agent a', {}, acme);
      const started = { ...(root as unknown as ReadableSpan).attributes };
      root.setAttribute('spanledger.team', 'own');
      const inRoot = trace.setSpan(acme, root);
      const beta = propagation.setBaggage(
        inRoot,
        propagation.createBaggage({ 'spanledger.tenant': { value: 'beta' } }),
      );
      const step = toolCall(tracer, beta);
      const late = tracer.startSpan('chat gpt-4o', { attributes: CHAT }, inRoot);
      step.end();
      root.end();
      late.end();
      return started;
    };
    const plain = pipeline(false);
    const deferred = pipeline({ maxQueuedSpans: 1000, maxDelayMs: 60_000 });
    // Attribution is written at start in both (a span the application fills up to the SDK's
    // attribute count limit later still carries its dimensions).
    expect(run(plain.tracer)).toEqual({ 'spanledger.tenant': 'acme' });
    expect(run(deferred.tracer)).toEqual({ 'spanledger.tenant': 'acme' });
    await deferred.provider.forceFlush();
    const want = exported(plain.exporter);
    expect(exported(deferred.exporter)).toEqual(want);
    const byName = new Map(want.map(([name, attrs]) => [name, attrs]));
    expect(byName.get('invoke_agent a')?.['spanledger.team']).toBe('own');
    expect(byName.get('execute_tool search')?.['spanledger.tenant']).toBe('beta');
    expect(byName.get('execute_tool search')?.['spanledger.subtree.cost.usd']).toBeCloseTo(
      gpt4oUsd(500, 0, 20),
      15,
    );
    // The model call under the tool is the tool's cost; the root's run has it, not the late one.
    expect(want[0]?.[1]['spanledger.cost.category']).toBe('tool');
    expect(want[0]?.[1]['spanledger.tenant']).toBe('beta');
    expect(byName.get('invoke_agent a')?.['spanledger.trace.cost.usd']).toBeCloseTo(
      gpt4oUsd(500, 0, 20),
      15,
    );
    expect(deferred.ledger.stats().spans).toEqual(plain.ledger.stats().spans);
    expect(deferred.ledger.stats().spans.late).toBe(1);
    await Promise.all([plain.provider.shutdown(), deferred.provider.shutdown()]);
  });

  it('drains when maxQueuedSpans spans wait, and maxDelayMs after the first one ended', () => {
    vi.useFakeTimers();
    const { exporter, provider, tracer } = pipeline({ maxQueuedSpans: 3, maxDelayMs: 100 });
    tracer.startSpan('chat gpt-4o', { attributes: CHAT }).end();
    tracer.startSpan('chat gpt-4o', { attributes: CHAT }).end();
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    tracer.startSpan('chat gpt-4o', { attributes: CHAT }).end(); // the third: drained now
    expect(exporter.getFinishedSpans()).toHaveLength(3);
    tracer.startSpan('chat gpt-4o', { attributes: CHAT }).end();
    vi.advanceTimersByTime(99);
    expect(exporter.getFinishedSpans()).toHaveLength(3);
    vi.advanceTimersByTime(1);
    expect(exporter.getFinishedSpans()).toHaveLength(4);
    for (const s of exporter.getFinishedSpans()) {
      expect(s.attributes['spanledger.cost.usd']).toBeCloseTo(CHAT_USD, 15);
    }
    void provider.shutdown();
  });

  it('accounts for the spans it holds before a metrics collection and before stats()', async () => {
    const { ledger, reader, tracer, provider } = pipeline({
      maxQueuedSpans: 1000,
      maxDelayMs: 60_000,
    });
    agentRun(tracer);
    const { resourceMetrics } = await reader.collect();
    expect(sumOf(resourceMetrics, 'spanledger.cost.usd')).toBeCloseTo(RUN_USD, 15);
    expect(sumOf(resourceMetrics, 'spanledger.trace.cost.usd')).toBeCloseTo(RUN_USD, 15);
    tracer.startSpan('chat gpt-4o', { attributes: CHAT }).end();
    expect(ledger.stats().spans.priced).toBe(4);
    await provider.shutdown();
  });

  it('passes every span on at shutdown, and a span that ends after it at once', async () => {
    const { ledger } = pipeline(false);
    const processor = ledger.processor as CostProcessor;
    const seen: ReadableSpan[] = [];
    const collecting: SpanProcessor = {
      onStart() {},
      onEnd: (span) => {
        seen.push(span);
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    const deferred = new DeferredPipeline({
      processor,
      downstream: [collecting],
      maxQueuedSpans: 1000,
      maxDelayMs: 60_000,
    });
    const provider = new TracerProvider({ spanProcessors: [deferred] });
    const tracer = provider.getTracer('t');
    const late = tracer.startSpan('chat gpt-4o', { attributes: CHAT });
    agentRun(tracer);
    expect(seen).toHaveLength(0);
    await provider.shutdown();
    expect(seen.map((s) => s.name)).toEqual([
      'chat gpt-4o',
      'execute_tool search',
      'chat gpt-4o',
      'chat gpt-4o',
      'GET',
      'invoke_agent support',
    ]);
    expect(seen[5]?.attributes['spanledger.trace.cost.usd']).toBeCloseTo(RUN_USD, 15);
    await deferred.shutdown(); // idempotent
    late.end();
    expect(seen[6]?.attributes['spanledger.cost.usd']).toBeCloseTo(CHAT_USD, 15);
  });

  it('counts a downstream processor that throws, and still passes the span to the others', async () => {
    const { ledger } = pipeline(false);
    const processor = ledger.processor as CostProcessor;
    const exporter = new InMemorySpanExporter();
    const throwing: SpanProcessor = {
      onStart: () => {
        throw new Error('start');
      },
      onEnd: () => {
        throw new Error('end');
      },
      forceFlush: () => {
        throw new Error('flush'); // synchronously, not as a rejection
      },
      shutdown: () => Promise.resolve(),
    };
    const deferred = new DeferredPipeline({
      processor,
      downstream: [throwing, new SimpleSpanProcessor({ exporter })],
      maxQueuedSpans: 1,
    });
    const provider = new TracerProvider({ spanProcessors: [deferred] });
    provider.getTracer('t').startSpan('chat gpt-4o', { attributes: CHAT }).end();
    await expect(deferred.forceFlush()).resolves.toBeUndefined();
    expect(exporter.getFinishedSpans()[0]?.attributes['spanledger.cost.usd']).toBeCloseTo(
      CHAT_USD,
      15,
    );
    expect(ledger.stats().problems.internal_error).toBe(3); // start, end, flush
    await provider.shutdown();
  });

  it('passes on a span whose accounting throws, and counts it', async () => {
    const { ledger } = pipeline(false);
    const processor = ledger.processor as CostProcessor;
    const seen: unknown[] = [];
    const deferred = new DeferredPipeline({
      processor,
      downstream: [
        {
          onStart() {},
          onEnd: (span) => {
            seen.push(span);
          },
          forceFlush: () => Promise.resolve(),
          shutdown: () => Promise.resolve(),
        },
      ],
    });
    // An ended span whose flag cannot be cleared (a frozen object): the accounting throws.
    const frozen = Object.freeze({ name: 'odd', _ended: true, attributes: {} });
    deferred.onEnd(frozen as unknown as ReadableSpan);
    await deferred.forceFlush();
    expect(seen).toEqual([frozen]);
    expect(ledger.stats().problems.internal_error).toBe(1);
    await deferred.shutdown();
  });

  it('rejects a downstream processor with onEnding, and bad limits, at construction', () => {
    const processor = createSpanLedger({}).processor as CostProcessor;
    const withOnEnding = {
      onStart() {},
      onEnding() {},
      onEnd() {},
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    expect(() => new DeferredPipeline({ processor, downstream: [withOnEnding] })).toThrow(
      /onEnding/,
    );
    expect(() => new DeferredPipeline({ processor, downstream: [], maxQueuedSpans: 0 })).toThrow(
      /maxQueuedSpans/,
    );
    for (const maxDelayMs of [-1, Number.POSITIVE_INFINITY, Number.NaN]) {
      expect(() => new DeferredPipeline({ processor, downstream: [], maxDelayMs })).toThrow(
        /maxDelayMs/,
      );
    }
  });
});
