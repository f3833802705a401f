/**
 * Showback rows: the daily estimates (prometheus.ts), with any fixed and shared cost rows and an
 * optional currency conversion, as a text table, CSV and JSON (docs/finance.md, "Exporting for
 * chargeback"). FOCUS is focus.ts. Unallocated spend (a dimension with no value) stays a row of
 * its own, shown as `(unallocated)` in the table, an empty field in CSV and `null` in JSON.
 */
import { type Column, csvField, PLAIN, roundToTotal, table, usd } from '../cli/report/tables.js';
import type {
  AllocatedRow,
  Allocation,
  Converted,
  ConvertUsd,
  Day,
  EstimateLabels,
  EstimateRow,
  TokenType,
} from './model.js';

/** One showback line: measured usage, or a configured fixed or shared cost. */
export interface ShowbackLine {
  day: Day;
  kind: 'usage' | 'fixed' | 'shared';
  /** The configured cost's name (fixed and shared lines). */
  name?: string;
  labels: EstimateLabels;
  costUsd: number;
  tokens?: Partial<Record<TokenType, number>>;
  cacheSavingsUsd?: number;
  allocation?: Allocation;
  /** The cost in the target currency, when converting. */
  converted?: Converted;
}

/** What {@link buildShowback} takes besides the estimates. */
export interface ShowbackInput {
  estimates: readonly EstimateRow[];
  /** The dimensions the estimates are grouped by (the columns). */
  by: readonly string[];
  /** Fixed and shared cost rows (finance/allocation.ts), shown after the usage lines. */
  extra?: readonly AllocatedRow[];
  /** Converts each line at its day's rate; the USD amounts are kept beside. */
  convert?: ConvertUsd;
}

/** The lines of a showback, usage then fixed/shared, by day; converted when asked. */
export function buildShowback(input: ShowbackInput): ShowbackLine[] {
  const lines: ShowbackLine[] = input.estimates.map((r) => ({
    day: r.day,
    kind: 'usage',
    labels: r.labels,
    costUsd: r.costUsd,
    ...(r.tokens !== undefined ? { tokens: r.tokens } : {}),
    ...(r.cacheSavingsUsd !== undefined ? { cacheSavingsUsd: r.cacheSavingsUsd } : {}),
  }));
  for (const x of input.extra ?? []) {
    lines.push({
      day: x.day,
      kind: x.kind,
      name: x.name,
      labels: x.labels,
      costUsd: x.costUsd,
      ...(x.allocation !== undefined ? { allocation: x.allocation } : {}),
    });
  }
  const order = { usage: 0, fixed: 1, shared: 2 };
  lines.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : order[a.kind] - order[b.kind]));
  if (input.convert !== undefined) {
    for (const l of lines) l.converted = input.convert(l.costUsd, l.day);
  }
  return lines;
}

const TOKEN_COLUMNS: readonly TokenType[] = [
  'input',
  'output',
  'cache_read',
  'cache_write',
  'reasoning',
];

/** What a rendering needs besides the lines. */
export interface RenderContext {
  by: readonly string[];
  from: Date;
  to: Date;
  timeZone: string;
}

const UNALLOCATED = '(unallocated)';

/** The target currency of converted lines (all lines share it), or undefined. */
function currencyOf(lines: readonly ShowbackLine[]): string | undefined {
  return lines.find((l) => l.converted !== undefined)?.converted?.currency;
}

/**
 * A text table: one line per day and label combination, amounts with 6 decimals rounded so that
 * the printed lines add up to the printed total.
 */
export function renderShowbackTable(lines: readonly ShowbackLine[], ctx: RenderContext): string {
  const currency = currencyOf(lines);
  const amounts = lines.map((l) => l.converted?.amount ?? l.costUsd);
  const total = amounts.reduce((s, x) => s + x, 0);
  const rounded = roundToTotal(amounts, total, 6);
  const columns: Column[] = [
    { title: 'day', align: 'left' },
    ...ctx.by.map((d): Column => ({ title: d, align: 'left' })),
    { title: 'kind', align: 'left' },
    {
      title: currency === undefined ? 'cost_usd' : `cost_${currency.toLowerCase()}`,
      align: 'right',
    },
    { title: 'tokens', align: 'right' },
  ];
  const rows = lines.map((l, i) => [
    l.day,
    ...ctx.by.map((d) => l.labels[d] ?? UNALLOCATED),
    l.kind === 'usage' ? 'usage' : `${l.kind}: ${l.name ?? ''}`,
    rounded.rows[i] as string,
    l.tokens === undefined ? '' : tokenSum(l.tokens).toLocaleString('en-US'),
  ]);
  const footer = ['total', ...ctx.by.map(() => ''), '', rounded.total, ''];
  const head = `spanledger showback: ${ctx.from.toISOString()} to ${ctx.to.toISOString()} (days in ${ctx.timeZone}; an estimate from telemetry)\n\n`;
  return head + table(columns, rows, footer, PLAIN);
}

function tokenSum(t: Partial<Record<TokenType, number>>): number {
  return TOKEN_COLUMNS.reduce((s, k) => s + (t[k] ?? 0), 0);
}

/**
 * CSV (RFC 4180: CRLF line ends, a header line): amounts with 9 decimals, rounded so that the
 * lines sum to the total to the billionth; an empty label field is unallocated, an empty token
 * field unknown (never 0).
 */
export function renderShowbackCsv(lines: readonly ShowbackLine[], ctx: RenderContext): string {
  const currency = currencyOf(lines);
  const usdRounded = roundToTotal(
    lines.map((l) => l.costUsd),
    lines.reduce((s, l) => s + l.costUsd, 0),
    9,
  );
  const header = [
    'day',
    ...ctx.by,
    'kind',
    'name',
    'cost_usd',
    ...(currency !== undefined ? ['cost', 'currency', 'fx_rate', 'fx_rate_day'] : []),
    ...TOKEN_COLUMNS.map((t) => `${t}_tokens`),
    'cache_savings_usd',
    'allocation_method',
    'allocation_dimension',
    'allocation_share',
  ];
  const out = [header.map(csvField).join(',')];
  lines.forEach((l, i) => {
    out.push(
      [
        l.day,
        ...ctx.by.map((d) => l.labels[d] ?? ''),
        l.kind,
        l.name ?? '',
        usdRounded.rows[i] as string,
        ...(currency !== undefined
          ? [
              l.converted === undefined ? '' : usd(l.converted.amount, 9),
              l.converted?.currency ?? '',
              l.converted === undefined ? '' : String(l.converted.rate),
              l.converted?.rateDay ?? '',
            ]
          : []),
        ...TOKEN_COLUMNS.map((t) => (l.tokens?.[t] === undefined ? '' : String(l.tokens[t]))),
        l.cacheSavingsUsd === undefined ? '' : usd(l.cacheSavingsUsd, 9),
        l.allocation?.method ?? '',
        l.allocation?.dimension ?? '',
        l.allocation === undefined ? '' : String(l.allocation.share),
      ]
        .map(csvField)
        .join(','),
    );
  });
  return `${out.join('\r\n')}\r\n`;
}

/** JSON: the range, the dimensions and every line at full precision (absent label: `null`). */
export function renderShowbackJson(lines: readonly ShowbackLine[], ctx: RenderContext): string {
  const doc = {
    from: ctx.from.toISOString(),
    to: ctx.to.toISOString(),
    timeZone: ctx.timeZone,
    by: ctx.by,
    estimate: true,
    totals: {
      costUsd: lines.reduce((s, l) => s + l.costUsd, 0),
      ...(currencyOf(lines) !== undefined
        ? {
            cost: lines.reduce((s, l) => s + (l.converted?.amount ?? 0), 0),
            currency: currencyOf(lines),
          }
        : {}),
    },
    rows: lines.map((l) => ({
      ...l,
      labels: Object.fromEntries(ctx.by.map((d) => [d, l.labels[d] ?? null])),
    })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
