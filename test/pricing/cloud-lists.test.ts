/**
 * Cloud price lists (docs/pricing.md, "Cloud price lists"): the span's provider decides which
 * list prices it. The Vertex list is empty today (no Vertex price that differs from the Gemini
 * API's could be sourced), so this test adds one Vertex entry to the errata data to check the
 * routing: Vertex spans get it, Gemini API spans do not.
 */
import { describe, expect, it, vi } from 'vitest';
import type { Erratum } from '../../src/pricing/errata-data.js';

vi.mock('../../src/pricing/errata-data.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/pricing/errata-data.js')>();
  const vertex: Erratum = {
    id: 'test-vertex-gemini-2.5-flash',
    provider: 'google',
    list: 'vertex',
    models: ['gemini-2.5-flash'],
    prices: { input_mtok: 0.45, cache_read_mtok: 0.045, output_mtok: 3.75 },
    catalogSays: 'the Gemini API list',
    source: 'test data, not a sourced price',
  };
  return { ...real, ERRATA: [...real.ERRATA, vertex] };
});

const { PriceBook } = await import('../../src/pricing/price-book.js');
const { findCatalogModel } = await import('../../src/pricing/catalog.js');
const { readLlmCall } = await import('../../src/usage/normalize.js');

const book = new PriceBook();
const AT = Date.parse('2026-11-10T12:00:00Z');
const usage = { inputTokens: 100_000, cacheReadTokens: 20_000, outputTokens: 2_000 };
// The Gemini API list, from the catalog: $0.30 / $0.03 / $2.50.
const gemini = (0.3 * 80_000 + 0.03 * 20_000 + 2.5 * 2_000) / 1e6;
const vertex = (0.45 * 80_000 + 0.045 * 20_000 + 3.75 * 2_000) / 1e6;

function usd(provider: string | undefined): number | undefined {
  return book.price({ provider, model: 'gemini-2.5-flash', ...usage }, AT).costUsd;
}

describe('the span provider picks the price list', () => {
  it.each([
    ['gcp.vertex_ai', vertex],
    ['vertex_ai', vertex],
    ['google.vertex.chat', vertex],
    ['gcp.gemini', gemini],
    ['gcp.gen_ai', gemini],
    ['google', gemini],
    [undefined, gemini],
  ])('%s', (provider, want) => {
    expect(Math.abs((usd(provider) as number) - want)).toBeLessThanOrEqual(1e-12);
  });

  it('a gcp.gen_ai span on a Vertex host is priced from the Vertex list', () => {
    const call = readLlmCall('chat gemini-2.5-flash', {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'gcp.gen_ai',
      'gen_ai.request.model': 'gemini-2.5-flash',
      'server.address': 'europe-west4-aiplatform.googleapis.com',
      'gen_ai.usage.input_tokens': 100_000,
      'gen_ai.usage.output_tokens': 2_000,
    });
    expect(call?.provider).toBe('gcp.vertex_ai');
    const r = book.price({ ...(call as NonNullable<typeof call>), cacheReadTokens: 20_000 }, AT);
    expect(Math.abs((r.costUsd as number) - vertex)).toBeLessThanOrEqual(1e-12);
  });

  it('the result names the catalog provider and the list applied', () => {
    const r = book.price({ provider: 'gcp.vertex_ai', model: 'gemini-2.5-flash', ...usage }, AT);
    expect(r).toMatchObject({ provider: 'google', model: 'gemini-2.5-flash' });
    expect(findCatalogModel('google-vertex', 'gemini-2.5-flash')).toMatchObject({
      providerId: 'google',
      priceList: 'vertex',
      errata: ['test-vertex-gemini-2.5-flash'],
    });
    expect(findCatalogModel('google', 'gemini-2.5-flash')?.priceList).toBeUndefined();
  });

  it('a Gemini API contract price (provider google) still applies to Vertex calls', () => {
    const contract = new PriceBook({
      prices: { discounts: [{ provider: 'google', model: 'gemini-2.5-*', multiplier: 0.5 }] },
    });
    const r = contract.price(
      { provider: 'gcp.vertex_ai', model: 'gemini-2.5-flash', ...usage },
      AT,
    );
    expect(Math.abs((r.costUsd as number) - vertex / 2)).toBeLessThanOrEqual(1e-12);
    // A discount scoped to Vertex leaves Gemini API calls alone.
    const vx = new PriceBook({
      prices: { discounts: [{ provider: 'gcp.vertex_ai', multiplier: 0.5 }] },
    });
    expect(
      vx.price({ provider: 'gcp.gemini', model: 'gemini-2.5-flash', ...usage }, AT).costUsd,
    ).toBeCloseTo(gemini, 12);
    expect(
      vx.price({ provider: 'gcp.vertex_ai', model: 'gemini-2.5-flash', ...usage }, AT).costUsd,
    ).toBeCloseTo(vertex / 2, 12);
  });
});
