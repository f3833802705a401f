/**
 * `spanledger reconcile`: the daily estimates in Prometheus against what the providers billed
 * (docs/finance.md, "Reconciling each month"): drift per day and model, billed spend the
 * telemetry never saw, estimated spend with no bill, totals per provider; exit 3 when a
 * difference is above the threshold, so it can run on a schedule.
 */
import { fetchAnthropicCosts, readAnthropicCostFile } from '../finance/billing/anthropic.js';
import { BillError } from '../finance/billing/common.js';
import { type FocusBill, readFocusCsv } from '../finance/billing/focus.js';
import { fetchOpenAICosts, readOpenAICostsFile } from '../finance/billing/openai.js';
import type { BilledRow, EstimateRow, ReadEstimates } from '../finance/model.js';
import { readEstimates } from '../finance/prometheus.js';
import { type DriftRow, type ReconcileReport, reconcile } from '../finance/reconcile.js';
import { type CliIO, EXIT, parseCommandLine, requireString, UsageError } from './args.js';

const PROMETHEUS_READ_ESTIMATES: ReadEstimates | undefined = readEstimates;

/** Exit code when some difference is above the threshold. */
export const EXIT_DRIFT = 3;

/** Default drift threshold, percent of the estimate. */
export const DEFAULT_THRESHOLD_PCT = 5;
/** Default absolute floor, USD: smaller differences are never drift. */
export const DEFAULT_MIN_USD = 1;

/** Help text of `spanledger reconcile`. */
export const RECONCILE_USAGE = `Usage: spanledger reconcile --prometheus URL --from DAY --to DAY [bills] [options]

Joins the daily cost estimates in Prometheus (spanledger_cost_usd_total, by provider and model)
with what the providers billed, per UTC day and model: the drift (estimate, billed, difference,
%), billed spend no telemetry saw (an instrumentation gap), estimated spend with no bill, and
totals per provider. Exit 0 when no difference is above the threshold, 3 when one is, 1 when a
bill or Prometheus cannot be read, 2 for a bad command line. docs/finance.md explains each kind
of drift.

Bills (at least one):
  --openai-costs FILE     OpenAI Costs API answer saved to a file (one page, pages one after
                          another, or a JSON array of pages; group_by=line_item)
  --openai                fetch it with the admin key in OPENAI_ADMIN_KEY (API root:
                          SPANLEDGER_OPENAI_BASE_URL or --openai-base-url, default
                          https://api.openai.com/v1)
  --anthropic-costs FILE  Anthropic cost report saved to a file (group_by[]=description)
  --anthropic             fetch it with the admin key in ANTHROPIC_ADMIN_KEY (API root:
                          SPANLEDGER_ANTHROPIC_BASE_URL or --anthropic-base-url, default
                          https://api.anthropic.com)
  --focus FILE.csv        a FOCUS cost export (AWS Data Exports, Azure Cost Management), daily
                          or hourly granularity; Amazon Bedrock and Azure OpenAI rows (repeat)

Options:
  --prometheus URL        Prometheus base URL (required)
  --from DAY              first day, YYYY-MM-DD (required)
  --to DAY                day after the last, YYYY-MM-DD (required): a month is
                          --from 2026-11-01 --to 2026-12-01
  --time-zone TZ          zone the estimates' days are cut in (default UTC). Provider bills are
                          UTC days: other zones do not line up with them
  --threshold PCT         drift above this percentage of the estimate (default ${DEFAULT_THRESHOLD_PCT})
  --min-usd USD           and at least this many dollars (default ${DEFAULT_MIN_USD}), so cents never page
  --model-alias B=M       the billed model id B is the telemetry's model M (repeat)
  --focus-model-column C  the FOCUS column naming the model (default: SkuMeter, x_UsageType,
                          x_SkuMeterName, the first present)
  --selector MATCHERS     extra Prometheus matchers, e.g. 'cluster="prod"'
  --json                  print one JSON object instead of the tables
  -h, --help              show this help

Example:
  spanledger reconcile --prometheus http://prometheus:9090 --from 2026-11-01 --to 2026-12-01 \\
    --openai --anthropic-costs anthropic-november.json --focus bedrock-november.csv
`;

const OPTIONS = {
  prometheus: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  'openai-costs': { type: 'string', multiple: true },
  openai: { type: 'boolean' },
  'openai-base-url': { type: 'string' },
  'anthropic-costs': { type: 'string', multiple: true },
  anthropic: { type: 'boolean' },
  'anthropic-base-url': { type: 'string' },
  focus: { type: 'string', multiple: true },
  'focus-model-column': { type: 'string' },
  'model-alias': { type: 'string', multiple: true },
  'time-zone': { type: 'string' },
  threshold: { type: 'string' },
  'min-usd': { type: 'string' },
  selector: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What `runReconcile` reads through, replaceable in tests. */
export interface ReconcileDeps {
  /** The estimates reader (default: Prometheus, src/finance/prometheus.ts). */
  readEstimates?: ReadEstimates;
  /** `fetch` for the providers' cost APIs. */
  fetch?: typeof fetch;
  /** Environment (keys, base URLs); default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** A day flag: `YYYY-MM-DD`, a real date. */
function dayFlag(flag: string, raw: string | undefined): string {
  const v = requireString(flag, raw);
  const ms = Date.parse(`${v}T00:00:00Z`);
  if (
    !/^\d{4}-\d{2}-\d{2}$/.test(v) ||
    Number.isNaN(ms) ||
    new Date(ms).toISOString().slice(0, 10) !== v
  ) {
    throw new UsageError(`--${flag} must be a day, YYYY-MM-DD, got '${raw}'`);
  }
  return v;
}

function numberFlag(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new UsageError(`--${flag} must be a number >= 0, got '${raw}'`);
  }
  return n;
}

function zoneFlag(raw: string | undefined): string {
  const tz = raw === undefined ? 'UTC' : requireString('time-zone', raw);
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new UsageError(
      `--time-zone must be an IANA time zone (Europe/Paris) or UTC, got '${raw}'`,
    );
  }
  return tz;
}

function aliasesOf(flags: readonly string[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of flags ?? []) {
    const i = f.indexOf('=');
    if (i <= 0 || i === f.length - 1) {
      throw new UsageError(
        `--model-alias takes BILLED=MODEL (e.g. gpt-4o-2024-08-06=gpt-4o), got '${f}'`,
      );
    }
    out.set(f.slice(0, i).trim(), f.slice(i + 1).trim());
  }
  return out;
}

/** Midnight at the start of `day` in `timeZone`, as an instant. */
export function zoneMidnight(day: string, timeZone: string): Date {
  const utc = Date.parse(`${day}T00:00:00Z`);
  const wall = (ms: number): number => {
    const parts: Record<string, number> = {};
    const f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    for (const p of f.formatToParts(ms)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
    return Date.UTC(
      parts.year as number,
      (parts.month as number) - 1,
      parts.day as number,
      parts.hour as number,
      parts.minute as number,
      parts.second as number,
    );
  };
  // Two steps: the offset at the guess, then at the corrected instant (DST changes).
  let t = utc - (wall(utc) - utc);
  t = utc - (wall(t) - t);
  return new Date(t);
}

const usd = (n: number): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: 4, maximumFractionDigits: 4 });
const money = (n: number): string => `${n < 0 ? '-' : ''}$${usd(Math.abs(n))}`;
const pct = (p: number | null): string => (p === null ? '-' : `${p.toFixed(2)} %`);

function table(head: string[], rows: string[][], right: (c: number) => boolean): string[] {
  const widths = head.map((h, c) =>
    Math.max(h.length, ...rows.map((r) => (r[c] as string).length)),
  );
  const line = (r: string[]) =>
    r
      .map((v, c) => (right(c) ? v.padStart(widths[c] as number) : v.padEnd(widths[c] as number)))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)];
}

function rowCells(r: DriftRow): string[] {
  const model =
    (r.model ?? '(no model)') +
    (r.billedAs.length > 0 ? ` (billed as ${r.billedAs.join(', ')})` : '');
  return [
    r.day,
    r.provider,
    model,
    usd(r.estimateUsd),
    usd(r.billedUsd),
    usd(r.diffUsd),
    pct(r.pct),
    r.drift ? 'DRIFT' : '',
  ];
}

/** Extra facts printed under the tables. */
interface Context {
  timeZone: string;
  sources: string[];
  focus: FocusBill[];
}

/** The report as text tables. */
export function reconcileText(report: ReconcileReport, ctx: Context): string {
  const out: string[] = [];
  out.push(
    `spanledger reconcile: ${report.from} to ${report.to} (--to excluded), provider bills by UTC day`,
    `bills: ${ctx.sources.join('; ')}`,
    `drift: a difference of at least ${money(report.minUsd)} and above ${report.thresholdPct} % of the estimate`,
  );
  if (ctx.timeZone !== 'UTC') {
    out.push(
      `note: estimates are cut in ${ctx.timeZone} days, bills in UTC days: days do not line up, compare totals`,
    );
  }
  const head = ['day', 'provider', 'model', 'estimate', 'billed', 'difference', '%', ''];
  const right = (c: number) => c >= 3 && c <= 6;
  const section = (title: string, rows: DriftRow[]) => {
    out.push('', title);
    if (rows.length === 0) out.push('  none');
    else out.push(...table(head, rows.map(rowCells), right).map((l) => `  ${l}`));
  };
  section(
    'Drift by day and model',
    report.rows.filter((r) => r.status === 'matched'),
  );
  section(
    'Billed, no telemetry (instrumentation gaps)',
    report.rows.filter((r) => r.status === 'unobserved'),
  );
  section(
    'Telemetry, no bill',
    report.rows.filter((r) => r.status === 'unbilled'),
  );
  out.push('', 'Totals by provider');
  out.push(
    ...table(
      ['provider', 'estimate', 'billed', 'difference', '%'],
      report.totals.map((t) => [
        t.provider,
        usd(t.estimateUsd),
        usd(t.billedUsd),
        usd(t.diffUsd),
        pct(t.pct),
      ]),
      (c) => c >= 1,
    ).map((l) => `  ${l}`),
  );
  if (report.matches.length > 0) {
    out.push('', 'Billed model ids matched to the telemetry');
    for (const m of report.matches)
      out.push(`  ${m.provider}  ${m.billed} -> ${m.model} (${m.rule})`);
  }
  for (const u of report.unreconciled) {
    out.push(
      '',
      `not reconciled (no bill read for it): ${u.provider} estimated ${money(u.estimateUsd)}`,
    );
  }
  if (report.outsideRange.rows > 0) {
    out.push(
      '',
      `bill rows outside the range, left out: ${report.outsideRange.rows} rows, ${money(report.outsideRange.costUsd)}`,
    );
  }
  for (const f of ctx.focus) {
    const src = f.rows[0]?.source ?? 'FOCUS';
    if (f.otherAi.rows > 0) {
      out.push(
        `${src}: other AI and Machine Learning services, not compared: ${f.otherAi.rows} rows, ${money(f.otherAi.costUsd)}`,
      );
    }
    if (f.notUsage.rows > 0) {
      out.push(
        `${src}: model charges that are not usage (credits, tax), not compared: ${f.notUsage.rows} rows, ${money(f.notUsage.costUsd)}`,
      );
    }
  }
  const n = report.rows.filter((r) => r.drift).length;
  out.push(
    '',
    n > 0
      ? `DRIFT: ${n} row(s) above the threshold (exit ${EXIT_DRIFT})`
      : 'no drift above the threshold',
  );
  return `${out.join('\n')}\n`;
}

/** `spanledger reconcile ...`: returns the exit code. */
export async function runReconcile(
  argv: string[],
  io: CliIO,
  deps: ReconcileDeps = {},
): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS, false);
  if (values.help) {
    io.stdout(RECONCILE_USAGE);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const prometheusUrl = requireString('prometheus', values.prometheus);
  if (!/^https?:\/\//.test(prometheusUrl)) {
    throw new UsageError(`--prometheus must be an http(s) URL, got '${values.prometheus}'`);
  }
  const from = dayFlag('from', values.from);
  const to = dayFlag('to', values.to);
  if (to <= from) throw new UsageError(`--to (${to}) must be after --from (${from})`);
  const timeZone = zoneFlag(values['time-zone']);
  const thresholdPct = numberFlag('threshold', values.threshold, DEFAULT_THRESHOLD_PCT);
  const minUsd = numberFlag('min-usd', values['min-usd'], DEFAULT_MIN_USD);
  const aliases = aliasesOf(values['model-alias']);
  if (values.openai && values['openai-costs']) {
    throw new UsageError('give --openai-costs FILE or --openai, not both');
  }
  if (values.anthropic && values['anthropic-costs']) {
    throw new UsageError('give --anthropic-costs FILE or --anthropic, not both');
  }
  if (
    !values.openai &&
    !values.anthropic &&
    !values['openai-costs'] &&
    !values['anthropic-costs'] &&
    !values.focus
  ) {
    throw new UsageError(
      'no bill: give --openai-costs, --openai, --anthropic-costs, --anthropic or --focus',
    );
  }
  const readEstimates = deps.readEstimates ?? PROMETHEUS_READ_ESTIMATES;
  const env = deps.env ?? process.env;

  try {
    const billed: BilledRow[] = [];
    const providers = new Set<string>();
    const sources: string[] = [];
    const focus: FocusBill[] = [];
    const utcFrom = new Date(`${from}T00:00:00Z`);
    const utcTo = new Date(`${to}T00:00:00Z`);
    const fetchOpt = deps.fetch ? { fetch: deps.fetch } : {};
    for (const f of values['openai-costs'] ?? []) {
      billed.push(...readOpenAICostsFile(f));
      sources.push(`openai (${f})`);
      providers.add('openai');
    }
    if (values.openai) {
      const base = values['openai-base-url'];
      billed.push(
        ...(await fetchOpenAICosts({
          from: utcFrom,
          to: utcTo,
          env,
          ...(base ? { baseUrl: base } : {}),
          ...fetchOpt,
        })),
      );
      sources.push('openai (Costs API)');
      providers.add('openai');
    }
    for (const f of values['anthropic-costs'] ?? []) {
      billed.push(...readAnthropicCostFile(f));
      sources.push(`anthropic (${f})`);
      providers.add('anthropic');
    }
    if (values.anthropic) {
      const base = values['anthropic-base-url'];
      billed.push(
        ...(await fetchAnthropicCosts({
          from: utcFrom,
          to: utcTo,
          env,
          ...(base ? { baseUrl: base } : {}),
          ...fetchOpt,
        })),
      );
      sources.push('anthropic (cost report API)');
      providers.add('anthropic');
    }
    const column = values['focus-model-column'];
    for (const f of values.focus ?? []) {
      const bill = await readFocusCsv(f, column ? { modelColumn: column } : {});
      billed.push(...bill.rows);
      for (const p of bill.providers) providers.add(p);
      for (const r of bill.rows) providers.add(r.provider);
      sources.push(`${bill.providers.join(', ') || 'FOCUS'} (${f})`);
      focus.push(bill);
    }

    if (readEstimates === undefined) {
      throw new BillError(
        'this build has no Prometheus estimates reader (src/finance/prometheus.ts)',
      );
    }
    let estimates: EstimateRow[];
    try {
      estimates = await readEstimates({
        prometheusUrl,
        from: zoneMidnight(from, timeZone),
        to: zoneMidnight(to, timeZone),
        timeZone,
        by: ['provider', 'model'],
        ...(values.selector ? { selector: values.selector } : {}),
      });
    } catch (e) {
      throw new BillError(
        `cannot read the estimates from ${prometheusUrl}: ${(e as Error).message}`,
      );
    }
    const report = reconcile({
      estimates,
      billed,
      billedProviders: [...providers],
      from,
      to,
      thresholdPct,
      minUsd,
      aliases,
    });
    if (values.json) {
      io.stdout(
        `${JSON.stringify({
          ...report,
          timeZone,
          sources,
          focus: focus.map((f) => ({
            providers: f.providers,
            otherAi: f.otherAi,
            notUsage: f.notUsage,
          })),
        })}\n`,
      );
    } else io.stdout(reconcileText(report, { timeZone, sources, focus }));
    return report.drift ? EXIT_DRIFT : EXIT.ok;
  } catch (e) {
    if (e instanceof BillError || e instanceof RangeError) {
      io.stderr(`spanledger reconcile: ${e.message}\n`);
      return EXIT.config;
    }
    throw e;
  }
}
