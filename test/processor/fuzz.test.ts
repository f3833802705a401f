/**
 * Garbage in, never an exception out and never a wrong price: random hostile values on every
 * attribute the processor reads, through a real SDK pipeline.
 */
import type { AttributeValue } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import * as A from '../../src/semconv.js';
import { harness } from './harness.js';

// A small deterministic PRNG: failures reproduce from the seed.
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const GARBAGE: AttributeValue[] = [
  'abc',
  '',
  '1200',
  Number.NaN,
  -1,
  -0.5,
  1.5,
  1e300,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  Number.MAX_SAFE_INTEGER,
  [1, 2, 3],
  ['a', 'b'],
  true,
  false,
  0,
  '{"total": 1}',
  '{not json',
];

const USAGE_KEYS = [
  A.ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  A.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  A.ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  A.ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
  A.ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
  A.ATTR_GEN_AI_USAGE_PROMPT_TOKENS,
  A.ATTR_LLM_TOKEN_COUNT_PROMPT,
  A.ATTR_AI_USAGE_INPUT_TOKENS,
];
/** Keys for the same field, in the normaliser's order of preference. */
const FIELD_GROUPS = [
  [
    A.ATTR_GEN_AI_USAGE_INPUT_TOKENS,
    A.ATTR_GEN_AI_USAGE_PROMPT_TOKENS,
    A.ATTR_LLM_TOKEN_COUNT_PROMPT,
    A.ATTR_AI_USAGE_INPUT_TOKENS,
  ],
  [A.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS],
  [A.ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS],
  [A.ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS],
  [A.ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS],
];
const OTHER_KEYS = [
  A.ATTR_GEN_AI_PROVIDER_NAME,
  A.ATTR_GEN_AI_REQUEST_MODEL,
  A.ATTR_GEN_AI_RESPONSE_MODEL,
  A.ATTR_GEN_AI_OPERATION_NAME,
  A.ATTR_CATEGORY,
  A.ATTR_REPORTED_COST_USD,
  A.ATTR_MANUAL_COST_USD,
  A.ATTR_HUMAN_REVIEW_MINUTES,
  A.ATTR_USAGE_QUANTITY,
  A.ATTR_GEN_AI_USAGE_COST,
  A.ATTR_GEN_AI_USAGE_COST_AMOUNT,
  A.ATTR_OPENAI_RESPONSE_SERVICE_TIER,
  A.ATTR_LANGFUSE_USAGE_DETAILS,
  A.ATTR_AI_RESPONSE_PROVIDER_METADATA,
  A.ATTR_OPENINFERENCE_SPAN_KIND,
];

function validCount(v: AttributeValue | undefined): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1e9;
}

describe('cost processor under hostile attribute values', () => {
  it('never throws from span.end(), keeps every span, and prices nothing from garbage', () => {
    const rand = mulberry32(20261122);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const h = harness({ prices: { humanReview: { ratePerHourUsd: 60 } } });
    const N = 3000;
    for (let i = 0; i < N; i++) {
      const span = h.tracer.startSpan(`fuzz ${i}`, {
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.usage.input_tokens': 1000,
          'gen_ai.usage.output_tokens': 100,
        },
      });
      const n = 1 + Math.floor(rand() * 4);
      for (let j = 0; j < n; j++) {
        span.setAttribute(pick([...USAGE_KEYS, ...OTHER_KEYS]), pick(GARBAGE));
      }
      expect(() => span.end()).not.toThrow();
    }
    const spans = h.exporter.getFinishedSpans();
    // The exporter after spanledger received every span: nothing lost to a throwing processor.
    expect(spans).toHaveLength(N);
    let priced = 0;
    for (const s of spans) {
      const a = s.attributes;
      const cost = a[A.ATTR_COST_USD];
      if (cost === undefined) continue;
      expect(typeof cost === 'number' && Number.isFinite(cost) && cost >= 0).toBe(true);
      if (a[A.ATTR_COST_SOURCE] === 'catalog') {
        priced++;
        // A catalog price was computed only from well-formed counts: in each group of keys for
        // one field, the one read (the first present, by preference) is well formed.
        for (const group of FIELD_GROUPS) {
          const k = group.find((key) => a[key] !== undefined);
          if (k !== undefined)
            expect(validCount(a[k]), `${s.name} ${k}=${String(a[k])}`).toBe(true);
        }
        // And it is the right price for those counts (gpt-4o: $2.50 in, $1.25 cached, $10 out).
        const input = a[A.ATTR_GEN_AI_USAGE_INPUT_TOKENS] as number;
        if (
          input === 1000 &&
          a[A.ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] === undefined &&
          a[A.ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] === undefined &&
          a[A.ATTR_OPENAI_RESPONSE_SERVICE_TIER] === undefined &&
          a[A.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] === 100 &&
          a[A.ATTR_GEN_AI_RESPONSE_MODEL] === undefined &&
          a[A.ATTR_GEN_AI_REQUEST_MODEL] === 'gpt-4o' &&
          a[A.ATTR_GEN_AI_PROVIDER_NAME] === 'openai'
        ) {
          expect(cost).toBeCloseTo((1000 * 2.5 + 100 * 10) / 1e6, 15);
        }
      }
      if (a[A.ATTR_COST_SOURCE] === 'provider' || a[A.ATTR_COST_SOURCE] === 'manual') {
        expect(cost).toBeLessThan(1e9);
      }
    }
    // Most spans still carry usable usage: the fuzz exercised the pricing path, not only errors.
    expect(priced).toBeGreaterThan(N / 10);
    const problems = h.ledger.stats().problems;
    expect(problems.invalid_attribute).toBeGreaterThan(0);
    expect(problems.internal_error).toBeUndefined();
  });

  it('swallows a failure inside the processor and counts it', () => {
    const h = harness();
    const hostile = {
      name: 'hostile',
      get attributes(): never {
        throw new Error('attributes exploded');
      },
    };
    expect(() => h.ledger.processor.onEnding?.(hostile as never)).not.toThrow();
    expect(h.ledger.stats().problems.internal_error).toBe(1);
  });
});
