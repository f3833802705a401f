/**
 * Catalog conformance: spanledger's fast path must price every model in the bundled catalog
 * exactly as `@pydantic/genai-prices` does, in every price period. Disagreements are bugs in
 * src/pricing, except the units spanledger cannot report (pages, messages), which must come out
 * as an explicit `unpriced` and never as a silent zero.
 */

import { readFileSync } from 'node:fs';
import { calcPrice, type MatchLogic, type ModelInfo, type Provider } from '@pydantic/genai-prices';
import { beforeAll, describe, expect, it } from 'vitest';
import { aliasHistory } from '../../src/pricing/alias-history.js';
import {
  CATALOG_NAME,
  CATALOG_PACKAGE,
  type CatalogModel,
  catalogProviders,
  findCatalogModel,
  priceChangeInstants,
  pricesAt,
  timeOfDayWindowsAt,
} from '../../src/pricing/catalog.js';
import { ERRATA_REVISION } from '../../src/pricing/errata-data.js';
import { PriceBook, type UsageRecord } from '../../src/pricing/price-book.js';

const pkg = JSON.parse(
  readFileSync(
    new URL('../../node_modules/@pydantic/genai-prices/package.json', import.meta.url),
    'utf8',
  ),
) as { version: string };

let providers: readonly Provider[] = [];
beforeAll(async () => {
  providers = await catalogProviders();
});

const book = new PriceBook();
const NOW = Date.parse('2026-11-10T12:00:00Z');

/** Catalog entries that no model id reaches through the catalog's own matching. */
const SHADOWED: string[] = [];

function periods(info: ModelInfo): ReadonlyArray<Record<string, unknown>> {
  return Array.isArray(info.prices) ? info.prices.map((p) => p.prices) : [info.prices];
}

/** Instants that select every price period: each start date, the instant before it, now. */
function instantsFor(info: ModelInfo): number[] {
  const out = [NOW, Date.parse('2023-01-01T00:00:00Z')];
  if (Array.isArray(info.prices)) {
    for (const p of info.prices) {
      if (p.constraint?.type === 'start_date') {
        const t = Date.parse(`${p.constraint.start_date}T00:00:00Z`);
        out.push(t, t - 1, t + 36 * 3_600_000);
      }
    }
  }
  return out;
}

function highestTierStart(info: ModelInfo): number {
  let max = 0;
  for (const prices of periods(info)) {
    for (const v of Object.values(prices)) {
      if (v && typeof v === 'object') {
        for (const t of (v as { tiers: { start: number }[] }).tiers) max = Math.max(max, t.start);
      }
    }
  }
  return max;
}

const TOKEN_UNITS = new Set([
  'input_mtok',
  'output_mtok',
  'cache_read_mtok',
  'cache_write_mtok',
  'cache_write_1h_mtok',
]);
const DURATION_UNITS = new Set(['audio_hours', 'input_audio_hours', 'output_audio_hours']);

type Vector = { name: string; usage: Omit<UsageRecord, 'provider' | 'model'> };

function vectorsFor(info: ModelInfo): Vector[] {
  const tier = highestTierStart(info);
  const big = Math.max(300_000, tier + 100_000);
  return [
    { name: 'plain', usage: { inputTokens: 1_000, outputTokens: 500 } },
    {
      name: 'cache reads',
      usage: { inputTokens: 10_000, cacheReadTokens: 4_000, outputTokens: 300 },
    },
    {
      name: 'cache writes',
      usage: {
        inputTokens: 10_000,
        cacheReadTokens: 2_000,
        cacheWriteTokens: 3_000,
        outputTokens: 100,
      },
    },
    {
      name: '1h cache writes',
      usage: {
        inputTokens: 10_000,
        cacheReadTokens: 2_000,
        cacheWriteTokens: 3_000,
        cacheWrite1hTokens: 1_000,
        outputTokens: 100,
      },
    },
    {
      name: 'above the top tier',
      usage: {
        inputTokens: big,
        cacheReadTokens: 50_000,
        cacheWriteTokens: 10_000,
        cacheWrite1hTokens: 2_000,
        outputTokens: 2_000,
      },
    },
    ...(tier > 0
      ? [{ name: 'exactly at the tier start', usage: { inputTokens: tier, outputTokens: 1_000 } }]
      : []),
    { name: 'reasoning', usage: { inputTokens: 2_000, outputTokens: 1_000, reasoningTokens: 400 } },
    {
      name: 'audio',
      usage: {
        inputTokens: 2_000,
        inputAudioTokens: 800,
        outputTokens: 1_000,
        outputAudioTokens: 300,
      },
    },
  ];
}

/** The same usage in the catalog's vocabulary (totals include their parts). */
function catalogUsage(u: Vector['usage'], seconds?: number): Record<string, number> {
  const out: Record<string, number> = {
    input_tokens: u.inputTokens ?? 0,
    output_tokens: u.outputTokens ?? 0,
    cache_read_tokens: u.cacheReadTokens ?? 0,
    cache_write_tokens: u.cacheWriteTokens ?? 0,
    cache_write_1h_tokens: u.cacheWrite1hTokens ?? 0,
    input_audio_tokens: u.inputAudioTokens ?? 0,
    output_audio_tokens: u.outputAudioTokens ?? 0,
    output_reasoning_tokens: u.reasoningTokens ?? 0,
  };
  if (seconds !== undefined) out.audio_seconds = seconds;
  return out;
}

function reference(
  providerId: string,
  modelId: string,
  usage: Record<string, number>,
  at: number,
): number | string {
  try {
    const r = calcPrice(usage, modelId, { providerId, timestamp: new Date(at) });
    return r ? r.total_price : 'no match';
  } catch (e) {
    return `throws: ${(e as Error).message}`;
  }
}

/** Strings the model's match rule accepts, the id first: some ids (Fireworks' short names,
 * the aws `regional.` entries) are not matched by themselves but by a full path or prefix. */
function candidateIds(info: ModelInfo): string[] {
  const out = [info.id];
  const walk = (m: MatchLogic): void => {
    if ('equals' in m) out.push(m.equals);
    else if ('starts_with' in m) out.push(m.starts_with, `${m.starts_with}-x`);
    else if ('ends_with' in m) out.push(m.ends_with);
    else if ('contains' in m) out.push(m.contains);
    else if ('or' in m) for (const x of m.or) walk(x);
    else if ('and' in m) {
      for (const x of m.and) walk(x);
    }
  };
  walk(info.match);
  return out;
}

/** A model id under which the catalog's own matching finds this very model, if any. */
function reachableId(providerId: string, info: ModelInfo): string | undefined {
  for (const id of candidateIds(info)) {
    try {
      const r = calcPrice({ input_tokens: 0 }, id, { providerId, timestamp: new Date(NOW) });
      if (r?.model.id === info.id) return id;
    } catch {
      // An id the catalog rejects is simply not a usable candidate.
    }
  }
  return undefined;
}

function closeRel(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)) || Math.abs(a - b) < 1e-15;
}

describe('CATALOG_NAME', () => {
  it('names the installed catalog package and version', () => {
    expect(pkg.version).toBe('0.1.8');
    expect(CATALOG_PACKAGE).toBe(`genai-prices@${pkg.version}`);
    expect(CATALOG_NAME).toBe(`genai-prices@${pkg.version}+errata.${ERRATA_REVISION}`);
  });
});

describe('catalog enumeration', () => {
  it('lists the bundled providers and about 1,700 models', () => {
    const ids = providers.map((p) => p.id);
    expect(ids.length).toBe(43);
    expect(ids).toEqual(expect.arrayContaining(['openai', 'anthropic', 'google', 'aws', 'azure']));
    const models = providers.reduce((n, p) => n + p.models.length, 0);
    expect(models).toBeGreaterThan(1_600);
  });
});

describe('pricesAt matches the catalog period choice', () => {
  it('for every model at every start date, the instant before and 24 times of day', () => {
    const mismatches: string[] = [];
    let checks = 0;
    for (const p of providers) {
      for (const info of p.models) {
        const model: CatalogModel = { providerId: p.id, modelId: info.id, info };
        const instants = instantsFor(info);
        const hourly =
          Array.isArray(info.prices) &&
          info.prices.some((x) => x.constraint?.type === 'time_of_date');
        if (hourly) {
          for (const day of [
            Date.parse('2026-01-15T00:00:00Z'),
            Date.parse('2026-09-01T00:00:00Z'),
          ]) {
            for (let m = 0; m < 24 * 60; m += 15)
              instants.push(day + m * 60_000, day + m * 60_000 - 1);
          }
        }
        for (const at of instants) {
          checks++;
          const r = calcPrice({ input_tokens: 0 }, info.id, {
            provider: { ...p, models: [{ ...info, match: { equals: info.id } }] },
            timestamp: new Date(at),
          });
          // Same entry: compare contents (the package copies conditional entries it is given).
          if (!r || JSON.stringify(pricesAt(model, at)) !== JSON.stringify(r.model_price)) {
            mismatches.push(`${p.id}/${info.id}@${new Date(at).toISOString()}`);
          }
          if (
            JSON.stringify(pricesAt(model, new Date(at))) !== JSON.stringify(pricesAt(model, at))
          ) {
            mismatches.push(`${p.id}/${info.id}@${at} Date vs ms`);
          }
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(checks).toBeGreaterThan(3_000);
  });

  it('picks DeepSeek off-peak prices by UTC time of day', () => {
    const m = findCatalogModel('deepseek', 'deepseek-chat') as CatalogModel;
    const peak = pricesAt(m, Date.parse('2025-03-01T12:00:00Z'));
    const offPeak = pricesAt(m, Date.parse('2025-03-01T17:00:00Z'));
    expect(offPeak).not.toBe(peak);
    // The off-peak window ends at 00:30 UTC (exclusive).
    expect(pricesAt(m, Date.parse('2025-03-02T00:29:59.999Z'))).toBe(offPeak);
    expect(pricesAt(m, Date.parse('2025-03-02T00:30:00Z'))).toBe(peak);
    expect(timeOfDayWindowsAt(m, Date.parse('2025-03-01T12:00:00Z'))).toEqual([
      { startTime: '00:30:00Z', endTime: '16:30:00Z', prices: peak },
    ]);
  });

  it('has no time-of-day window once a later dated price holds all day (DeepSeek from 2025-09-05 16:00 UTC)', () => {
    const m = findCatalogModel('deepseek', 'deepseek-chat') as CatalogModel;
    expect(timeOfDayWindowsAt(m, Date.parse('2025-09-05T15:59:59.999Z'))).toHaveLength(1);
    expect(timeOfDayWindowsAt(m, Date.parse('2025-09-05T16:00:00Z'))).toEqual([]);
  });

  it('timeOfDayWindowsAt is empty exactly when the price holds all day', () => {
    let hourlyModels = 0;
    for (const p of providers) {
      for (const info of p.models) {
        const model: CatalogModel = { providerId: p.id, modelId: info.id, info };
        for (const day of [
          Date.parse('2025-03-01T00:00:00Z'),
          Date.parse('2026-09-01T00:00:00Z'),
        ]) {
          const seen = new Set<unknown>();
          for (let m = 0; m < 24 * 60; m += 15) seen.add(pricesAt(model, day + m * 60_000));
          const windows = timeOfDayWindowsAt(model, day);
          if (windows.length > 0) hourlyModels++;
          expect(`${p.id}/${info.id} ${seen.size > 1}`).toBe(
            `${p.id}/${info.id} ${windows.length > 0}`,
          );
        }
      }
    }
    expect(hourlyModels).toBeGreaterThan(0);
  });

  it('lists the date price changes of a model', () => {
    for (const p of providers) {
      for (const info of p.models) {
        const instants = priceChangeInstants({ providerId: p.id, modelId: info.id, info });
        expect([...instants].sort((a, b) => a - b)).toEqual(instants);
      }
    }
  });
});

describe('PriceBook equals the catalog for every model', () => {
  it('totals agree to 1e-9 relative for every provider, model, price period and usage vector', () => {
    const mismatches: string[] = [];
    let compared = 0;
    let nonTokenModels = 0;
    const noMatch = new Set<string>();
    const corrected = new Set<string>();
    for (const p of providers) {
      for (const info of p.models) {
        const keys = new Set(periods(info).flatMap((x) => Object.keys(x)));
        const id = reachableId(p.id, info);
        if (id === undefined) {
          // Shadowed by an earlier entry's rule: no model id reaches it, in either engine.
          noMatch.add(`${p.id}/${info.id}`);
          continue;
        }
        if (findCatalogModel(p.id, id)?.errata !== undefined) {
          // Corrected on purpose: test/pricing/errata.test.ts prices these from the sources.
          corrected.add(`${p.id}/${info.id}`);
          continue;
        }
        for (const at of instantsFor(info)) {
          const prices = periods(info);
          for (const v of vectorsFor(info)) {
            const got = book.price({ provider: p.id, model: id, ...v.usage }, at);
            // An undated alias before a published switch is priced as the snapshot it then
            // meant (docs/pricing.md, "Aliases by date"): compare with the snapshot's entry.
            const dated = aliasHistory(p.id, id)?.periods.find((x) => at < x.untilMs);
            const ref = reference(p.id, dated?.model ?? id, catalogUsage(v.usage), at);
            compared++;
            const tokenPriced = [...keys].some((k) => TOKEN_UNITS.has(k));
            if (typeof ref === 'number' && got.costUsd !== undefined) {
              if (!closeRel(got.costUsd, ref)) {
                mismatches.push(`${p.id}/${info.id} ${v.name}: ${got.costUsd} vs catalog ${ref}`);
              }
            } else if (typeof ref !== 'number' && got.costUsd === undefined) {
              // Both refuse (usage the catalog finds inconsistent): unpriced with the reason.
              expect(got.reason).toMatch(/^catalog_error: /);
            } else if (!tokenPriced && prices.some((x) => Object.keys(x).length > 0)) {
              // Priced per hour of audio, per page or per message: the catalog prices token
              // usage at zero because the unit it charges is missing; spanledger says so.
              nonTokenModels++;
              expect(got.status).toBe('unpriced');
              expect(['missing_duration', 'unsupported_unit']).toContain(got.reason);
              const hasDuration = [...keys].some((k) => DURATION_UNITS.has(k));
              expect(got.reason).toBe(hasDuration ? 'missing_duration' : 'unsupported_unit');
            } else {
              mismatches.push(`${p.id}/${info.id} ${v.name}: ${JSON.stringify(got)} vs ${ref}`);
            }
          }
        }
      }
    }
    expect(mismatches).toEqual([]);
    // Exactly the entries the errata correct for their own ids (Titan V2 is a different id).
    expect([...corrected].sort()).toEqual([
      'anthropic/claude-sonnet-4-0',
      'aws/regional.anthropic.claude-3-5-sonnet-20241022-v2:0',
      'deepseek/deepseek-chat',
      'deepseek/deepseek-reasoner',
      'x-ai/grok-4-0709',
    ]);
    expect(compared).toBeGreaterThan(12_000);
    expect(nonTokenModels).toBeGreaterThan(0);
    // Printed so a catalog bump that hides models shows up in the diff of this figure.
    expect([...noMatch]).toEqual(SHADOWED);
  });

  it('prices per-hour-of-audio models from seconds exactly as the catalog does', () => {
    let n = 0;
    for (const p of providers) {
      for (const info of p.models) {
        const keys = new Set(periods(info).flatMap((x) => Object.keys(x)));
        if (![...keys].some((k) => DURATION_UNITS.has(k))) continue;
        for (const seconds of [0, 5, 90, 3_600]) {
          const got = book.price({ provider: p.id, model: info.id, seconds }, NOW);
          const ref = reference(p.id, info.id, catalogUsage({}, seconds), NOW);
          expect(typeof ref).toBe('number');
          expect(got.status).toBe('priced');
          expect(closeRel(got.costUsd as number, ref as number)).toBe(true);
          n++;
        }
      }
    }
    // whisper-1, gpt-transcribe, Groq and Mistral transcription, x.ai voice: 8 models.
    expect(n).toBe(4 * 8);
    // whisper-1 at $0.36 an hour (the catalog's audio_hours price): 90 s = $0.009.
    expect(
      book.price({ provider: 'openai', model: 'whisper-1', seconds: 90 }, NOW).costUsd,
    ).toBeCloseTo(0.009, 12);
  });

  it('prices models the catalog lists with no price (free) at zero, as priced', () => {
    const r = book.price(
      { provider: 'github-copilot', model: 'gpt-4o', inputTokens: 5_000, outputTokens: 100 },
      NOW,
    );
    expect(r.status).toBe('priced');
    expect(r.costUsd).toBe(0);
    expect(r.catalog).toBe(CATALOG_NAME);
  });
});
