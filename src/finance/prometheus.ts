/**
 * Daily estimates read from the cost counters in Prometheus, exactly (docs/finance.md, "What the
 * showback numbers mean"). Never `increase()`: it starts at each series' first sample in the
 * window (missing what a series born inside it held there) and extrapolates to the window's ends.
 * Raw samples are read instead (range-vector selectors in instant queries return them as
 * stored), one chunk at a time, and each step between consecutive samples of a series adds
 * `v2 - v1`, or `v2` where the counter reset. The step goes to the day of its later sample.
 */
import { calendarWindow } from '../budgets/window.js';
import { checkOptionObject } from '../options.js';
import type { Day, EstimateLabels, EstimateQuery, EstimateRow, TokenType } from './model.js';

/** The counters showback reads, as Prometheus 3 names them after the collector's remote write
 * (dashboards/config.libsonnet uses the same names; test/finance/prometheus.test.ts checks). */
export const METRICS = {
  cost: 'spanledger_cost_usd_total',
  tokens: 'spanledger_tokens_total',
  cacheSavings: 'spanledger_cache_savings_usd_total',
} as const;

/** Dimension name (the CLI's `--by` names) → Prometheus label, as the collector translates the
 * span attributes (dashboards/config.libsonnet `labels`; `service.name` becomes `job`). */
export const PROM_LABELS: Readonly<Record<string, string>> = {
  service: 'job',
  provider: 'gen_ai_provider_name',
  model: 'gen_ai_request_model',
  category: 'spanledger_cost_category',
  team: 'spanledger_team',
  cost_center: 'spanledger_cost_center',
  tenant: 'spanledger_tenant',
  use_case: 'spanledger_use_case',
  agent: 'gen_ai_agent_name',
};

/** The label of the token type on the tokens counter. */
export const TOKEN_TYPE_LABEL = 'gen_ai_token_type';

/** The dimensions `--by` accepts, in the order rows and columns show them. */
export const DIMENSIONS = Object.keys(PROM_LABELS);

const TOKEN_TYPES: ReadonlySet<string> = new Set<TokenType>([
  'input',
  'output',
  'cache_read',
  'cache_write',
  'reasoning',
]);

/** How far before `from` a series' last sample is looked for (its baseline), one day at a time;
 * a series with no sample in this long before `from` counts as born in the range (its whole
 * value is in the range). docs/finance.md. */
export const BASELINE_LOOKBACK_DAYS = 35;

/** Longest stretch of samples one query reads: at a 15 s interval a series has 480 samples in
 * 2 hours, so a query stays far below Prometheus' `--query.max-samples` (50 million) up to
 * about 100,000 series, and a response is parsed and dropped before the next is asked for. */
export const CHUNK_MS = 2 * 3_600_000;

/** Series followed at once, across the three counters: beyond it the read stops with an error
 * (narrow the range's series with `--selector`) rather than grow without bound. */
export const MAX_SERIES = 200_000;

const DAY_MS = 86_400_000;

/** A showback failure the user can act on: one line, exit 1 (unreachable, HTTP error, empty
 * range, no series). */
export class ShowbackError extends Error {
  override name = 'ShowbackError';
}

/** Samples of one series: `[seconds, "value"]` pairs, as the HTTP API returns them. */
interface PromMatrixSeries {
  metric: Record<string, string>;
  values?: Array<[number, string]>;
}
interface PromVectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** The Prometheus HTTP API: instant queries, their errors as {@link ShowbackError}. */
export class PrometheusClient {
  readonly #base: string;
  readonly #timeoutMs: number;

  /** `url` is the server's base URL (`http://prometheus:9090`, a path prefix allowed);
   * `timeoutMs` bounds each request (default 2 minutes). */
  constructor(options: { url: string; timeoutMs?: number }) {
    const o = checkOptionObject<{ url: string; timeoutMs?: number }>('PrometheusClient', options, {
      url: (v) =>
        typeof v === 'string' && /^https?:\/\//.test(v) ? undefined : 'must be an http(s) URL',
      timeoutMs: positive,
    });
    if (o.url === undefined) throw new TypeError('spanledger: PrometheusClient: url is required');
    this.#base = o.url.replace(/\/+$/, '');
    this.#timeoutMs = o.timeoutMs ?? 120_000;
  }

  /** An instant query; its `data.result`. */
  async query<T>(expr: string, timeMs: number): Promise<T[]> {
    const body = new URLSearchParams({ query: expr, time: (timeMs / 1000).toFixed(3) });
    const url = `${this.#base}/api/v1/query`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e as Error).message;
      throw new ShowbackError(`cannot reach Prometheus at ${this.#base}: ${why}`);
    }
    const text = await res.text();
    let json: { status?: string; error?: string; data?: { resultType?: string; result?: T[] } };
    try {
      json = JSON.parse(text);
    } catch {
      throw new ShowbackError(
        `${this.#base} is not a Prometheus HTTP API: ${url} answered HTTP ${res.status} ${oneLine(text)}`,
      );
    }
    if (json.status !== 'success' || !Array.isArray(json.data?.result)) {
      if (json.status === 'error') {
        throw new ShowbackError(
          `Prometheus at ${this.#base} answered HTTP ${res.status}: ${oneLine(json.error ?? '')}`,
        );
      }
      throw new ShowbackError(
        `${this.#base} is not a Prometheus HTTP API: ${url} answered HTTP ${res.status} without a query result`,
      );
    }
    return json.data.result as T[];
  }
}

const positive = (v: unknown): string | undefined =>
  typeof v === 'number' && Number.isInteger(v) && v > 0 ? undefined : 'must be a positive integer';

function oneLine(s: string): string {
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

/** The selector of a counter with the user's matcher fragment (`cluster="prod"`). */
export function selectorOf(metric: string, extra: string | undefined): string {
  const m = extra?.trim().replace(/^\{|\}$/g, '');
  return m ? `${metric}{${m}}` : metric;
}

/** One series' state while its samples stream by: the last value seen and what each day got. */
interface SeriesState {
  labels: Record<string, string>;
  last: number | undefined;
  /** The first sample in the range: its step needs the baseline, read after the chunks. */
  firstValue: number | undefined;
  firstDay: Day | undefined;
  days: Map<Day, number>;
}

/**
 * Exact increases of one counter's series, fed chunk by chunk in time order. Per series: each
 * step between consecutive samples adds `v2 - v1`, or `v2` when the counter went down (a reset:
 * the process restarted and counts from 0 again); the first sample in the range adds
 * `v1 - baseline` (or `v1` after a reset), or `v1` when there is no baseline (a series born in
 * the range: everything it holds was counted in the range).
 */
export class CounterIncreases {
  readonly #series = new Map<string, SeriesState>();
  readonly #cap: number;

  /** `maxSeries`: the cap on series followed (a {@link ShowbackError} beyond it). */
  constructor(options: { maxSeries?: number } = {}) {
    const o = checkOptionObject<{ maxSeries?: number }>('CounterIncreases', options, {
      maxSeries: positive,
    });
    this.#cap = o.maxSeries ?? MAX_SERIES;
  }

  /** Number of series seen. */
  get size(): number {
    return this.#series.size;
  }

  /** The identities of every series seen (for the baseline lookup). */
  keys(): IterableIterator<string> {
    return this.#series.keys();
  }

  /** Samples of one series within one day, in time order; the chunks of a series arrive in
   * time order too. */
  add(labels: Record<string, string>, day: Day, values: readonly number[]): void {
    const key = seriesKey(labels);
    let s = this.#series.get(key);
    if (s === undefined) {
      if (this.#series.size >= this.#cap) {
        throw new ShowbackError(
          `more than ${this.#cap} series in the range: narrow it with --selector or a shorter range`,
        );
      }
      s = { labels, last: undefined, firstValue: undefined, firstDay: undefined, days: new Map() };
      this.#series.set(key, s);
    }
    let sum = 0;
    for (const v of values) {
      if (!Number.isFinite(v)) continue;
      if (s.last === undefined) {
        s.firstValue = v;
        s.firstDay = day;
      } else sum += v >= s.last ? v - s.last : v;
      s.last = v;
    }
    if (sum !== 0) s.days.set(day, (s.days.get(day) ?? 0) + sum);
  }

  /**
   * The increases per series and day, once the baselines are known (`baselines` by
   * {@link seriesKey}; absent: the series was born in the range).
   */
  *increases(
    baselines: ReadonlyMap<string, number>,
  ): Generator<{ labels: Record<string, string>; day: Day; value: number }> {
    for (const [key, s] of this.#series) {
      const days = new Map(s.days);
      if (s.firstValue !== undefined && s.firstDay !== undefined) {
        const b = baselines.get(key);
        const first = b === undefined || s.firstValue < b ? s.firstValue : s.firstValue - b;
        if (first !== 0) days.set(s.firstDay, (days.get(s.firstDay) ?? 0) + first);
      }
      for (const [day, value] of days) yield { labels: s.labels, day, value };
    }
  }
}

/** A series' identity: its labels, sorted, without the metric name. */
export function seriesKey(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .filter((k) => k !== '__name__')
    .sort()
    .map((k) => `${k}\u0000${labels[k]}`)
    .join('\u0001');
}

/** One day of the range: `[startMs, endMs)` clipped to the range, and its date. */
export interface RangeDay {
  day: Day;
  startMs: number;
  endMs: number;
}

/** The calendar days of `[from, to)` in `timeZone` (src/budgets/window.ts cuts them: DST days
 * are 23 or 25 hours long), the first and last clipped to the range. */
export function rangeDays(fromMs: number, toMs: number, timeZone: string): RangeDay[] {
  const out: RangeDay[] = [];
  for (let t = fromMs; t < toMs; ) {
    const w = calendarWindow({ calendar: 'day', timeZone }, t);
    const end = Math.min(w.endMs, toMs);
    out.push({ day: w.id.slice('day:'.length, 'day:'.length + 10), startMs: t, endMs: end });
    t = end;
  }
  return out;
}

/**
 * Local midnight at the start of `date` (`YYYY-MM-DD`) in `timeZone`, as an instant: the day
 * window whose date it is (src/budgets/window.ts), found from noon UTC of that date.
 */
export function startOfDay(date: Day, timeZone: string): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  let t = Date.UTC(y, m - 1, d, 12);
  for (let i = 0; i < 3; i++) {
    const w = calendarWindow({ calendar: 'day', timeZone }, t);
    const got = w.id.slice('day:'.length, 'day:'.length + 10);
    if (got === date) return w.startMs;
    t = got > date ? w.startMs - 1 : w.endMs;
  }
  throw new ShowbackError(`no local day ${date} in ${timeZone}`);
}

/** Reads one counter's exact increases over the range's days. */
async function readCounter(
  client: PrometheusClient,
  selector: string,
  days: readonly RangeDay[],
  fromMs: number,
  maxSeries: number,
): Promise<{ increases: CounterIncreases; baselines: Map<string, number> }> {
  const increases = new CounterIncreases({ maxSeries });
  for (const d of days) {
    for (let a = d.startMs; a < d.endMs; a += CHUNK_MS) {
      const b = Math.min(a + CHUNK_MS, d.endMs);
      // A range selector at time t covers (t - width, t]: evaluated 1 ms before b it holds
      // exactly the samples of [a, b) (timestamps are whole milliseconds).
      const result = await client.query<PromMatrixSeries>(`${selector}[${b - a}ms]`, b - 1);
      for (const s of result) {
        const values = (s.values ?? []).map(([, v]) => Number(v));
        if (values.length > 0) increases.add(s.metric, d.day, values);
      }
    }
  }
  const baselines = await readBaselines(client, selector, increases, fromMs);
  return { increases, baselines };
}

/** The last value before `from` of each series seen in the range, looked for one day at a time
 * back to {@link BASELINE_LOOKBACK_DAYS}, stopping once every series has one. */
async function readBaselines(
  client: PrometheusClient,
  selector: string,
  increases: CounterIncreases,
  fromMs: number,
): Promise<Map<string, number>> {
  const wanted = new Set(increases.keys());
  const found = new Map<string, number>();
  for (let i = 0; i < BASELINE_LOOKBACK_DAYS && found.size < wanted.size; i++) {
    const at = fromMs - 1 - i * DAY_MS;
    const result = await client.query<PromVectorSample>(
      `last_over_time(${selector}[${DAY_MS}ms])`,
      at,
    );
    for (const s of result) {
      const key = seriesKey(s.metric);
      if (wanted.has(key) && !found.has(key)) found.set(key, Number(s.value[1]));
    }
  }
  return found;
}

/** A row's grouping key and labels from a series' labels, for the `by` dimensions. */
function groupOf(
  metric: Readonly<Record<string, string>>,
  by: readonly string[],
): { key: string; labels: EstimateLabels } {
  const labels: Record<string, string | undefined> = {};
  const parts: string[] = [];
  for (const dim of by) {
    const raw = metric[PROM_LABELS[dim] as string];
    // An empty label is no label in Prometheus: unallocated.
    const v = raw === undefined || raw === '' ? undefined : raw;
    labels[dim] = v;
    parts.push(v === undefined ? '\u0002' : v);
  }
  return { key: parts.join('\u0001'), labels };
}

/** Checks a query before any request: dimensions known, range not empty, not in the future. */
export function checkQuery(query: EstimateQuery, nowMs: number): void {
  for (const dim of query.by) {
    if (!Object.hasOwn(PROM_LABELS, dim)) {
      throw new ShowbackError(`unknown dimension '${dim}': one of ${DIMENSIONS.join(', ')}`);
    }
  }
  const from = query.from.getTime();
  const to = query.to.getTime();
  if (!(from < to)) {
    throw new ShowbackError(
      `the range is empty: --from ${query.from.toISOString()} is not before --to ${query.to.toISOString()}`,
    );
  }
  if (from >= nowMs) {
    throw new ShowbackError(
      `the range is in the future: --from ${query.from.toISOString()} is after now (${new Date(nowMs).toISOString()})`,
    );
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: query.timeZone });
  } catch {
    throw new ShowbackError(`unknown time zone '${query.timeZone}'`);
  }
}

/** Options of {@link readEstimatesFrom}. */
export interface ReadOptions {
  /** The clock (epoch ms): `to` is cut at now. */
  now?: () => number;
  maxSeries?: number;
}

/**
 * Daily estimates over `[from, to)` from the cost, tokens and cache savings counters (see the
 * module comment; `to` is cut at now). Rows are grouped by `by`, other labels summed away; a
 * missing label is `undefined` (unallocated), never dropped. Tokens and cache savings join a row
 * only when `by` leaves out `category` (the tokens counter has none: with category in `by`, a
 * model's tokens cannot be split between its llm and evaluation rows without guessing), and
 * only onto a row with cost (tokens of calls no price covered are not a cost row of their own).
 */
export async function readEstimatesFrom(
  query: EstimateQuery,
  options: ReadOptions = {},
): Promise<EstimateRow[]> {
  const nowMs = (options.now ?? Date.now)();
  checkQuery(query, nowMs);
  const client = new PrometheusClient({ url: query.prometheusUrl });
  const fromMs = query.from.getTime();
  const toMs = Math.min(query.to.getTime(), nowMs);
  const days = rangeDays(fromMs, toMs, query.timeZone);
  const maxSeries = options.maxSeries ?? MAX_SERIES;

  const costSelector = selectorOf(METRICS.cost, query.selector);
  const cost = await readCounter(client, costSelector, days, fromMs, maxSeries);
  if (cost.increases.size === 0) {
    throw new ShowbackError(
      `no spanledger series in the range: ${costSelector} has no sample from ${query.from.toISOString()} to ${new Date(toMs).toISOString()}`,
    );
  }

  const rows = new Map<string, EstimateRow>();
  const rowOf = (day: Day, metric: Record<string, string>, create: boolean) => {
    const g = groupOf(metric, query.by);
    const key = `${day}\u0003${g.key}`;
    let row = rows.get(key);
    if (row === undefined && create) {
      row = { day, labels: g.labels, costUsd: 0 };
      rows.set(key, row);
    }
    return row;
  };
  for (const inc of cost.increases.increases(cost.baselines)) {
    (rowOf(inc.day, inc.labels, true) as EstimateRow).costUsd += inc.value;
  }

  if (!query.by.includes('category')) {
    const tokens = await readCounter(
      client,
      selectorOf(METRICS.tokens, query.selector),
      days,
      fromMs,
      maxSeries,
    );
    for (const inc of tokens.increases.increases(tokens.baselines)) {
      const type = inc.labels[TOKEN_TYPE_LABEL];
      const row = rowOf(inc.day, inc.labels, false);
      if (row === undefined || type === undefined || !TOKEN_TYPES.has(type)) continue;
      row.tokens ??= {};
      const t = type as TokenType;
      row.tokens[t] = (row.tokens[t] ?? 0) + inc.value;
    }
    const savings = await readCounter(
      client,
      selectorOf(METRICS.cacheSavings, query.selector),
      days,
      fromMs,
      maxSeries,
    );
    for (const inc of savings.increases.increases(savings.baselines)) {
      const row = rowOf(inc.day, inc.labels, false);
      if (row !== undefined) row.cacheSavingsUsd = (row.cacheSavingsUsd ?? 0) + inc.value;
    }
  }
  return [...rows.values()].sort(compareRows(query.by));
}

/** Rows by day, then by labels (unallocated last within a day). */
export function compareRows(by: readonly string[]): (a: EstimateRow, b: EstimateRow) => number {
  return (a, b) => {
    if (a.day !== b.day) return a.day < b.day ? -1 : 1;
    for (const dim of by) {
      const x = a.labels[dim];
      const y = b.labels[dim];
      if (x === y) continue;
      if (x === undefined) return 1;
      if (y === undefined) return -1;
      return x < y ? -1 : 1;
    }
    return 0;
  };
}

/** {@link readEstimatesFrom} with the system clock: the `ReadEstimates` of model.ts. */
export const readEstimates = (query: EstimateQuery): Promise<EstimateRow[]> =>
  readEstimatesFrom(query);
