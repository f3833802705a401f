/**
 * The pricing engine, in two steps. Resolution: a (provider, model) as emitted goes through user
 * deployments, aliases, custom models and the catalog once, and the resolved entry (where its
 * prices come from, and how the id matched) is cached. Arithmetic: the card in force at the
 * call's instant prices the usage (rates.ts). See docs/pricing.md.
 */
import { globMatcher } from '../glob.js';
import type { UsageRecord } from '../usage/record.js';
import { type AliasHistory, aliasHistory } from './alias-history.js';
import { canonicalProvider, normaliseModel, splitProviderPrefix } from './aliases.js';
import {
  CATALOG_NAME,
  type CatalogModel,
  type CatalogPrices,
  catalogHasProvider,
  findCatalogModel,
  priceChangeInstants,
  pricesAt,
  type TimeOfDayWindow,
  timeOfDayWindowsAt,
} from './catalog.js';
import {
  ConfigError,
  type PricesConfig,
  type PricesConfigInput,
  validatePricesConfig,
} from './config.js';
import { errataInForce } from './errata.js';
import { type MatchKind, matchKind } from './match.js';
import { type CostBreakdown, costOf, type RateCard, rateCardFromCatalog } from './rates.js';
import { type Alternative, Routing } from './routing.js';

// The record is the usage layer's; it stays importable from here, where it is priced.
export type { UsageRecord } from '../usage/record.js';
export type { MatchKind } from './match.js';

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
  /** The model id (of the usage's `model` and `fallbackModels`) that was priced, and how it
   * reached the entry. */
  matchedModel?: string;
  matchedBy?: MatchedBy;
  /** `approximate` when the catalog took the id only by a prefix or substring rule (a typo, an
   * unknown variant: docs/pricing.md, "Approximate matches"); `exact` otherwise. */
  match?: MatchKind;
}

/** The price card of one (provider, model) in force at an instant, as the price book resolves
 * it: what `spanledger prices show` prints. Rates are USD per million tokens. */
export interface PriceCard {
  status: 'priced' | 'unpriced';
  /** Why there is no card. */
  reason?: string;
  provider?: string;
  model?: string;
  source?: 'catalog' | 'override';
  /** Catalog name and version, when the catalog supplies the card. */
  catalog?: string;
  match?: MatchKind;
  matchedBy?: MatchedBy;
  /** The token rates in force (tiers by the request's total input tokens), fees and flags. */
  rates?: RateCard;
  /** The catalog's own price keys in force (including units the rates do not show: audio,
   * images), when the catalog supplies the card. */
  catalogPrices?: CatalogPrices;
  /** Product of the prices file's discounts in force (absent: none). */
  multiplier?: number;
  /** Instants (epoch ms, ascending) at which this entry's price changes by date. */
  changes?: number[];
  /** Time-of-day windows (off-peak prices, UTC) that can apply on that day: then the card's
   * rates hold outside them only. */
  timeOfDay?: TimeOfDayWindow[];
  /** Ids of the errata (docs/pricing.md, "Errata") that correct the catalog card in force. */
  errata?: string[];
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
  /** Leave ids the catalog matched only approximately unpriced (reason `approximate_model`)
   * instead of pricing them at their neighbour's price. Default false. */
  strictModels?: boolean;
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

/** Where a resolved id's prices come from: a custom entry of the prices file (its periods) or
 * a catalog entry, with the entry's ids and the discounts that match them. */
interface PriceSource {
  source: 'catalog' | 'override';
  provider: string;
  model: string;
  discounts: Discount[];
  /** Custom price periods, ascending by start. */
  periods: Period[] | undefined;
  /** The catalog entry. */
  catalog: CatalogModel | undefined;
  /** The catalog entry's card when it has a single price period (most do). */
  fixed: RateCard | undefined;
}

/** How a model id as emitted reached the entry that priced it: as emitted (after the model
 * forms are normalised), through a prices-file deployment, or only once a provider prefix was
 * split off the id (`openai/gpt-4o`). */
export type MatchedBy = 'model' | 'deployment' | 'provider_prefix';

/** A (provider, model) as emitted, resolved once: the sources that can price it, in order
 * (a custom entry before the catalog entry it overrides), and how it matched; or why none. */
type Resolved =
  | {
      ok: true;
      matchedBy: MatchedBy;
      match: MatchKind;
      sources: PriceSource[];
      /** The id is an undated alias whose snapshot changed on published dates
       * (alias-history.ts): before each date, the snapshot's entry prices it. */
      dated: AliasHistory | undefined;
    }
  | { ok: false; reason: string; provider: string | undefined };

const DEFAULT_TIER_MULTIPLIERS: Readonly<Record<string, number>> = {
  default: 1,
  standard: 1,
  auto: 1,
  on_demand: 1,
  batch: 0.5,
  flex: 0.5,
};

const cardCache = new WeakMap<object, RateCard>();

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

/** Reason of an id the catalog matched only approximately, under `strictModels`. */
export const APPROXIMATE_MODEL = 'approximate_model';

/** Reasons that say no entry matched the id: another candidate id of the call may match. */
function noMatch(r: PriceResult): boolean {
  return (
    r.status === 'unpriced' &&
    (r.reason === 'unknown_model' ||
      r.reason === 'unknown_provider' ||
      r.reason === APPROXIMATE_MODEL)
  );
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
  matchedModel: string,
  matchedBy: MatchedBy,
  match: MatchKind,
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
    matchedModel,
    matchedBy,
    match,
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
  private readonly cache = new Map<string, Map<string, Resolved>>();
  private cached = 0;
  private readonly maxCached: number;
  /** Whether approximate matches are left unpriced. */
  readonly strictModels: boolean;
  /** The routing alternatives (the `routing:` section), when configured. */
  readonly routing: Routing | undefined;

  constructor(options: PriceBookOptions = {}) {
    if (typeof options.prices === 'string') {
      throw new ConfigError(
        `spanledger: PriceBook reads no files: give the prices as an object, or the path to createSpanLedger({ prices }) (got ${JSON.stringify(options.prices)})`,
      );
    }
    this.config = options.config ?? validatePricesConfig(options.prices, 'options.prices');
    this.maxCached = Math.max(1, options.maxCachedModels ?? 10_000);
    this.strictModels = options.strictModels === true;
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
    this.routing = this.config.routing ? new Routing(this.config.routing) : undefined;
    if (this.routing) this.checkRouting(this.routing);
  }

  /** Every alternative must name a price exactly: a typo in the routing list would otherwise
   * be priced (or left unpriced) silently on every span. */
  private checkRouting(routing: Routing): void {
    for (const [path, alt] of routing.entries()) {
      const res = this.resolved(alt.provider, alt.model);
      let problem: string | undefined;
      if (!res.ok) problem = `${JSON.stringify(alt.label)} has no price (${res.reason})`;
      else if (res.match === 'approximate') {
        const entry = res.sources[0] as PriceSource;
        problem = `${JSON.stringify(alt.label)} matches the catalog's ${entry.provider}/${entry.model} only approximately: name it exactly`;
      } else {
        alt.entryModel = (res.sources[0] as PriceSource).model;
        alt.resolution = res;
      }
      if (problem !== undefined) {
        throw new ConfigError(`spanledger: invalid prices: ${path}: ${problem}`);
      }
    }
  }

  /**
   * The price card of (provider, model) in force at `at` (epoch ms or a Date), resolved exactly
   * as a span's would be: the entry that prices it, how the id matched, its rates and the
   * discounts in force. Never throws.
   */
  card(provider: string | undefined, model: string, at: Date | number): PriceCard {
    const ms = typeof at === 'number' ? at : at.getTime();
    if (!Number.isFinite(ms)) return { status: 'unpriced', reason: 'invalid_time' };
    let res = this.resolved(provider, model);
    if (res.ok && res.dated !== undefined) {
      for (const p of res.dated.periods) {
        if (ms >= p.untilMs) continue;
        const snapshot = this.resolved(res.dated.provider, p.model);
        if (snapshot.ok) res = { ...snapshot, matchedBy: res.matchedBy, match: res.match };
        break;
      }
    }
    if (!res.ok) {
      return {
        status: 'unpriced',
        reason: res.reason,
        ...(res.provider ? { provider: res.provider } : {}),
      };
    }
    let src: PriceSource | undefined;
    let card: RateCard | undefined;
    for (let i = 0; i < res.sources.length && card === undefined; i++) {
      src = res.sources[i] as PriceSource;
      card = cardAt(src, ms);
    }
    const s = src as PriceSource;
    const base = {
      provider: s.provider,
      model: s.model,
      match: res.match,
      matchedBy: res.matchedBy,
    };
    if (card === undefined) return { status: 'unpriced', reason: 'no_price_in_effect', ...base };
    let multiplier = 1;
    let source = s.source;
    for (const d of s.discounts) {
      if (ms >= d.from && ms < d.until) {
        multiplier *= d.multiplier;
        source = 'override';
      }
    }
    const changes =
      s.periods !== undefined
        ? s.periods.map((p) => p.from).filter(Number.isFinite)
        : priceChangeInstants(s.catalog as CatalogModel);
    const out: PriceCard = { status: 'priced', ...base, source, rates: card };
    if (s.catalog !== undefined) {
      out.catalog = CATALOG_NAME;
      out.catalogPrices = pricesAt(s.catalog, ms);
      const windows = timeOfDayWindowsAt(s.catalog, ms);
      if (windows.length > 0) out.timeOfDay = windows;
      const errata = errataInForce(s.catalog.errata ?? [], ms);
      if (errata.length > 0) out.errata = errata;
    }
    if (multiplier !== 1) out.multiplier = multiplier;
    if (changes.length > 0) out.changes = changes;
    return out;
  }

  /**
   * What usage already priced (validated) on another model would cost on `alt` at the same
   * instant, in USD, or why it cannot be priced there: the routing counterfactual on the span
   * path: {@link priceAlternative}'s cost, or its reason. Never throws.
   */
  alternativeCost(usage: UsageRecord, alt: Alternative, ms: number): number | string {
    const r = this.priceAlternative(usage, alt, ms);
    // Only a full price counts: a partial one (an unknown service tier at the standard rate)
    // is a lower bound, not what the alternative would have cost.
    if (r.status === 'priced' && r.costUsd !== undefined) return r.costUsd;
    return r.reason ?? r.status;
  }

  /**
   * The price of usage already priced (validated) on another model, as if it had been made on
   * `alt` at the same instant: the routing counterfactual. Never throws.
   */
  priceAlternative(usage: UsageRecord, alt: Alternative, ms: number): PriceResult {
    const res = (alt.resolution as Resolved | undefined) ?? this.resolved(alt.provider, alt.model);
    if (!res.ok) return unpriced(res.reason, res.provider);
    try {
      if (res.dated !== undefined) return this.computeDated(res, res.dated, alt.model, usage, ms);
      return this.compute(res, alt.model, usage, ms);
    } catch (e) {
      return unpriced(`catalog_error: ${(e as Error).message}`);
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
   * prices in force when the call started. When `model` matches no entry, each of
   * `fallbackModels` is tried in turn. Never throws on bad usage: returns status `unpriced`
   * with the reason.
   */
  price(usage: UsageRecord, at?: Date | number): PriceResult {
    const ms = at === undefined ? Date.now() : typeof at === 'number' ? at : at.getTime();
    // NaN or an infinite instant would silently pick the first (oldest) price period.
    if (!Number.isFinite(ms)) return unpriced('invalid_time');
    const invalid = validateUsage(usage);
    if (invalid !== undefined) return unpriced(`invalid_usage: ${invalid}`);
    const fallbacks = usage.fallbackModels;
    // A request model that names a deployment of the prices file (an Azure deployment name) is
    // that deployment's call: priced through it first, so the deployment's own terms (a discount
    // or premium naming it) apply even when the response model resolves by itself.
    if (fallbacks !== undefined && this.deploymentsByName.size !== 0) {
      for (let i = 0; i < fallbacks.length; i++) {
        const id = fallbacks[i] as string;
        if (!this.namedDeployment(usage.provider, id)) continue;
        const r = this.priceAs(id, usage, ms);
        if (!noMatch(r)) return r;
      }
    }
    let result = this.priceAs(usage.model, usage, ms);
    if (fallbacks !== undefined) {
      // Under strictModels an approximate id is no match either; if nothing else matches, that
      // is the reason to report (not the last fallback's `unknown_model`).
      const strictMiss = result.reason === APPROXIMATE_MODEL ? result : undefined;
      for (let i = 0; i < fallbacks.length && noMatch(result); i++) {
        result = this.priceAs(fallbacks[i] as string, usage, ms);
      }
      if (strictMiss !== undefined && noMatch(result)) result = strictMiss;
      // A typo'd response model priced approximately, while the request model is known
      // exactly: the exact one wins.
      if (result.match === 'approximate') {
        for (let i = 0; i < fallbacks.length; i++) {
          const r = this.priceAs(fallbacks[i] as string, usage, ms);
          if (r.match === 'exact') return r;
        }
      }
    }
    return result;
  }

  /** Price the usage as the call of one candidate model id: resolve, then compute. */
  private priceAs(model: string, usage: UsageRecord, ms: number): PriceResult {
    const res = this.resolved(usage.provider, model);
    if (!res.ok) return unpriced(res.reason, res.provider);
    if (res.match === 'approximate' && this.strictModels) {
      const first = res.sources[0] as PriceSource;
      return unpriced(APPROXIMATE_MODEL, first.provider, first.model);
    }
    try {
      if (res.dated !== undefined) return this.computeDated(res, res.dated, model, usage, ms);
      return this.compute(res, model, usage, ms);
    } catch (e) {
      // The catalog package throws on usage it finds inconsistent; that is unpriced, not fatal.
      return unpriced(`catalog_error: ${(e as Error).message}`);
    }
  }

  /** The cached resolution of (provider, model) as emitted. */
  private resolved(rawProvider: string | undefined, rawModel: string): Resolved {
    const providerKey = rawProvider ?? '';
    let byModel = this.cache.get(providerKey);
    let res = byModel?.get(rawModel);
    if (res === undefined) {
      res = this.resolveSafe(rawProvider, rawModel);
      if (this.cached >= this.maxCached) this.evictOldest();
      if (byModel === undefined) {
        byModel = new Map();
        this.cache.set(providerKey, byModel);
      }
      byModel.set(rawModel, res);
      this.cached++;
    }
    return res;
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

  /**
   * The price of the usage from a resolved entry at an instant: the first source with a price
   * in force (a custom entry from its first period on, else the catalog entry it overrides),
   * its discounts and the service tier as one multiplier, then the arithmetic (rates.ts).
   */
  private compute(
    res: Extract<Resolved, { ok: true }>,
    model: string,
    usage: UsageRecord,
    ms: number,
  ): PriceResult {
    const sources = res.sources;
    let src: PriceSource | undefined;
    let card: RateCard | undefined;
    for (let i = 0; i < sources.length && card === undefined; i++) {
      src = sources[i] as PriceSource;
      card = cardAt(src, ms);
    }
    if (src === undefined) return unpriced('unknown_model');
    if (card === undefined) return unpriced('no_price_in_effect', src.provider, src.model);
    let source = src.source;
    let multiplier = 1;
    const discounts = src.discounts;
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
    const cost = costOf(card, usage, multiplier, src.catalog, ms);
    if (typeof cost === 'string') return unpriced(cost, src.provider, src.model);
    return priced(
      status,
      cost.totalUsd,
      source,
      reason,
      src.provider,
      src.model,
      src.catalog ? CATALOG_NAME : undefined,
      cost.breakdown,
      cost.savingsUsd,
      tier,
      multiplier,
      model,
      res.matchedBy,
      res.match,
    );
  }

  /** An undated alias before a published switch: priced as the snapshot it then meant. */
  private computeDated(
    res: Extract<Resolved, { ok: true }>,
    dated: AliasHistory,
    model: string,
    usage: UsageRecord,
    ms: number,
  ): PriceResult {
    for (const p of dated.periods) {
      if (ms < p.untilMs) {
        const snapshot = this.resolved(dated.provider, p.model);
        if (snapshot.ok) {
          return this.compute({ ...snapshot, matchedBy: res.matchedBy }, model, usage, ms);
        }
      }
    }
    return this.compute(res, model, usage, ms);
  }

  // Resolution runs the catalog's matching code, which throws on price data it finds
  // inconsistent: that must not escape the never-throw boundary.
  private resolveSafe(rawProvider: string | undefined, rawModel: string): Resolved {
    try {
      return this.resolve(rawProvider, rawModel);
    } catch (e) {
      return { ok: false, reason: `catalog_error: ${(e as Error).message}`, provider: undefined };
    }
  }

  /**
   * Resolution, in one place: deployments, model forms, aliases, custom models, the catalog,
   * provider-prefixed ids (docs/pricing.md, "Resolving provider and model").
   */
  private resolve(rawProvider: string | undefined, rawModel: string): Resolved {
    let providerRaw = rawProvider;
    let model = rawModel;
    const deployment = this.findDeployment(providerRaw, model);
    if (deployment) {
      model = deployment.priceAs.model;
      if (deployment.priceAs.provider !== undefined) providerRaw = deployment.priceAs.provider;
    }
    model = normaliseModel(model);
    const provider = providerRaw ? this.provider(providerRaw) : undefined;
    const lower = model.toLowerCase();

    const direct = this.catalogEntry(provider, model);
    const catalog = direct ?? this.prefixed(provider, model);
    // Usage that names no provider (a fine-tune id alone) still finds its custom entry.
    let custom =
      provider === undefined
        ? this.customByModel.get(lower)
        : this.customModels.get(this.key(provider, lower));
    // How the id matched: by itself, or only once a provider prefix was split off.
    let byPrefix = false;
    // A custom entry named by the id itself is exact; the catalog says for the rest.
    let exactCustom = custom !== undefined;
    if (custom === undefined) {
      const split = this.prefixSplit(provider, model);
      custom = split && this.customModels.get(this.key(split[0], split[1].toLowerCase()));
      exactCustom = custom !== undefined;
      byPrefix = custom !== undefined || direct === undefined;
      // A contract price for `gpt-4o` must also apply to `gpt-4o-2024-08-06`: match custom
      // entries on the catalog model the id resolves to as well as on the id itself.
      custom ??=
        catalog &&
        this.customModels.get(this.key(catalog.providerId, catalog.modelId.toLowerCase()));
    }

    const sources: PriceSource[] = [];
    // The name the id came through, when a deployment mapped it: discounts can name it.
    const through = deployment ? rawModel : undefined;
    if (custom) sources.push(this.customSource(custom, provider, model, through));
    if (catalog) sources.push(this.catalogSource(catalog, provider, model, through));
    if (sources.length === 0) {
      if (provider === undefined) return { ok: false, reason: 'unknown_model', provider };
      return {
        ok: false,
        reason: catalogHasProvider(provider) ? 'unknown_model' : 'unknown_provider',
        provider,
      };
    }
    const matchedBy: MatchedBy = deployment ? 'deployment' : byPrefix ? 'provider_prefix' : 'model';
    let match: MatchKind = 'exact';
    if (!exactCustom && catalog !== undefined) {
      const asked = direct !== undefined ? model : this.prefixSplit(provider, model)?.[1];
      match = matchKind(catalog, asked ?? model);
    }
    // A contract price for the alias (a custom entry first) wins over its history.
    const dated =
      sources[0]?.source === 'catalog' && catalog !== undefined
        ? aliasHistory(
            catalog.providerId,
            direct !== undefined ? model : (this.prefixSplit(provider, model)?.[1] ?? model),
          )
        : undefined;
    return { ok: true, matchedBy, match, sources, dated };
  }

  /** The discounts that match an entry's ids, the id as emitted (canonical provider) or the
   * deployment name the id came through (so a premium can be scoped to one deployment). */
  private discountsFor(
    entryProvider: string,
    entryModel: string,
    provider: string | undefined,
    model: string,
    deployment: string | undefined,
  ): Discount[] {
    return (this.config.discounts ?? [])
      .filter(
        (d) =>
          globMatch(d.provider && this.provider(d.provider), entryProvider, provider) &&
          globMatch(d.model, entryModel, model, deployment),
      )
      .map((d) => ({
        multiplier: d.multiplier,
        from: d.effectiveFrom ?? Number.NEGATIVE_INFINITY,
        until: d.effectiveUntil ?? Number.POSITIVE_INFINITY,
      }));
  }

  private customSource(
    custom: CustomModel,
    provider: string | undefined,
    model: string,
    deployment: string | undefined,
  ): PriceSource {
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
      source: 'override',
      provider: customProvider,
      model: custom.model,
      discounts: this.discountsFor(customProvider, custom.model, provider, model, deployment),
      periods,
      catalog: undefined,
      fixed: undefined,
    };
  }

  private catalogSource(
    catalog: CatalogModel,
    provider: string | undefined,
    model: string,
    deployment: string | undefined,
  ): PriceSource {
    const prices = catalog.info.prices;
    return {
      source: 'catalog',
      provider: catalog.providerId,
      model: catalog.modelId,
      discounts: this.discountsFor(
        catalog.providerId,
        catalog.modelId,
        provider,
        model,
        deployment,
      ),
      periods: undefined,
      catalog,
      fixed: Array.isArray(prices) ? undefined : catalogCard(prices as CatalogPrices),
    };
  }

  /** The catalog entry of (provider, model), the provider as given (or none). */
  private catalogEntry(provider: string | undefined, model: string): CatalogModel | undefined {
    if (provider !== undefined && !catalogHasProvider(provider)) return undefined;
    return findCatalogModel(provider, model);
  }

  /** `openai/gpt-4o` split into (canonical provider, rest), unless the id is OpenRouter's own. */
  private prefixSplit(provider: string | undefined, model: string): [string, string] | undefined {
    const split = splitProviderPrefix(model);
    // `openai/gpt-4o` on an OpenRouter span is OpenRouter's own id: only split elsewhere.
    if (!split || provider === 'openrouter') return undefined;
    return [this.provider(split[0]), split[1]];
  }

  /** The catalog entry of a provider-prefixed id (`openai/gpt-4o`). */
  private prefixed(provider: string | undefined, model: string): CatalogModel | undefined {
    const split = this.prefixSplit(provider, model);
    if (!split || !catalogHasProvider(split[0])) return undefined;
    return findCatalogModel(split[0], split[1]);
  }

  /** Whether `model` is the name (not a pattern match) of a deployment in scope. */
  private namedDeployment(provider: string | undefined, model: string): boolean {
    return (this.deploymentsByName.get(model) ?? []).some((d) => this.inScope(d, provider));
  }

  private findDeployment(provider: string | undefined, model: string): Deployment | undefined {
    for (const d of this.deploymentsByName.get(model) ?? [])
      if (this.inScope(d, provider)) return d;
    for (const { re, entry } of this.deploymentPatterns)
      if (re.test(model) && this.inScope(entry, provider)) return entry;
    return undefined;
  }

  /** A deployment scoped to no provider applies to every one. */
  private inScope(d: Deployment, provider: string | undefined): boolean {
    return (
      d.provider === undefined ||
      (provider !== undefined && this.provider(d.provider) === this.provider(provider))
    );
  }
}

/** The card of a source in force at an instant, or undefined before a custom entry's first
 * period. */
function cardAt(src: PriceSource, ms: number): RateCard | undefined {
  if (src.periods !== undefined) {
    let card: RateCard | undefined;
    for (const p of src.periods) if (p.from <= ms) card = p.card;
    return card;
  }
  return src.fixed ?? catalogCard(pricesAt(src.catalog as CatalogModel, ms));
}

function badCount(v: number | undefined): boolean {
  // `!(v >= 0)` is also true for NaN and for non-numbers that slipped past the types.
  return v !== undefined && (typeof v !== 'number' || !(v >= 0) || v === Number.POSITIVE_INFINITY);
}

/** Why a usage record cannot be priced as given, or undefined when it is consistent. */
export function validateUsage(u: UsageRecord): string | undefined {
  if (typeof u.model !== 'string' || u.model.trim() === '') return 'model is missing';
  const fallbacks = u.fallbackModels;
  if (fallbacks !== undefined) {
    if (!Array.isArray(fallbacks)) return 'fallbackModels must be a list of model ids';
    for (const m of fallbacks) {
      if (typeof m !== 'string' || m.trim() === '') {
        return 'fallbackModels must be a list of model ids';
      }
    }
  }
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
