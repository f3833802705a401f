/**
 * The real `@anthropic-ai/sdk` (1.12, native OpenTelemetry spans, scope
 * `com.anthropic.sdk.typescript`) against a mock provider, priced by the real spanledger
 * processor. claude-sonnet-4-5's published prices (USD per MTok): $3 input, $0.30 cache read,
 * $3.75 5-minute cache write, $6 1-hour cache write, $15 output.
 */
import Anthropic from '@anthropic-ai/sdk';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockProviders, startMockProviders } from '../../support/mock-providers.js';
import { clientPipeline, modelCalls } from './pipeline.js';

let mock: MockProviders;
let p: ReturnType<typeof clientPipeline>;
let client: Anthropic;

beforeAll(async () => {
  mock = await startMockProviders();
  p = clientPipeline();
  client = new Anthropic({ baseURL: mock.anthropicURL, apiKey: 'sk-ant-test', maxRetries: 0 });
});

afterAll(async () => {
  await p?.shutdown();
  await mock?.close();
});

// 3000 uncached + 4000 cache reads + 2000 5-minute and 1000 1-hour writes, 200 output:
// 3000 x 3 + 4000 x 0.30 + 2000 x 3.75 + 1000 x 6 + 200 x 15 = 26,700 per MTok = $0.0267.
const USD = 0.0267;
const request = {
  model: 'claude-sonnet-4-5',
  max_tokens: 256,
  messages: [{ role: 'user' as const, content: 'Hi' }],
};

async function oneCall(): Promise<ReadableSpan> {
  const calls = modelCalls(await p.newSpans());
  expect(calls).toHaveLength(1);
  return calls[0] as ReadableSpan;
}

function expectPriced(span: ReadableSpan) {
  expect(span.instrumentationScope.name).toBe('com.anthropic.sdk.typescript');
  expect(span.attributes).toMatchObject({
    'gen_ai.provider.name': 'anthropic',
    // Native spans count the cache inside the input, as the semconv does.
    'gen_ai.usage.input_tokens': 10_000,
    'gen_ai.usage.cache_read.input_tokens': 4000,
    'gen_ai.usage.cache_write.input_tokens': 3000,
    'anthropic.usage.cache_creation.ephemeral_1h_input_tokens': 1000,
    'spanledger.cost.status': 'priced',
  });
  expect(span.attributes['spanledger.cost.usd']).toBeCloseTo(USD, 12);
  // 2000 x 3.75 + 1000 x 6 per MTok: the 1-hour writes at the 1-hour rate.
  expect(span.attributes['spanledger.cost.cache_write_usd']).toBeCloseTo(0.0135, 12);
  expect(span.attributes['spanledger.cost.cache_read_usd']).toBeCloseTo(0.0012, 12);
}

describe('@anthropic-ai/sdk native spans', () => {
  it('prices a message with 5-minute and 1-hour cache writes exactly, on one span', async () => {
    const msg = await client.messages.create(request);
    expect(msg.usage.cache_creation?.ephemeral_1h_input_tokens).toBe(1000);
    expectPriced(await oneCall());
  });

  it('prices a streamed message from message_start and message_delta usage', async () => {
    const stream = await client.messages.create({ ...request, stream: true });
    for await (const _ of stream) {
      // drain
    }
    const span = await oneCall();
    expect(span.attributes['gen_ai.usage.output_tokens']).toBe(200);
    expectPriced(span);
  });

  it('prices messages.stream() helpers the same way', async () => {
    const final = await client.messages.stream(request).finalMessage();
    expect(final.usage.output_tokens).toBe(200);
    expectPriced(await oneCall());
  });

  it('the spanledger.cost.usd counter equals the sum of the span costs', async () => {
    await p.newSpans();
    const spans = p.allSpans();
    const sum = spans.reduce(
      (a, s) => a + ((s.attributes['spanledger.cost.usd'] as number) ?? 0),
      0,
    );
    expect(sum).toBeCloseTo(3 * USD, 12);
    expect(await p.counterSum('spanledger.cost.usd')).toBeCloseTo(sum, 12);
  });
});
