/**
 * The processor's attribute writer (src/processor/attribute-writer.ts) stores spanledger's
 * values straight into an SDK span's attributes. What reaches the exporter must be what
 * `setAttribute` would have stored: the same keys in the same order, the same values, the same
 * `droppedAttributesCount` and dropped-attributes metric at the count limit, the same truncation
 * under a value length limit. Each scenario runs twice on real SDK spans, once as shipped and
 * once with every write forced through `setAttribute`, and the exports are compared. Runs on
 * both SDK lines (docs/performance.md, subsection "Attributes written without the SDK's
 * validation").
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { type Attributes, context, ROOT_CONTEXT, type Span, trace } from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider } from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanLimits,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSpanLedger, type SpanLedgerOptions } from '../../src/index.js';
import { AttributeWriter } from '../../src/processor/attribute-writer.js';
import { CHAT, CHAT_USD, useContextManager } from '../support/fixtures.js';
import { sumOf, TestReader } from '../support/metrics.js';

const AT = new Date('2026-11-02T10:00:00Z');

useContextManager();

afterEach(() => {
  vi.restoreAllMocks();
});

/** A span as the exporter saw it: attributes with their key order, and the drop count. */
interface Exported {
  name: string;
  keys: string[];
  attributes: Attributes;
  dropped: number;
}

interface Outcome {
  spans: Exported[];
  droppedMetric: number;
  costAttributesDropped: number;
  /** `setAttribute` calls made while spans ended (the processor's slow-path writes). */
  slowWrites: [string, unknown][];
}

/** A provider as `register` builds it (the ledger's processor first, a real meter provider). */
async function runScenario(
  scenario: (tracer: ReturnType<TracerProvider['getTracer']>) => void,
  options: { limits?: SpanLimits; ledger?: SpanLedgerOptions; slow: boolean },
): Promise<Outcome> {
  const reader = new TestReader({
    aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE,
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const ledger = createSpanLedger({ ...options.ledger, meterProvider });
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    ...(options.limits ? { spanLimits: options.limits } : {}),
    spanProcessors: [ledger.processor, new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('spanledger-test');
  // The SDK's own Span class: count the writes that reach it while spans end.
  const proto = Object.getPrototypeOf(tracer.startSpan('probe')) as {
    setAttribute(key: string, value: unknown): unknown;
    end(): void;
  };
  const slowWrites: [string, unknown][] = [];
  const setAttribute = proto.setAttribute;
  const end = proto.end;
  let ending = 0;
  vi.spyOn(proto, 'end').mockImplementation(function (this: unknown) {
    ending++;
    try {
      end.call(this);
    } finally {
      ending--;
    }
  });
  vi.spyOn(proto, 'setAttribute').mockImplementation(function (
    this: unknown,
    key: string,
    value: unknown,
  ) {
    if (ending > 0) slowWrites.push([key, value]);
    return setAttribute.call(this, key, value);
  });
  if (options.slow) {
    // The reference: every write through setAttribute, as before the writer.
    const writer = AttributeWriter.prototype as unknown as { store(): boolean };
    vi.spyOn(writer, 'store').mockReturnValue(false);
  }
  scenario(tracer);
  vi.restoreAllMocks();
  const rm = (await reader.collect()).resourceMetrics;
  await meterProvider.shutdown();
  return {
    spans: exporter.getFinishedSpans().map((s: ReadableSpan) => ({
      name: s.name,
      keys: Object.keys(s.attributes),
      attributes: s.attributes,
      dropped: s.droppedAttributesCount,
    })),
    droppedMetric: sumOf(rm, 'spanledger.attributes.dropped'),
    costAttributesDropped: ledger.stats().spans.costAttributesDropped,
    slowWrites,
  };
}

/** Both paths on the same scenario; the exports must be identical. */
async function bothPaths(
  scenario: (tracer: ReturnType<TracerProvider['getTracer']>) => void,
  options: { limits?: SpanLimits; ledger?: SpanLedgerOptions } = {},
): Promise<{ fast: Outcome; slow: Outcome }> {
  const fast = await runScenario(scenario, { ...options, slow: false });
  const slow = await runScenario(scenario, { ...options, slow: true });
  expect(fast.spans).toEqual(slow.spans);
  expect(fast.droppedMetric).toBe(slow.droppedMetric);
  expect(fast.costAttributesDropped).toBe(slow.costAttributesDropped);
  return { fast, slow };
}

/** A priced OpenAI chat call that is its run's only span (cost, subtree and run totals). */
const onlySpan = (tracer: ReturnType<TracerProvider['getTracer']>) => {
  tracer.startSpan('chat gpt-4o', { attributes: CHAT, startTime: AT }).end();
};

/** An agent run: a root, two priced calls with routing counterfactuals on them (string and
 * number arrays), a tool call, and a per-run budget exceeded (a string array on the root). */
const agentRun = (tracer: ReturnType<TracerProvider['getTracer']>) => {
  const root = tracer.startSpan('invoke_agent triage', { startTime: AT });
  const under = (span: Span, fn: () => void) =>
    context.with(trace.setSpan(context.active(), span), fn);
  under(root, () => {
    tracer.startSpan('chat gpt-4o', { attributes: CHAT, startTime: AT }).end();
    const tool = tracer.startSpan('execute_tool search', {
      attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search' },
      startTime: AT,
    });
    under(tool, () => {
      tracer.startSpan('chat gpt-4o', { attributes: CHAT, startTime: AT }).end();
    });
    tool.end();
  });
  root.end();
};

const ROUTING = { models: { 'gpt-4o': ['gpt-4o-mini', 'claude-haiku-4-5'] }, onSpans: true };
const RUN_CAP = [
  { name: 'run-usd', scope: 'trace' as const, limitUsd: 0.005, action: 'alert' as const },
];

describe('the attribute writer stores what setAttribute would', () => {
  it('a priced OpenAI span that is the only span of its run: 29 attributes, none through setAttribute', async () => {
    const { fast, slow } = await bothPaths(onlySpan);
    const [span] = fast.spans;
    expect(span?.attributes['spanledger.cost.usd']).toBeCloseTo(CHAT_USD, 15);
    expect(span?.attributes['spanledger.trace.cost.usd']).toBe(
      span?.attributes['spanledger.cost.usd'],
    );
    expect(span?.attributes['spanledger.subtree.cost.usd']).toBe(
      span?.attributes['spanledger.cost.usd'],
    );
    expect(span?.dropped).toBe(0);
    // Every key the processor added went straight in on the fast path, through the SDK on the
    // reference path.
    const written = (span?.keys.length ?? 0) - Object.keys(CHAT).length;
    expect(written).toBe(29);
    expect(fast.slowWrites).toEqual([]);
    expect(slow.slowWrites).toHaveLength(written);
  });

  it('an agent run root, routing arrays and the budget-exceeded list: identical exports', async () => {
    const { fast } = await bothPaths(agentRun, {
      ledger: { routing: ROUTING, budgets: RUN_CAP },
    });
    const root = fast.spans.find((s) => s.name === 'invoke_agent triage');
    expect(root?.attributes['spanledger.trace.cost.usd']).toBeCloseTo(2 * CHAT_USD, 15);
    expect(root?.attributes['spanledger.trace.llm_calls']).toBe(2);
    expect(root?.attributes['spanledger.budget.exceeded']).toEqual(['run-usd']);
    const chat = fast.spans.find((s) => s.name === 'chat gpt-4o');
    expect(chat?.attributes['spanledger.alternative.model']).toEqual([
      'gpt-4o-mini',
      'claude-haiku-4-5',
    ]);
    expect(fast.slowWrites).toEqual([]);
  });

  it('at the attribute count limit: the same drops, counted by the SDK, the same metric', async () => {
    // CHAT has 6 attributes: 14 more fit, the rest of a priced call's attributes are dropped.
    const { fast, slow } = await bothPaths(onlySpan, { limits: { attributeCountLimit: 20 } });
    const [span] = fast.spans;
    expect(span?.keys).toHaveLength(20);
    const total = slow.slowWrites.length; // every write the processor made
    expect(span?.dropped).toBe(total - 14);
    expect(span?.dropped).toBeGreaterThan(0);
    expect(fast.droppedMetric).toBe(span?.dropped);
    expect(fast.costAttributesDropped).toBe(1);
    // Only the writes the SDK dropped took its path; the money is still in the first 14.
    expect(fast.slowWrites).toHaveLength(total - 14);
    expect(span?.attributes['spanledger.cost.usd']).toBeCloseTo(CHAT_USD, 15);
  });

  it('an overwritten key at the limit is stored, not dropped (as the SDK does)', async () => {
    // The application set spanledger.cost.category itself: the processor's write replaces it
    // even with no room for new keys.
    const attrs = { ...CHAT, 'spanledger.cost.category': 'tool' };
    const { fast } = await bothPaths(
      (tracer) => tracer.startSpan('chat gpt-4o', { attributes: attrs, startTime: AT }).end(),
      { limits: { attributeCountLimit: 7 } },
    );
    const [span] = fast.spans;
    expect(span?.keys).toHaveLength(7);
    expect(span?.attributes['spanledger.cost.category']).toBe('tool');
    expect(span?.dropped).toBeGreaterThan(0);
  });

  it('under a value length limit: strings too long take the SDK path and are truncated', async () => {
    const { fast } = await bothPaths(agentRun, {
      limits: { attributeValueLengthLimit: 6 },
      ledger: { routing: ROUTING, budgets: RUN_CAP },
    });
    const chat = fast.spans.find((s) => s.name === 'chat gpt-4o');
    expect(chat?.attributes['spanledger.cost.status']).toBe('priced');
    expect(chat?.attributes['spanledger.cost.source']).toBe('catalo');
    expect(chat?.attributes['spanledger.alternative.model']).toEqual(['gpt-4o', 'claude']);
    const root = fast.spans.find((s) => s.name === 'invoke_agent triage');
    expect(root?.attributes['spanledger.budget.exceeded']).toEqual(['run-us']);
    // Short strings and numbers still go straight in: only the long ones took the SDK's path.
    expect(fast.slowWrites.length).toBeGreaterThan(0);
    for (const [, v] of fast.slowWrites) {
      const long = (s: unknown) => typeof s === 'string' && s.length > 6;
      expect(long(v) || (Array.isArray(v) && v.some(long))).toBe(true);
    }
  });
});

describe('a wide span stays a fast object (docs/performance.md, "stores by name")', () => {
  // V8's own answer: whether an object's properties are fast or a hash table.
  setFlagsFromString('--allow-natives-syntax');
  const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (
    o: object,
  ) => boolean;

  it('a chat span that is its own run keeps fast properties with its 35 keys', async () => {
    // Stored by computed key, as before, the same 29 writes turned it into a hash table, which
    // the exporters' encoders then walk on their slow paths.
    const { fast } = await bothPaths(onlySpan);
    const [written] = fast.spans;
    expect(written?.keys).toHaveLength(Object.keys(CHAT).length + 29);
    expect(hasFastProperties(written?.attributes as object)).toBe(true);
  });

  it('an agent run: every span the processor wrote on stays fast', async () => {
    const { fast } = await bothPaths(agentRun);
    expect(fast.spans.map((s) => [s.name, hasFastProperties(s.attributes)])).toEqual([
      ['chat gpt-4o', true],
      ['chat gpt-4o', true],
      ['execute_tool search', true],
      ['invoke_agent triage', true],
    ]);
  });

  it('where code from strings is forbidden, the writer stores by computed key: same export, nothing counted', async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const out = execFileSync(
      process.execPath,
      [
        '--disallow-code-generation-from-strings',
        '--import',
        'tsx',
        join(here, 'attribute-writer-worker.ts'),
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    const result = JSON.parse(out) as {
      codeFromStrings: boolean;
      attributes: Attributes;
      dropped: number;
      problems: Record<string, number>;
    };
    expect(result.codeFromStrings).toBe(false);
    expect(result.attributes['spanledger.cost.usd']).toBeCloseTo(CHAT_USD, 15);
    expect(result.attributes['spanledger.trace.cost.usd']).toBe(
      result.attributes['spanledger.cost.usd'],
    );
    expect(Object.keys(result.attributes)).toHaveLength(Object.keys(CHAT).length + 29);
    expect(result.dropped).toBe(0);
    expect(result.problems).toEqual({});
    // The same span here, where stores by name are made: the same keys, in the same order, with
    // the same values.
    const inProcess = await runScenario(onlySpan, { slow: false });
    expect(Object.entries(result.attributes)).toEqual(
      Object.entries(inProcess.spans[0]?.attributes ?? {}),
    );
  });
});

describe('what the writer leaves to setAttribute', () => {
  /** A span with the SDK's fields, for the cases a real span cannot be put in. */
  function lookalike(overrides: Record<string, unknown> = {}) {
    const calls: [string, unknown][] = [];
    const span = {
      _ended: false,
      attributes: { a: 1 } as Record<string, unknown>,
      _attributesCount: 1,
      _spanLimits: { attributeCountLimit: 128, attributeValueLengthLimit: Infinity },
      setAttribute(key: string, value: unknown) {
        calls.push([key, value]);
        return span;
      },
      ...overrides,
    };
    return { span, calls };
  }

  it('writes straight into a lookalike with every SDK field, counting the new key', () => {
    const { span, calls } = lookalike();
    const w = new AttributeWriter(span);
    expect(w.fast).toBe(true);
    w.set('b', 2);
    w.set('a', 'x');
    expect(span.attributes).toEqual({ a: 'x', b: 2 });
    expect(span._attributesCount).toBe(2);
    expect(calls).toEqual([]);
  });

  it.each([
    ['no SDK fields at all', { _ended: undefined, _spanLimits: undefined }],
    ['an ended span', { _ended: true }],
    ['no _spanLimits', { _spanLimits: undefined }],
    ['a non-numeric count', { _attributesCount: '1' }],
    ['frozen attributes', { attributes: Object.freeze({ a: 1 }) }],
    ['attributes of a class', { attributes: new Map() }],
    ['a 2.x length limit of 0 (the SDK warns)', { _attributeValueLengthLimit: 0 }],
    [
      'a 3.x length limit of 0 (the SDK warns)',
      { _spanLimits: { attributeCountLimit: 128, attributeValueLengthLimit: 0 } },
    ],
    ['a count limit that is not a number', { _spanLimits: { attributeCountLimit: '128' } }],
  ])('%s: every write through setAttribute', (_, overrides) => {
    const { span, calls } = lookalike(overrides);
    const before = { ...span.attributes };
    const w = new AttributeWriter(span);
    expect(w.fast).toBe(false);
    w.set('b', 2);
    w.set('c', ['x']);
    expect(calls).toEqual([
      ['b', 2],
      ['c', ['x']],
    ]);
    expect({ ...span.attributes }).toEqual(before);
  });

  it('a write that throws (a read-only key) falls back to setAttribute, never throws', () => {
    const { span, calls } = lookalike();
    Object.defineProperty(span.attributes, 'ro', { value: 1, writable: false, enumerable: true });
    const w = new AttributeWriter(span);
    expect(w.fast).toBe(true);
    expect(() => w.set('ro', 2)).not.toThrow();
    expect(calls).toEqual([['ro', 2]]);
  });

  it('arrays it cannot store as the SDK would (mixed, nested) go through setAttribute', () => {
    const { span, calls } = lookalike();
    const w = new AttributeWriter(span);
    const mixed = ['a', 1] as unknown as string[];
    w.set('m', mixed);
    const array = ['x', 'y'];
    w.set('s', array);
    expect(calls).toEqual([['m', mixed]]);
    // A copy, as the SDK stores: the caller's array is not the span's.
    expect(span.attributes.s).toEqual(['x', 'y']);
    expect(span.attributes.s).not.toBe(array);
  });

  it('the processor prices a span that is not the SDK span through its setAttribute', () => {
    const ledger = createSpanLedger({});
    const written: Record<string, unknown> = {};
    const span = {
      name: 'chat gpt-4o',
      attributes: { ...CHAT } as Record<string, unknown>,
      instrumentationScope: { name: 'custom' },
      resource: { attributes: {} },
      status: { code: 0 },
      startTime: [AT.getTime() / 1000, 0],
      endTime: [AT.getTime() / 1000 + 1, 0],
      duration: [1, 0],
      ended: false,
      droppedAttributesCount: 0,
      spanContext: () => ({ traceId: '1'.repeat(32), spanId: '1'.repeat(16), traceFlags: 1 }),
      setAttribute(key: string, value: unknown) {
        written[key] = value;
        span.attributes[key] = value;
        return span;
      },
    };
    const processor = ledger.processor as unknown as {
      onStart(s: unknown, c: unknown): void;
      onEnding(s: unknown): void;
    };
    processor.onStart(span, ROOT_CONTEXT);
    processor.onEnding(span);
    expect(written['spanledger.cost.usd']).toBeCloseTo(CHAT_USD, 15);
    expect(written['spanledger.trace.cost.usd']).toBe(written['spanledger.cost.usd']);
    expect(ledger.stats().problems.internal_error ?? 0).toBe(0);
  });
});
