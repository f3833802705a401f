/**
 * The report model as text tables, JSON and CSV (docs/report.md). Dollars are printed with a
 * fixed number of decimals and rounded so that the printed rows add up to the printed total
 * (largest remainder), never drifting a cent from it.
 */
import type { ReportModel, ReportRow, ReportTrace } from './model.js';

/** Options of {@link renderTables}. */
export interface TableOptions {
  /** ANSI colour (bold headings, partial traces in yellow): only on a TTY without NO_COLOR. */
  color?: boolean;
  /** Decimals of dollar amounts (default 6: a millionth of a dollar, below any one call). */
  decimals?: number;
  /** The first line's title (default `spanledger report`; the demo names itself). */
  title?: string;
}

/**
 * Amounts rounded to `decimals` so that they sum exactly to `total` rounded the same way: each
 * is rounded down, and the units still missing go to the largest remainders. Amounts are
 * non-negative and sum to `total` up to float error (rows partition the total).
 */
export function roundToTotal(
  amounts: readonly number[],
  total: number,
  decimals: number,
): { rows: string[]; total: string } {
  const scale = 10 ** decimals;
  const units = Math.round(total * scale);
  const exact = amounts.map((a) => a * scale);
  const floors = exact.map((x) => Math.floor(x + 1e-6));
  let missing = units - floors.reduce((s, x) => s + x, 0);
  const order = exact
    .map((x, i) => ({ i, rem: x - (floors[i] as number) }))
    .sort((a, b) => b.rem - a.rem || a.i - b.i);
  for (let k = 0; missing > 0 && order.length > 0; k = (k + 1) % order.length, missing--) {
    const i = (order[k] as { i: number }).i;
    floors[i] = (floors[i] as number) + 1;
  }
  // Only from float error on totals far above the rows: take back from the smallest remainders.
  for (let k = order.length - 1; missing < 0 && k >= 0; k--, missing++) {
    const i = (order[k] as { i: number }).i;
    if ((floors[i] as number) > 0) floors[i] = (floors[i] as number) - 1;
  }
  return { rows: floors.map((u) => fromUnits(u, decimals)), total: fromUnits(units, decimals) };
}

/** An integer number of 10^-decimals units as a decimal string, exactly. */
function fromUnits(units: number, decimals: number): string {
  const sign = units < 0 ? '-' : '';
  const digits = String(Math.abs(units)).padStart(decimals + 1, '0');
  return decimals === 0
    ? `${sign}${digits}`
    : `${sign}${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
}

/** A dollar amount with `decimals` decimals, rounded as {@link roundToTotal} rounds totals. */
export const usd = (x: number, decimals: number): string =>
  fromUnits(Math.round(x * 10 ** decimals), decimals);

// Escape codes take no room on screen: pad by what is visible.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escape codes
const visible = (s: string): number => s.replace(/\u001b\[\d+m/g, '').length;
const pad = (s: string, w: number, align: Align): string => {
  const fill = ' '.repeat(Math.max(0, w - visible(s)));
  return align === 'right' ? fill + s : s + fill;
};

const int = (n: number): string => Math.round(n).toLocaleString('en-US');

/** How a table column is aligned. */
export type Align = 'left' | 'right';
/** A table column: its title and alignment. */
export interface Column {
  title: string;
  align: Align;
}

/** A table with a header, aligned columns and an optional footer row after a rule (the
 * showback table too). */
export function table(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
  footer: readonly string[] | undefined,
  paint: Paint,
): string {
  const widths = columns.map((c, i) =>
    Math.max(c.title.length, ...rows.map((r) => visible(r[i] ?? '')), visible(footer?.[i] ?? '')),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => pad(cell, widths[i] as number, (columns[i] as Column).align))
      .join('  ')
      .trimEnd();
  const out = [paint.bold(line(columns.map((c) => c.title))), ...rows.map(line)];
  if (footer) {
    out.push('-'.repeat(widths.reduce((s, w) => s + w, 0) + 2 * (widths.length - 1)));
    out.push(line(footer));
  }
  return `${out.join('\n')}\n`;
}

/** How a table emphasises: bold headings, warnings in yellow (the demo's tables too). */
export interface Paint {
  bold: (s: string) => string;
  warn: (s: string) => string;
}

/** No colour: not a TTY, or NO_COLOR. */
export const PLAIN: Paint = { bold: (s) => s, warn: (s) => s };
/** ANSI colour on a TTY. */
export const ANSI: Paint = {
  bold: (s) => `\u001b[1m${s}\u001b[22m`,
  warn: (s) => `\u001b[33m${s}\u001b[39m`,
};

const ROW_COLUMNS: readonly Column[] = [
  { title: 'cost USD', align: 'right' },
  { title: 'spans', align: 'right' },
  { title: 'traces', align: 'right' },
  { title: 'input tok', align: 'right' },
  { title: 'output tok', align: 'right' },
  { title: 'cache read tok', align: 'right' },
  { title: 'unpriced', align: 'right' },
];

/** A by-dimension table whose cost column sums to the printed total. */
function rowsTable(
  by: readonly string[],
  rows: readonly ReportRow[],
  model: ReportModel,
  decimals: number,
  paint: Paint,
): string {
  const rounded = roundToTotal(
    rows.map((r) => r.costUsd),
    model.totals.costUsd,
    decimals,
  );
  const sum = (f: (r: ReportRow) => number): number => rows.reduce((s, r) => s + f(r), 0);
  const body = rows.map((r, i) => [
    ...r.key,
    rounded.rows[i] as string,
    int(r.spans),
    int(r.traces),
    int(r.inputTokens),
    int(r.outputTokens),
    int(r.cacheReadTokens),
    int(r.unpricedSpans),
  ]);
  const footer = [
    'total',
    ...by.slice(1).map(() => ''),
    rounded.total,
    int(model.totals.spans),
    int(model.totals.traces),
    int(sum((r) => r.inputTokens)),
    int(sum((r) => r.outputTokens)),
    int(sum((r) => r.cacheReadTokens)),
    int(model.totals.unpricedSpans),
  ];
  const columns = [...by.map((b): Column => ({ title: b, align: 'left' })), ...ROW_COLUMNS];
  return table(columns, body, footer, paint);
}

function tracesTable(traces: readonly ReportTrace[], decimals: number, paint: Paint): string {
  // Each trace rounded on its own, and the footer the sum of what is printed.
  const scale = 10 ** decimals;
  const units = traces.map((t) => Math.round(t.costUsd * scale));
  const body = traces.map((t, i) => [
    t.traceId,
    t.rootName,
    t.start,
    `${int(t.durationMs)} ms`,
    int(t.spans),
    int(t.llmCalls),
    int(t.toolCalls),
    fromUnits(units[i] as number, decimals),
    t.status === 'partial' ? paint.warn('partial') : 'priced',
  ]);
  const footer = [
    `top ${traces.length}`,
    '',
    '',
    '',
    '',
    '',
    '',
    fromUnits(
      units.reduce((s, u) => s + u, 0),
      decimals,
    ),
    '',
  ];
  const columns: Column[] = [
    { title: 'trace', align: 'left' },
    { title: 'root', align: 'left' },
    { title: 'start', align: 'left' },
    { title: 'duration', align: 'right' },
    { title: 'spans', align: 'right' },
    { title: 'llm', align: 'right' },
    { title: 'tools', align: 'right' },
    { title: 'cost USD', align: 'right' },
    { title: 'status', align: 'left' },
  ];
  return table(columns, body, footer, paint);
}

/** Spans shown per waterfall in text (JSON and the HTML page have them all). */
const WATERFALL_LINES = 40;

function waterfallTable(t: ReportTrace, decimals: number, paint: Paint): string {
  const spans = t.waterfall ?? [];
  const shown = spans.slice(0, WATERFALL_LINES);
  const body = shown.map((s) => [
    `${'  '.repeat(s.depth)}${s.name}`,
    s.category ?? '',
    s.model ?? '',
    s.unpriced ? paint.warn('unpriced') : usd(s.costUsd, decimals),
    usd(s.subtreeCostUsd, decimals),
    s.startMs.toFixed(1),
    s.durationMs.toFixed(1),
    s.error ? 'error' : '',
  ]);
  const columns: Column[] = [
    { title: 'span', align: 'left' },
    { title: 'category', align: 'left' },
    { title: 'model', align: 'left' },
    { title: 'cost USD', align: 'right' },
    { title: 'subtree USD', align: 'right' },
    { title: 'start ms', align: 'right' },
    { title: 'duration ms', align: 'right' },
    { title: '', align: 'left' },
  ];
  const more =
    spans.length > shown.length ? `  ... ${spans.length - shown.length} more spans (--json)\n` : '';
  return table(columns, body, undefined, paint) + more;
}

/** The report as text tables: totals, cost by the `--by` dimensions, the top traces with
 * their waterfalls, unpriced spans and budget events. */
export function renderTables(model: ReportModel, options: TableOptions = {}): string {
  const paint = options.color ? ANSI : PLAIN;
  const d = options.decimals ?? 6;
  const t = model.totals;
  const out: string[] = [];
  const window =
    model.from === undefined ? 'no spans' : `${model.from} to ${model.to ?? model.from}`;
  out.push(paint.bold(`${options.title ?? 'spanledger report'}: ${window}`));
  out.push(
    `total USD ${usd(t.costUsd, d)} over ${int(t.spans)} spans in ${int(t.traces)} traces ` +
      `(${int(t.pricedSpans)} priced, ${t.unpricedSpans > 0 ? paint.warn(`${int(t.unpricedSpans)} unpriced`) : '0 unpriced'})`,
  );
  out.push(
    `cache savings USD ${usd(t.cacheSavingsUsd, d)}; failed work USD ${usd(t.failedCostUsd, d)}` +
      (t.malformed > 0 ? `; ${int(t.malformed)} malformed lines or records skipped` : ''),
  );
  if (t.unpricedSpans > 0) {
    out.push(
      paint.warn(
        'unpriced spans have no cost: the totals are a lower bound (see "Unpriced spans" below)',
      ),
    );
  }
  if ((t.untrackedSpans ?? 0) > 0) {
    out.push(`${int(t.untrackedSpans ?? 0)} spans past the trace cap: in the totals, in no trace`);
  }
  out.push('');
  out.push(paint.bold(`Cost by ${model.by.join(', ')}`));
  out.push(rowsTable(model.by, model.rows, model, d, paint));
  if (model.topTraces.length > 0) {
    out.push(paint.bold(`Top ${model.topTraces.length} traces by cost`));
    out.push(tracesTable(model.topTraces, d, paint));
    for (const tr of model.topTraces) {
      if (tr.waterfall === undefined) continue;
      out.push(paint.bold(`Waterfall of ${tr.traceId} (${tr.rootName})`));
      out.push(waterfallTable(tr, d, paint));
    }
  }
  if (model.unpriced.length > 0) {
    out.push(paint.bold(paint.warn('Unpriced spans (cost unknown, not zero)')));
    out.push(
      table(
        [
          { title: 'provider', align: 'left' },
          { title: 'model', align: 'left' },
          { title: 'reason', align: 'left' },
          { title: 'spans', align: 'right' },
        ],
        model.unpriced.map((u) => [u.provider, u.model, u.reason, int(u.spans)]),
        undefined,
        paint,
      ),
    );
  }
  if (model.budgetEvents.length > 0) {
    out.push(paint.bold('Budget events'));
    out.push(
      table(
        [
          { title: 'time', align: 'left' },
          { title: 'trace', align: 'left' },
          { title: 'budget', align: 'left' },
          { title: 'event', align: 'left' },
          { title: 'action', align: 'left' },
          { title: 'spent USD', align: 'right' },
          { title: 'limit USD', align: 'right' },
        ],
        model.budgetEvents.map((e) => [
          e.time,
          e.traceId,
          e.budget,
          e.kind === 'exceeded' ? paint.warn(e.kind) : e.kind,
          e.action ?? '',
          e.spentUsd === undefined ? '' : usd(e.spentUsd, d),
          e.limitUsd === undefined ? '' : usd(e.limitUsd, d),
        ]),
        undefined,
        paint,
      ),
    );
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/** The model as JSON (2-space indented, with a final newline). */
export function renderJson(model: ReportModel): string {
  return `${JSON.stringify(model, null, 2)}\n`;
}

/** One CSV field, quoted per RFC 4180 when it holds a comma, a quote or a line break. */
export function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

/**
 * The by-dimension rows as CSV (RFC 4180: CRLF line ends, a header line): one line per row,
 * costs with 9 decimals rounded to sum to the total to the billionth.
 */
export function renderCsv(model: ReportModel): string {
  const rounded = roundToTotal(
    model.rows.map((r) => r.costUsd),
    model.totals.costUsd,
    9,
  );
  const header = [
    ...model.by,
    'cost_usd',
    'spans',
    'traces',
    'input_tokens',
    'output_tokens',
    'cache_read_tokens',
    'cache_savings_usd',
    'unpriced_spans',
  ];
  const lines = [header.map(csvField).join(',')];
  model.rows.forEach((r, i) => {
    lines.push(
      [
        ...r.key,
        rounded.rows[i] as string,
        String(r.spans),
        String(r.traces),
        String(r.inputTokens),
        String(r.outputTokens),
        String(r.cacheReadTokens),
        usd(r.cacheSavingsUsd, 9),
        String(r.unpricedSpans),
      ]
        .map(csvField)
        .join(','),
    );
  });
  return `${lines.join('\r\n')}\r\n`;
}
