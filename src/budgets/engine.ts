/**
 * Budget decisions and accounting. Per-run (`trace` window) budgets are kept in process, on the
 * run's rollup state; calendar and rolling budgets live in a ledger (in memory, or Redis for a
 * fleet). Enforcement happens only here, in calls agent code makes before spending: the span
 * processor records and signals, and never throws.
 */
import { type Attributes, type Counter, diag } from '@opentelemetry/api';
import type { Reporter } from '../diag.js';
import { BUILTIN, type Dimensions } from '../dimensions.js';
import { MeterSource } from '../metrics/meter-source.js';
import * as A from '../semconv.js';
import { type Budget, type BudgetAction, type DegradeSuggestion, matchScope } from './config.js';
import { RepeatCounter, toolCallFingerprint } from './fingerprint.js';
import type { BudgetLedger, KeyRef, WindowRef, WindowTotals } from './types.js';
import { WindowRefCache, writeRef } from './window.js';

/** What a budget check tells the caller to do. */
export interface BudgetDecision {
  /** `allow` when no budget is exceeded; otherwise the most severe action of those that are. */
  action: 'allow' | BudgetAction;
  /** The budget that decided (the most severe, then the one with least room). */
  budget?: string;
  /** Which limit: `limit_usd`, `max_llm_calls`, `max_tool_calls`, `max_tokens`,
   * `max_repeated_tool_calls`, or `ledger_unavailable` (a fail-closed ledger cannot reach its
   * store). */
  limit?: string;
  limitUsd?: number;
  spentUsd?: number;
  /** USD left under the deciding budget (or the tightest USD budget when allowed). */
  remainingUsd?: number;
  /** For `degrade`: what to step down to. */
  suggestion?: DegradeSuggestion;
}

/** Thrown by `enforce`, `reserve` and guarded calls when a `block` budget is exceeded, before
 * any money is spent. */
export class BudgetExceededError extends Error {
  override name = 'BudgetExceededError';
  constructor(
    /** The budget that blocked. */
    readonly budget: string,
    /** Its USD limit (absent for count limits). */
    readonly limitUsd: number | undefined,
    /** Spent (plus reserved) when blocked, USD. */
    readonly spentUsd: number | undefined,
    /** Which limit blocked (`limit_usd`, `max_llm_calls`, ...). */
    readonly limit: string,
  ) {
    super(
      `spanledger: budget "${budget}" exceeded (${limit}${limitUsd !== undefined ? `: spent ${spentUsd} of ${limitUsd} USD` : ''})`,
    );
  }
}

/** A budget signal, given to the user callback and written as a span event. */
export interface BudgetEvent {
  kind: 'warning' | 'exceeded';
  budget: string;
  action: BudgetAction;
  limitUsd?: number;
  spentUsd?: number;
  /** The threshold crossed (fraction of the limit) for warnings. */
  threshold?: number;
  limit: string;
}

/** Per-run budget state: the run's rollup state (TraceState) implements it, so per-run limits
 * read the same counters as the `spanledger.trace.*` attributes. */
export interface RunBudgetState {
  readonly costUsd: number;
  readonly llmCalls: number;
  readonly toolCalls: number;
  /** Input plus output tokens of the run's model calls. */
  readonly tokens: number;
  /** Identical tool calls seen (created with the first fingerprinted tool call). */
  repeats: RepeatCounter | undefined;
  /** Most repetitions of one identical tool call so far. */
  maxRepeat: number;
  /** Highest warning threshold signalled per budget (created on the first warning). */
  warned: Map<string, number> | undefined;
  /** Budgets the run exceeded (created on the first). */
  exceeded: Set<string> | undefined;
}

/** Record one tool call's fingerprint on a run; returns its repetition count. */
export function recordToolCall(run: RunBudgetState, name: string, args: unknown): number {
  run.repeats ??= new RepeatCounter();
  const n = run.repeats.record(toolCallFingerprint(name, args));
  if (n > run.maxRepeat) run.maxRepeat = n;
  return n;
}

/** What a check is about. */
export interface CheckInput {
  /** Estimated cost of the call about to be made, USD. Default 0. */
  estimateUsd?: number;
  /** The kind of call: an LLM call counts against `maxLlmCalls`, a tool call against
   * `maxToolCalls` and, with arguments, `maxRepeatedToolCalls`. */
  call?: { kind: 'llm' } | { kind: 'tool'; name: string; arguments?: unknown };
  /** Attribution dimensions (`team`, `tenant`, ...); default: read off the active spans. */
  dimensions?: Readonly<Record<string, string | undefined>>;
}

interface WindowCache {
  budget: string;
  window: string;
  limitUsd: number;
  spentUsd: number;
}

const SEVERITY: Record<'allow' | BudgetAction, number> = {
  allow: 0,
  alert: 1,
  degrade: 2,
  block: 3,
};

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
  /** Where budget metrics go. Default: the global meter provider, once registered. */
  meters?: MeterSource;
  /** The dimensions scopes name (built-in and extra). Default: the built-ins. */
  dimensions?: Dimensions;
}

/** Budget decisions and accounting for one ledger. */
export class BudgetEngine {
  readonly budgets: readonly Budget[];
  /** The dimensions in force: reads a span's values for scope matching. */
  readonly dimensions: Dimensions;
  private readonly ledger: BudgetLedger;
  private readonly reporter: Reporter;
  private readonly now: () => number;
  private readonly onEvent: ((event: BudgetEvent) => void) | undefined;
  private readonly windows = new Map<string, WindowCache>();
  private readonly refs: WindowRefCache;
  private readonly refreshedMs = new Map<string, number>();
  private readonly maxWindows: number;
  private readonly instruments: () => Counter | undefined;

  constructor(options: BudgetEngineOptions) {
    this.budgets = options.budgets;
    this.dimensions = options.dimensions ?? BUILTIN;
    this.ledger = options.ledger;
    this.reporter = options.reporter;
    this.now = options.now ?? Date.now;
    this.onEvent = options.onBudgetEvent;
    this.maxWindows = options.maxTrackedWindows ?? 10_000;
    this.refs = new WindowRefCache(this.maxWindows);
    // Bound at the first budget activity (by then the NodeSDK has registered its provider);
    // the gauges' callback goes on the same meter as the events counter.
    this.instruments = (options.meters ?? new MeterSource()).bind((meter) => {
      const limit = meter.createObservableGauge('spanledger.budget.limit.usd', { unit: '{USD}' });
      const spent = meter.createObservableGauge('spanledger.budget.spent.usd', { unit: '{USD}' });
      meter.addBatchObservableCallback(
        (result) => {
          for (const w of this.windows.values()) {
            const attrs = { budget: w.budget, window: w.window };
            result.observe(limit, w.limitUsd, attrs);
            result.observe(spent, w.spentUsd, attrs);
          }
        },
        [limit, spent],
      );
      return meter.createCounter('spanledger.budget.events', {
        unit: '{event}',
        description: 'Budget warnings and exceeded events',
      });
    });
  }

  /** Dimension values of a span's attributes (and its local root's, which carry the request's),
   * by dimension name, through the dimensions in force. */
  dimensionsOf(...sources: (Attributes | undefined)[]): Record<string, string | undefined> {
    return this.dimensions.values(...sources);
  }

  /** The decision for a call about to be made in a run. Never throws. */
  async check(input: CheckInput, run: RunBudgetState | undefined): Promise<BudgetDecision> {
    const estimate = input.estimateUsd ?? 0;
    const dims = input.dimensions ?? {};
    let best: BudgetDecision = { action: 'allow' };
    let tightest: number | undefined;
    const consider = (d: BudgetDecision): void => {
      if (
        SEVERITY[d.action] > SEVERITY[best.action] ||
        (SEVERITY[d.action] === SEVERITY[best.action] &&
          d.action !== 'allow' &&
          (d.remainingUsd ?? Number.POSITIVE_INFINITY) <
            (best.remainingUsd ?? Number.POSITIVE_INFINITY))
      ) {
        best = d;
      }
    };
    for (const b of this.budgets) {
      try {
        if (b.window === 'trace') {
          if (!run || matchScope(b.scope, dims) === undefined) continue;
          const hit = runLimitHit(b, run, estimate, input.call);
          if (b.limitUsd !== undefined) {
            const remaining = b.limitUsd - run.costUsd;
            tightest = Math.min(tightest ?? remaining, remaining);
          }
          if (hit) consider(this.decide(b, hit, run.costUsd));
          continue;
        }
        const scope = matchScope(b.scope, dims);
        if (scope === undefined || b.limitUsd === undefined) continue;
        const ref = this.refs.get(b, scope, this.now());
        const totals = await this.ledger.get(ref.readKeys);
        const used = totals.spentUsd + totals.reservedUsd;
        if (totals.unavailable === true && b.action === 'block') {
          // Fail-closed and the store is down: the next reservation will be refused, so say so.
          consider(this.decide(b, 'ledger_unavailable', used));
          continue;
        }
        const remaining = b.limitUsd - used;
        tightest = Math.min(tightest ?? remaining, remaining);
        if (used + estimate > b.limitUsd) consider(this.decide(b, 'limit_usd', used));
      } catch (e) {
        this.reporter.count('budget_error', (e as Error).message);
      }
    }
    if (best.action === 'allow' && tightest !== undefined)
      best = { action: 'allow', remainingUsd: tightest };
    return best;
  }

  private decide(b: Budget, limit: string, spentUsd: number): BudgetDecision {
    return {
      action: b.action,
      budget: b.name,
      limit,
      ...(b.limitUsd !== undefined
        ? { limitUsd: b.limitUsd, remainingUsd: b.limitUsd - spentUsd }
        : {}),
      spentUsd,
      ...(b.action === 'degrade' && b.degrade ? { suggestion: b.degrade } : {}),
    };
  }

  /**
   * Reserve an estimate on every matching calendar and rolling budget. A `block` budget that
   * cannot fit it releases what was taken and throws BudgetExceededError; others only account.
   */
  async reserve(
    estimateUsd: number,
    dims: Readonly<Record<string, string | undefined>>,
  ): Promise<{ holds: { ref: KeyRef; amount: number; window: WindowRef; budget: Budget }[] }> {
    const holds: { ref: KeyRef; amount: number; window: WindowRef; budget: Budget }[] = [];
    for (const b of this.budgets) {
      if (b.window === 'trace' || b.limitUsd === undefined) continue;
      const scope = matchScope(b.scope, dims);
      if (scope === undefined) continue;
      const window = this.refs.get(b, scope, this.now());
      const r = await this.ledger.reserve(window, estimateUsd, b.limitUsd, b.action === 'block');
      if (!r.ok) {
        for (const h of holds) await this.ledger.release(h.ref, h.amount);
        // A fail-closed ledger that cannot reach its store refuses: say so, not "over budget".
        throw new BudgetExceededError(
          b.name,
          b.limitUsd,
          r.spentUsd + r.reservedUsd,
          r.unavailable === true ? 'ledger_unavailable' : 'limit_usd',
        );
      }
      holds.push({ ref: writeRef(window), amount: estimateUsd, window, budget: b });
    }
    return { holds };
  }

  /** Settle holds to the actual cost (spend lands in the window current now). */
  async settle(
    holds: readonly { ref: KeyRef; amount: number; budget: Budget }[],
    actualUsd: number,
    dims: Readonly<Record<string, string | undefined>>,
  ): Promise<void> {
    for (const h of holds) {
      const scope = matchScope(h.budget.scope, dims) ?? {};
      const now = this.refs.get(h.budget, scope, this.now());
      const after = await this.ledger.settle(h.ref, h.amount, writeRef(now), actualUsd);
      this.afterWrite(h.budget, now, actualUsd, after);
    }
  }

  /** Release holds without spend. */
  async release(holds: readonly { ref: KeyRef; amount: number }[]): Promise<void> {
    for (const h of holds) await this.ledger.release(h.ref, h.amount);
  }

  /**
   * Account a span's cost that no reservation covered, and signal warnings and exceeded
   * budgets on the span (synchronously, while it can still take events). Ledger writes are
   * asynchronous; their failures are counted, never thrown.
   */
  record(
    span: { addEvent(name: string, attrs?: Attributes): unknown },
    costUsd: number,
    dims: Readonly<Record<string, string | undefined>>,
    run: RunBudgetState | undefined,
    skipLedger: boolean,
  ): void {
    for (const b of this.budgets) {
      if (b.window === 'trace') {
        if (!run || matchScope(b.scope, dims) === undefined) continue;
        this.signalRun(span, b, run);
        continue;
      }
      if (costUsd <= 0 || b.limitUsd === undefined) continue;
      const scope = matchScope(b.scope, dims);
      if (scope === undefined) continue;
      const window = this.refs.get(b, scope, this.now());
      if (skipLedger) continue;
      this.ledger.add(writeRef(window), costUsd).then(
        (after) => this.afterWrite(b, window, costUsd, after),
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
    window: WindowRef,
    amountUsd: number,
    after: WindowTotals | undefined,
  ): void {
    if (b.window !== 'trace' && 'calendar' in b.window && after !== undefined) {
      this.track(b, window, after.spentUsd);
      this.signalCrossing(undefined, b, after.spentUsd - amountUsd, after.spentUsd, 'limit_usd');
      return;
    }
    void this.refresh(b, window, true);
  }

  private signalRun(
    span: { addEvent(name: string, attrs?: Attributes): unknown },
    b: Budget,
    run: RunBudgetState,
  ): void {
    if (b.limitUsd !== undefined) {
      const warned = run.warned?.get(b.name) ?? 0;
      for (const t of b.warnAt) {
        if (t > warned && run.costUsd >= t * b.limitUsd) {
          run.warned ??= new Map();
          run.warned.set(b.name, t);
          this.emit(span, {
            kind: 'warning',
            budget: b.name,
            action: b.action,
            limitUsd: b.limitUsd,
            spentUsd: run.costUsd,
            threshold: t,
            limit: 'limit_usd',
          });
        }
      }
    }
    const hit = runLimitHit(b, run, 0, undefined, true);
    if (hit && !run.exceeded?.has(b.name)) {
      run.exceeded ??= new Set();
      run.exceeded.add(b.name);
      this.emit(span, {
        kind: 'exceeded',
        budget: b.name,
        action: b.action,
        ...(b.limitUsd !== undefined ? { limitUsd: b.limitUsd } : {}),
        spentUsd: run.costUsd,
        limit: hit,
      });
    }
  }

  private signalCrossing(
    span: { addEvent(name: string, attrs?: Attributes): unknown } | undefined,
    b: Budget,
    before: number,
    after: number,
    limit: string,
  ): void {
    const limitUsd = b.limitUsd as number;
    for (const t of b.warnAt) {
      if (before < t * limitUsd && after >= t * limitUsd) {
        this.emit(span, {
          kind: 'warning',
          budget: b.name,
          action: b.action,
          limitUsd,
          spentUsd: after,
          threshold: t,
          limit,
        });
      }
    }
    if (before <= limitUsd && after > limitUsd) {
      this.emit(span, {
        kind: 'exceeded',
        budget: b.name,
        action: b.action,
        limitUsd,
        spentUsd: after,
        limit,
      });
    }
  }

  private emit(
    span: { addEvent(name: string, attrs?: Attributes): unknown } | undefined,
    e: BudgetEvent,
  ): void {
    try {
      span?.addEvent(e.kind === 'warning' ? A.EVENT_BUDGET_WARNING : A.EVENT_BUDGET_EXCEEDED, {
        [A.ATTR_BUDGET_NAME]: e.budget,
        [A.ATTR_BUDGET_ACTION]: e.action,
        ...(e.limitUsd !== undefined ? { [A.ATTR_BUDGET_LIMIT_USD]: e.limitUsd } : {}),
        ...(e.spentUsd !== undefined ? { [A.ATTR_BUDGET_SPENT_USD]: e.spentUsd } : {}),
      });
    } catch (err) {
      this.reporter.count('internal_error', (err as Error).message);
    }
    this.instruments()?.add(1, { budget: e.budget, kind: e.kind, action: e.action });
    if (this.onEvent) {
      try {
        this.onEvent(e);
      } catch (err) {
        // A user callback must never break the span path.
        this.reporter.count('callback_error', (err as Error).message);
      }
    }
  }

  private track(b: Budget, window: WindowRef, spentUsd: number): void {
    this.instruments();
    if (!this.windows.has(window.writeKey) && this.windows.size >= this.maxWindows) {
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) this.windows.delete(oldest);
    }
    this.windows.set(window.writeKey, {
      budget: b.name,
      window: windowLabel(b),
      limitUsd: b.limitUsd as number,
      spentUsd,
    });
  }

  private async refresh(b: Budget, window: WindowRef, signal: boolean): Promise<void> {
    // A rolling window's sum needs all its buckets: read it at most once a second per window
    // (real time, whatever the budget clock), which keeps the sixty-key read off the hot path.
    // Crossings are then judged between two reads, so with several replicas a threshold may be
    // signalled by more than one of them (at most once each).
    const now = performance.now();
    const last = this.refreshedMs.get(window.writeKey);
    if (last !== undefined && now - last < 1000) return;
    if (this.refreshedMs.size >= this.maxWindows) this.refreshedMs.clear();
    this.refreshedMs.set(window.writeKey, now);
    const t = await this.ledger.get(window.readKeys);
    if (!Number.isFinite(t.spentUsd)) return;
    const before = this.windows.get(window.writeKey)?.spentUsd ?? 0;
    this.track(b, window, t.spentUsd);
    if (signal) this.signalCrossing(undefined, b, before, t.spentUsd, 'limit_usd');
  }

  /** Close the ledger. */
  async close(): Promise<void> {
    try {
      await this.ledger.close();
    } catch (e) {
      diag.warn(`spanledger: closing the budget ledger failed: ${(e as Error).message}`);
    }
  }
}

function windowLabel(b: Budget): string {
  if (b.window === 'trace') return 'trace';
  if ('calendar' in b.window) return `${b.window.calendar}@${b.window.timeZone}`;
  return `rolling:${b.window.rollingMs}ms`;
}

/**
 * Which per-run limit the next call would break (`pending` true: which one is already broken
 * by what happened).
 */
function runLimitHit(
  b: Budget,
  run: RunBudgetState,
  estimateUsd: number,
  call: CheckInput['call'],
  pending = false,
): string | undefined {
  const next = pending ? 0 : 1;
  if (b.limitUsd !== undefined && run.costUsd + estimateUsd > b.limitUsd) return 'limit_usd';
  if (
    b.maxLlmCalls !== undefined &&
    (pending || call?.kind === 'llm') &&
    run.llmCalls + next > b.maxLlmCalls
  ) {
    return 'max_llm_calls';
  }
  if (
    b.maxToolCalls !== undefined &&
    (pending || call?.kind === 'tool') &&
    run.toolCalls + next > b.maxToolCalls
  ) {
    return 'max_tool_calls';
  }
  if (
    b.maxTokens !== undefined &&
    run.tokens >= b.maxTokens &&
    (pending ? run.tokens > b.maxTokens : true)
  ) {
    return 'max_tokens';
  }
  if (b.maxRepeatedToolCalls !== undefined && pending && run.maxRepeat > b.maxRepeatedToolCalls) {
    return 'max_repeated_tool_calls';
  }
  if (b.maxRepeatedToolCalls !== undefined && call?.kind === 'tool' && !pending) {
    const fp = toolCallFingerprint(call.name, call.arguments);
    if ((run.repeats?.count(fp) ?? 0) + 1 > b.maxRepeatedToolCalls)
      return 'max_repeated_tool_calls';
  }
  return undefined;
}
