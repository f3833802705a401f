/**
 * The helpers through a real SDK pipeline (spanledger's processor first, an in-memory exporter,
 * a real MeterProvider, the AsyncLocalStorage context manager): each helper's span is
 * categorised and priced by the processor exactly as its rule says.
 */
import { type Span, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import { describe, expect, it, vi } from 'vitest';
import {
  recordEvaluationResult,
  traceEvaluation,
  traceExternal,
  traceHumanReview,
  traceRetrieval,
  traceTool,
} from '../../src/index.js';
import { VERSION } from '../../src/version.js';
import { gpt4oChat, gpt4oUsd, useContextManager } from '../support/fixtures.js';
import { metricPipeline, sumOf } from '../support/metrics.js';

useContextManager();

const PRICES = {
  tools: [
    { name: 'web_search', perCallUsd: 0.01 },
    { mcpServer: 'github', perUnitUsd: 0.125, unit: 'request' },
  ],
  retrievals: [
    { dataSource: 'kb-main', perUnitUsd: 0.125, unit: 'query' },
    { dbSystem: 'pinecone', perQueryUsd: 0.0004 },
  ],
  humanReview: { ratePerHourUsd: 60, roles: { legal: 180 } },
};

function setup() {
  const p = metricPipeline({ prices: PRICES });
  return { ...p, o: { tracer: p.tracer } };
}

/** A tracer whose spans count their `end()` calls. */
function countingTracer(inner: Tracer): { tracer: Tracer; ends: number[] } {
  const ends: number[] = [];
  const wrap = (span: Span): Span => {
    const i = ends.push(0) - 1;
    const end = span.end.bind(span);
    span.end = (t) => {
      ends[i] = (ends[i] ?? 0) + 1;
      end(t);
    };
    return span;
  };
  const tracer = {
    startSpan: inner.startSpan.bind(inner),
    startActiveSpan: (name: string, opts: object, fn: (s: Span) => unknown) =>
      inner.startActiveSpan(name, opts, (s) => fn(wrap(s))),
  } as unknown as Tracer;
  return { tracer, ends };
}

class TimeoutError extends Error {}

describe('traceTool', () => {
  it('a per-call rule gives the exact rule price, with the GenAI semconv names', async () => {
    const p = setup();
    const out = await traceTool('web_search', { ...p.o, toolCallId: 'call_1' }, async (span) => {
      expect(trace.getActiveSpan()).toBe(span);
      return 'results';
    });
    expect(out).toBe('results');
    const s = p.span('execute_tool web_search');
    expect(s.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'web_search',
      'gen_ai.tool.call.id': 'call_1',
      'spanledger.cost.category': 'tool',
      'spanledger.cost.usd': 0.01,
      'spanledger.cost.source': 'rule',
      'spanledger.usage.quantity': 1,
      'spanledger.usage.unit': 'call',
    });
    const rm = await p.metrics();
    expect(sumOf(rm, 'spanledger.cost.usd', (a) => a['spanledger.cost.category'] === 'tool')).toBe(
      0.01,
    );
  });

  it('an MCP server rule prices per unit; a reported cost wins over the rule', () => {
    const p = setup();
    traceTool('create_issue', { ...p.o, mcpServer: 'github', quantity: 3 }, () => {});
    traceTool('web_search', { ...p.o, costUsd: 0.03 }, () => {});
    expect(p.span('execute_tool create_issue').attributes).toMatchObject({
      'mcp.server.name': 'github',
      'spanledger.cost.usd': 0.375,
      'spanledger.usage.quantity': 3,
      'spanledger.usage.unit': 'request',
    });
    expect(p.span('execute_tool web_search').attributes).toMatchObject({
      'spanledger.cost.usd': 0.03,
      'spanledger.cost.source': 'provider',
      'spanledger.cost.category': 'tool',
    });
  });

  it('uses the global tracer `spanledger` at the package version by default', () => {
    const p = setup();
    trace.setGlobalTracerProvider(p.provider);
    try {
      traceTool('web_search', undefined, () => {});
    } finally {
      trace.disable();
    }
    const s = p.span('execute_tool web_search');
    expect(s.instrumentationScope).toMatchObject({ name: 'spanledger', version: VERSION });
    expect(s.attributes['spanledger.cost.usd']).toBe(0.01);
  });
});

describe('traceRetrieval', () => {
  it('N queries under a per-unit rule cost N times the unit price', async () => {
    const p = setup();
    await traceRetrieval('kb-main', { ...p.o, quantity: 6 }, async () => ['doc']);
    expect(p.span('retrieval kb-main').attributes).toMatchObject({
      'gen_ai.operation.name': 'retrieval',
      'gen_ai.data_source.id': 'kb-main',
      'spanledger.cost.category': 'retrieval',
      'spanledger.cost.usd': 0.75,
      'spanledger.usage.quantity': 6,
      'spanledger.usage.unit': 'query',
    });
  });

  it('a database-system rule matches db.system.name; a query embedding inside is retrieval', () => {
    const p = setup();
    traceRetrieval('products', { ...p.o, dbSystem: 'pinecone' }, () => {
      p.tracer.startSpan('embeddings', { attributes: gpt4oChat(1000, 0, 0) }).end();
    });
    expect(p.span('retrieval products').attributes).toMatchObject({
      'db.system.name': 'pinecone',
      'spanledger.cost.usd': 0.0004,
      'spanledger.cost.source': 'rule',
    });
    expect(p.span('embeddings').attributes['spanledger.cost.category']).toBe('retrieval');
  });
});

describe('traceEvaluation and recordEvaluationResult', () => {
  it('an LLM call inside an evaluation is charged to evaluation, in the root rollup too', async () => {
    const p = setup();
    await p.tracer.startActiveSpan('agent run', async (root) => {
      await traceEvaluation('relevance', p.o, async () => {
        p.tracer.startSpan('judge', { attributes: gpt4oChat(1200, 1024, 300) }).end();
        expect(
          recordEvaluationResult({
            name: 'relevance',
            scoreValue: 0.875,
            scoreLabel: 'pass',
            explanation: 'answers the question',
          }),
        ).toBe(true);
      });
      root.end();
    });
    const judgeUsd = gpt4oUsd(1200, 1024, 300);
    const judge = p.span('judge').attributes;
    expect(judge['spanledger.cost.category']).toBe('evaluation');
    expect(judge['spanledger.cost.usd']).toBe(judgeUsd);
    const evaluation = p.span('evaluation relevance');
    expect(evaluation.attributes).toMatchObject({
      'gen_ai.evaluation.name': 'relevance',
      'spanledger.cost.category': 'evaluation',
    });
    expect(evaluation.events).toHaveLength(1);
    expect(evaluation.events[0]).toMatchObject({
      name: 'gen_ai.evaluation.result',
      attributes: {
        'gen_ai.evaluation.name': 'relevance',
        'gen_ai.evaluation.score.value': 0.875,
        'gen_ai.evaluation.score.label': 'pass',
        'gen_ai.evaluation.explanation': 'answers the question',
      },
    });
    expect(p.span('agent run').attributes).toMatchObject({
      'spanledger.trace.cost.usd': judgeUsd,
      'spanledger.trace.cost.evaluation.usd': judgeUsd,
      'spanledger.trace.evaluations': 1,
      'spanledger.trace.llm_calls': 1,
    });
    expect(p.span('agent run').attributes['spanledger.trace.cost.llm.usd']).toBeUndefined();
  });

  it('the event goes on the evaluated span while it records, else the active span with the response id', () => {
    const p = setup();
    const answer = p.tracer.startSpan('answer', { attributes: gpt4oChat(10, 0, 10) });
    traceEvaluation('faithfulness', p.o, () => {
      recordEvaluationResult({ name: 'faithfulness', scoreValue: 1 }, { span: answer });
      answer.end();
      recordEvaluationResult(
        { name: 'toxicity', responseId: 'resp_1', errorType: 'timeout' },
        { span: answer },
      );
    });
    expect(p.span('answer').events.map((e) => e.attributes)).toEqual([
      { 'gen_ai.evaluation.name': 'faithfulness', 'gen_ai.evaluation.score.value': 1 },
    ]);
    expect(p.span('evaluation faithfulness').events[0]?.attributes).toEqual({
      'gen_ai.evaluation.name': 'toxicity',
      'gen_ai.response.id': 'resp_1',
      'error.type': 'timeout',
    });
    // The event does not change the evaluated span's category.
    expect(p.span('answer').attributes['spanledger.cost.category']).toBe('llm');
    expect(recordEvaluationResult({ name: 'orphan', scoreValue: 0 })).toBe(false);
  });
});

describe('traceHumanReview', () => {
  it('3 minutes at $60/h cost $3 exactly', () => {
    const p = setup();
    traceHumanReview('refund approval', { ...p.o, minutes: 3 }, () => {});
    expect(p.span('human_review refund approval').attributes).toMatchObject({
      'spanledger.cost.category': 'human_review',
      'spanledger.human_review.minutes': 3,
      'spanledger.cost.usd': 3,
      'spanledger.cost.source': 'rule',
      'spanledger.usage.unit': 'minute',
    });
  });

  it('without minutes, the measured duration at the role rate (90 s at $180/h = $4.50)', async () => {
    const p = setup();
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const t0 = Date.parse('2026-11-02T10:00:00Z');
      vi.setSystemTime(t0);
      await traceHumanReview('contract', { ...p.o, role: 'legal' }, async () => {
        vi.setSystemTime(t0 + 90_000);
      });
    } finally {
      vi.useRealTimers();
    }
    const s = p.span('human_review contract');
    expect(s.attributes).toMatchObject({
      'spanledger.human_review.minutes': 1.5,
      'spanledger.human_review.role': 'legal',
      'spanledger.cost.usd': 4.5,
    });
    expect(s.duration).toEqual([90, 0]);
  });
});

describe('traceExternal', () => {
  it('costUsd 0.25 is a provider-reported cost; costSource manual makes it manual', () => {
    const p = setup();
    traceExternal('ocr', { ...p.o, costUsd: 0.25, quantity: 5, unit: 'page' }, () => {});
    traceExternal('translate', { ...p.o, costUsd: 0.25, costSource: 'manual' }, () => {});
    traceExternal('unknown', p.o, () => {});
    expect(p.span('external ocr').attributes).toMatchObject({
      'spanledger.cost.category': 'external',
      'spanledger.cost.usd': 0.25,
      'spanledger.cost.source': 'provider',
      'spanledger.cost.status': 'priced',
      'spanledger.usage.quantity': 5,
      'spanledger.usage.unit': 'page',
    });
    expect(p.span('external translate').attributes).toMatchObject({
      'spanledger.cost.usd': 0.25,
      'spanledger.cost.source': 'manual',
    });
    expect(p.span('external unknown').attributes).toMatchObject({
      'spanledger.cost.status': 'unpriced',
      'spanledger.cost.unpriced_reason': 'no_cost_reported',
    });
  });
});

describe('span lifecycle', () => {
  it('an async error is rethrown; the span has status ERROR and error.type, ended once', async () => {
    const p = setup();
    const { tracer, ends } = countingTracer(p.tracer);
    const boom = new TimeoutError('slow');
    await expect(
      traceTool('web_search', { tracer }, async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    const s = p.span('execute_tool web_search');
    expect(s.status).toEqual({ code: SpanStatusCode.ERROR, message: 'slow' });
    expect(s.attributes['error.type']).toBe('TimeoutError');
    expect(s.events.map((e) => e.name)).toEqual(['exception']);
    // Failed work still cost money.
    expect(s.attributes['spanledger.cost.usd']).toBe(0.01);
    expect(ends).toEqual([1]);
  });

  it('a sync fn returns its value synchronously; a sync throw is rethrown (ERROR, once)', () => {
    const p = setup();
    const { tracer, ends } = countingTracer(p.tracer);
    expect(traceRetrieval('kb-main', { tracer, quantity: 1 }, () => 42)).toBe(42);
    expect(() =>
      traceExternal('ocr', { tracer }, () => {
        throw 'not an Error';
      }),
    ).toThrow('not an Error');
    expect(p.span('retrieval kb-main').status.code).toBe(SpanStatusCode.UNSET);
    const failed = p.span('external ocr');
    expect(failed.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed.attributes['error.type']).toBe('_OTHER');
    expect(ends).toEqual([1, 1]);
  });

  it('bad options throw a TypeError naming the option, before fn runs', () => {
    const fn = vi.fn();
    expect(() => traceTool('', {}, fn)).toThrow(/traceTool: toolName must be a non-empty string/);
    expect(() => traceTool('x', { costUsd: -1 }, fn)).toThrow(
      'spanledger: traceTool: invalid options: costUsd: must be a finite number >= 0, got -1',
    );
    expect(() => traceExternal('x', { costUsd: Number.NaN }, fn)).toThrow(TypeError);
    expect(() => traceTool('x', { costUSD: 1 } as never, fn)).toThrow(
      'spanledger: traceTool: invalid options: costUSD: unknown key (known: tracer, attributes, costUsd, costSource, quantity, toolCallId, mcpServer)',
    );
    expect(() => traceExternal('x', { costSource: 'guess' } as never, fn)).toThrow(
      /costSource: must be one of provider, manual, got "guess"/,
    );
    expect(() => traceHumanReview('x', { tracer: {} as Tracer }, fn)).toThrow(/tracer/);
    expect(() => traceEvaluation('x', {}, undefined as never)).toThrow(/must be a function/);
    expect(() => recordEvaluationResult({ name: 'x', scoreValue: Number.NaN })).toThrow(
      /invalid options: scoreValue: must be a finite number, got NaN/,
    );
    expect(() => recordEvaluationResult({ name: 'x', tracer: {} } as never)).toThrow(
      /invalid options: tracer: unknown key \(known: name, /,
    );
    expect(() => recordEvaluationResult({} as never)).toThrow(/name must be a non-empty string/);
    expect(fn).not.toHaveBeenCalled();
  });

  it('a function in the place of the options is named as such, not as a missing function', () => {
    const misuse = traceTool as unknown as (name: string, fn: () => number) => number;
    expect(() => misuse('x', () => 1)).toThrow(
      new TypeError(
        'spanledger: traceTool(toolName, options, fn): the function was given as the options argument; pass options ({} for none) before it',
      ),
    );
    expect(() => traceTool('x', {}, 42 as never)).toThrow(
      'spanledger: traceTool(toolName, options, fn): fn must be a function, got 42',
    );
    expect(() => traceTool('x', 'fast' as never, () => 1)).toThrow(
      'spanledger: traceTool: invalid options: expected an object, got "fast"',
    );
    expect(() => traceTool('x', [] as never, () => 1)).toThrow(
      'spanledger: traceTool: invalid options: expected an object, got an array',
    );
    // The documented form works, with or without options.
    expect(traceTool('x', undefined, () => 1)).toBe(1);
    expect(traceTool('x', {}, () => 2)).toBe(2);
  });
});
