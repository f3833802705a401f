import { SpanKind } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { createSpanLedger } from '../../src/index.js';
import {
  hasLeftOpenAIUsage,
  leaveOpenAIUsage,
  writeOpenAIUsage,
} from '../../src/usage/openai-response.js';
import { gpt4oChat, gpt4oUsd } from '../support/fixtures.js';

/** A Chat Completions body's usage: 1200 in (1024 from the cache), 300 out (40 reasoning). */
const USAGE = {
  prompt_tokens: 1200,
  completion_tokens: 300,
  prompt_tokens_details: { cached_tokens: 1024 },
  completion_tokens_details: { reasoning_tokens: 40 },
};

/** A tracer provider with the ledger's processor (or none) before an in-memory exporter. */
function provider(withLedger: boolean) {
  const exporter = new InMemorySpanExporter();
  const exporting = new SimpleSpanProcessor({ exporter });
  const spanProcessors = withLedger ? [createSpanLedger({}).processor, exporting] : [exporting];
  const tracer = new TracerProvider({ spanProcessors }).getTracer('t');
  return { exporter, tracer };
}

describe('usage an OpenAI response reports, left on the span for the cost processor', () => {
  it('is left on a span the processor accounts for, and written at its end, before it prices', () => {
    const { exporter, tracer } = provider(true);
    // The contrib's attributes: input and output; the cache read comes from the body only.
    const span = tracer.startSpan('chat gpt-4o', { attributes: gpt4oChat(1200, 0, 300) });
    // A stream: the last chunk with usage wins; a chunk without it leaves the earlier one.
    expect(leaveOpenAIUsage(span, { usage: { prompt_tokens: 1 } }, undefined)).toBe(true);
    expect(leaveOpenAIUsage(span, { usage: USAGE }, 'flex')).toBe(true);
    expect(leaveOpenAIUsage(span, { choices: [] }, undefined)).toBe(true);
    expect(hasLeftOpenAIUsage(span)).toBe(true);
    span.end();
    expect(hasLeftOpenAIUsage(span)).toBe(false); // written once
    const [done] = exporter.getFinishedSpans();
    expect(done?.attributes).toMatchObject({
      'gen_ai.usage.cache_read.input_tokens': 1024,
      'gen_ai.usage.reasoning.output_tokens': 40,
      'openai.response.service_tier': 'flex',
      // Input and output stay the contrib's.
      'gen_ai.usage.input_tokens': 1200,
      'gen_ai.usage.output_tokens': 300,
      'spanledger.pricing.service_tier': 'flex',
    });
    // The cache read counted: gpt-4o's cached rate on 1024 of the 1200, flex at half price.
    expect(done?.attributes['spanledger.cost.usd']).toBeCloseTo(
      0.5 * gpt4oUsd(1200, 1024, 300),
      15,
    );
  });

  it('is written at the end even on a span with no GenAI key, which the processor otherwise skips', () => {
    const { exporter, tracer } = provider(true);
    // No key spanledger reads (the contrib's were dropped, say): only what was left is written.
    const span = tracer.startSpan('POST');
    expect(leaveOpenAIUsage(span, { usage: USAGE }, 'priority')).toBe(true);
    span.end();
    expect(hasLeftOpenAIUsage(span)).toBe(false);
    expect(exporter.getFinishedSpans()[0]?.attributes).toMatchObject({
      'gen_ai.usage.cache_read.input_tokens': 1024,
      'gen_ai.usage.reasoning.output_tokens': 40,
      'openai.response.service_tier': 'priority',
    });
  });

  it('is refused on an entry span that starts its trace, which has no record to leave it on', () => {
    // A server or consumer span that starts its trace gets no record at start (it is not a
    // model call): the refusal makes the usage instrumentation write at once, the path the
    // real-client tests hold on a provider without spanledger.
    const { tracer } = provider(true);
    const span = tracer.startSpan('POST /v1/chat/completions', { kind: SpanKind.SERVER });
    expect(leaveOpenAIUsage(span, { usage: USAGE }, 'default')).toBe(false);
    span.end();
  });

  it('is not left where no spanledger processor saw the span start: the caller writes it', () => {
    const { exporter, tracer } = provider(false);
    const span = tracer.startSpan('chat gpt-4o');
    expect(leaveOpenAIUsage(span, { usage: USAGE }, 'default')).toBe(false);
    expect(hasLeftOpenAIUsage(span)).toBe(false);
    span.end();
    expect(exporter.getFinishedSpans()[0]?.attributes).toEqual({});
  });

  it('writes the counts in the semconv convention, input and output only when asked', () => {
    const seen: [string, number | string][] = [];
    const sink = { set: (k: string, v: number | string) => void seen.push([k, v]) };
    writeOpenAIUsage(USAGE, sink, false);
    expect(seen).toEqual([
      ['gen_ai.usage.cache_read.input_tokens', 1024],
      ['gen_ai.usage.reasoning.output_tokens', 40],
    ]);
    seen.length = 0;
    // The Responses API's names; a count that is not a non-negative integer is left out.
    writeOpenAIUsage(
      { input_tokens: 10, output_tokens: -1, input_tokens_details: { cached_tokens: 2.5 } },
      sink,
      true,
    );
    expect(seen).toEqual([['gen_ai.usage.input_tokens', 10]]);
  });
});
