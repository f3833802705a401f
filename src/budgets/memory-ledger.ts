/**
 * The in-process ledger (the default). Atomic by construction: every operation runs to
 * completion synchronously inside its promise, and Node runs one at a time. Keys expire by their
 * TTL on an injectable clock; memory is bounded by `maxKeys`. No timers: expired keys are swept
 * lazily on writes, and read as zeros before that.
 */
import type { BudgetLedger, KeyRef, ReserveResult, WindowRef, WindowTotals } from './types.js';

/** Options of {@link MemoryLedger}. */
export interface MemoryLedgerOptions {
  /** Most keys held at once; beyond it the key expiring soonest is evicted. Default 100,000. */
  maxKeys?: number;
  /** Clock in epoch ms. Default `Date.now`. */
  now?: () => number;
}

/** Counters of a {@link MemoryLedger}. */
export interface MemoryLedgerStats {
  /** Keys held now (expired keys not yet swept included). */
  keys: number;
  /** Keys dropped before their expiry because `maxKeys` was reached. */
  evictions: number;
  /** Keys removed after they expired. */
  expired: number;
}

interface Entry {
  spent: number;
  reserved: number;
  expiresAt: number;
}

/** Heap item; stale when the entry's expiry moved on or the entry is gone. */
interface HeapItem {
  expiresAt: number;
  key: string;
}

function check(amountUsd: number, what: string): void {
  // One NaN or negative amount would corrupt a window's totals until it expires.
  if (!(amountUsd >= 0) || amountUsd === Number.POSITIVE_INFINITY) {
    throw new RangeError(
      `spanledger: ${what} must be a finite non-negative USD amount, got ${amountUsd}`,
    );
  }
}

/** In-memory {@link BudgetLedger}. Money is added and subtracted as plain doubles, never rounded. */
export class MemoryLedger implements BudgetLedger {
  readonly #entries = new Map<string, Entry>();
  /** Min-heap on expiry, with lazy deletion: an item counts only if it matches its entry. */
  #heap: HeapItem[] = [];
  readonly #maxKeys: number;
  readonly #now: () => number;
  #evictions = 0;
  #expired = 0;
  #closed = false;

  constructor(options: MemoryLedgerOptions = {}) {
    const maxKeys = options.maxKeys ?? 100_000;
    if (!Number.isInteger(maxKeys) || maxKeys < 1) {
      throw new RangeError(`spanledger: maxKeys must be a positive integer, got ${maxKeys}`);
    }
    this.#maxKeys = maxKeys;
    this.#now = options.now ?? Date.now;
  }

  async reserve(
    window: WindowRef,
    amountUsd: number,
    limitUsd: number,
    enforce: boolean,
  ): Promise<ReserveResult> {
    this.#open();
    check(amountUsd, 'amountUsd');
    const now = this.#now();
    this.#sweep(now);
    const totals = this.#sum(window.readKeys, now);
    // The order of the sum is the contract's: (spent + reserved over readKeys) + amount.
    const ok = !enforce || totals.spentUsd + totals.reservedUsd + amountUsd <= limitUsd;
    if (ok) {
      this.#entry(window.writeKey, window.ttlMs, now).reserved += amountUsd;
      totals.reservedUsd += amountUsd;
    }
    return { ok, ...totals };
  }

  async settle(
    reservation: KeyRef,
    reservedUsd: number,
    spend: KeyRef,
    actualUsd: number,
  ): Promise<WindowTotals> {
    this.#open();
    check(reservedUsd, 'reservedUsd');
    check(actualUsd, 'actualUsd');
    const now = this.#now();
    this.#sweep(now);
    this.#unreserve(reservation, reservedUsd, now);
    const entry = this.#entry(spend.key, spend.ttlMs, now);
    entry.spent += actualUsd;
    return { spentUsd: entry.spent, reservedUsd: entry.reserved };
  }

  async release(reservation: KeyRef, reservedUsd: number): Promise<void> {
    this.#open();
    check(reservedUsd, 'reservedUsd');
    const now = this.#now();
    this.#sweep(now);
    this.#unreserve(reservation, reservedUsd, now);
  }

  async add(spend: KeyRef, amountUsd: number): Promise<WindowTotals> {
    this.#open();
    check(amountUsd, 'amountUsd');
    const now = this.#now();
    this.#sweep(now);
    const entry = this.#entry(spend.key, spend.ttlMs, now);
    entry.spent += amountUsd;
    return { spentUsd: entry.spent, reservedUsd: entry.reserved };
  }

  async get(keys: readonly string[]): Promise<WindowTotals> {
    this.#open();
    return this.#sum(keys, this.#now());
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#entries.clear();
    this.#heap = [];
  }

  /** Counters since construction. */
  stats(): MemoryLedgerStats {
    return { keys: this.#entries.size, evictions: this.#evictions, expired: this.#expired };
  }

  #open(): void {
    if (this.#closed) throw new Error('spanledger: the budget ledger is closed');
  }

  #sum(keys: readonly string[], now: number): WindowTotals {
    let spentUsd = 0;
    let reservedUsd = 0;
    for (const key of keys) {
      const e = this.#entries.get(key);
      if (e === undefined || e.expiresAt <= now) continue;
      spentUsd += e.spent;
      reservedUsd += e.reserved;
    }
    return { spentUsd, reservedUsd };
  }

  #unreserve(reservation: KeyRef, amountUsd: number, now: number): void {
    const e = this.#entries.get(reservation.key);
    // The window expired (or was evicted) with the reservation: nothing left to give back, and
    // a negative reservation would hand out budget that was never held.
    if (e === undefined || e.expiresAt <= now) return;
    // Clamp at zero for the same reason (a double release, or the last bits of double noise).
    e.reserved = Math.max(0, e.reserved - amountUsd);
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
      e = { spent: 0, reserved: 0, expiresAt: now + ttlMs };
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
