/**
 * `RedisLedger`: the {@link BudgetLedger} for budgets shared by many processes or hosts.
 *
 * Design
 * - Key layout: one Redis HASH per ledger key, `<keyPrefix><key>` (default prefix empty: the
 *   window keys start with `spanledger:b:`), with the fields `spent` and `reserved` (USD). A calendar window is one hash;
 *   a rolling window is one hash per time bucket. Every write sets `PEXPIRE` to the window's
 *   `ttlMs`, so windows expire by themselves. With Redis Cluster, all keys of one operation must
 *   share a slot: the window keys carry a hash tag per budget scope (`{budget:scope}`, see
 *   `window.ts`), so the prefix must not contain braces.
 * - Atomicity: each operation is one Lua script (EVALSHA, falling back to EVAL on NOSCRIPT after a
 *   restart or SCRIPT FLUSH). Redis runs a script alone, so `reserve` reads every bucket, compares
 *   with the limit and takes the reservation without any other client in between: two
 *   reservations can never both pass a limit only one fits.
 * - Money: `HINCRBYFLOAT`. Redis keeps the field as a string and does the arithmetic in C
 *   `long double` (80-bit on x86-64, printed with 17 significant digits), so sums of many small
 *   amounts stay within ~1e-15 relative; scripts return the raw strings and the sums over keys are
 *   done here in doubles (Lua's `tostring` would round to 14 digits).
 * - Failure policy, when Redis is unreachable or slower than `timeoutMs`:
 *   `failure: 'closed'` → `reserve` returns `ok: false` (nothing may be spent that the fleet
 *   cannot account for); `failure: 'open'` (default) → `reserve` is decided locally against the
 *   last totals seen from Redis plus what this process has reserved and spent since (the "shadow"),
 *   so one process can overshoot a budget only by what it alone spends while Redis is down.
 *   Spend and releases that could not be written are kept per key in the shadow and replayed when
 *   Redis answers again. No operation ever throws; problems are reported once per kind through
 *   OTel `diag` and counted in {@link RedisLedger.stats}.
 * - Connection: the ledger's own client reconnects with exponential backoff and jitter on an
 *   `unref`'d timer, and its socket is `unref`'d: a host whose Redis is down can still exit.
 *   (node-redis' own reconnect strategy sleeps on a ref'd timer, which would keep the process
 *   alive, so it is turned off.) A client passed in is used as is, never closed here.
 */
import { createHash } from 'node:crypto';
import { Reporter } from '../diag.js';
import type { BudgetLedger, KeyRef, ReserveResult, WindowRef, WindowTotals } from './types.js';

/** The part of a node-redis (v4/v5) client the ledger uses; any `createClient()` result fits. */
export interface RedisLedgerClient {
  sendCommand(args: string[]): Promise<unknown>;
  /** When false, operations fail fast instead of waiting for `timeoutMs`. */
  readonly isReady?: boolean;
}

/** Options of {@link RedisLedger}. */
export interface RedisLedgerOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379` (used when no `client` is given). Default
   * `redis://127.0.0.1:6379`. */
  url?: string;
  /** An existing node-redis client (connected by its owner). The ledger neither connects nor
   * closes it, and relies on its reconnect settings. */
  client?: RedisLedgerClient;
  /** Prefix of every key, e.g. per environment. Default empty (window keys start with `spanledger:b:`). */
  keyPrefix?: string;
  /** Deadline of one operation, ms; a slower Redis is treated as unavailable. Default 50. */
  timeoutMs?: number;
  /** What `reserve` answers when Redis is unreachable or slow. Default `open`. */
  failure?: 'open' | 'closed';
}

/** Counters since construction (see {@link RedisLedger.stats}). */
export interface RedisLedgerStats {
  /** Operations called (reserve, settle, release, add, get). */
  operations: number;
  /** Operations that found Redis unreachable (connection down or a connection error). */
  redisUnavailable: number;
  /** Operations that did not get an answer within `timeoutMs`. */
  redisTimeout: number;
  /** Operations Redis answered with an error (e.g. a key of the wrong type). */
  redisError: number;
  /** `reserve` calls decided without Redis (by the failure policy). */
  degradedReserves: number;
  /** NOSCRIPT answers (script cache empty after a restart): the script was sent with EVAL. */
  scriptReloads: number;
  /** Reservations a timed-out `reserve` took in Redis after its caller had been answered,
   * released again so they do not hold budget. */
  lateReleases: number;
  /** Successful (re)connections of the ledger's own client. */
  connects: number;
  /** Writes kept in the shadow while Redis was unavailable, and those replayed since. */
  pendingWrites: number;
  replayedWrites: number;
  /** Keys in the shadow now (pending writes or local reservations). */
  shadowKeys: number;
  /** Arguments rejected (negative, NaN or infinite amounts): the operation did nothing. */
  invalidArguments: number;
  /** Run-time problems by kind, as reported through OTel diag. */
  problems: Record<string, number>;
}

// Window keys already carry `spanledger:b:` (budgets/window.ts): no second namespace by default.
const DEFAULT_PREFIX = '';
const DEFAULT_TIMEOUT_MS = 50;
const CONNECT_TIMEOUT_MS = 2_000;
const MAX_BACKOFF_MS = 2_000;
/** Bounds the per-key memory (shadow, last totals) whatever the number of windows. */
const MAX_KEYS = 10_000;
/** Error replies that mean Redis cannot serve right now (loading, busy script, failover). */
const UNAVAILABLE_CODES = new Set(['LOADING', 'BUSY', 'MASTERDOWN', 'TRYAGAIN', 'CLUSTERDOWN']);

// Scripts. Field values are returned as the raw strings Redis stores (nil read as '0') so no
// precision is lost in Lua; HMGET of a missing key or field gives `false` in Lua.

/** KEYS: writeKey, then the other readKeys. ARGV: amount, limit, enforce (1/0), ttlMs, extra
 * (USD this process holds outside Redis for these keys). Returns {ok, spent1, reserved1, ...}. */
const RESERVE = `
local amount = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local enforce = ARGV[3] == '1'
local total = tonumber(ARGV[5])
local out = {0}
for i = 1, #KEYS do
  local v = redis.call('HMGET', KEYS[i], 'spent', 'reserved')
  local s = v[1] or '0'
  local r = v[2] or '0'
  out[2 * i] = s
  out[2 * i + 1] = r
  total = total + tonumber(s) + tonumber(r)
end
if (not enforce) or (total + amount <= limit) then
  out[1] = 1
  if amount > 0 then
    out[3] = redis.call('HINCRBYFLOAT', KEYS[1], 'reserved', ARGV[1])
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return out
`;

/** Releases `unreserve` from a key's reservations: skipped when the key has expired (nothing is
 * held there any more), clamped at zero so a mismatched release cannot go negative. */
const UNRESERVE_FN = `
local function unreserve(key, amount, ttl)
  if tonumber(amount) > 0 and redis.call('EXISTS', key) == 1 then
    local r = tonumber(redis.call('HINCRBYFLOAT', key, 'reserved', '-' .. amount))
    if r < 0 then redis.call('HSET', key, 'reserved', '0') end
    redis.call('PEXPIRE', key, ttl)
  end
end
local function totals()
  local out = {}
  for i = 1, #KEYS do
    local v = redis.call('HMGET', KEYS[i], 'spent', 'reserved')
    out[2 * i - 1] = v[1] or '0'
    out[2 * i] = v[2] or '0'
  end
  return out
end
`;

/** KEYS: reservation key, spend key (may be equal). ARGV: reservedUsd, reservation ttlMs,
 * actualUsd, spend ttlMs. */
const SETTLE = `${UNRESERVE_FN}
unreserve(KEYS[1], ARGV[1], ARGV[2])
if tonumber(ARGV[3]) > 0 then
  redis.call('HINCRBYFLOAT', KEYS[2], 'spent', ARGV[3])
end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
return totals()
`;

/** KEYS: reservation key. ARGV: reservedUsd, ttlMs. */
const RELEASE = `${UNRESERVE_FN}
unreserve(KEYS[1], ARGV[1], ARGV[2])
return totals()
`;

/** KEYS: spend key. ARGV: amountUsd, ttlMs. */
const ADD = `
if tonumber(ARGV[1]) > 0 then
  redis.call('HINCRBYFLOAT', KEYS[1], 'spent', ARGV[1])
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local v = redis.call('HMGET', KEYS[1], 'spent', 'reserved')
return {v[1] or '0', v[2] or '0'}
`;

/** KEYS: the keys to read. Returns {spent1, reserved1, ...}. */
const GET = `
local out = {}
for i = 1, #KEYS do
  local v = redis.call('HMGET', KEYS[i], 'spent', 'reserved')
  out[2 * i - 1] = v[1] or '0'
  out[2 * i] = v[2] or '0'
end
return out
`;

interface Script {
  name: string;
  source: string;
  sha: string;
}

const script = (name: string, source: string): Script => ({
  name,
  source,
  sha: createHash('sha1').update(source).digest('hex'),
});

const SCRIPTS = {
  reserve: script('reserve', RESERVE),
  settle: script('settle', SETTLE),
  release: script('release', RELEASE),
  add: script('add', ADD),
  get: script('get', GET),
};

/** What this process holds for one key outside Redis. */
interface ShadowEntry {
  /** Spend not yet written to Redis (replayed on reconnect). */
  spent: number;
  /** Reservation releases not yet written to Redis (replayed on reconnect). */
  unreserve: number;
  /** Reservations taken locally while Redis was unavailable (fail-open); never sent to Redis:
   * their settle/release is applied here. */
  reserved: number;
  ttlMs: number;
  expiresAt: number;
}

interface Failure {
  ok: false;
  kind: 'redis_unavailable' | 'redis_timeout' | 'redis_error';
  /** The call that timed out: it may still land. */
  late?: Promise<unknown>;
}

type Outcome = { ok: true; reply: unknown } | Failure;

/** Money as it is written to Redis: the shortest string that round-trips the double. */
const usd = (n: number): string => String(n);
const ttl = (ms: number): string => String(Math.max(1, Math.ceil(Number.isFinite(ms) ? ms : 1)));
const validAmount = (n: number): boolean => typeof n === 'number' && Number.isFinite(n) && n >= 0;

/** The Redis ledger: see the module comment for design, key layout and failure policy. */
export class RedisLedger implements BudgetLedger {
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly failure: 'open' | 'closed';
  private readonly url: string;
  private readonly ownsClient: boolean;
  private client: RedisLedgerClient | undefined;
  private readonly reporter = new Reporter();
  private readonly shadow = new Map<string, ShadowEntry>();
  /** Last totals Redis reported per key: the base of fail-open decisions during an outage. */
  private readonly lastKnown = new Map<string, WindowTotals>();
  private pending = 0;
  private flushing = false;
  private closed = false;
  private retries = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** First connection of the ledger's own client, awaited (within timeoutMs) by early calls. */
  private firstConnect: Promise<void> | undefined;
  private readonly counters = {
    operations: 0,
    redisUnavailable: 0,
    redisTimeout: 0,
    redisError: 0,
    degradedReserves: 0,
    scriptReloads: 0,
    lateReleases: 0,
    connects: 0,
    pendingWrites: 0,
    replayedWrites: 0,
    invalidArguments: 0,
  };

  constructor(options: RedisLedgerOptions = {}) {
    this.prefix = options.keyPrefix ?? DEFAULT_PREFIX;
    this.timeoutMs =
      options.timeoutMs !== undefined && options.timeoutMs > 0
        ? options.timeoutMs
        : DEFAULT_TIMEOUT_MS;
    this.failure = options.failure === 'closed' ? 'closed' : 'open';
    this.url = options.url ?? 'redis://127.0.0.1:6379';
    this.client = options.client;
    this.ownsClient = options.client === undefined;
    if (this.ownsClient) this.firstConnect = this.open();
  }

  /** Resolves true once Redis answers (own client: first connection made), false if it does not
   * within `timeoutMs` (default 5 s). Operations never need this; it is for startup checks. */
  async ready(timeoutMs = 5_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) {
      if (this.isReady()) {
        const r = await this.call(SCRIPTS.get, [], []);
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
  ): Promise<ReserveResult> {
    this.counters.operations++;
    const readKeys = [window.writeKey, ...window.readKeys.filter((k) => k !== window.writeKey)];
    // An infinite limit is no limit; NaN or -Infinity cannot be compared with.
    const enforceLimit = enforce && limitUsd !== Number.POSITIVE_INFINITY;
    if (!validAmount(amountUsd) || (enforceLimit && !Number.isFinite(limitUsd))) {
      this.invalid(`reserve(${amountUsd}, limit ${limitUsd})`);
      return { ok: false, ...this.localTotals(readKeys) };
    }
    this.maybeFlush();
    const local = this.shadowTotals(readKeys);
    const r = await this.call(SCRIPTS.reserve, readKeys, [
      usd(amountUsd),
      enforceLimit ? usd(limitUsd) : '0',
      enforceLimit ? '1' : '0',
      ttl(window.ttlMs),
      usd(local.spentUsd + local.reservedUsd),
    ]);
    if (r.ok) {
      const reply = r.reply as unknown[];
      const remote = this.remember(readKeys, reply, 1);
      return {
        ok: reply[0] === 1,
        spentUsd: remote.spentUsd + local.spentUsd,
        reservedUsd: remote.reservedUsd + local.reservedUsd,
      };
    }
    this.counters.degradedReserves++;
    // A timed-out script may still run. Whatever this call answers, its reservation (if any) is
    // not the one in Redis: fail-closed said no, fail-open holds it in the shadow. So a late
    // success is released again, or it would hold budget until the window expires.
    r.late?.then(
      (reply) => {
        if (Array.isArray(reply) && reply[0] === 1 && amountUsd > 0) {
          this.counters.lateReleases++;
          void this.releaseRemote({ key: window.writeKey, ttlMs: window.ttlMs }, amountUsd);
        }
      },
      () => {
        // Failed late: nothing was reserved (or, if the reply alone was lost, the reservation
        // stays until the window expires, which errs on the safe side).
      },
    );
    const totals = this.localTotals(readKeys);
    if (this.failure === 'closed') return { ok: false, ...totals, unavailable: true };
    // The contract's comparison, exactly as MemoryLedger makes it (no tolerance).
    const fits = !enforceLimit || totals.spentUsd + totals.reservedUsd + amountUsd <= limitUsd;
    if (!fits) return { ok: false, ...totals };
    const entry = this.entry(window.writeKey, window.ttlMs);
    if (entry) entry.reserved += amountUsd;
    return { ok: true, spentUsd: totals.spentUsd, reservedUsd: totals.reservedUsd + amountUsd };
  }

  async settle(
    reservation: KeyRef,
    reservedUsd: number,
    spend: KeyRef,
    actualUsd: number,
  ): Promise<WindowTotals | undefined> {
    this.counters.operations++;
    if (!validAmount(reservedUsd) || !validAmount(actualUsd)) {
      this.invalid(`settle(${reservedUsd}, ${actualUsd})`);
      return undefined;
    }
    this.maybeFlush();
    const unreserve = this.takeLocalReservation(reservation.key, reservedUsd);
    const r = await this.call(
      SCRIPTS.settle,
      [reservation.key, spend.key],
      [usd(unreserve), ttl(reservation.ttlMs), usd(actualUsd), ttl(spend.ttlMs)],
    );
    if (r.ok) {
      this.remember([reservation.key, spend.key], r.reply as unknown[], 0);
      // The script read both keys after its writes: the spend key's entry is its state now.
      return this.lastKnown.get(spend.key);
    }
    this.keepPending(r, () => {
      this.pend(reservation, 'unreserve', unreserve);
      this.pend(spend, 'spent', actualUsd);
    });
    return undefined;
  }

  async release(reservation: KeyRef, reservedUsd: number): Promise<void> {
    this.counters.operations++;
    if (!validAmount(reservedUsd)) {
      this.invalid(`release(${reservedUsd})`);
      return;
    }
    this.maybeFlush();
    const unreserve = this.takeLocalReservation(reservation.key, reservedUsd);
    if (unreserve > 0) await this.releaseRemote(reservation, unreserve);
  }

  async add(spend: KeyRef, amountUsd: number): Promise<WindowTotals | undefined> {
    this.counters.operations++;
    if (!validAmount(amountUsd)) {
      this.invalid(`add(${amountUsd})`);
      return undefined;
    }
    this.maybeFlush();
    const r = await this.call(SCRIPTS.add, [spend.key], [usd(amountUsd), ttl(spend.ttlMs)]);
    if (r.ok) return this.remember([spend.key], r.reply as unknown[], 0);
    this.keepPending(r, () => this.pend(spend, 'spent', amountUsd));
    return undefined;
  }

  async get(keys: readonly string[]): Promise<WindowTotals> {
    this.counters.operations++;
    const unique = [...new Set(keys)];
    if (unique.length === 0) return { spentUsd: 0, reservedUsd: 0 };
    this.maybeFlush();
    const r = await this.call(SCRIPTS.get, unique, []);
    if (!r.ok) {
      const totals = this.localTotals(unique);
      return this.failure === 'closed' ? { ...totals, unavailable: true } : totals;
    }
    const remote = this.remember(unique, r.reply as unknown[], 0);
    const local = this.shadowTotals(unique);
    return {
      spentUsd: remote.spentUsd + local.spentUsd,
      reservedUsd: remote.reservedUsd + local.reservedUsd,
    };
  }

  /** Counters since construction, and the current shadow size. */
  stats(): RedisLedgerStats {
    return {
      ...this.counters,
      shadowKeys: this.shadow.size,
      problems: this.reporter.snapshot(),
    };
  }

  /** Replays pending writes (within `timeoutMs`), then closes the ledger's own client (a client
   * passed in is left open). Idempotent; operations after close answer by the failure policy. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const client = this.client as { destroy?: () => void } | undefined;
    if (this.ownsClient && client) {
      this.client = undefined;
      try {
        client.destroy?.();
      } catch {
        // Already closed (connection lost): nothing to release.
      }
    }
    this.reporter.summary();
  }

  // --- connection ----------------------------------------------------------------------------

  private isReady(): boolean {
    const client = this.client;
    return !this.closed && client !== undefined && client.isReady !== false;
  }

  /** Creates and connects the ledger's own client; on failure schedules a retry. */
  private async open(): Promise<void> {
    if (this.closed) return;
    let client: RedisLedgerClient & {
      connect(): Promise<unknown>;
      unref(): void;
      on(event: string, listener: (err: unknown) => void): unknown;
      readonly isOpen: boolean;
      destroy(): void;
    };
    try {
      // Loaded on first use: applications on the in-memory ledger never load the Redis client.
      const { createClient } = await import('redis');
      client = createClient({
        url: this.url,
        // Fail fast while disconnected instead of queueing commands for a later connection.
        disableOfflineQueue: true,
        socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: false },
      }) as unknown as typeof client;
    } catch (err) {
      this.reporter.count('redis_client_error', String(err));
      return;
    }
    if (this.closed) return;
    // Errors arrive as events; without a listener node-redis would crash the host.
    client.on('error', (err: unknown) => {
      if (client !== this.client) return;
      this.reporter.count(
        'redis_connection_error',
        err instanceof Error ? err.message : String(err),
      );
      if (!client.isOpen) this.scheduleReconnect(client);
    });
    // Before connect: node-redis then creates its socket unref'd.
    client.unref();
    this.client = client;
    try {
      await client.connect();
    } catch {
      this.scheduleReconnect(client);
      return;
    }
    if (this.closed) {
      client.destroy();
      return;
    }
    this.retries = 0;
    this.counters.connects++;
    if (this.counters.connects > 1) this.reporter.count('redis_reconnected');
    this.maybeFlush();
  }

  private scheduleReconnect(client: RedisLedgerClient & { destroy(): void }): void {
    if (this.closed || this.reconnectTimer || client !== this.client) return;
    try {
      client.destroy();
    } catch {
      // Already closed.
    }
    // Exponential backoff with jitter (50 ms doubling to 2 s), so a fleet does not reconnect in
    // lockstep; unref'd so the timer never keeps the host alive.
    const delay = Math.min(MAX_BACKOFF_MS, 50 * 2 ** this.retries) * (0.5 + Math.random() / 2);
    this.retries = Math.min(this.retries + 1, 16);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.firstConnect = undefined;
      void this.open();
    }, delay);
    this.reconnectTimer.unref();
  }

  // --- calls ---------------------------------------------------------------------------------

  /** Runs a script within `timeoutMs`; never rejects. On timeout, `late` is the call itself. */
  private async call(
    s: Script,
    keys: readonly string[],
    args: readonly string[],
  ): Promise<Outcome> {
    const started = Date.now();
    if (!this.isReady() && this.firstConnect && !this.closed) {
      // Early calls wait (within their deadline) for the first connection rather than failing.
      await this.within(this.firstConnect, this.timeoutMs);
    }
    if (!this.isReady()) {
      // Yield once: a caller retrying in a tight loop must not starve the reconnect timer and
      // the host's I/O with a stream of synchronously settled failures.
      await new Promise((resolve) => setImmediate(resolve));
      return this.fail('redis_unavailable', `${s.name}: not connected`);
    }
    const client = this.client as RedisLedgerClient;
    const full = keys.map((k) => this.prefix + k);
    const run = this.evalsha(client, s, full, args);
    const result = await this.within(run, Math.max(1, this.timeoutMs - (Date.now() - started)));
    if (result === TIMEOUT) {
      const outcome = this.fail(
        'redis_timeout',
        `${s.name}: no answer within ${this.timeoutMs} ms`,
      );
      return { ...outcome, late: run };
    }
    if (result.ok) return { ok: true, reply: result.value };
    const err = result.error;
    const message = err instanceof Error ? err.message : String(err);
    // Error replies start with an upper-case code (ERR, WRONGTYPE, ...): Redis answered, so it
    // is not an outage, except for codes that mean "not serving now".
    const code = /^([A-Z][A-Z_]+) /.exec(message)?.[1];
    if (code && !UNAVAILABLE_CODES.has(code))
      return this.fail('redis_error', `${s.name}: ${message}`);
    return this.fail('redis_unavailable', `${s.name}: ${message}`);
  }

  /** EVALSHA; on NOSCRIPT (script cache empty after a restart) EVAL, which also caches it. */
  private async evalsha(
    client: RedisLedgerClient,
    s: Script,
    keys: string[],
    args: readonly string[],
  ): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await client.sendCommand(['EVALSHA', s.sha, ...tail]);
    } catch (err) {
      if (!String((err as Error)?.message ?? err).startsWith('NOSCRIPT')) throw err;
      this.counters.scriptReloads++;
      return client.sendCommand(['EVAL', s.source, ...tail]);
    }
  }

  private async within<T>(
    p: Promise<T>,
    ms: number,
  ): Promise<{ ok: true; value: T } | { ok: false; error: unknown } | typeof TIMEOUT> {
    let timer: NodeJS.Timeout | undefined;
    // Ref'd on purpose, unlike the socket: a script awaiting an operation must not exit in the
    // middle of it; the timer lives at most `ms` and is cleared with the answer.
    const timeout = new Promise<typeof TIMEOUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMEOUT), ms);
    });
    try {
      return await Promise.race([
        p.then(
          (value) => ({ ok: true as const, value }),
          (error: unknown) => ({ ok: false as const, error }),
        ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private fail(
    kind: 'redis_unavailable' | 'redis_timeout' | 'redis_error',
    detail: string,
  ): Failure {
    if (kind === 'redis_unavailable') this.counters.redisUnavailable++;
    else if (kind === 'redis_timeout') this.counters.redisTimeout++;
    else this.counters.redisError++;
    const policy =
      this.failure === 'open' ? 'fail-open: deciding locally' : 'fail-closed: refusing reserve';
    this.reporter.count(kind, `${detail}; ${policy}`);
    return { ok: false, kind };
  }

  private invalid(detail: string): void {
    this.counters.invalidArguments++;
    this.reporter.count('invalid_argument', detail);
  }

  /** For writes that did not get through: failed now → keep them; timed out → keep them only
   * if the call eventually fails (it may still succeed, and must not be applied twice). */
  private keepPending(r: Outcome, keep: () => void): void {
    if (r.ok) return;
    if (r.late) r.late.catch(() => keep());
    else keep();
  }

  private async releaseRemote(reservation: KeyRef, amount: number): Promise<void> {
    const r = await this.call(
      SCRIPTS.release,
      [reservation.key],
      [usd(amount), ttl(reservation.ttlMs)],
    );
    if (r.ok) {
      this.remember([reservation.key], r.reply as unknown[], 0);
      return;
    }
    this.keepPending(r, () => this.pend(reservation, 'unreserve', amount));
  }

  // --- shadow --------------------------------------------------------------------------------

  private entry(key: string, ttlMs: number): ShadowEntry | undefined {
    const now = Date.now();
    let e = this.shadow.get(key);
    if (e && e.expiresAt <= now) {
      this.shadow.delete(key);
      e = undefined;
    }
    if (!e) {
      if (this.shadow.size >= MAX_KEYS) {
        this.purgeShadow(now);
        if (this.shadow.size >= MAX_KEYS) {
          this.reporter.count('shadow_full', `more than ${MAX_KEYS} keys held while Redis is down`);
          return undefined;
        }
      }
      e = { spent: 0, unreserve: 0, reserved: 0, ttlMs, expiresAt: 0 };
      this.shadow.set(key, e);
    }
    const ms = Number.isFinite(ttlMs) && ttlMs > 0 ? ttlMs : 1;
    e.ttlMs = Math.max(e.ttlMs, ms);
    e.expiresAt = Math.max(e.expiresAt, now + ms);
    return e;
  }

  private purgeShadow(now: number): void {
    for (const [key, e] of this.shadow) if (e.expiresAt <= now) this.shadow.delete(key);
  }

  /** Applies a release/settle first to reservations this process took locally on `key`; returns
   * the part that was reserved in Redis. */
  private takeLocalReservation(key: string, amount: number): number {
    const e = this.shadow.get(key);
    if (!e || e.reserved <= 0) return amount;
    const local = Math.min(e.reserved, amount);
    e.reserved -= local;
    if (e.reserved < 1e-12) e.reserved = 0;
    this.dropIfEmpty(key, e);
    return amount - local;
  }

  /** Keep a write Redis missed (spend, or a reservation to give back) for the replay. */
  private pend(ref: KeyRef, field: 'spent' | 'unreserve', amount: number): void {
    if (amount <= 0) return;
    const e = this.entry(ref.key, ref.ttlMs);
    if (!e) return;
    e[field] += amount;
    this.pending++;
    this.counters.pendingWrites++;
  }

  private dropIfEmpty(key: string, e: ShadowEntry): void {
    if (e.spent === 0 && e.unreserve === 0 && e.reserved === 0) this.shadow.delete(key);
  }

  /** What the shadow adds to Redis' totals for `keys`. */
  private shadowTotals(keys: readonly string[]): WindowTotals {
    let spentUsd = 0;
    let reservedUsd = 0;
    const now = Date.now();
    for (const key of keys) {
      const e = this.shadow.get(key);
      if (!e || e.expiresAt <= now) continue;
      spentUsd += e.spent;
      reservedUsd += e.reserved - e.unreserve;
    }
    return { spentUsd, reservedUsd };
  }

  /** Best totals without Redis: the last totals Redis reported plus the shadow. */
  private localTotals(keys: readonly string[]): WindowTotals {
    const local = this.shadowTotals(keys);
    let spentUsd = local.spentUsd;
    let reservedUsd = local.reservedUsd;
    for (const key of keys) {
      const known = this.lastKnown.get(key);
      if (!known) continue;
      spentUsd += known.spentUsd;
      reservedUsd += known.reservedUsd;
    }
    return { spentUsd, reservedUsd: Math.max(0, reservedUsd) };
  }

  /** Records the per-key totals of a script reply (`spent, reserved` pairs from `offset`) and
   * returns their sum. */
  private remember(keys: readonly string[], reply: unknown[], offset: number): WindowTotals {
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
      if (this.lastKnown.has(key)) this.lastKnown.delete(key);
      else if (this.lastKnown.size >= MAX_KEYS) {
        const oldest = this.lastKnown.keys().next().value;
        if (oldest !== undefined) this.lastKnown.delete(oldest);
      }
      this.lastKnown.set(key, totals);
    }
    return { spentUsd, reservedUsd };
  }

  // --- replay --------------------------------------------------------------------------------

  private maybeFlush(): void {
    if (this.pending > 0 && !this.flushing && this.isReady()) void this.flush();
  }

  /** Writes pending spend and releases to Redis, key by key; stops at the first failure. A write
   * is removed from the shadow only once Redis confirmed it. */
  private async flush(): Promise<void> {
    if (this.flushing || this.pending === 0 || !this.isReady()) return;
    this.flushing = true;
    try {
      this.purgeShadow(Date.now());
      for (const [key, e] of [...this.shadow]) {
        if (e.spent === 0 && e.unreserve === 0) continue;
        const spent = e.spent;
        const unreserve = e.unreserve;
        const t = ttl(e.expiresAt - Date.now());
        const client = this.client;
        if (!client || !this.isReady()) break;
        let result: Awaited<ReturnType<RedisLedger['within']>>;
        const run = this.evalsha(
          client,
          SCRIPTS.settle,
          [this.prefix + key, this.prefix + key],
          [usd(unreserve), t, usd(spent), t],
        );
        result = await this.within(run, this.timeoutMs);
        if (result === TIMEOUT) {
          // Keep the writes until this call is known to have landed (never apply twice).
          result = await this.within(run, CONNECT_TIMEOUT_MS);
        }
        if (result === TIMEOUT || !result.ok) break;
        this.remember([key, key], result.value as unknown[], 0);
        e.spent -= spent;
        e.unreserve -= unreserve;
        if (Math.abs(e.spent) < 1e-12) e.spent = 0;
        if (Math.abs(e.unreserve) < 1e-12) e.unreserve = 0;
        this.counters.replayedWrites++;
        this.dropIfEmpty(key, e);
      }
      let left = 0;
      for (const e of this.shadow.values()) if (e.spent > 0 || e.unreserve > 0) left++;
      this.pending = left;
    } finally {
      this.flushing = false;
    }
  }
}

const TIMEOUT = Symbol('timeout');
