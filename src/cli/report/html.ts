/**
 * `spanledger report --html OUT.html`: one self-contained page rendered from a `ReportModel`
 * (docs/report.md, "The HTML page"). Everything the page needs is inside it: the styles, the
 * model's figures (a JSON data block) and Chart.js 4.6.1's UMD build, read from the installed
 * `chart.js` package and inlined, so the file opens offline and makes no request at all. A
 * Content-Security-Policy with the hashes of the page's two scripts lets only those two run and
 * forbids every fetch, so even a string that slipped past escaping could not run or load
 * anything.
 *
 * Every string that comes from spans (span names, model ids, tenants, budget names) is escaped
 * for HTML where it is printed and reaches the charts through JSON (drawn on a canvas, never
 * parsed as HTML). Amounts are printed with a fixed number of decimals and rounded so that the
 * printed rows of a table add up to its printed total; an unpriced span is shown as `unpriced`,
 * never as $0.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ReportModel, ReportRow, ReportTrace, WaterfallSpan } from './model.js';

/** Options of `renderHtml`. */
export interface HtmlOptions {
  /** The page's title and heading; `spanledger cost report` by default. */
  title?: string;
}

/** Decimals of the dollar amounts in summary and by-dimension tables. */
const USD_DECIMALS = 4;
/** Decimals of the per-span amounts of a waterfall (single steps cost fractions of a cent). */
const SPAN_USD_DECIMALS = 6;
/** Bars per by-dimension chart; the rest is drawn as one `other` bar (the table lists all). */
const CHART_BARS = 15;

let chartJs: string | undefined;

/**
 * Chart.js's UMD build (`chart.js/dist/chart.umd.min.js`), read once from the installed package.
 * The package's `exports` map does not expose `dist/*`, so the file is found next to the entry
 * `require.resolve('chart.js')` gives (`dist/chart.cjs`). `createRequire(import.meta.url)` works
 * from the sources, the ESM build and the CJS build (tsup shims `import.meta.url` there).
 */
export function chartJsSource(): string {
  if (chartJs === undefined) {
    const require = createRequire(import.meta.url);
    const file = join(dirname(require.resolve('chart.js')), 'chart.umd.min.js');
    chartJs = scriptSafe(
      readFileSync(file, 'utf8').replace(/\n\/\/# sourceMappingURL=\S*\s*$/, '\n'),
    );
  }
  return chartJs;
}

/** Text that cannot end the inline `<script>` it is placed in (a no-op on valid Chart.js). */
function scriptSafe(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/** Escapes text for HTML content and double- or single-quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** JSON that can sit inside a `<script type="application/json">` element whatever it holds. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Thousands separators, independent of the ICU data Node was built with. */
function groupDigits(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** An integer count, grouped. */
function count(n: number): string {
  return n < 0 ? `-${groupDigits(String(-n))}` : groupDigits(String(Math.round(n)));
}

/** Dollars from integer units of 10^-decimals: `$1,234.5678`. */
function usdUnits(units: number, decimals: number): string {
  const sign = units < 0 ? '-' : '';
  const abs = Math.abs(units);
  const scale = 10 ** decimals;
  const whole = Math.floor(abs / scale);
  const frac = String(abs - whole * scale).padStart(decimals, '0');
  return `${sign}$${groupDigits(String(whole))}${decimals > 0 ? `.${frac}` : ''}`;
}

/** Dollars rounded to `decimals`. */
function usd(value: number, decimals = USD_DECIMALS): string {
  return usdUnits(Math.round(value * 10 ** decimals), decimals);
}

/**
 * Rounds `values` to integer units of 10^-decimals so that they add up to the rounded sum
 * (largest remainder): the printed rows of a table sum to its printed total. Units are moved
 * only between non-zero values, so a row of zero cost never shows a cent it does not have.
 */
export function apportion(values: readonly number[], decimals: number): number[] {
  const scale = 10 ** decimals;
  const target = Math.round(values.reduce((a, v) => a + v, 0) * scale);
  const units = values.map((v) => Math.round(v * scale));
  let diff = target - units.reduce((a, u) => a + u, 0);
  const candidates = values.map((_, i) => i).filter((i) => values[i] !== 0);
  while (diff !== 0 && candidates.length > 0) {
    const step = diff > 0 ? 1 : -1;
    // The value that rounding moved furthest the other way takes the unit.
    let best = candidates[0] as number;
    let bestGap = Number.NEGATIVE_INFINITY;
    for (const i of candidates) {
      const gap = ((values[i] as number) * scale - (units[i] as number)) * step;
      if (gap > bestGap) {
        bestGap = gap;
        best = i;
      }
    }
    units[best] = (units[best] as number) + step;
    diff -= step;
  }
  return units;
}

/** `1.23 s`, `850 ms`, `2.5 min`. */
function duration(ms: number): string {
  if (ms === 0) return '0 ms';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

/** An ISO 8601 instant as `YYYY-MM-DD HH:mm:ss` UTC (the page says UTC once). */
function instant(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '');
}

/** The label of a time bucket starting at `iso`. */
function bucketLabel(iso: string, bucket: ReportModel['bucket']): string {
  const t = instant(iso);
  if (bucket === 'day') return t.slice(0, 10);
  return t.slice(0, 16);
}

/** A percentage with one decimal. */
function percent(part: number, whole: number): string {
  return whole > 0 ? `${((part / whole) * 100).toFixed(1)} %` : '';
}

/** What a chart draws; the page's script turns it into a Chart.js configuration. */
interface ChartSpec {
  id: string;
  kind: 'bar' | 'hbar';
  labels: string[];
  label: string;
  data: number[];
  /** Extra tooltip line per point (unpriced spans, which the bar cannot show). */
  notes: string[];
  /** Whether values are dollars (axis and tooltips) or plain numbers. */
  money: boolean;
}

/** Readable names of the dimensions of `model.breakdowns`. */
const DIMENSION_TITLES: Record<string, string> = {
  tenant: 'tenant',
  use_case: 'use case',
  model: 'model',
  category: 'category',
  team: 'team',
  service: 'service',
};

/** The breakdowns in page order: tenant, use case, model, category, then any others. */
function breakdownOrder(model: ReportModel): string[] {
  const first = ['tenant', 'use_case', 'model', 'category'];
  const keys = Object.keys(model.breakdowns);
  return [...first.filter((k) => keys.includes(k)), ...keys.filter((k) => !first.includes(k))];
}

const dimensionTitle = (key: string): string => DIMENSION_TITLES[key] ?? key.replace(/_/g, ' ');

/** A row's key as one label (`a / b`). */
const rowLabel = (row: ReportRow): string => row.key.join(' / ');

/** A tooltip note for a row with unpriced spans. */
const unpricedNote = (n: number): string =>
  n > 0 ? `${count(n)} unpriced span${n === 1 ? '' : 's'} (not in the cost)` : '';

/** The chart of one breakdown: the biggest rows, the rest as one `other` bar. */
function breakdownChart(
  id: string,
  rows: readonly ReportRow[],
  kind: ChartSpec['kind'],
  label: string,
): ChartSpec {
  const shown = rows.slice(0, CHART_BARS);
  const rest = rows.slice(CHART_BARS);
  const labels = shown.map(rowLabel);
  const data = shown.map((r) => r.costUsd);
  const notes = shown.map((r) => unpricedNote(r.unpricedSpans));
  if (rest.length > 0) {
    labels.push(`other (${rest.length})`);
    data.push(rest.reduce((a, r) => a + r.costUsd, 0));
    notes.push(unpricedNote(rest.reduce((a, r) => a + r.unpricedSpans, 0)));
  }
  return { id, kind, labels, label, data, notes, money: true };
}

/** A cost cell: dollars, `unpriced` when nothing in it was priced, a note when some was not. */
function costCell(units: number, decimals: number, unpriced: number, priced: boolean): string {
  if (!priced) return '<td class="num unpriced" data-usd="">unpriced</td>';
  const note =
    unpriced > 0
      ? ` <span class="partial" title="${escapeHtml(unpricedNote(unpriced))}">+ ${count(unpriced)} unpriced</span>`
      : '';
  return `<td class="num" data-usd="${usdUnits(units, decimals).replace(/[$,]/g, '')}">${usdUnits(units, decimals)}${note}</td>`;
}

/** A table of by-dimension rows with a total line; the printed costs add up to the total. */
function rowsTable(name: string, headers: readonly string[], rows: readonly ReportRow[]): string {
  const units = apportion(
    rows.map((r) => r.costUsd),
    USD_DECIMALS,
  );
  const total = units.reduce((a, u) => a + u, 0);
  const sum = (f: (r: ReportRow) => number): number => rows.reduce((a, r) => a + f(r), 0);
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows
    .map((r, i) => {
      const keys = r.key.map((k) => `<td>${escapeHtml(k)}</td>`).join('');
      const priced = r.unpricedSpans < r.spans || r.costUsd !== 0;
      return `<tr>${keys}${costCell(units[i] as number, USD_DECIMALS, r.unpricedSpans, priced)}<td class="num">${percent(units[i] as number, total)}</td><td class="num">${count(r.spans)}</td><td class="num">${count(r.traces)}</td><td class="num">${count(r.inputTokens)}</td><td class="num">${count(r.outputTokens)}</td><td class="num">${count(r.cacheReadTokens)}</td><td class="num">${usd(r.cacheSavingsUsd)}</td><td class="num">${count(r.unpricedSpans)}</td></tr>`;
    })
    .join('\n');
  const unpriced = sum((r) => r.unpricedSpans);
  const foot = `<tr><th colspan="${headers.length}">Total</th>${costCell(total, USD_DECIMALS, unpriced, true)}<td class="num">${rows.length > 0 ? '100.0 %' : ''}</td><td class="num">${count(sum((r) => r.spans))}</td><td class="num"></td><td class="num">${count(sum((r) => r.inputTokens))}</td><td class="num">${count(sum((r) => r.outputTokens))}</td><td class="num">${count(sum((r) => r.cacheReadTokens))}</td><td class="num">${usd(sum((r) => r.cacheSavingsUsd))}</td><td class="num">${count(unpriced)}</td></tr>`;
  return `<div class="scroll"><table data-table="${escapeHtml(name)}">
<thead><tr>${head}<th>Cost</th><th>Share</th><th>Spans</th><th>Traces</th><th>Input tokens</th><th>Output tokens</th><th>Cache-read tokens</th><th>Cache savings</th><th>Unpriced spans</th></tr></thead>
<tbody>
${body}
</tbody>
<tfoot>${foot}</tfoot>
</table></div>`;
}

/** A summary figure; `key` names the `totals` field it prints (`data-total`). */
function card(key: string, label: string, value: string, note = ''): string {
  return `<div class="card"><div class="label">${escapeHtml(label)}</div><div class="value" data-total="${key}">${value}</div>${note ? `<div class="note">${note}</div>` : ''}</div>`;
}

/** The top traces table. */
function tracesTable(traces: readonly ReportTrace[]): string {
  const rows = traces
    .map((t, i) => {
      const dims = Object.entries(t.dimensions)
        .map(([k, v]) => `<span class="tag">${escapeHtml(k)}=${escapeHtml(v)}</span>`)
        .join(' ');
      const status =
        t.status === 'partial'
          ? '<span class="partial" title="at least one span is unpriced: the cost is a lower bound">partial</span>'
          : 'priced';
      const budgets = t.budgetsExceeded.map((b) => escapeHtml(b)).join(', ');
      return `<tr data-trace="${escapeHtml(t.traceId)}"><td class="num">${i + 1}</td><td><a href="#trace-${escapeHtml(t.traceId)}">${escapeHtml(t.rootName)}</a><div class="id">${escapeHtml(t.traceId)}</div></td><td>${escapeHtml(t.service)}</td><td>${escapeHtml(instant(t.start))}</td><td class="num">${duration(t.durationMs)}</td><td class="num" data-usd="${usd(t.costUsd).replace(/[$,]/g, '')}">${usd(t.costUsd)}</td><td>${status}</td><td class="num">${count(t.spans)}</td><td class="num">${count(t.llmCalls)}</td><td class="num">${count(t.toolCalls)}</td><td class="num">${t.failedCostUsd > 0 ? usd(t.failedCostUsd) : ''}</td><td>${budgets}</td><td>${dims}</td></tr>`;
    })
    .join('\n');
  return `<div class="scroll"><table data-table="top-traces">
<thead><tr><th>#</th><th>Trace</th><th>Service</th><th>Start (UTC)</th><th>Duration</th><th>Cost</th><th>Status</th><th>Spans</th><th>LLM calls</th><th>Tool calls</th><th>Failed cost</th><th>Budgets exceeded</th><th>Dimensions</th></tr></thead>
<tbody>
${rows}
</tbody>
</table></div>`;
}

/** A number for a `style` attribute (finite, clamped to 0..100). */
const pct = (v: number): string =>
  (Number.isFinite(v) ? Math.min(100, Math.max(0, v)) : 0).toFixed(2);

/**
 * One trace's cost waterfall: its spans depth-first, indented by depth, each with its time
 * offset and duration on a timeline bar, its own cost (with a bar of its share of the trace) and
 * the cost of its subtree. Span costs are rounded so that they add up to the printed trace cost.
 */
function waterfall(trace: ReportTrace, spans: readonly WaterfallSpan[]): string {
  const end = Math.max(trace.durationMs, ...spans.map((s) => s.startMs + s.durationMs), 0);
  const units = apportion(
    spans.map((s) => (s.unpriced ? 0 : s.costUsd)),
    SPAN_USD_DECIMALS,
  );
  const total = units.reduce((a, u) => a + u, 0);
  const rows = spans
    .map((s, i) => {
      const u = units[i] as number;
      const tags = [
        s.category ? `<span class="tag">${escapeHtml(s.category)}</span>` : '',
        s.model ? `<span class="tag model">${escapeHtml(s.model)}</span>` : '',
        s.error ? '<span class="tag err">error</span>' : '',
      ].join(' ');
      const cost = s.unpriced
        ? '<td class="num unpriced" data-usd="">unpriced</td>'
        : `<td class="num" data-usd="${usdUnits(u, SPAN_USD_DECIMALS).replace(/[$,]/g, '')}">${usdUnits(u, SPAN_USD_DECIMALS)}</td>`;
      const left = end > 0 ? (s.startMs / end) * 100 : 0;
      const width = end > 0 ? Math.max((s.durationMs / end) * 100, 0.5) : 100;
      const share = total > 0 ? (u / total) * 100 : 0;
      return `<tr class="${s.error ? 'error' : ''}" data-span="${escapeHtml(s.spanId)}" data-depth="${s.depth}"><td class="span" style="padding-left:${(0.4 + s.depth * 1.2).toFixed(1)}em">${escapeHtml(s.name)} ${tags}</td><td class="num">+${duration(s.startMs)}</td><td class="num">${duration(s.durationMs)}</td><td class="bar-cell"><div class="timeline"><span style="left:${pct(left)}%;width:${pct(Math.min(width, 100 - left))}%"></span></div></td>${cost}<td class="bar-cell"><div class="costbar"><span style="width:${pct(share)}%"></span></div></td><td class="num">${s.unpriced && s.subtreeCostUsd === 0 ? '' : usd(s.subtreeCostUsd, SPAN_USD_DECIMALS)}</td></tr>`;
    })
    .join('\n');
  const unpriced = spans.filter((s) => s.unpriced).length;
  const note = unpriced > 0 ? `; ${unpricedNote(unpriced)}` : '';
  return `<div class="scroll"><table class="waterfall" data-table="waterfall" data-trace="${escapeHtml(trace.traceId)}">
<thead><tr><th>Span</th><th>Start</th><th>Duration</th><th>Timeline (${duration(end)})</th><th>Cost</th><th>Share of the trace</th><th>With its children</th></tr></thead>
<tbody>
${rows}
</tbody>
<tfoot><tr><th colspan="4">Trace total${escapeHtml(note)}</th><td class="num" data-usd="${usdUnits(total, SPAN_USD_DECIMALS).replace(/[$,]/g, '')}">${usdUnits(total, SPAN_USD_DECIMALS)}</td><td colspan="2"></td></tr></tfoot>
</table></div>`;
}

/** A section with a heading and an `id` to link to. */
function section(id: string, title: string, body: string): string {
  return `<section id="${id}"><h2>${escapeHtml(title)}</h2>\n${body}\n</section>`;
}

/** A chart's canvas in a box sized for its bars. */
function canvas(spec: ChartSpec): string {
  const height = spec.kind === 'hbar' ? Math.max(140, 26 * spec.labels.length + 50) : 280;
  return `<div class="chart" style="height:${height}px"><canvas id="${spec.id}" role="img" aria-label="${escapeHtml(spec.label)}"></canvas></div>`;
}

/** The page's script: draws `data.charts` with Chart.js, no animation (the page is a report). */
const PAGE_SCRIPT = `(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('spanledger-data').textContent);
  var money = function (v) { return '$' + Number(v).toFixed(v !== 0 && Math.abs(v) < 0.01 ? 6 : 4); };
  Chart.defaults.animation = false;
  Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  Chart.defaults.color = '#333';
  data.charts.forEach(function (spec) {
    var el = document.getElementById(spec.id);
    if (!el) return;
    var horizontal = spec.kind === 'hbar';
    var format = spec.money ? money : function (v) { return String(v); };
    var valueAxis = { beginAtZero: true, ticks: { callback: function (v) { return format(v); } } };
    new Chart(el, {
      type: 'bar',
      data: {
        labels: spec.labels,
        datasets: [{
          label: spec.label,
          data: spec.data,
          backgroundColor: '#4e79a7',
          borderWidth: 0
        }]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        indexAxis: horizontal ? 'y' : 'x',
        scales: horizontal ? { x: valueAxis } : { y: valueAxis },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (ctx) { return spec.label + ': ' + format(ctx.raw); },
              afterLabel: function (ctx) { return spec.notes[ctx.dataIndex] || ''; }
            }
          }
        }
      }
    });
  });
})();
`;

const STYLE = `
:root { --fg: #1d1d1f; --muted: #6b6b70; --line: #e3e3e8; --bg: #fafafa; --accent: #4e79a7; --warn: #b35c00; --err: #c0392b; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header, main, footer { max-width: 1200px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 12px; }
h3 { font-size: 14px; margin: 0 0 8px; }
.muted, .note { color: var(--muted); }
.note { font-size: 12px; margin-top: 2px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; margin: 16px 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; background: #fff; }
.card .label { color: var(--muted); font-size: 12px; }
.card .value { font-size: 20px; font-variant-numeric: tabular-nums; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 16px; }
.chart { position: relative; width: 100%; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 13px; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { color: var(--muted); font-weight: 600; white-space: nowrap; }
tfoot th, tfoot td { border-top: 2px solid var(--line); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.id { font: 11px ui-monospace, SFMono-Regular, Menlo, monospace; color: var(--muted); }
.tag { display: inline-block; font-size: 11px; padding: 0 5px; border-radius: 3px; background: #eef1f6; color: #334; }
.tag.model { background: #f3eefa; }
.tag.err, tr.error .span { color: var(--err); }
.unpriced, .partial { color: var(--warn); font-weight: 600; }
.partial { font-size: 11px; }
.bar-cell { width: 22%; min-width: 120px; }
.timeline, .costbar { position: relative; height: 12px; background: #f1f1f4; border-radius: 2px; }
.timeline span { position: absolute; top: 0; bottom: 0; background: #9fb6d3; border-radius: 2px; }
.costbar span { position: absolute; left: 0; top: 0; bottom: 0; background: var(--accent); border-radius: 2px; }
details { margin: 8px 0; }
summary { cursor: pointer; }
footer { color: var(--muted); font-size: 12px; padding-bottom: 24px; }
`;

/**
 * The whole page for `model`: a self-contained HTML document (no request is made to open it).
 */
export function renderHtml(model: ReportModel, options: HtmlOptions = {}): string {
  const title = options.title ?? 'spanledger cost report';
  const t = model.totals;
  const charts: ChartSpec[] = [];
  const sections: string[] = [];

  // Summary: the model's totals. Unknown cost is not zero: the unpriced spans are counted next
  // to the total, which covers the priced spans only.
  const partialNote =
    t.unpricedSpans > 0
      ? `<span class="partial">partial</span>: ${count(t.unpricedSpans)} unpriced span${t.unpricedSpans === 1 ? '' : 's'} not included`
      : 'every span priced';
  const cards = [
    card('costUsd', 'Total cost', usd(t.costUsd), partialNote),
    card('traces', 'Traces', count(t.traces)),
    card('spans', 'Spans', count(t.spans)),
    card('pricedSpans', 'Priced spans', count(t.pricedSpans)),
    card('unpricedSpans', 'Unpriced spans', count(t.unpricedSpans)),
    card('cacheSavingsUsd', 'Cache savings', usd(t.cacheSavingsUsd)),
    card('failedCostUsd', 'Cost of failed spans', usd(t.failedCostUsd)),
    ...(t.malformed > 0
      ? [card('malformed', 'Malformed input', count(t.malformed), 'lines or records skipped')]
      : []),
  ];
  sections.push(section('summary', 'Summary', `<div class="cards">${cards.join('\n')}</div>`));

  // Cost over time.
  if (model.overTime.length > 0) {
    const spec: ChartSpec = {
      id: 'chart-over-time',
      kind: 'bar',
      labels: model.overTime.map((b) => bucketLabel(b.start, model.bucket)),
      label: `Cost per ${model.bucket}`,
      data: model.overTime.map((b) => b.costUsd),
      notes: [],
      money: true,
    };
    charts.push(spec);
    sections.push(section('over-time', `Cost over time (per ${model.bucket}, UTC)`, canvas(spec)));
  }

  // Spend by tenant, use case, model, category (and any other breakdown the model has).
  const panels = breakdownOrder(model).map((key) => {
    const rows = model.breakdowns[key] ?? [];
    const name = dimensionTitle(key);
    const id = `chart-by-${key.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    if (rows.length === 0) {
      return `<div><h3>By ${escapeHtml(name)}</h3><p class="muted">No spans.</p></div>`;
    }
    const spec = breakdownChart(id, rows, 'hbar', `Cost by ${name}`);
    charts.push(spec);
    return `<div data-breakdown="${escapeHtml(key)}"><h3>By ${escapeHtml(name)}</h3>${canvas(spec)}<details><summary>As a table</summary>${rowsTable(`breakdown-${key}`, [name], rows)}</details></div>`;
  });
  if (panels.length > 0) {
    sections.push(
      section('spend', 'Spend by dimension', `<div class="grid">${panels.join('\n')}</div>`),
    );
  }

  // The `--by` table.
  if (model.by.length > 0) {
    sections.push(
      section(
        'by',
        `Cost by ${model.by.map(dimensionTitle).join(', ')}`,
        rowsTable('rows', model.by.map(dimensionTitle), model.rows),
      ),
    );
  }

  // The most expensive traces and their waterfalls.
  if (model.topTraces.length > 0) {
    const falls = model.topTraces
      .filter((tr) => tr.waterfall && tr.waterfall.length > 0)
      .map(
        (tr, i) =>
          `<details id="trace-${escapeHtml(tr.traceId)}"${i === 0 ? ' open' : ''}><summary><strong>${escapeHtml(tr.rootName)}</strong> <span class="id">${escapeHtml(tr.traceId)}</span> ${usd(tr.costUsd)}${tr.status === 'partial' ? ' <span class="partial">partial</span>' : ''}</summary>${waterfall(tr, tr.waterfall ?? [])}</details>`,
      );
    const body = `${tracesTable(model.topTraces)}
<h3>Cost waterfalls: which step cost what</h3>
<p class="muted">Each trace's spans depth-first in start order, indented by depth; the timeline bar shows when each ran, the cost bar its share of the trace's cost.</p>
${falls.join('\n')}`;
    sections.push(section('traces', `The ${model.topTraces.length} most expensive traces`, body));
  }

  // Budget events.
  const warnings = model.budgetEvents.filter((e) => e.kind === 'warning').length;
  const exceeded = model.budgetEvents.length - warnings;
  const events =
    model.budgetEvents.length === 0
      ? '<p class="muted">No budget warnings or exceeded budgets.</p>'
      : `<p><span data-count="budget-warnings">${count(warnings)}</span> warning${warnings === 1 ? '' : 's'}, <span data-count="budget-exceeded">${count(exceeded)}</span> exceeded.</p>
<table data-table="budget-events">
<thead><tr><th>Time (UTC)</th><th>Budget</th><th>Event</th><th>Action</th><th>Spent</th><th>Limit</th><th>Trace</th></tr></thead>
<tbody>
${model.budgetEvents
  .map(
    (e) =>
      `<tr class="${e.kind}"><td>${escapeHtml(instant(e.time))}</td><td>${escapeHtml(e.budget)}</td><td>${e.kind === 'exceeded' ? '<span class="unpriced">exceeded</span>' : 'warning'}</td><td>${escapeHtml(e.action ?? '')}</td><td class="num">${e.spentUsd === undefined ? '' : usd(e.spentUsd)}</td><td class="num">${e.limitUsd === undefined ? '' : usd(e.limitUsd)}</td><td class="id">${escapeHtml(e.traceId)}</td></tr>`,
  )
  .join('\n')}
</tbody>
</table>`;
  sections.push(section('budgets', 'Budget events', events));

  // Cache savings: the total, and by model when any model read from a prompt cache.
  const byModel = (model.breakdowns.model ?? []).filter((r) => r.cacheSavingsUsd > 0);
  let cache = `<p>Prompt-cache reads saved <strong data-total="cacheSavingsUsd">${usd(t.cacheSavingsUsd)}</strong> over paying the full input price.</p>`;
  if (byModel.length > 0) {
    const spec: ChartSpec = {
      id: 'chart-cache-savings',
      kind: 'hbar',
      labels: byModel.map(rowLabel),
      label: 'Cache savings',
      data: byModel.map((r) => r.cacheSavingsUsd),
      notes: byModel.map((r) => `${count(r.cacheReadTokens)} cache-read tokens`),
      money: true,
    };
    charts.push(spec);
    cache += canvas(spec);
  }
  sections.push(section('cache', 'Cache savings', cache));

  // Unpriced spans: counted, never priced at $0.
  const unpricedTotal = model.unpriced.reduce((a, u) => a + u.spans, 0);
  const unpriced =
    model.unpriced.length === 0
      ? '<p class="muted">Every span was priced.</p>'
      : `<p>These spans had usage but no price; their cost is unknown and is not in any total above (which are lower bounds).</p>
<table data-table="unpriced">
<thead><tr><th>Provider</th><th>Model</th><th>Reason</th><th>Spans</th></tr></thead>
<tbody>
${model.unpriced
  .map(
    (u) =>
      `<tr><td>${escapeHtml(u.provider)}</td><td>${escapeHtml(u.model)}</td><td>${escapeHtml(u.reason)}</td><td class="num">${count(u.spans)}</td></tr>`,
  )
  .join('\n')}
</tbody>
<tfoot><tr><th colspan="3">Total</th><td class="num">${count(unpricedTotal)}</td></tr></tfoot>
</table>`;
  sections.push(section('unpriced', 'Unpriced spans', unpriced));

  // Outcomes: cost per outcome of each use case.
  if (model.outcomes.length > 0) {
    const useCaseCost = new Map(
      (model.breakdowns.use_case ?? []).map((r) => [r.key[0] ?? '', r.costUsd] as const),
    );
    const rows = model.outcomes
      .map((o) => {
        const cost = useCaseCost.get(o.useCase);
        const per = cost !== undefined && o.count > 0 ? usd(cost / o.count) : '';
        return `<tr><td>${escapeHtml(o.useCase)}</td><td>${escapeHtml(o.outcome)}</td><td class="num">${count(o.count)}</td><td class="num">${usd(o.valueUsd)}</td><td class="num">${per}</td></tr>`;
      })
      .join('\n');
    sections.push(
      section(
        'outcomes',
        'Outcomes',
        `<table data-table="outcomes">
<thead><tr><th>Use case</th><th>Outcome</th><th>Count</th><th>Value</th><th>Use-case cost per outcome</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`,
      ),
    );
  }

  const chartJsCode = chartJsSource();
  const hash = (code: string): string =>
    `'sha256-${createHash('sha256').update(code, 'utf8').digest('base64')}'`;
  // Only the two scripts below may run, and nothing may be fetched (docs/report.md).
  const csp = [
    "default-src 'none'",
    `script-src ${hash(chartJsCode)} ${hash(PAGE_SCRIPT)}`,
    "style-src 'unsafe-inline'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const period =
    model.from && model.to
      ? `${escapeHtml(instant(model.from))} to ${escapeHtml(instant(model.to))} UTC`
      : 'no spans';

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="spanledger">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<p class="muted">${period} · ${count(t.traces)} traces, ${count(t.spans)} spans</p>
</header>
<main>
${sections.join('\n')}
</main>
<footer>Generated by spanledger. Charts drawn with Chart.js 4.6.1 (MIT), inlined: this file needs no network.</footer>
<script type="application/json" id="spanledger-data">${jsonForScript({ charts })}</script>
<script>${chartJsCode}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
