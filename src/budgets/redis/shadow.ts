/**
 * What one process knows about its Redis budget windows beyond Redis' last answer: the "shadow".
 * It is the base of every decision made without Redis (fail-open) and of the replay after an
 * outage (see docs/budgets.md, "When Redis is unreachable or hangs").
 *
 * Per key it holds
 * - the last totals Redis reported (`spent`, `reserved`);
 * - reservations this process took locally while Redis could not answer (never sent to Redis);
 * - writes (settle, release, add) whose effect Redis may not have: sent writes with no answer
 *   (a timeout, a lost connection: Redis may have applied them, or may still) and writes not
 *   sent at all. Each carries the sequence number it is (or will be) sent with, so a replay of a
 *   write Redis did apply is skipped by Redis (scripts.ts, APPLY): money is counted once.
 *
 * Accounting is conservative: a pending write's spend counts at once; the reservation a sent but
 * unanswered write gives back is not subtracted until Redis confirms it (if it was applied, Redis'
 * totals already show it; subtracting it again would hide spend). Unknown is never read as zero.
 *
 * Time comes from the injected clock; memory is bounded by `maxKeys` (entries expire with their
 * window's TTL).
 */
import type { Amounts, CounterName, CounterTotals, WindowTotals } from '../types.js';

/** A write's effect on one counter other than USD. */
export interface CounterWrite {
  unreserve: number;
  spent: number;
}

/** A write Redis may not have applied. */
export interface PendingWrite {
  /** Sequence number it is sent with (per writer, increasing; see scripts.ts). */
  readonly seq: number;
  /** USD of reservation given back. */
  unreserve: number;
  /** USD of spend. */
  spent: number;
  /** The same for counters other than USD (calls, tokens), when the write has any. */
  counts: Record<CounterName, CounterWrite> | undefined;
  /** Sent at least once: Redis may have applied it. An unsent write can take more amounts. */
  sent: boolean;
}

interface Entry {
  /** Reservations taken locally while Redis could not answer. */
  reserved: number;
  /** The same for counters other than USD. */
  counts: Record<CounterName, number> | undefined;
  /** In sequence order; only the last one can be unsent. */
  writes: PendingWrite[];
  ttlMs: number;
  expiresAt: number;
}

/** Options of {@link Shadow}. */
export interface ShadowOptions {
  /** Clock, epoch ms. */
  now: () => number;
  /** Most keys held (pending entries and last totals each). */
  maxKeys: number;
  /** Called when an entry cannot be created because `maxKeys` entries are live. */
  onFull(): void;
}

const positiveTtl = (ms: number): number => (Number.isFinite(ms) && ms > 0 ? ms : 1);

/** The per-process view of Redis windows (see the module comment). */
export class Shadow {
  readonly #entries = new Map<string, Entry>();
  readonly #lastKnown = new Map<string, WindowTotals>();
  /** Last counter totals Redis reported, per key (bounded with `#lastKnown`). */
  readonly #lastCounts = new Map<string, Record<CounterName, CounterTotals>>();
  readonly #now: () => number;
  readonly #maxKeys: number;
  readonly #onFull: () => void;

  constructor(options: ShadowOptions) {
    this.#now = options.now;
    this.#maxKeys = options.maxKeys;
    this.#onFull = options.onFull;
  }

  /** Keys with an entry now. */
  get size(): number {
    return this.#entries.size;
  }

  /** Pending writes across keys. */
  pendingWrites(): number {
    let n = 0;
    for (const e of this.#entries.values()) n += e.writes.length;
    return n;
  }

  /** Hold a reservation taken without Redis; false when the shadow is full. */
  reserveLocally(key: string, ttlMs: number, amountUsd: number, counts?: Amounts): boolean {
    const e = this.#entry(key, ttlMs);
    if (e === undefined) return false;
    e.reserved += amountUsd;
    for (const name in counts) {
      const n = counts[name] ?? 0;
      if (n <= 0) continue;
      e.counts ??= {};
      e.counts[name] = (e.counts[name] ?? 0) + n;
    }
    return true;
  }

  /** {@link takeLocalReservation} for counters: returns the parts reserved in Redis. */
  takeLocalCounts(key: string, counts: Amounts | undefined): Amounts | undefined {
    if (counts === undefined) return undefined;
    const e = this.#live(key);
    if (e?.counts === undefined) return counts;
    const remote: Record<CounterName, number> = {};
    for (const name in counts) {
      const want = counts[name] ?? 0;
      const local = Math.min(e.counts[name] ?? 0, want);
      if (local > 0) {
        const left = (e.counts[name] ?? 0) - local;
        if (left > 0) e.counts[name] = left;
        else delete e.counts[name];
      }
      remote[name] = want - local;
    }
    if (Object.keys(e.counts).length === 0) e.counts = undefined;
    this.#dropIfEmpty(key, e);
    return remote;
  }

  /** Applies a release or settle first to the reservations this process took locally on `key`;
   * returns the part that was reserved in Redis. */
  takeLocalReservation(key: string, amountUsd: number): number {
    const e = this.#live(key);
    if (e === undefined || e.reserved <= 0) return amountUsd;
    const local = Math.min(e.reserved, amountUsd);
    e.reserved -= local;
    if (e.reserved < 1e-12) e.reserved = 0;
    this.#dropIfEmpty(key, e);
    return amountUsd - local;
  }

  /** Whether `key` has writes Redis may not have: later writes of the key must queue behind them
   * (merged into one while Redis is away, replayed together). */
  hasPending(key: string): boolean {
    const e = this.#live(key);
    return e !== undefined && e.writes.length > 0;
  }

  /** Keep a write Redis may not have. An unsent write joins the key's last unsent one. Returns
   * the pending write (to resolve it when its late answer arrives), or undefined if the shadow
   * is full. */
  pend(
    key: string,
    ttlMs: number,
    seq: () => number,
    unreserve: number,
    spent: number,
    sent: boolean,
    counts?: Readonly<Record<CounterName, CounterWrite>>,
  ): PendingWrite | undefined {
    let any = unreserve > 0 || spent > 0;
    for (const name in counts) {
      const c = counts[name] as CounterWrite;
      if (c.unreserve > 0 || c.spent > 0) any = true;
    }
    if (!any) return undefined;
    const e = this.#entry(key, ttlMs);
    if (e === undefined) return undefined;
    const last = e.writes[e.writes.length - 1];
    if (!sent && last !== undefined && !last.sent) {
      last.unreserve += unreserve;
      last.spent += spent;
      last.counts = mergeCounts(last.counts, counts);
      return last;
    }
    const w: PendingWrite = {
      seq: seq(),
      unreserve,
      spent,
      counts: mergeCounts(undefined, counts),
      sent,
    };
    // In sequence order: a write sent before an unsent one was kept can time out after it.
    let i = e.writes.length;
    while (i > 0 && (e.writes[i - 1] as PendingWrite).seq > w.seq) i--;
    e.writes.splice(i, 0, w);
    return w;
  }

  /** The writes of `key` to send now (all of them, in order; marked sent) and the TTL to send
   * them with; undefined when none. */
  takeForReplay(key: string): { writes: PendingWrite[]; ttlMs: number } | undefined {
    const e = this.#live(key);
    if (e === undefined || e.writes.length === 0) return undefined;
    for (const w of e.writes) w.sent = true;
    return { writes: [...e.writes], ttlMs: Math.max(1, e.expiresAt - this.#now()) };
  }

  /** The smallest sequence number pending on `key`, if any. */
  minSeq(key: string): number | undefined {
    return this.#live(key)?.writes[0]?.seq;
  }

  /** Redis confirmed these writes (applied now or before): forget them. */
  resolve(key: string, writes: readonly PendingWrite[]): void {
    const e = this.#entries.get(key);
    if (e === undefined) return;
    const done = new Set(writes);
    e.writes = e.writes.filter((w) => !done.has(w));
    this.#dropIfEmpty(key, e);
  }

  /** Keys with pending writes, oldest entry first. */
  pendingKeys(): string[] {
    this.#purge();
    const keys: string[] = [];
    for (const [key, e] of this.#entries) if (e.writes.length > 0) keys.push(key);
    return keys;
  }

  /** What this process holds for `keys` outside Redis' last answer (see the module comment). */
  held(keys: readonly string[]): WindowTotals {
    let spentUsd = 0;
    let reservedUsd = 0;
    for (const key of keys) {
      const e = this.#live(key);
      if (e === undefined) continue;
      reservedUsd += e.reserved;
      for (const w of e.writes) {
        spentUsd += w.spent;
        // Only a write Redis certainly has not seen may give its reservation back here.
        if (!w.sent) reservedUsd -= w.unreserve;
      }
    }
    return { spentUsd, reservedUsd };
  }

  /** {@link held} for counters other than USD. */
  heldCounts(
    keys: readonly string[],
    names: readonly CounterName[],
  ): Record<CounterName, CounterTotals> {
    const out: Record<CounterName, CounterTotals> = {};
    for (const name of names) out[name] = { spent: 0, reserved: 0 };
    for (const key of keys) {
      const e = this.#live(key);
      if (e === undefined) continue;
      for (const name of names) {
        const t = out[name] as CounterTotals;
        t.reserved += e.counts?.[name] ?? 0;
        for (const w of e.writes) {
          const c = w.counts?.[name];
          if (c === undefined) continue;
          t.spent += c.spent;
          if (!w.sent) t.reserved -= c.unreserve;
        }
      }
    }
    return out;
  }

  /** {@link local} for counters other than USD. */
  localCounts(
    keys: readonly string[],
    names: readonly CounterName[],
  ): Record<CounterName, CounterTotals> {
    const out = this.heldCounts(keys, names);
    for (const key of keys) {
      const known = this.#lastCounts.get(key);
      if (known === undefined) continue;
      for (const name of names) {
        const k = known[name];
        if (k === undefined) continue;
        const t = out[name] as CounterTotals;
        t.spent += k.spent;
        t.reserved += k.reserved;
      }
    }
    for (const name of names) {
      const t = out[name] as CounterTotals;
      t.reserved = Math.max(0, t.reserved);
    }
    return out;
  }

  /** The last counter totals Redis reported for `key` (zeros for counters it never reported). */
  lastKnownCounts(key: string, names: readonly CounterName[]): Record<CounterName, CounterTotals> {
    const known = this.#lastCounts.get(key);
    const out: Record<CounterName, CounterTotals> = {};
    for (const name of names) {
      const k = known?.[name];
      out[name] = { spent: k?.spent ?? 0, reserved: k?.reserved ?? 0 };
    }
    return out;
  }

  /** Records one key's counter totals from a script reply (`spent, reserved` string pairs, one per
   * name, from `offset`) and adds them into `sum`. */
  rememberCounts(
    key: string,
    names: readonly CounterName[],
    reply: readonly unknown[],
    offset: number,
    sum: Record<CounterName, CounterTotals>,
  ): void {
    if (names.length === 0) return;
    let known = this.#lastCounts.get(key);
    if (known === undefined) {
      if (this.#lastCounts.size >= this.#maxKeys) {
        const oldest = this.#lastCounts.keys().next().value;
        if (oldest !== undefined) this.#lastCounts.delete(oldest);
      }
      known = {};
      this.#lastCounts.set(key, known);
    }
    names.forEach((name, j) => {
      const s = Number(reply[offset + 2 * j] ?? 0);
      const r = Number(reply[offset + 2 * j + 1] ?? 0);
      const t = { spent: Number.isFinite(s) ? s : 0, reserved: Number.isFinite(r) ? r : 0 };
      (known as Record<CounterName, CounterTotals>)[name] = t;
      const into = sum[name];
      if (into !== undefined) {
        into.spent += t.spent;
        into.reserved += t.reserved;
      }
    });
  }

  /** Best totals without Redis: the last totals Redis reported plus {@link held}. */
  local(keys: readonly string[]): WindowTotals {
    const held = this.held(keys);
    let { spentUsd, reservedUsd } = held;
    for (const key of keys) {
      const known = this.#lastKnown.get(key);
      if (known === undefined) continue;
      spentUsd += known.spentUsd;
      reservedUsd += known.reservedUsd;
    }
    return { spentUsd, reservedUsd: Math.max(0, reservedUsd) };
  }

  /** The last totals Redis reported for `key`. */
  lastKnown(key: string): WindowTotals | undefined {
    return this.#lastKnown.get(key);
  }

  /** Records the per-key totals of a script reply (`spent, reserved` string pairs from
   * `offset`) and returns their sum. */
  remember(keys: readonly string[], reply: readonly unknown[], offset: number): WindowTotals {
    let spentUsd = 0;
    let reservedUsd = 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const s = Number(reply[offset + 2 * i] ?? 0);
      const r = Number(reply[offset + 2 * i + 1] ?? 0);
      const totals = {
        spentUsd: Number.isFinite(s) ? s : 0,
        reservedUsd: Number.isFinite(r) ? r : 0,
      };
      spentUsd += totals.spentUsd;
      reservedUsd += totals.reservedUsd;
      // Least recently answered first out when full.
      if (this.#lastKnown.has(key)) this.#lastKnown.delete(key);
      else if (this.#lastKnown.size >= this.#maxKeys) {
        const oldest = this.#lastKnown.keys().next().value;
        if (oldest !== undefined) this.#lastKnown.delete(oldest);
      }
      this.#lastKnown.set(key, totals);
    }
    return { spentUsd, reservedUsd };
  }

  #live(key: string): Entry | undefined {
    const e = this.#entries.get(key);
    if (e !== undefined && e.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }

  #entry(key: string, ttlMs: number): Entry | undefined {
    const now = this.#now();
    let e = this.#live(key);
    if (e === undefined) {
      if (this.#entries.size >= this.#maxKeys) this.#purge();
      if (this.#entries.size >= this.#maxKeys) {
        this.#onFull();
        return undefined;
      }
      e = { reserved: 0, counts: undefined, writes: [], ttlMs: 0, expiresAt: 0 };
      this.#entries.set(key, e);
    }
    const ms = positiveTtl(ttlMs);
    e.ttlMs = Math.max(e.ttlMs, ms);
    e.expiresAt = Math.max(e.expiresAt, now + ms);
    return e;
  }

  #dropIfEmpty(key: string, e: Entry): void {
    if (e.reserved === 0 && e.counts === undefined && e.writes.length === 0) {
      this.#entries.delete(key);
    }
  }

  /** Drop the entries whose window has expired. */
  #purge(): void {
    const now = this.#now();
    for (const [key, e] of this.#entries) if (e.expiresAt <= now) this.#entries.delete(key);
  }
}

/** Add counter writes into `a` (a copy is made when `a` is undefined). */
function mergeCounts(
  a: Record<CounterName, CounterWrite> | undefined,
  b: Readonly<Record<CounterName, CounterWrite>> | undefined,
): Record<CounterName, CounterWrite> | undefined {
  if (b === undefined) return a;
  const out = a ?? {};
  for (const name in b) {
    const add = b[name] as CounterWrite;
    const c = out[name];
    if (c === undefined) out[name] = { unreserve: add.unreserve, spent: add.spent };
    else {
      c.unreserve += add.unreserve;
      c.spent += add.spent;
    }
  }
  return out;
}
