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
} from './signals.js';
import type {
  Amounts,
  BudgetLedger,
  CounterName,
  CounterRequest,
  CounterTotals,
  KeyRef,
  WindowRef,
  WindowTotals,
} from './types.js';
import { WindowRefCache, writeRef } from './window.js';

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
    this.refs = new WindowRefCache(this.maxWindows);
    this.signals = new BudgetSignals({
      reporter: options.reporter,
      onBudgetEvent: options.onBudgetEvent,
      instruments: options.instruments,
      maxTrackedWindows: this.maxWindows,
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
          if (hit) d = decide(b, hit);
        } else if (this.closed) {
          // Nothing can be accounted any more: block budgets refuse, the others do not stop work.
          if (b.action === 'block') d = decide(b, ledgerStateHit(b, 'ledger_closed'));
        } else {
          const limits = this.callLimits(b, input.call);
          if (b.limitUsd === undefined && limits.length === 0) continue;
          const ref = this.refs.get(b, scope, this.now());
          const t = await this.ledger.get(
            ref.readKeys,
            limits.length > 0 ? limits.map((l) => l.counter) : undefined,
          );
          if (t.unavailable === true && b.action === 'block') {
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
   * synchronous step). Throws BudgetExceededError when the call no longer fits; returns the
   * release (idempotent).
   */
  holdRun(input: CheckInput, run: RunBudgetState | undefined): () => void {
    if (run === undefined) return () => {};
    const estimate = input.estimateUsd ?? 0;
    const dims = input.dimensions ?? {};
    for (const b of this.budgets) {
      if (b.window !== 'trace' || b.action !== 'block') continue;
      if (matchScope(b.scope, dims) === undefined) continue;
      const hit = runLimitHit(b, run, estimate, input.call);
      if (hit) throw new BudgetExceededError(refusalOf(decide(b, hit)));
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
    input: Pick<CheckInput, 'call' | 'estimateTokens'> = {},
  ): Promise<Hold[]> {
    const holds: Hold[] = [];
    for (const b of this.budgets) {
      if (b.window === 'trace') continue;
      const limits = this.callLimits(b, input.call);
      if (b.limitUsd === undefined && limits.length === 0) continue;
      const scope = matchScope(b.scope, dims);
      if (scope === undefined) continue;
      if (this.closed) {
        if (b.action === 'block')
          throw new BudgetExceededError({ budget: b.name, ...ledgerStateHit(b, 'ledger_closed') });
        continue;
      }
      const window = this.refs.get(b, scope, this.now());
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
        b.action === 'block',
        counters,
      );
      if (!r.ok) {
        await this.release(holds);
        let hit: Omit<BudgetRefusal, 'budget'> | undefined;
        if (r.unavailable === true) hit = ledgerStateHit(b, 'ledger_unavailable');
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
      this.afterWrite(h.budget, now, amount, after, counts);
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
        (after) => this.afterWrite(b, window, costUsd, after, counts),
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
    counts?: Amounts,
  ): void {
    if (b.window !== 'trace' && 'calendar' in b.window && after !== undefined) {
      if (b.limitUsd !== undefined) {
        this.signals.track(b, window.writeKey, after.spentUsd);
        this.signals.crossing(b, after.spentUsd - amountUsd, after.spentUsd);
      }
      if (counts === undefined) return;
      for (const l of this.limits.get(b) ?? []) {
        const added = counts[l.counter];
        const t = after.counts?.[l.counter];
        if (added === undefined || t === undefined) continue;
        this.signals.crossing(b, t.spent - added, t.spent, l);
      }
      return;
    }
    void this.refresh(b, window).catch((e: unknown) =>
      this.reporter.count('budget_error', (e as Error).message),
    );
  }

  private async refresh(b: Budget, window: WindowRef): Promise<void> {
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
      this.signals.crossing(b, before, t.spentUsd);
    }
    for (const l of limits) {
      const spent = t.counts?.[l.counter]?.spent;
      if (spent === undefined || !Number.isFinite(spent)) continue;
      const id = `${window.writeKey}\u0000${l.counter}`;
      const before = this.lastCounts.get(id) ?? 0;
      if (this.lastCounts.size >= this.maxWindows) this.lastCounts.clear();
      this.lastCounts.set(id, spent);
      this.signals.crossing(b, before, spent, l);
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
