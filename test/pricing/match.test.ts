import { describe, expect, it } from 'vitest';
import { findCatalogModel } from '../../src/pricing/catalog.js';
import { matchKind } from '../../src/pricing/match.js';
import { PriceBook } from '../../src/pricing/price-book.js';

const AT = Date.parse('2026-11-10T12:00:00Z');

function kind(provider: string | undefined, model: string) {
  const entry = findCatalogModel(provider, model);
  if (entry === undefined) throw new Error(`catalog has no entry for ${provider}/${model}`);
  return { entry: `${entry.providerId}/${entry.modelId}`, match: matchKind(entry, model) };
}

describe('exact: the catalog entry names the id, or a recognised dated or versioned form of it', () => {
  it.each([
    ['openai', 'gpt-4o', 'openai/gpt-4o'],
    ['openai', 'gpt-4o-2024-08-06', 'openai/gpt-4o'],
    ['openai', 'gpt-4o-mini-2024-07-18', 'openai/gpt-4o-mini'],
    ['openai', 'gpt-4-0613', 'openai/gpt-4'],
    ['openai', 'chatgpt-4o-latest', 'openai/chatgpt-4o-latest'],
    ['anthropic', 'claude-3-5-sonnet-latest', 'anthropic/claude-3-5-sonnet'],
    ['anthropic', 'claude-haiku-4-5-20251001', 'anthropic/claude-haiku-4-5'],
    ['google', 'gemini-2.0-flash-001', 'google/gemini-2.0-flash'],
    ['google', 'gemini-2.5-pro-preview-05-06', 'google/gemini-2.5-pro'],
    ['google', 'claude-3-5-sonnet@20240620', 'google/claude-3-5-sonnet'],
    ['aws', 'amazon.titan-embed-text-v1', 'aws/amazon.titan-embed-text-v1'],
    ['aws', 'us.amazon.nova-lite-v1:0', 'aws/amazon.nova-lite-v1:0'],
    ['aws', 'meta.llama3-1-70b-instruct-v1:0', 'aws/meta.llama3-1-70b-instruct-v1:0'],
    [
      'aws',
      'us.anthropic.claude-3-5-sonnet-20241022-v2:0',
      'aws/regional.anthropic.claude-3-5-sonnet-20241022-v2:0',
    ],
    ['mistral', 'mistral-large-2411', 'mistral/mistral-large'],
    ['mistral', 'codestral-latest', 'mistral/codestral'],
    // The erratum's own entry (docs/pricing.md, Errata).
    ['aws', 'amazon.titan-embed-text-v2:0', 'aws/amazon.titan-embed-text-v2:0'],
  ])('%s %s -> %s', (provider, model, entry) => {
    expect(kind(provider, model)).toEqual({ entry, match: 'exact' });
  });
});

describe('approximate: matched only by a prefix or substring rule', () => {
  it.each([
    ['deepseek', 'deepseek-chatt', 'deepseek/deepseek-chat'],
    ['google', 'gemini-2.5-pro-typo', 'google/gemini-2.5-pro'],
    ['anthropic', 'claude-haiku-4-5-foo', 'anthropic/claude-haiku-4-5'],
    // A version the catalog has no entry for: the V1 entry's substring rule takes it. (V2 has
    // one since the erratum that prices it at a fifth of V1: exact, below.)
    ['aws', 'amazon.titan-embed-text-v3:0', 'aws/amazon.titan-embed-text-v1'],
    ['openai', 'ft:gpt-4o-mini-2024-07-18:acme::abc123', 'openai/ft:gpt-4o-mini'],
  ])('%s %s -> %s', (provider, model, entry) => {
    expect(kind(provider, model)).toEqual({ entry, match: 'approximate' });
  });
});

describe('the price book flags approximate matches, and strictModels leaves them unpriced', () => {
  const usage = {
    provider: 'deepseek',
    model: 'deepseek-chatt',
    inputTokens: 1e6,
    outputTokens: 0,
  };

  it('prices a typo at its neighbour, flagged approximate', () => {
    const r = new PriceBook().price(usage, AT);
    expect(r).toMatchObject({
      status: 'priced',
      model: 'deepseek-chat',
      matchedModel: 'deepseek-chatt',
      match: 'approximate',
    });
    expect(new PriceBook().price({ ...usage, model: 'deepseek-chat' }, AT).match).toBe('exact');
  });

  it('strictModels: unpriced with reason approximate_model, never a neighbour price', () => {
    const strict = new PriceBook({ strictModels: true });
    const r = strict.price(usage, AT);
    expect(r).toEqual({
      status: 'unpriced',
      reason: 'approximate_model',
      provider: 'deepseek',
      model: 'deepseek-chat',
    });
    expect(
      strict.price({ ...usage, provider: 'google', model: 'gemini-2.5-pro-typo' }, AT),
    ).toMatchObject({ status: 'unpriced', reason: 'approximate_model' });
    // Exact ids are priced as ever.
    expect(strict.price({ ...usage, model: 'deepseek-chat' }, AT)).toMatchObject({
      status: 'priced',
      match: 'exact',
    });
  });

  it('prefers an exact fallback model over an approximate first one', () => {
    const withFallback = { ...usage, fallbackModels: ['deepseek-chat'] };
    expect(new PriceBook().price(withFallback, AT)).toMatchObject({
      matchedModel: 'deepseek-chat',
      match: 'exact',
    });
    expect(new PriceBook({ strictModels: true }).price(withFallback, AT)).toMatchObject({
      status: 'priced',
      matchedModel: 'deepseek-chat',
    });
    // Strict, and no exact candidate: the reason stays approximate_model.
    const strictMiss = new PriceBook({ strictModels: true }).price(
      { ...usage, fallbackModels: ['no-such-model-anywhere'] },
      AT,
    );
    expect(strictMiss).toMatchObject({ status: 'unpriced', reason: 'approximate_model' });
  });

  it('a custom entry named by the id is exact', () => {
    const book = new PriceBook({
      prices: {
        models: [{ provider: 'acme', model: 'acme-1', prices: [{ inputPerMTok: 1 }] }],
      },
    });
    expect(book.price({ provider: 'acme', model: 'acme-1', inputTokens: 1 }, AT).match).toBe(
      'exact',
    );
  });
});

describe('undated aliases priced by date (docs/pricing.md, "Aliases by date")', () => {
  const call = { provider: 'openai', model: 'gpt-4o', inputTokens: 1e6, outputTokens: 1e6 };

  it('gpt-4o before 2024-10-02 is gpt-4o-2024-05-13 at $5 / $15 per million', () => {
    const book = new PriceBook();
    const july = book.price(call, Date.parse('2024-07-15T12:00:00Z'));
    expect(july).toMatchObject({
      status: 'priced',
      costUsd: 20,
      model: 'gpt-4o-2024-05-13',
      matchedModel: 'gpt-4o',
      match: 'exact',
    });
    expect(july.breakdown).toMatchObject({ inputUsd: 5, outputUsd: 15 });
    // The last instant before the switch, and the switch itself.
    expect(book.price(call, Date.parse('2024-10-01T23:59:59.999Z')).costUsd).toBe(20);
    expect(book.price(call, Date.parse('2024-10-02T00:00:00Z'))).toMatchObject({
      costUsd: 12.5,
      model: 'gpt-4o',
    });
    // A pinned snapshot is priced as itself whatever the date.
    expect(
      book.price({ ...call, model: 'gpt-4o-2024-08-06' }, Date.parse('2024-09-01T00:00:00Z'))
        .costUsd,
    ).toBe(12.5);
  });

  it('the card shown for the alias follows the date too', () => {
    const book = new PriceBook();
    expect(book.card('openai', 'gpt-4o', Date.parse('2024-07-01T00:00:00Z'))).toMatchObject({
      model: 'gpt-4o-2024-05-13',
      rates: { input: 5, output: 15 },
    });
    expect(book.card('openai', 'gpt-4o', Date.parse('2024-11-01T00:00:00Z'))).toMatchObject({
      model: 'gpt-4o',
      rates: { input: 2.5, output: 10 },
    });
  });

  it('a contract price for the alias wins over its history', () => {
    const book = new PriceBook({
      prices: {
        models: [
          { provider: 'openai', model: 'gpt-4o', prices: [{ inputPerMTok: 1, outputPerMTok: 2 }] },
        ],
      },
    });
    expect(book.price(call, Date.parse('2024-07-15T00:00:00Z'))).toMatchObject({
      source: 'override',
      costUsd: 3,
    });
  });
});
