/**
 * The in-process ledger (the default). Atomic by construction: every operation runs to
 * completion synchronously inside its promise, and Node runs one at a time. Keys expire by their
 * TTL on an injectable clock; memory is bounded by `maxKeys`. No timers: expired keys are swept
 * lazily on writes, and read as zeros before that. Invalid amounts are counted and ignored, as
 * every ledger does (docs/budgets.md, "Ledgers").
 */
import { Reporter } from '../diag.js';
import { type Check, checkOptionObject } from '../options.js';
import {
  type Amounts,
  type BudgetLedger,
  type CounterName,
  type CounterRequest,
  type CounterTotals,
  counterFits,
  type KeyRef,
  type PausedScope,
  type PauseInfo,
  type PauseResult,
  pauseLive,
  type ReserveResult,
  validCounterName,
  validPauseInfo,
  type WindowRef,
  type WindowTotals,
} from './types.js';

/** Options of {@link MemoryLedger}. Checked once at construction: unknown keys and bad values
 * throw a `TypeError` naming both. */
export interface MemoryLedgerOptions {
  /** Most keys held at once; beyond it the key expiring soonest is evicted. Default 100,000. */
  maxKeys?: number;
  /** Clock in epoch ms. Default `Date.now`. */
  now?: () => number;
}

/** Counters of a {@link MemoryLedger}. */
export type MemoryLedgerStats = {
  /** Keys held now (expired keys not yet swept included). */
  keys: number;
  /** Keys dropped before their expiry because `maxKeys` was reached. */
  evictions: number;
  /** Keys removed after they expired. */
  expired: number;
  /** Arguments rejected (negative, NaN or infinite amounts or limits): the operation did
   * nothing. */
  invalidArguments: number;
  /** Run-time problems by kind, as reported through OTel diag. */
  problems: Record<string, number>;
};

interface Entry {
  spent: number;
  reserved: number;
  /** Counters other than USD, created by the first write that names one. */
  counts: Record<CounterName, CounterTotals> | undefined;
  expiresAt: number;
}

/** Heap item; stale when the entry's expiry moved on or the entry is gone. */
interface HeapItem {
  expiresAt: number;
  key: string;
}

// One NaN or negative amount would corrupt a window's totals until it expires.
const validAmount = (n: number): boolean => typeof n === 'number' && Number.isFinite(n) && n >= 0;

/** Whether every counter name and amount of a write is valid (absent: nothing to check). */
const validAmounts = (a: Amounts | undefined): boolean => {
  if (a === undefined) return true;
  for (const k in a) if (!validCounterName(k) || !validAmount(a[k] as number)) return false;
  return true;
};

/** Whether a counter's limit can be compared with (absent or `Infinity`: no limit). */
const validLimit = (l: number | undefined): boolean =>
  l === undefined || l === Number.POSITIVE_INFINITY || Number.isFinite(l);

const describe = (counters: object | undefined): string =>
  counters === undefined ? '' : `, ${JSON.stringify(counters)}`;

const OPTION_CHECKS: Readonly<Record<keyof MemoryLedgerOptions, Check>> = {
  maxKeys: (v) =>
    Number.isInteger(v) && (v as number) >= 1 ? undefined : 'must be a positive integer',
  now: (v) => (typeof v === 'function' ? undefined : 'must be a function returning epoch ms'),
};

/** The totals of one counter on an entry, created at zero. */
function counterOf(e: Entry, name: CounterName): CounterTotals {
  e.counts ??= {};
  let c = e.counts[name];
  if (c === undefined) {
    c = { spent: 0, reserved: 0 };
    e.counts[name] = c;
  }
  return c;
}

/** An entry's totals with `counts` of the counters named. */
function totalsOf(e: Entry, names: readonly CounterName[]): WindowTotals {
  const counts: Record<CounterName, CounterTotals> = {};
  for (const name of names) {
    const c = e.counts?.[name];
    counts[name] = { spent: c?.spent ?? 0, reserved: c?.reserved ?? 0 };
  }
  return { spentUsd: e.spent, reservedUsd: e.reserved, counts };
}

/** In-memory {@link BudgetLedger}. Money is added and subtracted as plain doubles, never rounded. */
export class MemoryLedger implements BudgetLedger {
  readonly #entries = new Map<string, Entry>();
  /** Paused scopes by pause key (no window TTL: they stay until resumed or `until`). */
  readonly #pauses = new Map<string, PauseInfo>();
  /** Min-heap on expiry, with lazy deletion: an item counts only if it matches its entry. */
  #heap: HeapItem[] = [];
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #reporter = new Reporter();
  #evictions = 0;
  #expired = 0;
  #invalidArguments = 0;

  constructor(options: MemoryLedgerOptions = {}) {
    const o = checkOptionObject<MemoryLedgerOptions>('new MemoryLedger', options, OPTION_CHECKS);
    this.#maxKeys = o.maxKeys ?? 100_000;
    this.#now = o.now ?? Date.now;
  }

  async reserve(
    window: WindowRef,
    amountUsd: number,
    limitUsd: number,
    enforce: boolean,
    counters?: Readonly<Record<CounterName, CounterRequest>>,
  ): Promise<ReserveResult> {
    const now = this.#now();
    const requests = counters ?? {};
    const names = counters === undefined ? undefined : Object.keys(counters);
    // An infinite limit is no limit; NaN or -Infinity cannot be compared with (when enforced).
    const badLimit = enforce && limitUsd !== Number.POSITIVE_INFINITY && !Number.isFinite(limitUsd);
    let badCounter = false;
    for (const name of names ?? []) {
      const c = requests[name] as CounterRequest;
      if (!validCounterName(name) || !validAmount(c.amount) || (enforce && !validLimit(c.limit))) {
        badCounter = true;
      }
    }
    if (!validAmount(amountUsd) || badLimit || badCounter) {
      this.#invalid(`reserve(${amountUsd}, limit ${limitUsd}${describe(counters)})`);
      return { ok: false, ...this.#sum(window.readKeys, now, names) };
    }
    this.#sweep(now);
    const totals = this.#sum(window.readKeys, now, names);
    const paused = this.#paused(window.pauseKey, now);
    if (paused !== undefined) return { ok: false, ...totals, paused };
    // The order of the sum is the contract's: (spent + reserved over readKeys) + amount.
    let ok = !enforce || totals.spentUsd + totals.reservedUsd + amountUsd <= limitUsd;
    if (ok && enforce && names !== undefined) {
      for (const name of names) {
        const t = totals.counts?.[name] as CounterTotals;
        const c = requests[name] as CounterRequest;
        if (!counterFits(t.spent + t.reserved, c.amount, c.limit)) ok = false;
      }
    }
    if (ok) {
      const entry = this.#entry(window.writeKey, window.ttlMs, now);
      entry.reserved += amountUsd;
      totals.reservedUsd += amountUsd;
      for (const name of names ?? []) {
        const amount = (requests[name] as CounterRequest).amount;
        if (amount === 0) continue;
        counterOf(entry, name).reserved += amount;
        (totals.counts?.[name] as CounterTotals).reserved += amount;
      }
    }
    return { ok, ...totals };
  }

  async settle(
    reservation: KeyRef,
    reservedUsd: number,
    spend: KeyRef,
    actualUsd: number,
    counters?: { readonly reserved: Amounts; readonly actual: Amounts },
  ): Promise<WindowTotals | undefined> {
    if (
      !validAmount(reservedUsd) ||
      !validAmount(actualUsd) ||
      !validAmounts(counters?.reserved) ||
      !validAmounts(counters?.actual)
    ) {
      this.#invalid(`settle(${reservedUsd}, ${actualUsd}${describe(counters)})`);
      return undefined;
    }
    const now = this.#now();
    this.#sweep(now);
    this.#unreserve(reservation, reservedUsd, counters?.reserved, now);
    const entry = this.#entry(spend.key, spend.ttlMs, now);
    entry.spent += actualUsd;
    if (counters === undefined) return { spentUsd: entry.spent, reservedUsd: entry.reserved };
    for (const name in counters.actual) counterOf(entry, name).spent += counters.actual[name] ?? 0;
    return totalsOf(entry, [...Object.keys(counters.reserved), ...Object.keys(counters.actual)]);
  }

  async release(reservation: KeyRef, reservedUsd: number, counters?: Amounts): Promise<void> {
    if (!validAmount(reservedUsd) || !validAmounts(counters)) {
      this.#invalid(`release(${reservedUsd}${describe(counters)})`);
      return;
    }
    const now = this.#now();
    this.#sweep(now);
    this.#unreserve(reservation, reservedUsd, counters, now);
  }

  async add(
    spend: KeyRef,
    amountUsd: number,
    counters?: Amounts,
  ): Promise<WindowTotals | undefined> {
    if (!validAmount(amountUsd) || !validAmounts(counters)) {
      this.#invalid(`add(${amountUsd}${describe(counters)})`);
      return undefined;
    }
    const now = this.#now();
    this.#sweep(now);
    const entry = this.#entry(spend.key, spend.ttlMs, now);
    entry.spent += amountUsd;
    if (counters === undefined) return { spentUsd: entry.spent, reservedUsd: entry.reserved };
    for (const name in counters) counterOf(entry, name).spent += counters[name] ?? 0;
    return totalsOf(entry, Object.keys(counters));
  }

  async get(
    keys: readonly string[],
    counters?: readonly CounterName[],
    pauseKey?: string,
  ): Promise<WindowTotals> {
    const now = this.#now();
    const totals = this.#sum(keys, now, counters);
    const paused = this.#paused(pauseKey, now);
    return paused === undefined ? totals : { ...totals, paused };
  }

  /** Pauses a scope in this process (docs/budgets.md, "Pause and resume"). */
  async pause(key: string, info: PauseInfo): Promise<PauseResult> {
    if (typeof key !== 'string' || key === '' || !validPauseInfo(info)) {
      this.#invalid(`pause(${JSON.stringify(key)}, ${JSON.stringify(info)})`);
      return { ok: false };
    }
    this.#pauses.set(key, {
      reason: info.reason,
      by: info.by,
      at: info.at,
      ...(info.until !== undefined ? { until: info.until } : {}),
    });
    return { ok: true };
  }

  async resume(key: string): Promise<PauseResult> {
    const live = this.#paused(key, this.#now()) !== undefined;
    this.#pauses.delete(key);
    return { ok: true, removed: live };
  }

  async pauses(): Promise<PausedScope[]> {
    const now = this.#now();
    const out: PausedScope[] = [];
    for (const [key, info] of this.#pauses) {
      if (pauseLive(info, now)) out.push({ key, ...info });
      else this.#pauses.delete(key);
    }
    return out;
  }

  /** Holds no connection or timer: nothing to release. Operations after it keep answering from
   * the same totals, so a service that still serves while it drains keeps its budgets. */
  async close(): Promise<void> {
    this.#reporter.summary();
  }

  /** Counters since construction. */
  stats(): MemoryLedgerStats {
    return {
      keys: this.#entries.size,
      evictions: this.#evictions,
      expired: this.#expired,
      invalidArguments: this.#invalidArguments,
      problems: this.#reporter.snapshot(),
    };
  }

  /** The live pause of `key` (an expired one is dropped). */
  #paused(key: string | undefined, now: number): PauseInfo | undefined {
    if (key === undefined) return undefined;
    const info = this.#pauses.get(key);
    if (info === undefined) return undefined;
    if (pauseLive(info, now)) return { ...info };
    this.#pauses.delete(key);
    return undefined;
  }

  #invalid(detail: string): void {
    this.#invalidArguments++;
    this.#reporter.count('invalid_argument', detail);
  }

  #sum(keys: readonly string[], now: number, counters?: readonly CounterName[]): WindowTotals {
    let spentUsd = 0;
    let reservedUsd = 0;
    let counts: Record<CounterName, CounterTotals> | undefined;
    if (counters !== undefined) {
      counts = {};
      for (const name of counters) counts[name] = { spent: 0, reserved: 0 };
    }
    for (const key of keys) {
      const e = this.#entries.get(key);
      if (e === undefined || e.expiresAt <= now) continue;
      spentUsd += e.spent;
      reservedUsd += e.reserved;
      if (counts === undefined || e.counts === undefined) continue;
      for (const name in counts) {
        const c = e.counts[name];
        if (c === undefined) continue;
        const t = counts[name] as CounterTotals;
        t.spent += c.spent;
        t.reserved += c.reserved;
      }
    }
    return counts === undefined ? { spentUsd, reservedUsd } : { spentUsd, reservedUsd, counts };
  }

  #unreserve(
    reservation: KeyRef,
    amountUsd: number,
    counters: Amounts | undefined,
    now: number,
  ): void {
    const e = this.#entries.get(reservation.key);
    // The window expired (or was evicted) with the reservation: nothing left to give back, and
    // a negative reservation would hand out budget that was never held.
    if (e === undefined || e.expiresAt <= now) return;
    // Clamp at zero for the same reason (a double release, or the last bits of double noise).
    e.reserved = Math.max(0, e.reserved - amountUsd);
    for (const name in counters) {
      const c = e.counts?.[name];
      if (c !== undefined) c.reserved = Math.max(0, c.reserved - (counters[name] ?? 0));
    }
    this.#touch(reservation.key, e, reservation.ttlMs, now);
  }

  /** The live entry of `key`, created if needed; its expiry extends to `now + ttlMs`. */
  #entry(key: string, ttlMs: number, now: number): Entry {
    let e = this.#entries.get(key);
    if (e !== undefined && e.expiresAt <= now) {
      this.#drop(key);
      this.#expired++;
      e = undefined;
    }
    if (e === undefined) {
      if (this.#entries.size >= this.#maxKeys) this.#evict();
      e = { spent: 0, reserved: 0, counts: undefined, expiresAt: now + ttlMs };
      this.#entries.set(key, e);
      this.#push({ expiresAt: e.expiresAt, key });
    } else {
      this.#touch(key, e, ttlMs, now);
    }
    return e;
  }

  /** Extend (never shorten) an entry's life: a late settle with a short TTL must not cut short
   * a window that other callers still write. */
  #touch(key: string, e: Entry, ttlMs: number, now: number): void {
    const expiresAt = now + ttlMs;
    if (expiresAt <= e.expiresAt) return;
    e.expiresAt = expiresAt;
    this.#push({ expiresAt, key });
  }

  #drop(key: string): void {
    this.#entries.delete(key);
  }

  /** Remove every expired entry (lazy sweep: amortised O(log n) per write). */
  #sweep(now: number): void {
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined || top.expiresAt > now) return;
      this.#pop();
      const e = this.#entries.get(top.key);
      if (e !== undefined && e.expiresAt === top.expiresAt) {
        this.#drop(top.key);
        this.#expired++;
      }
    }
  }

  /** Drop the live entry expiring soonest: it is the window closest to ending anyway. */
  #evict(): void {
    for (;;) {
      const top = this.#pop();
      if (top === undefined) return;
      const e = this.#entries.get(top.key);
      if (e !== undefined && e.expiresAt === top.expiresAt) {
        this.#drop(top.key);
        this.#evictions++;
        return;
      }
    }
  }

  #push(item: HeapItem): void {
    const h = this.#heap;
    // Stale items pile up when expiries keep moving; rebuild before they outgrow the entries.
    if (h.length >= 2 * this.#entries.size + 64) {
      // The rebuilt heap already holds every entry at its current expiry, this one included.
      this.#rebuild();
      return;
    }
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as HeapItem;
      if (p.expiresAt <= item.expiresAt) break;
      h[i] = p;
      i = parent;
    }
    h[i] = item;
  }

  #pop(): HeapItem | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && (h[r] as HeapItem).expiresAt < (h[l] as HeapItem).expiresAt ? r : l;
      if ((h[c] as HeapItem).expiresAt >= last.expiresAt) break;
      h[i] = h[c] as HeapItem;
      i = c;
    }
    h[i] = last;
    return top;
  }

  #rebuild(): void {
    const items: HeapItem[] = [];
    for (const [key, e] of this.#entries) items.push({ expiresAt: e.expiresAt, key });
    items.sort((a, b) => a.expiresAt - b.expiresAt); // a sorted array is a valid min-heap
    this.#heap = items;
  }
}
