/**
 * Cost metrics (SPEC section 3), recorded by the processor for every recording span, so they
 * stay exact under any trace sampling once the sampler is wrapped to record everything
 * (`ledger.sampler(...)`). Attribute keys are the span attribute keys.
 */
import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';
import { BUILTIN_DIMENSIONS } from '../budgets/config.js';
import { reasonCode, type SpanCost } from '../processor/span-cost.js';
import * as A from '../semconv.js';

/** Dimension attributes carried by cost metrics, read off the span. */
const DIMENSION_KEYS = Object.values(BUILTIN_DIMENSIONS);

/** The metric attributes of a span's dimensions. */
export function dimensionAttributes(span: Attributes, root?: Attributes): Attributes {
  const out: Attributes = {};
  for (const k of DIMENSION_KEYS) {
    const v = span[k] ?? root?.[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

/** The SPEC section 3 instruments of one meter. */
export class CostMetrics {
  private readonly cost: Counter;
  private readonly tokens: Counter;
  private readonly operations: Counter;
  private readonly unpriced: Counter;
  private readonly savings: Counter;
  private readonly traceCost: Histogram;
  private readonly outcomes: Counter;
  private readonly outcomeValue: Counter;

  constructor(meter: Meter) {
    this.cost = meter.createCounter('spanledger.cost.usd', {
      unit: '{USD}',
      description: 'Cost of priced work',
    });
    this.tokens = meter.createCounter('spanledger.tokens', {
      unit: '{token}',
      description: 'Tokens by type',
    });
    this.operations = meter.createCounter('spanledger.operations', {
      unit: '{operation}',
      description: 'Operations by category and pricing status',
    });
    this.unpriced = meter.createCounter('spanledger.unpriced', {
      unit: '{span}',
      description: 'Spans whose usage has no price',
    });
    this.savings = meter.createCounter('spanledger.cache.savings.usd', {
      unit: '{USD}',
      description: 'What cache reads saved against the uncached input price',
    });
    this.traceCost = meter.createHistogram('spanledger.trace.cost.usd', {
      unit: '{USD}',
      description: 'Cost of each run (local root), no trace id',
      advice: {
        explicitBucketBoundaries: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 100],
      },
    });
    this.outcomes = meter.createCounter('spanledger.outcomes', {
      unit: '{outcome}',
      description: 'Business outcomes (tickets resolved, leads qualified)',
    });
    this.outcomeValue = meter.createCounter('spanledger.outcome.value.usd', {
      unit: '{USD}',
      description: 'Business value of the outcomes (never cost)',
    });
  }

  /** Record one span's cost, tokens, operation and unpriced status. */
  record(cost: SpanCost, dims: Attributes): void {
    const call = cost.llmCall;
    const price = cost.price;
    const provider = price?.provider ?? call?.provider;
    const model = price?.model ?? call?.models[0];
    const who: Attributes = { ...dims };
    if (provider !== undefined) who[A.ATTR_GEN_AI_PROVIDER_NAME] = provider;
    if (model !== undefined) who[A.ATTR_GEN_AI_REQUEST_MODEL] = model;
    const status = cost.status ?? 'none';
    this.operations.add(1, {
      [A.ATTR_COST_CATEGORY]: cost.category,
      [A.ATTR_GEN_AI_OPERATION_NAME]: call?.operation ?? cost.category,
      [A.ATTR_COST_STATUS]: status,
    });
    if (cost.costUsd !== undefined && cost.status !== 'unpriced') {
      this.cost.add(cost.costUsd, { ...who, [A.ATTR_COST_CATEGORY]: cost.category });
    }
    if (cost.status === 'unpriced') {
      this.unpriced.add(1, {
        ...(provider !== undefined ? { [A.ATTR_GEN_AI_PROVIDER_NAME]: provider } : {}),
        ...(model !== undefined ? { [A.ATTR_GEN_AI_REQUEST_MODEL]: model } : {}),
        [A.ATTR_COST_UNPRICED_REASON]: reasonCode(cost.reason),
      });
    }
    if (call !== undefined) {
      const uncachedInput = call.inputTokens - call.cacheReadTokens - call.cacheWriteTokens;
      this.addTokens(who, 'input', uncachedInput);
      this.addTokens(who, 'output', call.outputTokens - call.reasoningTokens);
      this.addTokens(who, 'reasoning', call.reasoningTokens);
      this.addTokens(who, 'cache_read', call.cacheReadTokens);
      this.addTokens(who, 'cache_write', call.cacheWriteTokens);
    }
    const saved = price?.cacheSavingsUsd;
    if (saved !== undefined && saved > 0 && cost.status !== 'unpriced')
      this.savings.add(saved, who);
  }

  /** Record a finished run's total on its local root. */
  recordTrace(costUsd: number, dims: Attributes): void {
    this.traceCost.record(costUsd, dims);
  }

  /** Record business outcomes: `count` of them worth `valueUsd` in all. */
  recordOutcome(name: string, count: number, valueUsd: number, dims: Attributes): void {
    const attrs: Attributes = { ...dims, [A.ATTR_OUTCOME_NAME]: name };
    this.outcomes.add(count, attrs);
    this.outcomeValue.add(valueUsd, attrs);
  }

  private addTokens(who: Attributes, type: string, n: number): void {
    if (n > 0) this.tokens.add(n, { ...who, [A.ATTR_GEN_AI_TOKEN_TYPE]: type });
  }
}
