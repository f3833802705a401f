/**
 * `spanledger report FILE...`: what the exported spans cost, per trace and per dimension, read
 * streaming from the collector's file exporter output (OTLP JSON lines, gzipped or not) or an
 * OTLP JSON document (docs/report.md).
 */
import { access, writeFile } from 'node:fs/promises';
import { type CliIO, EXIT, parseCommandLine, parseInstant, UsageError } from './args.js';
import { buildReport, parseBy } from './report/aggregate.js';
import type { ReportModel } from './report/model.js';
import { newReadStats, readSpans } from './report/read.js';
import { renderCsv, renderJson, renderTables } from './report/tables.js';

/** Help text of `spanledger report`. */
export const REPORT_USAGE = `Usage: spanledger report FILE... [--by DIMS] [--top N] [--from T] [--to T] [--json | --csv | --html OUT]

What the spans in FILE cost: totals, cost by dimension, the most expensive traces with each
span's cost (a waterfall), unpriced spans and budget events. FILE is the collector's file
exporter output (OTLP JSON lines, gzipped or not) or one OTLP JSON document. Lines that cannot
be read are counted and reported on stderr, never fatal.

Options:
  --by DIMS     dimensions of the cost table, comma-separated (default tenant,use_case,model):
                tenant, team, use_case, cost_center, agent (from the span, else its trace
                root, else the resource), model, provider, category, operation, service, or
                an attribute key such as deployment.environment
  --top N       how many of the most expensive traces to show (default 5)
  --from T      only spans that start at or after T: 2025-06-01 (midnight UTC) or
                2025-06-01T12:00:00Z (offset required)
  --to T        only spans that start before T (same forms)
  --json        print the whole report as one JSON object
  --csv         print the cost table as CSV (RFC 4180)
  --html OUT    write the report as one self-contained HTML page to OUT
  -h, --help    show this help

Examples:
  spanledger report spanledger-traces.jsonl
  spanledger report traces.jsonl.gz --by tenant,use_case,model --top 3
  spanledger report traces.jsonl --from 2025-06-01 --to 2025-06-02 --csv > june-1.csv
`;

const OPTIONS = {
  by: { type: 'string' },
  top: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  json: { type: 'boolean' },
  csv: { type: 'boolean' },
  html: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The HTML page's renderer (src/cli/report/html.ts), loaded only for `--html`. */
type HtmlModule = { renderHtml: (model: ReportModel) => string | Promise<string> };

async function loadHtml(): Promise<HtmlModule | undefined> {
  // A specifier the bundler does not follow: the page's module (and the charting library it
  // inlines) is loaded only when --html asks for it.
  const specifier = './report/html.js';
  try {
    return (await import(specifier)) as HtmlModule;
  } catch {
    return undefined;
  }
}

/** Run `spanledger report` with the arguments after the command name. */
export async function runReport(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS, true);
  if (values.help) {
    io.stdout(REPORT_USAGE);
    return EXIT.ok;
  }
  if (positionals.length === 0) throw new UsageError('no FILE to read');
  const outputs = [values.json, values.csv, values.html !== undefined].filter(Boolean).length;
  if (outputs > 1) throw new UsageError('--json, --csv and --html are exclusive: choose one');
  if (values.html !== undefined && values.html.trim() === '') {
    throw new UsageError('--html needs a file name');
  }
  const by = (values.by ?? 'tenant,use_case,model')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (by.length === 0) throw new UsageError('--by needs at least one dimension');
  const checked = parseBy(by);
  if ('error' in checked) throw new UsageError(`--by: ${checked.error}`);
  let top = 5;
  if (values.top !== undefined) {
    if (!/^\d+$/.test(values.top.trim())) {
      throw new UsageError(`--top must be a whole number of traces, got '${values.top}'`);
    }
    top = Number(values.top.trim());
  }
  const from = parseInstant('from', values.from);
  const to = parseInstant('to', values.to);
  if (from && to && from.getTime() >= to.getTime()) {
    throw new UsageError('--from must be before --to');
  }

  // Every file must be there before any is read: a typo is one line, not a half report.
  for (const file of positionals) {
    try {
      await access(file);
    } catch (e) {
      io.stderr(`spanledger report: cannot read ${file}: ${reason(e)}\n`);
      return EXIT.config;
    }
  }
  const html = values.html === undefined ? undefined : await loadHtml();
  if (values.html !== undefined && html === undefined) {
    io.stderr(
      'spanledger report: --html is not available in this build (src/cli/report/html.ts is missing)\n',
    );
    return EXIT.config;
  }

  const stats = newReadStats();
  let model: ReportModel;
  try {
    model = await buildReport(readSpans(positionals, stats), {
      by,
      top,
      from,
      to,
      readStats: stats,
      // The top traces' spans the first pass could not hold: read the files again.
      reread: (traceIds) => readSpans(positionals, newReadStats(), { traceIds }),
    });
  } catch (e) {
    io.stderr(`spanledger report: cannot read ${positionals.join(', ')}: ${reason(e)}\n`);
    return EXIT.config;
  }

  if (stats.malformed > 0) {
    const where = stats.examples.map((x) => `${x.file}:${x.line}: ${x.reason}`).join('; ');
    io.stderr(
      `spanledger report: skipped ${stats.malformed} malformed line(s) or record(s) (first: ${where})\n`,
    );
  }
  if (html !== undefined && values.html !== undefined) {
    await writeFile(values.html, await html.renderHtml(model));
    io.stdout(`wrote ${values.html}\n`);
  } else if (values.json) io.stdout(renderJson(model));
  else if (values.csv) io.stdout(renderCsv(model));
  else io.stdout(renderTables(model, { color: io.color === true }));
  return EXIT.ok;
}

/** An error as one line: the system's code and message without a stack. */
function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'no such file';
  if (err.code === 'EACCES') return 'permission denied';
  if (err.code === 'EISDIR') return 'is a directory';
  return (err.message ?? String(e)).split('\n')[0] as string;
}
