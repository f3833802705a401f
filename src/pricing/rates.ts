/**
 * Token arithmetic on the hot path. The catalog package only returns input and output totals
 * and costs tens of microseconds a call; spanledger writes a per-token-type breakdown
 * (docs/conventions.md) and the processor must stay within microseconds a span
 * (docs/performance.md). So catalog prices are turned once into a RateCard and priced here,
 * with the catalog's own semantics (cache reads and writes are partitions of the input count;
 * tiers are chosen by the request's total input tokens). A conformance test checks this
 * against the package for every model in the catalog.
 */
import type { UsageRecord } from '../usage/record.js';
import {
  type CatalogModel,
  type CatalogPrices,
  type CatalogUsage,
  catalogTotal,
  type Rate,
} from './catalog.js';

/** Prices of one model in force for one period, in USD per million tokens. */
export interface RateCard {
  input?: Rate;
  output?: Rate;
  cacheRead?: Rate;
  cacheWrite?: Rate;
  cacheWrite1h?: Rate;
  /** Fixed fee per call, USD. */
  perRequestUsd?: number;
  /** Price per second of compute, USD (self-hosted models). */
  perSecondUsd?: number;
  /** False when the catalog prices units this module does not compute (audio, reasoning...). */
  fastPath: boolean;
  /** The catalog prices hours of audio (transcription): priced from a duration, not tokens. */
  pricesDuration?: boolean;
  /** The catalog entry lists no price at all: the provider does not charge (`:free` models,
   * subscription-included models). Priced at zero, which is a known price, not a missing one. */
  free?: boolean;
}

/** Token counts in the OTel semconv convention: input and output are totals. */
export interface TokenCounts {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  /** All cache writes, including the 1-hour ones. */
  cacheWriteTokens: number;
  /** Part of `cacheWriteTokens` written with a 1-hour TTL. */
  cacheWrite1hTokens: number;
}

/** Cost of one call by token type, USD. */
export interface CostBreakdown {
  inputUsd: number;
  outputUsd: number;
  cacheReadUsd: number;
  cacheWriteUsd: number;
  /** Per-request fees and per-second compute. */
  otherUsd: number;
}

const DURATION_KEYS = new Set(['audio_hours', 'input_audio_hours', 'output_audio_hours']);

const FAST_KEYS: Readonly<Record<string, keyof RateCard>> = {
  input_mtok: 'input',
  output_mtok: 'output',
  cache_read_mtok: 'cacheRead',
  cache_write_mtok: 'cacheWrite',
  cache_write_1h_mtok: 'cacheWrite1h',
};

// Units spanledger never reports as usage: the catalog prices them at zero for a call that does
// not report them, so they cannot change a token-priced result.
const IGNORABLE_KEYS = new Set([
  'web_searches_kcount',
  'storage_searches_kcount',
  'code_executions_kcount',
  'social_searches_kcount',
  'rerank_searches_kcount',
  'input_text_messages_kcount',
  'input_document_kpages',
  'input_annotated_document_kpages',
  'input_image_mtok',
  'cache_image_read_mtok',
  'output_image_mtok',
  'input_video_mtok',
  'output_video_mtok',
  'output_citation_mtok',
  'input_text_mtok',
  'output_text_mtok',
  'input_mchars',
  'input_gpixels',
]);

/** Turn catalog prices into a RateCard; prices are USD per million tokens as in the catalog. */
export function rateCardFromCatalog(prices: CatalogPrices): RateCard {
  const card: RateCard = { fastPath: true };
  let listed = 0;
  for (const [key, value] of Object.entries(prices)) {
    if (value === undefined) continue;
    listed++;
    const field = FAST_KEYS[key];
    if (field) {
      // The catalog sorts tiers by start before use; `level` relies on the same order.
      (card as unknown as Record<string, Rate>)[field] =
        typeof value === 'number'
          ? value
          : { base: value.base, tiers: [...value.tiers].sort((a, b) => a.start - b.start) };
    } else if (key === 'requests_kcount' && typeof value === 'number') {
      card.perRequestUsd = value / 1000;
    } else if (DURATION_KEYS.has(key)) {
      card.pricesDuration = true;
      card.fastPath = false;
    } else if (!IGNORABLE_KEYS.has(key)) {
      // Includes a tiered per-request fee: rare enough to leave to the catalog's own code.
      card.fastPath = false;
    }
  }
  if (listed === 0) card.free = true;
  return card;
}

/** Whether a card can price tokens at all (a model priced only per hour of audio cannot). */
export function pricesTokens(card: RateCard): boolean {
  return card.input !== undefined || card.output !== undefined;
}

function level(rate: Rate | undefined, totalInput: number): number {
  if (rate === undefined) return 0;
  if (typeof rate === 'number') return rate;
  let price = rate.base;
  // The catalog applies a tier once the request's total input exceeds its start.
  for (const tier of rate.tiers) if (totalInput > tier.start) price = tier.price;
  return price;
}

/**
 * Price token counts with a card. Counts must be consistent (cache reads plus writes at most
 * the input total): the normaliser guarantees it. Multiplier applies to every component.
 */
export function priceTokens(
  card: RateCard,
  t: TokenCounts,
  multiplier: number,
  seconds: number,
): Cost & { breakdown: CostBreakdown; savingsUsd: number } {
  const total = t.inputTokens;
  const cacheRead = card.cacheRead !== undefined ? t.cacheReadTokens : 0;
  const write1h = card.cacheWrite1h !== undefined ? t.cacheWrite1hTokens : 0;
  const write = card.cacheWrite !== undefined ? t.cacheWriteTokens - write1h : 0;
  const uncached = total - cacheRead - write - write1h;
  const inputRate = level(card.input, total);
  const readRate = level(card.cacheRead, total);
  // Same operation order as the catalog (price * count / per), so results agree to the bit
  // for a single component and to 1e-15 relative for sums.
  const breakdown: CostBreakdown = {
    inputUsd: ((inputRate * uncached) / 1e6) * multiplier,
    outputUsd: ((level(card.output, total) * t.outputTokens) / 1e6) * multiplier,
    cacheReadUsd: ((readRate * cacheRead) / 1e6) * multiplier,
    cacheWriteUsd:
      ((level(card.cacheWrite, total) * write) / 1e6) * multiplier +
      ((level(card.cacheWrite1h, total) * write1h) / 1e6) * multiplier,
    otherUsd: ((card.perRequestUsd ?? 0) + (card.perSecondUsd ?? 0) * seconds) * multiplier,
  };
  const savingsUsd =
    card.cacheRead !== undefined ? (((inputRate - readRate) * cacheRead) / 1e6) * multiplier : 0;
  return { breakdown, totalUsd: breakdownTotal(breakdown), savingsUsd };
}

/** Sum of a breakdown. */
export function breakdownTotal(b: CostBreakdown): number {
  return b.inputUsd + b.cacheReadUsd + b.cacheWriteUsd + b.outputUsd + b.otherUsd;
}

/** The cost of one call: a breakdown, its total, and the cache savings. The breakdown's cache
 * fields and the savings are absent when the catalog's own code priced an exotic unit mix
 * (audio, separately priced reasoning), which reports input, output and the rest only. */
export interface Cost {
  breakdown: Partial<CostBreakdown> & { inputUsd: number; outputUsd: number };
  totalUsd: number;
  savingsUsd: number | undefined;
}

/** Why a card cannot price a usage: it prices by duration and none was given, or it prices
 * units spanledger does not read. */
export type NoCost = 'missing_duration' | 'unsupported_unit';

const FREE: Cost = Object.freeze({
  breakdown: Object.freeze({
    inputUsd: 0,
    outputUsd: 0,
    cacheReadUsd: 0,
    cacheWriteUsd: 0,
    otherUsd: 0,
  }),
  totalUsd: 0,
  savingsUsd: 0,
});

function count(value: number | undefined): number {
  return value === undefined ? 0 : value;
}

/**
 * The arithmetic of pricing, in one step: the cost of a (consistent) usage record under the
 * card in force, every component times `multiplier`. Token units go through {@link priceTokens};
 * units it does not model go through the catalog's own calculation when the card comes from
 * `catalog` (which throws on usage it finds inconsistent: call inside the never-throw boundary).
 */
export function costOf(
  card: RateCard,
  usage: UsageRecord,
  multiplier: number,
  catalog: CatalogModel | undefined,
  atMs: number,
): Cost | NoCost {
  // The catalog lists the model with no price: the provider does not charge for it.
  if (card.free) return FREE;
  const tokens = pricesTokens(card);
  if (
    !tokens &&
    usage.seconds === undefined &&
    (card.perSecondUsd !== undefined || card.pricesDuration)
  ) {
    return 'missing_duration';
  }
  if (
    !tokens &&
    card.perSecondUsd === undefined &&
    card.perRequestUsd === undefined &&
    !card.pricesDuration
  ) {
    return 'unsupported_unit';
  }
  if (
    catalog !== undefined &&
    (!card.fastPath || count(usage.inputAudioTokens) > 0 || count(usage.outputAudioTokens) > 0)
  ) {
    const t = catalogTotal(catalog, catalogUsage(usage, card), atMs);
    return {
      breakdown: {
        inputUsd: t.inputUsd * multiplier,
        outputUsd: t.outputUsd * multiplier,
        otherUsd: (t.totalUsd - t.inputUsd - t.outputUsd) * multiplier,
      },
      totalUsd: t.totalUsd * multiplier,
      savingsUsd: undefined,
    };
  }
  return priceTokens(
    card,
    {
      inputTokens: count(usage.inputTokens),
      outputTokens: count(usage.outputTokens),
      cacheReadTokens: count(usage.cacheReadTokens),
      cacheWriteTokens: count(usage.cacheWriteTokens),
      cacheWrite1hTokens: count(usage.cacheWrite1hTokens),
    },
    multiplier,
    count(usage.seconds),
  );
}

/** The usage in the catalog's vocabulary, for the catalog's own (slow) calculation. */
function catalogUsage(u: UsageRecord, card: RateCard): CatalogUsage {
  const usage: CatalogUsage = {
    input_tokens: count(u.inputTokens),
    output_tokens: count(u.outputTokens),
    cache_read_tokens: count(u.cacheReadTokens),
    cache_write_tokens: count(u.cacheWriteTokens),
    cache_write_1h_tokens: count(u.cacheWrite1hTokens),
    input_audio_tokens: count(u.inputAudioTokens),
    output_audio_tokens: count(u.outputAudioTokens),
    // A model that prices reasoning apart (Perplexity deep research) charges it instead of the
    // output rate, never on top: reasoning is a part of the output count.
    output_reasoning_tokens: count(u.reasoningTokens),
  };
  if (card.pricesDuration && u.seconds !== undefined) usage.audio_seconds = u.seconds;
  return usage;
}
