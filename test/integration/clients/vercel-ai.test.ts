/**
 * The real Vercel AI SDK 6 (`ai` 6.0.324 with `@ai-sdk/openai` 3.0.141) and its own telemetry
 * (`experimental_telemetry: { isEnabled: true }`, scope `ai`), against the mock OpenAI provider,
 * priced by the real spanledger processor, through both of the provider's APIs:
 * `openai.chat(id)` (Chat Completions, `gen_ai.system` = `openai.chat`) and `openai(id)`
 * (Responses, the default in `@ai-sdk/openai` 3, `openai.responses`).
 *
 * Each model call is an inner `ai.generateText.doGenerate` / `ai.streamText.doStream` span under
 * an outer `ai.generateText` / `ai.streamText` span that repeats the summed usage: only the inner
 * spans are priced. Figures from OpenAI's published prices (USD per MTok): gpt-4o $2.50 input,
 * $1.25 cached input, $10 output; o3-mini $1.10, $0.55, $4.40.
 */
import { createOpenAI } from '@ai-sdk/openai';
import type { Attributes } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { generateText, type LanguageModel, stepCountIs, streamText, tool } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type MockProviders,
  O3_MINI_REASONING,
  OPENAI_DEFAULTS,
  startMockProviders,
} from '../../support/mock-providers.js';
import { clientPipeline } from './pipeline.js';

let mock: MockProviders;
let p: ReturnType<typeof clientPipeline>;
let openai: ReturnType<typeof createOpenAI>;

beforeAll(async () => {
  mock = await startMockProviders();
  p = clientPipeline();
  openai = createOpenAI({ baseURL: mock.openaiURL, apiKey: 'x' });
});

afterAll(async () => {
  await p?.shutdown();
  await mock?.close();
});

beforeEach(() => {
  mock.openai = { ...OPENAI_DEFAULTS };
});

const telemetry = { isEnabled: true };
const cost = (s: ReadableSpan) => s.attributes['spanledger.cost.usd'];
const named = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const costMetric = () => p.counterSum('spanledger.cost.usd');
const tokenMetric = (type: string) =>
  p.counterSum('spanledger.tokens', (a: Attributes) => a['gen_ai.token.type'] === type);

/** Run one AI SDK call; its spans, the spans that carry a cost, its local root and the growth
 * of the cost counter. */
async function traced(call: () => Promise<unknown>) {
  const before = await costMetric();
  await call();
  const spans = await p.newSpans();
  const roots = spans.filter((s) => s.parentSpanContext === undefined);
  expect(roots).toHaveLength(1);
  return {
    spans,
    priced: spans.filter((s) => cost(s) !== undefined),
    root: roots[0] as ReadableSpan,
    metricUsd: (await costMetric()) - before,
  };
}

/** The outer span repeats its children's usage and is not priced again. */
function expectWrapper(outer: ReadableSpan, inputTokens: number) {
  expect(outer.attributes['ai.usage.inputTokens']).toBe(inputTokens);
  expect(cost(outer)).toBeUndefined();
  expect(outer.attributes['spanledger.cost.status']).toBeUndefined();
}

describe.each([
  ['Chat Completions', 'openai.chat', (id: string): LanguageModel => openai.chat(id)],
  ['Responses', 'openai.responses', (id: string): LanguageModel => openai(id)],
])('ai@6 with @ai-sdk/openai@3, %s API', (_api, system, model) => {
  it('generateText: prices the one doGenerate span, not the outer ai.generateText', async () => {
    const run = await traced(async () => {
      const res = await generateText({
        model: model('gpt-4o'),
        prompt: 'Hi',
        experimental_telemetry: telemetry,
      });
      expect(res.text).toBe('Hello.');
      expect(res.usage.cachedInputTokens).toBe(1024);
    });
    expect(run.priced.map((s) => s.name)).toEqual(['ai.generateText.doGenerate']);
    const inner = run.priced[0] as ReadableSpan;
    expect(inner.instrumentationScope.name).toBe('ai');
    expect(inner.attributes).toMatchObject({
      'gen_ai.system': system,
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.usage.input_tokens': 1200,
      'ai.usage.inputTokenDetails.cacheReadTokens': 1024,
      'spanledger.cost.status': 'priced',
      'spanledger.cost.category': 'llm',
      'spanledger.pricing.model': 'gpt-4o',
    });
    // (1200 - 1024) x 2.50 + 1024 x 1.25 + 300 x 10 per MTok = $0.00472 (uncached: $0.006).
    expect(cost(inner)).toBeCloseTo(0.00472, 12);
    expect(inner.attributes['spanledger.cost.cache_read_usd']).toBeCloseTo(0.00128, 12);
    expect(run.root.name).toBe('ai.generateText');
    expect(inner.parentSpanContext?.spanId).toBe(run.root.spanContext().spanId);
    expectWrapper(run.root, 1200);
    expect(run.root.attributes['spanledger.trace.cost.usd']).toBeCloseTo(0.00472, 12);
    expect(run.root.attributes['spanledger.trace.llm_calls']).toBe(1);
    expect(run.metricUsd).toBeCloseTo(0.00472, 12);
  });

  it('streamText read to the end: prices the doStream span from the final usage', async () => {
    const run = await traced(async () => {
      const res = streamText({
        model: model('gpt-4o'),
        prompt: 'Hi',
        experimental_telemetry: telemetry,
      });
      let text = '';
      for await (const delta of res.textStream) text += delta;
      expect(text).toBe('Hello.');
      expect((await res.usage).inputTokens).toBe(1200);
    });
    expect(run.priced.map((s) => s.name)).toEqual(['ai.streamText.doStream']);
    const inner = run.priced[0] as ReadableSpan;
    expect(inner.attributes['gen_ai.system']).toBe(system);
    expect(inner.attributes['ai.response.text']).toBe('Hello.');
    expect(cost(inner)).toBeCloseTo(0.00472, 12);
    expect(run.root.name).toBe('ai.streamText');
    expectWrapper(run.root, 1200);
    expect(run.root.attributes['spanledger.trace.cost.usd']).toBeCloseTo(0.00472, 12);
    expect(run.metricUsd).toBeCloseTo(0.00472, 12);
  });

  it('a tool loop: two priced model calls, one tool call, the sum on the root', async () => {
    mock.openai = { ...mock.openai, toolCall: { name: 'weather', arguments: '{"city":"Paris"}' } };
    const weather = tool({
      description: 'Current weather in a city',
      inputSchema: z.object({ city: z.string() }),
      execute: async ({ city }) => {
        // The second model call reports other usage: 2048 input of which 1024 cached, 100 output.
        mock.openai = { ...mock.openai, prompt: 2048, cached: 1024, completion: 100 };
        return { city, celsius: 21 };
      },
    });
    const run = await traced(async () => {
      const res = await generateText({
        model: model('gpt-4o'),
        prompt: 'Weather in Paris?',
        tools: { weather },
        stopWhen: stepCountIs(3),
        experimental_telemetry: telemetry,
      });
      expect(res.steps).toHaveLength(2);
      expect(res.text).toBe('Hello.');
    });
    const calls = named(run.spans, 'ai.generateText.doGenerate');
    expect(run.priced).toEqual(calls);
    // $0.00472, then 1024 x 2.50 + 1024 x 1.25 + 100 x 10 per MTok = $0.00484.
    expect(calls).toHaveLength(2);
    expect(cost(calls[0] as ReadableSpan)).toBeCloseTo(0.00472, 12);
    expect(cost(calls[1] as ReadableSpan)).toBeCloseTo(0.00484, 12);
    expect(calls[0]?.attributes['ai.response.finishReason']).toBe('tool-calls');

    const tools = named(run.spans, 'ai.toolCall');
    expect(tools).toHaveLength(1);
    expect(tools[0]?.attributes).toMatchObject({
      'ai.toolCall.name': 'weather',
      'spanledger.cost.category': 'tool',
    });
    expect(cost(tools[0] as ReadableSpan)).toBeUndefined();

    expectWrapper(run.root, 1200 + 2048);
    expect(run.root.attributes).toMatchObject({
      'spanledger.trace.llm_calls': 2,
      'spanledger.trace.tool_calls': 1,
      'spanledger.trace.input_tokens': 3248,
      'spanledger.trace.cache_read_tokens': 2048,
    });
    expect(run.root.attributes['spanledger.trace.cost.usd']).toBeCloseTo(0.00956, 12);
    expect(run.root.attributes['spanledger.trace.cost.llm.usd']).toBeCloseTo(0.00956, 12);
    expect(run.metricUsd).toBeCloseTo(0.00956, 12);
  });

  it('charges reasoning tokens once, inside the output (o3-mini)', async () => {
    mock.openai = { ...O3_MINI_REASONING };
    const outputBefore = await tokenMetric('output');
    const reasoningBefore = await tokenMetric('reasoning');
    const run = await traced(() =>
      generateText({ model: model('o3-mini'), prompt: 'Hi', experimental_telemetry: telemetry }),
    );
    const inner = run.priced[0] as ReadableSpan;
    expect(run.priced).toHaveLength(1);
    expect(inner.attributes).toMatchObject({
      'gen_ai.usage.output_tokens': 500,
      'ai.usage.outputTokenDetails.reasoningTokens': 384,
      'spanledger.pricing.model': 'o3-mini',
    });
    // 976 x 1.10 + 1024 x 0.55 + 500 x 4.40 per MTok = $0.0038368 (not + 384 x 4.40 again).
    expect(cost(inner)).toBeCloseTo(0.0038368, 12);
    expect(inner.attributes['spanledger.cost.output_usd']).toBeCloseTo(0.0022, 12);
    expect(run.root.attributes['spanledger.trace.cost.usd']).toBeCloseTo(0.0038368, 12);
    expect(run.metricUsd).toBeCloseTo(0.0038368, 12);
    // The token counter's types are disjoint: 116 text output + 384 reasoning = the 500 output.
    expect((await tokenMetric('output')) - outputBefore).toBe(116);
    expect((await tokenMetric('reasoning')) - reasoningBefore).toBe(384);
  });
});
