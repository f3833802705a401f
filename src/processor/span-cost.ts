/**
 * Steps 1 and 3 of the money path (classify the span, read its usage, price it, account for it;
 * the processor runs them in that order): a span's own category, whether it is leaf work (only
 * leaf work is priced), and its price from the catalog, the user's overrides, a unit-price rule,
 * or a reported cost (which wins over the local estimate). Pure: no parent links, no OTel state;
 * the inherited category is the processor's to resolve (docs/conventions.md).
 */
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import type { PriceBook, PriceResult } from '../pricing/price-book.js';
import type { CostCategory, CostSource, CostStatus } from '../semconv.js';
import * as A from '../semconv.js';
import {
  type InstrumentationScopeView,
  isWrapperSpan,
  type LlmCall,
  RARE_ALL,
  RARE_CATEGORY,
  RARE_PRICE,
} from '../usage/normalize.js';
import type { RulePrice, UnitRules } from './rules.js';

/** The minimal view of a span this module needs (the SDK Span satisfies it). */
export interface SpanView {
  readonly name: string;
  readonly attributes: Attributes;
  readonly startTime: [number, number];
  readonly duration: [number, number];
  readonly instrumentationScope?: InstrumentationScopeView;
}

/** The cost verdict for one span. */
export interface SpanCost {
  category: CostCategory;
  /** Absent when the span carries no priced work of its own (only its category is written). */
  status?: CostStatus;
  costUsd?: number;
  source?: CostSource;
  reason?: string;
  /** A model call was read off this span (priced or not): its ancestors are wrappers. */
  llmCall?: LlmCall;
  price?: PriceResult;
  /** Local estimate kept beside a provider-reported cost. */
  estimatedUsd?: number;
  quantity?: number;
  unit?: string;
  /** Attribute keys with unusable values. */
  invalid: string[];
  /** The span's own category, before inheritance (work counts go by it). */
  own?: CostCategory;
}

/** Categories that work done inside a span of that category is charged to (docs/conventions.md). */
export const INHERITABLE: ReadonlySet<CostCategory> = new Set<CostCategory>([
  'evaluation',
  'tool',
  'retrieval',
  'human_review',
]);
const CATEGORIES = new Set<string>(A.COST_CATEGORIES);
const VECTOR_DBS = new Set([
  'pinecone',
  'qdrant',
  'weaviate',
  'milvus',
  'chroma',
  'chromadb',
  'lancedb',
  'pgvector',
  'vespa',
  'marqo',
  'turbopuffer',
]);

// Keys (by prefix) that can make a span interesting: `gen_ai.`, `llm.`, `langfuse.`, `ai.`,
// `spanledger.`, `openinference.`, `traceloop.`, `db.system`, `mcp.`. Everything else is skipped
// at once, which keeps the processor's cost on ordinary HTTP and database spans to a key scan.
/** Whether a span has any attribute spanledger reads (a cheap pre-filter): one switch on the
 * first character of each key, a prefix test only for the few keys that can match. */
export function isRelevant(name: string, attrs: Attributes): boolean {
  for (const k in attrs) {
    switch (k.charCodeAt(0)) {
      case 103: // g
        if (k.startsWith('gen_ai.')) return true;
        break;
      case 108: // l
        if (k.startsWith('llm.') || k.startsWith('langfuse.')) return true;
        break;
      case 97: // a
        if (k.startsWith('ai.')) return true;
        break;
      case 115: // s
        if (k.startsWith('spanledger.')) return true;
        break;
      case 111: // o
        if (k.startsWith('openinference.')) return true;
        break;
      case 116: // t
        if (k.startsWith('traceloop.')) return true;
        break;
      case 100: // d
        if (k.startsWith('db.system')) return true;
        break;
      case 109: // m
        if (k.startsWith('mcp.')) return true;
        break;
      default:
    }
  }
  return name.startsWith('ai.');
}

function str(v: AttributeValue | undefined): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** A tool span's tool name: the semconv attribute, else the Vercel AI SDK's (`ai.toolCall`). */
export function toolNameOf(attrs: Attributes): string | undefined {
  return str(attrs[A.ATTR_GEN_AI_TOOL_NAME]) ?? str(attrs[A.ATTR_AI_TOOL_CALL_NAME]);
}

/** A tool span's call arguments (JSON or a value), from the same two conventions. */
export function toolArgumentsOf(attrs: Attributes): AttributeValue | undefined {
  return attrs[A.ATTR_GEN_AI_TOOL_CALL_ARGUMENTS] ?? attrs[A.ATTR_AI_TOOL_CALL_ARGS];
}

/** Step 1: a span's own category from its attributes, or undefined (then it may inherit). */
export function ownCategory(
  name: string,
  attrs: Attributes,
  rules: UnitRules,
  rare = RARE_ALL,
): CostCategory | undefined {
  if ((rare & RARE_CATEGORY) === 0) {
    // None of the other signals is present (scanAttributes said so): the operation and the
    // name decide, as they do below when the rest is absent.
    const op = attrs[A.ATTR_GEN_AI_OPERATION_NAME];
    if (op === 'execute_tool') return 'tool';
    if (op === 'retrieval') return 'retrieval';
    return name === 'ai.toolCall' ? 'tool' : undefined;
  }
  const explicit = attrs[A.ATTR_CATEGORY];
  if (typeof explicit === 'string' && CATEGORIES.has(explicit)) return explicit as CostCategory;
  if (attrs[A.ATTR_HUMAN_REVIEW_MINUTES] !== undefined) return 'human_review';
  const op = attrs[A.ATTR_GEN_AI_OPERATION_NAME];
  if (op === 'execute_tool') return 'tool';
  if (op === 'retrieval') return 'retrieval';
  if (attrs[A.ATTR_GEN_AI_EVALUATION_NAME] !== undefined) return 'evaluation';
  const kind = attrs[A.ATTR_OPENINFERENCE_SPAN_KIND];
  if (kind === 'TOOL') return 'tool';
  if (kind === 'RETRIEVER' || kind === 'RERANKER') return 'retrieval';
  if (kind === 'EVALUATOR') return 'evaluation';
  if (attrs[A.ATTR_TRACELOOP_SPAN_KIND] === 'tool') return 'tool';
  if (name === 'ai.toolCall') return 'tool';
  const db = str(attrs[A.ATTR_DB_SYSTEM_NAME]) ?? str(attrs[A.ATTR_DB_SYSTEM]);
  if (db !== undefined && (VECTOR_DBS.has(db) || rules.isRetrievalSystem(db))) return 'retrieval';
  return undefined;
}

function finiteNonNegative(v: AttributeValue | undefined): number | undefined | 'invalid' {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 1e9) return v;
  return 'invalid';
}

function hrMs(t: [number, number]): number {
  return t[0] * 1000 + t[1] / 1e6;
}

/** Inputs that stay the same for every span: the price book and the rules. */
export interface CostContext {
  priceBook: PriceBook;
  rules: UnitRules;
}

/** The price of one span, before its category is resolved: `category` is absent when the span's
 * work is charged to the nearest categorised ancestor's category (docs/conventions.md), which only the
 * processor can see (it holds the parent links). */
export type PricedSpan = Omit<SpanCost, 'category'> & { category?: CostCategory };

/**
 * Price one ending span (step 3 of the money path: classify, read usage, price, account). Pure:
 * it takes the span's own category (step 1) and its model call (step 2), and never looks at
 * other spans. `wrapped` tells whether a descendant already carried the usage this span may
 * repeat. Returns undefined for spans with nothing to write.
 */
export function priceSpan(
  span: SpanView,
  own: CostCategory | undefined,
  call: LlmCall | undefined,
  wrapped: boolean,
  ctx: CostContext,
  rare = RARE_ALL,
): PricedSpan | undefined {
  const cost = price(span, own, call, wrapped, ctx, rare);
  if (cost !== undefined && own !== undefined) cost.own = own;
  return cost;
}

/** The category the span charges: its own, unless it is `llm` without a model call (then the
 * ancestors decide, as for a span with no category of its own). */
function ownOrInherited(own: CostCategory | undefined, call: LlmCall | undefined) {
  return own !== undefined && (own !== 'llm' || call !== undefined) ? own : undefined;
}

function price(
  span: SpanView,
  own: CostCategory | undefined,
  call: LlmCall | undefined,
  wrapped: boolean,
  ctx: CostContext,
  rare: number,
): PricedSpan | undefined {
  const attrs = span.attributes;
  const invalid: string[] = [];
  const pricedBy = (rare & RARE_PRICE) !== 0;
  const manual = pricedBy ? finiteNonNegative(attrs[A.ATTR_MANUAL_COST_USD]) : undefined;
  const reported = pricedBy ? finiteNonNegative(attrs[A.ATTR_REPORTED_COST_USD]) : undefined;
  if (manual === 'invalid') invalid.push(A.ATTR_MANUAL_COST_USD);
  if (reported === 'invalid') invalid.push(A.ATTR_REPORTED_COST_USD);
  if (call) invalid.push(...call.invalid);
  const isWrapper = call !== undefined && (wrapped || isWrapperSpan(span.name, attrs, rare));
  const category = ownOrInherited(own, call);

  if (typeof manual === 'number') {
    return {
      ...(category !== undefined ? { category } : {}),
      status: 'priced',
      costUsd: manual,
      source: 'manual',
      invalid,
      ...(call && !isWrapper ? { llmCall: call } : {}),
    };
  }
  if (call && !isWrapper) {
    const cost = priceCall(span, call, ctx, pricedBy) as PricedSpan;
    if (category !== undefined) cost.category = category;
    cost.llmCall = call;
    cost.invalid = invalid;
    return cost;
  }
  if (call && isWrapper) {
    // Leaf-only pricing: a wrapper repeats its children's usage; its category still helps.
    return own !== undefined ? { category: own, invalid } : undefined;
  }
  if (typeof reported === 'number') {
    return {
      ...(category !== undefined ? { category } : {}),
      status: 'priced',
      costUsd: reported,
      source: 'provider',
      invalid,
    };
  }
  const quantity = pricedBy ? finiteNonNegative(attrs[A.ATTR_USAGE_QUANTITY]) : undefined;
  if (quantity === 'invalid') invalid.push(A.ATTR_USAGE_QUANTITY);
  const q = typeof quantity === 'number' ? quantity : undefined;
  switch (own) {
    case 'human_review': {
      const minutes = finiteNonNegative(attrs[A.ATTR_HUMAN_REVIEW_MINUTES]);
      if (minutes === 'invalid' || minutes === undefined) {
        invalid.push(A.ATTR_HUMAN_REVIEW_MINUTES);
        return { category: own, status: 'unpriced', reason: 'invalid_usage', invalid };
      }
      const price = ctx.rules.humanReview(minutes, str(attrs[A.ATTR_HUMAN_REVIEW_ROLE]));
      return price
        ? ruleCost(own, price, invalid)
        : {
            category: own,
            status: 'unpriced',
            reason: 'no_rate',
            quantity: minutes,
            unit: 'minute',
            invalid,
          };
    }
    case 'tool': {
      const price = ctx.rules.tool(toolNameOf(attrs), str(attrs[A.ATTR_MCP_SERVER_NAME]), q);
      return rulePriceOrCategory(own, price, invalid);
    }
    case 'retrieval': {
      const source = str(attrs[A.ATTR_GEN_AI_DATA_SOURCE_ID]);
      const db = str(attrs[A.ATTR_DB_SYSTEM_NAME]) ?? str(attrs[A.ATTR_DB_SYSTEM]);
      return rulePriceOrCategory(own, ctx.rules.retrieval(source, db, q), invalid);
    }
    case 'external':
      return { category: own, status: 'unpriced', reason: 'no_cost_reported', invalid };
    case undefined:
      // Nothing priced, but unusable values to report: the ancestors' category is written.
      return invalid.length > 0 ? { invalid } : undefined;
    default:
      return { category: own, invalid };
  }
}

function ruleCost(category: CostCategory, price: RulePrice, invalid: string[]): SpanCost {
  return {
    category,
    status: 'priced',
    costUsd: price.costUsd,
    source: 'rule',
    quantity: price.quantity,
    unit: price.unit,
    invalid,
  };
}

function rulePriceOrCategory(
  category: CostCategory,
  price: RulePrice | 'missing_quantity' | undefined,
  invalid: string[],
): SpanCost {
  if (price === undefined) return { category, invalid };
  if (price === 'missing_quantity') {
    return { category, status: 'unpriced', reason: 'missing_quantity', invalid };
  }
  return ruleCost(category, price, invalid);
}

const USAGE_KEY = /tokens|token_count|usage/;

function priceCall(
  span: SpanView,
  call: LlmCall,
  ctx: CostContext,
  pricedBy: boolean,
): Omit<SpanCost, 'category' | 'invalid'> {
  if (call.invalid.some((k) => USAGE_KEY.test(k) && !k.includes('cost'))) {
    // A garbled count would price the call wrongly: unknown, not a smaller number.
    return { status: 'unpriced', reason: 'invalid_usage' };
  }
  if (call.model === '') return { status: 'unpriced', reason: 'unknown_model' };
  const secondsAttr = pricedBy
    ? finiteNonNegative(span.attributes[A.ATTR_USAGE_SECONDS])
    : undefined;
  call.seconds =
    typeof secondsAttr === 'number' ? secondsAttr : span.duration[0] + span.duration[1] / 1e9;
  // The call is its own usage record: priced as read, the request model (a deployment name)
  // tried after the response model (the dated snapshot) by the price book.
  const price = ctx.priceBook.price(call, hrMs(span.startTime));
  const noUsage = !call.hasUsage && !((price.breakdown?.otherUsd ?? 0) > 0);
  if (call.reportedCostUsd !== undefined) {
    return {
      status: 'priced',
      costUsd: call.reportedCostUsd,
      source: 'provider',
      price,
      ...(price.costUsd !== undefined && !noUsage ? { estimatedUsd: price.costUsd } : {}),
    };
  }
  if (noUsage) return { status: 'unpriced', reason: 'no_usage', price };
  if (price.status === 'unpriced') {
    return { status: 'unpriced', reason: price.reason ?? 'unknown', price };
  }
  return {
    status: price.status,
    costUsd: price.costUsd,
    source: price.source === 'override' ? 'override' : 'catalog',
    price,
    ...(price.reason !== undefined ? { reason: price.reason } : {}),
  };
}

/** The fixed part of an unpriced reason (`unknown_service_tier: x` → `unknown_service_tier`),
 * for metric labels and problem kinds: bounded, unlike the full reason. */
export function reasonCode(reason: string | undefined): string {
  if (reason === undefined) return 'unknown';
  const colon = reason.indexOf(':');
  return colon < 0 ? reason : reason.slice(0, colon);
}
