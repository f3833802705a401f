/**
 * The contract between budget definitions, windows, ledgers and the decision API
 * (docs/budgets.md, "Ledgers"). Ledgers store counters per key: USD always, and the other
 * counters a budget limits (calls, tokens) when asked to; they know nothing about dimensions,
 * windows or actions. `test/budgets/ledger-contract.ts` holds every ledger to it.
 */

/**
 * A counter kept beside USD: `llm_calls`, `tool_calls`, `tokens` (input plus output, as the
 * per-run cap counts them) or `tokens.<type>` for one token type (`tokens.input`,
 * `tokens.output`, `tokens.cacheRead`, `tokens.cacheWrite`, `tokens.reasoning`). Names are
 * letters, digits, `.` and `_` (they become field names in a store).
 */
export type CounterName = string;

/** Amounts by counter name. */
export type Amounts = Readonly<Record<CounterName, number>>;

/** One counter's totals in a window. */
export interface CounterTotals {
  /** Settled (calls made, tokens used). */
  spent: number;
  /** Held by reservations of calls in flight. */
  reserved: number;
}

/** A counter to reserve on: the amount held, and the limit it must fit under (absent or
 * `Infinity`: held, never refused). */
export interface CounterRequest {
  amount: number;
  limit?: number;
}

/** Totals of one budget window in a ledger. */
export interface WindowTotals {
  /** Settled spend in the window, USD. */
  spentUsd: number;
  /** Reservations held for calls in flight, USD. */
  reservedUsd: number;
  /** The other counters the operation named (and only those; absent when it named none),
   * summed like USD. */
  counts?: Record<CounterName, CounterTotals>;
  /** Set when the store could not be reached and the ledger's policy is to refuse spending
   * (fail-closed): the totals are only what this process last saw. */
  unavailable?: boolean;
  /** The scope's pause, when the operation named a pause key and the scope is paused. */
  paused?: PauseInfo;
}

/** Why and by whom a budget scope was paused (docs/budgets.md, "Pause and resume"). */
export interface PauseInfo {
  /** Why, in one line (`runaway loop in triage`, or the limit an `action: pause` budget hit). */
  reason: string;
  /** Who: a person (`alice@ops-1`) or `spanledger (action: pause)`. */
  by: string;
  /** When it was paused, epoch ms. */
  at: number;
  /** When it lifts by itself, epoch ms; absent: until resumed. */
  until?: number;
}

/** A paused scope as {@link BudgetLedger.pauses} lists it: its pause key and its pause. */
export interface PausedScope extends PauseInfo {
  key: string;
}

/** The outcome of `pause` or `resume` on a ledger: whether the store has it. */
export interface PauseResult {
  /** `pause`: stored; `resume`: the scope is not paused now. */
  ok: boolean;
  /** `resume`: a pause was there and was removed. */
  removed?: boolean;
  /** The store could not be reached: nothing changed (or not known to have). */
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
  /** The budget scope's pause key: when set, `reserve` refuses while the scope is paused, in the
   * same atomic step (docs/budgets.md, "Pause and resume"). It has no window TTL. */
  pauseKey?: string;
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
 * Budget state store. Every operation is atomic over all its counters (a concurrent caller never
 * sees a half-applied update, and two reservations can never both pass a limit only one fits).
 * USD amounts are doubles, never rounded; counter amounts are non-negative numbers (whole in
 * practice). Unknown or expired keys read as zeros.
 *
 * Counters are optional trailing arguments: a call that names none deals in USD alone and
 * answers totals without `counts`.
 *
 * No operation throws or rejects. An invalid amount (negative, NaN, infinite), limit or counter
 * name is counted and ignored: `reserve` answers `ok: false` with the current totals, `settle`
 * and `add` resolve to undefined, `release` does nothing. After `close()` operations still
 * answer (by the ledger's stated policy), never with an exception.
 */
export interface BudgetLedger {
  /** Reserve `amountUsd` and every counter's amount on `window.writeKey`, all or nothing, if
   * the scope is not paused (`window.pauseKey` names no live pause: otherwise `ok: false` with
   * `paused`, whatever `enforce` says) and every limit fits over readKeys: USD when sum(spent + reserved) + amountUsd <= limitUsd; a
   * counter when sum(spent + reserved) + amount <= limit, and, for an amount of zero, when
   * sum(spent + reserved) < limit (a used-up counter admits nothing more). With `enforce` false
   * the reservation is always taken (alert and degrade budgets still account for calls in
   * flight). */
  reserve(
    window: WindowRef,
    amountUsd: number,
    limitUsd: number,
    enforce: boolean,
    counters?: Readonly<Record<CounterName, CounterRequest>>,
  ): Promise<ReserveResult>;
  /** Turn a reservation into spend: `reservedUsd` (and `counters.reserved`) leaves the key it was
   * reserved on, `actualUsd` (and `counters.actual`) lands on `spend` (the bucket current at
   * settle time; the same key for calendar windows). Resolves to the `spend` key's totals right
   * after this write (atomically with it; `counts` of the counters named), or undefined when the
   * store could not be reached (the write is kept and replayed). */
  settle(
    reservation: KeyRef,
    reservedUsd: number,
    spend: KeyRef,
    actualUsd: number,
    counters?: { readonly reserved: Amounts; readonly actual: Amounts },
  ): Promise<WindowTotals | undefined>;
  /** Drop a reservation without spend (error, timeout). */
  release(reservation: KeyRef, reservedUsd: number, counters?: Amounts): Promise<void>;
  /** Record spend that had no reservation. Resolves like `settle`: the key's totals right after
   * this write, so exactly one writer sees a threshold being crossed. */
  add(spend: KeyRef, amountUsd: number, counters?: Amounts): Promise<WindowTotals | undefined>;
  /** Current totals summed over `keys`, with `counts` of the `counters` named, and `paused`
   * when `pauseKey` names a live pause. */
  get(
    keys: readonly string[],
    counters?: readonly CounterName[],
    pauseKey?: string,
  ): Promise<WindowTotals>;
  /** Pause a budget scope by its pause key until {@link resume} (or `info.until`): every
   * reservation naming the key is refused from the moment this resolves `ok`. The pause is not
   * a window key: it outlives window rollovers (and, in a shared store, processes). Replaces an
   * existing pause of the key. Optional: a ledger without it cannot pause. */
  pause?(key: string, info: PauseInfo): Promise<PauseResult>;
  /** Lift a pause (`removed: false` when there was none). */
  resume?(key: string): Promise<PauseResult>;
  /** Every live pause of the ledger (expired ones left out), or undefined when the store could
   * not be reached. */
  pauses?(): Promise<PausedScope[] | undefined>;
  /** Release resources (connections, timers); idempotent. */
  close(): Promise<void>;
  /** Counters since construction (what went wrong and how often), for `SpanLedger.stats()`. */
  stats?(): BudgetLedgerStats;
}

/** Whether a counter name is one a ledger accepts (a store field name, see {@link CounterName}). */
export function validCounterName(name: string): boolean {
  return /^[A-Za-z0-9_.]{1,64}$/.test(name);
}

/** Whether a counter reservation of `amount` fits `limit` given `used` (spent plus reserved):
 * the contract's comparison, which every ledger makes exactly this way. */
export function counterFits(used: number, amount: number, limit: number | undefined): boolean {
  if (limit === undefined || limit === Number.POSITIVE_INFINITY) return true;
  return amount > 0 ? used + amount <= limit : used < limit;
}

/** Whether a pause still holds at `nowMs` (an `until` in the past lifts it). */
export function pauseLive(info: PauseInfo, nowMs: number): boolean {
  return info.until === undefined || nowMs < info.until;
}

/** Whether pause details can be stored: a non-empty reason and author, finite instants, and an
 * `until` after `at`. */
export function validPauseInfo(info: PauseInfo | undefined): boolean {
  return (
    typeof info === 'object' &&
    info !== null &&
    typeof info.reason === 'string' &&
    info.reason.trim() !== '' &&
    typeof info.by === 'string' &&
    info.by.trim() !== '' &&
    Number.isFinite(info.at) &&
    (info.until === undefined || (Number.isFinite(info.until) && info.until > info.at))
  );
}
