/**
 * `RedisLedger`: the {@link BudgetLedger} for budgets shared by many processes or hosts
 * (docs/budgets.md, "Redis ledger"). Its parts:
 * - `redis/scripts.ts`: the Lua scripts (atomic reserve; idempotent writes) and how they are sent;
 * - `redis/connection.ts`: the client, deadlines, and what a failed call means;
 * - `redis/shadow.ts`: what this process holds beyond Redis' last answer, the base of decisions
 *   without Redis and of the replay (on an injected clock).
 *
 * Key layout: one Redis HASH per ledger key, `<keyPrefix><key>` (default prefix empty: the window
 * keys start with `spanledger:b:`), with the fields `spent` and `reserved` (USD), `spent:<counter>`
 * and `reserved:<counter>` for the other counters a budget limits (calls, tokens), and one
 * `w:<writer>` field per writing ledger instance (which of its write sequence numbers were
 * applied, so a replayed write is never counted twice; see redis/scripts.ts). Every write sets `PEXPIRE` to the window's `ttlMs`, so
 * windows expire by themselves. With Redis Cluster, all keys of one operation share a slot: the
 * window keys carry a hash tag per budget scope (`{budget:scope}`, see `window.ts`), so the
 * prefix must not contain braces.
 *
 * Pauses (docs/budgets.md, "Pause and resume"): a HASH per paused scope at its pause key
 * (`reason`, `by`, `at`, `until`), with no window TTL, read by the reserve script in the same step
 * as the limits; a SET `spanledger:b:{pauses}` indexes them for `pauses()`.
 *
 * Failure policy, when Redis is unreachable, hangs, or is slower than `timeoutMs`:
 * `failure: 'closed'` → `reserve` answers `ok: false, unavailable: true`; `failure: 'open'`
 * (default) → `reserve` is decided locally against the last totals seen from Redis plus what this
 * process has reserved and spent since, including writes whose outcome is unknown, and refused
 * for a scope this process last saw paused. Writes Redis
 * may have missed are kept and replayed with their sequence numbers. No operation throws or
 * rejects; problems are reported once per kind through OTel `diag` and counted in `stats()`.
 */
import { randomBytes } from 'node:crypto';
import { Reporter } from '../diag.js';
import { type Check, checkOptionObject } from '../options.js';
import {
  type ConnectionCounters,
  checkClusterOption,
  clusterSeeds,
  type RedisClusterOption,
  RedisConnection,
  type RedisLedgerClient,
  type RedisLedgerClusterClient,
} from './redis/connection.js';
import { SCRIPTS } from './redis/scripts.js';
import { type CounterWrite, type PendingWrite, Shadow } from './redis/shadow.js';
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

export type {
  RedisClusterOption,
  RedisLedgerClient,
  RedisLedgerClusterClient,
} from './redis/connection.js';

/** Options of {@link RedisLedger}. Checked once at construction: unknown keys and bad values
 * throw a `TypeError` naming both. */
export interface RedisLedgerOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379` (used when no `client` is given). Default
   * `redis://127.0.0.1:6379`. */
  url?: string;
  /** An existing node-redis client, or cluster client (`createCluster()`), connected by its
   * owner. The ledger neither connects nor closes it, and relies on its reconnect settings. */
  client?: RedisLedgerClient | RedisLedgerClusterClient;
  /** A Redis Cluster by its seed nodes, instead of `url` (docs/budgets.md, "Redis Cluster"). */
  cluster?: RedisClusterOption;
  /** Prefix of every key, e.g. per environment. Default empty (window keys start with
   * `spanledger:b:`). No braces (Redis Cluster hash tags). */
  keyPrefix?: string;
  /** Deadline of one operation, ms; a slower Redis is treated as unavailable. Default 50. */
  timeoutMs?: number;
  /** What `reserve` answers when Redis is unreachable, hung or slow. Default `open`. */
  failure?: 'open' | 'closed';
  /** Clock of the shadow (local totals, their expiry), epoch ms. Default `Date.now`. */
  now?: () => number;
}

/** Counters since construction (see {@link RedisLedger.stats}). */
export type RedisLedgerStats = ConnectionCounters & {
  /** Operations called (reserve, settle, release, add, get). */
  operations: number;
  /** `reserve` calls decided without Redis (by the failure policy). */
  degradedReserves: number;
  /** `SCRIPT LOAD` commands sent (one per script on first use, restart or `SCRIPT FLUSH`). */
  scriptLoads: number;
  /** Reservations a timed-out `reserve` took in Redis after its caller had been answered,
   * released again so they do not hold budget. */
  lateReleases: number;
  /** Writes kept in the shadow since construction because Redis may not have had them. */
  keptWrites: number;
  /** Writes kept now, not yet confirmed by Redis (0 once everything is written). */
  pendingWrites: number;
  /** Writes whose late answer confirmed them (applied once, nothing to replay). */
  lateConfirmed: number;
  /** Writes sent again from the shadow, and those of them Redis had applied already (skipped
   * by their sequence number: never counted twice). */
  replayedWrites: number;
  replaysSkipped: number;
  /** Keys in the shadow now (pending writes or local reservations). */
  shadowKeys: number;
  /** Arguments rejected (negative, NaN or infinite amounts): the operation did nothing. */
  invalidArguments: number;
  /** Run-time problems by kind, as reported through OTel diag. */
  problems: Record<string, number>;
};

// Window keys already carry `spanledger:b:` (budgets/window.ts): no second namespace by default.
const DEFAULT_TIMEOUT_MS = 50;
/** Bounds the per-key memory (shadow, last totals) whatever the number of windows. */
const MAX_KEYS = 10_000;
/** Interval of the replay's retries while writes are pending, ms. */
const RETRY_MS = 250;

/** The index of paused scopes (a set of pause keys; docs/budgets.md, "Pause and resume"). Its
 * hash tag has no `:`, so it is never a budget scope's. */
const PAUSE_INDEX = 'spanledger:b:{pauses}';

/** A pause as the scripts return it (reason, by, at, until; '' for no until) from `offset`. */
function pauseOf(reply: readonly unknown[], offset: number): PauseInfo | undefined {
  const reason = reply[offset];
  if (typeof reason !== 'string') return undefined;
  const until = String(reply[offset + 3] ?? '');
  return {
    reason,
    by: String(reply[offset + 1] ?? ''),
    at: Number(reply[offset + 2] ?? 0),
    ...(until !== '' ? { until: Number(until) } : {}),
  };
}

/** Money as it is written to Redis: the shortest string that round-trips the double. */
const usd = (n: number): string => String(n);
const ttl = (ms: number): string => String(Math.max(1, Math.ceil(Number.isFinite(ms) ? ms : 1)));
const validAmount = (n: number): boolean => typeof n === 'number' && Number.isFinite(n) && n >= 0;
const validAmounts = (a: Amounts | undefined): boolean => {
  if (a === undefined) return true;
  for (const k in a) if (!validCounterName(k) || !validAmount(a[k] as number)) return false;
  return true;
};
const validLimit = (l: number | undefined): boolean =>
  l === undefined || l === Number.POSITIVE_INFINITY || Number.isFinite(l);
const describe = (counters: object | undefined): string =>
  counters === undefined ? '' : `, ${JSON.stringify(counters)}`;

/** Totals with the `counts` of `names` added (none named: USD alone, as the contract says). */
function withCounts(
  totals: WindowTotals,
  names: readonly CounterName[] | undefined,
  counts: Record<CounterName, CounterTotals> | undefined,
): WindowTotals {
  return names === undefined || counts === undefined ? totals : { ...totals, counts };
}

/** Sum two sets of counter totals (reservations never below zero). */
function addCounts(
  a: Record<CounterName, CounterTotals>,
  b: Record<CounterName, CounterTotals>,
): Record<CounterName, CounterTotals> {
  const out: Record<CounterName, CounterTotals> = {};
  for (const name in a) {
    const x = a[name] as CounterTotals;
    const y = b[name] ?? { spent: 0, reserved: 0 };
    out[name] = { spent: x.spent + y.spent, reserved: Math.max(0, x.reserved + y.reserved) };
  }
  return out;
}

const OPTION_CHECKS: Readonly<Record<keyof RedisLedgerOptions, Check>> = {
  url: (v) =>
    typeof v === 'string' && /^rediss?:\/\//.test(v)
      ? undefined
      : 'must be a redis:// or rediss:// URL',
  client: (v) =>
    typeof v === 'object' &&
    v !== null &&
    typeof (v as RedisLedgerClient).sendCommand === 'function'
      ? undefined
      : 'must be a node-redis client (with sendCommand)',
  cluster: checkClusterOption,
  keyPrefix: (v) =>
    typeof v === 'string' && !/[{}]/.test(v) ? undefined : 'must be a string without braces',
  timeoutMs: (v) =>
    typeof v === 'number' && Number.isFinite(v) && v > 0
      ? undefined
      : 'must be a positive number of milliseconds',
  failure: (v) => (v === 'open' || v === 'closed' ? undefined : "must be 'open' or 'closed'"),
  now: (v) => (typeof v === 'function' ? undefined : 'must be a function returning epoch ms'),
};

/** One part of a write: what it does to one key. */
interface WritePart {
  ref: KeyRef;
  unreserve: number;
  spent: number;
  /** The same for counters other than USD. */
  counts?: Record<CounterName, CounterWrite> | undefined;
}

/** Counter writes of a settle, release or add (undefined when it names no counter). */
function counterWrites(
  unreserve: Amounts | undefined,
  spent: Amounts | undefined,
): Record<CounterName, CounterWrite> | undefined {
  if (unreserve === undefined && spent === undefined) return undefined;
  const out: Record<CounterName, CounterWrite> = {};
  for (const name in unreserve) out[name] = { unreserve: unreserve[name] ?? 0, spent: 0 };
  for (const name in spent) {
    const c = out[name] ?? { unreserve: 0, spent: 0 };
    c.spent += spent[name] ?? 0;
    out[name] = c;
  }
  return out;
}

/** The ARGV of one key's writes in APPLY (scripts.ts): counter names, then per write its
 * sequence number, USD and one pair per counter. */
function applyArgs(
  ttlMs: number,
  low: number,
  writes: readonly {
    seq: number;
    unreserve: number;
    spent: number;
    counts?: Record<CounterName, CounterWrite> | undefined;
  }[],
): { args: string[]; names: CounterName[] } {
  const names = [...new Set(writes.flatMap((w) => (w.counts ? Object.keys(w.counts) : [])))];
  const args = [ttl(ttlMs), String(low), String(writes.length), String(names.length), ...names];
  for (const w of writes) {
    args.push(String(w.seq), usd(w.unreserve), usd(w.spent));
    for (const name of names) {
      const c = w.counts?.[name];
      args.push(usd(c?.unreserve ?? 0), usd(c?.spent ?? 0));
    }
  }
  return { args, names };
}

/** The Redis ledger: see the module comment and docs/budgets.md. */
export class RedisLedger implements BudgetLedger {
  readonly #prefix: string;
  readonly #failure: 'open' | 'closed';
  readonly #reporter = new Reporter();
  readonly #conn: RedisConnection;
  readonly #shadow: Shadow;
  /** This instance's field in every key it writes (see redis/scripts.ts, APPLY). */
  readonly #writer = `w:${randomBytes(8).toString('hex')}`;
  readonly #now: () => number;
  /** Each pause key's state as Redis last answered it (undefined: not paused), for decisions
   * made without Redis under fail-open: a scope last seen paused stays paused. Bounded. */
  readonly #lastPause = new Map<string, PauseInfo | undefined>();
  #seq = 0;
  readonly #inFlight = new Map<string, Set<number>>();
  #flushing = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #counters = {
    operations: 0,
    degradedReserves: 0,
    lateReleases: 0,
    keptWrites: 0,
    lateConfirmed: 0,
    replayedWrites: 0,
    replaysSkipped: 0,
    invalidArguments: 0,
  };

  constructor(options: RedisLedgerOptions = {}) {
    const o = checkOptionObject<RedisLedgerOptions>('new RedisLedger', options, OPTION_CHECKS);
    this.#prefix = o.keyPrefix ?? '';
    this.#failure = o.failure ?? 'open';
    this.#now = o.now ?? Date.now;
    this.#shadow = new Shadow({
      now: o.now ?? Date.now,
      maxKeys: MAX_KEYS,
      onFull: () =>
        this.#reporter.count(
          'shadow_full',
          `more than ${MAX_KEYS} keys held while Redis does not answer`,
        ),
    });
    this.#conn = new RedisConnection({
      url: o.url ?? 'redis://127.0.0.1:6379',
      clusterUrls: clusterSeeds(o),
      client: o.client,
      timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      reporter: this.#reporter,
      policy:
        this.#failure === 'open'
          ? "fail-open: reserve decides from the last totals seen plus this process' own reservations and spend; writes are kept and replayed"
          : 'fail-closed: reserve refuses; writes are kept and replayed',
      onUsable: () => this.#maybeFlush(),
    });
  }

  /** Resolves true once Redis answers (own client: first connection made), false if it does not
   * within `timeoutMs` (default 5 s). Operations never need this; it is for startup checks. */
  async ready(timeoutMs = 5_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed && Date.now() < deadline) {
      if (this.#conn.usable()) {
        const r = await this.#conn.call(SCRIPTS.get, [], []);
        if (r.ok) return true;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return false;
  }

  async reserve(
    window: WindowRef,
    amountUsd: number,
    limitUsd: number,
    enforce: boolean,
    counters?: Readonly<Record<CounterName, CounterRequest>>,
  ): Promise<ReserveResult> {
    this.#counters.operations++;
    const readKeys = [window.writeKey, ...window.readKeys.filter((k) => k !== window.writeKey)];
    const requests = counters ?? {};
    const names = counters === undefined ? undefined : Object.keys(counters);
    // An infinite limit is no limit; NaN or -Infinity cannot be compared with.
    const enforceLimit = enforce && limitUsd !== Number.POSITIVE_INFINITY;
    let badCounter = false;
    for (const name of names ?? []) {
      const c = requests[name] as CounterRequest;
      if (!validCounterName(name) || !validAmount(c.amount) || (enforce && !validLimit(c.limit))) {
        badCounter = true;
      }
    }
    if (!validAmount(amountUsd) || (enforceLimit && !Number.isFinite(limitUsd)) || badCounter) {
      this.#invalid(`reserve(${amountUsd}, limit ${limitUsd}${describe(counters)})`);
      return { ok: false, ...this.#local(readKeys, names) };
    }
    this.#maybeFlush();
    const held = this.#shadow.held(readKeys);
    const heldCounts = names === undefined ? undefined : this.#shadow.heldCounts(readKeys, names);
    const args = [
      usd(amountUsd),
      enforceLimit ? usd(limitUsd) : '0',
      enforceLimit ? '1' : '0',
      ttl(window.ttlMs),
      usd(held.spentUsd + held.reservedUsd),
      String(names?.length ?? 0),
    ];
    for (const name of names ?? []) {
      const c = requests[name] as CounterRequest;
      const h = heldCounts?.[name] as CounterTotals;
      const limited = enforce && c.limit !== undefined && c.limit !== Number.POSITIVE_INFINITY;
      args.push(
        name,
        usd(c.amount),
        limited ? usd(c.limit as number) : '',
        usd(h.spent + h.reserved),
      );
    }
    const pauseKey = window.pauseKey;
    const keys = this.#keys(readKeys);
    if (pauseKey !== undefined) {
      keys.push(this.#prefix + pauseKey);
      args.push('#paused');
    }
    const r = await this.#conn.call(SCRIPTS.reserve, keys, args);
    if (r.ok) {
      const reply = r.reply as unknown[];
      const remote = this.#shadow.remember(readKeys, reply, 1);
      const totals: ReserveResult = {
        ok: reply[0] === 1,
        spentUsd: remote.spentUsd + held.spentUsd,
        reservedUsd: remote.reservedUsd + held.reservedUsd,
      };
      if (pauseKey !== undefined) {
        const paused = pauseOf(reply, 1 + 2 * readKeys.length * (1 + (names?.length ?? 0)));
        this.#seenPause(pauseKey, paused);
        if (paused !== undefined) totals.paused = paused;
      }
      if (names === undefined || heldCounts === undefined) return totals;
      const sum = this.#zeros(names);
      readKeys.forEach((key, i) => {
        const offset = 1 + 2 * readKeys.length + 2 * i * names.length;
        this.#shadow.rememberCounts(key, names, reply, offset, sum);
      });
      return { ...totals, counts: addCounts(sum, heldCounts) };
    }
    this.#counters.degradedReserves++;
    const amounts: Record<CounterName, number> = {};
    for (const name of names ?? []) amounts[name] = (requests[name] as CounterRequest).amount;
    // A timed-out script may still run. Whatever this call answers, its reservation (if any) is
    // not the one in Redis: fail-closed said no, fail-open holds it in the shadow. So a late
    // success is released again, or it would hold budget until the window expires.
    r.late?.then(
      (reply) => {
        if (!Array.isArray(reply)) return;
        this.#shadow.remember(readKeys, reply, 1);
        if (reply[0] === 1) {
          const counts = names === undefined ? undefined : counterWrites(amounts, undefined);
          if (amountUsd <= 0 && !Object.values(amounts).some((n) => n > 0)) return;
          this.#counters.lateReleases++;
          const ref = { key: window.writeKey, ttlMs: window.ttlMs };
          void this.#write([{ ref, unreserve: amountUsd, spent: 0, counts }], ref.key);
        }
      },
      () => {
        // Failed late: nothing was reserved (or, if the reply alone was lost, the reservation
        // stays until the window expires, which errs on the safe side).
      },
    );
    const totals = this.#local(readKeys, names);
    if (this.#failure === 'closed') return { ok: false, ...totals, unavailable: true };
    // Fail-open: a scope last seen paused stays paused (a pause issued meanwhile arrives with
    // Redis' next answer).
    const paused = this.#lastPaused(pauseKey);
    if (paused !== undefined) return { ok: false, ...totals, paused };
    // The contract's comparison, exactly as MemoryLedger makes it (no tolerance).
    let fits = !enforceLimit || totals.spentUsd + totals.reservedUsd + amountUsd <= limitUsd;
    for (const name of enforce ? (names ?? []) : []) {
      const t = totals.counts?.[name] as CounterTotals;
      const c = requests[name] as CounterRequest;
      if (!counterFits(t.spent + t.reserved, c.amount, c.limit)) fits = false;
    }
    // A reservation the shadow cannot hold (full) is refused: it could not be accounted for.
    if (!fits || !this.#shadow.reserveLocally(window.writeKey, window.ttlMs, amountUsd, amounts)) {
      return { ok: false, ...totals };
    }
    const counts = totals.counts;
    for (const name of names ?? []) {
      const t = counts?.[name] as CounterTotals;
      t.reserved += amounts[name] ?? 0;
    }
    return {
      ok: true,
      ...totals,
      spentUsd: totals.spentUsd,
      reservedUsd: totals.reservedUsd + amountUsd,
    };
  }

  async settle(
    reservation: KeyRef,
    reservedUsd: number,
    spend: KeyRef,
    actualUsd: number,
    counters?: { readonly reserved: Amounts; readonly actual: Amounts },
  ): Promise<WindowTotals | undefined> {
    this.#counters.operations++;
    if (
      !validAmount(reservedUsd) ||
      !validAmount(actualUsd) ||
      !validAmounts(counters?.reserved) ||
      !validAmounts(counters?.actual)
    ) {
      this.#invalid(`settle(${reservedUsd}, ${actualUsd}${describe(counters)})`);
      return undefined;
    }
    this.#maybeFlush();
    const unreserve = this.#shadow.takeLocalReservation(reservation.key, reservedUsd);
    const unreserveCounts = this.#shadow.takeLocalCounts(reservation.key, counters?.reserved);
    const names =
      counters === undefined
        ? undefined
        : [...new Set([...Object.keys(counters.reserved), ...Object.keys(counters.actual)])];
    return this.#write(
      [
        {
          ref: reservation,
          unreserve,
          spent: 0,
          counts: counters === undefined ? undefined : counterWrites(unreserveCounts, undefined),
        },
        {
          ref: spend,
          unreserve: 0,
          spent: actualUsd,
          counts: counters === undefined ? undefined : counterWrites(undefined, counters.actual),
        },
      ],
      spend.key,
      names,
    );
  }

  async release(reservation: KeyRef, reservedUsd: number, counters?: Amounts): Promise<void> {
    this.#counters.operations++;
    if (!validAmount(reservedUsd) || !validAmounts(counters)) {
      this.#invalid(`release(${reservedUsd}${describe(counters)})`);
      return;
    }
    this.#maybeFlush();
    const unreserve = this.#shadow.takeLocalReservation(reservation.key, reservedUsd);
    const unreserveCounts = this.#shadow.takeLocalCounts(reservation.key, counters);
    const counts = counterWrites(unreserveCounts, undefined);
    const any = unreserve > 0 || Object.values(unreserveCounts ?? {}).some((n) => n > 0);
    if (any) {
      await this.#write([{ ref: reservation, unreserve, spent: 0, counts }], reservation.key);
    }
  }

  async add(
    spend: KeyRef,
    amountUsd: number,
    counters?: Amounts,
  ): Promise<WindowTotals | undefined> {
    this.#counters.operations++;
    if (!validAmount(amountUsd) || !validAmounts(counters)) {
      this.#invalid(`add(${amountUsd}${describe(counters)})`);
      return undefined;
    }
    this.#maybeFlush();
    return this.#write(
      [{ ref: spend, unreserve: 0, spent: amountUsd, counts: counterWrites(undefined, counters) }],
      spend.key,
      counters === undefined ? undefined : Object.keys(counters),
    );
  }

  async get(
    keys: readonly string[],
    counters?: readonly CounterName[],
    pauseKey?: string,
  ): Promise<WindowTotals> {
    this.#counters.operations++;
    const unique = [...new Set(keys)];
    const names = counters === undefined ? undefined : [...new Set(counters)];
    if (names !== undefined && !names.every(validCounterName)) {
      this.#invalid(`get(${JSON.stringify(names)})`);
      return this.#local(unique, names?.filter(validCounterName));
    }
    if (unique.length === 0 && pauseKey === undefined) {
      return withCounts({ spentUsd: 0, reservedUsd: 0 }, names, this.#zeros(names ?? []));
    }
    this.#maybeFlush();
    const sent = this.#keys(unique);
    const args = [...(names ?? [])];
    if (pauseKey !== undefined) {
      sent.push(this.#prefix + pauseKey);
      args.unshift('#paused');
    }
    const r = await this.#conn.call(SCRIPTS.get, sent, args);
    if (!r.ok) {
      const totals: WindowTotals = this.#local(unique, names);
      const paused = this.#lastPaused(pauseKey);
      if (paused !== undefined) totals.paused = paused;
      return this.#failure === 'closed' ? { ...totals, unavailable: true } : totals;
    }
    const reply = r.reply as unknown[];
    const remote = this.#shadow.remember(unique, reply, 0);
    const held = this.#shadow.held(unique);
    const totals: WindowTotals = {
      spentUsd: remote.spentUsd + held.spentUsd,
      reservedUsd: Math.max(0, remote.reservedUsd + held.reservedUsd),
    };
    if (pauseKey !== undefined) {
      const paused = pauseOf(reply, 2 * unique.length * (1 + (names?.length ?? 0)));
      this.#seenPause(pauseKey, paused);
      if (paused !== undefined) totals.paused = paused;
    }
    if (names === undefined) return totals;
    const sum = this.#zeros(names);
    unique.forEach((key, i) => {
      this.#shadow.rememberCounts(key, names, reply, 2 * unique.length + 2 * i * names.length, sum);
    });
    return { ...totals, counts: addCounts(sum, this.#shadow.heldCounts(unique, names)) };
  }

  /** Pauses a budget scope for every process sharing this Redis (docs/budgets.md, "Pause and
   * resume"): the pause key first (from then on every reservation naming it is refused), then
   * the index `pauses()` lists. `unavailable` when Redis did not confirm the pause. */
  async pause(key: string, info: PauseInfo): Promise<PauseResult> {
    this.#counters.operations++;
    if (typeof key !== 'string' || key === '' || !validPauseInfo(info)) {
      this.#invalid(`pause(${JSON.stringify(key)}, ${JSON.stringify(info)})`);
      return { ok: false };
    }
    const until = info.until === undefined ? '' : String(Math.ceil(info.until));
    const r = await this.#conn.call(
      SCRIPTS.pause,
      [this.#prefix + key],
      ['set', info.reason, info.by, String(Math.floor(info.at)), until],
    );
    if (!r.ok) return { ok: false, unavailable: true };
    this.#seenPause(key, { ...info });
    const indexed = await this.#conn.call(
      SCRIPTS.pause,
      [this.#prefix + PAUSE_INDEX],
      ['index-add', key],
    );
    // The pause holds; only the listing would miss it. Said, not hidden.
    if (!indexed.ok) this.#reporter.count('pause_index', `pause of ${key} not listed`);
    return { ok: true };
  }

  /** Lifts a pause (and drops it from the index). */
  async resume(key: string): Promise<PauseResult> {
    this.#counters.operations++;
    if (typeof key !== 'string' || key === '') {
      this.#invalid(`resume(${JSON.stringify(key)})`);
      return { ok: false };
    }
    const r = await this.#conn.call(SCRIPTS.pause, [this.#prefix + key], ['del']);
    if (!r.ok) return { ok: false, unavailable: true };
    this.#seenPause(key, undefined);
    await this.#conn.call(SCRIPTS.pause, [this.#prefix + PAUSE_INDEX], ['index-rem', key]);
    return { ok: true, removed: r.reply === 1 };
  }

  /** Every live pause: the index's members, each read from its key (a member whose key is gone,
   * resumed or past its `until`, is dropped from the index). Undefined when Redis does not
   * answer. */
  async pauses(): Promise<PausedScope[] | undefined> {
    this.#counters.operations++;
    const index = this.#prefix + PAUSE_INDEX;
    const r = await this.#conn.call(SCRIPTS.pause, [index], ['index']);
    if (!r.ok) return undefined;
    const out: PausedScope[] = [];
    for (const key of (r.reply as unknown[]).map(String).sort()) {
      const read = await this.#conn.call(SCRIPTS.pause, [this.#prefix + key], ['read']);
      if (!read.ok) return undefined;
      const info = pauseOf(read.reply as unknown[], 0);
      this.#seenPause(key, info);
      if (info === undefined) {
        await this.#conn.call(SCRIPTS.pause, [index], ['index-rem', key]);
      } else if (pauseLive(info, this.#now())) {
        out.push({ key, ...info });
      }
    }
    return out;
  }

  #seenPause(key: string, info: PauseInfo | undefined): void {
    if (this.#lastPause.size >= MAX_KEYS && !this.#lastPause.has(key)) this.#lastPause.clear();
    this.#lastPause.set(key, info);
  }

  #lastPaused(key: string | undefined): PauseInfo | undefined {
    if (key === undefined) return undefined;
    const info = this.#lastPause.get(key);
    return info !== undefined && pauseLive(info, this.#now()) ? info : undefined;
  }

  /** Counters since construction, and the current shadow size. */
  stats(): RedisLedgerStats {
    return {
      ...this.#counters,
      ...this.#conn.counters,
      scriptLoads: this.#conn.scripts.loads,
      pendingWrites: this.#shadow.pendingWrites(),
      shadowKeys: this.#shadow.size,
      problems: this.#reporter.snapshot(),
    };
  }

  /** Replays pending writes (within `timeoutMs` each), then closes the ledger's own client (a
   * client passed in is left open). Idempotent; operations after close never throw: they answer
   * by the failure policy from what this process last knew. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    await this.#flush();
    this.#conn.close();
    const keys = this.#shadow.pendingKeys();
    if (keys.length > 0) {
      // Said, not dropped silently: this spend is missing from the shared totals.
      this.#reporter.count(
        'unconfirmed_at_close',
        `${this.#shadow.pendingWrites()} writes (USD ${this.#shadow.held(keys).spentUsd} of spend) Redis at ${this.#conn.address} did not confirm before close`,
      );
    }
    this.#reporter.summary();
  }

  #keys(keys: readonly string[]): string[] {
    return keys.map((k) => this.#prefix + k);
  }

  /** Zero totals of each counter named. */
  #zeros(names: readonly CounterName[]): Record<CounterName, CounterTotals> {
    const out: Record<CounterName, CounterTotals> = {};
    for (const name of names) out[name] = { spent: 0, reserved: 0 };
    return out;
  }

  /** The shadow's best totals (see Shadow.local), with the counters named. */
  #local(keys: readonly string[], names: readonly CounterName[] | undefined): WindowTotals {
    const totals = this.#shadow.local(keys);
    return names === undefined
      ? totals
      : { ...totals, counts: this.#shadow.localCounts(keys, names) };
  }

  #invalid(detail: string): void {
    this.#counters.invalidArguments++;
    this.#reporter.count('invalid_argument', detail);
  }

  /**
   * One write (settle, release or add), applied atomically over its keys with a fresh sequence
   * number. When Redis may not have it (no answer, no connection), it is kept in the shadow with
   * that number; a key with writes kept queues later writes behind them (merged while Redis is
   * away, replayed in one call). Resolves to the totals of `resultKey` after the write,
   * or undefined when Redis did not confirm it.
   */
  async #write(
    parts: WritePart[],
    resultKey: string,
    names?: readonly CounterName[],
  ): Promise<WindowTotals | undefined> {
    // Two parts on one key are one part (a settle in the same bucket).
    const merged = new Map<string, WritePart>();
    for (const p of parts) {
      const m = merged.get(p.ref.key);
      if (m === undefined) {
        // Copied: the parts are this call's, but their counts must not be shared with the shadow.
        let counts: Record<CounterName, CounterWrite> | undefined;
        if (p.counts !== undefined) {
          counts = {};
          for (const name in p.counts) counts[name] = { ...(p.counts[name] as CounterWrite) };
        }
        merged.set(p.ref.key, { ...p, counts });
      } else {
        m.unreserve += p.unreserve;
        m.spent += p.spent;
        m.ref = { key: p.ref.key, ttlMs: Math.max(m.ref.ttlMs, p.ref.ttlMs) };
        for (const name in p.counts) {
          const c = p.counts[name] as CounterWrite;
          m.counts ??= {};
          const into = m.counts[name];
          if (into === undefined) m.counts[name] = { ...c };
          else {
            into.unreserve += c.unreserve;
            into.spent += c.spent;
          }
        }
      }
    }
    const list = [...merged.values()];
    if (list.some((p) => this.#shadow.hasPending(p.ref.key))) {
      this.#keep(list, false);
      this.#maybeFlush();
      return undefined;
    }
    const seq = ++this.#seq;
    const args = [this.#writer];
    const namesByKey: CounterName[][] = [];
    for (const p of list) {
      const a = applyArgs(p.ref.ttlMs, this.#low(p.ref.key, seq), [
        { seq, unreserve: p.unreserve, spent: p.spent, counts: p.counts },
      ]);
      args.push(...a.args);
      namesByKey.push(a.names);
    }
    const keys = list.map((p) => p.ref.key);
    for (const key of keys) this.#track(key, seq, true);
    const r = await this.#conn.call(SCRIPTS.apply, this.#keys(keys), args, true);
    if (r.ok) {
      for (const key of keys) this.#track(key, seq, false);
      this.#applied(keys, namesByKey, r.reply as unknown[]);
      const known = this.#shadow.lastKnown(resultKey);
      if (known === undefined || names === undefined) return known;
      return { ...known, counts: this.#shadow.lastKnownCounts(resultKey, names) };
    }
    // Kept before it stops counting as in flight: its number must stay in every `low` sent.
    const kept = this.#keep(list, r.sent, seq);
    for (const key of keys) this.#track(key, seq, false);
    // Confirmed late (Redis was slow, or hung and woke): applied once, nothing to replay.
    r.late?.then(
      (reply) => {
        if (!Array.isArray(reply)) return;
        for (const [key, w] of kept) this.#shadow.resolve(key, [w]);
        this.#counters.lateConfirmed += kept.length;
        // The newest answer on the connection: Redis' totals include this write now.
        this.#applied(keys, namesByKey, reply);
      },
      () => {
        // Unknown still: replayed with its sequence number (skipped if Redis had applied it).
      },
    );
    return undefined;
  }

  /** Keeps write parts in the shadow: sent (may have been applied) with the number they were
   * sent with, or unsent with a new number. */
  #keep(parts: WritePart[], sent: boolean, seq?: number): Array<[string, PendingWrite]> {
    const kept: Array<[string, PendingWrite]> = [];
    for (const p of parts) {
      const next = () => (sent && seq !== undefined ? seq : ++this.#seq);
      const w = this.#shadow.pend(
        p.ref.key,
        p.ref.ttlMs,
        next,
        p.unreserve,
        p.spent,
        sent,
        p.counts,
      );
      if (w === undefined) continue;
      this.#counters.keptWrites++;
      kept.push([p.ref.key, w]);
    }
    this.#retryLater();
    return kept;
  }

  /** The smallest sequence number this writer may still send for `key` (in flight, pending, or
   * `seq`, the one about to be sent): Redis forgets applied numbers below it. */
  #low(key: string, seq: number): number {
    let low = seq;
    const pending = this.#shadow.minSeq(key);
    if (pending !== undefined && pending < low) low = pending;
    for (const s of this.#inFlight.get(key) ?? []) if (s < low) low = s;
    return low;
  }

  /** Direct writes on their way, per key (a set per key only while one is in flight). */
  #track(key: string, seq: number, sending: boolean): void {
    let set = this.#inFlight.get(key);
    if (sending) {
      if (set === undefined) {
        set = new Set();
        this.#inFlight.set(key, set);
      }
      set.add(seq);
    } else if (set !== undefined) {
      set.delete(seq);
      if (set.size === 0) this.#inFlight.delete(key);
    }
  }

  #maybeFlush(): void {
    // Cheap tests first: this runs on every operation.
    if (
      !this.#flushing &&
      this.#shadow.size > 0 &&
      this.#conn.usable() &&
      this.#shadow.pendingKeys().length > 0
    ) {
      void this.#flush();
    }
  }

  /** Replays pending writes, key by key, each key's writes in one call in sequence order; Redis
   * skips those it has (scripts.ts, APPLY). Stops when Redis stops answering. */
  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    let progress = false;
    try {
      for (const key of this.#shadow.pendingKeys()) {
        if (!this.#conn.usable()) break;
        const batch = this.#shadow.takeForReplay(key);
        if (batch === undefined) continue;
        const low = this.#low(key, batch.writes[0]?.seq ?? this.#seq);
        const a = applyArgs(batch.ttlMs, low, batch.writes);
        const args = [this.#writer, ...a.args];
        const r = await this.#conn.call(SCRIPTS.apply, this.#keys([key]), args, true);
        if (r.ok) {
          this.#replayed(key, batch.writes, r.reply as unknown[], a.names);
          progress = true;
          continue;
        }
        r.late?.then(
          (reply) => {
            if (Array.isArray(reply)) this.#replayed(key, batch.writes, reply, a.names);
          },
          () => {},
        );
        // A key Redis refuses (e.g. of another type) must not hold back the others.
        if (r.kind !== 'redis_error') break;
      }
    } finally {
      this.#flushing = false;
    }
    // Writes queued behind a replay while it ran.
    if (progress && !this.#closed) setImmediate(() => this.#maybeFlush());
    this.#retryLater();
  }

  /** While writes are pending, try the replay again every {@link RETRY_MS} (a write kept with
   * no further call coming must still reach Redis); unref'd: never keeps the host alive. */
  #retryLater(): void {
    if (this.#retryTimer || this.#closed || this.#shadow.pendingWrites() === 0) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#maybeFlush();
      this.#retryLater();
    }, RETRY_MS);
    this.#retryTimer.unref();
  }

  #replayed(
    key: string,
    writes: readonly PendingWrite[],
    reply: unknown[],
    names: CounterName[],
  ): void {
    this.#shadow.resolve(key, writes);
    this.#counters.replayedWrites += writes.length;
    this.#counters.replaysSkipped += Number(reply[1] ?? 0);
    this.#applied([key], [names], reply);
  }

  /** Records the totals of an APPLY reply: USD pairs per key, then each key's counter pairs. */
  #applied(keys: readonly string[], namesByKey: readonly CounterName[][], reply: unknown[]): void {
    this.#shadow.remember(keys, reply, 2);
    let offset = 2 + 2 * keys.length;
    keys.forEach((key, i) => {
      const names = namesByKey[i] ?? [];
      this.#shadow.rememberCounts(key, names, reply, offset, {});
      offset += 2 * names.length;
    });
  }
}
