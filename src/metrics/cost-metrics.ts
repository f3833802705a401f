/**
 * Cost metrics (docs/conventions.md, Metrics), recorded by the processor for every recording span, so they
 * stay exact under any trace sampling once the sampler is wrapped to record everything
 * (`ledger.sampler(...)`). Attribute keys are the span attribute keys.
 *
 * The counters are aggregated here, per series, and reported through observable counters at each
 * collection. The SDK's synchronous `Counter.add` builds and hashes an attribute set per call:
 * eight of those per priced span cost about 14 µs, several times the rest of the processor.
 * Here a span costs a few map lookups per family, keyed by label values it already holds (see
 * TupleIndex), and the attribute sets are built once per series. The values are the cumulative sums the SDK would have kept, so exporters see
 * the same numbers, for either temporality. Each family keeps at most `maxSeries` series; later
 * new ones are folded into one series marked `otel.metric.overflow=true`, as the SDK's own
 * cardinality limit does. Series are never dropped (a cumulative counter must not reset).
 */
import type {
  Attributes,
  BatchObservableResult,
  Histogram,
  Meter,
  Observable,
  ObservableCounter,
} from '@opentelemetry/api';
import { BUILTIN, dimensionValue } from '../dimensions.js';
import { reasonCode, type SpanCost } from '../processor/span-cost.js';
import type { RunCostStatus } from '../semconv.js';
import * as A from '../semconv.js';

/** Dimension attributes carried by cost metrics, read off the span (src/dimensions.ts). */
const DIMENSION_KEYS = BUILTIN.keys;

/** Attribute the SDK sets on the series that collects measurements beyond its limit. */
const OVERFLOW = 'otel.metric.overflow';
const OVERFLOW_ATTRIBUTES: Attributes = Object.freeze({ [OVERFLOW]: true });

/** The metric attributes of a span's dimensions. */
export function dimensionAttributes(span: Attributes, root?: Attributes): Attributes {
  return BUILTIN.attributes(span, root);
}

// Separators that sanitised values never contain: absent and empty values stay distinct.
const SEP = '\u0000';
const ABSENT = '\u0001';
const part = (v: unknown): string => (typeof v === 'string' ? v : ABSENT);

/** The key of a span's dimension values (the span's own, else its run root's). */
function dimensionKey(span: Attributes, root: Attributes | undefined): string {
  let key = '';
  for (const k of DIMENSION_KEYS)
    key += SEP + part(dimensionValue(span[k]) ?? (root && dimensionValue(root[k])));
  return key;
}

// The key of a span with no dimension values, built once: most spans carry none, and their
// lookups then hash no new string (docs/performance.md, "per-call cuts on real spans").
const NO_DIMENSIONS = DIMENSION_KEYS.map(() => SEP + ABSENT).join('');

/** {@link dimensionKey}, without building a string when the span has no dimension values. */
function dimensionsOf(span: Attributes, root: Attributes | undefined): string {
  for (const k of DIMENSION_KEYS) {
    if (dimensionValue(span[k]) !== undefined) return dimensionKey(span, root);
    if (root !== undefined && dimensionValue(root[k]) !== undefined) {
      return dimensionKey(span, root);
    }
  }
  return NO_DIMENSIONS;
}

/**
 * Series values by a short tuple of label values, as nested maps keyed by the values themselves.
 * The values are strings the span, the price book or this module already hold, whose hashes V8
 * caches in the strings: a lookup hashes nothing new, where a concatenated key was a fresh
 * string to build, flatten and hash on every span. Only series that exist are indexed (past a
 * family's cap, new tuples are not kept here: they go to its overflow series).
 */
class TupleIndex<V> {
  private readonly root = new Map<string, unknown>();

  get(a: string, b: string, c?: string, d?: string): V | undefined {
    let node = this.root.get(a) as Map<string, unknown> | undefined;
    if (node === undefined) return undefined;
    if (c === undefined) return node.get(b) as V | undefined;
    node = node.get(b) as Map<string, unknown> | undefined;
    if (node === undefined) return undefined;
    if (d === undefined) return node.get(c) as V | undefined;
    node = node.get(c) as Map<string, unknown> | undefined;
    return node?.get(d) as V | undefined;
  }

  set(value: V, a: string, b: string, c?: string, d?: string): void {
    const parts = [a, b, c, d].filter((x): x is string => x !== undefined);
    let node = this.root;
    for (let i = 0; i < parts.length - 1; i++) {
      const p = parts[i] as string;
      let next = node.get(p) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(p, next);
      }
      node = next;
    }
    node.set(parts[parts.length - 1] as string, value);
  }
}

/** Series of one family: cumulative values by attribute set, capped. */
class Family<V> {
  private readonly series = new Map<string, { attributes: Attributes; value: V }>();
  private overflow: { attributes: Attributes; value: V } | undefined;

  constructor(
    private readonly max: number,
    private readonly empty: () => V,
  ) {}

  /** The value of the series `key`, if it exists. */
  get(key: string): V | undefined {
    return this.series.get(key)?.value;
  }

  /** Start the series `key` with its attribute set (the overflow series past the cap). Separate
   * from `get` so that the span path builds attribute sets only for new series. */
  /** Whether new series now go to the overflow series. */
  get full(): boolean {
    return this.series.size >= this.max;
  }

  add(key: string, attributes: Attributes): V {
    if (this.series.size >= this.max) {
      this.overflow ??= { attributes: { [OVERFLOW]: true }, value: this.empty() };
      return this.overflow.value;
    }
    const made = { attributes, value: this.empty() };
    this.series.set(key, made);
    return made.value;
  }

  forEach(fn: (value: V, attributes: Attributes) => void): void {
    for (const s of this.series.values()) fn(s.value, s.attributes);
    if (this.overflow !== undefined) fn(this.overflow.value, this.overflow.attributes);
  }
}

/** Token types in the order of {@link Usage.tokens}. */
const TOKEN_TYPES = ['input', 'output', 'reasoning', 'cache_read', 'cache_write'] as const;

/** Cost by (category, provider, model, dimensions). */
interface Spend {
  usd: number;
}
/** Tokens and cache savings by (provider, model, dimensions). */
interface Usage {
  tokens: [number, number, number, number, number];
  savingsUsd: number;
}
interface Count {
  n: number;
}
interface Outcome {
  n: number;
  usd: number;
}

/** Options of {@link CostMetrics}. */
export interface CostMetricsOptions {
  /** Series kept per instrument family (each counter family, the run-cost histogram) before
   * the overflow series. Default 10000. */
  maxSeries?: number;
  /** Called before each collection reads the counters: a deferred accounting (src/processor/
   * deferred.ts) records what it holds first. Must not throw. */
  beforeCollect?: () => void;
}

/** The cost instruments of one meter (docs/conventions.md, Metrics). */
export class CostMetrics {
  private readonly spend: Family<Spend>;
  private readonly usage: Family<Usage>;
  private readonly operations: Family<Count>;
  private readonly unpriced: Family<Count>;
  private readonly outcomes: Family<Outcome>;
  private readonly approximate: Family<Count>;
  private readonly alternative: Family<Spend>;
  /** The alternative series by span key, then by alternative label: the labels are the same
   * strings on every span, so the inner lookup hashes nothing new (docs/performance.md). */
  private readonly alternativeIndex = new Map<string, Map<string, Spend>>();
  /** The dimension key of the span `record` last saw (its attributes objects), which the
   * span's counterfactuals reuse instead of reading the dimensions again. */
  private readonly operationIndex = new TupleIndex<Count>();
  private readonly spendIndex = new TupleIndex<Spend>();
  private readonly usageIndex = new TupleIndex<Usage>();
  private readonly traceIndex = new TupleIndex<Attributes>();
  private readonly alternativeUnpriced: Family<Count>;
  private readonly traceCost: Histogram;
  /** Attribute sets of the histogram's series, by key; at most `max`, then the overflow one. */
  /** Series of the run-cost histogram (the SDK keeps their values; this caps their count). */
  private traceSeries = 0;
  private readonly max: number;
  /** Attributes the SDK dropped from spans (one series: no attributes). */
  private droppedAttributes = 0;

  constructor(meter: Meter, options: CostMetricsOptions = {}) {
    const max = options.maxSeries ?? 10_000;
    this.max = max;
    this.spend = new Family(max, () => ({ usd: 0 }));
    this.usage = new Family(max, () => ({ tokens: [0, 0, 0, 0, 0], savingsUsd: 0 }));
    this.operations = new Family(max, () => ({ n: 0 }));
    this.unpriced = new Family(max, () => ({ n: 0 }));
    this.outcomes = new Family(max, () => ({ n: 0, usd: 0 }));
    this.approximate = new Family(max, () => ({ n: 0 }));
    this.alternative = new Family(max, () => ({ usd: 0 }));
    this.alternativeUnpriced = new Family(max, () => ({ n: 0 }));

    const counter = (name: string, unit: string, description: string): ObservableCounter =>
      meter.createObservableCounter(name, { unit, description });
    const cost = counter('spanledger.cost.usd', '{USD}', 'Cost of priced work');
    const tokens = counter('spanledger.tokens', '{token}', 'Tokens by type');
    const operations = counter(
      'spanledger.operations',
      '{operation}',
      'Operations by category and pricing status',
    );
    const unpriced = counter('spanledger.unpriced', '{span}', 'Spans whose usage has no price');
    const savings = counter(
      'spanledger.cache.savings.usd',
      '{USD}',
      'What cache reads saved against the uncached input price',
    );
    const outcomes = counter(
      'spanledger.outcomes',
      '{outcome}',
      'Business outcomes (tickets resolved, leads qualified)',
    );
    const outcomeValue = counter(
      'spanledger.outcome.value.usd',
      '{USD}',
      'Business value of the outcomes (never cost)',
    );
    const dropped = counter(
      'spanledger.attributes.dropped',
      '{attribute}',
      "Attributes spanledger wrote that the SDK's span attribute count limit dropped",
    );
    const approximate = counter(
      'spanledger.pricing.approximate',
      '{span}',
      'Spans priced from a catalog entry that matched their model id only by prefix or substring',
    );
    const alternative = counter(
      'spanledger.cost.alternative.usd',
      '{USD}',
      'What the same usage would have cost on each configured routing alternative',
    );
    const alternativeUnpriced = counter(
      'spanledger.cost.alternative.unpriced',
      '{span}',
      'Routing alternatives that could not price a span’s usage (never counted as $0)',
    );
    const beforeCollect = options.beforeCollect;
    meter.addBatchObservableCallback(
      (result: BatchObservableResult) => {
        beforeCollect?.();
        if (this.droppedAttributes > 0) result.observe(dropped, this.droppedAttributes);
        this.spend.forEach((v, a) => {
          result.observe(cost, v.usd, a);
        });
        this.usage.forEach((v, a) => {
          for (let i = 0; i < TOKEN_TYPES.length; i++) {
            const n = v.tokens[i] as number;
            if (n > 0) {
              result.observe(tokens, n, { ...a, [A.ATTR_GEN_AI_TOKEN_TYPE]: TOKEN_TYPES[i] });
            }
          }
          if (v.savingsUsd > 0) result.observe(savings, v.savingsUsd, a);
        });
        this.operations.forEach((v, a) => {
          result.observe(operations, v.n, a);
        });
        this.unpriced.forEach((v, a) => {
          result.observe(unpriced, v.n, a);
        });
        this.outcomes.forEach((v, a) => {
          result.observe(outcomes, v.n, a);
          result.observe(outcomeValue, v.usd, a);
        });
        this.approximate.forEach((v, a) => {
          result.observe(approximate, v.n, a);
        });
        this.alternative.forEach((v, a) => {
          result.observe(alternative, v.usd, a);
        });
        this.alternativeUnpriced.forEach((v, a) => {
          result.observe(alternativeUnpriced, v.n, a);
        });
      },
      [
        cost,
        tokens,
        operations,
        unpriced,
        savings,
        outcomes,
        outcomeValue,
        dropped,
        approximate,
        alternative,
        alternativeUnpriced,
      ] as Observable[],
    );
    this.traceCost = meter.createHistogram('spanledger.trace.cost.usd', {
      unit: '{USD}',
      description: 'Cost of each run (local root), no trace id',
      advice: {
        explicitBucketBoundaries: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 100],
      },
    });
  }

  /** Record one span's cost, tokens, operation and unpriced status; dimensions are read off the
   * span, else its run's root. */
  record(cost: SpanCost, span: Attributes, root?: Attributes): void {
    const call = cost.llmCall;
    const price = cost.price;
    const provider = price?.provider ?? call?.provider;
    const model = price?.model ?? (call?.model || undefined);
    const operation = call?.operation ?? cost.category;
    const status = cost.status ?? 'none';
    let op = this.operationIndex.get(cost.category, operation, status);
    if (op === undefined) {
      const opKey = cost.category + SEP + operation + SEP + status;
      const full = this.operations.full;
      op =
        this.operations.get(opKey) ??
        this.operations.add(opKey, {
          [A.ATTR_COST_CATEGORY]: cost.category,
          [A.ATTR_GEN_AI_OPERATION_NAME]: operation,
          [A.ATTR_COST_STATUS]: status,
        });
      if (!full) this.operationIndex.set(op, cost.category, operation, status);
    }
    op.n++;

    if (cost.status === 'unpriced') {
      const reason = reasonCode(cost.reason);
      const key = part(provider) + SEP + part(model) + SEP + reason;
      (
        this.unpriced.get(key) ??
        this.unpriced.add(key, {
          ...(provider !== undefined ? { [A.ATTR_GEN_AI_PROVIDER_NAME]: provider } : {}),
          ...(model !== undefined ? { [A.ATTR_GEN_AI_REQUEST_MODEL]: model } : {}),
          [A.ATTR_COST_UNPRICED_REASON]: reason,
        })
      ).n++;
    }

    if (price?.match === 'approximate') {
      // The model label is the id as emitted (the typo an alert should show), not the entry.
      const asked = price.matchedModel ?? model;
      const key = part(provider) + SEP + part(asked);
      (
        this.approximate.get(key) ??
        this.approximate.add(key, {
          ...(provider !== undefined ? { [A.ATTR_GEN_AI_PROVIDER_NAME]: provider } : {}),
          ...(asked !== undefined ? { [A.ATTR_GEN_AI_REQUEST_MODEL]: asked } : {}),
          ...(price.model !== undefined ? { [A.ATTR_PRICING_MODEL]: price.model } : {}),
        })
      ).n++;
    }

    const priced = cost.costUsd !== undefined && cost.status !== 'unpriced';
    const saved = priced ? (price?.cacheSavingsUsd ?? 0) : 0;
    if (!priced && call === undefined) return;
    // Series are found by their label values in the indexes; the string keys of the families
    // are built only for a series not indexed yet.
    const p = part(provider);
    const m = part(model);
    const dims = dimensionsOf(span, root);
    if (priced) {
      let spend = this.spendIndex.get(cost.category, p, m, dims);
      if (spend === undefined) {
        const key = cost.category + SEP + p + SEP + m + dims;
        const full = this.spend.full;
        spend =
          this.spend.get(key) ??
          this.spend.add(key, {
            ...who(span, root, provider, model),
            [A.ATTR_COST_CATEGORY]: cost.category,
          });
        if (!full) this.spendIndex.set(spend, cost.category, p, m, dims);
      }
      spend.usd += cost.costUsd as number;
    }
    if (call !== undefined || saved > 0) {
      let u = this.usageIndex.get(p, m, dims);
      if (u === undefined) {
        const key = p + SEP + m + dims;
        const full = this.usage.full;
        u = this.usage.get(key) ?? this.usage.add(key, who(span, root, provider, model));
        if (!full) this.usageIndex.set(u, p, m, dims);
      }
      if (call !== undefined) {
        const t = u.tokens;
        t[0] += positive(call.inputTokens - call.cacheReadTokens - call.cacheWriteTokens);
        t[1] += positive(call.outputTokens - call.reasoningTokens);
        t[2] += positive(call.reasoningTokens);
        t[3] += positive(call.cacheReadTokens);
        t[4] += positive(call.cacheWriteTokens);
      }
      if (saved > 0) u.savingsUsd += saved;
    }
  }

  /** Record a finished run's total, with its status (`partial`: the run had unpriced work, so
   * its total is a lower bound) and the dimensions of its local root. The histogram is
   * synchronous, but its series are capped here like the counters' (the SDK's own limit
   * applies per reader, and only after it has built and hashed every attribute set). */
  recordTrace(costUsd: number, status: RunCostStatus, root: Attributes): void {
    const dims = dimensionsOf(root, undefined);
    let attributes = this.traceIndex.get(status, dims);
    if (attributes === undefined) {
      if (this.traceSeries >= this.max) attributes = OVERFLOW_ATTRIBUTES;
      else {
        attributes = { ...dimensionAttributes(root), [A.ATTR_COST_STATUS]: status };
        this.traceIndex.set(attributes, status, dims);
        this.traceSeries++;
      }
    }
    this.traceCost.record(costUsd, attributes);
  }

  /** The part of an alternative's series key that is the same for every alternative of one
   * span (provider, model and dimensions, as its `spanledger.cost.usd` series). */
  alternativeKey(
    provider: string | undefined,
    model: string | undefined,
    span: Attributes,
    root?: Attributes,
  ): string {
    return part(provider) + SEP + part(model) + dimensionsOf(span, root);
  }

  /**
   * Count what a span's usage would have cost on the alternative `label` (`costUsd`), or, when
   * the alternative cannot price it, one unpriced alternative with the reason: never $0.
   * `key` is {@link alternativeKey}'s for this span.
   */
  recordAlternative(
    label: string,
    key: string,
    costUsd: number | undefined,
    reason: string | undefined,
    provider: string | undefined,
    model: string | undefined,
    span: Attributes,
    root?: Attributes,
  ): void {
    if (costUsd !== undefined) {
      let byLabel = this.alternativeIndex.get(key);
      if (byLabel === undefined) {
        byLabel = new Map();
        // Each indexed key holds a series: past the cap the family is full, and new keys go to
        // its overflow series without growing the index.
        if (this.alternativeIndex.size < this.max) this.alternativeIndex.set(key, byLabel);
      }
      let spend = byLabel.get(label);
      if (spend === undefined) {
        spend = this.alternative.add(label + SEP + key, {
          ...who(span, root, provider, model),
          [A.ATTR_ALTERNATIVE_MODEL]: label,
        });
        byLabel.set(label, spend);
      }
      spend.usd += costUsd;
      return;
    }
    const code = reasonCode(reason);
    const k = label + SEP + code + SEP + key;
    (
      this.alternativeUnpriced.get(k) ??
      this.alternativeUnpriced.add(k, {
        ...who(span, root, provider, model),
        [A.ATTR_ALTERNATIVE_MODEL]: label,
        [A.ATTR_COST_UNPRICED_REASON]: code,
      })
    ).n++;
  }

  /** Count attributes spanledger wrote that the SDK's attribute count limit dropped. */
  recordDroppedAttributes(n: number): void {
    this.droppedAttributes += n;
  }

  /** Record business outcomes: `count` of them worth `valueUsd` in all. */
  recordOutcome(
    name: string,
    count: number,
    valueUsd: number,
    span: Attributes,
    root?: Attributes,
  ): void {
    const key = name + dimensionKey(span, root);
    const o =
      this.outcomes.get(key) ??
      this.outcomes.add(key, { ...dimensionAttributes(span, root), [A.ATTR_OUTCOME_NAME]: name });
    o.n += count;
    o.usd += valueUsd;
  }
}

const positive = (n: number): number => Math.max(0, n);

/** The attribute set of a (provider, model, dimensions) series. */
function who(
  span: Attributes,
  root: Attributes | undefined,
  provider: string | undefined,
  model: string | undefined,
): Attributes {
  const a = dimensionAttributes(span, root);
  if (provider !== undefined) a[A.ATTR_GEN_AI_PROVIDER_NAME] = provider;
  if (model !== undefined) a[A.ATTR_GEN_AI_REQUEST_MODEL] = model;
  return a;
}
