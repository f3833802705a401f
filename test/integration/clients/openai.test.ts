/**
 * The real `openai@6` client, through the real contrib `@opentelemetry/instrumentation-openai`
 * and spanledger's `OpenAIUsageInstrumentation`, against a mock provider, priced by the real
 * spanledger processor. Expected figures come from OpenAI's published prices (USD per MTok):
 * gpt-4o $2.50 input, $1.25 cached input, $10 output; o3-mini $1.10, $0.55, $4.40;
 * text-embedding-3-small $0.02.
 *
 * The client is loaded with `require` after the instrumentations are enabled, so that
 * require-in-the-middle patches it (the ESM path is covered by the child-process apps).
 */
import { createRequire } from 'node:module';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type OpenAIClient from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OpenAIUsageInstrumentation } from '../../../src/index.js';
import { gpt4oUsd } from '../../support/fixtures.js';
import {
  type MockProviders,
  O3_MINI_REASONING,
  OPENAI_DEFAULTS,
  startMockProviders,
} from '../../support/mock-providers.js';
import { clientPipeline, modelCalls } from './pipeline.js';

const require = createRequire(import.meta.url);
const CONTRIB = '@opentelemetry/instrumentation-openai';
const OURS = 'spanledger-instrumentation-openai';

let mock: MockProviders;
let p: ReturnType<typeof clientPipeline>;
let contrib: OpenAIInstrumentation;
let client: OpenAIClient;

beforeAll(async () => {
  mock = await startMockProviders();
  p = clientPipeline();
  contrib = new OpenAIInstrumentation();
  registerInstrumentations({ instrumentations: [new OpenAIUsageInstrumentation(), contrib] });
  const { OpenAI } = require('openai') as typeof import('openai');
  client = new OpenAI({ baseURL: mock.openaiURL, apiKey: 'sk-test', maxRetries: 0 });
});

afterAll(async () => {
  await p?.shutdown();
  await mock?.close();
});

beforeEach(() => {
  mock.openai = { ...OPENAI_DEFAULTS };
  contrib.enable();
});

/** The one model-call span the last call produced. */
async function oneCall(): Promise<ReadableSpan> {
  const calls = modelCalls(await p.newSpans());
  expect(calls).toHaveLength(1);
  return calls[0] as ReadableSpan;
}

const cost = (s: ReadableSpan) => s.attributes['spanledger.cost.usd'];
const scope = (s: ReadableSpan) => s.instrumentationScope.name;
const message = [{ role: 'user' as const, content: 'Hi' }];

describe('openai@6 with the contrib instrumentation and OpenAIUsageInstrumentation', () => {
  it('prices a cache hit at the cached rate, on the one contrib span', async () => {
    const res = await client.chat.completions.create({ model: 'gpt-4o', messages: message });
    expect(res.usage?.prompt_tokens_details?.cached_tokens).toBe(1024);
    const span = await oneCall();
    expect(scope(span)).toBe(CONTRIB);
    // Seen by OpenAIUsageInstrumentation before the contrib ended the span, and written by the
    // processor at the span's end, before it reads the usage (src/usage/openai-response.ts).
    expect(span.attributes['gen_ai.usage.cache_read.input_tokens']).toBe(1024);
    expect(span.attributes['gen_ai.usage.input_tokens']).toBe(1200);
    expect(span.attributes['openai.response.service_tier']).toBe('default');
    // (1200 - 1024) x 2.50 + 1024 x 1.25 + 300 x 10 per MTok = $0.00472; uncached $0.006.
    expect(cost(span)).toBeCloseTo(0.00472, 12);
    expect(cost(span)).toBeCloseTo(gpt4oUsd(1200, 1024, 300), 12);
    expect(cost(span)).not.toBeCloseTo(gpt4oUsd(1200, 0, 300), 6);
    expect(span.attributes['spanledger.cost.cache_read_usd']).toBeCloseTo(0.00128, 12);
  });

  it('charges reasoning tokens once, inside the output (o3-mini)', async () => {
    mock.openai = { ...O3_MINI_REASONING };
    await client.chat.completions.create({ model: 'o3-mini', messages: message });
    const span = await oneCall();
    expect(span.attributes['gen_ai.usage.reasoning.output_tokens']).toBe(384);
    // 976 x 1.10 + 1024 x 0.55 + 500 x 4.40 per MTok = $0.0038368 (not + 384 x 4.40 again).
    expect(cost(span)).toBeCloseTo(0.0038368, 12);
    expect(span.attributes['spanledger.cost.output_usd']).toBeCloseTo(0.0022, 12);
  });

  it('prices a stream from the usage in its last chunk (include_usage)', async () => {
    mock.openai = { ...mock.openai, prompt: 2048, cached: 1024, completion: 100 };
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: message,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('Hello.');
    const span = await oneCall();
    expect(scope(span)).toBe(CONTRIB);
    expect(span.attributes['gen_ai.usage.cache_read.input_tokens']).toBe(1024);
    // 1024 x 2.50 + 1024 x 1.25 + 100 x 10 per MTok = $0.00484.
    expect(cost(span)).toBeCloseTo(0.00484, 12);
  });

  it('leaves a stream without include_usage unpriced with a reason, never $0', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: message,
      stream: true,
    });
    for await (const _ of stream) {
      // drain
    }
    const span = await oneCall();
    expect(span.attributes['spanledger.cost.status']).toBe('unpriced');
    expect(span.attributes['spanledger.cost.unpriced_reason']).toBe('no_usage');
    expect(cost(span)).toBeUndefined();
  });

  it('prices the Responses API, plain and streamed', async () => {
    const res = await client.responses.create({ model: 'gpt-4o', input: 'Hi' });
    expect(res.output_text).toBe('Hello.');
    let span = await oneCall();
    expect(scope(span)).toBe(CONTRIB);
    expect(cost(span)).toBeCloseTo(0.00472, 12);

    const stream = await client.responses.create({ model: 'gpt-4o', input: 'Hi', stream: true });
    for await (const _ of stream) {
      // drain
    }
    span = await oneCall();
    expect(span.attributes['gen_ai.usage.cache_read.input_tokens']).toBe(1024);
    expect(cost(span)).toBeCloseTo(0.00472, 12);
  });

  it('writes the usage on the span at once where no spanledger processor accounts for it', async () => {
    // The contrib's spans from a provider with an exporter only: nothing would write what the
    // instrumentation left, so it writes the attributes itself, before the contrib ends the span.
    const exporter = new InMemorySpanExporter();
    const plain = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    contrib.setTracerProvider(plain);
    try {
      mock.openai = { ...OPENAI_DEFAULTS, serviceTier: 'flex' };
      await client.chat.completions.create({ model: 'gpt-4o', messages: message });
    } finally {
      contrib.setTracerProvider(trace.getTracerProvider());
    }
    const [span] = exporter.getFinishedSpans();
    expect(scope(span as ReadableSpan)).toBe(CONTRIB);
    expect(span?.attributes['gen_ai.usage.cache_read.input_tokens']).toBe(1024);
    expect(span?.attributes['openai.response.service_tier']).toBe('flex');
    expect(span?.attributes['spanledger.cost.usd']).toBeUndefined();
    expect(modelCalls(await p.newSpans())).toHaveLength(0);
    await plain.shutdown();
  });

  it('prices embeddings (base64 vectors decoded as before)', async () => {
    mock.openai = { ...mock.openai, model: 'text-embedding-3-small', prompt: 1000, cached: 0 };
    const res = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'Hi' });
    expect(Array.from(res.data[0]?.embedding ?? [])).toEqual([0.25, -0.5, 0.75]);
    const span = await oneCall();
    expect(span.attributes['gen_ai.operation.name']).toBe('embeddings');
    // 1000 x 0.02 per MTok.
    expect(cost(span)).toBeCloseTo(0.00002, 12);
  });
});

describe('openai@6 with OpenAIUsageInstrumentation alone (contrib disabled)', () => {
  beforeEach(() => contrib.disable());

  it('starts its own semconv span, priced exactly', async () => {
    await client.chat.completions.create({ model: 'gpt-4o', messages: message });
    const span = await oneCall();
    expect(scope(span)).toBe(OURS);
    expect(span.name).toBe('chat gpt-4o');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.usage.input_tokens': 1200,
      'gen_ai.usage.output_tokens': 300,
      'gen_ai.usage.cache_read.input_tokens': 1024,
      'gen_ai.usage.reasoning.output_tokens': 0,
      'server.address': '127.0.0.1',
    });
    expect(cost(span)).toBeCloseTo(0.00472, 12);
  });

  it('ends its span once a stream ends, and once when the consumer stops early', async () => {
    const request = {
      model: 'gpt-4o',
      messages: message,
      stream: true as const,
      stream_options: { include_usage: true },
    };
    for await (const _ of await client.chat.completions.create(request)) {
      // drain
    }
    const span = await oneCall();
    expect(scope(span)).toBe(OURS);
    expect(cost(span)).toBeCloseTo(0.00472, 12);

    for await (const _ of await client.chat.completions.create(request)) break;
    const cut = await oneCall();
    expect(cut.attributes['spanledger.cost.status']).toBe('unpriced');
  });

  it('records a failed call as an error span, ended once', async () => {
    mock.openai = { ...mock.openai, failWith: 400 };
    await expect(
      client.chat.completions.create({ model: 'gpt-4o', messages: message }),
    ).rejects.toThrow();
    const span = await oneCall();
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe('BadRequestError');
  });

  it('prices Responses and embeddings on its own spans', async () => {
    await client.responses.create({ model: 'gpt-4o', input: 'Hi' });
    expect(cost(await oneCall())).toBeCloseTo(0.00472, 12);
    mock.openai = { ...mock.openai, model: 'text-embedding-3-small', prompt: 1000, cached: 0 };
    await client.embeddings.create({ model: 'text-embedding-3-small', input: 'Hi' });
    const span = await oneCall();
    expect(span.name).toBe('embeddings text-embedding-3-small');
    expect(cost(span)).toBeCloseTo(0.00002, 12);
  });
});

describe('conservation', () => {
  it('the spanledger.cost.usd counter equals the sum of the span costs', async () => {
    await p.newSpans();
    let sum = 0;
    for (const s of p.allSpans()) sum += (cost(s) as number | undefined) ?? 0;
    expect(sum).toBeGreaterThan(0.03);
    expect(await p.counterSum('spanledger.cost.usd')).toBeCloseTo(sum, 12);
  });
});
