/**
 * Fixed and shared costs as daily rows (docs/finance.md, "Fixed and shared costs"), pure: the
 * validated `finance:` section, the range's estimate rows and the range in, `AllocatedRow`s out.
 *
 * - A month's amount is spread evenly over the days of that calendar month (28 to 31): a day
 *   carries `monthlyUsd / daysInMonth`, whatever its length. The range is cut into the days of
 *   the export's time zone by src/budgets/window.ts (the one home of calendar math), so a
 *   23-hour or 25-hour DST day is one day, and a day the range only partly covers carries the
 *   part of it that the range covers.
 * - A shared cost is split per day by that day's measured usage cost per value of its
 *   dimension, summed over the other labels. Spend with no value of the dimension is a share of
 *   its own (a row without the label), and a day with no usage at all leaves the day's amount on
 *   one `unallocated` row: a cost is never lost.
 *
 * So the rows of one cost over a range sum to `monthlyUsd × days in range / days in month`
 * (month by month), which is what the tests check.
 */
import { isValidTimeZone } from '../budgets/config.js';
import { calendarWindow } from '../budgets/window.js';
import { dimensionValue } from '../dimensions.js';
import type { CostBase, FinanceConfig } from './config.js';
import type { AllocatedRow, Day, EstimateLabels, EstimateRow } from './model.js';

/** The range an export covers: `[from, to)`, cut into days of `timeZone`. */
export interface AllocationRange {
  from: Date | number;
  to: Date | number;
  /** IANA time zone (or `UTC`), the export's. */
  timeZone: string;
}

/** One day of a range. */
export interface RangeDay {
  day: Day;
  /** The part of the day's length inside the range: 1 for a whole day. */
  fraction: number;
}

/** Days per range: ten years of daily rows is far beyond any export; more is a wrong range. */
export const MAX_RANGE_DAYS = 3660;

/** Days in the calendar month of `day` (28 to 31): the Gregorian count, which no time zone or
 * DST change alters (a 23-hour day is still one of the month's days). */
export function daysInMonth(day: Day): number {
  const y = Number(day.slice(0, 4));
  const m = Number(day.slice(5, 7));
  // Day 0 of the next month is the last day of this one.
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

const ms = (t: Date | number): number => (typeof t === 'number' ? t : t.getTime());

/**
 * The local days of `[from, to)` in `timeZone`, each with the part of it the range covers, in
 * order. Local midnights come from the budget windows' calendar (DST-correct: the day of a
 * spring-forward change is 23 hours long and still one whole day). Throws a `RangeError` for an
 * unknown time zone, a range that ends before it starts, or one over {@link MAX_RANGE_DAYS}.
 */
export function rangeDays(range: AllocationRange): RangeDay[] {
  const fromMs = ms(range.from);
  const toMs = ms(range.to);
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || toMs < fromMs) {
    throw new RangeError(`spanledger: invalid range: from must be an instant before to`);
  }
  if (!isValidTimeZone(range.timeZone)) {
    throw new RangeError(`spanledger: unknown IANA time zone ${JSON.stringify(range.timeZone)}`);
  }
  const def = { calendar: 'day', timeZone: range.timeZone } as const;
  const out: RangeDay[] = [];
  for (let t = fromMs; t < toMs; ) {
    if (out.length >= MAX_RANGE_DAYS) {
      throw new RangeError(`spanledger: a range of more than ${MAX_RANGE_DAYS} days`);
    }
    const w = calendarWindow(def, t);
    const end = Math.min(w.endMs, toMs);
    // The window id names the local day: `day:2026-03-29@Europe/Paris`.
    out.push({ day: w.id.slice(4, 14), fraction: (end - t) / (w.endMs - w.startMs) });
    t = end;
  }
  return out;
}

/**
 * The dimensions the shared costs are split across, each once: the estimates handed to
 * {@link allocateCosts} must keep each of them as a label (group by them), or all of their
 * spend reads as spend without a value.
 */
export function allocationDimensions(finance: FinanceConfig): string[] {
  return [...new Set(finance.sharedCosts.map((c) => c.allocateBy))];
}

const applies = (c: CostBase, day: Day): boolean =>
  (c.from === undefined || day >= c.from) && (c.until === undefined || day < c.until);

/** Usage cost per day and per value of one dimension (`null`: spend without a value). */
type Basis = Map<Day, Map<string | null, number>>;

function basisBy(
  dimension: string,
  estimates: readonly EstimateRow[],
  days: ReadonlySet<Day>,
): Basis {
  const out: Basis = new Map();
  for (const row of estimates) {
    if (!days.has(row.day)) continue;
    let perValue = out.get(row.day);
    if (perValue === undefined) {
      perValue = new Map();
      out.set(row.day, perValue);
    }
    // The one blank-value rule (dimensions.ts): a blank value is spend without a value.
    const value = dimensionValue(row.labels[dimension]) ?? null;
    perValue.set(value, (perValue.get(value) ?? 0) + row.costUsd);
  }
  return out;
}

/** Values in a stable order: by code unit, spend without a value last. */
const byValue = (a: string | null, b: string | null): number =>
  a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1;

/**
 * The day rows of every configured cost over `range`: fixed costs first, then shared ones, each
 * in configuration order, by day; a shared cost's rows of a day by value of its dimension, the
 * share of spend without a value last. `estimates` are the range's daily usage estimates (any
 * grouping that keeps each shared cost's dimension as a label); rows of other days are ignored.
 * Throws a `RangeError` for an estimate whose cost is negative or not a number (usage cost
 * cannot be: it would make shares meaningless) and for a bad range (see {@link rangeDays}).
 */
export function allocateCosts(
  finance: FinanceConfig,
  estimates: readonly EstimateRow[],
  range: AllocationRange,
): AllocatedRow[] {
  const days = rangeDays(range);
  const rows: AllocatedRow[] = [];
  const amount = (c: CostBase, d: RangeDay): number =>
    (c.monthlyUsd / daysInMonth(d.day)) * d.fraction;

  for (const c of finance.fixedCosts) {
    for (const d of days) {
      if (!applies(c, d.day)) continue;
      rows.push({
        day: d.day,
        kind: 'fixed',
        name: c.name,
        labels: { ...c.labels },
        costUsd: amount(c, d),
      });
    }
  }
  if (finance.sharedCosts.length === 0) return rows;

  for (const row of estimates) {
    if (!Number.isFinite(row.costUsd) || row.costUsd < 0) {
      throw new RangeError(
        `spanledger: the estimate of ${row.day} ${JSON.stringify(row.labels)} costs ${row.costUsd}: usage cost is a finite amount >= 0`,
      );
    }
  }
  const daySet = new Set(days.map((d) => d.day));
  const bases = new Map<string, Basis>();
  for (const c of finance.sharedCosts) {
    let basis = bases.get(c.allocateBy);
    if (basis === undefined) {
      basis = basisBy(c.allocateBy, estimates, daySet);
      bases.set(c.allocateBy, basis);
    }
    for (const d of days) {
      if (!applies(c, d.day)) continue;
      const dayAmount = amount(c, d);
      const perValue = [...(basis.get(d.day) ?? new Map<string | null, number>())]
        .filter(([, cost]) => cost > 0)
        .sort(([a], [b]) => byValue(a, b));
      let total = 0;
      for (const [, cost] of perValue) total += cost;
      if (total === 0) {
        rows.push({
          day: d.day,
          kind: 'shared',
          name: c.name,
          labels: { ...c.labels },
          costUsd: dayAmount,
          allocation: {
            method: 'unallocated',
            basis: 'usage_cost',
            dimension: c.allocateBy,
            share: 1,
          },
        });
        continue;
      }
      for (const [value, cost] of perValue) {
        const share = cost / total;
        const labels: Record<string, string | undefined> = { ...c.labels };
        if (value !== null) labels[c.allocateBy] = value;
        rows.push({
          day: d.day,
          kind: 'shared',
          name: c.name,
          labels: labels as EstimateLabels,
          costUsd: dayAmount * share,
          allocation: {
            method: 'proportional',
            basis: 'usage_cost',
            dimension: c.allocateBy,
            share,
          },
        });
      }
    }
  }
  return rows;
}
