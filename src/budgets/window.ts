/**
 * Budget windows as pure functions of an instant (epoch ms; callers inject their clock): the
 * calendar window containing an instant in a named IANA time zone (DST-correct), rolling windows
 * as time buckets, and the ledger keys of a window (`WindowRef` of `types.ts`; see docs/budgets.md).
 */
import { createHash } from 'node:crypto';
import type { BudgetWindow, CalendarWindow, RollingWindow } from './config.js';
import type { KeyRef, WindowRef } from './types.js';

/** A clock: epoch milliseconds. Inject a fake one in tests. */
export type Clock = () => number;

/** One calendar window: `[startMs, endMs)` and a stable id such as
 * `month:2026-11@America/New_York`. */
export interface CalendarSpan {
  id: string;
  startMs: number;
  endMs: number;
}

/** The buckets of a rolling window at an instant. Bucket `i` covers
 * `[i * bucketMs, (i + 1) * bucketMs)`. */
export interface RollingBuckets {
  bucketMs: number;
  /** The bucket containing the instant (written now). */
  current: number;
  /** The oldest bucket still overlapping the window `(now - rollingMs, now]`. */
  first: number;
}

/** Buckets per rolling window: spend leaves the window at most `rollingMs / 60` late. */
export const ROLLING_BUCKETS = 60;
/** How long a key outlives its window, so late settlements and reports still find it. */
export const DEFAULT_GRACE_MS = 3_600_000;
/** Default key prefix. */
export const KEY_PREFIX = 'spanledger:b:';

const DAY_MS = 86_400_000;
/** Offsets in the tz database stay within -12h..+14h (historic local mean time a bit more);
 * 18 hours either side of the wall-clock instant always brackets the real instant. */
const SEARCH_MS = 18 * 3_600_000;

interface LocalDate {
  y: number;
  m: number; // 1-12
  d: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Formatters are expensive to build (tens of microseconds); one per zone is reused. */
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    if (formatters.size >= 1000) formatters.clear();
    formatters.set(timeZone, f);
  }
  return f;
}

/** Local wall-clock time at `ms` in `timeZone`, as if it were UTC (whole seconds). */
function wallClock(ms: number, timeZone: string): number {
  let y = 0;
  let mo = 0;
  let d = 0;
  let h = 0;
  let mi = 0;
  let s = 0;
  let bc = false;
  for (const p of formatterFor(timeZone).formatToParts(ms)) {
    switch (p.type) {
      case 'year':
        y = Number(p.value);
        break;
      case 'month':
        mo = Number(p.value);
        break;
      case 'day':
        d = Number(p.value);
        break;
      case 'hour':
        h = Number(p.value);
        break;
      case 'minute':
        mi = Number(p.value);
        break;
      case 'second':
        s = Number(p.value);
        break;
      case 'era':
        bc = p.value === 'BC';
        break;
    }
  }
  if (bc) y = 1 - y;
  const wall = new Date(0);
  wall.setUTCFullYear(y, mo - 1, d);
  wall.setUTCHours(h, mi, s, 0);
  return wall.getTime();
}

function localDate(ms: number, timeZone: string): LocalDate {
  const w = new Date(wallClock(ms, timeZone));
  return { y: w.getUTCFullYear(), m: w.getUTCMonth() + 1, d: w.getUTCDate() };
}

/** Midnight of a local date, as a wall-clock-as-UTC instant (month/day overflow normalised). */
function wallMidnight(y: number, m: number, d: number): number {
  const w = new Date(0);
  w.setUTCFullYear(y, m - 1, d);
  return w.getTime();
}

/**
 * The first instant whose local wall clock in `timeZone` reads `wall` or later: local midnight,
 * or the end of the DST gap where midnight does not exist (e.g. Santiago, Havana).
 */
function firstInstantAtOrAfter(wall: number, timeZone: string): number {
  const reached = (ms: number): boolean => wallClock(ms, timeZone) >= wall;
  // Fast path: the offset at the guess, refined once, lands on the answer except around
  // transitions; verify it (reached here and not one second earlier) before trusting it.
  let t = wall - (wallClock(wall, timeZone) - wall);
  t = wall - (wallClock(t, timeZone) - t);
  if (reached(t) && !reached(t - 1000)) return t;
  // Slow path: binary search over whole seconds (zone transitions fall on whole seconds).
  let lo = Math.floor((wall - SEARCH_MS) / 1000);
  let hi = Math.ceil((wall + SEARCH_MS) / 1000);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (reached(mid * 1000)) hi = mid;
    else lo = mid;
  }
  return hi * 1000;
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
const dateId = (w: number): string => {
  const d = new Date(w);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
};

/** Local start date (as wall midnight) of the window containing a local date, and of the next. */
function windowBounds(def: CalendarWindow, ld: LocalDate): { start: number; next: number } {
  switch (def.calendar) {
    case 'day':
      return { start: wallMidnight(ld.y, ld.m, ld.d), next: wallMidnight(ld.y, ld.m, ld.d + 1) };
    case 'week': {
      const weekday = new Date(wallMidnight(ld.y, ld.m, ld.d)).getUTCDay(); // 0 = Sunday
      const first = def.weekStartsOn === 'sunday' ? 0 : 1;
      const back = (weekday - first + 7) % 7;
      return {
        start: wallMidnight(ld.y, ld.m, ld.d - back),
        next: wallMidnight(ld.y, ld.m, ld.d - back + 7),
      };
    }
    case 'month':
      return { start: wallMidnight(ld.y, ld.m, 1), next: wallMidnight(ld.y, ld.m + 1, 1) };
    case 'quarter':
    case 'year': {
      // Months since the fiscal year began; quarters begin every third month from its start.
      // Month numbers below 1 roll back into the previous year (wallMidnight normalises them).
      const intoYear = (ld.m - (def.fiscalYearStartMonth ?? 1) + 12) % 12;
      const months = def.calendar === 'year' ? 12 : 3;
      const first = ld.m - (intoYear % months);
      return { start: wallMidnight(ld.y, first, 1), next: wallMidnight(ld.y, first + months, 1) };
    }
  }
}

/** Window ids name the period's first local day: `day:2026-11-30`, `week:2026-11-30`, and the
 * first month of longer periods: `month:2026-11`, `quarter:2026-07`, `year:2026-04` (a fiscal
 * year starting in April). A quarter is the same months whatever the fiscal year, so it keeps one
 * key when only `fiscalYearStartMonth` changes. */
function spanId(def: CalendarWindow, start: number): string {
  const date = dateId(start);
  const period = def.calendar === 'day' || def.calendar === 'week' ? date : date.slice(0, 7);
  return `${def.calendar}:${period}@${def.timeZone}`;
}

const spanCache = new Map<string, CalendarSpan>();

/**
 * The calendar window containing `nowMs`: it starts at local midnight of its first day (day,
 * Monday or Sunday of the week, the 1st of the month, of the quarter's first month or of the
 * fiscal year's) in `def.timeZone`, whatever the UTC offset
 * on that day, and ends where the next one starts. Day windows are 23 or 25 hours long across
 * DST changes.
 */
export function calendarWindow(def: CalendarWindow, nowMs: number): CalendarSpan {
  // Windows partition time, so the last answer per definition is right for any instant inside
  // it: the Intl work runs once per window, not per call.
  const cacheKey = `${def.calendar}|${def.weekStartsOn ?? ''}|${def.fiscalYearStartMonth ?? 1}|${def.timeZone}`;
  const cached = spanCache.get(cacheKey);
  if (cached !== undefined && nowMs >= cached.startMs && nowMs < cached.endMs) return cached;
  let { start, next } = windowBounds(def, localDate(nowMs, def.timeZone));
  let startMs = firstInstantAtOrAfter(start, def.timeZone);
  let endMs = firstInstantAtOrAfter(next, def.timeZone);
  if (nowMs >= endMs) {
    // Only where a zone fell back across midnight and the previous date came round again:
    // the later window has already begun, and windows never go back.
    ({ start, next } = windowBounds(def, localDate(endMs, def.timeZone)));
    startMs = endMs;
    endMs = firstInstantAtOrAfter(next, def.timeZone);
  }
  // Frozen: the cached object is shared by every caller in the window.
  const span: CalendarSpan = Object.freeze({ id: spanId(def, start), startMs, endMs });
  if (spanCache.size >= 1000) spanCache.clear();
  spanCache.set(cacheKey, span);
  return span;
}

/** Milliseconds from `nowMs` to the end of its calendar window. */
export function remainingMs(def: CalendarWindow, nowMs: number): number {
  return calendarWindow(def, nowMs).endMs - nowMs;
}

/** Bucket size of a rolling window: `ceil(rollingMs / buckets)`. */
export function bucketMsOf(def: RollingWindow, buckets = ROLLING_BUCKETS): number {
  return Math.ceil(def.rollingMs / buckets);
}

/**
 * The buckets of a rolling window at `nowMs`: `current = floor(now / bucketMs)`, and every
 * bucket back to the one containing `now - rollingMs`. That oldest bucket is only partly inside
 * the window, and counting all of it is the safe side: old spend leaves the window up to one
 * bucket late, never early, so spend over any true rolling window never exceeds the limit.
 */
export function rollingBuckets(
  def: RollingWindow,
  nowMs: number,
  buckets = ROLLING_BUCKETS,
): RollingBuckets {
  const bucketMs = bucketMsOf(def, buckets);
  return {
    bucketMs,
    current: Math.floor(nowMs / bucketMs),
    first: Math.floor((nowMs - def.rollingMs) / bucketMs),
  };
}

/** Id of one rolling bucket: `rolling:<bucketMs>ms:<index>`. */
export function bucketId(bucketMs: number, index: number): string {
  return `rolling:${bucketMs}ms:${index}`;
}

const SAFE_MAX = 64;

/** Escape a user-provided key part: percent-encoding of everything but letters, digits and
 * `-_.!~'()`, so `:` `{` `}` `*` `%`, whitespace and control characters never reach the key. */
export function escapeKeyPart(value: string): string {
  return encodeURIComponent(value).replace(/\*/g, '%2A');
}

/**
 * The scope part of a key: `_` for a budget with one window, else the sorted `dim=value` pairs
 * of its per-value (`'*'`) dimensions, escaped (`tenant=acme,team=payments`). Longer than 64
 * characters it becomes `#` and a SHA-256 prefix (128 bits): `#` never appears escaped.
 */
export function scopeKeyPart(values: Readonly<Record<string, string>>): string {
  const dims = Object.keys(values).sort();
  if (dims.length === 0) return '_';
  const readable = dims
    .map((d) => `${escapeKeyPart(d)}=${escapeKeyPart(values[d] as string)}`)
    .join(',');
  if (readable.length <= SAFE_MAX) return readable;
  return `#${createHash('sha256').update(readable).digest('hex').slice(0, 32)}`;
}

/**
 * Ledger key of a window: `spanledger:b:{<budget>:<scope>}:<windowId>`, e.g.
 * `spanledger:b:{tenant-monthly:tenant=acme}:month:2026-11@America/New_York`. The braces are a
 * Redis Cluster hash tag: all windows and buckets of one budget scope live in one slot, so one
 * server-side script may read every bucket of a rolling window.
 */
export function ledgerKey(
  budgetName: string,
  scopeValues: Readonly<Record<string, string>>,
  windowId: string,
  prefix = KEY_PREFIX,
): string {
  return `${prefix}{${escapeKeyPart(budgetName)}:${scopeKeyPart(scopeValues)}}:${windowId}`;
}

/** Options of {@link windowRef}. */
export interface WindowRefOptions {
  /** Required for `'trace'` windows: the run's trace id. */
  traceId?: string;
  /** Time to live of a trace window's key. Default 24 hours. */
  traceTtlMs?: number;
  /** How long keys outlive their window. Default {@link DEFAULT_GRACE_MS}. */
  graceMs?: number;
  /** Buckets per rolling window. Default {@link ROLLING_BUCKETS}. */
  buckets?: number;
  /** Key prefix. Default {@link KEY_PREFIX}. */
  prefix?: string;
}

/**
 * Where a budget's window lives in a ledger at `nowMs`. Calendar: one key, TTL to the window's
 * end plus grace. Rolling: `writeKey` is the current bucket, `readKeys` every bucket overlapping
 * the window (oldest first), TTL until the current bucket has left the window plus grace. Trace:
 * one key per trace id.
 */
export function windowRef(
  budgetName: string,
  scopeValues: Readonly<Record<string, string>>,
  window: BudgetWindow,
  nowMs: number,
  options: WindowRefOptions = {},
): WindowRef {
  const grace = options.graceMs ?? DEFAULT_GRACE_MS;
  const key = (id: string): string => ledgerKey(budgetName, scopeValues, id, options.prefix);
  if (window === 'trace') {
    if (options.traceId === undefined)
      throw new TypeError('spanledger: a trace window needs traceId');
    const k = key(`trace:${escapeKeyPart(options.traceId)}`);
    return { writeKey: k, readKeys: [k], ttlMs: options.traceTtlMs ?? DAY_MS };
  }
  if ('calendar' in window) {
    const span = calendarWindow(window, nowMs);
    const k = key(span.id);
    return { writeKey: k, readKeys: [k], ttlMs: span.endMs - nowMs + grace };
  }
  const b = rollingBuckets(window, nowMs, options.buckets);
  const readKeys: string[] = [];
  for (let i = b.first; i <= b.current; i++) readKeys.push(key(bucketId(b.bucketMs, i)));
  return {
    writeKey: key(bucketId(b.bucketMs, b.current)),
    readKeys,
    // The current bucket counts until `now - rollingMs` passes its end.
    ttlMs: (b.current + 1) * b.bucketMs + window.rollingMs - nowMs + grace,
  };
}

/** The `KeyRef` written by a `WindowRef` (for `settle`, `release` and `add`). */
export function writeRef(ref: WindowRef): KeyRef {
  return { key: ref.writeKey, ttlMs: ref.ttlMs };
}

/**
 * Ledger keys of budget windows, cached until the window (or, for a rolling window, its bucket
 * range) moves on. Building them means escaping scope values and, for a rolling window, some
 * sixty bucket keys: without the cache that would happen on every priced span. Bounded.
 */
export class WindowRefCache {
  private readonly refs = new Map<
    string,
    {
      writeKey: string;
      readKeys: readonly string[];
      expiresAtMs: number;
      fromMs: number;
      untilMs: number;
    }
  >();

  constructor(private readonly max = 10_000) {}

  /** The same WindowRef as {@link windowRef} for a calendar or rolling window at `nowMs`. */
  get(
    budget: { name: string; window: CalendarWindow | RollingWindow | 'trace' },
    scope: Readonly<Record<string, string>>,
    nowMs: number,
  ): WindowRef {
    if (budget.window === 'trace')
      throw new TypeError('spanledger: trace windows have no ledger keys here');
    let id = budget.name;
    for (const k in scope) id += `\u0000${k}=${scope[k]}`;
    const hit = this.refs.get(id);
    if (hit !== undefined && nowMs >= hit.fromMs && nowMs < hit.untilMs) {
      return { writeKey: hit.writeKey, readKeys: hit.readKeys, ttlMs: hit.expiresAtMs - nowMs };
    }
    const ref = windowRef(budget.name, scope, budget.window, nowMs);
    let fromMs: number;
    let untilMs: number;
    if ('calendar' in budget.window) {
      const span = calendarWindow(budget.window, nowMs);
      fromMs = span.startMs;
      untilMs = span.endMs;
    } else {
      const bucketMs = bucketMsOf(budget.window);
      const r = rollingBuckets(budget.window, nowMs);
      const rolling = budget.window.rollingMs;
      // The range moves when either end crosses a bucket boundary.
      fromMs = Math.max(r.current * bucketMs, r.first * bucketMs + rolling);
      untilMs = Math.min((r.current + 1) * bucketMs, (r.first + 1) * bucketMs + rolling);
    }
    if (hit === undefined && this.refs.size >= this.max) {
      const oldest = this.refs.keys().next().value;
      if (oldest !== undefined) this.refs.delete(oldest);
    }
    this.refs.set(id, {
      writeKey: ref.writeKey,
      readKeys: ref.readKeys,
      expiresAtMs: nowMs + ref.ttlMs,
      fromMs,
      untilMs,
    });
    return ref;
  }
}
