/**
 * Corrections to the pinned catalog, as data. Each one names the catalog entry it corrects,
 * the instant it holds from, what the catalog says, what the provider's own page says, and
 * where that page is. docs/pricing.md ("Errata") lists them; test/pricing/errata.test.ts prices
 * each one by hand and fails when an upgraded catalog already agrees (then delete the entry and
 * bump ERRATA_REVISION).
 */

/** Prices in the catalog's vocabulary, USD per million tokens. */
export interface ErratumPrices {
  input_mtok?: number | { base: number; tiers: { start: number; price: number }[] };
  output_mtok?: number | { base: number; tiers: { start: number; price: number }[] };
  cache_read_mtok?: number | { base: number; tiers: { start: number; price: number }[] };
  cache_write_mtok?: number | { base: number; tiers: { start: number; price: number }[] };
  cache_write_1h_mtok?: number | { base: number; tiers: { start: number; price: number }[] };
}

/** One correction. */
export interface Erratum {
  /** Stable id, cited in docs/pricing.md. */
  id: string;
  /** Catalog provider id of the entry corrected. */
  provider: string;
  /** A cloud price list (`vertex`) the prices hold on, when they differ from the model
   * maker's own list; absent: a correction of the maker's list, on every list. */
  list?: string;
  /** Catalog model ids corrected (the id the catalog resolves to, not the id as emitted). */
  models: readonly string[];
  /** Only for ids (as emitted, lower case) containing this: the catalog entry is shared by a
   * different model that it matches too loosely. */
  idContains?: string;
  /** The model id to report when the id is a different model from the catalog entry's. */
  asModel?: string;
  /** ISO instant the corrected prices hold from (inclusive); absent: since the model exists. */
  from?: string;
  /** Prices in force from `from`; they replace the catalog's for every instant after it,
   * time-of-day windows included. */
  prices: ErratumPrices;
  /** What the catalog says, in words. */
  catalogSays: string;
  /** The provider's page (URL or title) and what it says. */
  source: string;
  /** Caveats: what is not sourced. */
  note?: string;
}

/**
 * Bumped whenever an erratum is added, changed or retired: spans carry it in
 * `spanledger.pricing.catalog` (`genai-prices@0.1.8+errata.N`), so a figure can be traced to
 * the data that produced it.
 */
export const ERRATA_REVISION = 2;

// Claude Sonnet 4 long context: above 200k input tokens every token of the request is billed
// at the long-context rates (input x2, output x1.5); cache multipliers apply on top
// (write 1.25x / 2x, read 0.1x of the long-context input rate).
const SONNET_4_LONG: ErratumPrices = {
  input_mtok: { base: 3, tiers: [{ start: 200_000, price: 6 }] },
  output_mtok: { base: 15, tiers: [{ start: 200_000, price: 22.5 }] },
  cache_read_mtok: { base: 0.3, tiers: [{ start: 200_000, price: 0.6 }] },
  cache_write_mtok: { base: 3.75, tiers: [{ start: 200_000, price: 7.5 }] },
  cache_write_1h_mtok: { base: 6, tiers: [{ start: 200_000, price: 12 }] },
};

/** The errata, applied in order (a later one for the same entry and instant wins). */
export const ERRATA: readonly Erratum[] = [
  {
    id: 'aws-titan-embed-text-v2',
    provider: 'aws',
    models: ['amazon.titan-embed-text-v1'],
    idContains: 'titan-embed-text-v2',
    asModel: 'amazon.titan-embed-text-v2:0',
    prices: { input_mtok: 0.02 },
    catalogSays:
      "no V2 entry: V1's `contains: amazon.titan-embed-text` matches `amazon.titan-embed-text-v2:0` at V1's $0.10",
    source:
      'https://openrouter.ai/amazon/titan-embed-text-v2: $0.02/M tokens, Amazon Bedrock as the provider at its own price (OpenRouter adds no markup); V1 at $0.10/M on https://openrouter.ai/amazon/titan-embed-text-v1',
    note: 'The figure on Amazon Bedrock pricing (https://aws.amazon.com/bedrock/pricing/) itself was not in the stored copy of that page.',
  },
  {
    id: 'deepseek-2025-09-05',
    provider: 'deepseek',
    models: ['deepseek-chat', 'deepseek-reasoner'],
    from: '2025-09-05T16:00:00Z',
    prices: { input_mtok: 0.56, cache_read_mtok: 0.07, output_mtok: 1.68 },
    catalogSays:
      'the pre-September prices ($0.27 / $0.07 / $1.10 chat, $0.55 / $0.14 / $2.19 reasoner, 00:30-16:30 UTC) and the 16:30-00:30 UTC night discount',
    source:
      'DeepSeek API docs, Models & Pricing (https://api-docs.deepseek.com/quick_start/pricing): "Starting from 16:00 UTC Time on Sept 5th, 2025, we will apply the following price list and cancel the nighttime discount": cache hit $0.07, cache miss $0.56, output $1.68, both models',
  },
  {
    id: 'deepseek-2025-09-29',
    provider: 'deepseek',
    models: ['deepseek-chat', 'deepseek-reasoner'],
    from: '2025-09-29T00:00:00Z',
    prices: { input_mtok: 0.28, cache_read_mtok: 0.028, output_mtok: 0.42 },
    catalogSays: 'as for deepseek-2025-09-05',
    source:
      'DeepSeek API news 2025-09-29 (V3.2-Exp, "API prices drop 50%+, effective immediately"); the resulting list, cache hit $0.028, miss $0.28, output $0.42 for both models, as quoted from the DeepSeek pricing page by https://benchlm.ai/blog/posts/deepseek-api-pricing (April 2026)',
    note: 'The hour of the 2025-09-29 change is not published: the start of that UTC day is used, so calls on 2025-09-29 before the change are under-priced. From 2026-07-24 15:59 UTC `deepseek-chat` and `deepseek-reasoner` are served by DeepSeek-V4-Flash (winbuzzer.com, 2026-07-03); its price for these aliases is not sourced here.',
  },
  {
    id: 'aws-claude-3-5-sonnet-v2-extended-access',
    provider: 'aws',
    models: ['regional.anthropic.claude-3-5-sonnet-20241022-v2:0'],
    from: '2025-12-01T00:00:00Z',
    prices: { input_mtok: 6, output_mtok: 30, cache_read_mtok: 0.6, cache_write_mtok: 7.5 },
    catalogSays:
      'the launch prices at every date ($3 input, $15 output, $0.30 cache read, $3.75 cache write)',
    source:
      'Amazon Bedrock pricing (https://aws.amazon.com/bedrock/pricing/), row "Claude 3.5 Sonnet v2 (Public Extended Access, Effective 1 Dec 2025)": $6.00 input, $30.00 output, $7.50 cache write, $0.60 cache read per MTok, as quoted by a price scraper\'s test fixture and a dated pricing audit (2026-09-02) in public repositories; the stored pages have no copy of the AWS page itself. clauder-navi.com (Bedrock Claude pricing): "the older Claude 3.5 Sonnet is priced at $6 / $30 on Bedrock"',
    note: 'Bedrock calls this SKU Public Extended Access; the same AWS label for Claude 3.5 Sonnet v1 (20240620) was not found with its date, so v1 stays at the catalog price.',
  },
  {
    id: 'anthropic-sonnet-4-long-context',
    provider: 'anthropic',
    models: ['claude-sonnet-4-0'],
    from: '2025-08-12T00:00:00Z',
    prices: SONNET_4_LONG,
    catalogSays: 'a flat $3 / $15 at any prompt size (no long-context tier)',
    source:
      'Anthropic announcement "Claude Sonnet 4 now supports 1M tokens of context" (2025-08-12, as reported by The New Stack and Hacker News item 44878147): prompts above 200K input tokens $6 input / $22.50 output per MTok; prompt-caching multipliers stack (Anthropic pricing page, long context pricing)',
    note: 'The day of the announcement is used as the start; before it, prompts above 200k tokens were rejected, so no call is priced differently either way.',
  },
  {
    id: 'xai-grok-4-long-context',
    provider: 'x-ai',
    models: ['grok-4-0709'],
    prices: {
      input_mtok: { base: 3, tiers: [{ start: 128_000, price: 6 }] },
      output_mtok: { base: 15, tiers: [{ start: 128_000, price: 30 }] },
      cache_read_mtok: 0.75,
    },
    catalogSays: 'a flat $3 / $15 at any prompt size (no long-context tier)',
    source:
      'https://wavespeed.ai/llm/x-ai/grok-4 (xAI provider prices): input $3.00 up to 128K, $6.00 above 128K; output $15.00 up to 128K, $30.00 above 128K; cached input $0.75 (xAI, as quoted by https://apidog.com/jp/blog/how-to-access-grok-4-api-jp)',
    note: 'Whether "128K" means 128,000 or 131,072 tokens, and the cached-input price above it, are not sourced: 128,000 is used and cached input stays $0.75.',
  },
];
