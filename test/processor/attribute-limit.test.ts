/**
 * Cost attributes that the SDK's span attribute count limit drops: a span that already carries
 * 128 attributes (OpenInference's flattened messages reach that) keeps none of the attributes the
 * processor writes. The money still counts in the run total and the metrics; the loss must be
 * counted and reported, never silent.
 */
import { context, type DiagLogger, DiagLogLevel, diag, trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { gpt4oChat, gpt4oUsd } from '../support/fixtures.js';
import { metricPipeline, sumOf } from '../support/metrics.js';

const AT = new Date('2026-11-02T10:00:00Z');

/** A chat span's usage plus `n - 6` flattened message attributes: `n` in all. */
function flattened(n: number) {
  const attrs: Record<string, string | number> = { ...gpt4oChat(1000, 0, 100) } as Record<
    string,
    string | number
  >;
  for (let i = 0; Object.keys(attrs).length < n; i++) {
    attrs[`llm.input_messages.${i}.message.content`] = `message ${i}`;
  }
  return attrs;
}

const warnings: string[] = [];
const logger: DiagLogger = {
  error: (m) => warnings.push(m),
  warn: (m) => warnings.push(m),
  info: () => {},
  debug: () => {},
  verbose: () => {},
};

afterEach(() => {
  diag.disable();
  warnings.length = 0;
});

describe('cost attributes dropped by the span attribute count limit', () => {
  it('a 200-attribute span under the SDK default (128) is counted, reported once and metered', async () => {
    diag.setLogger(logger, DiagLogLevel.WARN);
    const p = metricPipeline(); // a real TracerProvider with the SDK's default limits
    const root = p.tracer.startSpan('invoke_agent', { startTime: AT });
    const ctx = trace.setSpan(context.active(), root);
    for (let i = 0; i < 2; i++) {
      p.tracer.startSpan(`chat ${i}`, { attributes: flattened(200), startTime: AT }, ctx).end();
    }
    p.tracer
      .startSpan('chat small', { attributes: gpt4oChat(1000, 0, 100), startTime: AT }, ctx)
      .end();
    root.end();

    const big = p.span('chat 0');
    expect(Object.keys(big.attributes)).toHaveLength(128);
    expect(big.droppedAttributesCount).toBeGreaterThan(0);
    expect(big.attributes['spanledger.cost.usd']).toBeUndefined(); // what the SDK does
    // The cost still counts where it can: the run total and the cost counter.
    const usd = gpt4oUsd(1000, 0, 100);
    expect(p.span('invoke_agent').attributes['spanledger.trace.cost.usd']).toBeCloseTo(3 * usd, 12);
    const rm = await p.metrics();
    expect(sumOf(rm, 'spanledger.cost.usd')).toBeCloseTo(3 * usd, 12);

    // Counted: two spans lost their cost attributes, the small one none.
    const stats = p.ledger.stats();
    expect(stats.spans.costAttributesDropped).toBe(2);
    expect(stats.problems.cost_attributes_dropped).toBe(2);
    // Metered: every spanledger attribute the SDK dropped, the small span's none.
    // (The SDK's own count also holds the 72 message attributes it dropped at start.)
    const droppedPerSpan = big.droppedAttributesCount - (200 - 128);
    expect(droppedPerSpan).toBeGreaterThanOrEqual(10); // the SPEC attributes of a priced call
    expect(sumOf(rm, 'spanledger.attributes.dropped')).toBe(2 * droppedPerSpan);
    // Reported once, naming what to raise.
    const lines = warnings.filter((m) => m.includes('cost_attributes_dropped'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/attributeCountLimit|OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT/);
  });

  it('a span under the limit loses nothing and counts nothing', async () => {
    const p = metricPipeline();
    p.tracer.startSpan('chat', { attributes: flattened(90), startTime: AT }).end();
    expect(p.span('chat').attributes['spanledger.cost.usd']).toBeCloseTo(
      gpt4oUsd(1000, 0, 100),
      12,
    );
    expect(p.ledger.stats().spans.costAttributesDropped).toBe(0);
    expect(sumOf(await p.metrics(), 'spanledger.attributes.dropped')).toBe(0);
  });
});
