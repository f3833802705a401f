/**
 * `spanledger showback`: chargeback rows from the cost counters the pipeline writes to
 * Prometheus, exact per day (docs/finance.md): a text table, CSV, JSON or FOCUS.
 */
import { writeFile } from 'node:fs/promises';
import { loadConfigFile } from '../config.js';
import { allocateCosts, allocationDimensions } from '../finance/allocation.js';
import { loadRates } from '../finance/currency.js';
import { FOCUS_BASE_DIMENSIONS, focusRows, renderFocusCsv } from '../finance/focus.js';
import type { AllocatedRow, ConvertUsd, EstimateQuery, EstimateRow } from '../finance/model.js';
import { DIMENSIONS, readEstimatesFrom, ShowbackError, startOfDay } from '../finance/prometheus.js';
import {
  buildShowback,
  renderShowbackCsv,
  renderShowbackJson,
  renderShowbackTable,
} from '../finance/showback.js';
import { type CliIO, EXIT, parseCommandLine, parseInstant, UsageError } from './args.js';

/** Help text of `spanledger showback`. */
export const SHOWBACK_USAGE = `Usage: spanledger showback --prometheus URL --from DATE --to DATE [--by DIMS] [--format F] [--time-zone TZ] [--selector M] [--out FILE]

Chargeback rows from the cost counters in Prometheus: the exact spend of each day and label
combination (counter resets handled, no extrapolation), an estimate from telemetry, not a bill.
Spend without a value for a dimension is an unallocated row, never dropped.

Options:
  --prometheus URL  Prometheus base URL, e.g. http://prometheus:9090
  --from DATE       first day: 2026-11-01 (local midnight in --time-zone) or a date-time with
                    an offset (2026-11-01T06:00:00Z)
  --to DATE         end, exclusive (same forms): --from 2026-11-01 --to 2026-12-01 is November;
                    a --to after now is cut at now
  --by DIMS         comma-separated, default team,tenant,use_case,model: ${DIMENSIONS.join(', ')}
  --format F        table (default), csv, json or focus (FOCUS 1.2 with 1.3 names, CSV)
  --time-zone TZ    IANA zone the days are cut in (default UTC), e.g. Europe/Paris
  --selector M      matcher added to every series selector, e.g. 'cluster="prod"'
  --out FILE        write to FILE instead of stdout
  --config FILE     fixed and shared costs (the finance configuration)
  --currency CODE   convert to CODE (ISO 4217) at each day's reference rate
  --fx-rates FILE   reference rates to convert with
  -h, --help        show this help

Examples:
  spanledger showback --prometheus http://localhost:9090 --from 2026-11-01 --to 2026-12-01
  spanledger showback --prometheus http://localhost:9090 --from 2026-11-01 --to 2026-12-01 \\
    --by team,cost_center --format focus --time-zone Europe/Paris --out november.csv
`;

const OPTIONS = {
  prometheus: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  by: { type: 'string' },
  format: { type: 'string' },
  'time-zone': { type: 'string' },
  selector: { type: 'string' },
  out: { type: 'string' },
  config: { type: 'string' },
  currency: { type: 'string' },
  'fx-rates': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const FORMATS = ['table', 'csv', 'json', 'focus'] as const;

/**
 * Where fixed/shared costs and currency conversion come from (finance/allocation.ts and
 * currency.ts, wired in run.ts); without them `--config` and `--currency` are refused.
 */
export interface ShowbackHooks {
  /** The fixed and shared cost rows of a configuration file over the range. */
  allocate?: (args: {
    config: string;
    estimates: readonly EstimateRow[];
    from: Date;
    to: Date;
    timeZone: string;
  }) => AllocatedRow[] | Promise<AllocatedRow[]>;
  /** A converter to `currency`, from `fxRates` (a file) or the default source. */
  converter?: (args: {
    currency: string;
    fxRates: string | undefined;
  }) => ConvertUsd | Promise<ConvertUsd>;
  /** The clock (tests). */
  now?: () => number;
}

/** A `--from`/`--to` value: a date is local midnight in the zone, a date-time is as written. */
function parseBound(flag: string, raw: string | undefined, timeZone: string): Date {
  if (raw === undefined || raw.trim() === '') throw new UsageError(`--${flag} is required`);
  const text = raw.trim();
  const instant = parseInstant(flag, text) as Date;
  return /^\d{4}-\d{2}-\d{2}$/.test(text) ? new Date(startOfDay(text, timeZone)) : instant;
}

/** Run `spanledger showback` with the arguments after the command name. */
export async function runShowback(
  argv: string[],
  io: CliIO,
  hooks: ShowbackHooks = {},
): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS, false);
  if (values.help) {
    io.stdout(SHOWBACK_USAGE);
    return EXIT.ok;
  }
  void positionals;
  const url = values.prometheus?.trim();
  if (!url) throw new UsageError('--prometheus is required');
  if (!/^https?:\/\/[^/]/.test(url)) {
    throw new UsageError(`--prometheus must be an http(s) URL, got '${url}'`);
  }
  const timeZone = values['time-zone']?.trim() || 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw new UsageError(
      `--time-zone must be an IANA zone such as Europe/Paris, got '${timeZone}'`,
    );
  }
  const format = (values.format?.trim() || 'table') as (typeof FORMATS)[number];
  if (!FORMATS.includes(format)) {
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got '${values.format}'`);
  }
  const by = (values.by ?? 'team,tenant,use_case,model')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (by.length === 0) throw new UsageError('--by needs at least one dimension');
  for (const d of by) {
    if (!DIMENSIONS.includes(d)) {
      throw new UsageError(`--by: unknown dimension '${d}': one of ${DIMENSIONS.join(', ')}`);
    }
  }
  const from = parseBound('from', values.from, timeZone);
  const to = parseBound('to', values.to, timeZone);
  // Fail fast: the configuration file and the rates file are read before Prometheus is asked.
  const finance =
    values.config !== undefined && hooks.allocate === undefined
      ? loadConfigFile(values.config).finance
      : undefined;
  const currency = values.currency?.trim().toUpperCase();
  if (currency !== undefined && !/^[A-Z]{3}$/.test(currency)) {
    throw new UsageError(
      `--currency must be an ISO 4217 code such as EUR, got '${values.currency}'`,
    );
  }
  if (values['fx-rates'] !== undefined && currency === undefined) {
    throw new UsageError('--fx-rates needs --currency');
  }
  if (
    currency !== undefined &&
    currency !== 'USD' &&
    values['fx-rates'] === undefined &&
    hooks.converter === undefined
  ) {
    throw new UsageError('--currency needs --fx-rates FILE (ECB reference rates, docs/finance.md)');
  }
  const fxRates = values['fx-rates'];
  const convertTo =
    currency === undefined || currency === 'USD'
      ? undefined
      : hooks.converter
        ? await hooks.converter({ currency, fxRates })
        : loadRates(fxRates as string, currency);

  // FOCUS rows are per provider and model (ServiceProviderName, SkuId) whatever --by says.
  const dims = format === 'focus' ? [...new Set([...by, ...FOCUS_BASE_DIMENSIONS])] : by;
  const query: EstimateQuery = {
    prometheusUrl: url,
    from,
    to,
    timeZone,
    by: dims,
    ...(values.selector?.trim() ? { selector: values.selector.trim() } : {}),
  };
  const nowMs = (hooks.now ?? Date.now)();
  const end = new Date(Math.min(to.getTime(), Math.max(nowMs, from.getTime() + 1)));
  let output: string;
  let count: number;
  try {
    const estimates = await readEstimatesFrom(query, { now: () => nowMs });
    let extra: AllocatedRow[] | undefined;
    if (values.config !== undefined && hooks.allocate) {
      extra = await hooks.allocate({ config: values.config, estimates, from, to: end, timeZone });
    } else if (finance !== undefined) {
      // Shared costs are split by their own dimensions' usage, whatever --by groups the rows by.
      const split = allocationDimensions(finance);
      const basis =
        split.length === 0
          ? estimates
          : await readEstimatesFrom({ ...query, by: split }, { now: () => nowMs });
      extra = allocateCosts(finance, basis, { from, to: end, timeZone });
    }
    const convert = convertTo;
    const lines = buildShowback({
      estimates,
      by: dims,
      ...(extra !== undefined ? { extra } : {}),
      ...(convert !== undefined ? { convert } : {}),
    });
    count = lines.length;
    const ctx = { by: dims, from, to: end, timeZone };
    if (format === 'focus') output = renderFocusCsv(focusRows(lines, ctx));
    else if (format === 'csv') output = renderShowbackCsv(lines, ctx);
    else if (format === 'json') output = renderShowbackJson(lines, ctx);
    else output = renderShowbackTable(lines, ctx);
  } catch (e) {
    if (e instanceof ShowbackError) {
      io.stderr(`spanledger showback: ${e.message}\n`);
      return EXIT.config;
    }
    throw e;
  }
  if (to.getTime() > nowMs) {
    io.stderr(`spanledger showback: --to is after now: the rows end at ${end.toISOString()}\n`);
  }
  if (values.out !== undefined) {
    try {
      await writeFile(values.out, output);
    } catch (e) {
      io.stderr(
        `spanledger showback: cannot write ${values.out}: ${(e as Error).message.split('\n')[0]}\n`,
      );
      return EXIT.config;
    }
    io.stdout(`wrote ${values.out} (${count} rows)\n`);
  } else io.stdout(output);
  return EXIT.ok;
}
