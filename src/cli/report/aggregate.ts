/**
 * From spans to the report model (src/cli/report/model.ts), in one streaming pass with bounded
 * memory: totals, rows and time buckets are sums; each trace keeps a small summary (capped at
 * {@link DEFAULT_MAX_TRACES}); spans themselves are held only for the traces that may make the
 * top N, and a second pass over re-readable input collects the rest (docs/report.md,
 * "Memory").
 */
import { BUILTIN, dimensionName, dimensionValue } from '../../dimensions.js';
import * as A from '../../semconv.js';
import type {
  ReportBudgetEvent,
  ReportModel,
  ReportRow,
  ReportSpan,
  ReportTrace,
  WaterfallSpan,
} from './model.js';

/**
 * Traces summarised at most. A summary is a few hundred bytes, so the cap bounds the report's
 * memory near 0.5 GB; spans of traces past it still count in every total and row (money is
 * never dropped), only not in a trace (`totals.untrackedSpans`).
 */
export const DEFAULT_MAX_TRACES = 1_000_000;

/** Budget events kept for the model (the earliest; the rest are counted in no list). */
const MAX_BUDGET_EVENTS = 10_000;

/** The absent value of a dimension. */
export const UNALLOCATED = 'unallocated';

/** The one-dimension breakdowns every report carries (the HTML page charts them). */
export const BREAKDOWNS = ['tenant', 'use_case', 'model', 'category', 'team'] as const;

/** Options of {@link buildReport}. */
export interface ReportOptions {
  /** Dimensions of `rows` (see {@link REPORT_DIMENSIONS}). */
  by: readonly string[];
  /** How many of the most expensive traces to keep, with their waterfalls. */
  top: number;
  /** Only spans that start at or after `from` and before `to`. */
  from?: Date;
  to?: Date;
  /** Time bucket of `overTime`; by default minute up to 3 hours, hour up to 14 days, else day. */
  bucket?: ReportModel['bucket'];
  /** The same spans again, for a second pass collecting the top traces' spans when the first
   * pass could not hold them (files are read twice; an array is re-iterated by default). */
  reread?: (traceIds: ReadonlySet<string>) => AsyncIterable<ReportSpan> | Iterable<ReportSpan>;
  /** Cap of trace summaries (default {@link DEFAULT_MAX_TRACES}). */
  maxTraces?: number;
  /** Read at the end for `totals.malformed` (the reader's counters fill while the report reads). */
  readStats?: { readonly malformed: number };
}

/** A dimension as the report reads it. */
interface Dim {
  name: string;
  /** Attribution dimensions are read from the span, else its trace root, else the resource;
   * span dimensions (model, category, ...) from the span alone. */
  attribution: boolean;
  key?: string;
  read?: (s: ReportSpan) => string | undefined;
}

const str = (v: unknown): string | undefined => dimensionValue(v);

/** Span-level dimensions: properties of the span's own work, never inherited. */
const SPAN_DIMS: readonly Dim[] = [
  {
    name: 'model',
    attribution: false,
    read: (s) =>
      str(s.attributes[A.ATTR_GEN_AI_REQUEST_MODEL]) ??
      str(s.attributes[A.ATTR_GEN_AI_RESPONSE_MODEL]) ??
      str(s.attributes[A.ATTR_PRICING_MODEL]),
  },
  {
    name: 'provider',
    attribution: false,
    read: (s) =>
      str(s.attributes[A.ATTR_GEN_AI_PROVIDER_NAME]) ??
      str(s.attributes[A.ATTR_GEN_AI_SYSTEM]) ??
      str(s.attributes[A.ATTR_PRICING_PROVIDER]),
  },
  { name: 'category', attribution: false, read: (s) => str(s.attributes[A.ATTR_COST_CATEGORY]) },
  {
    name: 'operation',
    attribution: false,
    read: (s) => str(s.attributes[A.ATTR_GEN_AI_OPERATION_NAME]),
  },
  { name: 'service', attribution: false, read: (s) => str(s.service) },
];

/** The report's name of a built-in dimension: the attribute's name below `spanledger.`
 * (`use_case`, as in `spanledger.use_case`), or the dimension's own name (`agent`). */
const reportName = (d: { name: string; key: string }): string =>
  d.key.startsWith('spanledger.') ? dimensionName(d.key) : d.name;

const ATTRIBUTION_DIMS: readonly Dim[] = BUILTIN.all.map((d) => ({
  name: reportName(d),
  attribution: true,
  key: d.key,
}));

/** Names `--by` accepts (besides any attribute key with a dot, read like a dimension). */
export const REPORT_DIMENSIONS: readonly string[] = [
  ...ATTRIBUTION_DIMS.map((d) => d.name),
  ...SPAN_DIMS.map((d) => d.name),
];

/** The dimension `name` names, or undefined. Built-ins also answer to their names in
 * src/dimensions.ts (`useCase`); a name with a dot is an attribute key (an extra dimension). */
function dimension(name: string): Dim | undefined {
  const found =
    ATTRIBUTION_DIMS.find((d) => d.name === name) ?? SPAN_DIMS.find((d) => d.name === name);
  if (found) return found;
  const builtin = BUILTIN.keyOf(name);
  if (builtin !== undefined) return ATTRIBUTION_DIMS.find((d) => d.key === builtin);
  if (/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$/.test(name)) {
    return { name, attribution: true, key: name };
  }
  return undefined;
}

/** The dimensions of `--by`, or an error message naming the unknown one. */
export function parseBy(names: readonly string[]): { dims: Dim[] } | { error: string } {
  const dims: Dim[] = [];
  for (const n of names) {
    const d = dimension(n);
    if (d === undefined) {
      return {
        error: `unknown dimension '${n}' (known: ${REPORT_DIMENSIONS.join(', ')}, or an attribute key such as deployment.environment)`,
      };
    }
    dims.push({ ...d, name: n === d.name ? n : d.name });
  }
  return { dims };
}

/** A sum of doubles with Neumaier's compensation: a million small costs add up to the same
 * total whatever their order, to far below a billionth of a dollar. */
class Sum {
  private s = 0;
  private c = 0;
  add(x: number): void {
    const t = this.s + x;
    this.c += Math.abs(this.s) >= Math.abs(x) ? this.s - t + x : x - t + this.s;
    this.s = t;
  }
  addSum(o: Sum): void {
    this.add(o.s);
    this.add(o.c);
  }
  get value(): number {
    return this.s + this.c;
  }
}

/** What one span (or several with the same dimension values) adds to a row. */
interface Delta {
  cost: Sum;
  spans: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheSavings: Sum;
  unpricedSpans: number;
}

const newDelta = (): Delta => ({
  cost: new Sum(),
  spans: 0,
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheSavings: new Sum(),
  unpricedSpans: 0,
});

function addDelta(to: Delta, d: Delta): void {
  to.cost.addSum(d.cost);
  to.spans += d.spans;
  to.inputTokens += d.inputTokens;
  to.outputTokens += d.outputTokens;
  to.cacheReadTokens += d.cacheReadTokens;
  to.cacheSavings.addSum(d.cacheSavings);
  to.unpricedSpans += d.unpricedSpans;
}

interface RowAcc extends Delta {
  id: number;
  key: string[];
  traces: number;
}

/** A span's contribution waiting for its trace root's dimension values. */
interface Pending {
  own: (string | undefined)[];
  resource: (string | undefined)[];
  span: string[];
  delta: Delta;
}

/** A span as a waterfall needs it. */
export interface HeldSpan {
  spanId: string;
  parentSpanId?: string;
  name: string;
  category?: string;
  model?: string;
  costUsd: number;
  start: bigint;
  end: bigint;
  error: boolean;
  unpriced: boolean;
}

interface TraceAcc {
  traceId: string;
  cost: Sum;
  failed: Sum;
  spans: number;
  llm: number;
  tools: number;
  unpriced: boolean;
  firstStart: bigint;
  lastEnd: bigint;
  firstName: string;
  service: string;
  rootName?: string;
  /** Attribution values of the root span itself (by dimension index), once seen. */
  root?: (string | undefined)[];
  /** Attribution values of the first span's resource, for `dimensions` without a root. */
  resource: (string | undefined)[];
  budgets: string[];
  rowIds: number[];
  pending?: Map<string, Pending>;
  /** Every span of the trace so far is in `held`. */
  held: boolean;
}

const LLM_OPERATIONS = new Set([
  'chat',
  'text_completion',
  'generate_content',
  'embeddings',
  'create_agent',
]);

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

const nsToMs = (ns: bigint): number => Number(ns / 1_000_000n) + Number(ns % 1_000_000n) / 1e6;
const iso = (ns: bigint): string => new Date(Math.floor(nsToMs(ns))).toISOString();

/** The cost status of a span: `priced`, `partial` or `unpriced` as the processor wrote it, or
 * undefined for work it did not assess. */
function costStatus(s: ReportSpan): string | undefined {
  const v = s.attributes[A.ATTR_COST_STATUS];
  return typeof v === 'string' ? v : undefined;
}

/**
 * The report over `spans` (docs/report.md). Totals are the sums of the spans'
 * `spanledger.cost.usd`; rows and breakdowns partition the same spans, so each table sums to the
 * total. Unpriced (and partly priced) spans are counted, listed by reason, and make their trace
 * `partial`. Never holds every span: see {@link DEFAULT_MAX_TRACES} and `reread`.
 */
export async function buildReport(
  spans: AsyncIterable<ReportSpan> | Iterable<ReportSpan>,
  options: ReportOptions,
): Promise<ReportModel> {
  const parsed = parseBy(options.by);
  if ('error' in parsed) throw new Error(parsed.error);
  const byDims = parsed.dims;
  const breakdownDims = BREAKDOWNS.map((n) => dimension(n) as Dim);
  // Every attribution dimension any table needs, indexed once.
  const attrDims: Dim[] = [];
  const spanDims: Dim[] = [];
  for (const d of [...byDims, ...breakdownDims]) {
    const list = d.attribution ? attrDims : spanDims;
    if (!list.some((x) => x.name === d.name)) list.push(d);
  }
  const attrIndex = new Map(attrDims.map((d, i) => [d.name, i]));
  const tables = [byDims, ...breakdownDims.map((d) => [d])].map((dims) => ({
    dims,
    rows: new Map<string, RowAcc>(),
  }));
  let nextRowId = 0;

  const maxTraces = options.maxTraces ?? DEFAULT_MAX_TRACES;
  const top = Math.max(0, Math.floor(options.top));
  const holdCap = Math.max(top * 4, 64);
  const fromNs = options.from ? BigInt(options.from.getTime()) * 1_000_000n : undefined;
  const toNs = options.to ? BigInt(options.to.getTime()) * 1_000_000n : undefined;

  const totals = {
    cost: new Sum(),
    spans: 0,
    priced: 0,
    unpriced: 0,
    savings: new Sum(),
    failed: new Sum(),
    untracked: 0,
  };
  let minStart: bigint | undefined;
  let maxEnd: bigint | undefined;
  const traces = new Map<string, TraceAcc>();
  const held = new Map<string, HeldSpan[]>();
  const buckets = {
    minute: new Map<number, Sum>() as Map<number, Sum> | undefined,
    hour: new Map<number, Sum>(),
    day: new Map<number, Sum>(),
  };
  const budgetEvents: ReportBudgetEvent[] = [];
  const unpriced = new Map<string, number>();
  const outcomes = new Map<string, { count: number; value: Sum }>();

  /** Add a resolved contribution to every table, counting the trace once per row. */
  const contribute = (values: Map<string, string>, delta: Delta, trace?: TraceAcc): void => {
    for (const t of tables) {
      const key = t.dims.map((d) => values.get(d.name) ?? UNALLOCATED);
      const k = key.join('\u0000');
      let row = t.rows.get(k);
      if (!row) {
        row = { ...newDelta(), id: nextRowId++, key, traces: 0 };
        t.rows.set(k, row);
      }
      addDelta(row, delta);
      if (trace && !trace.rowIds.includes(row.id)) {
        trace.rowIds.push(row.id);
        row.traces++;
      }
    }
  };

  /** Dimension values: attribution ones from the span, else the root, else the resource. */
  const resolve = (
    own: (string | undefined)[],
    resource: (string | undefined)[],
    root: (string | undefined)[] | undefined,
    span: string[],
  ): Map<string, string> => {
    const values = new Map<string, string>();
    attrDims.forEach((d, i) => {
      values.set(d.name, own[i] ?? root?.[i] ?? resource[i] ?? UNALLOCATED);
    });
    spanDims.forEach((d, i) => {
      values.set(d.name, span[i] as string);
    });
    return values;
  };

  const flushPending = (trace: TraceAcc): void => {
    if (!trace.pending) return;
    for (const p of trace.pending.values()) {
      contribute(resolve(p.own, p.resource, trace.root, p.span), p.delta, trace);
    }
    trace.pending = undefined;
  };

  const holdSpan = (trace: TraceAcc, h: HeldSpan, isNew: boolean): void => {
    const list = held.get(trace.traceId);
    if (list) {
      list.push(h);
      return;
    }
    if (!isNew || !trace.held) return;
    if (held.size >= holdCap) {
      // Full: the cheapest held trace makes room if this one already costs more.
      let cheapest: TraceAcc | undefined;
      for (const id of held.keys()) {
        const t = traces.get(id) as TraceAcc;
        if (cheapest === undefined || t.cost.value < cheapest.cost.value) cheapest = t;
      }
      if (cheapest === undefined || cheapest.cost.value >= trace.cost.value) {
        trace.held = false;
        return;
      }
      cheapest.held = false;
      held.delete(cheapest.traceId);
    }
    held.set(trace.traceId, [h]);
  };

  const first = async (input: AsyncIterable<ReportSpan> | Iterable<ReportSpan>): Promise<void> => {
    for await (const s of input) {
      if (fromNs !== undefined && s.startTimeUnixNano < fromNs) continue;
      if (toNs !== undefined && s.startTimeUnixNano >= toNs) continue;
      const a = s.attributes;
      const cost = num(a[A.ATTR_COST_USD]);
      const status = costStatus(s);
      const isUnpriced = status === 'unpriced' || status === 'partial';
      const error = s.statusCode === 2;
      const savings = num(a[A.ATTR_COST_CACHE_SAVINGS_USD]);
      const category = str(a[A.ATTR_COST_CATEGORY]);
      const op = str(a[A.ATTR_GEN_AI_OPERATION_NAME]);

      totals.cost.add(cost);
      totals.spans++;
      if (status === 'priced') totals.priced++;
      if (isUnpriced) totals.unpriced++;
      totals.savings.add(savings);
      if (error) totals.failed.add(cost);
      if (minStart === undefined || s.startTimeUnixNano < minStart) minStart = s.startTimeUnixNano;
      if (maxEnd === undefined || s.endTimeUnixNano > maxEnd) maxEnd = s.endTimeUnixNano;

      const ms = nsToMs(s.startTimeUnixNano);
      if (buckets.minute) {
        addBucket(buckets.minute, Math.floor(ms / 60_000) * 60_000, cost);
        // Minutes over more than a few days are not worth their memory: hours or days then.
        if (buckets.minute.size > 20_000) buckets.minute = undefined;
      }
      addBucket(buckets.hour, Math.floor(ms / 3_600_000) * 3_600_000, cost);
      addBucket(buckets.day, Math.floor(ms / 86_400_000) * 86_400_000, cost);

      if (isUnpriced) {
        const provider =
          str(a[A.ATTR_GEN_AI_PROVIDER_NAME]) ?? str(a[A.ATTR_GEN_AI_SYSTEM]) ?? 'unknown';
        const model =
          str(a[A.ATTR_GEN_AI_REQUEST_MODEL]) ?? str(a[A.ATTR_GEN_AI_RESPONSE_MODEL]) ?? 'unknown';
        const reason = str(a[A.ATTR_COST_UNPRICED_REASON]) ?? 'unknown';
        const k = [provider, model, reason].join('\u0000');
        unpriced.set(k, (unpriced.get(k) ?? 0) + 1);
      }

      // The trace's summary (none past the cap: the span still counts everywhere else).
      let trace = traces.get(s.traceId);
      const isNew = trace === undefined;
      if (trace === undefined && traces.size < maxTraces) {
        trace = {
          traceId: s.traceId,
          cost: new Sum(),
          failed: new Sum(),
          spans: 0,
          llm: 0,
          tools: 0,
          unpriced: false,
          firstStart: s.startTimeUnixNano,
          lastEnd: s.endTimeUnixNano,
          firstName: s.name,
          service: s.service,
          resource: attrDims.map((d) => str(s.resource[d.key as string])),
          budgets: [],
          rowIds: [],
          held: true,
        };
        traces.set(s.traceId, trace);
      }
      if (trace === undefined) totals.untracked++;

      for (const e of s.events) {
        const kind =
          e.name === A.EVENT_BUDGET_EXCEEDED
            ? 'exceeded'
            : e.name === A.EVENT_BUDGET_WARNING
              ? 'warning'
              : undefined;
        if (kind === undefined) continue;
        const budget = str(e.attributes[A.ATTR_BUDGET_NAME]) ?? 'unknown';
        if (budgetEvents.length < MAX_BUDGET_EVENTS) {
          const spent = e.attributes[A.ATTR_BUDGET_SPENT_USD];
          const limit = e.attributes[A.ATTR_BUDGET_LIMIT_USD];
          const action = str(e.attributes[A.ATTR_BUDGET_ACTION]);
          budgetEvents.push({
            time: iso(e.timeUnixNano),
            traceId: s.traceId,
            budget,
            kind,
            ...(action === undefined ? {} : { action }),
            ...(typeof spent === 'number' ? { spentUsd: spent } : {}),
            ...(typeof limit === 'number' ? { limitUsd: limit } : {}),
          });
        }
        if (kind === 'exceeded' && trace && !trace.budgets.includes(budget)) {
          trace.budgets.push(budget);
        }
      }

      if (trace) {
        trace.cost.add(cost);
        if (error) trace.failed.add(cost);
        trace.spans++;
        if (category === 'llm' || (category === undefined && op && LLM_OPERATIONS.has(op))) {
          trace.llm++;
        }
        if (category === 'tool' || (category === undefined && op === 'execute_tool')) {
          trace.tools++;
        }
        if (isUnpriced) trace.unpriced = true;
        if (s.startTimeUnixNano < trace.firstStart) {
          trace.firstStart = s.startTimeUnixNano;
          trace.firstName = s.name;
        }
        if (s.endTimeUnixNano > trace.lastEnd) trace.lastEnd = s.endTimeUnixNano;
        holdSpan(
          trace,
          {
            spanId: s.spanId,
            parentSpanId: s.parentSpanId,
            name: s.name,
            category,
            model: SPAN_DIMS[0]?.read?.(s),
            costUsd: cost,
            start: s.startTimeUnixNano,
            end: s.endTimeUnixNano,
            error,
            unpriced: isUnpriced,
          },
          isNew,
        );
      }

      const own = attrDims.map((d) => str(a[d.key as string]));
      const resource = attrDims.map((d) => str(s.resource[d.key as string]));
      const spanVals = spanDims.map((d) => d.read?.(s) ?? UNALLOCATED);

      if (s.parentSpanId === undefined && trace) {
        trace.rootName = s.name;
        trace.root = own;
        const exceeded = a[A.ATTR_BUDGET_EXCEEDED];
        if (Array.isArray(exceeded)) {
          for (const b of exceeded) {
            if (typeof b === 'string' && !trace.budgets.includes(b)) trace.budgets.push(b);
          }
        }
      }

      const outcome = str(a[A.ATTR_OUTCOME_NAME]);
      if (outcome !== undefined) {
        const i = attrIndex.get('use_case') as number;
        const useCase = own[i] ?? trace?.root?.[i] ?? resource[i] ?? UNALLOCATED;
        const k = `${useCase}\u0000${outcome}`;
        let o = outcomes.get(k);
        if (!o) {
          o = { count: 0, value: new Sum() };
          outcomes.set(k, o);
        }
        o.count += typeof a[A.ATTR_OUTCOME_COUNT] === 'number' ? num(a[A.ATTR_OUTCOME_COUNT]) : 1;
        o.value.add(num(a[A.ATTR_OUTCOME_VALUE_USD]));
      }

      const delta = newDelta();
      delta.cost.add(cost);
      delta.spans = 1;
      delta.inputTokens = num(a[A.ATTR_GEN_AI_USAGE_INPUT_TOKENS]);
      delta.outputTokens = num(a[A.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]);
      delta.cacheReadTokens = num(a[A.ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS]);
      delta.cacheSavings.add(savings);
      delta.unpricedSpans = isUnpriced ? 1 : 0;

      if (trace === undefined || trace.root !== undefined || own.every((v) => v !== undefined)) {
        contribute(resolve(own, resource, trace?.root, spanVals), delta, trace);
      } else {
        // The root usually ends (and is exported) last: wait for its dimension values.
        const k = [...own, '\u0001', ...resource, '\u0001', ...spanVals].join('\u0000');
        trace.pending ??= new Map();
        const p = trace.pending.get(k);
        if (p) addDelta(p.delta, delta);
        else trace.pending.set(k, { own, resource, span: spanVals, delta });
      }
      if (trace?.root !== undefined && trace.pending) flushPending(trace);
    }
  };

  await first(spans);
  // Traces whose root never came (a segment of a distributed trace, or cut by --from/--to):
  // their spans fall back to the resource.
  for (const t of traces.values()) flushPending(t);

  // The top N, most expensive first (ties: earlier first, then by id, for a stable order).
  const ranked = [...traces.values()].sort(
    (x, y) =>
      y.cost.value - x.cost.value ||
      (x.firstStart < y.firstStart ? -1 : x.firstStart > y.firstStart ? 1 : 0) ||
      (x.traceId < y.traceId ? -1 : 1),
  );
  const topTraces = ranked.slice(0, top);
  const missing = new Set(topTraces.filter((t) => !held.has(t.traceId)).map((t) => t.traceId));
  const reread = options.reread ?? (Array.isArray(spans) ? () => spans : undefined);
  if (missing.size > 0 && reread !== undefined) {
    // Second pass: only the spans of the top traces the first pass could not hold.
    for (const id of missing) held.set(id, []);
    for await (const s of reread(missing)) {
      if (!missing.has(s.traceId)) continue;
      if (fromNs !== undefined && s.startTimeUnixNano < fromNs) continue;
      if (toNs !== undefined && s.startTimeUnixNano >= toNs) continue;
      const a = s.attributes;
      const status = costStatus(s);
      held.get(s.traceId)?.push({
        spanId: s.spanId,
        parentSpanId: s.parentSpanId,
        name: s.name,
        category: str(a[A.ATTR_COST_CATEGORY]),
        model: SPAN_DIMS[0]?.read?.(s),
        costUsd: num(a[A.ATTR_COST_USD]),
        start: s.startTimeUnixNano,
        end: s.endTimeUnixNano,
        error: s.statusCode === 2,
        unpriced: status === 'unpriced' || status === 'partial',
      });
    }
  }

  const traceOut = (t: TraceAcc): ReportTrace => {
    const dimensions: Record<string, string> = {};
    attrDims.forEach((d, i) => {
      const v = t.root?.[i] ?? t.resource[i];
      if (v !== undefined) dimensions[d.name] = v;
    });
    const spansHeld = held.get(t.traceId);
    return {
      traceId: t.traceId,
      rootName: t.rootName ?? t.firstName,
      service: t.service,
      start: iso(t.firstStart),
      durationMs: nsToMs(t.lastEnd - t.firstStart),
      costUsd: t.cost.value,
      status: t.unpriced ? 'partial' : 'priced',
      spans: t.spans,
      llmCalls: t.llm,
      toolCalls: t.tools,
      failedCostUsd: t.failed.value,
      budgetsExceeded: t.budgets,
      dimensions,
      ...(spansHeld === undefined ? {} : { waterfall: waterfall(spansHeld) }),
    };
  };

  const rowsOut = (rows: Map<string, RowAcc>): ReportRow[] =>
    [...rows.values()]
      .map((r) => ({
        key: r.key,
        costUsd: r.cost.value,
        spans: r.spans,
        traces: r.traces,
        inputTokens: r.inputTokens,
        outputTokens: r.outputTokens,
        cacheReadTokens: r.cacheReadTokens,
        cacheSavingsUsd: r.cacheSavings.value,
        unpricedSpans: r.unpricedSpans,
      }))
      .sort((x, y) => y.costUsd - x.costUsd || compareKeys(x.key, y.key));

  const rangeMs =
    minStart === undefined || maxEnd === undefined ? 0 : nsToMs(maxEnd) - nsToMs(minStart);
  const bucket =
    options.bucket ??
    (rangeMs <= 3 * 3_600_000 && buckets.minute
      ? 'minute'
      : rangeMs <= 14 * 86_400_000
        ? 'hour'
        : 'day');
  const bucketMap = bucket === 'minute' ? (buckets.minute ?? buckets.hour) : buckets[bucket];
  const step =
    bucket === 'minute' && buckets.minute ? 60_000 : bucket === 'day' ? 86_400_000 : 3_600_000;

  return {
    by: byDims.map((d) => d.name),
    ...(minStart === undefined ? {} : { from: iso(minStart) }),
    ...(maxEnd === undefined ? {} : { to: iso(maxEnd) }),
    totals: {
      costUsd: totals.cost.value,
      spans: totals.spans,
      traces: traces.size,
      pricedSpans: totals.priced,
      unpricedSpans: totals.unpriced,
      cacheSavingsUsd: totals.savings.value,
      failedCostUsd: totals.failed.value,
      malformed: options.readStats?.malformed ?? 0,
      untrackedSpans: totals.untracked,
    },
    rows: rowsOut((tables[0] as (typeof tables)[number]).rows),
    breakdowns: Object.fromEntries(
      BREAKDOWNS.map((name, i) => [name, rowsOut((tables[i + 1] as (typeof tables)[number]).rows)]),
    ),
    overTime: timeline(bucketMap, step),
    bucket: bucket === 'minute' && !buckets.minute ? 'hour' : bucket,
    topTraces: topTraces.map(traceOut),
    budgetEvents: budgetEvents.sort((x, y) => (x.time < y.time ? -1 : x.time > y.time ? 1 : 0)),
    unpriced: [...unpriced.entries()]
      .map(([k, spans]) => {
        const [provider, model, reason] = k.split('\u0000') as [string, string, string];
        return { provider, model, reason, spans };
      })
      .sort(
        (x, y) =>
          y.spans - x.spans ||
          compareKeys([x.provider, x.model, x.reason], [y.provider, y.model, y.reason]),
      ),
    outcomes: [...outcomes.entries()]
      .map(([k, o]) => {
        const [useCase, outcome] = k.split('\u0000') as [string, string];
        return { useCase, outcome, count: o.count, valueUsd: o.value.value };
      })
      .sort((x, y) => compareKeys([x.useCase, x.outcome], [y.useCase, y.outcome])),
  };
}

function compareKeys(x: readonly string[], y: readonly string[]): number {
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const a = x[i] as string;
    const b = y[i] as string;
    if (a !== b) return a < b ? -1 : 1;
  }
  return x.length - y.length;
}

function addBucket(map: Map<number, Sum>, start: number, cost: number): void {
  let s = map.get(start);
  if (!s) {
    s = new Sum();
    map.set(start, s);
  }
  s.add(cost);
}

/** Buckets oldest first, the empty ones between filled in with 0 (up to a few thousand: a
 * chart of more would not show them anyway). */
function timeline(map: Map<number, Sum>, step: number): { start: string; costUsd: number }[] {
  const starts = [...map.keys()].sort((x, y) => x - y);
  if (starts.length === 0) return [];
  const firstStart = starts[0] as number;
  const lastStart = starts[starts.length - 1] as number;
  const all =
    (lastStart - firstStart) / step < 5_000
      ? Array.from({ length: (lastStart - firstStart) / step + 1 }, (_, i) => firstStart + i * step)
      : starts;
  return all.map((t) => ({ start: new Date(t).toISOString(), costUsd: map.get(t)?.value ?? 0 }));
}

/** A trace's spans depth-first in start order, with each subtree's cost. A span whose parent
 * is not among them (a remote parent, or a span cut by --from/--to) starts a tree of its own. */
export function waterfall(spans: readonly HeldSpan[]): WaterfallSpan[] {
  if (spans.length === 0) return [];
  const byStart = [...spans].sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : 0));
  const ids = new Set(byStart.map((s) => s.spanId));
  const children = new Map<string, HeldSpan[]>();
  const roots: HeldSpan[] = [];
  for (const s of byStart) {
    if (s.parentSpanId !== undefined && ids.has(s.parentSpanId) && s.parentSpanId !== s.spanId) {
      const list = children.get(s.parentSpanId) ?? [];
      list.push(s);
      children.set(s.parentSpanId, list);
    } else {
      roots.push(s);
    }
  }
  const t0 = (byStart[0] as HeldSpan).start;
  const out: WaterfallSpan[] = [];
  const seen = new Set<string>();
  const visit = (s: HeldSpan, depth: number): number => {
    seen.add(s.spanId);
    const entry: WaterfallSpan = {
      spanId: s.spanId,
      ...(s.parentSpanId === undefined ? {} : { parentSpanId: s.parentSpanId }),
      name: s.name,
      ...(s.category === undefined ? {} : { category: s.category }),
      ...(s.model === undefined ? {} : { model: s.model }),
      costUsd: s.costUsd,
      subtreeCostUsd: 0,
      startMs: nsToMs(s.start - t0),
      durationMs: nsToMs(s.end - s.start),
      error: s.error,
      unpriced: s.unpriced,
      depth,
    };
    out.push(entry);
    const sum = new Sum();
    sum.add(s.costUsd);
    for (const c of children.get(s.spanId) ?? []) {
      // A span id seen twice (a duplicate export) is shown once.
      if (!seen.has(c.spanId)) sum.add(visit(c, depth + 1));
    }
    entry.subtreeCostUsd = sum.value;
    return entry.subtreeCostUsd;
  };
  for (const r of roots) if (!seen.has(r.spanId)) visit(r, 0);
  return out;
}
