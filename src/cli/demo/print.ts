/**
 * The demo's text output, from the report model of its spans (src/cli/report/model.ts) and the
 * runs as they went: cost per run, by category, the budget events and the stopped runaway,
 * showback by tenant and use case, the prompt cache's savings and the unpriced model. Dollars are
 * rounded so that every table's rows add up to its printed total (report/tables.ts
 * `roundToTotal`). No line is wider than 100 columns.
 */
import type { ReportModel, ReportRow } from '../report/model.js';
import { ANSI, type Paint, PLAIN, roundToTotal, usd } from '../report/tables.js';
import type { DemoBudgetEvent, RunOutcome } from './run.js';

/** Decimals of the demo's dollar amounts: a millionth, below any one call. */
export const DECIMALS = 6;

type Cell = string | { text: string; warn: true };

/** Columns aligned (a `>` before a title: right-aligned), two spaces apart, with a total row
 * after a rule when given. */
function table(titles: string[], rows: Cell[][], paint: Paint, total?: string[]): string[] {
  const right = titles.map((t) => t.startsWith('>'));
  const heads = titles.map((t) => t.replace(/^>/, ''));
  const text = (c: Cell | undefined) => (typeof c === 'string' ? c : (c?.text ?? ''));
  const widths = heads.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => text(r[i]).length), (total?.[i] ?? '').length),
  );
  const line = (cells: Cell[], p: (s: string) => string = (s) => s) =>
    cells
      .map((c, i) => {
        const t = text(c);
        const fill = ' '.repeat((widths[i] as number) - t.length);
        const shown = typeof c === 'string' ? t : paint.warn(t);
        return right[i] ? fill + shown : shown + fill;
      })
      .join('  ')
      .trimEnd()
      .replace(/^.*$/, (s) => p(s));
  const out = [line(heads, paint.bold), ...rows.map((r) => line(r))];
  if (total) {
    out.push('-'.repeat(widths.reduce((s, w) => s + w, 0) + 2 * (widths.length - 1)));
    out.push(line(total));
  }
  return out;
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const rowCost = (rows: readonly ReportRow[], total: number) =>
  roundToTotal(
    rows.map((r) => r.costUsd),
    total,
    DECIMALS,
  );

/** What the demo prints, as one string. */
export function renderDemo(
  model: ReportModel,
  runs: readonly RunOutcome[],
  events: readonly DemoBudgetEvent[],
  info: { seed: number; html: string; otlp?: string; metricsUrl?: string; color: boolean },
): string {
  const paint = info.color ? ANSI : PLAIN;
  const t = model.totals;
  const byTrace = new Map(runs.map((r) => [r.traceId, r]));
  const out: string[] = [];
  out.push(
    paint.bold(
      `spanledger demo: ${runs.length} runs of the example support agent, seed ${info.seed}`,
    ),
  );
  out.push(
    "The real openai client against a mock OpenAI API; every span priced by spanledger's processor.",
  );
  out.push('');
  out.push(
    `Total USD ${usd(t.costUsd, DECIMALS)} over ${int(t.spans)} spans in ${int(t.traces)} runs ` +
      `(${int(t.pricedSpans)} priced, ${t.unpricedSpans > 0 ? paint.warn(`${int(t.unpricedSpans)} unpriced`) : '0 unpriced'})`,
  );
  if (t.unpricedSpans > 0) {
    out.push('Unpriced spans have no cost, not $0: the total is a lower bound (see below).');
  }

  // Cost per run.
  out.push('', paint.bold('Cost per run, most expensive first'));
  const traces = model.topTraces;
  const perRun = roundToTotal(
    traces.map((tr) => tr.costUsd),
    t.costUsd,
    DECIMALS,
  );
  out.push(
    ...table(
      ['>run', 'tenant', 'use case', 'model', '>spans', '>LLM', '>tools', 'note', '>USD'],
      traces.map((tr, i) => {
        const r = byTrace.get(tr.traceId);
        const note: Cell =
          r?.result.refused !== undefined
            ? { text: 'runaway, stopped', warn: true }
            : r?.result.error !== undefined
              ? { text: 'failed', warn: true }
              : tr.status === 'partial'
                ? { text: 'partial: unpriced', warn: true }
                : r?.result.reviewed
                  ? 'human review'
                  : '';
        return [
          r === undefined ? '?' : String(r.run),
          tr.dimensions.tenant ?? '',
          tr.dimensions.use_case ?? '',
          r?.model ?? '',
          int(tr.spans),
          int(tr.llmCalls),
          int(tr.toolCalls),
          note,
          perRun.rows[i] ?? '',
        ];
      }),
      paint,
      ['', '', '', '', int(t.spans), '', '', 'total', perRun.total],
    ),
  );

  // By category.
  out.push('', paint.bold('Cost by category'));
  const categories = model.breakdowns.category ?? [];
  const byCategory = rowCost(categories, t.costUsd);
  out.push(
    ...table(
      ['category', '>spans', '>USD', '>share'],
      categories.map((row, i) => [
        row.key[0] === 'unallocated' ? '(no cost of its own)' : (row.key[0] ?? ''),
        int(row.spans),
        byCategory.rows[i] ?? '',
        t.costUsd > 0 ? `${((100 * row.costUsd) / t.costUsd).toFixed(1)} %` : '',
      ]),
      paint,
      ['total', int(categories.reduce((s, r) => s + r.spans, 0)), byCategory.total, ''],
    ),
  );

  // Budgets: the stopped runaway, then every budget event.
  out.push('', paint.bold('Budgets'));
  for (const r of runs.filter((x) => x.result.refused)) {
    const refused = r.result.refused as NonNullable<RunOutcome['result']['refused']>;
    const tr = traces.find((x) => x.traceId === r.traceId);
    const cap =
      refused.max === undefined
        ? refused.limit
        : `${refused.limit}: ${refused.used} of ${refused.max}`;
    out.push(
      paint.warn(`Run ${r.run} (${r.tenant}, ${r.useCase}) ran away:`) +
        ' the model looked up the same missing order',
      `again and again. Budget "${refused.budget}" refused tool call ${(tr?.toolCalls ?? 0) + 1} ` +
        `of the run before it ran`,
      `(${cap}), after ${tr?.llmCalls ?? 0} LLM calls and USD ${usd(tr?.costUsd ?? 0, DECIMALS)}:` +
        ' the run ended there.',
    );
  }
  if (events.length === 0) out.push('No budget warnings or exceeded events.');
  else {
    out.push(
      '',
      ...table(
        ['>run', 'tenant', 'budget', 'event', 'action', 'limit', '>used', '>of'],
        events.map((e) => {
          const calls = e.limitUsd === undefined || e.limit !== 'limit_usd';
          return [
            String(e.run),
            runs.find((r) => r.run === e.run)?.tenant ?? '',
            e.budget,
            e.kind === 'exceeded' ? { text: e.kind, warn: true } : e.kind,
            e.action,
            e.limit,
            calls ? String(e.used ?? '') : `USD ${usd(e.spentUsd ?? 0, DECIMALS)}`,
            calls ? String(e.max ?? '') : `USD ${usd(e.limitUsd ?? 0, DECIMALS)}`,
          ];
        }),
        paint,
      ),
    );
  }

  // Showback.
  out.push('', paint.bold('Showback by tenant and use case'));
  const resolved = new Map<string, number>();
  for (const r of runs) {
    if (r.result.error !== undefined) continue;
    const key = `${r.tenant}\u0000${r.useCase}`;
    resolved.set(key, (resolved.get(key) ?? 0) + 1);
  }
  const showback = rowCost(model.rows, t.costUsd);
  out.push(
    ...table(
      ['tenant', 'use case', '>runs', '>resolved', '>USD', '>USD per resolved'],
      model.rows.map((row, i) => {
        const n = resolved.get(`${row.key[0]}\u0000${row.key[1]}`) ?? 0;
        const partial = row.unpricedSpans > 0 ? ' (partial)' : '';
        return [
          row.key[0] ?? '',
          row.key[1] ?? '',
          int(row.traces),
          int(n),
          showback.rows[i] ?? '',
          n > 0 ? `${usd(row.costUsd / n, DECIMALS)}${partial}` : 'none resolved',
        ];
      }),
      paint,
      [
        'total',
        '',
        int(t.traces),
        int([...resolved.values()].reduce((s, n) => s + n, 0)),
        showback.total,
        '',
      ],
    ),
  );

  // Cache and unpriced.
  const cached = (model.breakdowns.category ?? []).reduce((s, r) => s + r.cacheReadTokens, 0);
  out.push(
    '',
    paint.bold('Prompt cache'),
    `${int(cached)} input tokens were read from the provider's prompt cache, which saved ` +
      `USD ${usd(t.cacheSavingsUsd, DECIMALS)}`,
    'over paying for them as fresh input (spanledger.cost.cache_savings_usd on each call).',
  );
  if (model.unpriced.length > 0) {
    out.push('', paint.bold(paint.warn('Unpriced (cost unknown, not zero)')));
    for (const u of model.unpriced) {
      out.push(`${u.provider} ${u.model}: ${int(u.spans)} spans, reason ${u.reason}`);
    }
    out.push(
      'Their runs are "partial": add the model to a prices file (docs/pricing.md) to price them.',
    );
  }
  out.push('', `HTML report: ${info.html}`);
  if (info.otlp !== undefined)
    out.push(`Traces and metrics also sent to ${info.otlp} (OTLP/HTTP).`);
  if (info.metricsUrl !== undefined) {
    out.push(
      `Cost metrics (spanledger_cost_usd_total) at ${info.metricsUrl}; Ctrl-C to stop serving.`,
    );
  }
  return `${out.join('\n')}\n`;
}
