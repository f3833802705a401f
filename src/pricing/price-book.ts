/**
 * The pricing engine: resolves (provider, model) through user deployments, aliases, custom
 * models and the catalog, caches the resolution, and prices token usage at an instant.
 */
import { globMatcher } from '../glob.js';
import { canonicalProvider, normaliseModel, splitProviderPrefix } from './aliases.js';
import {
  CATALOG_NAME,
  type CatalogModel,
  type CatalogPrices,
  type CatalogUsage,
  catalogHasProvider,
  catalogTotal,
  findCatalogModel,
  pricesAt,
} from './catalog.js';
import {
  ConfigError,
  type PricesConfig,
  type PricesConfigInput,
  validatePricesConfig,
} from './config.js';
import {
  breakdownTotal,
  type CostBreakdown,
  pricesTokens,
  priceTokens,
  type RateCard,
  rateCardFromCatalog,
} from './rates.js';

/** One call's model usage to price. Token counts follow the OTel semconv convention:
 * `inputTokens` includes cache reads and writes; `outputTokens` includes reasoning. */
export interface UsageRecord {
  /** Provider as emitted (`openai`, `aws.bedrock`, `openai.chat`...). Optional: the catalog can
   * often tell from the model id alone. */
  provider?: string;
  /** Model id as emitted (deployment name, ARN, `openai/gpt-4o`...). */
  model: string;
  inputTokens?: number;
  outputTokens?: number;
  cacheReadTokens?: number;
  /** All cache writes, including 1-hour ones. */
  cacheWriteTokens?: number;
  /** Part of `cacheWriteTokens` written with a 1-hour TTL (Anthropic). */
  cacheWrite1hTokens?: number;
  /** Part of `outputTokens` spent on reasoning; never charged on top of output. */
  reasoningTokens?: number;
  inputAudioTokens?: number;
  outputAudioTokens?: number;
  /** Seconds of compute, for models priced per second. */
  seconds?: number;
  /** Service tier (`batch`, `flex`, `priority`, `default`...). */
  serviceTier?: string;
}

/** The price of one usage record. */
export interface PriceResult {
  status: 'priced' | 'unpriced' | 'partial';
  /** Cost in USD; absent when unpriced. With status `partial` a lower bound. */
  costUsd?: number;
  source?: 'catalog' | 'override';
  /** Why the usage has no (complete) price. */
  reason?: string;
  /** Catalog (or custom) provider and model that matched. */
  provider?: string;
  model?: string;
  /** Catalog name and version, when the catalog supplied the price. */
  catalog?: string;
  /** Token-type breakdown; cache fields are absent when the catalog priced an exotic unit
   * mix (audio, separately priced reasoning) that folds them into input. */
  breakdown?: Partial<CostBreakdown> & { inputUsd: number; outputUsd: number };
  /** What cache reads saved against the uncached input price. */
  cacheSavingsUsd?: number;
  /** Service tier applied and its multiplier. */
  serviceTier?: string;
  multiplier?: number;
}

/** Options of {@link PriceBook}. */
export interface PriceBookOptions {
  /** The prices sections as an object, validated here. Default: catalog only. A file is read
   * by `createSpanLedger({ prices: path })` (src/config.ts): the price book reads no files. */
  prices?: PricesConfigInput;
  /** Prices already validated (by src/config.ts, with the rest of the file); instead of
   * `prices`. */
  config?: PricesConfig;
  /** Cap on cached (provider, model) resolutions. Default 10000. */
  maxCachedModels?: number;
}

type Deployment = NonNullable<PricesConfig['deployments']>[number];
type CustomModel = NonNullable<PricesConfig['models']>[number];

interface Period {
  from: number;
  card: RateCard;
}

interface Discount {
  multiplier: number;
  from: number;
  until: number;
}

type Resolution =
  | {
      kind: 'catalog';
      model: CatalogModel;
      discounts: Discount[];
      /** Card for a model with a single price period (most of them). */
      fixed?: RateCard;
    }
  | {
      kind: 'custom';
      provider: string;
      model: string;
      periods: Period[];
      discounts: Discount[];
      before?: Resolution;
    }
  | { kind: 'unpriced'; reason: string; provider?: string };

const DEFAULT_TIER_MULTIPLIERS: Readonly<Record<string, number>> = {
  default: 1,
  standard: 1,
  auto: 1,
  on_demand: 1,
  batch: 0.5,
  flex: 0.5,
};

const cardCache = new WeakMap<object, RateCard>();

const FREE_BREAKDOWN: CostBreakdown = Object.freeze({
  inputUsd: 0,
  outputUsd: 0,
  cacheReadUsd: 0,
  cacheWriteUsd: 0,
  otherUsd: 0,
});

function catalogCard(prices: CatalogPrices): RateCard {
  let card = cardCache.get(prices);
  if (!card) {
    card = rateCardFromCatalog(prices);
    cardCache.set(prices, card);
  }
  return card;
}

function globMatch(pattern: string | undefined, ...values: (string | undefined)[]): boolean {
  if (pattern === undefined) return true;
  const match = globMatcher(pattern, true);
  return values.some((v) => v !== undefined && match(v));
}

function count(value: number | undefined): number {
  return value === undefined ? 0 : value;
}

function unpriced(reason: string, provider?: string, model?: string): PriceResult {
  return { status: 'unpriced', reason, provider, model };
}

/**
 * Every priced result is built here with the same keys in the same order (absent values are
 * `undefined`): one hidden class for the engine, where conditional spreads built a fresh
 * dictionary-mode object per call and cost microseconds.
 */
function priced(
  status: PriceResult['status'],
  costUsd: number,
  source: 'catalog' | 'override',
  reason: string | undefined,
  provider: string,
  model: string,
  catalog: string | undefined,
  breakdown: PriceResult['breakdown'],
  cacheSavingsUsd: number | undefined,
  serviceTier: string | undefined,
  multiplier: number,
): PriceResult {
  return {
    status,
    costUsd,
    source,
    reason,
    provider,
    model,
    catalog,
    breakdown,
    cacheSavingsUsd,
    serviceTier,
    multiplier: multiplier === 1 ? undefined : multiplier,
  };
}

/**
 * Prices model usage. Construct once (it validates and indexes the prices file) and reuse:
 * lookups are cached per (provider, model), so a repeated lookup costs well under a microsecond.
 */
export class PriceBook {
  /** The validated configuration. */
  readonly config: PricesConfig;
  private readonly aliases: Record<string, string>;
  private readonly deploymentsByName = new Map<string, Deployment[]>();
  private readonly deploymentPatterns: { re: RegExp; entry: Deployment }[] = [];
  private readonly customModels = new Map<string, CustomModel>();
  /** Custom models by model id alone, for usage that names no provider. */
  private readonly customByModel = new Map<string, CustomModel>();
  private readonly tiers: Record<string, number>;
  /** Resolutions by raw provider ('' when absent), then raw model: no key string to build. */
  private readonly cache = new Map<string, Map<string, Resolution>>();
  private cached = 0;
  private readonly maxCached: number;

  constructor(options: PriceBookOptions = {}) {
    if (typeof options.prices === 'string') {
      throw new ConfigError(
        `spanledger: PriceBook reads no files: give the prices as an object, or the path to createSpanLedger({ prices }) (got ${JSON.stringify(options.prices)})`,
      );
    }
    this.config = options.config ?? validatePricesConfig(options.prices, 'options.prices');
    this.maxCached = Math.max(1, options.maxCachedModels ?? 10_000);
    this.aliases = {};
    for (const [k, v] of Object.entries(this.config.providerAliases ?? {})) {
      this.aliases[k.trim().toLowerCase()] = v.trim().toLowerCase();
    }
    for (const d of this.config.deployments ?? []) {
      if (d.name !== undefined) {
        const list = this.deploymentsByName.get(d.name) ?? [];
        list.push(d);
        this.deploymentsByName.set(d.name, list);
      } else if (d.pattern !== undefined) {
        this.deploymentPatterns.push({ re: new RegExp(d.pattern), entry: d });
      }
    }
    for (const m of this.config.models ?? []) {
      const model = m.model.toLowerCase();
      this.customModels.set(this.key(this.provider(m.provider), model), m);
      if (!this.customByModel.has(model)) this.customByModel.set(model, m);
    }
    this.tiers = { ...DEFAULT_TIER_MULTIPLIERS };
    for (const [k, v] of Object.entries(this.config.serviceTiers ?? {})) {
      this.tiers[k.toLowerCase()] = v;
    }
  }

  /** Canonical provider id for a raw provider name (aliases applied). */
  provider(raw: string): string {
    return canonicalProvider(raw, this.aliases);
  }

  private key(provider: string | undefined, model: string): string {
    return `${provider ?? ''}\u0000${model}`;
  }

  /**
   * Price one usage record at an instant (a Date or epoch milliseconds; default now): the
   * prices in force when the call started. Never throws on bad usage: returns status
   * `unpriced` with the reason.
   */
  price(usage: UsageRecord, at?: Date | number): PriceResult {
    const ms = at === undefined ? Date.now() : typeof at === 'number' ? at : at.getTime();
    // NaN or an infinite instant would silently pick the first (oldest) price period.
    if (!Number.isFinite(ms)) return unpriced('invalid_time');
    const invalid = validateUsage(usage);
    if (invalid !== undefined) return unpriced(`invalid_usage: ${invalid}`);
    const rawProvider = usage.provider ?? '';
    let byModel = this.cache.get(rawProvider);
    let res = byModel?.get(usage.model);
    if (res === undefined) {
      res = this.resolveSafe(usage.provider, usage.model);
      if (this.cached >= this.maxCached) this.evictOldest();
      if (byModel === undefined) {
        byModel = new Map();
        this.cache.set(rawProvider, byModel);
      }
      byModel.set(usage.model, res);
      this.cached++;
    }
    try {
      return this.priceResolved(res, usage, ms);
    } catch (e) {
      // The catalog package throws on usage it finds inconsistent; that is unpriced, not fatal.
      return unpriced(`catalog_error: ${(e as Error).message}`);
    }
  }

  // Oldest-first eviction keeps the cache bounded for services with unbounded model names.
  private evictOldest(): void {
    const first = this.cache.entries().next().value;
    if (first === undefined) return;
    const [provider, byModel] = first;
    const oldest = byModel.keys().next().value;
    if (oldest !== undefined) {
      byModel.delete(oldest);
      this.cached--;
    }
    if (byModel.size === 0) this.cache.delete(provider);
  }

  private priceResolved(res: Resolution, usage: UsageRecord, ms: number): PriceResult {
    if (res.kind === 'unpriced') return unpriced(res.reason, res.provider);
    let card: RateCard;
    let source: 'catalog' | 'override';
    let provider: string;
    let model: string;
    let catalog: CatalogModel | undefined;
    if (res.kind === 'custom') {
      let period: Period | undefined;
      for (const p of res.periods) if (p.from <= ms) period = p;
      if (!period) {
        if (res.before) return this.priceResolved(res.before, usage, ms);
        return unpriced('no_price_in_effect', res.provider, res.model);
      }
      card = period.card;
      source = 'override';
      provider = res.provider;
      model = res.model;
    } else {
      catalog = res.model;
      card = res.fixed ?? catalogCard(pricesAt(res.model, ms));
      source = 'catalog';
      provider = res.model.providerId;
      model = res.model.modelId;
    }
    let multiplier = 1;
    const discounts = res.discounts;
    for (let i = 0; i < discounts.length; i++) {
      const d = discounts[i] as Discount;
      if (ms >= d.from && ms < d.until) {
        multiplier *= d.multiplier;
        source = 'override';
      }
    }
    let status: PriceResult['status'] = 'priced';
    let reason: string | undefined;
    let tier: string | undefined;
    if (usage.serviceTier !== undefined && usage.serviceTier !== '') {
      tier = usage.serviceTier.toLowerCase();
      const m = this.tiers[tier];
      if (m === undefined) {
        // Priced at the standard rate, flagged: the real price is unknown, not this one.
        status = 'partial';
        reason = `unknown_service_tier: ${tier}`;
      } else {
        multiplier *= m;
      }
    }
    const catalogName = catalog ? CATALOG_NAME : undefined;
    if (card.free) {
      // The catalog lists the model with no price: the provider does not charge for it.
      return priced(
        status,
        0,
        source,
        reason,
        provider,
        model,
        catalogName,
        FREE_BREAKDOWN,
        0,
        tier,
        multiplier,
      );
    }
    const tokens = pricesTokens(card);
    if (
      !tokens &&
      usage.seconds === undefined &&
      (card.perSecondUsd !== undefined || card.pricesDuration)
    ) {
      return unpriced('missing_duration', provider, model);
    }
    if (
      !tokens &&
      card.perSecondUsd === undefined &&
      card.perRequestUsd === undefined &&
      !card.pricesDuration
    ) {
      return unpriced('unsupported_unit', provider, model);
    }
    if (
      catalog !== undefined &&
      (!card.fastPath || count(usage.inputAudioTokens) > 0 || count(usage.outputAudioTokens) > 0)
    ) {
      const t = catalogTotal(catalog, catalogUsage(usage, card), ms);
      return priced(
        status,
        t.totalUsd * multiplier,
        source,
        reason,
        provider,
        model,
        catalogName,
        {
          inputUsd: t.inputUsd * multiplier,
          outputUsd: t.outputUsd * multiplier,
          otherUsd: (t.totalUsd - t.inputUsd - t.outputUsd) * multiplier,
        },
        undefined,
        tier,
        multiplier,
      );
    }
    const { breakdown, savingsUsd } = priceTokens(
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
    return priced(
      status,
      breakdownTotal(breakdown),
      source,
      reason,
      provider,
      model,
      catalogName,
      breakdown,
      savingsUsd,
      tier,
      multiplier,
    );
  }

  // Resolution runs the catalog's matching code, which throws on price data it finds
  // inconsistent: that must not escape the never-throw boundary.
  private resolveSafe(rawProvider: string | undefined, rawModel: string): Resolution {
    try {
      return this.resolve(rawProvider, rawModel);
    } catch (e) {
      return { kind: 'unpriced', reason: `catalog_error: ${(e as Error).message}` };
    }
  }

  private resolve(rawProvider: string | undefined, rawModel: string): Resolution {
    let providerRaw = rawProvider;
    let model = rawModel;
    const deployment = this.findDeployment(providerRaw, model);
    if (deployment) {
      model = deployment.priceAs.model;
      if (deployment.priceAs.provider !== undefined) providerRaw = deployment.priceAs.provider;
    }
    model = normaliseModel(model);
    const provider = providerRaw ? this.provider(providerRaw) : undefined;
    const discounts = (c: { providerId?: string; modelId?: string }): Discount[] =>
      (this.config.discounts ?? [])
        .filter(
          (d) =>
            globMatch(d.provider && this.provider(d.provider), c.providerId, provider) &&
            globMatch(d.model, c.modelId, model),
        )
        .map((d) => ({
          multiplier: d.multiplier,
          from: d.effectiveFrom ?? Number.NEGATIVE_INFINITY,
          until: d.effectiveUntil ?? Number.POSITIVE_INFINITY,
        }));

    const catalogRes = this.resolveCatalog(provider, model);
    // A contract price for `gpt-4o` must also apply to `gpt-4o-2024-08-06`: match custom
    // entries on the catalog model the id resolves to as well as on the id itself.
    const custom =
      // Usage that names no provider (a fine-tune id alone) still finds its custom entry.
      (provider === undefined
        ? this.customByModel.get(model.toLowerCase())
        : this.customModels.get(this.key(provider, model.toLowerCase()))) ??
      this.prefixed(provider, model, (p, m) =>
        this.customModels.get(this.key(p, m.toLowerCase())),
      ) ??
      (catalogRes.kind === 'catalog'
        ? this.customModels.get(
            this.key(catalogRes.model.providerId, catalogRes.model.modelId.toLowerCase()),
          )
        : undefined);
    const withDiscounts = (r: Resolution): Resolution =>
      r.kind === 'catalog'
        ? {
            ...r,
            discounts: discounts({ providerId: r.model.providerId, modelId: r.model.modelId }),
          }
        : r;
    if (custom) {
      const periods = custom.prices
        .map((p) => ({
          from: p.effectiveFrom ?? Number.NEGATIVE_INFINITY,
          card: {
            input: p.inputPerMTok,
            output: p.outputPerMTok,
            cacheRead: p.cacheReadPerMTok,
            cacheWrite: p.cacheWritePerMTok,
            cacheWrite1h: p.cacheWrite1hPerMTok,
            perRequestUsd: p.perRequestUsd,
            perSecondUsd: p.perSecondUsd,
            fastPath: true,
          } satisfies RateCard,
        }))
        .sort((a, b) => a.from - b.from);
      const customProvider = this.provider(custom.provider);
      return {
        kind: 'custom',
        provider: customProvider,
        model: custom.model,
        periods,
        discounts: discounts({ providerId: customProvider, modelId: custom.model }),
        ...(catalogRes.kind === 'catalog' ? { before: withDiscounts(catalogRes) } : {}),
      };
    }
    return withDiscounts(catalogRes);
  }

  private prefixed<T>(
    provider: string | undefined,
    model: string,
    lookup: (provider: string, model: string) => T | undefined,
  ): T | undefined {
    const split = splitProviderPrefix(model);
    if (!split) return undefined;
    const prefixProvider = this.provider(split[0]);
    // `openai/gpt-4o` on an OpenRouter span is OpenRouter's own id: only split elsewhere.
    if (provider !== undefined && provider === 'openrouter') return undefined;
    return lookup(prefixProvider, split[1]);
  }

  private resolveCatalog(provider: string | undefined, model: string): Resolution {
    const found = (m: CatalogModel | undefined): Resolution | undefined => {
      if (!m) return undefined;
      const prices = m.info.prices;
      return {
        kind: 'catalog',
        model: m,
        discounts: [],
        ...(Array.isArray(prices) ? {} : { fixed: catalogCard(prices as CatalogPrices) }),
      };
    };
    if (provider === undefined) {
      return (
        found(findCatalogModel(undefined, model)) ??
        this.prefixed(undefined, model, (p, m) =>
          catalogHasProvider(p) ? found(findCatalogModel(p, m)) : undefined,
        ) ?? { kind: 'unpriced', reason: 'unknown_model' }
      );
    }
    const direct = catalogHasProvider(provider)
      ? found(findCatalogModel(provider, model))
      : undefined;
    if (direct) return direct;
    const viaPrefix = this.prefixed(provider, model, (p, m) =>
      catalogHasProvider(p) ? found(findCatalogModel(p, m)) : undefined,
    );
    if (viaPrefix) return viaPrefix;
    return catalogHasProvider(provider)
      ? { kind: 'unpriced', reason: 'unknown_model', provider }
      : { kind: 'unpriced', reason: 'unknown_provider', provider };
  }

  private findDeployment(provider: string | undefined, model: string): Deployment | undefined {
    const scoped = (d: Deployment): boolean =>
      d.provider === undefined ||
      (provider !== undefined && this.provider(d.provider) === this.provider(provider));
    for (const d of this.deploymentsByName.get(model) ?? []) if (scoped(d)) return d;
    for (const { re, entry } of this.deploymentPatterns)
      if (re.test(model) && scoped(entry)) return entry;
    return undefined;
  }
}

function badCount(v: number | undefined): boolean {
  // `!(v >= 0)` is also true for NaN and for non-numbers that slipped past the types.
  return v !== undefined && (typeof v !== 'number' || !(v >= 0) || v === Number.POSITIVE_INFINITY);
}

/** Why a usage record cannot be priced as given, or undefined when it is consistent. */
export function validateUsage(u: UsageRecord): string | undefined {
  if (typeof u.model !== 'string' || u.model.trim() === '') return 'model is missing';
  // Unrolled (no array of field names): this runs on every priced span.
  if (badCount(u.inputTokens)) return 'inputTokens must be a finite non-negative number';
  if (badCount(u.outputTokens)) return 'outputTokens must be a finite non-negative number';
  if (badCount(u.cacheReadTokens)) return 'cacheReadTokens must be a finite non-negative number';
  if (badCount(u.cacheWriteTokens)) return 'cacheWriteTokens must be a finite non-negative number';
  if (badCount(u.cacheWrite1hTokens)) {
    return 'cacheWrite1hTokens must be a finite non-negative number';
  }
  if (badCount(u.reasoningTokens)) return 'reasoningTokens must be a finite non-negative number';
  if (badCount(u.inputAudioTokens)) return 'inputAudioTokens must be a finite non-negative number';
  if (badCount(u.outputAudioTokens)) {
    return 'outputAudioTokens must be a finite non-negative number';
  }
  if (badCount(u.seconds)) return 'seconds must be a finite non-negative number';
  const input = count(u.inputTokens);
  if (count(u.cacheReadTokens) + count(u.cacheWriteTokens) > input) {
    return 'cache read and write tokens exceed input tokens (input counts include them)';
  }
  // Audio input may itself be cached, so it is bounded by the input total on its own.
  if (count(u.inputAudioTokens) > input) {
    return 'inputAudioTokens exceed input tokens (input counts include them)';
  }
  if (count(u.cacheWrite1hTokens) > count(u.cacheWriteTokens)) {
    return 'cacheWrite1hTokens exceed cacheWriteTokens';
  }
  const output = count(u.outputTokens);
  if (count(u.reasoningTokens) > output) {
    return 'reasoningTokens exceed output tokens (output counts include them)';
  }
  if (count(u.outputAudioTokens) > output) {
    return 'outputAudioTokens exceed output tokens (output counts include them)';
  }
  return undefined;
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

let defaultBook: PriceBook | undefined;

/** Options of {@link priceUsage}. */
export interface PriceUsageOptions {
  /** Instant whose prices apply (the call's start time). Default: now. */
  at?: Date | string | number;
  /** A prepared price book (reuse one: construction validates and indexes the prices file). */
  priceBook?: PriceBook;
}

/**
 * Price one usage record without any span (used by the CLI and tests). Uses the catalog alone
 * unless a price book with user prices is given. Never throws on bad usage.
 */
export function priceUsage(usage: UsageRecord, options: PriceUsageOptions = {}): PriceResult {
  let book = options.priceBook;
  if (book === undefined) {
    defaultBook ??= new PriceBook();
    book = defaultBook;
  }
  const at = options.at;
  // Epoch ms and Dates go straight through; only strings need parsing (no Date allocation).
  const ms =
    at === undefined
      ? Date.now()
      : typeof at === 'number'
        ? at
        : typeof at === 'string'
          ? Date.parse(at)
          : at.getTime();
  if (!Number.isFinite(ms)) return unpriced('invalid_time');
  return book.price(usage, ms);
}
