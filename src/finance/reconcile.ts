/**
 * Reconciliation: the daily estimates the cost counters recorded, joined with what providers
 * billed, per UTC day, provider and model (docs/finance.md, "Reconciling each month"). The
 * join is pure: the readers (Prometheus, bill sources) live elsewhere. Billed model ids are
 * matched to the telemetry's model ids by one rule ({@link matchModel}); an id that matches
 * nothing stays apart, never merged into a neighbour.
 */
import type { BilledRow, Day, EstimateRow } from './model.js';

/** How a billed model id was matched to the telemetry's. */
export type MatchRule = 'alias' | 'exact' | 'snapshot';

/** One billed id that reached a different telemetry id (exact matches are not listed). */
export interface ModelMatch {
  provider: string;
  billed: string;
  model: string;
  rule: MatchRule;
}

/** What a row is: on both sides, only on the bill (an instrumentation gap), only estimated. */
export type RowStatus = 'matched' | 'unobserved' | 'unbilled';

/** One day, provider and model. */
export interface DriftRow {
  day: Day;
  provider: string;
  /** The telemetry's model id (or the billed id when nothing matched); `null` for lines no
   * model explains (fees, tool calls). */
  model: string | null;
  estimateUsd: number;
  billedUsd: number;
  /** billed − estimate. */
  diffUsd: number;
  /** diff / estimate × 100; `null` when nothing was estimated. */
  pct: number | null;
  status: RowStatus;
  /** The billed ids summed into this row, when they differ from `model`. */
  billedAs: string[];
  /** Above the threshold (see {@link isDrift}). */
  drift: boolean;
}

/** Totals of one provider over the range. */
export interface ProviderTotal {
  provider: string;
  estimateUsd: number;
  billedUsd: number;
  diffUsd: number;
  pct: number | null;
}

/** Inputs of {@link reconcile}. */
export interface ReconcileInput {
  estimates: readonly EstimateRow[];
  billed: readonly BilledRow[];
  /** Providers a bill was read for: only their estimates can be unbilled. */
  billedProviders: readonly string[];
  /** First day, inclusive. */
  from: Day;
  /** Last day, exclusive. */
  to: Day;
  /** Drift above this percentage of the estimate... */
  thresholdPct: number;
  /** ...and at least this many dollars (so cents do not page anyone). */
  minUsd: number;
  /** Billed id → telemetry id, given by the user; wins over the other rules. */
  aliases?: ReadonlyMap<string, string>;
}

/** The reconciliation of a range. */
export interface ReconcileReport {
  from: Day;
  to: Day;
  thresholdPct: number;
  minUsd: number;
  /** Sorted by day, provider, model. */
  rows: DriftRow[];
  /** Providers with a bill, sorted. */
  totals: ProviderTotal[];
  matches: ModelMatch[];
  /** Estimates of providers no bill was read for (not compared). */
  unreconciled: { provider: string; estimateUsd: number }[];
  /** Billed rows dated outside [from, to) (a file covering more than the range). */
  outsideRange: { rows: number; costUsd: number };
  /** Some row is above the threshold. */
  drift: boolean;
}

/** Most rows a reconciliation holds: a year of days × hundreds of models. */
export const MAX_ROWS = 200_000;

// A date or version suffix of a snapshot id: `-2024-08-06`, `-20250514`, `@20240620`, Bedrock's
// `-v1:0` / `-v2`.
const VERSION_SUFFIX = /-v\d+(:\d+)?$/;
const DATE_SUFFIX = /[-@](\d{4}-\d{2}-\d{2}|\d{8})$/;

/**
 * A model id without its snapshot suffix: `gpt-4o-2024-08-06` → `gpt-4o`,
 * `claude-sonnet-4-20250514` → `claude-sonnet-4`, `anthropic.claude-3-5-sonnet-20240620-v1:0`
 * → `anthropic.claude-3-5-sonnet`. An id with no such suffix is returned as it is.
 */
export function stripSnapshot(id: string): string {
  return id.replace(VERSION_SUFFIX, '').replace(DATE_SUFFIX, '');
}

/**
 * The telemetry model a billed id belongs to, of the ids the telemetry saw for that provider:
 * 1. `alias`: the user's `--model-alias BILLED=MODEL`;
 * 2. `exact`: the same id;
 * 3. `snapshot`: the telemetry id is undated and is the billed id without its date or version
 *    suffix (a request for `gpt-4o` billed as `gpt-4o-2024-08-06`).
 * A dated telemetry id matches only itself, so two snapshots are never merged, and the price
 * catalog is not consulted: it prices dated and undated ids apart, which says nothing about
 * which snapshot served a request.
 */
export function matchModel(
  billed: string,
  seen: ReadonlySet<string>,
  aliases?: ReadonlyMap<string, string>,
): { model: string; rule: MatchRule } | undefined {
  const alias = aliases?.get(billed);
  if (alias !== undefined) return { model: alias, rule: 'alias' };
  if (seen.has(billed)) return { model: billed, rule: 'exact' };
  const base = stripSnapshot(billed);
  if (base !== billed && seen.has(base) && stripSnapshot(base) === base) {
    return { model: base, rule: 'snapshot' };
  }
  return undefined;
}

/** Whether a difference is drift: at least `minUsd` and above `thresholdPct` of the estimate
 * (any amount billed with nothing estimated, or estimated with nothing billed, counts). */
export function isDrift(
  estimateUsd: number,
  diffUsd: number,
  thresholdPct: number,
  minUsd: number,
): boolean {
  if (Math.abs(diffUsd) < minUsd) return false;
  if (estimateUsd === 0) return true;
  return Math.abs(diffUsd / estimateUsd) * 100 > thresholdPct;
}

const pctOf = (diff: number, estimate: number): number | null =>
  estimate === 0 ? null : (diff / estimate) * 100;

interface Cell {
  day: Day;
  provider: string;
  model: string | null;
  estimateUsd: number;
  billedUsd: number;
  hasEstimate: boolean;
  hasBill: boolean;
  billedAs: Set<string>;
}

/** Joins estimates and bills over [from, to). */
export function reconcile(input: ReconcileInput): ReconcileReport {
  const billedProviders = new Set(input.billedProviders);
  const cells = new Map<string, Cell>();
  const cell = (day: Day, provider: string, model: string | null): Cell => {
    const key = `${day}\u0000${provider}\u0000${model ?? ''}`;
    let c = cells.get(key);
    if (c === undefined) {
      if (cells.size >= MAX_ROWS) {
        throw new RangeError(
          `more than ${MAX_ROWS} day, provider and model rows: narrow the range`,
        );
      }
      c = {
        day,
        provider,
        model,
        estimateUsd: 0,
        billedUsd: 0,
        hasEstimate: false,
        hasBill: false,
        billedAs: new Set(),
      };
      cells.set(key, c);
    }
    return c;
  };

  const unreconciled = new Map<string, number>();
  const seen = new Map<string, Set<string>>();
  for (const e of input.estimates) {
    if (e.day < input.from || e.day >= input.to) continue;
    const provider = e.labels.provider ?? '(none)';
    if (!billedProviders.has(provider)) {
      unreconciled.set(provider, (unreconciled.get(provider) ?? 0) + e.costUsd);
      continue;
    }
    const model = e.labels.model ?? null;
    if (model !== null) {
      const s = seen.get(provider) ?? new Set<string>();
      seen.set(provider, s);
      s.add(model);
    }
    const c = cell(e.day, provider, model);
    c.estimateUsd += e.costUsd;
    c.hasEstimate = true;
  }

  const matches = new Map<string, ModelMatch>();
  const outsideRange = { rows: 0, costUsd: 0 };
  for (const b of input.billed) {
    if (b.day < input.from || b.day >= input.to) {
      outsideRange.rows++;
      outsideRange.costUsd += b.costUsd;
      continue;
    }
    let model: string | null = b.model ?? null;
    if (b.model !== undefined) {
      const m = matchModel(b.model, seen.get(b.provider) ?? new Set(), input.aliases);
      if (m !== undefined) {
        model = m.model;
        if (m.model !== b.model) {
          matches.set(`${b.provider}\u0000${b.model}`, {
            provider: b.provider,
            billed: b.model,
            model: m.model,
            rule: m.rule,
          });
        }
      }
    }
    const c = cell(b.day, b.provider, model);
    c.billedUsd += b.costUsd;
    c.hasBill = true;
    if (b.model !== undefined && b.model !== model) c.billedAs.add(b.model);
  }

  const rows: DriftRow[] = [...cells.values()]
    .map((c) => {
      const diffUsd = c.billedUsd - c.estimateUsd;
      return {
        day: c.day,
        provider: c.provider,
        model: c.model,
        estimateUsd: c.estimateUsd,
        billedUsd: c.billedUsd,
        diffUsd,
        pct: pctOf(diffUsd, c.estimateUsd),
        status: (c.hasEstimate && c.hasBill
          ? 'matched'
          : c.hasBill
            ? 'unobserved'
            : 'unbilled') as RowStatus,
        billedAs: [...c.billedAs].sort(),
        drift: isDrift(c.estimateUsd, diffUsd, input.thresholdPct, input.minUsd),
      };
    })
    .sort(
      (a, b) =>
        cmp(a.day, b.day) || cmp(a.provider, b.provider) || cmp(a.model ?? '', b.model ?? ''),
    );

  const totals = new Map<string, ProviderTotal>();
  for (const p of billedProviders) {
    totals.set(p, { provider: p, estimateUsd: 0, billedUsd: 0, diffUsd: 0, pct: null });
  }
  for (const r of rows) {
    const t = totals.get(r.provider) as ProviderTotal;
    t.estimateUsd += r.estimateUsd;
    t.billedUsd += r.billedUsd;
  }
  for (const t of totals.values()) {
    t.diffUsd = t.billedUsd - t.estimateUsd;
    t.pct = pctOf(t.diffUsd, t.estimateUsd);
  }

  return {
    from: input.from,
    to: input.to,
    thresholdPct: input.thresholdPct,
    minUsd: input.minUsd,
    rows,
    totals: [...totals.values()].sort((a, b) => cmp(a.provider, b.provider)),
    matches: [...matches.values()].sort(
      (a, b) => cmp(a.provider, b.provider) || cmp(a.billed, b.billed),
    ),
    unreconciled: [...unreconciled.entries()]
      .map(([provider, estimateUsd]) => ({ provider, estimateUsd }))
      .sort((a, b) => cmp(a.provider, b.provider)),
    outsideRange,
    drift: rows.some((r) => r.drift),
  };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
