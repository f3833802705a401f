import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  type Attributes,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { type ReadableSpan, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { createSpanLedger } from '../../src/index.js';
import { TraceRegistry, type TraceState } from '../../src/processor/rollup.js';
import { harness } from './harness.js';

const AT = new Date('2026-11-02T10:00:00Z');
const chat = (input: number, output: number, model = 'gpt-4o'): Attributes => ({
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': 'openai',
  'gen_ai.request.model': model,
  'gen_ai.usage.input_tokens': input,
  'gen_ai.usage.output_tokens': output,
});
// gpt-4o: $2.50 in, $10 out per million tokens.
const gpt4o = (input: number, output: number) => (input * 2.5 + output * 10) / 1e6;
const prices = {
  tools: [{ name: 'web_search', perCallUsd: 0.01 }],
  retrievals: [{ dataSource: 'kb', perQueryUsd: 0.0004 }],
  humanReview: { ratePerHourUsd: 60 },
};

function relClose(actual: unknown, expected: number): void {
  expect(typeof actual).toBe('number');
  expect(Math.abs((actual as number) - expected) / expected).toBeLessThan(1e-9);
}

function child(h: ReturnType<typeof harness>, parent: Span, name: string, attrs: Attributes): Span {
  return h.tracer.startSpan(
    name,
    { attributes: attrs, startTime: AT },
    trace.setSpan(context.active(), parent),
  );
}

describe('rollups: subtree and trace totals (SPEC section 2)', () => {
  it('puts the run total, by category, and the work counts on the local root', () => {
    const h = harness({ prices });
    const root = h.tracer.startSpan('invoke_agent support', {
      attributes: { 'gen_ai.operation.name': 'invoke_agent' },
      startTime: AT,
    });
    const plan = child(h, root, 'plan', chat(1000, 100));
    plan.end();
    const tool = child(h, root, 'execute_tool web_search', {
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'web_search',
    });
    const inTool = child(h, tool, 'summarise results', chat(2000, 50));
    inTool.end();
    tool.end();
    const retrieval = child(h, root, 'retrieval', {
      'gen_ai.operation.name': 'retrieval',
      'gen_ai.data_source.id': 'kb',
    });
    retrieval.end();
    const ev = child(h, root, 'eval', { 'gen_ai.evaluation.name': 'faithfulness' });
    const judge = child(h, ev, 'judge', chat(500, 10));
    judge.end();
    ev.end();
    const failed = child(h, root, 'answer (failed)', chat(3000, 0));
    failed.setStatus({ code: SpanStatusCode.ERROR });
    failed.end();
    const unknown = child(h, root, 'mystery', chat(10, 10, 'gpt-unknown'));
    unknown.end();
    const review = child(h, root, 'review', { 'spanledger.human_review.minutes': 3 });
    review.end();
    root.end();

    const llm = gpt4o(1000, 100) + gpt4o(3000, 0);
    const toolCost = 0.01 + gpt4o(2000, 50);
    const evalCost = gpt4o(500, 10);
    const total = llm + toolCost + 0.0004 + evalCost + 3;
    const a = h.span('invoke_agent support').attributes;
    relClose(a['spanledger.trace.cost.usd'], total);
    relClose(a['spanledger.trace.cost.llm.usd'], llm);
    relClose(a['spanledger.trace.cost.tool.usd'], toolCost);
    relClose(a['spanledger.trace.cost.retrieval.usd'], 0.0004);
    relClose(a['spanledger.trace.cost.evaluation.usd'], evalCost);
    relClose(a['spanledger.trace.cost.human_review.usd'], 3);
    expect(a['spanledger.trace.cost.external.usd']).toBeUndefined();
    expect(a['spanledger.trace.llm_calls']).toBe(5);
    expect(a['spanledger.trace.tool_calls']).toBe(1);
    expect(a['spanledger.trace.retrievals']).toBe(1);
    expect(a['spanledger.trace.evaluations']).toBe(1);
    expect(a['spanledger.trace.input_tokens']).toBe(1000 + 2000 + 500 + 3000 + 10);
    expect(a['spanledger.trace.output_tokens']).toBe(100 + 50 + 10 + 10);
    expect(a['spanledger.trace.unpriced_spans']).toBe(1);
    relClose(a['spanledger.trace.failed_cost.usd'], gpt4o(3000, 0));
    // Subtrees: the tool span's own fee plus the call inside it; the root carries the total.
    relClose(h.span('execute_tool web_search').attributes['spanledger.subtree.cost.usd'], toolCost);
    relClose(h.span('eval').attributes['spanledger.subtree.cost.usd'], evalCost);
    relClose(a['spanledger.subtree.cost.usd'], total);
    expect(h.span('mystery').attributes['spanledger.subtree.cost.usd']).toBeUndefined();
    expect(h.ledger.stats().traces).toEqual({ open: 0, evictions: 0 });
  });

  it('carries the subtree cost up through spans with no GenAI key (HTTP, database)', () => {
    // The processor skips the accounting of a span it does not price only when nothing came up
    // from below: an HTTP span over a model call still gets and passes on its subtree cost.
    const h = harness({ prices });
    const root = h.tracer.startSpan('GET /support', {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': 'GET', 'http.route': '/support' },
      startTime: AT,
    });
    const http = child(h, root, 'POST /v1/chat/completions', {
      'http.request.method': 'POST',
      'server.address': 'api.openai.com',
    });
    const db = child(h, http, 'SELECT prompts', { 'db.operation.name': 'SELECT' });
    child(h, db, 'chat gpt-4o', chat(1000, 100)).end();
    db.end();
    child(h, http, 'chat gpt-4o again', chat(2000, 0)).end();
    const idle = child(h, root, 'GET /health', { 'http.request.method': 'GET' });
    idle.end();
    http.end();
    root.end();

    const inDb = gpt4o(1000, 100);
    const total = inDb + gpt4o(2000, 0);
    relClose(h.span('SELECT prompts').attributes['spanledger.subtree.cost.usd'], inDb);
    relClose(h.span('POST /v1/chat/completions').attributes['spanledger.subtree.cost.usd'], total);
    const a = h.span('GET /support').attributes;
    relClose(a['spanledger.subtree.cost.usd'], total);
    relClose(a['spanledger.trace.cost.usd'], total);
    expect(a['spanledger.trace.llm_calls']).toBe(2);
    // Spans with nothing below them and no key spanledger reads get nothing.
    expect(
      Object.keys(h.span('GET /health').attributes).filter((k) => k.startsWith('spanledger.')),
    ).toEqual([]);
  });

  it('prices an entry span that starts its trace and costs on its own, and closes its run', () => {
    // An entry span (server, consumer) that starts its trace gets its record only when a cost
    // needs one, here in its own accounting: the run made there is closed there too.
    const h = harness({ prices });
    const root = h.tracer.startSpan('execute_tool web_search', {
      kind: SpanKind.SERVER,
      attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'web_search' },
      startTime: AT,
    });
    root.end();
    const a = h.span('execute_tool web_search').attributes;
    expect(a['spanledger.cost.usd']).toBe(0.01);
    expect(a['spanledger.trace.cost.usd']).toBe(0.01);
    expect(a['spanledger.trace.tool_calls']).toBe(1);
    expect(h.ledger.stats().traces.open).toBe(0);
  });

  it('conserves cost to 1e-9 with interleaved concurrent runs and out-of-order ends', () => {
    const h = harness();
    const roots: Span[] = [];
    const open: { span: Span; cost: number; root: number }[] = [];
    const expected = new Map<number, number>();
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let r = 0; r < 20; r++) {
      roots.push(h.tracer.startSpan(`run ${r}`, { startTime: AT }));
      expected.set(r, 0);
    }
    // 2000 calls spread over 20 concurrent runs, ended in random order.
    for (let i = 0; i < 2000; i++) {
      const r = Math.floor(rand() * 20);
      const input = 1 + Math.floor(rand() * 5000);
      const output = Math.floor(rand() * 800);
      open.push({
        span: child(h, roots[r] as Span, `call ${i}`, chat(input, output)),
        cost: gpt4o(input, output),
        root: r,
      });
    }
    open.sort(() => rand() - 0.5);
    for (const o of open) {
      o.span.end();
      expected.set(o.root, (expected.get(o.root) ?? 0) + o.cost);
    }
    for (const root of roots) root.end();
    let sumSpans = 0;
    let sumRoots = 0;
    for (const s of h.exporter.getFinishedSpans()) {
      if (s.name.startsWith('call')) sumSpans += s.attributes['spanledger.cost.usd'] as number;
      if (s.name.startsWith('run')) {
        const r = Number(s.name.slice(4));
        relClose(s.attributes['spanledger.trace.cost.usd'], expected.get(r) as number);
        sumRoots += s.attributes['spanledger.trace.cost.usd'] as number;
      }
    }
    relClose(sumRoots, sumSpans);
  });

  it('counts spans that end after their root as late, and keeps them out of the frozen root', () => {
    const h = harness();
    const root = h.tracer.startSpan('run', { startTime: AT });
    const early = child(h, root, 'early', chat(1000, 0));
    const late = child(h, root, 'late', chat(4000, 0));
    early.end();
    root.end();
    late.end();
    relClose(h.span('run').attributes['spanledger.trace.cost.usd'], gpt4o(1000, 0));
    // The late span is still priced itself: its cost is not lost, only late for the root.
    relClose(h.span('late').attributes['spanledger.cost.usd'], gpt4o(4000, 0));
    expect(h.ledger.stats().spans.late).toBe(1);
    expect(h.ledger.stats().problems.late_span).toBe(1);
  });

  it('marks a run partial when any of its spans is unpriced, priced otherwise', () => {
    const h = harness();
    const only = h.tracer.startSpan('run unknown-only', { startTime: AT });
    child(h, only, 'mystery', chat(1000, 100, 'gpt-unknown')).end();
    only.end();
    const mixed = h.tracer.startSpan('run mixed', { startTime: AT });
    child(h, mixed, 'known', chat(1000, 100)).end();
    child(h, mixed, 'mystery', chat(10, 10, 'gpt-unknown')).end();
    mixed.end();
    const clean = h.tracer.startSpan('run priced', { startTime: AT });
    child(h, clean, 'known', chat(2000, 0)).end();
    clean.end();

    const a = h.span('run unknown-only').attributes;
    expect(a['spanledger.trace.cost.status']).toBe('partial');
    expect(a['spanledger.trace.unpriced_spans']).toBe(1);
    expect(a['spanledger.trace.llm_calls']).toBe(1);
    expect(h.span('run mixed').attributes['spanledger.trace.cost.status']).toBe('partial');
    relClose(h.span('run mixed').attributes['spanledger.trace.cost.usd'], gpt4o(1000, 100));
    expect(h.span('run priced').attributes['spanledger.trace.cost.status']).toBe('priced');
    relClose(h.span('run priced').attributes['spanledger.trace.cost.usd'], gpt4o(2000, 0));
  });

  it('gives every local root of a distributed trace its own rollup', () => {
    const h = harness();
    const remoteParent = trace.setSpanContext(context.active(), {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
      isRemote: true,
    });
    const entry = h.tracer.startSpan('downstream entry', { startTime: AT }, remoteParent);
    child(h, entry, 'call', chat(1000, 1000)).end();
    entry.end();
    relClose(h.span('downstream entry').attributes['spanledger.trace.cost.usd'], gpt4o(1000, 1000));
  });
});

describe('rollups: bounded memory', () => {
  it('evicts the oldest open traces beyond the cap and by age, counting them', () => {
    let now = 0;
    const reg = new TraceRegistry({ maxOpenTraces: 3, traceTtlMs: 1000, now: () => now });
    const a = reg.create();
    reg.create();
    reg.create();
    reg.create();
    expect(a.evicted).toBe(true);
    expect(reg.size).toBe(3);
    now = 1500;
    reg.create();
    // b, c and d are older than the TTL: all evicted when e arrives.
    expect(reg.size).toBe(1);
    expect(reg.evictions).toBe(4);
  });

  it('closing the oldest, a middle or the newest trace keeps the order and the count', () => {
    const reg = new TraceRegistry({ maxOpenTraces: 4, now: () => 0 });
    const [a, b, c, d] = [reg.create(), reg.create(), reg.create(), reg.create()];
    reg.close(b); // middle
    reg.close(d); // newest
    reg.close(b); // twice: no effect
    expect(reg.size).toBe(2);
    // Two more fit under the cap; a third evicts the oldest open one, a (b was closed).
    reg.create();
    reg.create();
    expect(reg.evictions).toBe(0);
    reg.create();
    expect([a.evicted, c.evicted]).toEqual([true, false]);
    reg.close(a); // evicted before it closed: nothing to remove
    expect(reg.size).toBe(4);
    expect([a, b, c, d].map((s) => s.closed)).toEqual([true, true, false, true]);
  });

  it('stays consistent through a million create/close cycles (one root per request)', () => {
    const reg = new TraceRegistry({ maxOpenTraces: 10, now: () => 0 });
    const open: TraceState[] = [];
    for (let i = 0; i < 1_000_000; i++) {
      open.push(reg.create());
      const done = open.length > 5 ? open.shift() : undefined;
      if (done !== undefined) reg.close(done);
    }
    expect(reg.size).toBe(5);
    expect(reg.evictions).toBe(0);
  });

  it('keeps a service that leaks never-ended root spans under a fixed ceiling', async () => {
    setFlagsFromString('--expose_gc');
    const gc = runInNewContext('gc') as () => void;
    const ledger = createSpanLedger({ maxOpenTraces: 1000 });
    const noop = {
      export: (_s: ReadableSpan[], cb: (r: { code: number }) => void) => cb({ code: 0 }),
      shutdown: async () => {},
    };
    const provider = new TracerProvider({
      spanProcessors: [ledger.processor, new SimpleSpanProcessor({ exporter: noop })],
    });
    const tracer = provider.getTracer('leak');
    const run = (n: number) => {
      for (let i = 0; i < n; i++) {
        // The root is never ended (the leak); its priced child creates the run's rollup state.
        const root = tracer.startSpan('leaked root');
        tracer
          .startSpan('call', { attributes: chat(100, 10) }, trace.setSpan(context.active(), root))
          .end();
      }
    };
    // Let the exporter's pending promises settle so only real retention remains.
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    run(5000);
    await settle();
    gc();
    const before = process.memoryUsage().heapUsed;
    run(100_000);
    await settle();
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    const stats = ledger.stats();
    expect(stats.traces.open).toBe(1000);
    expect(stats.traces.evictions).toBe(104_000);
    // 100k leaked runs: the registry holds 1000 states; without the cap it would hold 100k
    // (tens of MB). Allow slack for JIT and allocator noise.
    expect(grown).toBeLessThan(8 * 1024 * 1024);
  });
});
