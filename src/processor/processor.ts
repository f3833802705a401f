/**
 * The cost-attributing span processor. Register it FIRST: it writes cost attributes in
 * `onEnding`, before the span is frozen, so they reach every exporter after it. Nothing here
 * may throw into the application: the SDK does not guard `span.end()` against processors.
 */
import {
  type Attributes,
  type Context,
  createContextKey,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Attribution } from '../attribution/attribution.js';
import {
  type BudgetEngine,
  type GuardAccount,
  type RunBudgetState,
  recordToolCall,
} from '../budgets/engine.js';
import type { Reporter } from '../diag.js';
import type { CostMetrics } from '../metrics/cost-metrics.js';
import type { CostCategory } from '../semconv.js';
import * as A from '../semconv.js';
import { readLlmCall, scanAttributes } from '../usage/normalize.js';
import {
  attachSlot,
  hasLeftOpenAIUsage,
  type SpanSlot,
  slotOf,
  writeLeftOpenAIUsage,
} from '../usage/openai-response.js';
import { AttributeWriter } from './attribute-writer.js';
import type { TraceRegistry, TraceState } from './rollup.js';
import {
  type CostContext,
  INHERITABLE,
  isRelevant,
  ownCategory,
  priceSpan,
  reasonCode,
  type SpanCost,
  type SpanView,
  toolArgumentsOf,
  toolNameOf,
} from './span-cost.js';

// Parent links, rollup state and marks live on the span objects themselves, in one record per
// span (src/usage/openai-response.ts owns its key), not in a map: they are collected with the
// spans, so no per-span structure can grow without bound when an application leaks spans. One
// property set once in onStart, not one per mark as they arise, keeps every span on one hidden
// class (docs/performance.md, "2026-12-01: one record per span, and the order of the turns").
class SpanRecord implements SpanSlot {
  /** The local parent span (an SDK span with attributes). */
  parent: Span | undefined;
  /** The local root of the span's trace (absent on the local root itself). */
  root: Span | undefined;
  /** The reservation a guarded call holds: costs of spans started under it settle it. */
  reservation: GuardAccount | undefined;
  willAccount: boolean;
  openaiUsage: Record<string, unknown> | undefined = undefined;
  openaiTier: string | undefined = undefined;
  /** Cost of descendants' subtrees, accumulated as they end. */
  subtreeUsd = 0;
  /** Rollup state, on the local root only, created with the first cost in the run. */
  state: TraceState | undefined = undefined;
  /** A descendant already carried the usage of a model call this span may repeat (it is then
   * not priced again: the leaf-only rule). */
  wrapped = false;
  /** Set once the span's accounting (onEnding) has run. */
  accounted = false;
  /** Set on a span whose accounting a DeferredPipeline runs after it ends (src/processor/
   * deferred.ts): until then its run and its parent still count it as open. */
  deferred = false;

  constructor(
    parent: Span | undefined,
    root: Span | undefined,
    reservation: GuardAccount | undefined,
    willAccount: boolean,
  ) {
    this.parent = parent;
    this.root = root;
    this.reservation = reservation;
    this.willAccount = willAccount;
  }
}

/** The span's record, if the processor saw it start (or needed one since). */
const recordOf = (span: Span): SpanRecord | undefined => slotOf<SpanRecord>(span);

/** The span's record, made now for a span the processor did not see start (a parent of another
 * tracer provider's, or one whose onStart failed): it then takes no usage left for accounting. */
function ensureRecord(span: Span): SpanRecord {
  let rec = slotOf<SpanRecord>(span);
  if (rec === undefined) {
    rec = new SpanRecord(undefined, undefined, undefined, false);
    attachSlot(span, rec);
  }
  return rec;
}

/** Context key under which a guarded call carries its reservation's cost accumulator. */
export const RESERVATION_KEY = createContextKey('spanledger.reservation');

/** Whether a span can still take costs into its subtree and run: its accounting has not run
 * yet, and it is still open or its accounting waits for a deferred pipeline. */
function isOpen(span: Span): boolean {
  const rec = recordOf(span);
  if (rec === undefined) return !span.ended;
  return !rec.accounted && (rec.deferred || !span.ended);
}

/** Options of the cost processor. */
export interface CostProcessorOptions {
  context: CostContext;
  reporter: Reporter;
  /** Mirror the cost onto `gen_ai.usage.cost.*` on inference spans. */
  semconvCostAttributes: boolean;
  /** Open traces' rollup states. */
  traces: TraceRegistry;
  /** Budget accounting and signals, when budgets are configured. */
  budgets?: BudgetEngine;
  /** Attribution dimensions copied onto spans at start; absent: none. */
  attribution?: Attribution;
  /** Cost metrics, recorded for every recording span (a getter: the instruments are rebuilt
   * once a global meter provider is registered, see MeterSource). */
  metrics?: () => CostMetrics | undefined;
}

/** Counts of spans by pricing outcome since start. */
export interface PricingCounts {
  priced: number;
  partial: number;
  unpriced: number;
  /** Spans that ended after their local root (or after its state was evicted): counted,
   * reported, but no longer part of the root's `spanledger.trace.*` attributes. */
  late: number;
  /** Spans on which the SDK's attribute count limit dropped attributes spanledger wrote (their
   * cost still counts in rollups and metrics; see `spanledger.attributes.dropped`). */
  costAttributesDropped: number;
}

/** Writes the cost attributes (docs/conventions.md) on every span of priced work. */
export class CostProcessor implements SpanProcessor {
  /** Spans by pricing outcome. */
  readonly counts: PricingCounts = {
    priced: 0,
    partial: 0,
    unpriced: 0,
    late: 0,
    costAttributesDropped: 0,
  };
  /** Open traces' rollup states. */
  readonly traces: TraceRegistry;
  private budgets: BudgetEngine | undefined;
  /** Closed by shutdown(). */
  private owned: BudgetEngine | undefined;
  private stopped: Promise<void> | undefined;
  private readonly attribution: Attribution | undefined;
  private readonly metrics: (() => CostMetrics | undefined) | undefined;
  private readonly ctx: CostContext;
  private readonly reporter: Reporter;
  private readonly mirror: boolean;

  constructor(options: CostProcessorOptions) {
    this.ctx = options.context;
    this.reporter = options.reporter;
    this.mirror = options.semconvCostAttributes;
    this.traces = options.traces;
    this.budgets = options.budgets;
    this.attribution = options.attribution;
    this.metrics = options.metrics;
  }

  /** Start accounting budgets (once, at construction of the ledger; none configured: none).
   * The engine and its budget ledger are the processor's from then on: its `shutdown()` (which
   * the tracer provider calls) closes them, budgets or not. */
  attachBudgets(engine: BudgetEngine): void {
    this.owned = engine;
    if (engine.budgets.length > 0) this.budgets = engine;
  }

  /** The run state of the trace a span belongs to (for budget checks), created on demand. */
  runStateOf(
    span: unknown,
    create = false,
  ): { run: RunBudgetState | undefined; root: Span | undefined } {
    if (typeof span !== 'object' || span === null || !('attributes' in span)) {
      return { run: undefined, root: undefined };
    }
    const root = recordOf(span as Span)?.root ?? (span as Span);
    let state = recordOf(root)?.state;
    // A guarded call holds its share of per-run caps before the run has any priced span.
    if (state === undefined && create && isOpen(root)) {
      state = this.traces.create();
      ensureRecord(root).state = state;
    }
    return { run: state, root };
  }

  onStart(span: Span, parentContext: Context): void {
    try {
      const dims = this.attribution?.forSpan(parentContext, settledView(span.resource));
      if (dims !== undefined) {
        const out = new AttributeWriter(span);
        // Attributes the application set at start win over inherited attribution.
        for (const key in dims) {
          if (span.attributes[key] === undefined) out.set(key, dims[key] as string);
        }
      }
      // The SDK gives a span a parent span context exactly when its context held a valid
      // span: a root skips the context lookup.
      const candidate =
        span.parentSpanContext === undefined
          ? undefined
          : (trace.getSpan(parentContext) as Span | undefined);
      // Only a local SDK span has attributes to inherit a category from.
      const parent =
        candidate !== undefined && candidate !== span && 'attributes' in candidate
          ? candidate
          : undefined;
      const root = parent !== undefined ? (recordOf(parent)?.root ?? parent) : undefined;
      // Reservations exist only with budgets: skip the context lookup otherwise.
      const reservation =
        this.budgets === undefined
          ? undefined
          : (parentContext.getValue(RESERVATION_KEY) as GuardAccount | undefined);
      // Last, the record: instrumentations may leave usage on a span that has one for onEnding
      // to write (src/usage/openai-response.ts). A span this could not start on has none, and
      // gets its usage written at once. An entry span (a request or a message received) that
      // starts its trace here has no links to keep and is not a model call, whose spans are
      // clients or internal: it gets a record only when a cost, a run or a reservation needs
      // one. Most roots of a service are such spans, and skip the store that adds the record
      // (docs/performance.md, "2026-12-02: entry spans without a record").
      const kind = span.kind;
      if (
        parent !== undefined ||
        reservation !== undefined ||
        (kind !== SpanKind.SERVER && kind !== SpanKind.CONSUMER)
      ) {
        attachSlot(span, new SpanRecord(parent, root, reservation, true));
      }
    } catch (e) {
      this.reporter.count('internal_error', (e as Error).message);
    }
  }

  onEnding(span: Span): void {
    try {
      const rec = recordOf(span);
      // Most spans (HTTP, database) carry no key spanledger reads, no usage an instrumentation
      // left, no cost from below and no run to close: the accounting below would write nothing
      // on them, so it is skipped (docs/performance.md).
      // A span without a record (an entry span, or one not seen at start) has none of these:
      // each of them makes one.
      if (rec === undefined) {
        if (!isRelevant(span.name, span.attributes)) return;
      } else if (
        rec.subtreeUsd === 0 &&
        rec.state === undefined &&
        rec.openaiUsage === undefined &&
        rec.openaiTier === undefined &&
        !isRelevant(span.name, span.attributes)
      ) {
        rec.accounted = true;
        return;
      }
      // Attributes the SDK's count limit drops are counted on the span: a difference after our
      // writes is one subtraction, and catches every key we add (cost, rollups, mirror).
      const droppedBefore = span.droppedAttributesCount;
      // Every attribute goes through one writer per span (src/processor/attribute-writer.ts),
      // made only for spans that get one. First the usage an instrumentation left on the span
      // (src/usage/openai-response.ts), which the usage read below counts.
      let out: AttributeWriter | undefined;
      if (hasLeftOpenAIUsage(span)) {
        out = new AttributeWriter(span);
        writeLeftOpenAIUsage(span, out);
      }
      // The money path, in order: classify the span, read its usage, price it (costOf), then
      // account for it: attributes, counts, metrics, the run's rollup and budgets, the subtree,
      // and on the local root the run's totals.
      const cost = this.costOf(span, rec);
      if (cost !== undefined) {
        if (cost.llmCall) this.markAncestors(rec);
        out ??= new AttributeWriter(span);
        this.write(out, cost);
        this.account(cost);
        const metrics = this.metrics?.();
        const rootAttributes = rec?.root?.attributes;
        metrics?.record(cost, span.attributes, rootAttributes);
        if (this.ctx.priceBook.routing !== undefined && cost.status === 'priced') {
          this.counterfactuals(span, out, cost, rootAttributes, metrics);
        }
        this.rollUp(span, rec, cost);
      }
      out = this.addToSubtree(span, rec, cost, out);
      // The record is read again: rollUp makes one on a root that had none.
      if (rec?.root === undefined) this.closeRun(span, recordOf(span), out);
      const lost = span.droppedAttributesCount - droppedBefore;
      if (lost > 0) this.attributesDropped(span, lost);
    } catch (e) {
      this.reporter.count('internal_error', (e as Error).message);
    }
    try {
      ensureRecord(span).accounted = true;
    } catch {
      // Not a span object (counted above): nothing to mark.
    }
  }

  /** The span ended, and a DeferredPipeline will run its accounting later ({@link
   * accountDeferred}); until then it counts as open for its descendants and its run. */
  defer(span: Span): void {
    ensureRecord(span).deferred = true;
  }

  /** Run the accounting of a span {@link defer}red at its end: what onEnding does, with the SDK
   * span writable again for the length of the call (its `_ended` flag cleared, then set back),
   * so every write takes the path it takes in onEnding. A span that is not the SDK's, or not
   * ended, is accounted as it is. */
  accountDeferred(span: Span): void {
    const sdk = span as unknown as { _ended?: unknown };
    if (sdk._ended !== true) {
      this.onEnding(span);
      return;
    }
    sdk._ended = false;
    try {
      this.onEnding(span);
    } finally {
      sdk._ended = true;
    }
  }

  /** Runs the accounting a DeferredPipeline holds (set by it); readers of what the processor
   * counted (metrics collection, `stats()`) call {@link flushDeferred} first. */
  private drainDeferred: (() => void) | undefined;

  /** Hand the processor the drain of the DeferredPipeline that defers its accounting. */
  attachDeferral(drain: () => void): void {
    this.drainDeferred = drain;
    // The instruments exist from now (with an explicit or registered meter provider), so their
    // collection drains the pipeline even before the first span is accounted.
    this.metrics?.();
  }

  /** Account now for every span a DeferredPipeline holds (none without one). Never throws. */
  flushDeferred(): void {
    try {
      this.drainDeferred?.();
    } catch (e) {
      this.reporter.count('internal_error', (e as Error).message);
    }
  }

  /** Count an error of a pipeline around the processor (reported once, with the others). */
  countInternalError(e: unknown): void {
    this.reporter.count('internal_error', e instanceof Error ? e.message : String(e));
  }

  /** Subtree rollup: the span's own cost plus its ended children's subtrees, passed up to its
   * parent while that is still open. Returns the span's writer (made here when first needed). */
  private addToSubtree(
    span: Span,
    rec: SpanRecord | undefined,
    cost: SpanCost | undefined,
    out: AttributeWriter | undefined,
  ): AttributeWriter | undefined {
    const own = cost?.status !== 'unpriced' ? (cost?.costUsd ?? 0) : 0;
    const subtree = own + (rec?.subtreeUsd ?? 0);
    if (subtree > 0) {
      out ??= new AttributeWriter(span);
      out.set(A.ATTR_SUBTREE_COST_USD, subtree);
      const parent = rec?.parent;
      // A parent that already ended is frozen: the trace total still has this cost.
      if (parent !== undefined && isOpen(parent)) ensureRecord(parent).subtreeUsd += subtree;
    }
    return out;
  }

  /** The local root ends: write the run's totals on it, record them, and close its state. */
  private closeRun(
    root: Span,
    rec: SpanRecord | undefined,
    out: AttributeWriter | undefined,
  ): void {
    const state = rec?.state;
    if (state === undefined || state.evicted) return;
    const writer = out ?? new AttributeWriter(root);
    state.writeTo(writer);
    this.metrics?.()?.recordTrace(state.costUsd, state.status, root.attributes);
    const exceeded = state.exceeded;
    if (exceeded !== undefined && exceeded.size > 0) {
      writer.set(A.ATTR_BUDGET_EXCEEDED, [...exceeded]);
    }
    this.traces.close(state);
  }

  /** The SDK dropped `lost` of the attributes written on `span` (its attribute count limit was
   * reached): the money still counts in rollups and metrics, but the span does not show it. */
  private attributesDropped(span: Span, lost: number): void {
    this.counts.costAttributesDropped++;
    this.metrics?.()?.recordDroppedAttributes(lost);
    this.reporter.count(
      'cost_attributes_dropped',
      `span "${span.name}" already had as many attributes as the SDK's attributeCountLimit allows; ` +
        `${lost} spanledger attributes were dropped. Raise spanLimits.attributeCountLimit or ` +
        'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT (docs/setup.md)',
    );
  }

  /** Classify the span, read its usage, price it: what the span costs, or undefined when it
   * carries nothing spanledger writes. */
  private costOf(span: Span, rec: SpanRecord | undefined): SpanCost | undefined {
    const attrs = span.attributes;
    // 1. Classify. Most spans (HTTP, database) carry no key spanledger reads; an outcome span
    //    records business value, never cost.
    if (!isRelevant(span.name, attrs) || this.outcome(span, rec)) return undefined;
    //    One pass over its keys first: the steps below skip the rare keys it does not have.
    const rare = scanAttributes(attrs);
    const own = ownCategory(span.name, attrs, this.ctx.rules, rare);
    // 2. Read its usage (every emitter's attributes, one record).
    const call = readLlmCall(span.name, attrs, span.instrumentationScope, rare);
    // 3. Price it (pure: leaf-only, provider-reported cost first, rules).
    const cost = priceSpan(
      span as unknown as SpanView,
      own,
      call,
      rec?.wrapped === true,
      this.ctx,
      rare,
    );
    if (cost === undefined) return undefined;
    // Work done inside an evaluation, tool or retrieval is charged to it (docs/conventions.md);
    // the ancestors are looked at only when the span has no category of its own.
    cost.category ??= this.inherited(rec) ?? (call !== undefined ? 'llm' : 'external');
    return cost as SpanCost;
  }

  /** Record an outcome span's metrics; false when the span is not an outcome. */
  private outcome(span: Span, rec: SpanRecord | undefined): boolean {
    const attrs = span.attributes;
    const name = attrs[A.ATTR_OUTCOME_NAME];
    if (name === undefined) return false;
    const count = attrs[A.ATTR_OUTCOME_COUNT] ?? 1;
    const value = attrs[A.ATTR_OUTCOME_VALUE_USD] ?? 0;
    const valid = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
    if (typeof name !== 'string' || name === '' || !valid(count) || !valid(value)) {
      this.reporter.count('invalid_attribute', `outcome ${String(name)}: count or value`);
      return true;
    }
    this.metrics?.()?.recordOutcome(
      name,
      count as number,
      value as number,
      attrs,
      rec?.root?.attributes,
    );
    return true;
  }

  private rollUp(span: Span, rec: SpanRecord | undefined, cost: SpanCost): void {
    const root = rec?.root ?? span;
    let state = (root === span ? rec : recordOf(root))?.state;
    if (state === undefined && isOpen(root)) {
      state = this.traces.create();
      ensureRecord(root).state = state;
    }
    const priced = cost.costUsd !== undefined && cost.status !== 'unpriced' ? cost.costUsd : 0;
    // A span that ends after its guarded call was settled is accounted like any other; the
    // engine adds a guarded span's cost to the holds of its call (settled with it).
    const held = rec?.reservation;
    const reservation = held?.closed === false ? held : undefined;
    if (state === undefined || state.closed || state.evicted) {
      this.counts.late++;
      this.reporter.count('late_span', `${span.name} ended after its local root`);
      // Late for the root's attributes, never for the budgets.
      this.budgets?.record(
        span,
        priced,
        this.budgets.dimensionsOf(span.attributes, root.attributes),
        undefined,
        reservation,
        cost.llmCall,
        cost.llmCall === undefined && cost.own === 'tool',
      );
      return;
    }
    // Work counts go by the span's own category (found once, in costOf).
    const own = cost.llmCall === undefined ? cost.own : undefined;
    if (cost.costUsd !== undefined && cost.status !== 'unpriced') {
      state.costUsd += cost.costUsd;
      state.byCategory[cost.category] += cost.costUsd;
      if (span.status.code === SpanStatusCode.ERROR) state.failedCostUsd += cost.costUsd;
    }
    if (cost.status === 'unpriced') state.unpricedSpans++;
    else if (cost.status === 'partial') state.partialSpans++;
    const call = cost.llmCall;
    if (call !== undefined) {
      state.llmCalls++;
      state.inputTokens += call.inputTokens;
      state.outputTokens += call.outputTokens;
      state.cacheReadTokens += call.cacheReadTokens;
    }
    // Work counts go by the span's own category: an LLM call inside a tool is not a tool call.
    switch (own) {
      case 'tool': {
        state.toolCalls++;
        const name = this.budgets !== undefined ? toolNameOf(span.attributes) : undefined;
        if (name !== undefined) recordToolCall(state, name, toolArgumentsOf(span.attributes));
        break;
      }
      case 'retrieval':
        state.retrievals++;
        break;
      case 'evaluation':
        state.evaluations++;
        break;
      default:
    }
    // Window budgets count calls and tokens as the run does: an LLM call by its usage, a tool
    // call by the span's own category.
    this.budgets?.record(
      span,
      priced,
      this.budgets.dimensionsOf(span.attributes, root.attributes),
      state,
      reservation,
      cost.llmCall,
      own === 'tool',
    );
  }

  onEnd(_span: ReadableSpan): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  /** Close what the processor owns (the budget engine and its ledger: a Redis connection),
   * then log the run-time problem counts once. Idempotent; never rejects. A tracer provider's
   * shutdown (NodeSDK's) calls it, so an application that never names the ledger at exit still
   * releases it. */
  shutdown(): Promise<void> {
    this.stopped ??= (async () => {
      try {
        await this.owned?.close();
      } catch (e) {
        this.reporter.count('internal_error', (e as Error).message);
      }
      this.reporter.summary();
    })();
    return this.stopped;
  }

  /**
   * Routing counterfactuals (docs/pricing.md): what the call's usage would have cost on each
   * configured alternative, at the same instant, counted in `spanledger.cost.alternative.usd`
   * (and written on the span with `routing.onSpans`). An alternative that cannot price the usage
   * is counted as such, never as $0.
   */
  private counterfactuals(
    span: Span,
    out: AttributeWriter,
    cost: SpanCost,
    root: Attributes | undefined,
    metrics: CostMetrics | undefined,
  ): void {
    const call = cost.llmCall;
    const book = this.ctx.priceBook;
    const routing = book.routing;
    if (call === undefined || !call.hasUsage || routing === undefined) return;
    const attrs = span.attributes;
    const model = cost.price?.model;
    const useCase = attrs[A.ATTR_USE_CASE] ?? root?.[A.ATTR_USE_CASE];
    const alts = routing.alternativesFor(
      model,
      call.model,
      typeof useCase === 'string' ? useCase : undefined,
    );
    if (alts.length === 0) return;
    const ms = span.startTime[0] * 1000 + span.startTime[1] / 1e6;
    // The same provider and model labels as the span's `spanledger.cost.usd` series.
    const provider = cost.price?.provider ?? call.provider;
    const label = model ?? (call.model || undefined);
    const key = metrics?.alternativeKey(provider, label, attrs, root) ?? '';
    const labels: string[] | undefined = routing.onSpans ? [] : undefined;
    const costs: number[] | undefined = routing.onSpans ? [] : undefined;
    for (let i = 0; i < alts.length; i++) {
      const alt = alts[i] as (typeof alts)[number];
      // A call already made on the alternative's entry has nothing to compare.
      if (alt.entryModel !== undefined && alt.entryModel === model) continue;
      const r = book.alternativeCost(call, alt, ms);
      const usd = typeof r === 'number' ? r : undefined;
      const reason = typeof r === 'string' ? r : undefined;
      metrics?.recordAlternative(alt.label, key, usd, reason, provider, label, attrs, root);
      if (usd !== undefined) {
        labels?.push(alt.label);
        costs?.push(usd);
      } else {
        this.reporter.count(
          'alternative_unpriced',
          `${alt.label} for ${call.provider ?? '?'}/${call.model}: ${r}`,
        );
      }
    }
    if (labels !== undefined && costs !== undefined && labels.length > 0) {
      out.set(A.ATTR_ALTERNATIVE_MODEL, labels);
      out.set(A.ATTR_COST_ALTERNATIVE_USD, costs);
    }
  }

  private inherited(rec: SpanRecord | undefined): CostCategory | undefined {
    let node = rec?.parent;
    for (let depth = 0; node !== undefined && depth < 256; depth++) {
      const c = ownCategory(node.name, node.attributes, this.ctx.rules);
      if (c !== undefined && INHERITABLE.has(c)) return c;
      node = recordOf(node)?.parent;
    }
    return undefined;
  }

  private markAncestors(rec: SpanRecord | undefined): void {
    let node = rec?.parent;
    // Stop at the first already-marked ancestor: everything above it is marked too.
    for (let depth = 0; node !== undefined && depth < 256; depth++) {
      const up = ensureRecord(node);
      if (up.wrapped) break;
      up.wrapped = true;
      node = up.parent;
    }
  }

  private account(cost: SpanCost): void {
    if (cost.invalid.length > 0) {
      this.reporter.count('invalid_attribute', cost.invalid.join(', '));
    }
    if (cost.status === undefined) return;
    this.counts[cost.status]++;
    if (cost.status === 'unpriced')
      this.reporter.count(`unpriced.${reasonCode(cost.reason)}`, describe(cost));
  }

  // One write per key rather than building an object for setAttributes: no allocation and no
  // second key walk on the hot path.
  private write(out: AttributeWriter, cost: SpanCost): void {
    out.set(A.ATTR_COST_CATEGORY, cost.category);
    if (cost.status === undefined) return;
    out.set(A.ATTR_COST_STATUS, cost.status);
    if (cost.costUsd !== undefined) out.set(A.ATTR_COST_USD, cost.costUsd);
    if (cost.source !== undefined) out.set(A.ATTR_COST_SOURCE, cost.source);
    if (cost.reason !== undefined) out.set(A.ATTR_COST_UNPRICED_REASON, cost.reason);
    if (cost.quantity !== undefined) out.set(A.ATTR_USAGE_QUANTITY, cost.quantity);
    if (cost.unit !== undefined) out.set(A.ATTR_USAGE_UNIT, cost.unit);
    if (cost.estimatedUsd !== undefined) out.set(A.ATTR_COST_ESTIMATED_USD, cost.estimatedUsd);
    const p = cost.price;
    if (p !== undefined) {
      if (p.provider !== undefined) out.set(A.ATTR_PRICING_PROVIDER, p.provider);
      if (p.model !== undefined) out.set(A.ATTR_PRICING_MODEL, p.model);
      if (p.catalog !== undefined) out.set(A.ATTR_PRICING_CATALOG, p.catalog);
      if (p.serviceTier !== undefined) out.set(A.ATTR_PRICING_SERVICE_TIER, p.serviceTier);
      if (p.match !== undefined) out.set(A.ATTR_PRICING_MATCH, p.match);
      // The breakdown describes the local estimate; on provider-priced spans it would not add up
      // to spanledger.cost.usd, so it is left off there (the estimate total is kept instead).
      const b = p.breakdown;
      if (b !== undefined && cost.source !== 'provider' && cost.status !== 'unpriced') {
        out.set(A.ATTR_COST_INPUT_USD, b.inputUsd);
        out.set(A.ATTR_COST_OUTPUT_USD, b.outputUsd);
        if (b.cacheReadUsd !== undefined) out.set(A.ATTR_COST_CACHE_READ_USD, b.cacheReadUsd);
        if (b.cacheWriteUsd !== undefined) out.set(A.ATTR_COST_CACHE_WRITE_USD, b.cacheWriteUsd);
      }
      if (p.cacheSavingsUsd !== undefined && cost.status !== 'unpriced') {
        out.set(A.ATTR_COST_CACHE_SAVINGS_USD, p.cacheSavingsUsd);
      }
    }
    if (
      this.mirror &&
      cost.llmCall !== undefined &&
      cost.costUsd !== undefined &&
      // Never overwrite an emitter's own semconv cost (it is the reported cost we used).
      cost.llmCall.reportedCostKey !== A.ATTR_GEN_AI_USAGE_COST_AMOUNT
    ) {
      out.set(A.ATTR_GEN_AI_USAGE_COST_AMOUNT, cost.costUsd);
      out.set(A.ATTR_GEN_AI_USAGE_COST_CURRENCY, 'USD');
      out.set(A.ATTR_GEN_AI_USAGE_COST_SOURCE, cost.source ?? 'catalog');
    }
  }
}

/** A resource as the SDK hands it to spans; `asyncAttributesPending` and `getRawAttributes`
 * are part of its `Resource` interface. */
interface ResourceLike {
  readonly attributes: Attributes;
  readonly asyncAttributesPending?: boolean;
  getRawAttributes?(): [string, unknown][];
}

// Views of resources whose async attributes (NodeSDK's host.id, ...) have not settled: reading
// `attributes` then logs an SDK error per span, and they settle only when an exporter waits for
// them. The view holds the attributes known so far (the dimensions come from the synchronous
// OTEL_RESOURCE_ATTRIBUTES); once settled, the resource itself is read.
const pendingViews = new WeakMap<object, { attributes: Attributes }>();

function settledView(resource: ResourceLike): { attributes: Attributes } {
  if (resource.asyncAttributesPending !== true || resource.getRawAttributes === undefined) {
    return resource;
  }
  let view = pendingViews.get(resource);
  if (view === undefined) {
    const attributes: Attributes = {};
    for (const [k, v] of resource.getRawAttributes()) {
      const thenable = typeof (v as { then?: unknown } | null)?.then === 'function';
      if (v != null && !thenable && attributes[k] === undefined) {
        attributes[k] = v as Attributes[string];
      }
    }
    view = { attributes };
    pendingViews.set(resource, view);
  }
  return view;
}

function describe(cost: SpanCost): string {
  const call = cost.llmCall;
  const who = call ? ` ${call.provider ?? '?'}/${call.model || '?'}` : '';
  return `${cost.category}${who}: ${cost.reason ?? ''}`;
}
