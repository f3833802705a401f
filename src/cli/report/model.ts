/**
 * What `spanledger report` (and `spanledger demo`) compute from exported spans: the one model the
 * text tables, JSON, CSV and the HTML page are rendered from (docs/report.md). Amounts are USD as
 * the spans carry them (`spanledger.cost.usd`); every total is the sum of the rows it is printed
 * with.
 */

/** One span as the report needs it, read from an OTLP JSON span (or an SDK `ReadableSpan`). */
export interface ReportSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** `service.name` of the span's resource. */
  service: string;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  /** OTLP status code: 2 is error. */
  statusCode: number;
  /** Attributes (resource attributes are not merged in; dimensions fall back to them). */
  attributes: Readonly<Record<string, unknown>>;
  /** The span's events (budget warnings and exceeded events are read from them). */
  events: readonly {
    name: string;
    timeUnixNano: bigint;
    attributes: Readonly<Record<string, unknown>>;
  }[];
  /** Resource attributes, for dimensions set on the resource. */
  resource: Readonly<Record<string, unknown>>;
}

/** A row of a by-dimension table: the dimension values (in `--by` order) and their totals. */
export interface ReportRow {
  /** Values of the `by` dimensions, in order; absent values are `unallocated`. */
  key: readonly string[];
  costUsd: number;
  spans: number;
  /** Distinct traces with at least one span in the row. */
  traces: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheSavingsUsd: number;
  unpricedSpans: number;
}

/** One span of a trace's cost waterfall. */
export interface WaterfallSpan {
  spanId: string;
  parentSpanId?: string;
  name: string;
  category?: string;
  model?: string;
  costUsd: number;
  /** Cost of the span and everything under it. */
  subtreeCostUsd: number;
  /** Milliseconds from the trace's first span start. */
  startMs: number;
  durationMs: number;
  error: boolean;
  unpriced: boolean;
  depth: number;
}

/** One trace: its cost and, for the most expensive ones, its spans. */
export interface ReportTrace {
  traceId: string;
  /** Name of the trace's root span (or of its earliest span when the root is missing). */
  rootName: string;
  service: string;
  /** ISO 8601 start time. */
  start: string;
  durationMs: number;
  costUsd: number;
  /** `priced`, or `partial` when any span of the trace is unpriced. */
  status: 'priced' | 'partial';
  spans: number;
  llmCalls: number;
  toolCalls: number;
  failedCostUsd: number;
  /** Budget names that refused or exceeded in the trace. */
  budgetsExceeded: readonly string[];
  /** Dimension values of the trace (tenant, team, use_case, ...), from its root. */
  dimensions: Readonly<Record<string, string>>;
  /** The waterfall, depth-first in start order; present for the top traces only. */
  waterfall?: readonly WaterfallSpan[];
}

/** A budget warning or exceeded event seen on a span. */
export interface ReportBudgetEvent {
  time: string;
  traceId: string;
  budget: string;
  kind: 'warning' | 'exceeded';
  action?: string;
  spentUsd?: number;
  limitUsd?: number;
}

/** The report over a set of spans. */
export interface ReportModel {
  /** The `--by` dimensions of `rows`, as given (e.g. `tenant`, `use_case`, `model`). */
  by: readonly string[];
  /** Time window actually covered (ISO 8601), or undefined when there are no spans. */
  from?: string;
  to?: string;
  totals: {
    costUsd: number;
    spans: number;
    traces: number;
    pricedSpans: number;
    unpricedSpans: number;
    cacheSavingsUsd: number;
    failedCostUsd: number;
    /** Input lines or records that could not be read (counted, never fatal). */
    malformed: number;
    /** Spans of traces past the report's cap on trace summaries: in every total and row, in
     * no trace (docs/report.md, "Memory"). */
    untrackedSpans?: number;
  };
  /** Cost by the `by` dimensions, most expensive first; sums to `totals.costUsd`. */
  rows: readonly ReportRow[];
  /** Cost by one dimension each, for the page's charts: tenant, use_case, model, category, team. */
  breakdowns: Readonly<Record<string, readonly ReportRow[]>>;
  /** Cost per time bucket (hour, or day over long ranges), oldest first. */
  overTime: readonly { start: string; costUsd: number }[];
  bucket: 'minute' | 'hour' | 'day';
  /** The most expensive traces, most expensive first (`--top N`), with their waterfalls. */
  topTraces: readonly ReportTrace[];
  budgetEvents: readonly ReportBudgetEvent[];
  /** Unpriced spans by provider, model and reason. */
  unpriced: readonly { provider: string; model: string; reason: string; spans: number }[];
  /** Outcomes by use case (`spanledger.outcome.name` spans), for cost per outcome. */
  outcomes: readonly { useCase: string; outcome: string; count: number; valueUsd: number }[];
}
