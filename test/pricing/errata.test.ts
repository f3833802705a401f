/**
 * The errata layer (docs/pricing.md, "Errata"): each correction priced by hand from the
 * provider's published per-million prices, the layer's mechanics, and the retirement check that
 * fails once an upgraded catalog already agrees with an erratum.
 */
import { describe, expect, it } from 'vitest';
import {
  CATALOG_NAME,
  type CatalogPrices,
  findCatalogModel,
  findRawCatalogModel,
  pricesAt,
} from '../../src/pricing/catalog.js';
import { applyErrata, errataFor } from '../../src/pricing/errata.js';
import { ERRATA, type Erratum } from '../../src/pricing/errata-data.js';
import { PriceBook, type PriceResult, type UsageRecord } from '../../src/pricing/price-book.js';
import { rateCardFromCatalog } from '../../src/pricing/rates.js';

const book = new PriceBook();

/** Money is exact: hand-computed figures agree to 1e-12 USD. */
function expectUsd(r: PriceResult, usd: number): void {
  expect(r.status, JSON.stringify(r)).toBe('priced');
  expect(Math.abs((r.costUsd as number) - usd)).toBeLessThanOrEqual(1e-12);
}

function price(usage: UsageRecord, at: string): PriceResult {
  return book.price(usage, Date.parse(at));
}

describe('aws-titan-embed-text-v2: Titan Text Embeddings V2 at $0.02 per million', () => {
  it('prices V2 at $0.02/M, not at V1 $0.10/M', () => {
    const usage = { provider: 'aws.bedrock', model: 'amazon.titan-embed-text-v2:0' };
    const r = price({ ...usage, inputTokens: 1_234_567 }, '2026-11-10T12:00:00Z');
    expectUsd(r, (0.02 * 1_234_567) / 1e6);
    expect(r).toMatchObject({
      provider: 'aws',
      model: 'amazon.titan-embed-text-v2:0',
      catalog: CATALOG_NAME,
    });
  });

  it('applies to every form of the V2 id (ARN, no version suffix) and to no V1 id', () => {
    const at = '2025-01-01T00:00:00Z';
    for (const model of [
      'amazon.titan-embed-text-v2',
      'arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0',
    ]) {
      expectUsd(price({ provider: 'aws.bedrock', model, inputTokens: 10_000 }, at), 0.0002);
    }
    const v1 = {
      provider: 'aws.bedrock',
      model: 'amazon.titan-embed-text-v1',
      inputTokens: 10_000,
    };
    expectUsd(price(v1, at), 0.001);
    expect(findCatalogModel('aws', 'amazon.titan-embed-text-v1')?.errata).toBeUndefined();
    // The corrected entry says how V2 ids are recognised, not V1's loose rule.
    expect(findCatalogModel('aws', 'amazon.titan-embed-text-v2:0')?.info.match).toEqual({
      contains: 'titan-embed-text-v2',
    });
  });
});

describe('deepseek-2025-09-05: new list from 16:00 UTC, night discount cancelled', () => {
  // 100k input of which 40k cache hits, 2k output.
  const u = { inputTokens: 100_000, cacheReadTokens: 40_000, outputTokens: 2_000 };
  const after = (0.56 * 60_000 + 0.07 * 40_000 + 1.68 * 2_000) / 1e6;

  it.each([
    ['deepseek-chat', '2025-09-05T16:00:00Z'],
    ['deepseek-chat', '2025-09-10T03:00:00Z'],
    // 20:00 UTC was inside the cancelled 16:30-00:30 discount window.
    ['deepseek-chat', '2025-09-10T20:00:00Z'],
    ['deepseek-reasoner', '2025-09-10T20:00:00Z'],
  ])('%s at %s: $0.56 miss, $0.07 hit, $1.68 output', (model, at) => {
    expectUsd(price({ provider: 'deepseek', model, ...u }, at), after);
  });

  it('a cache-hit-only call after the change costs $0.07/M, not the old night $0.035/M', () => {
    const hits = { provider: 'deepseek', model: 'deepseek-chat', inputTokens: 1e6 };
    const r = price({ ...hits, cacheReadTokens: 1e6 }, '2025-09-10T20:00:00Z');
    expectUsd(r, 0.07);
  });

  it('the catalog prices still hold the millisecond before 16:00 UTC', () => {
    // 15:59:59.999 is inside the old standard window (00:30-16:30): $0.27 / $0.07 / $1.10.
    const r = price(
      { provider: 'deepseek', model: 'deepseek-chat', ...u },
      '2025-09-05T15:59:59.999Z',
    );
    expectUsd(r, (0.27 * 60_000 + 0.07 * 40_000 + 1.1 * 2_000) / 1e6);
    // And the old night discount the evening before: $0.135 / $0.035 / $0.55.
    const night = price(
      { provider: 'deepseek', model: 'deepseek-reasoner', ...u },
      '2025-09-04T20:00:00Z',
    );
    expectUsd(night, (0.135 * 60_000 + 0.035 * 40_000 + 0.55 * 2_000) / 1e6);
  });
});

describe('deepseek-2025-09-29: the V3.2-Exp cut', () => {
  it('prices both aliases at $0.28 miss, $0.028 hit, $0.42 output from 2025-09-29', () => {
    const u = { inputTokens: 100_000, cacheReadTokens: 40_000, outputTokens: 2_000 };
    const want = (0.28 * 60_000 + 0.028 * 40_000 + 0.42 * 2_000) / 1e6;
    for (const model of ['deepseek-chat', 'deepseek-reasoner']) {
      expectUsd(price({ provider: 'deepseek', model, ...u }, '2026-04-13T20:00:00Z'), want);
    }
    const before = price(
      { provider: 'deepseek', model: 'deepseek-chat', ...u },
      '2025-09-28T23:59:59Z',
    );
    expectUsd(before, (0.56 * 60_000 + 0.07 * 40_000 + 1.68 * 2_000) / 1e6);
  });
});

describe('anthropic-sonnet-4-long-context: above 200k input tokens', () => {
  const at = '2026-11-10T12:00:00Z';

  it('prices the whole request at $6 / $22.50 once input exceeds 200k tokens', () => {
    const r = price(
      {
        provider: 'anthropic',
        model: 'claude-sonnet-4-20250514',
        inputTokens: 250_000,
        outputTokens: 2_000,
      },
      at,
    );
    expectUsd(r, (6 * 250_000 + 22.5 * 2_000) / 1e6);
  });

  it('cache reads and 5-minute / 1-hour writes at the long-context multipliers', () => {
    const r = price(
      {
        provider: 'anthropic',
        model: 'claude-sonnet-4',
        inputTokens: 300_000,
        cacheReadTokens: 100_000,
        cacheWriteTokens: 50_000,
        cacheWrite1hTokens: 20_000,
        outputTokens: 1_000,
      },
      at,
    );
    const want = (6 * 150_000 + 0.6 * 100_000 + 7.5 * 30_000 + 12 * 20_000 + 22.5 * 1_000) / 1e6;
    expectUsd(r, want);
  });

  it('at exactly 200k input tokens the base rates apply', () => {
    const r = price(
      {
        provider: 'anthropic',
        model: 'claude-sonnet-4-0',
        inputTokens: 200_000,
        outputTokens: 2_000,
      },
      at,
    );
    expectUsd(r, (3 * 200_000 + 15 * 2_000) / 1e6);
  });
});

describe('xai-grok-4-long-context: above 128k input tokens', () => {
  const at = '2026-11-10T12:00:00Z';
  it.each([
    ['grok-4', 100_000, 3, 15],
    ['grok-4-0709', 128_000, 3, 15],
    ['grok-4-latest', 128_001, 6, 30],
  ])('%s with %d input tokens: $%d / $%d', (model, input, inRate, outRate) => {
    const r = price(
      { provider: 'xai', model, inputTokens: input, cacheReadTokens: 10_000, outputTokens: 1_000 },
      at,
    );
    expectUsd(r, (inRate * (input - 10_000) + 0.75 * 10_000 + outRate * 1_000) / 1e6);
  });
});

describe('aws-claude-3-5-sonnet-v2-extended-access: $6 / $30 on Bedrock from 2025-12-01', () => {
  // 100k input of which 20k cache reads and 10k cache writes, 2k output.
  const u = {
    inputTokens: 100_000,
    cacheReadTokens: 20_000,
    cacheWriteTokens: 10_000,
    outputTokens: 2_000,
  };
  const launch = (3 * 70_000 + 0.3 * 20_000 + 3.75 * 10_000 + 15 * 2_000) / 1e6;
  const extended = (6 * 70_000 + 0.6 * 20_000 + 7.5 * 10_000 + 30 * 2_000) / 1e6;

  it.each([
    ['anthropic.claude-3-5-sonnet-20241022-v2:0', '2025-11-30T23:59:59Z', launch],
    ['anthropic.claude-3-5-sonnet-20241022-v2:0', '2025-12-01T00:00:00Z', extended],
    ['us.anthropic.claude-3-5-sonnet-20241022-v2:0', '2026-11-10T12:00:00Z', extended],
    [
      'arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-5-sonnet-20241022-v2:0',
      '2026-11-10T12:00:00Z',
      extended,
    ],
  ])('%s at %s', (model, at, want) => {
    expectUsd(price({ provider: 'aws.bedrock', model, ...u }, at), want);
  });

  it('leaves Claude 3.5 Sonnet v1 and the Anthropic API alone', () => {
    const at = '2026-11-10T12:00:00Z';
    const v1 = { provider: 'aws.bedrock', model: 'anthropic.claude-3-5-sonnet-20240620-v1:0' };
    expectUsd(price({ ...v1, ...u }, at), launch);
    expectUsd(
      price({ provider: 'anthropic', model: 'claude-3-5-sonnet-20241022', ...u }, at),
      launch,
    );
  });
});

describe('the errata layer', () => {
  it('names the errata applied on the catalog model it returns', () => {
    expect(findCatalogModel('deepseek', 'deepseek-chat')?.errata).toEqual([
      'deepseek-2025-09-05',
      'deepseek-2025-09-29',
    ]);
    expect(findCatalogModel('openai', 'gpt-4o')?.errata).toBeUndefined();
  });

  it('every erratum has a source, what the catalog says, and a valid start', () => {
    const ids = new Set<string>();
    for (const e of ERRATA) {
      expect(ids.has(e.id), e.id).toBe(false);
      ids.add(e.id);
      expect(e.source.length, e.id).toBeGreaterThan(20);
      expect(e.catalogSays.length, e.id).toBeGreaterThan(5);
      if (e.from !== undefined) expect(Number.isFinite(Date.parse(e.from)), e.id).toBe(true);
      for (const m of e.models) {
        // The entry it corrects exists in the pinned catalog.
        expect(findRawCatalogModel(e.provider, m)?.modelId, `${e.id} ${m}`).toBe(m);
      }
    }
  });

  it('a later erratum wins from its start, and one without a start replaces the prices', () => {
    const base = findRawCatalogModel('deepseek', 'deepseek-chat');
    if (!base) throw new Error('catalog lost deepseek-chat');
    const mk = (id: string, from: string | undefined, input: number): Erratum => ({
      id,
      provider: 'deepseek',
      models: ['deepseek-chat'],
      from,
      prices: { input_mtok: input },
      catalogSays: 'x',
      source: 'test',
    });
    const dated = applyErrata(base.info, [
      mk('a', '2030-01-01T00:00:00Z', 1),
      mk('b', '2031-01-01T00:00:00Z', 2),
    ]);
    const model = { ...base, info: dated };
    expect(pricesAt(model, Date.parse('2029-12-31T20:00:00Z')).input_mtok).toBe(0.135);
    expect(pricesAt(model, Date.parse('2030-06-01T03:00:00Z')).input_mtok).toBe(1);
    expect(pricesAt(model, Date.parse('2031-06-01T20:00:00Z')).input_mtok).toBe(2);
    const replaced = applyErrata(base.info, [mk('c', undefined, 3)]);
    expect(replaced.prices).toEqual({ input_mtok: 3 });
  });

  it('cloud-list errata apply only on their list, after the maker-list ones', () => {
    const list: Erratum[] = [
      { id: 'own', provider: 'google', models: ['m'], prices: {}, catalogSays: 'x', source: 's' },
      {
        id: 'vx',
        provider: 'google',
        list: 'vertex',
        models: ['m'],
        prices: {},
        catalogSays: 'x',
        source: 's',
      },
    ];
    expect(errataFor('google', 'm', 'm', undefined, list).map((e) => e.id)).toEqual(['own']);
    expect(errataFor('google', 'm', 'm', 'vertex', list).map((e) => e.id)).toEqual(['own', 'vx']);
    expect(errataFor('google', 'other', 'other', 'vertex', list)).toEqual([]);
  });
});

/**
 * When the catalog is upgraded and already has what an erratum says, the erratum must go
 * (delete it from src/pricing/errata-data.ts and bump ERRATA_REVISION): this test fails until
 * then, naming it.
 */
describe('retirement: no erratum restates the catalog', () => {
  it.each(ERRATA.map((e) => [e.id, e] as const))('%s still corrects the catalog', (_id, e) => {
    const id = e.asModel ?? (e.models[0] as string);
    // Still reached: the id it corrects resolves to an entry it applies to.
    expect(findCatalogModel(e.provider, id)?.errata, e.id).toContain(e.id);
    // Probe one minute into the erratum (or now): the catalog's own card must differ from it.
    const raw = findRawCatalogModel(e.provider, id);
    if (raw === undefined) throw new Error(`${e.id}: the catalog lost ${e.provider}/${id}`);
    const at = e.from === undefined ? Date.now() : Date.parse(e.from) + 60_000;
    const catalogCard = rateCardFromCatalog(pricesAt(raw, at));
    const errataCard = rateCardFromCatalog(e.prices as CatalogPrices);
    expect(catalogCard, `${e.id}: the catalog now says the same; retire the erratum`).not.toEqual(
      errataCard,
    );
  });
});
