/**
 * The contract between budget definitions, windows, ledgers and the decision API
 * (docs/budgets.md, "Ledgers"). Ledgers store money per key; they know nothing about dimensions,
 * windows or actions. `test/budgets/ledger-contract.ts` holds every ledger to it.
 */

/** Totals of one budget window in a ledger. */
export interface WindowTotals {
  /** Settled spend in the window, USD. */
  spentUsd: number;
  /** Reservations held for calls in flight, USD. */
  reservedUsd: number;
  /** Set when the store could not be reached and the ledger's policy is to refuse spending
   * (fail-closed): the totals are only what this process last saw. */
  unavailable?: boolean;
}

/** Result of a reservation attempt. */
export interface ReserveResult extends WindowTotals {
  /** Whether the reservation was taken. Totals are after the attempt. */
  ok: boolean;
}

/**
 * Where a window lives in a ledger. A calendar window is one key (`readKeys` = [`writeKey`]);
 * a rolling window is a set of time buckets: writes go to the current bucket, the limit applies
 * to the sum over the buckets still inside the window.
 */
export interface WindowRef {
  /** Key written now (the calendar window, or the current bucket). */
  writeKey: string;
  /** Keys whose totals count toward the limit (includes `writeKey`). */
  readKeys: readonly string[];
  /** How long `writeKey` must live after this write: the window's remaining length plus grace,
   * so windows expire by themselves. */
  ttlMs: number;
}

/** A key and its time to live, for writes that target a specific bucket. */
export interface KeyRef {
  key: string;
  ttlMs: number;
}

/** A ledger's counters, by name (e.g. `keys`, `redisTimeout`), and its problems by kind. */
export type BudgetLedgerStats = {
  readonly [counter: string]: number | { readonly [kind: string]: number };
};

/**
 * Budget state store. Every operation is atomic (a concurrent caller never sees a half-applied
 * update, and two reservations can never both pass a limit only one fits). Amounts are USD
 * doubles, never rounded. Unknown or expired keys read as zeros.
 *
 * No operation throws or rejects. An invalid amount (negative, NaN, infinite) or limit is
 * counted and ignored: `reserve` answers `ok: false` with the current totals, `settle` and `add`
 * resolve to undefined, `release` does nothing. After `close()` operations still answer (by the
 * ledger's stated policy), never with an exception.
 */
export interface BudgetLedger {
  /** Reserve `amountUsd` on `window.writeKey` if sum(spent + reserved over readKeys) +
   * amountUsd <= limitUsd. With `enforce` false the reservation is always taken (alert and
   * degrade budgets still account for calls in flight). */
  reserve(
    window: WindowRef,
    amountUsd: number,
    limitUsd: number,
    enforce: boolean,
  ): Promise<ReserveResult>;
  /** Turn a reservation into spend: `reservedUsd` leaves the key it was reserved on, `actualUsd`
   * lands on `spend` (the bucket current at settle time; the same key for calendar windows).
   * Resolves to the `spend` key's totals right after this write (atomically with it), or
   * undefined when the store could not be reached (the write is kept and replayed). */
  settle(
    reservation: KeyRef,
    reservedUsd: number,
    spend: KeyRef,
    actualUsd: number,
  ): Promise<WindowTotals | undefined>;
  /** Drop a reservation without spend (error, timeout). */
  release(reservation: KeyRef, reservedUsd: number): Promise<void>;
  /** Record spend that had no reservation. Resolves like `settle`: the key's totals right after
   * this write, so exactly one writer sees a threshold being crossed. */
  add(spend: KeyRef, amountUsd: number): Promise<WindowTotals | undefined>;
  /** Current totals summed over `keys`. */
  get(keys: readonly string[]): Promise<WindowTotals>;
  /** Release resources (connections, timers); idempotent. */
  close(): Promise<void>;
  /** Counters since construction (what went wrong and how often), for `SpanLedger.stats()`. */
  stats?(): BudgetLedgerStats;
}
