/**
 * Budget signals: warnings and exceeded events (span events, the user's callback, the events
 * counter) and the last known totals of each window (the limit and spent gauges). The metrics
 * themselves live in the metrics layer: budgets/ declares {@link BudgetInstruments} and is handed
 * an implementation, so no import goes from budgets/ up to metrics/ (docs/budgets.md, "Signals").
 */
import type { Attributes } from '@opentelemetry/api';
import type { Reporter } from '../diag.js';
import * as A from '../semconv.js';
import type { Budget, BudgetAction } from './config.js';
import { type BudgetRefusal, type CounterLimit, runLimitHit } from './decisions.js';
import type { RunBudgetState } from './engine.js';

/** A budget signal, given to the user callback and written as a span event. */
export interface BudgetEvent {
  kind: 'warning' | 'exceeded';
  budget: string;
  action: BudgetAction;
  limitUsd?: number;
  spentUsd?: number;
  /** The threshold crossed (fraction of the limit) for warnings. */
  threshold?: number;
  /** Which limit (`limit_usd`, `max_llm_calls`, ...). */
  limit: string;
  /** Limits other than USD on calendar and rolling windows, and on runs refused at a call or
   * token cap: the unit, the calls or tokens used and the limit. */
  unit?: 'calls' | 'tokens';
  used?: number;
  max?: number;
}

/** Last known totals of one calendar or rolling window, as the gauges report them. */
export interface WindowSnapshot {
  budget: string;
  /** `day@UTC`, `rolling:60000ms`. */
  window: string;
  limitUsd: number;
  spentUsd: number;
}

/** Where budget metrics go: implemented by the metrics layer (src/metrics/budget-metrics.ts)
 * and handed to the engine. Calls must not throw. */
export interface BudgetInstruments {
  /** Count one warning or exceeded event. */
  event(event: BudgetEvent): void;
  /** The windows' totals changed: report `windows()` at the next collection. */
  observeWindows(windows: () => Iterable<WindowSnapshot>): void;
  /** Report paused scopes per budget (read from the ledger) at each collection. */
  observePauses?(pauses: () => Promise<ReadonlyMap<string, number>>): void;
}

/** Something that takes span events (a span still recording). */
export interface EventTarget {
  addEvent(name: string, attrs?: Attributes): unknown;
}

/** Options of {@link BudgetSignals}. */
export interface BudgetSignalsOptions {
  reporter: Reporter;
  onBudgetEvent?: ((event: BudgetEvent) => void) | undefined;
  instruments?: BudgetInstruments | undefined;
  /** Cap on windows whose last known totals are kept for the gauges. */
  maxTrackedWindows: number;
  /** Whether `action: pause` budgets pause their scope at the limit (the ledger keeps pauses):
   * their exceeded event is then signalled by the pause ({@link BudgetSignals.exceeded}), not by
   * a crossing. Default false. */
  pausesAtLimit?: boolean;
}

/** Emits budget signals and keeps the windows' last known totals (bounded). */
export class BudgetSignals {
  private readonly reporter: Reporter;
  private readonly onEvent: ((event: BudgetEvent) => void) | undefined;
  private readonly instruments: BudgetInstruments | undefined;
  private readonly windows = new Map<string, WindowSnapshot>();
  private readonly maxWindows: number;
  private readonly snapshots = () => this.windows.values();
  private readonly pausesAtLimit: boolean;
  /** Windows whose exceeded event was signalled here, with when (bounded): a calendar window by
   * its key, a rolling window by its scope (see {@link ExceededOnce}). */
  private readonly exceededWindows = new Map<string, number>();

  constructor(options: BudgetSignalsOptions) {
    this.pausesAtLimit = options.pausesAtLimit ?? false;
    this.reporter = options.reporter;
    this.onEvent = options.onBudgetEvent;
    this.instruments = options.instruments;
    this.maxWindows = options.maxTrackedWindows;
  }

  /** Last known spend of a window (by its write key). */
  lastSpent(key: string): number | undefined {
    return this.windows.get(key)?.spentUsd;
  }

  /** Remember a window's totals for the gauges; the oldest window goes beyond the cap. */
  track(b: Budget, key: string, spentUsd: number): void {
    if (!this.windows.has(key) && this.windows.size >= this.maxWindows) {
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) this.windows.delete(oldest);
    }
    this.windows.set(key, {
      budget: b.name,
      window: windowLabel(b),
      limitUsd: b.limitUsd as number,
      spentUsd,
    });
    this.instruments?.observeWindows(this.snapshots);
  }

  /** Warnings and the exceeded event of a per-run budget, each once per run, on the span whose
   * cost crossed them. */
  run(span: EventTarget, b: Budget, run: RunBudgetState): void {
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
        limit: hit.limit,
      });
    }
  }

  /** The thresholds a window's spend (or, given a counter limit, its calls or tokens) crossed
   * between two known totals; the exceeded event once per window with `once` (made only when
   * the limit is crossed), whether a crossing or a refused call signals it first. */
  crossing(
    b: Budget,
    before: number,
    after: number,
    counter?: CounterLimit,
    once?: () => ExceededOnce,
  ): void {
    if (counter !== undefined) {
      this.counterCrossing(b, before, after, counter, once);
      return;
    }
    const limitUsd = b.limitUsd as number;
    for (const t of b.warnAt) {
      if (before < t * limitUsd && after >= t * limitUsd) {
        this.emit(undefined, {
          kind: 'warning',
          budget: b.name,
          action: b.action,
          limitUsd,
          spentUsd: after,
          threshold: t,
          limit: 'limit_usd',
        });
      }
    }
    if (before <= limitUsd && after > limitUsd && !this.signalledByPause(b) && this.first(once)) {
      this.emit(undefined, {
        kind: 'exceeded',
        budget: b.name,
        action: b.action,
        limitUsd,
        spentUsd: after,
        limit: 'limit_usd',
      });
    }
  }

  private counterCrossing(
    b: Budget,
    before: number,
    after: number,
    l: CounterLimit,
    once: (() => ExceededOnce) | undefined,
  ): void {
    const figures = { budget: b.name, action: b.action, limit: l.limit, unit: l.unit, max: l.max };
    for (const t of b.warnAt) {
      if (before < t * l.max && after >= t * l.max) {
        this.emit(undefined, { kind: 'warning', ...figures, used: after, threshold: t });
      }
    }
    if (before <= l.max && after > l.max && !this.signalledByPause(b) && this.first(once)) {
      this.emit(undefined, { kind: 'exceeded', ...figures, used: after });
    }
  }

  /** Whether a budget's exceeded event comes with its pause instead of a crossing. */
  private signalledByPause(b: Budget): boolean {
    return this.pausesAtLimit && b.action === 'pause';
  }

  /**
   * The exceeded event of an `action: pause` budget whose scope was just paused at `hit` (spend
   * or a counter reaching the limit, or a call refused by it): on `span` when a call that is
   * still running met the limit. Its figures are the limit's (`limitUsd` and `spentUsd`, or
   * `unit`, `used` and `max`).
   */
  exceeded(span: EventTarget | undefined, b: Budget, hit: Omit<BudgetRefusal, 'budget'>): void {
    this.emit(span, {
      kind: 'exceeded',
      budget: b.name,
      action: b.action,
      limit: hit.limit,
      ...limitFigures(hit),
    });
  }

  /**
   * A `block` budget's limit refused a call of a run (`guard`, `enforce`): its exceeded event,
   * on `span` (the run's open span), once per run and budget. The run's exceeded set is shared
   * with {@link run}, so a run refused again, or whose spend also crossed the limit, signals
   * once, and the run's root lists the budget (docs/budgets.md, "Signals").
   */
  refusedRun(
    span: EventTarget | undefined,
    b: Budget,
    hit: Omit<BudgetRefusal, 'budget'>,
    run: RunBudgetState,
  ): void {
    if (run.exceeded?.has(b.name)) return;
    run.exceeded ??= new Set();
    run.exceeded.add(b.name);
    const counted = hit.unit === 'calls' || hit.unit === 'tokens';
    this.emit(span, {
      kind: 'exceeded',
      budget: b.name,
      action: b.action,
      limit: hit.limit,
      ...(b.limitUsd !== undefined ? { limitUsd: b.limitUsd } : {}),
      spentUsd: run.costUsd,
      ...(counted ? limitFigures(hit) : {}),
    });
  }

  /**
   * A calendar or rolling `block` budget's limit refused a call (`guard`, `enforce`, `reserve`):
   * its exceeded event, on `span` when given, once per window (see {@link ExceededOnce}), so an
   * over-budget scope whose every call is refused signals once, not per call.
   */
  refusedWindow(
    span: EventTarget | undefined,
    b: Budget,
    hit: Omit<BudgetRefusal, 'budget'>,
    once: ExceededOnce,
  ): void {
    if (!this.first(once)) return;
    this.exceeded(span, b, hit);
  }

  /** Whether a window's exceeded event is due (and, if so, it is now taken as signalled). */
  private first(of: ExceededOnce | (() => ExceededOnce) | undefined): boolean {
    if (of === undefined) return true;
    const once = typeof of === 'function' ? of() : of;
    const last = this.exceededWindows.get(once.key);
    if (last !== undefined && (once.everyMs === undefined || once.now - last < once.everyMs)) {
      return false;
    }
    this.exceededWindows.delete(once.key);
    if (this.exceededWindows.size >= this.maxWindows) {
      const oldest = this.exceededWindows.keys().next().value;
      if (oldest !== undefined) this.exceededWindows.delete(oldest);
    }
    this.exceededWindows.set(once.key, once.now);
    return true;
  }

  private emit(span: EventTarget | undefined, e: BudgetEvent): void {
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
    this.instruments?.event(e);
    if (this.onEvent) {
      try {
        this.onEvent(e);
      } catch (err) {
        // A user callback must never break the span path.
        this.reporter.count('callback_error', (err as Error).message);
      }
    }
  }
}

/** Which window an exceeded event is for, so it is signalled once: a calendar window's key (a
 * new period is a new window), or a rolling window's scope with `everyMs` its length (a scope
 * still over its rolling limit signals again once per window length). */
export interface ExceededOnce {
  key: string;
  /** Budget clock, ms. */
  now: number;
  everyMs?: number | undefined;
}

/** The figures of a limit an event reports: `unit`, `used` and `max` for calls and tokens,
 * `limitUsd` and `spentUsd` for USD. */
function limitFigures(
  hit: Omit<BudgetRefusal, 'budget'>,
): Pick<BudgetEvent, 'unit' | 'used' | 'max' | 'limitUsd' | 'spentUsd'> {
  const { unit } = hit;
  return unit === 'calls' || unit === 'tokens'
    ? {
        unit,
        ...(hit.used !== undefined ? { used: hit.used } : {}),
        ...(hit.max !== undefined ? { max: hit.max } : {}),
      }
    : {
        ...(hit.limitUsd !== undefined ? { limitUsd: hit.limitUsd } : {}),
        ...(hit.spentUsd !== undefined ? { spentUsd: hit.spentUsd } : {}),
      };
}

/** The gauges' `window` attribute of a budget. */
export function windowLabel(b: Budget): string {
  if (b.window === 'trace') return 'trace';
  if ('calendar' in b.window) return `${b.window.calendar}@${b.window.timeZone}`;
  return `rolling:${b.window.rollingMs}ms`;
}
