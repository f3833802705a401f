/**
 * Per-trace rollups: what one agent run cost, by category, and how much work it did. One
 * TraceState per local root span, created lazily when the first span of that run carries cost
 * or counted work, so traces without agent work cost nothing here. Registered in a bounded,
 * expiring registry: a service that leaks never-ended root spans keeps at most `maxOpenTraces`
 * states, and the oldest are evicted (and counted) first.
 */

import type { RunHeld } from '../budgets/decisions.js';
import type { RunBudgetState } from '../budgets/engine.js';
import type { RepeatCounter } from '../budgets/fingerprint.js';
import type { CostCategory, RunCostStatus } from '../semconv.js';
import * as A from '../semconv.js';
import type { AttributeSink } from './attribute-writer.js';

// Built once: a template string per category per root would allocate on the span path.
const CATEGORY_COST_KEYS = Object.fromEntries(
  A.COST_CATEGORIES.map((c) => [c, A.traceCategoryCostAttribute(c)]),
) as Record<CostCategory, string>;

/** The running totals of one local trace. */
export class TraceState implements RunBudgetState {
  costUsd = 0;
  readonly byCategory: Record<CostCategory, number> = {
    llm: 0,
    tool: 0,
    retrieval: 0,
    evaluation: 0,
    human_review: 0,
    external: 0,
  };
  llmCalls = 0;
  toolCalls = 0;
  retrievals = 0;
  evaluations = 0;
  inputTokens = 0;
  outputTokens = 0;
  cacheReadTokens = 0;
  unpricedSpans = 0;
  /** Spans priced only in part (some of their usage has no price). */
  partialSpans = 0;
  failedCostUsd = 0;
  /** The local root has ended: later spans are late (counted, never lost elsewhere). */
  closed = false;
  /** Dropped from the registry by the cap or the expiry. */
  evicted = false;
  repeats: RepeatCounter | undefined = undefined;
  maxRepeat = 0;
  warned: Map<string, number> | undefined = undefined;
  exceeded: Set<string> | undefined = undefined;
  held: RunHeld | undefined = undefined;
  /** Neighbours in the registry's creation-ordered list (older, newer). */
  older: TraceState | undefined = undefined;
  newer: TraceState | undefined = undefined;

  /** `partial` when any span of the run is unpriced or partly priced: the total is then a
   * lower bound, and a run whose only work is unpriced never reads as a plain $0. */
  get status(): RunCostStatus {
    return this.unpricedSpans > 0 || this.partialSpans > 0 ? 'partial' : 'priced';
  }

  /** Input plus output tokens of the run's model calls (per-run `maxTokens`). */
  get tokens(): number {
    return this.inputTokens + this.outputTokens;
  }

  constructor(
    /** When the state was created (registry clock, ms). */
    readonly createdMs: number,
  ) {}

  /** Write the rollup attributes (docs/conventions.md) on the local root, through its writer
   * (one call per key: no intermediate object on the span path). */
  writeTo(out: AttributeSink): void {
    out.set(A.ATTR_TRACE_COST_USD, this.costUsd);
    out.set(A.ATTR_TRACE_COST_STATUS, this.status);
    for (const c of A.COST_CATEGORIES) {
      const v = this.byCategory[c];
      if (v !== 0) out.set(CATEGORY_COST_KEYS[c], v);
    }
    out.set(A.ATTR_TRACE_LLM_CALLS, this.llmCalls);
    out.set(A.ATTR_TRACE_TOOL_CALLS, this.toolCalls);
    out.set(A.ATTR_TRACE_RETRIEVALS, this.retrievals);
    out.set(A.ATTR_TRACE_EVALUATIONS, this.evaluations);
    out.set(A.ATTR_TRACE_INPUT_TOKENS, this.inputTokens);
    out.set(A.ATTR_TRACE_OUTPUT_TOKENS, this.outputTokens);
    out.set(A.ATTR_TRACE_CACHE_READ_TOKENS, this.cacheReadTokens);
    out.set(A.ATTR_TRACE_UNPRICED_SPANS, this.unpricedSpans);
    out.set(A.ATTR_TRACE_FAILED_COST_USD, this.failedCostUsd);
  }
}

/** Options of {@link TraceRegistry}. */
export interface TraceRegistryOptions {
  /** Cap on open traces (local roots not yet ended) with rollup state. Default 10000. */
  maxOpenTraces?: number;
  /** A trace open longer than this is evicted. Default 3600000 (one hour). */
  traceTtlMs?: number;
  /** Clock for expiry (ms). Default `Date.now`. */
  now?: () => number;
}

/** Open traces' rollup states, bounded by count and age. */
export class TraceRegistry {
  /** Traces evicted by the cap or the expiry since start. */
  evictions = 0;
  // An intrusive list in creation order (oldest first): insertion, removal and the look at the
  // oldest are pointer updates. A Map keyed by trace id cost a hash-table insert and delete per
  // run plus an iterator per creation, and its churn (one root per request) kept rehashing.
  private oldest: TraceState | undefined;
  private newest: TraceState | undefined;
  private count = 0;
  private readonly max: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(options: TraceRegistryOptions = {}) {
    this.max = options.maxOpenTraces ?? 10_000;
    this.ttlMs = options.traceTtlMs ?? 3_600_000;
    this.now = options.now ?? Date.now;
    if (!Number.isInteger(this.max) || this.max < 1) {
      throw new RangeError(`spanledger: maxOpenTraces must be a positive integer, got ${this.max}`);
    }
    if (!(this.ttlMs > 0))
      throw new RangeError(`spanledger: traceTtlMs must be > 0, got ${this.ttlMs}`);
  }

  /** Number of open traces held. */
  get size(): number {
    return this.count;
  }

  /** Create and register the state of a new local trace, evicting the oldest when needed. */
  create(): TraceState {
    const now = this.now();
    for (let o = this.oldest; o !== undefined; o = this.oldest) {
      if (this.count < this.max && now - o.createdMs < this.ttlMs) break;
      this.unlink(o);
      o.evicted = true;
      this.evictions++;
    }
    const state = new TraceState(now);
    state.older = this.newest;
    if (this.newest !== undefined) this.newest.newer = state;
    else this.oldest = state;
    this.newest = state;
    this.count++;
    return state;
  }

  /** The local root ended: the state leaves the registry. */
  close(state: TraceState): void {
    state.closed = true;
    if (!state.evicted) this.unlink(state);
  }

  private unlink(state: TraceState): void {
    const { older, newer } = state;
    if (older !== undefined) older.newer = newer;
    else if (this.oldest === state) this.oldest = newer;
    else return; // not in the list (already removed)
    if (newer !== undefined) newer.older = older;
    else this.newest = older;
    state.older = undefined;
    state.newer = undefined;
    this.count--;
  }
}
