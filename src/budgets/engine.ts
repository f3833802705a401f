/**
 * Budget accounting: per-run (`trace` window) budgets are kept in process, on the run's rollup
 * state; calendar and rolling budgets live in a ledger (in memory, or Redis for a fleet).
 * Enforcement happens only in calls agent code makes before spending (decisions.ts); the span
 * processor records and signals (signals.ts), and never throws. See docs/budgets.md.
 */
import { type Attributes, diag } from '@opentelemetry/api';
import type { Reporter } from '../diag.js';
import { BUILTIN, type Dimensions } from '../dimensions.js';
import { type Budget, matchScope } from './config.js';
import {
  amountsOf,
  anyAmount,
  type BudgetDecision,
  BudgetExceededError,
  type BudgetRefusal,
  type CheckInput,
  type CounterLimit,
  callAmount,
  counterLimitHit,
  counterLimits,
  countsCall,
  decide,
  ledgerStateHit,
  moreSevere,
  pausedHit,
  type RunCounters,
  type RunHeld,
  refusalOf,
  runLimitHit,
  spanAmount,
  type TokenUsage,
  windowLimitHit,
} from './decisions.js';
import { RepeatCounter, toolCallFingerprint } from './fingerprint.js';
import {
  type BudgetEvent,
  type BudgetInstruments,
  BudgetSignals,
  type EventTarget,
  type ExceededOnce,
} from './signals.js';
import type {
  Amounts,
  BudgetLedger,
  CounterName,
  CounterRequest,
  CounterTotals,
  KeyRef,
  PauseInfo,
  WindowRef,
  WindowTotals,
} from './types.js';
import { ledgerKey, WindowRefCache, writeRef } from './window.js';

/** Per-run budget state: the run's rollup state (TraceState) implements it, so per-run limits
 * read the same counters as the `spanledger.trace.*` attributes. */
export interface RunBudgetState extends RunCounters {
  /** Identical tool calls seen (created with the first fingerprinted tool call). */
  repeats: RepeatCounter | undefined;
  /** Most repetitions of one identical tool call so far. */
  maxRepeat: number;
  /** Highest warning threshold signalled per budget (created on the first warning). */
  warned: Map<string, number> | undefined;
  /** Budgets the run exceeded (created on the first). */
  exceeded: Set<string> | undefined;
  /** What guarded calls of the run now in flight hold (created by the first). */
  held: RunHeld | undefined;
}

/** Record one tool call's fingerprint on a run; returns its repetition count. */
export function recordToolCall(run: RunBudgetState, name: string, args: unknown): number {
  run.repeats ??= new RepeatCounter();
  const n = run.repeats.record(toolCallFingerprint(name, args));
  if (n > run.maxRepeat) run.maxRepeat = n;
  return n;
}

/** An estimate held on one budget window for a call in flight. */
export interface Hold {
  readonly budget: Budget;
  /** The values selecting the budget's window (`{ tenant: 'acme' }`, `{}`). */
  readonly scope: Readonly<Record<string, string>>;
  /** Budget and scope, to tell whether a span's cost falls in this hold's window. */
  readonly id: string;
  /** The key the estimate is held on. */
  readonly ref: KeyRef;
  /** USD held. */
  readonly amount: number;
  /** Counters held (one call of its kind, its estimated tokens), when the budget limits any. */
  readonly counts: Amounts | undefined;
  /** Cost of the spans that ran under the hold and fall in its window, USD. */
  actualUsd: number;
  /** Calls and tokens of those spans, on the budget's counters (created by the first). */
  actualCounts: Record<CounterName, number> | undefined;
}

/** A guarded call's account, carried in its context: the spans that start under it add their
 * cost to the holds whose windows they fall in; the rest of their cost is written as usual. */
export interface GuardAccount {
  /** Settled or released: spans ending later are accounted on their own. */
  closed: boolean;
  readonly holds: readonly Hold[];
}

/** Options of {@link BudgetEngine}. */
export interface BudgetEngineOptions {
  budgets: readonly Budget[];
  ledger: BudgetLedger;
  reporter: Reporter;
  now?: () => number;
  /** Called for every warning and exceeded event; errors are logged and swallowed. */
  onBudgetEvent?: (event: BudgetEvent) => void;
  /** Cap on windows whose last known totals are kept for gauges. Default 10000. */
  maxTrackedWindows?: number;
  /** Where budget metrics go (the metrics layer implements it). Default: none. */
  instruments?: BudgetInstruments;
  /** The dimensions scopes name (built-in and extra). Default: the built-ins. */
  dimensions?: Dimensions;
}

const ZERO: CounterTotals = Object.freeze({ spent: 0, reserved: 0 });

/** Who pauses a scope when an `action: pause` budget reaches its limit. */
export const AUTO_PAUSER = 'spanledger (action: pause)';

/** Whether a budget stops calls at its limit (`pause` does, and then stays stopped). */
const stops = (b: Budget): boolean => b.action === 'block' || b.action === 'pause';

/** A budget scope: the budget, and the values of its `'*'` dimensions (none for one shared
 * window), e.g. `{ budget: 'support-month', dimensions: { useCase: 'triage' } }`. */
export interface BudgetScopeRef {
  budget: string;
  dimensions?: Readonly<Record<string, string>>;
}

/** A paused scope, as `pauses()` lists it. */
export interface BudgetPause {
  /** The budget's name (as written in its key). */
  budget: string;
  /** The scope's `'*'` dimension values; undefined when the key holds only their digest (a
   * scope longer than 64 characters, docs/budgets.md "Ledger keys"). */
  dimensions: Record<string, string> | undefined;
  /** The ledger key of the pause. */
  key: string;
  reason: string;
  by: string;
  /** ISO 8601 UTC. */
  pausedAt: string;
  /** ISO 8601 UTC; absent: until resumed. */
  until?: string;
}

/** The budget and dimensions a pause key names (the inverse of {@link ledgerKey} for pauses). */
export function parsePauseKey(key: string): Pick<BudgetPause, 'budget' | 'dimensions'> | undefined {
  const m = /\{([^:{}]*):([^{}]*)\}:paused$/.exec(key);
  if (m === null) return undefined;
  const budget = decodeURIComponent(m[1] as string);
  const scope = m[2] as string;
  if (scope === '_') return { budget, dimensions: {} };
  if (scope.startsWith('#')) return { budget, dimensions: undefined };
  const dimensions: Record<string, string> = {};
  for (const pair of scope.split(',')) {
    const [k, v] = pair.split('=');
    dimensions[decodeURIComponent(k ?? '')] = decodeURIComponent(v ?? '');
  }
  return { budget, dimensions };
}

/** Add `b`'s amounts into `a` (created when needed). */
function addInto(
  a: Record<CounterName, number> | undefined,
  b: Amounts | undefined,
): Record<CounterName, number> | undefined {
  if (b === undefined) return a;
  const out = a ?? {};
  for (const k in b) out[k] = (out[k] ?? 0) + (b[k] ?? 0);
  return out;
}

const scopeId = (b: Budget, scope: Readonly<Record<string, string>>): string => {
  let id = b.name;
  for (const k in scope) id += `\u0000${k}=${scope[k]}`;
  return id;
};

/** `budget "support-month" (useCase=triage)`, for messages. */
function describeScope(budget: string, scope: Readonly<Record<string, string>>): string {
  const dims = Object.entries(scope).map(([k, v]) => `${k}=${v}`);
  return `budget "${budget}"${dims.length > 0 ? ` (${dims.join(', ')})` : ''}`;
}

function pauseView(
  key: string,
  info: PauseInfo,
  budget: string,
  dimensions: Record<string, string> | undefined,
): BudgetPause {
  return {
    budget,
    dimensions,
    key,
    reason: info.reason,
    by: info.by,
    pausedAt: new Date(info.at).toISOString(),
    ...(info.until !== undefined ? { until: new Date(info.until).toISOString() } : {}),
  };
}

/** Budget decisions and accounting for one ledger. */
export class BudgetEngine {
  readonly budgets: readonly Budget[];
  /** The dimensions in force: reads a span's values for scope matching. */
  readonly dimensions: Dimensions;
  private readonly ledger: BudgetLedger;
  private readonly reporter: Reporter;
  private readonly now: () => number;
  private readonly signals: BudgetSignals;
  private readonly refs: WindowRefCache;
  private readonly refreshedMs = new Map<string, number>();
  private readonly maxWindows: number;
  private closed = false;
  private readonly runBlocks: boolean;
  /** Counter limits of each calendar and rolling budget (calls, tokens). */
  private readonly limits = new Map<Budget, readonly CounterLimit[]>();
  /** Last known counter totals of rolling windows (write key and counter), for crossings. */
  private readonly lastCounts = new Map<string, number>();
  /** Whether the ledger keeps pauses (both built-in ledgers do). */
  private readonly pausable: boolean;
  /** Pause keys by scope id (bounded). */
  private readonly pauseKeys = new Map<string, string>();
  /** Pauses being stored by `action: pause` budgets, by pause key (bounded). */
  private readonly tripping = new Map<string, Promise<PauseInfo | undefined>>();

  constructor(options: BudgetEngineOptions) {
    this.budgets = options.budgets;
    for (const b of options.budgets) {
      if (b.window !== 'trace') this.limits.set(b, counterLimits(b));
    }
    this.runBlocks = options.budgets.some((b) => b.window === 'trace' && b.action === 'block');
    this.dimensions = options.dimensions ?? BUILTIN;
    this.ledger = options.ledger;
    this.reporter = options.reporter;
    this.now = options.now ?? Date.now;
    this.maxWindows = options.maxTrackedWindows ?? 10_000;
    this.pausable =
      typeof options.ledger.pause === 'function' && typeof options.ledger.pauses === 'function';
    this.refs = new WindowRefCache(this.maxWindows);
    this.signals = new BudgetSignals({
      reporter: options.reporter,
      onBudgetEvent: options.onBudgetEvent,
      instruments: options.instruments,
      maxTrackedWindows: this.maxWindows,
      // The pause (trip) signals an `action: pause` budget's exceeded event, once per pause.
      pausesAtLimit: this.pausable,
    });
    this.instruments = options.instruments;
    this.observesPauses = this.pausable && options.budgets.some((b) => b.window !== 'trace');
    this.bindPauseGauge();
  }

  private readonly instruments: BudgetInstruments | undefined;
  private readonly observesPauses: boolean;
  private readonly pauseSource = () => this.pauseCounts();

  /** Hands the paused gauge its source; again on checks, since the metrics bind to the real
   * meter only once an SDK registered it. */
  private bindPauseGauge(): void {
    if (this.observesPauses) this.instruments?.observePauses?.(this.pauseSource);
  }

  /** The pause key of a budget scope (`spanledger:b:{<budget>:<scope>}:paused`): the scope's
   * hash tag, so it shares a Redis Cluster slot with the scope's windows. */
  pauseKeyOf(b: Budget, scope: Readonly<Record<string, string>>): string {
    const id = scopeId(b, scope);
    let key = this.pauseKeys.get(id);
    if (key === undefined) {
      key = ledgerKey(b.name, scope, 'paused');
      if (this.pauseKeys.size >= this.maxWindows) this.pauseKeys.clear();
      this.pauseKeys.set(id, key);
    }
    return key;
  }

  /** Which window an exceeded event of `limit` is for, so it is signalled once per window: the
   * calendar window's key, or a rolling window's scope once per window length. */
  private onceOf(
    b: Budget,
    scope: Readonly<Record<string, string>>,
    window: WindowRef,
    limit: string,
  ): ExceededOnce {
    const rolling =
      b.window !== 'trace' && 'rollingMs' in b.window ? b.window.rollingMs : undefined;
    return {
      key: `${rolling === undefined ? window.writeKey : scopeId(b, scope)}\u0000${limit}`,
      now: this.now(),
      everyMs: rolling,
    };
  }

  /** A `block` budget's limit (not a pause or the ledger's state) refused a calendar or rolling
   * window's call: its exceeded event, once per window. */
  private refusedWindow(
    b: Budget,
    scope: Readonly<Record<string, string>>,
    window: WindowRef,
    hit: Omit<BudgetRefusal, 'budget'>,
    span: EventTarget | undefined,
  ): void {
    if (b.action !== 'block') return;
    this.signals.refusedWindow(span, b, hit, this.onceOf(b, scope, window, hit.limit));
  }

  /** A window ref with the scope's pause key, when the ledger keeps pauses. */
  private withPause(b: Budget, scope: Readonly<Record<string, string>>, ref: WindowRef): WindowRef {
    return this.pausable ? { ...ref, pauseKey: this.pauseKeyOf(b, scope) } : ref;
  }

  /** The budget and scope values a {@link BudgetScopeRef} names; throws `TypeError` naming what
   * is wrong (an unknown budget, a per-run budget, a missing or extra dimension). */
  resolveScope(ref: BudgetScopeRef): { budget: Budget; scope: Record<string, string> } {
    const b = this.budgets.find((x) => x.name === ref.budget);
    if (b === undefined) {
      const names = this.budgets.filter((x) => x.window !== 'trace').map((x) => x.name);
      throw new TypeError(
        `unknown budget "${ref.budget}" (budgets with windows: ${names.join(', ') || 'none'})`,
      );
    }
    if (b.window === 'trace' || b.scope === 'trace') {
      throw new TypeError(
        `budget "${b.name}" is per run: only calendar and rolling budgets can be paused`,
      );
    }
    const perValue = Object.keys(b.scope).filter((k) => b.scope !== 'trace' && b.scope[k] === '*');
    const given = ref.dimensions ?? {};
    for (const k of Object.keys(given)) {
      if (!perValue.includes(k)) {
        throw new TypeError(
          perValue.length === 0
            ? `budget "${b.name}" has one shared window: give no dimension (got ${k})`
            : `budget "${b.name}" has one window per ${perValue.join(', ')}: ${k} is not one of them`,
        );
      }
    }
    const scope: Record<string, string> = {};
    for (const k of perValue) {
      const v = given[k];
      if (typeof v !== 'string' || v.trim() === '') {
        throw new TypeError(
          `budget "${b.name}" has one window per ${perValue.join(', ')}: give ${k} (e.g. ${k}=acme)`,
        );
      }
      scope[k] = v;
    }
    return { budget: b, scope };
  }

  /** Pause a scope (docs/budgets.md, "Pause and resume"). Resolves to what the ledger stored;
   * rejects when the ledger keeps no pauses or could not store it. */
  async pause(ref: BudgetScopeRef, info: PauseInfo): Promise<BudgetPause> {
    const { budget, scope } = this.resolveScope(ref);
    const ledger = this.ledger;
    if (ledger.pause === undefined) throw new TypeError('this budget ledger keeps no pauses');
    const key = this.pauseKeyOf(budget, scope);
    const r = await ledger.pause(key, info);
    if (!r.ok) {
      throw new Error(
        r.unavailable === true
          ? `pause of ${describeScope(budget.name, scope)} not stored: the ledger's store did not answer`
          : `pause of ${describeScope(budget.name, scope)} refused by the ledger (invalid details)`,
      );
    }
    return pauseView(key, info, budget.name, scope);
  }

  /** Lift a scope's pause; resolves to whether there was one. */
  async resume(ref: BudgetScopeRef): Promise<boolean> {
    const { budget, scope } = this.resolveScope(ref);
    if (this.ledger.resume === undefined) throw new TypeError('this budget ledger keeps no pauses');
    const r = await this.ledger.resume(this.pauseKeyOf(budget, scope));
    if (!r.ok) {
      throw new Error(
        `resume of ${describeScope(budget.name, scope)} not stored: the ledger's store did not answer`,
      );
    }
    return r.removed === true;
  }

  /** Every paused scope in the ledger (of any budget sharing it). Rejects when the store does
   * not answer. */
  async pauses(): Promise<BudgetPause[]> {
    if (this.ledger.pauses === undefined) return [];
    const list = await this.ledger.pauses();
    if (list === undefined) throw new Error("the ledger's store did not answer");
    const out: BudgetPause[] = [];
    for (const p of list) {
      const named = parsePauseKey(p.key);
      out.push(pauseView(p.key, p, named?.budget ?? p.key, named?.dimensions));
    }
    return out;
  }

  /** Paused scopes per budget in force (0 for none), for the paused gauge. */
  private async pauseCounts(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const b of this.budgets) if (b.window !== 'trace') counts.set(b.name, 0);
    if (this.closed) return counts;
    for (const p of await this.pauses()) {
      const n = counts.get(p.budget);
      if (n !== undefined) counts.set(p.budget, n + 1);
    }
    return counts;
  }

  /** An `action: pause` budget reached a limit: pause its scope and, once stored, signal the
   * budget's exceeded event (on `span` when the limit was met by a call still running), since
   * the pause is when the limit takes effect. Concurrent trips of one scope share one pause and
   * one event. Errors are counted, never thrown (docs/budgets.md, "Pause and resume"). */
  private trip(
    b: Budget,
    scope: Readonly<Record<string, string>>,
    hit: Omit<BudgetRefusal, 'budget'>,
    span?: EventTarget,
  ): Promise<PauseInfo | undefined> {
    const pause = this.ledger.pause?.bind(this.ledger);
    if (b.action !== 'pause' || pause === undefined || this.closed) {
      return Promise.resolve(undefined);
    }
    const key = this.pauseKeyOf(b, scope);
    const pending = this.tripping.get(key);
    if (pending !== undefined) return pending;
    const info: PauseInfo = {
      reason: `limit reached: ${hit.limit}: ${hit.reason}`,
      by: AUTO_PAUSER,
      at: this.now(),
    };
    const done = (async () => {
      try {
        const r = await pause(key, info);
        if (r.ok) {
          this.signals.exceeded(span, b, hit);
          return info;
        }
        this.reporter.count('pause_failed', `budget ${b.name}: the ledger did not store the pause`);
      } catch (e) {
        this.reporter.count('budget_error', (e as Error).message);
      } finally {
        this.tripping.delete(key);
      }
      return undefined;
    })();
    if (this.tripping.size < this.maxWindows) this.tripping.set(key, done);
    return done;
  }

  /** Dimension values of a span's attributes (and its local root's, which carry the request's),
   * by dimension name, through the dimensions in force. */
  dimensionsOf(...sources: (Attributes | undefined)[]): Record<string, string | undefined> {
    return this.dimensions.values(...sources);
  }

  /**
   * The decision for a call about to be made in a run. Never throws. With `refusing` (`enforce`
   * and `guard`, which refuse the call on `block`), an `action: pause` budget whose limit refuses
   * the call pauses its scope first, as a reservation that does not fit does, and decides
   * `paused`; `refusing.span` (the caller's span) takes the exceeded event. A `block` budget
   * whose limit refuses the call signals its exceeded event (once per run, or per window). A
   * plain `check` only answers (docs/budgets.md, "Pause and resume" and "Signals").
   */
  async check(
    input: CheckInput,
    run: RunBudgetState | undefined,
    refusing?: { span?: EventTarget | undefined },
  ): Promise<BudgetDecision> {
    this.bindPauseGauge();
    const estimate = input.estimateUsd ?? 0;
    const dims = input.dimensions ?? {};
    let best: BudgetDecision = { action: 'allow' };
    let tightest: number | undefined;
    const room = (remaining: number) => {
      tightest = Math.min(tightest ?? remaining, remaining);
    };
    for (const b of this.budgets) {
      try {
        const scope = matchScope(b.scope, dims);
        if (scope === undefined) continue;
        let d: BudgetDecision | undefined;
        if (b.window === 'trace') {
          if (!run) continue;
          if (b.limitUsd !== undefined) room(b.limitUsd - run.costUsd);
          // A run over a cap stays over it: a call of any kind is then refused.
          const hit =
            runLimitHit(b, run, estimate, input.call) ?? runLimitHit(b, run, 0, undefined, true);
          if (hit) {
            d = decide(b, hit);
            if (refusing !== undefined && b.action === 'block') {
              this.signals.refusedRun(refusing.span, b, hit, run);
            }
          }
        } else if (this.closed) {
          // Nothing can be accounted any more: block budgets refuse, the others do not stop work.
          if (stops(b)) d = decide(b, ledgerStateHit(b, 'ledger_closed'));
        } else {
          const limits = this.callLimits(b, input.call);
          const pauseKey = this.pausable ? this.pauseKeyOf(b, scope) : undefined;
          if (b.limitUsd === undefined && limits.length === 0) {
            // No limit counts this kind of call, but a paused scope stops every call.
            if (pauseKey === undefined) continue;
            const t = await this.ledger.get([], undefined, pauseKey);
            if (t.paused !== undefined) d = decide(b, pausedHit(b, t.paused));
            if (d !== undefined && moreSevere(d, best)) best = d;
            continue;
          }
          const ref = this.refs.get(b, scope, this.now());
          const t = await this.ledger.get(
            ref.readKeys,
            limits.length > 0 ? limits.map((l) => l.counter) : undefined,
            pauseKey,
          );
          if (t.paused !== undefined) {
            d = decide(b, pausedHit(b, t.paused));
          } else if (t.unavailable === true && stops(b)) {
            // Fail-closed and the store is down: the next reservation will be refused, so say so.
            d = decide(b, ledgerStateHit(b, 'ledger_unavailable'));
          } else {
            let hit: Omit<BudgetRefusal, 'budget'> | undefined;
            if (b.limitUsd !== undefined) {
              room(b.limitUsd - t.spentUsd - t.reservedUsd);
              hit = windowLimitHit(b.limitUsd, t.spentUsd, t.reservedUsd, estimate);
            }
            for (const l of limits) {
              if (hit !== undefined) break;
              const amount = callAmount(l, input.estimateTokens);
              hit = counterLimitHit(l, t.counts?.[l.counter] ?? ZERO, amount);
            }
            if (hit !== undefined && refusing !== undefined && b.action === 'pause') {
              // The call is refused at the limit: the scope stays paused from now on.
              const info = await this.trip(b, scope, hit, refusing.span);
              if (info !== undefined) hit = pausedHit(b, info);
            }
            if (hit !== undefined && refusing !== undefined) {
              this.refusedWindow(b, scope, ref, hit, refusing.span);
            }
            if (hit) d = decide(b, hit);
          }
        }
        if (d !== undefined && moreSevere(d, best)) best = d;
      } catch (e) {
        this.reporter.count('budget_error', (e as Error).message);
      }
    }
    if (best.action === 'allow' && tightest !== undefined)
      best = { action: 'allow', remainingUsd: tightest };
    return best;
  }

  /** Whether any per-run `block` budget exists (guarded calls then hold on their run). */
  get holdsRuns(): boolean {
    return this.runBlocks;
  }

  /**
   * Hold a guarded call's estimate, and one call of its kind, on its run until it returns, after
   * the check passed and before anything is awaited: concurrent calls of one run then cannot all
   * pass a per-run `block` cap that only some of them fit (the check and the hold are one
   * synchronous step). Throws BudgetExceededError when the call no longer fits, after the
   * budget's exceeded event (on `span`, once per run); returns the release (idempotent).
   */
  holdRun(input: CheckInput, run: RunBudgetState | undefined, span?: EventTarget): () => void {
    if (run === undefined) return () => {};
    const estimate = input.estimateUsd ?? 0;
    const dims = input.dimensions ?? {};
    for (const b of this.budgets) {
      if (b.window !== 'trace' || b.action !== 'block') continue;
      if (matchScope(b.scope, dims) === undefined) continue;
      const hit = runLimitHit(b, run, estimate, input.call);
      if (hit) {
        this.signals.refusedRun(span, b, hit, run);
        throw new BudgetExceededError(refusalOf(decide(b, hit)));
      }
    }
    const llm = input.call === undefined || input.call.kind === 'llm' ? 1 : 0;
    const tool = input.call === undefined || input.call.kind === 'tool' ? 1 : 0;
    run.held ??= { usd: 0, llm: 0, tool: 0 };
    const held = run.held;
    held.usd += estimate;
    held.llm += llm;
    held.tool += tool;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      held.usd = Math.max(0, held.usd - estimate);
      held.llm -= llm;
      held.tool -= tool;
    };
  }

  /**
   * Hold an estimate on every matching calendar and rolling budget. A `block` budget that
   * cannot fit it (or a fail-closed ledger that cannot reach its store, or a closed ledger)
   * releases what was taken and throws BudgetExceededError; others only account.
   */
  async reserve(
    estimateUsd: number,
    dims: Readonly<Record<string, string | undefined>>,
    input: Pick<CheckInput, 'call' | 'estimateTokens'> & { span?: EventTarget | undefined } = {},
  ): Promise<Hold[]> {
    const holds: Hold[] = [];
    for (const b of this.budgets) {
      if (b.window === 'trace') continue;
      const limits = this.callLimits(b, input.call);
      const scope = matchScope(b.scope, dims);
      if (scope === undefined) continue;
      if (b.limitUsd === undefined && limits.length === 0) {
        // Nothing to hold for this kind of call; a paused scope still refuses it.
        if (!this.pausable || this.closed) continue;
        const t = await this.ledger.get([], undefined, this.pauseKeyOf(b, scope));
        if (t.paused !== undefined) {
          await this.release(holds);
          throw new BudgetExceededError({ budget: b.name, ...pausedHit(b, t.paused) });
        }
        continue;
      }
      if (this.closed) {
        if (stops(b))
          throw new BudgetExceededError({ budget: b.name, ...ledgerStateHit(b, 'ledger_closed') });
        continue;
      }
      const window = this.withPause(b, scope, this.refs.get(b, scope, this.now()));
      // One call of its kind and its estimated tokens, checked and held with the USD estimate
      // in one atomic ledger step.
      let counters: Record<CounterName, CounterRequest> | undefined;
      for (const l of limits) {
        counters ??= {};
        counters[l.counter] = { amount: callAmount(l, input.estimateTokens), limit: l.max };
      }
      const r = await this.ledger.reserve(
        window,
        estimateUsd,
        b.limitUsd ?? Number.POSITIVE_INFINITY,
        stops(b),
        counters,
      );
      if (!r.ok) {
        await this.release(holds);
        let hit: Omit<BudgetRefusal, 'budget'> | undefined;
        if (r.paused !== undefined) hit = pausedHit(b, r.paused);
        else if (r.unavailable === true) hit = ledgerStateHit(b, 'ledger_unavailable');
        else if (b.limitUsd !== undefined) {
          hit = windowLimitHit(b.limitUsd, r.spentUsd, r.reservedUsd, estimateUsd);
        }
        for (const l of limits) {
          if (hit !== undefined) break;
          const amount = counters?.[l.counter]?.amount ?? 0;
          hit = counterLimitHit(l, r.counts?.[l.counter] ?? ZERO, amount);
        }
        hit ??= {
          limit: 'limit_usd' as const,
          unit: 'USD' as const,
          ...(b.limitUsd !== undefined ? { limitUsd: b.limitUsd } : {}),
          spentUsd: r.spentUsd,
          reason: 'the ledger refused the reservation',
        };
        if (b.action === 'pause' && hit.limit !== 'paused' && r.unavailable !== true) {
          // The limit is reached: the scope stays paused from now on, whatever the window.
          const info = await this.trip(b, scope, hit, input.span);
          if (info !== undefined) hit = pausedHit(b, info);
        }
        if (r.paused === undefined && r.unavailable !== true) {
          this.refusedWindow(b, scope, window, hit, input.span);
        }
        throw new BudgetExceededError({ budget: b.name, ...hit });
      }
      holds.push({
        budget: b,
        scope,
        id: scopeId(b, scope),
        ref: writeRef(window),
        amount: estimateUsd,
        counts: amountsOf(limits, (l) => counters?.[l.counter]?.amount ?? 0),
        actualUsd: 0,
        actualCounts: undefined,
      });
    }
    return holds;
  }

  /**
   * Turn holds into spend (in the window current now): `actualUsd` on every hold, or, when
   * absent, each hold's own accounted cost, calls and tokens. With `actualUsd` (a reservation
   * settled by hand) the calls held count as made, and the tokens held as used unless
   * `actualTokens` says otherwise. A hold with nothing spent is released.
   */
  async settle(
    holds: readonly Hold[],
    actualUsd?: number,
    actualTokens?: CheckInput['estimateTokens'],
  ): Promise<void> {
    for (const h of holds) {
      const amount = actualUsd ?? h.actualUsd;
      const counts = actualUsd === undefined ? h.actualCounts : this.settledByHand(h, actualTokens);
      if (this.closed) {
        if (amount > 0 || anyAmount(counts)) {
          this.reporter.count('ledger_closed', `spend of budget ${h.budget.name}`);
        }
        continue;
      }
      if (amount === 0 && !anyAmount(counts)) {
        await this.ledger.release(h.ref, h.amount, h.counts);
        continue;
      }
      const now = this.refs.get(h.budget, h.scope, this.now());
      const after = await this.ledger.settle(
        h.ref,
        h.amount,
        writeRef(now),
        amount,
        h.counts !== undefined || counts !== undefined
          ? { reserved: h.counts ?? {}, actual: counts ?? {} }
          : undefined,
      );
      this.afterWrite(h.budget, h.scope, now, amount, after, counts);
    }
  }

  /** Release holds without spend. */
  async release(holds: readonly Hold[]): Promise<void> {
    if (this.closed) return;
    for (const h of holds) await this.ledger.release(h.ref, h.amount, h.counts);
  }

  /** The counter limits of a calendar or rolling budget a call of this kind counts against. */
  private callLimits(b: Budget, call: CheckInput['call']): readonly CounterLimit[] {
    const all = this.limits.get(b);
    if (all === undefined || all.length === 0) return [];
    return call === undefined ? all : all.filter((l) => countsCall(l, call));
  }

  /** What a hold settled by hand spends on its counters (see {@link settle}). */
  private settledByHand(
    h: Hold,
    actualTokens: CheckInput['estimateTokens'],
  ): Record<CounterName, number> | undefined {
    if (h.counts === undefined) return undefined;
    const held = h.counts;
    return amountsOf(this.limits.get(h.budget) ?? [], (l) =>
      l.unit === 'tokens' && actualTokens !== undefined
        ? callAmount(l, actualTokens)
        : (held[l.counter] ?? 0),
    );
  }

  /**
   * Account a span's cost and signal warnings and exceeded budgets on the span (synchronously,
   * while it can still take events). Cost falling in a window a guarded call holds goes to that
   * hold (settled with the call); the rest is written to the ledger. Ledger writes are
   * asynchronous; their failures are counted, never thrown.
   */
  record(
    span: EventTarget,
    costUsd: number,
    dims: Readonly<Record<string, string | undefined>>,
    run: RunBudgetState | undefined,
    guarded?: GuardAccount,
    llm?: TokenUsage,
    tool?: boolean,
  ): void {
    const work = llm !== undefined || tool === true;
    for (const b of this.budgets) {
      if (b.window === 'trace') {
        if (!run || matchScope(b.scope, dims) === undefined) continue;
        this.signals.run(span, b, run);
        continue;
      }
      const limits = this.limits.get(b);
      const counts =
        work && limits !== undefined && limits.length > 0
          ? amountsOf(limits, (l) => spanAmount(l, llm, tool === true))
          : undefined;
      if (costUsd <= 0 && counts === undefined) continue;
      const scope = matchScope(b.scope, dims);
      if (scope === undefined) continue;
      if (guarded !== undefined && guarded.holds.length > 0) {
        const id = scopeId(b, scope);
        const hold = guarded.holds.find((h) => h.id === id);
        if (hold !== undefined) {
          hold.actualUsd += costUsd;
          hold.actualCounts = addInto(hold.actualCounts, counts);
          continue;
        }
      }
      if (this.closed) {
        this.reporter.count('ledger_closed', `spend of budget ${b.name}`);
        continue;
      }
      const window = this.refs.get(b, scope, this.now());
      this.ledger.add(writeRef(window), costUsd, counts).then(
        (after) => this.afterWrite(b, scope, window, costUsd, after, counts),
        (e: unknown) => this.reporter.count('budget_error', (e as Error).message),
      );
    }
  }

  /**
   * Signal the thresholds a ledger write crossed. The ledger applies writes one at a time and
   * returns the key's totals right after each, so exactly one write (of one replica) sees a
   * given threshold crossed: once per window across the fleet. The span has ended by then, so
   * shared windows signal through the counter and the callback, not a span event. A rolling
   * window spans many buckets: its crossings are judged on the refreshed sum instead.
   */
  private afterWrite(
    b: Budget,
    scope: Readonly<Record<string, string>>,
    window: WindowRef,
    amountUsd: number,
    after: WindowTotals | undefined,
    counts?: Amounts,
  ): void {
    if (b.window !== 'trace' && 'calendar' in b.window && after !== undefined) {
      if (b.limitUsd !== undefined) {
        this.signals.track(b, window.writeKey, after.spentUsd);
        this.signals.crossing(b, after.spentUsd - amountUsd, after.spentUsd, undefined, () =>
          this.onceOf(b, scope, window, 'limit_usd'),
        );
        this.tripOnReach(b, scope, after.spentUsd - amountUsd, after.spentUsd);
      }
      if (counts === undefined) return;
      for (const l of this.limits.get(b) ?? []) {
        const added = counts[l.counter];
        const t = after.counts?.[l.counter];
        if (added === undefined || t === undefined) continue;
        this.signals.crossing(b, t.spent - added, t.spent, l, () =>
          this.onceOf(b, scope, window, l.limit),
        );
        this.tripOnReach(b, scope, t.spent - added, t.spent, l);
      }
      return;
    }
    void this.refresh(b, scope, window).catch((e: unknown) =>
      this.reporter.count('budget_error', (e as Error).message),
    );
  }

  /** An `action: pause` budget whose spend (or a counter) reached its limit between two known
   * totals pauses its scope: exactly one write sees that on a calendar window. */
  private tripOnReach(
    b: Budget,
    scope: Readonly<Record<string, string>>,
    before: number,
    after: number,
    l?: CounterLimit,
  ): void {
    if (b.action !== 'pause') return;
    const max = l === undefined ? b.limitUsd : l.max;
    if (max === undefined || !(before < max && after >= max)) return;
    const hit: Omit<BudgetRefusal, 'budget'> =
      l === undefined
        ? {
            limit: 'limit_usd',
            unit: 'USD',
            limitUsd: max,
            spentUsd: after,
            reason: `spent ${after} of ${max} USD`,
          }
        : {
            limit: l.limit,
            unit: l.unit,
            used: after,
            max,
            reason: `${after} of ${max} ${l.what} used`,
          };
    void this.trip(b, scope, hit);
  }

  private async refresh(
    b: Budget,
    scope: Readonly<Record<string, string>>,
    window: WindowRef,
  ): Promise<void> {
    // A rolling window's sum needs all its buckets: read it at most once a second per window
    // (real time, whatever the budget clock), which keeps the sixty-key read off the hot path.
    // Crossings are then judged between two reads, so with several replicas a threshold may be
    // signalled by more than one of them (at most once each).
    if (this.closed) return;
    const now = performance.now();
    const last = this.refreshedMs.get(window.writeKey);
    if (last !== undefined && now - last < 1000) return;
    if (this.refreshedMs.size >= this.maxWindows) this.refreshedMs.clear();
    this.refreshedMs.set(window.writeKey, now);
    const limits = this.limits.get(b) ?? [];
    const t = await this.ledger.get(
      window.readKeys,
      limits.length > 0 ? limits.map((l) => l.counter) : undefined,
    );
    if (b.limitUsd !== undefined && Number.isFinite(t.spentUsd)) {
      const before = this.signals.lastSpent(window.writeKey) ?? 0;
      this.signals.track(b, window.writeKey, t.spentUsd);
      this.signals.crossing(b, before, t.spentUsd, undefined, () =>
        this.onceOf(b, scope, window, 'limit_usd'),
      );
      this.tripOnReach(b, scope, before, t.spentUsd);
    }
    for (const l of limits) {
      const spent = t.counts?.[l.counter]?.spent;
      if (spent === undefined || !Number.isFinite(spent)) continue;
      const id = `${window.writeKey}\u0000${l.counter}`;
      const before = this.lastCounts.get(id) ?? 0;
      if (this.lastCounts.size >= this.maxWindows) this.lastCounts.clear();
      this.lastCounts.set(id, spent);
      this.signals.crossing(b, before, spent, l, () => this.onceOf(b, scope, window, l.limit));
      this.tripOnReach(b, scope, before, spent, l);
    }
  }

  /** Close the ledger; from then on the engine answers by the closed-ledger policy
   * (docs/budgets.md, "After shutdown"). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.ledger.close();
    } catch (e) {
      diag.warn(`spanledger: closing the budget ledger failed: ${(e as Error).message}`);
    }
  }
}
