/**
 * `createSpanLedger(options)`: the one object an application creates. It validates its options
 * and the prices file once, at construction (bad configuration fails fast with one line naming
 * the option or file, the entry and the reason), and hands out the span processor to register
 * first and the budget decision API (docs/budgets.md, "The decision API").
 */

import { hostname, userInfo } from 'node:os';
import {
  type Attributes,
  context as api,
  type Context,
  type MeterProvider,
  type Span,
  trace,
} from '@opentelemetry/api';
import { detectResources, envDetector } from '@opentelemetry/resources';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { createAlwaysRecordSampler, type Sampler } from '@opentelemetry/sdk-trace';
import { Attribution, type AttributionOptions } from './attribution/attribution.js';
import {
  type Budget,
  type BudgetInput,
  TOKEN_TYPES,
  type TokenCounts,
  validateBudgets,
} from './budgets/config.js';
import {
  type BudgetDecision,
  BudgetExceededError,
  type CheckInput,
  refusalOf,
} from './budgets/decisions.js';
import {
  BudgetEngine,
  type BudgetPause,
  type BudgetScopeRef,
  type GuardAccount,
  type Hold,
} from './budgets/engine.js';
import { MemoryLedger } from './budgets/memory-ledger.js';
import type { BudgetEvent } from './budgets/signals.js';
import type { BudgetLedger, BudgetLedgerStats } from './budgets/types.js';
import { loadConfigFile, type SpanLedgerConfigInput, validateConfig } from './config.js';
import { lazily, zod } from './config-file.js';
import { mergeProblems, type ProblemCounts, processReporter, Reporter } from './diag.js';
import { BUILTIN } from './dimensions.js';
import { BudgetMetrics } from './metrics/budget-metrics.js';
import { CostMetrics } from './metrics/cost-metrics.js';
import { MeterSource } from './metrics/meter-source.js';
import {
  checkOptions,
  functionOption,
  kindOf,
  type OptionRule,
  option,
  parseOptions,
  positiveInteger,
  ruleSchema,
  shown,
} from './options.js';
import { ConfigError, type RoutingConfigInput, validateRouting } from './pricing/config.js';
import { PriceBook } from './pricing/price-book.js';
import { CostProcessor, type PricingCounts, RESERVATION_KEY } from './processor/processor.js';
import { TraceRegistry } from './processor/rollup.js';
import { UnitRules } from './processor/rules.js';

/** Options of {@link createSpanLedger}. */
export interface SpanLedgerOptions {
  /** Prices file (YAML or JSON path) or the same content as an object: contract prices,
   * custom models, aliases, discounts, service tiers, tool/retrieval/human-review rules.
   * Default: the bundled catalog only. */
  prices?: string | SpanLedgerConfigInput;
  /** A prepared price book, shared with other code (instead of `prices`). */
  priceBook?: PriceBook;
  /** Leave spans whose model id the catalog matched only by prefix or substring (a typo, an
   * unknown variant) unpriced with reason `approximate_model`, instead of pricing them at the
   * neighbouring entry's price (flagged `spanledger.pricing.match = approximate`). Default
   * false; env `SPANLEDGER_STRICT_MODELS`. Give it to the `PriceBook` when you pass one. */
  strictModels?: boolean;
  /** Routing counterfactuals (docs/pricing.md): alternatives by model and by use case, priced
   * on every priced LLM span into `spanledger.cost.alternative.usd`. Replaces the prices
   * file's `routing:` section. Give it in the `PriceBook`'s prices when you pass one. */
  routing?: RoutingConfigInput;
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
  /** Where cost and budget metrics go. Default: the global meter provider (set by NodeSDK). */
  meterProvider?: MeterProvider;
  /** The service's resource: its attribution dimensions (e.g. `spanledger.team`) count for
   * checks, reservations and guarded calls made outside any span, as they do for the spans.
   * Give the resource your tracer provider has when you set dimensions on it in code. Default:
   * the resource the environment describes (`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`),
   * read once, at construction. */
  resource?: { readonly attributes: Attributes };
}

/** Budget held for a call in flight; settle it to the actual cost, or release it. */
export interface Reservation {
  /** The estimate held, USD. */
  readonly estimateUsd: number;
  /** Turn the hold into spend of `actualUsd` (once; later calls do nothing). Calls held count
   * as made; tokens held count as used unless `actual.tokens` gives the call's real tokens. */
  settle(actualUsd: number, actual?: { tokens?: number | TokenCounts }): Promise<void>;
  /** Give the hold back without spend (once). */
  release(): Promise<void>;
}

/** Options of a budget check, reservation or guarded call. */
export interface BudgetCallOptions extends CheckInput {
  /** The context whose run and dimensions apply. Default: the active context. */
  context?: Context;
}

/** Options of {@link SpanLedger.pause}. */
export interface PauseOptions {
  /** Why, in one line; shown on every refused call and in `spanledger budgets status`. */
  reason: string;
  /** When the pause lifts by itself (a `Date`, epoch ms, or an ISO 8601 string with a zone).
   * Default: when resumed. */
  until?: Date | number | string;
  /** Who paused it. Default `$USER@hostname`. */
  by?: string;
}

/** Who pauses by default: the user and host (`alice@ops-1`). */
export function defaultPauser(): string {
  let user = process.env.USER ?? process.env.USERNAME;
  if (user === undefined || user === '') {
    try {
      user = userInfo().username;
    } catch {
      user = 'unknown';
    }
  }
  return `${user}@${hostname()}`;
}

/** An instant given as a Date, epoch ms, or ISO 8601 with a zone; undefined when invalid. */
function instant(v: Date | number | string): number | undefined {
  let ms: number;
  if (v instanceof Date) ms = v.getTime();
  else if (typeof v === 'number') ms = v;
  else if (typeof v === 'string' && /(Z|[+-]\d{2}:\d{2})$/.test(v)) ms = Date.parse(v);
  else return undefined;
  return Number.isFinite(ms) ? ms : undefined;
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
  budgetLedger?: BudgetLedgerStats;
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
  /** The budget decision for a call about to be made in the active run. Never throws for
   * budget reasons (malformed options throw `TypeError`). */
  check(options?: BudgetCallOptions): Promise<BudgetDecision>;
  /** Like `check`, but throws `BudgetExceededError` when the decision is `block`; an `action:
   * pause` budget that refuses the call pauses its scope first (docs/budgets.md, "Pause and
   * resume"). */
  enforce(options?: BudgetCallOptions): Promise<BudgetDecision>;
  /** Hold `estimateUsd` on every matching calendar and rolling budget until settled or
   * released (or the reservation timeout). Throws `BudgetExceededError` if a `block` budget
   * cannot fit it. */
  reserve(estimateUsd: number, options?: BudgetCallOptions): Promise<Reservation>;
  /** Enforce, reserve, run `fn`, then settle each hold to the cost of the spans `fn` produced
   * in that hold's window (nothing spent: released). Spend outside the held windows is
   * written as it happens, so no spend is ever lost. */
  guard<T>(fn: () => Promise<T> | T, options?: BudgetCallOptions): Promise<T>;
  /** Pause a budget scope until {@link resume} (or `options.until`): every guarded call,
   * reservation and enforced check in it is refused with `BudgetExceededError` (`limit:
   * 'paused'`), in every process sharing the budget ledger, across window rollovers
   * (docs/budgets.md, "Pause and resume"). `scope`: the budget's name, and for a per-value
   * budget the value of each `'*'` dimension (`{ budget: 'tenant-monthly', dimensions: {
   * tenant: 'acme' } }`). Throws `TypeError` for an unknown budget or scope; rejects when the
   * ledger could not store the pause. */
  pause(scope: BudgetScopeRef, options: PauseOptions): Promise<BudgetPause>;
  /** Lift a pause; resolves to whether the scope was paused. */
  resume(scope: BudgetScopeRef): Promise<boolean>;
  /** Every paused scope in the budget ledger. */
  pauses(): Promise<BudgetPause[]>;
  /** Flush and stop; idempotent. Logs the run-time problem counts once through OTel diag.
   * Afterwards the decision API answers by the closed-ledger policy (docs/budgets.md). */
  shutdown(): Promise<void>;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const LEDGER_METHODS = ['reserve', 'settle', 'release', 'add', 'get', 'close'] as const;

export type { BudgetPause, BudgetScopeRef } from './budgets/engine.js';

// Checked in plain code; the schema of these rules names what is wrong (src/options.ts).
const OPTION_RULES: Readonly<Record<string, OptionRule>> = {
  prices: option((v) => typeof v === 'string' || isObject(v), 'a file path or a prices object'),
  priceBook: option((v) => v instanceof PriceBook, 'a PriceBook', kindOf),
  semconvCostAttributes: option((v) => typeof v === 'boolean', 'true or false'),
  strictModels: option((v) => typeof v === 'boolean', 'true or false'),
  routing: option(isObject, 'a routing section ({ models, useCases, onSpans })', kindOf),
  maxOpenTraces: positiveInteger(),
  traceTtlMs: positiveInteger(),
  budgets: option(Array.isArray, 'a list of budgets', kindOf),
  budgetLedger: {
    ok: (v) => isObject(v) && LEDGER_METHODS.every((m) => typeof v[m] === 'function'),
    problem: () => `expected a BudgetLedger (${LEDGER_METHODS.join(', ')})`,
  },
  onBudgetEvent: functionOption(),
  reservationTimeoutMs: positiveInteger(),
  now: functionOption(),
  attribution: option((v) => v === false || isObject(v), 'attribution options or false'),
  meterProvider: option(
    (v) => isObject(v) && typeof v.getMeter === 'function',
    'a MeterProvider',
    kindOf,
  ),
  resource: option(
    (v) => isObject(v) && isObject(v.attributes),
    'a resource ({ attributes })',
    kindOf,
  ),
};

const finiteUsd = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const USD_RULE = 'must be a finite non-negative number of USD';
const TOKEN_KEYS = new Set<string>(TOKEN_TYPES);
/** A token count: a finite non-negative number, or one per token type. */
const validTokens = (v: unknown): boolean =>
  finiteUsd(v) ||
  (isObject(v) &&
    Object.keys(v).every((k) => TOKEN_KEYS.has(k) && (v[k] === undefined || finiteUsd(v[k]))));
const TOKENS_RULE = `must be a finite non-negative number of tokens, or one per type (${TOKEN_TYPES.join(', ')})`;

// Built only for call options that the plain check below cannot vouch for.
const callOptionsSchema = lazily(() => {
  const z = zod();
  return z.strictObject({
    estimateUsd: z
      .unknown()
      .refine(finiteUsd, { error: (iss) => `${USD_RULE}, got ${shown(iss.input)}` })
      .optional(),
    estimateTokens: z
      .unknown()
      .refine(validTokens, { error: (iss) => `${TOKENS_RULE}, got ${shown(iss.input)}` })
      .optional(),
    call: z
      .strictObject({
        kind: z.enum(['llm', 'tool'], { error: 'expected "llm" or "tool"' }),
        name: z.string({ error: 'expected the tool name' }).min(1).optional(),
        arguments: z.unknown().optional(),
      })
      .refine((c) => c.kind !== 'tool' || c.name !== undefined, {
        error: 'a tool call needs its name',
        path: ['name'],
      })
      .optional(),
    dimensions: z
      .record(
        z.string(),
        z.string({ error: (iss) => `expected a string, got ${kindOf(iss.input)}` }).optional(),
      )
      .optional(),
    context: ruleSchema(
      option(
        (v) => isObject(v) && typeof v.getValue === 'function',
        'an OpenTelemetry Context',
        kindOf,
      ),
    ),
  });
});
const CALL_OPTION_KEYS = [
  'estimateUsd',
  'estimateTokens',
  'call',
  'dimensions',
  'context',
  'name',
  'kind',
  'arguments',
];

/** The common shapes of call options, checked without the schema: `check()` and `guard()` are
 * on the request path (docs/performance.md). Accepts only what the schema accepts. */
function plainCallOptions(o: BudgetCallOptions): boolean {
  if (!isObject(o)) return false;
  for (const k in o) {
    const v = (o as Record<string, unknown>)[k];
    if (v === undefined) continue;
    if (k === 'estimateUsd') {
      if (!finiteUsd(v)) return false;
    } else if (k === 'estimateTokens') {
      if (!validTokens(v)) return false;
    } else if (k === 'call') {
      if (!isObject(v) || Object.keys(v).some((c) => !CALL_KEYS.has(c))) return false;
      if (v.kind === 'tool') {
        if (typeof v.name !== 'string' || v.name === '') return false;
      } else if (
        v.kind !== 'llm' ||
        (v.name !== undefined && (typeof v.name !== 'string' || v.name === ''))
      ) {
        return false;
      }
    } else if (k === 'dimensions') {
      if (!isObject(v) || Object.values(v).some((d) => d !== undefined && typeof d !== 'string')) {
        return false;
      }
    } else if (k === 'context') {
      if (!isObject(v) || typeof v.getValue !== 'function') return false;
    } else {
      return false;
    }
  }
  return true;
}
const CALL_KEYS = new Set(['kind', 'name', 'arguments']);

/** Validate a decision call's options (programming errors: TypeError, one line). */
function callOptions(
  o: BudgetCallOptions | undefined,
  signature: string,
): BudgetCallOptions | undefined {
  if (o === undefined || plainCallOptions(o)) return o;
  // Only what the quick check cannot vouch for goes through the schema, which names the problem.
  parseOptions(
    callOptionsSchema(),
    o,
    CALL_OPTION_KEYS,
    `spanledger: ${signature}`,
    (m) => new TypeError(m),
  );
  return o;
}

/** Create the ledger: the cost processor and its price book. Throws `ConfigError` on bad
 * configuration (at startup, never at run time), with one line naming the option and why. */
export function createSpanLedger(options: SpanLedgerOptions = {}): SpanLedger {
  checkOptions(
    OPTION_RULES,
    options,
    'spanledger: invalid createSpanLedger options',
    (m) => new ConfigError(m),
  );
  if (options.priceBook !== undefined && options.prices !== undefined) {
    throw new ConfigError(
      'spanledger: invalid createSpanLedger options: priceBook: give either prices or priceBook, not both',
    );
  }
  // The dimensions first: the configuration's budget scopes are checked against them.
  const attribution =
    options.attribution === false ? undefined : new Attribution(options.attribution ?? {});
  const dimensions = attribution?.dimensions ?? BUILTIN;
  const config =
    typeof options.prices === 'string'
      ? loadConfigFile(options.prices, dimensions)
      : options.prices !== undefined
        ? validateConfig(options.prices, 'options.prices', dimensions)
        : undefined;
  for (const key of ['strictModels', 'routing'] as const) {
    if (options.priceBook !== undefined && options[key] !== undefined) {
      throw new ConfigError(
        `spanledger: invalid createSpanLedger options: ${key}: give it to the PriceBook you pass as priceBook`,
      );
    }
  }
  let prices = config?.prices;
  if (options.routing !== undefined) {
    prices = { ...(prices ?? {}), routing: validateRouting(options.routing, 'options.routing') };
  }
  const priceBook =
    options.priceBook ??
    new PriceBook({
      ...(prices ? { config: prices } : {}),
      ...(options.strictModels ? { strictModels: true } : {}),
    });
  const reporter = new Reporter();
  const traces = new TraceRegistry({
    ...(options.maxOpenTraces !== undefined ? { maxOpenTraces: options.maxOpenTraces } : {}),
    ...(options.traceTtlMs !== undefined ? { traceTtlMs: options.traceTtlMs } : {}),
  });
  // The service's resource, for decisions made before any span exists (spans carry its
  // dimensions from their start).
  const resource = options.resource ?? detectResources({ detectors: [envDetector] });
  const meters = new MeterSource(options.meterProvider);
  // Built first: the metrics' collection asks it for the spans a deferred pipeline holds.
  let processor: CostProcessor | undefined;
  const beforeCollect = () => processor?.flushDeferred();
  processor = new CostProcessor({
    metrics: meters.bind((meter) => new CostMetrics(meter, { beforeCollect })),
    traces,
    ...(attribution ? { attribution } : {}),
    context: { priceBook, rules: new UnitRules(priceBook.config) },
    reporter,
    semconvCostAttributes: options.semconvCostAttributes ?? true,
  });
  const budgets = [
    ...(config?.budgets ?? []),
    ...(options.budgets ? validateBudgets(options.budgets, 'options.budgets', { dimensions }) : []),
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
    ledger: budgetLedger,
    reporter,
    instruments: new BudgetMetrics(meters),
    dimensions,
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
      span,
      dims:
        o?.dimensions ??
        engine.dimensionsOf(
          attrs,
          (root as { attributes?: Attributes } | undefined)?.attributes,
          // The request's baggage over the service's resource: what a span started here gets,
          // so a call at the top of a request sees the same dimensions as its spans.
          attribution?.forSpan(ctx, resource),
        ),
    };
  };
  /** Call options checked, and the dimension names they give checked against those in force:
   * a mistyped name would otherwise match no budget and lift its limit silently. */
  const validCall = (
    o: BudgetCallOptions | undefined,
    signature: string,
  ): BudgetCallOptions | undefined => {
    callOptions(o, signature);
    for (const name in o?.dimensions ?? {}) {
      if (!dimensions.has(name)) {
        throw new TypeError(
          `spanledger: ${signature}: dimensions.${name}: unknown dimension "${name}" (known: ${dimensions.names.join(', ')})`,
        );
      }
    }
    return o;
  };
  const decide = (
    o: BudgetCallOptions | undefined,
    w = where(o),
    refusing?: { span?: Span | undefined },
  ): Promise<BudgetDecision> => engine.check({ ...o, dimensions: w.dims }, w.run, refusing);
  const check = async (o?: BudgetCallOptions): Promise<BudgetDecision> =>
    decide(validCall(o, 'check(options)'));
  const enforceValid = async (
    o: BudgetCallOptions | undefined,
    w = where(o),
  ): Promise<BudgetDecision> => {
    // `block` refuses the call: an `action: pause` budget refusing it pauses its scope.
    const d = await decide(o, w, { span: w.span });
    if (d.action === 'block') throw new BudgetExceededError(refusalOf(d));
    return d;
  };
  const enforce = async (o?: BudgetCallOptions): Promise<BudgetDecision> =>
    enforceValid(validCall(o, 'enforce(options)'));

  /** Hold an estimate; settle (each hold to its own accounted cost, or to one given amount) or
   * release once. At the timeout each hold is settled to what it has accounted so far (nothing:
   * released) and a guarded call's account is closed, so spans ending later are written as
   * unguarded spend instead of being lost with the hold. */
  const hold = async (
    estimateUsd: number,
    w: Pick<ReturnType<typeof where>, 'dims' | 'span'>,
    o: BudgetCallOptions | undefined,
    account?: { closed: boolean },
  ) => {
    const holds: Hold[] = await engine.reserve(estimateUsd, w.dims, {
      span: w.span,
      call: o?.call,
      estimateTokens: o?.estimateTokens,
    });
    let done = false;
    const finish = async (action: () => Promise<void>): Promise<void> => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (account !== undefined) account.closed = true;
      try {
        await action();
      } catch (e) {
        reporter.count('budget_error', (e as Error).message);
      }
    };
    const timer = setTimeout(() => {
      void finish(() => engine.settle(holds));
    }, timeoutMs);
    timer.unref();
    return {
      holds,
      settle: (actualUsd?: number, tokens?: number | TokenCounts) =>
        finish(() => engine.settle(holds, actualUsd, tokens)),
      release: () => finish(() => engine.release(holds)),
    };
  };
  const reserve = async (estimateUsd: number, o?: BudgetCallOptions): Promise<Reservation> => {
    if (!finiteUsd(estimateUsd)) {
      throw new TypeError(
        `spanledger: reserve(estimateUsd): estimateUsd ${USD_RULE}, got ${shown(estimateUsd)}`,
      );
    }
    const h = await hold(estimateUsd, where(validCall(o, 'reserve(estimateUsd, options)')), o);
    return {
      estimateUsd,
      settle: (actualUsd, actual) => {
        if (!finiteUsd(actualUsd)) {
          return Promise.reject(
            new TypeError(
              `spanledger: settle(actualUsd): actualUsd ${USD_RULE}, got ${shown(actualUsd)}`,
            ),
          );
        }
        if (actual?.tokens !== undefined && !validTokens(actual.tokens)) {
          return Promise.reject(
            new TypeError(
              `spanledger: settle(actualUsd, actual): actual.tokens ${TOKENS_RULE}, got ${shown(actual.tokens)}`,
            ),
          );
        }
        return h.settle(actualUsd, actual?.tokens);
      },
      release: h.release,
    };
  };
  const guard = async <T>(fn: () => Promise<T> | T, o?: BudgetCallOptions): Promise<T> => {
    if (typeof fn !== 'function') {
      throw new TypeError(`spanledger: guard(fn): fn must be a function, got ${kindOf(fn)}`);
    }
    validCall(o, 'guard(fn, options)');
    const w = where(o);
    await enforceValid(o, w);
    // Right after the check, with nothing awaited in between: hold the call on its run, so that
    // concurrent calls of one run cannot all pass a per-run cap (docs/budgets.md).
    const run = engine.holdsRuns
      ? processor.runStateOf(trace.getSpan(o?.context ?? api.active()), true).run
      : undefined;
    const releaseRun = engine.holdRun({ ...o, dimensions: w.dims }, run, w.span);
    const state = { closed: false };
    let h: Awaited<ReturnType<typeof hold>>;
    try {
      h = await hold(o?.estimateUsd ?? 0, w, o, state);
    } catch (e) {
      releaseRun();
      throw e;
    }
    // Spans started under the call find its holds through the context (docs/budgets.md).
    const account: GuardAccount = {
      get closed() {
        return state.closed;
      },
      holds: h.holds,
    };
    const ctx = (o?.context ?? api.active()).setValue(RESERVATION_KEY, account);
    try {
      return await api.with(ctx, fn);
    } finally {
      // The run's own counters have the call's spans by now: its run hold goes.
      releaseRun();
      // Spent before a failure is still spent; a hold nothing was spent on is given back.
      await h.settle();
    }
  };

  const scopeOf = (scope: BudgetScopeRef, signature: string): BudgetScopeRef => {
    if (!isObject(scope) || typeof scope.budget !== 'string') {
      throw new TypeError(`spanledger: ${signature}: scope must be { budget, dimensions? }`);
    }
    const dims = (scope as { dimensions?: unknown }).dimensions;
    if (
      dims !== undefined &&
      (!isObject(dims) || Object.values(dims).some((v) => typeof v !== 'string'))
    ) {
      throw new TypeError(`spanledger: ${signature}: scope.dimensions must map names to strings`);
    }
    for (const name in dims ?? {}) {
      if (!dimensions.has(name)) {
        throw new TypeError(
          `spanledger: ${signature}: dimensions.${name}: unknown dimension "${name}" (known: ${dimensions.names.join(', ')})`,
        );
      }
    }
    try {
      engine.resolveScope(scope);
    } catch (e) {
      throw new TypeError(`spanledger: ${signature}: ${(e as Error).message}`);
    }
    return scope;
  };
  const pause = async (scope: BudgetScopeRef, o: PauseOptions): Promise<BudgetPause> => {
    const signature = 'pause(scope, options)';
    scopeOf(scope, signature);
    if (!isObject(o) || typeof o.reason !== 'string' || o.reason.trim() === '') {
      throw new TypeError(`spanledger: ${signature}: options.reason: say why, in one line`);
    }
    if (o.by !== undefined && (typeof o.by !== 'string' || o.by.trim() === '')) {
      throw new TypeError(`spanledger: ${signature}: options.by: a non-empty name`);
    }
    const at = (options.now ?? Date.now)();
    let until: number | undefined;
    if (o.until !== undefined) {
      until = instant(o.until);
      if (until === undefined || until <= at) {
        throw new TypeError(
          `spanledger: ${signature}: options.until: expected a future instant (Date, epoch ms or ISO 8601 with a zone), got ${shown(o.until)}`,
        );
      }
    }
    return engine.pause(scope, {
      reason: o.reason.trim(),
      by: o.by?.trim() ?? defaultPauser(),
      at,
      ...(until !== undefined ? { until } : {}),
    });
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
    pause,
    resume: async (scope) => engine.resume(scopeOf(scope, 'resume(scope)')),
    pauses: () => engine.pauses(),
    stats: () => {
      processor.flushDeferred();
      const own = budgetLedger.stats?.();
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
      // The processor owns the engine and its ledger: its shutdown closes them and logs the
      // problem counts once.
      shutdown ??= processor.shutdown();
      return shutdown;
    },
  };
}
