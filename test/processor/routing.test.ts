import type { Attributes } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config-file.js';
import { createSpanLedger, type SpanLedgerOptions } from '../../src/index.js';
import { PriceBook } from '../../src/pricing/price-book.js';
import { CHAT, CHAT_USD, gpt4oChat } from '../support/fixtures.js';
import { metricPipeline, sumOf } from '../support/metrics.js';

const AT = new Date('2026-11-02T10:00:00Z');

// Hand-computed from the providers' published prices per million tokens, for the reference
// call (1200 input of which 1024 cache reads, 300 output): 176 uncached input tokens.
// gpt-4o-mini: $0.15 input, $0.075 cache read, $0.60 output.
const MINI_USD = (176 * 0.15 + 1024 * 0.075 + 300 * 0.6) / 1e6; // 0.0002832
// claude-haiku-4-5: $1 input, $0.10 cache read, $5 output.
const HAIKU_USD = (176 * 1 + 1024 * 0.1 + 300 * 5) / 1e6; // 0.0017784
// gemini-2.5-flash: $0.30 input, $0.03 cache read, $2.50 output.
const FLASH_USD = (176 * 0.3 + 1024 * 0.03 + 300 * 2.5) / 1e6; // 0.00083352

const ROUTING = {
  models: { 'gpt-4o': ['gpt-4o-mini', { provider: 'anthropic', model: 'claude-haiku-4-5' }] },
  useCases: { triage: ['gemini-2.5-flash', 'gpt-4o-mini'] },
};

type Pipeline = ReturnType<typeof metricPipeline>;
let open: Pipeline | undefined;
afterEach(async () => {
  await open?.meterProvider.shutdown();
  open = undefined;
});

function pipeline(options: SpanLedgerOptions): Pipeline {
  open = metricPipeline(options);
  return open;
}

function chat(p: Pipeline, attrs: Attributes): void {
  p.tracer.startSpan('chat', { attributes: attrs, startTime: AT }).end();
}

const near = (actual: number, expected: number) =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-9 * expected);

describe('routing counterfactuals', () => {
  it('counts what each alternative would have cost, exact to 1e-9 against hand-computed prices', async () => {
    const p = pipeline({ routing: ROUTING });
    chat(p, { ...CHAT, 'spanledger.team': 'support' });
    chat(p, { ...CHAT, 'spanledger.team': 'support' });
    const rm = await p.metrics();
    const alt = (model: string) =>
      sumOf(
        rm,
        'spanledger.cost.alternative.usd',
        (a) =>
          a['spanledger.alternative.model'] === model &&
          a['gen_ai.provider.name'] === 'openai' &&
          a['gen_ai.request.model'] === 'gpt-4o' &&
          a['spanledger.team'] === 'support',
      );
    near(alt('gpt-4o-mini'), 2 * MINI_USD);
    near(alt('anthropic/claude-haiku-4-5'), 2 * HAIKU_USD);
    // No use case on the spans: the use-case list does not apply.
    expect(alt('gemini-2.5-flash')).toBe(0);
    // The actual cost is untouched, and no alternative lands on the span by default.
    near(sumOf(rm, 'spanledger.cost.usd'), 2 * CHAT_USD);
    const span = p.span('chat');
    expect(span.attributes['spanledger.alternative.model']).toBeUndefined();
    expect(span.attributes['spanledger.cost.alternative.usd']).toBeUndefined();
  });

  it('adds the use case alternatives (by spanledger.use_case), each model once', async () => {
    const p = pipeline({ routing: { ...ROUTING, onSpans: true } });
    chat(p, { ...CHAT, 'spanledger.use_case': 'triage' });
    const span = p.span('chat');
    expect(span.attributes['spanledger.alternative.model']).toEqual([
      'gpt-4o-mini',
      'anthropic/claude-haiku-4-5',
      'gemini-2.5-flash',
    ]);
    const costs = span.attributes['spanledger.cost.alternative.usd'] as number[];
    expect(costs).toHaveLength(3);
    near(costs[0] as number, MINI_USD);
    near(costs[1] as number, HAIKU_USD);
    near(costs[2] as number, FLASH_USD);
    const rm = await p.metrics();
    near(
      sumOf(
        rm,
        'spanledger.cost.alternative.usd',
        (a) =>
          a['spanledger.alternative.model'] === 'gemini-2.5-flash' &&
          a['spanledger.use_case'] === 'triage',
      ),
      FLASH_USD,
    );
  });

  it('prices the alternatives at the span start (the rates in force then) and skips the model itself', async () => {
    const p = pipeline({ routing: ROUTING, prices: {} });
    // A gpt-4o-mini call in the triage use case: gpt-4o-mini is no alternative to itself.
    const mini = { ...gpt4oChat(1200, 1024, 300), 'gen_ai.request.model': 'gpt-4o-mini' };
    chat(p, { ...mini, 'spanledger.use_case': 'triage' });
    const rm = await p.metrics();
    expect(
      sumOf(
        rm,
        'spanledger.cost.alternative.usd',
        (a) => a['spanledger.alternative.model'] === 'gpt-4o-mini',
      ),
    ).toBe(0);
    near(
      sumOf(
        rm,
        'spanledger.cost.alternative.usd',
        (a) =>
          a['spanledger.alternative.model'] === 'gemini-2.5-flash' &&
          a['gen_ai.request.model'] === 'gpt-4o-mini',
      ),
      FLASH_USD,
    );
  });

  it('an alternative that cannot price the usage is counted as such, never as $0', async () => {
    const p = pipeline({
      prices: {
        // Priced only from 2027: no price in force for a span of 2026.
        models: [
          {
            provider: 'acme',
            model: 'acme-small',
            prices: [{ effectiveFrom: '2027-01-01', inputPerMTok: 0.01, outputPerMTok: 0.02 }],
          },
        ],
        routing: { models: { 'gpt-4o': [{ provider: 'acme', model: 'acme-small' }] } },
      },
    });
    chat(p, CHAT);
    const rm = await p.metrics();
    const points = rm.scopeMetrics
      .flatMap((s) => s.metrics)
      .filter((m) => m.descriptor.name === 'spanledger.cost.alternative.usd')
      .flatMap((m) => m.dataPoints as unknown[]);
    expect(points).toEqual([]);
    expect(
      sumOf(
        rm,
        'spanledger.cost.alternative.unpriced',
        (a) =>
          a['spanledger.alternative.model'] === 'acme/acme-small' &&
          a['spanledger.cost.unpriced_reason'] === 'no_price_in_effect',
      ),
    ).toBe(1);
    expect(p.ledger.stats().problems.alternative_unpriced).toBe(1);
  });

  it("the routing option replaces the prices file's routing section", async () => {
    const p = pipeline({
      prices: { routing: { models: { 'gpt-4o': ['gemini-2.5-flash'] } } },
      routing: { models: { 'gpt-4o': ['gpt-4o-mini'] } },
    });
    chat(p, CHAT);
    const rm = await p.metrics();
    near(sumOf(rm, 'spanledger.cost.alternative.usd'), MINI_USD);
    expect(
      sumOf(
        rm,
        'spanledger.cost.alternative.usd',
        (a) => a['spanledger.alternative.model'] === 'gemini-2.5-flash',
      ),
    ).toBe(0);
  });

  it('unpriced spans have no counterfactual', async () => {
    const p = pipeline({ routing: ROUTING });
    chat(p, { ...CHAT, 'gen_ai.request.model': 'no-such-model-anywhere' });
    const rm = await p.metrics();
    expect(sumOf(rm, 'spanledger.cost.alternative.usd')).toBe(0);
    expect(sumOf(rm, 'spanledger.cost.alternative.unpriced')).toBe(0);
  });
});

describe('routing configuration errors name the entry, in one line', () => {
  it.each([
    [
      { models: { 'gpt-4o': ['claude-haiku-4-5-typo'] } },
      'spanledger: invalid prices: routing.models.gpt-4o[0]: "claude-haiku-4-5-typo" matches the catalog\'s anthropic/claude-haiku-4-5 only approximately: name it exactly',
    ],
    [
      { models: { 'gpt-4o': ['zzz-unknown'] } },
      'spanledger: invalid prices: routing.models.gpt-4o[0]: "zzz-unknown" has no price (unknown_model)',
    ],
    [
      { models: { 'gpt-4o': ['gpt-4o-mini', 'GPT-4o-mini'] } },
      'spanledger: invalid routing in options.routing: models.gpt-4o[1]: "gpt-4o-mini" is listed twice',
    ],
    [
      { models: { 'gpt-4o': ['gpt-4o'] } },
      'spanledger: invalid routing in options.routing: models.gpt-4o[0]: a model is no alternative to itself',
    ],
    [
      {},
      'spanledger: invalid routing in options.routing: (root): give models or useCases (or both)',
    ],
    [
      { models: { 'gpt-4o': [] } },
      'spanledger: invalid routing in options.routing: models.gpt-4o: Too small: expected array to have >=1 items',
    ],
    [
      { model: { 'gpt-4o': ['gpt-4o-mini'] } },
      'spanledger: invalid routing in options.routing: (root): Unrecognized key: "model"; (root): give models or useCases (or both)',
    ],
    [
      { models: { 'gpt-4o': [{ model: 'x' }] } },
      'spanledger: invalid routing in options.routing: models.gpt-4o[0]: expected a model id or { provider, model }',
    ],
  ])('%j', (routing, message) => {
    const make = () => createSpanLedger({ routing: routing as SpanLedgerOptions['routing'] });
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(message);
  });

  it('routing and strictModels go to the PriceBook when one is passed', () => {
    expect(() => createSpanLedger({ priceBook: new PriceBook(), routing: ROUTING })).toThrow(
      'spanledger: invalid createSpanLedger options: routing: give it to the PriceBook you pass as priceBook',
    );
    expect(() => createSpanLedger({ strictModels: 'yes' as unknown as boolean })).toThrow(
      'strictModels',
    );
  });
});

describe('approximate matches on spans and metrics', () => {
  const typo = {
    ...CHAT,
    'gen_ai.provider.name': 'deepseek',
    'gen_ai.request.model': 'deepseek-chatt',
  };

  it('priced, marked approximate, and counted by the id as emitted', async () => {
    const p = pipeline({});
    chat(p, typo);
    chat(p, CHAT);
    expect(p.span('chat').attributes['spanledger.pricing.match']).toBe('exact');
    const spans = p.exporter.getFinishedSpans();
    expect(spans[0]?.attributes).toMatchObject({
      'spanledger.cost.status': 'priced',
      'spanledger.pricing.model': 'deepseek-chat',
      'spanledger.pricing.match': 'approximate',
    });
    const rm = await p.metrics();
    expect(sumOf(rm, 'spanledger.pricing.approximate')).toBe(1);
    expect(
      sumOf(
        rm,
        'spanledger.pricing.approximate',
        (a) =>
          a['gen_ai.provider.name'] === 'deepseek' &&
          a['gen_ai.request.model'] === 'deepseek-chatt' &&
          a['spanledger.pricing.model'] === 'deepseek-chat',
      ),
    ).toBe(1);
  });

  it('strictModels: unpriced with reason approximate_model, counted in spanledger.unpriced', async () => {
    const p = pipeline({ strictModels: true });
    chat(p, typo);
    const attrs = p.span('chat').attributes;
    expect(attrs['spanledger.cost.status']).toBe('unpriced');
    expect(attrs['spanledger.cost.unpriced_reason']).toBe('approximate_model');
    expect(attrs['spanledger.cost.usd']).toBeUndefined();
    const rm = await p.metrics();
    expect(
      sumOf(
        rm,
        'spanledger.unpriced',
        (a) => a['spanledger.cost.unpriced_reason'] === 'approximate_model',
      ),
    ).toBe(1);
    expect(sumOf(rm, 'spanledger.pricing.approximate')).toBe(0);
  });
});

describe('the span path prices alternatives as the price book does', () => {
  it('alternativeCost equals priceAlternative: discounts, service tiers, cache writes, history', () => {
    const book = new PriceBook({
      prices: {
        discounts: [{ provider: 'anthropic', multiplier: 0.8, effectiveFrom: '2026-11-01' }],
        serviceTiers: { priority: 1.8 },
        routing: {
          models: {
            'gpt-4o-mini': ['gpt-4o', { provider: 'anthropic', model: 'claude-haiku-4-5' }],
          },
        },
      },
    });
    const alts = book.routing?.alternativesFor('gpt-4o-mini', undefined, undefined) ?? [];
    expect(alts.map((a) => a.label)).toEqual(['gpt-4o', 'anthropic/claude-haiku-4-5']);
    const usages = [
      { model: 'gpt-4o-mini', inputTokens: 1200, cacheReadTokens: 1024, outputTokens: 300 },
      { model: 'gpt-4o-mini', inputTokens: 5000, cacheWriteTokens: 4000, outputTokens: 10 },
      { model: 'gpt-4o-mini', inputTokens: 10, outputTokens: 10, serviceTier: 'priority' },
    ];
    // Before and after the discount, and gpt-4o before its alias switch (the 2024-05-13 price).
    for (const at of ['2026-10-15', '2026-11-20', '2024-07-01']) {
      const ms = Date.parse(`${at}T12:00:00Z`);
      for (const u of usages) {
        for (const alt of alts) {
          const full = book.priceAlternative(u, alt, ms);
          expect(full.status).toBe('priced');
          expect(book.alternativeCost(u, alt, ms)).toBe(full.costUsd);
        }
      }
    }
    // gpt-4o in July 2024, 1M in and 1M out: $5 + $15.
    const gpt4o = alts[0] as (typeof alts)[number];
    expect(
      book.alternativeCost(
        { model: 'x', inputTokens: 1e6, outputTokens: 1e6 },
        gpt4o,
        Date.parse('2024-07-01T00:00:00Z'),
      ),
    ).toBe(20);
    // A tier the book does not know: a reason, not a number.
    expect(
      book.alternativeCost({ model: 'x', inputTokens: 1, serviceTier: 'turbo' }, gpt4o, Date.now()),
    ).toBe('unknown_service_tier: turbo');
  });
});
