/**
 * The one module that talks to `@pydantic/genai-prices` (pre-1.0 API, pinned to an exact
 * version in package.json). Everything else sees only the small surface below, so an upgrade of
 * the catalog touches this file and its conformance tests and nothing else.
 *
 * The package is loaded on the first lookup, not at import: it is its data (about 0.5 MB of
 * JavaScript), which costs about 90 ms to compile and run, so a process pays it when it first
 * prices something rather than at startup (docs/performance.md, "2026-11-30: startup").
 */
import { createRequire } from 'node:module';
import type * as GenaiPrices from '@pydantic/genai-prices';
import type { ModelInfo, Provider } from '@pydantic/genai-prices';
import { applyErrata, errataFor } from './errata.js';
import { ERRATA_REVISION } from './errata-data.js';

/** The pinned catalog package and version. Checked by a test against the installed package, so
 * a version bump without this edit fails the suite. */
export const CATALOG_PACKAGE = 'genai-prices@0.1.8';

/** Catalog name written to `spanledger.pricing.catalog`: the package and the revision of the
 * errata applied on top of it (docs/pricing.md, "Errata"). */
export const CATALOG_NAME = `${CATALOG_PACKAGE}+errata.${ERRATA_REVISION}`;

/** A catalog model resolved from a (provider, model) lookup. */
export interface CatalogModel {
  providerId: string;
  modelId: string;
  info: ModelInfo;
  /** Ids of the errata applied to the entry (absent when none). */
  errata?: readonly string[];
  /** The cloud price list applied (`vertex`), when it is not the model maker's own. */
  priceList?: string;
}

/**
 * Provider ids that are not catalog providers but price lists of one: the catalog has a single
 * `google` provider priced from the Gemini API list, and Vertex AI bills some models apart
 * (docs/pricing.md, "Cloud price lists"). Resolved with the catalog provider, then the list's
 * entries of the errata data apply.
 */
const PRICE_LISTS: Readonly<Record<string, { catalogProvider: string; list: string }>> = {
  'google-vertex': { catalogProvider: 'google', list: 'vertex' },
};

/** A price level: USD per unit, flat or tiered on the request's total input tokens. */
export type Rate =
  | number
  | { base: number; tiers: ReadonlyArray<{ start: number; price: number }> };

/** Raw catalog prices in force at one instant (keys like `input_mtok`, `cache_read_mtok`). */
export type CatalogPrices = Readonly<Record<string, Rate | undefined>>;

/** Usage in the catalog's own vocabulary. Totals include their parts: input tokens include
 * cache reads, cache writes and audio input; output tokens include reasoning and audio output;
 * cache writes include the 1-hour ones. */
export interface CatalogUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_tokens?: number;
  cache_write_tokens?: number;
  cache_write_1h_tokens?: number;
  input_audio_tokens?: number;
  output_audio_tokens?: number;
  output_reasoning_tokens?: number;
  /** Seconds of audio, for models priced per hour of audio (transcription). */
  audio_seconds?: number;
}

// A synchronous load that works in both builds and under the test runner: lookups happen inside
// span processing, which cannot await an import(). The package ships a CommonJS build.
const requireHere = createRequire(import.meta.url);
let pkg: typeof GenaiPrices | undefined;

/** The catalog package, loaded on first use. */
function catalog(): typeof GenaiPrices {
  pkg ??= requireHere('@pydantic/genai-prices') as typeof GenaiPrices;
  return pkg;
}

const providerCache = new Map<string, boolean>();

/** Whether the catalog knows a provider id (exact id or the catalog's own provider matching). */
export function catalogHasProvider(providerId: string): boolean {
  let known = providerCache.get(providerId);
  if (known === undefined) {
    const list = PRICE_LISTS[providerId];
    known =
      catalog().findProvider({ providerId: list?.catalogProvider ?? providerId }) !== undefined;
    providerCache.set(providerId, known);
  }
  return known;
}

/**
 * Find the catalog model for (provider, model). Model matching in the catalog costs tens of
 * microseconds (regex and prefix rules over hundreds of models); callers cache the result.
 */
export function findCatalogModel(
  providerId: string | undefined,
  modelId: string,
): CatalogModel | undefined {
  const list = providerId === undefined ? undefined : PRICE_LISTS[providerId];
  const raw = findRawCatalogModel(list?.catalogProvider ?? providerId, modelId);
  if (!raw) return undefined;
  const errata = errataFor(raw.providerId, raw.modelId, modelId, list?.list);
  if (errata.length === 0) return raw;
  const info = applyErrata(raw.info, errata);
  const model: CatalogModel = {
    providerId: raw.providerId,
    modelId: info.id,
    info,
    errata: errata.map((e) => e.id),
  };
  if (errata.some((e) => e.list !== undefined)) model.priceList = list?.list;
  return model;
}

/**
 * The catalog entry as the package has it, no errata: for the retirement test and the catalog
 * diff (scripts/catalog-diff.mjs). Pricing uses {@link findCatalogModel}.
 */
export function findRawCatalogModel(
  providerId: string | undefined,
  modelId: string,
): CatalogModel | undefined {
  // Zero usage prices to zero but still runs the catalog's provider and model matching, which
  // the package does not export on its own. The timestamp is irrelevant to matching.
  const result = catalog().calcPrice(
    { input_tokens: 0 },
    modelId,
    providerId ? { providerId } : {},
  );
  if (!result) return undefined;
  return { providerId: result.provider.id, modelId: result.model.id, info: result.model };
}

function isConditional(
  prices: ModelInfo['prices'],
): prices is Extract<ModelInfo['prices'], unknown[]> {
  return Array.isArray(prices);
}

function secondsOfDayUtc(time: string): number {
  const m = /^(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|([+-])(\d{2}):(\d{2}))$/.exec(time);
  if (!m) return Number.NaN;
  const local = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(`0${m[4] ?? ''}`);
  const offset =
    m[5] === 'Z' ? 0 : (m[6] === '+' ? 1 : -1) * (Number(m[7]) * 3600 + Number(m[8]) * 60);
  return (local - offset + 86400) % 86400;
}

const MS_PER_DAY = 86_400_000;

/** One conditional price entry, compiled once: instants as epoch ms, times as seconds of day. */
type CompiledPeriod =
  | { kind: 'always'; prices: CatalogPrices }
  | { kind: 'from'; startMs: number; prices: CatalogPrices }
  | { kind: 'daily'; startSec: number; endSec: number; prices: CatalogPrices };

const compiledCache = new WeakMap<ModelInfo, CompiledPeriod[]>();

// Parsing the constraint strings on every call costs more than the token arithmetic itself.
function compiled(info: ModelInfo): CompiledPeriod[] {
  let out = compiledCache.get(info);
  if (out) return out;
  out = [];
  for (const entry of info.prices as Extract<ModelInfo['prices'], unknown[]>) {
    const prices = entry.prices as CatalogPrices;
    const c = entry.constraint;
    if (c === undefined) out.push({ kind: 'always', prices });
    else if (c.type === 'start_date') {
      out.push({ kind: 'from', startMs: Date.parse(c.start_date), prices });
    } else {
      const startSec = secondsOfDayUtc(c.start_time);
      const endSec = secondsOfDayUtc(c.end_time);
      out.push({ kind: 'daily', startSec, endSec, prices });
    }
  }
  compiledCache.set(info, out);
  return out;
}

/**
 * The catalog prices in force at `at` (a Date or epoch ms), following the catalog's rule: the
 * last conditional price whose constraint holds (start date reached, or time of day inside the
 * window, end exclusive, windows may wrap midnight), else the first. A test checks this against
 * the package's own choice for every model at many instants.
 */
export function pricesAt(model: CatalogModel, at: Date | number): CatalogPrices {
  const prices = model.info.prices;
  if (!isConditional(prices)) return prices as CatalogPrices;
  const ms = typeof at === 'number' ? at : at.getTime();
  const periods = compiled(model.info);
  for (let i = periods.length - 1; i >= 0; i--) {
    const p = periods[i] as CompiledPeriod;
    if (p.kind === 'always') return p.prices;
    if (p.kind === 'from') {
      if (ms >= p.startMs) return p.prices;
    } else {
      const now = (((ms % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY) / 1000;
      const inside =
        p.endSec < p.startSec
          ? now >= p.startSec || now < p.endSec
          : now >= p.startSec && now < p.endSec;
      if (inside) return p.prices;
    }
  }
  return (periods[0]?.prices ?? {}) as CatalogPrices;
}

/** A time-of-day window of catalog prices (UTC, end exclusive, may wrap midnight). */
export interface TimeOfDayWindow {
  /** UTC time of day as the catalog writes it (`16:30:00Z`). */
  startTime: string;
  endTime: string;
  prices: CatalogPrices;
}

/**
 * The time-of-day windows that can win on the day of `at`: those after the last period that
 * holds all day (the catalog's rule: the last holding period wins, so a window listed before a
 * start date already reached never applies again, as with a provider that ended its night
 * discount). Empty when the price does not depend on the hour.
 */
export function timeOfDayWindowsAt(model: CatalogModel, at: Date | number): TimeOfDayWindow[] {
  const prices = model.info.prices;
  if (!isConditional(prices)) return [];
  const ms = typeof at === 'number' ? at : at.getTime();
  const periods = compiled(model.info);
  const out: TimeOfDayWindow[] = [];
  for (let i = periods.length - 1; i >= 0; i--) {
    const p = periods[i] as CompiledPeriod;
    if (p.kind === 'always' || (p.kind === 'from' && ms >= p.startMs)) break;
    const c = prices[i]?.constraint;
    if (p.kind === 'daily' && c?.type === 'time_of_date') {
      out.unshift({ startTime: c.start_time, endTime: c.end_time, prices: p.prices });
    }
  }
  return out;
}

/** The start instants (ms) at which a catalog model's price changes by date, ascending. */
export function priceChangeInstants(model: CatalogModel): number[] {
  const prices = model.info.prices;
  if (!isConditional(prices)) return [];
  const out: number[] = [];
  for (const p of prices) {
    if (p.constraint?.type === 'start_date') out.push(Date.parse(p.constraint.start_date));
  }
  return out.sort((a, b) => a - b);
}

/**
 * The catalog's own total for usage the fast path does not model (audio, images, per-page and
 * per-character units). Slower (tens of microseconds) but exact by construction.
 * Throws on usage the catalog rejects: call inside the never-throw boundary.
 */
export function catalogTotal(
  model: CatalogModel,
  usage: CatalogUsage,
  at: Date | number,
): { inputUsd: number; outputUsd: number; totalUsd: number } {
  // The prices in force at `at`, chosen as the package would (pricesAt): errata periods start
  // at instants (`2025-09-05T16:00:00Z`), which the package's own constraint check refuses.
  const provider: Provider = {
    id: model.providerId,
    name: model.providerId,
    api_pattern: '',
    models: [
      {
        ...model.info,
        prices: pricesAt(model, at) as ModelInfo['prices'],
        match: { equals: model.modelId },
      },
    ],
  };
  const timestamp = typeof at === 'number' ? new Date(at) : at;
  const r = catalog().calcPrice(usage as Record<string, number>, model.modelId, {
    provider,
    timestamp,
  });
  if (!r) throw new Error(`catalog lost model ${model.providerId}/${model.modelId}`);
  return { inputUsd: r.input_price, outputUsd: r.output_price, totalUsd: r.total_price };
}

/** For tests and tooling: every provider in the bundled catalog, in catalog order. The package
 * resolves this promise from the data bundled in it (it never fetches unless told to). */
export async function catalogProviders(): Promise<readonly Provider[]> {
  return (await catalog().waitForUpdate()) ?? [];
}
