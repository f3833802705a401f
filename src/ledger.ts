/**
 * `createSpanLedger(options)`: the one object an application creates. It validates the prices
 * file once, at construction (bad configuration fails fast, naming file, entry and reason), and
 * hands out the span processor to register first.
 */
import {
  type Attributes,
  context as api,
  type Context,
  type MeterProvider,
  trace,
} from '@opentelemetry/api';
import { createAlwaysRecordSampler, type Sampler } from '@opentelemetry/sdk-trace';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Attribution, type AttributionOptions } from './attribution/attribution.js';
import { type Budget, type BudgetInput, validateBudgets } from './budgets/config.js';
import {
  type BudgetDecision,
  BudgetEngine,
  type BudgetEvent,
  BudgetExceededError,
  type CheckInput,
} from './budgets/engine.js';
import { MemoryLedger } from './budgets/memory-ledger.js';
import type { BudgetLedger } from './budgets/types.js';
import { mergeProblems, type ProblemCounts, processReporter, Reporter } from './diag.js';
import { CostMetrics } from './metrics/cost-metrics.js';
import { MeterSource } from './metrics/meter-source.js';
import { ConfigError, type PricesConfigInput } from './pricing/config.js';
import { PriceBook } from './pricing/price-book.js';
import {
  CostProcessor,
  type PricingCounts,
  RESERVATION_KEY,
  type ReservationAccumulator,
} from './processor/processor.js';
import { TraceRegistry } from './processor/rollup.js';
import { UnitRules } from './processor/rules.js';

/** Options of {@link createSpanLedger}. */
export interface SpanLedgerOptions {
  /** Prices file (YAML or JSON path) or the same content as an object: contract prices,
   * custom models, aliases, discounts, service tiers, tool/retrieval/human-review rules.
   * Default: the bundled catalog only. */
  prices?: string | PricesConfigInput;
  /** A prepared price book, shared with other code (instead of `prices`). */
  priceBook?: PriceBook;
  /** Also write `gen_ai.usage.cost.amount|currency|source` (the proposed GenAI semconv cost
   * attributes) on inference spans. Default true. */
  semconvCostAttributes?: boolean;
  /** Cap on open traces (local roots not yet ended) holding rollup state; the oldest are
   * evicted beyond it. Default 10000 (about 3 MB). */
  maxOpenTraces?: number;
  /** Evict a trace's rollup state when its local root has been open this long. Default
   * 3600000 (one hour). */
  traceTtlMs?: number;
  /** Budgets (in addition to a `budgets:` section of the prices file). */
  budgets?: readonly BudgetInput[];
  /** Where calendar and rolling budget windows live. Default: an in-memory ledger (one
   * process); use `RedisLedger` to share budgets across a fleet. */
  budgetLedger?: BudgetLedger;
  /** Called on every budget warning and exceeded event; errors are logged and swallowed. */
  onBudgetEvent?: (event: BudgetEvent) => void;
  /** A reservation not settled within this time is released. Default 300000 (5 minutes). */
  reservationTimeoutMs?: number;
  /** Clock for budget windows (ms since epoch). Default `Date.now`; set it to replay or test. */
  now?: () => number;
  /** How attribution dimensions reach spans (baggage trust, extra dimensions, value limits);
   * `false` copies none. Default: resource attributes and baggage for the fixed dimensions. */
  attribution?: AttributionOptions | false;
  /** Where cost metrics go. Default: the global meter provider (set by NodeSDK). */
  meterProvider?: MeterProvider;
}

/** Budget held for a call in flight; settle it to the actual cost, or release it. */
export interface Reservation {
  /** The estimate held, USD. */
  readonly estimateUsd: number;
  /** Turn the hold into spend of `actualUsd` (once; later calls do nothing). */
  settle(actualUsd: number): Promise<void>;
  /** Give the hold back without spend (once). */
  release(): Promise<void>;
}

/** Options of a budget check, reservation or guarded call. */
export interface BudgetCallOptions extends CheckInput {
  /** The context whose run and dimensions apply. Default: the active context. */
  context?: Context;
}

/** Counters since start: spans by pricing outcome, and run-time problems by kind. */
export interface SpanLedgerStats {
  spans: PricingCounts;
  /** Open traces with rollup state, and how many were evicted by the cap or the expiry. */
  traces: { open: number; evictions: number };
  /** Run-time problems by kind from every part, summed: the processor and budgets, the budget
   * ledger (its `problems`), and the process-wide instrumentations. */
  problems: ProblemCounts;
  /** The budget ledger's own counters, when it keeps any (`RedisLedger`, `MemoryLedger`). */
  budgetLedger?: Readonly<Record<string, number | Readonly<Record<string, number>>>>;
}

/** What {@link createSpanLedger} returns. */
export interface SpanLedger {
  /** The span processor. Register it before any exporting processor. */
  readonly processor: SpanProcessor;
  /** The price book in use (also usable with `priceUsage`). */
  readonly priceBook: PriceBook;
  /** Counters since start. */
  stats(): SpanLedgerStats;
  /** Wrap the outermost sampler so every span is recorded (metrics stay exact) while only the
   * delegate's sampled spans are exported. Every service must apply it. */
  sampler(delegate: Sampler): Sampler;
  /** The budgets in force (validated). */
  readonly budgets: readonly Budget[];
  /** The budget decision for a call about to be made in the active run. Never throws. */
  check(options?: BudgetCallOptions): Promise<BudgetDecision>;
  /** Like `check`, but throws `BudgetExceededError` when the decision is `block`. */
  enforce(options?: BudgetCallOptions): Promise<BudgetDecision>;
  /** Hold `estimateUsd` on every matching calendar and rolling budget until settled or
   * released (or the reservation timeout). Throws `BudgetExceededError` if a `block` budget
   * cannot fit it. */
  reserve(estimateUsd: number, options?: BudgetCallOptions): Promise<Reservation>;
  /** Enforce, reserve, run `fn`, then settle the reservation to the cost of the spans `fn`
   * produced (released when it failed before spending). */
  guard<T>(fn: () => Promise<T> | T, options?: BudgetCallOptions): Promise<T>;
  /** Flush and stop; idempotent. Logs the run-time problem counts once through OTel diag. */
  shutdown(): Promise<void>;
}

/** Create the ledger: the cost processor and its price book. Throws `ConfigError` on bad
 * configuration (at startup, never at run time). */
export function createSpanLedger(options: SpanLedgerOptions = {}): SpanLedger {
  if (options.priceBook !== undefined && options.prices !== undefined) {
    throw new TypeError('spanledger: give either prices or priceBook, not both');
  }
  const priceBook = options.priceBook ?? new PriceBook({ prices: options.prices });
  const reporter = new Reporter();
  const traces = new TraceRegistry({
    ...(options.maxOpenTraces !== undefined ? { maxOpenTraces: options.maxOpenTraces } : {}),
    ...(options.traceTtlMs !== undefined ? { traceTtlMs: options.traceTtlMs } : {}),
  });
  const attribution =
    options.attribution === false ? undefined : new Attribution(options.attribution ?? {});
  const meters = new MeterSource(options.meterProvider);
  const processor = new CostProcessor({
    metrics: meters.bind((meter) => new CostMetrics(meter)),
    traces,
    ...(attribution ? { attribution } : {}),
    context: { priceBook, rules: new UnitRules(priceBook.config) },
    reporter,
    semconvCostAttributes: options.semconvCostAttributes ?? true,
  });
  const budgets = [
    ...(priceBook.config.budgets ?? []),
    ...(options.budgets ? validateBudgets(options.budgets, 'options.budgets') : []),
  ] as Budget[];
  const names = new Set<string>();
  for (const b of budgets) {
    if (names.has(b.name)) throw new ConfigError(`spanledger: budget "${b.name}" is defined twice`);
    names.add(b.name);
  }
  const timeoutMs = options.reservationTimeoutMs ?? 300_000;
  const budgetLedger =
    options.budgetLedger ?? new MemoryLedger(options.now ? { now: options.now } : {});
  const engine = new BudgetEngine({
    budgets,
    meters,
    ledger: budgetLedger,
    reporter,
    ...(options.now ? { now: options.now } : {}),
    ...(options.onBudgetEvent ? { onBudgetEvent: options.onBudgetEvent } : {}),
  });
  processor.attachBudgets(engine);

  const where = (o: BudgetCallOptions | undefined) => {
    const ctx = o?.context ?? api.active();
    const span = trace.getSpan(ctx);
    const { run, root } = processor.runStateOf(span);
    const attrs =
      span !== undefined && 'attributes' in span
        ? (span as { attributes: Attributes }).attributes
        : undefined;
    return {
      run,
      dims:
        o?.dimensions ??
        BudgetEngine.dimensions(
          attrs,
          (root as { attributes?: Attributes } | undefined)?.attributes,
          // Before any span exists (a check at the top of a request): the request's baggage.
          attribution?.forSpan(ctx, undefined),
        ),
    };
  };
  const check = (o?: BudgetCallOptions): Promise<BudgetDecision> => {
    const w = where(o);
    return engine.check({ ...o, dimensions: w.dims }, w.run);
  };
  const enforce = async (o?: BudgetCallOptions): Promise<BudgetDecision> => {
    const d = await check(o);
    if (d.action === 'block') {
      throw new BudgetExceededError(
        d.budget ?? '?',
        d.limitUsd,
        d.spentUsd,
        d.limit ?? 'limit_usd',
      );
    }
    return d;
  };
  const reserve = async (estimateUsd: number, o?: BudgetCallOptions): Promise<Reservation> => {
    if (!(estimateUsd >= 0) || !Number.isFinite(estimateUsd)) {
      throw new RangeError(
        `spanledger: estimateUsd must be a finite non-negative number, got ${estimateUsd}`,
      );
    }
    const dims = where(o).dims;
    const { holds } = await engine.reserve(estimateUsd, dims);
    let done = false;
    const timer = setTimeout(() => {
      void finish(async () => engine.release(holds));
    }, timeoutMs);
    timer.unref();
    const finish = async (action: () => Promise<void>): Promise<void> => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        await action();
      } catch (e) {
        reporter.count('budget_error', (e as Error).message);
      }
    };
    return {
      estimateUsd,
      settle: (actualUsd) => finish(() => engine.settle(holds, actualUsd, dims)),
      release: () => finish(() => engine.release(holds)),
    };
  };
  const guard = async <T>(fn: () => Promise<T> | T, o?: BudgetCallOptions): Promise<T> => {
    await enforce(o);
    const reservation = await reserve(o?.estimateUsd ?? 0, o);
    const acc: ReservationAccumulator = { actualUsd: 0, closed: false };
    const ctx = (o?.context ?? api.active()).setValue(RESERVATION_KEY, acc);
    try {
      const result = await api.with(ctx, fn);
      acc.closed = true;
      await reservation.settle(acc.actualUsd);
      return result;
    } catch (e) {
      acc.closed = true;
      // Money spent before the failure is still spent; nothing spent gives the hold back.
      if (acc.actualUsd > 0) await reservation.settle(acc.actualUsd);
      else await reservation.release();
      throw e;
    }
  };

  let shutdown: Promise<void> | undefined;
  return {
    processor,
    priceBook,
    sampler: (delegate) => createAlwaysRecordSampler(delegate),
    budgets,
    check,
    enforce,
    reserve,
    guard,
    stats: () => {
      const own = (budgetLedger as { stats?(): SpanLedgerStats['budgetLedger'] }).stats?.();
      return {
        spans: { ...processor.counts },
        traces: { open: traces.size, evictions: traces.evictions },
        problems: mergeProblems(
          reporter.snapshot(),
          own?.problems as ProblemCounts | undefined,
          processReporter().snapshot(),
        ),
        ...(own !== undefined ? { budgetLedger: own } : {}),
      };
    },
    shutdown() {
      shutdown ??= processor
        .shutdown()
        .then(() => engine.close())
        .then(() => reporter.summary());
      return shutdown;
    },
  };
}
