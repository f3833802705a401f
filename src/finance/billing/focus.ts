/**
 * A cloud provider's FOCUS cost export (CSV) as billed rows (docs/finance.md, "Reconciling each
 * month"): AWS Data Exports "FOCUS 1.0/1.2 with AWS columns" and Azure Cost Management's FOCUS
 * export. Rows are streamed (an export can be large) and summed per UTC day, provider and
 * model; only model usage is kept: Amazon Bedrock rows as `aws.bedrock`, Azure OpenAI rows as
 * `azure.ai.openai`. Other AI and Machine Learning rows, and charges that are not usage
 * (credits, tax, purchases), are counted and summed for the report, not compared.
 */
import { createReadStream } from 'node:fs';
import type { BilledRow } from '../model.js';
import { BillError, oneLine, requireUsd, utcDay } from './common.js';

/** The columns that may name the model, in order: FOCUS 1.2's `SkuMeter` (AWS puts the usage
 * type there), FOCUS 1.0 AWS's `x_UsageType`, Azure's `x_SkuMeterName`. */
export const FOCUS_MODEL_COLUMNS = ['SkuMeter', 'x_UsageType', 'x_SkuMeterName'] as const;

/** Most distinct (day, provider, model) sums kept from one file. */
export const MAX_FOCUS_KEYS = 100_000;

/** Sums of rows read but not compared. */
export interface FocusSkipped {
  rows: number;
  costUsd: number;
}

/** What one FOCUS file gave. */
export interface FocusBill {
  rows: BilledRow[];
  /** Providers the file is a bill for (`aws.bedrock` for an AWS export, `azure.ai.openai` for
   * an Azure one), whether or not it has rows for them: no row is then a bill of 0. */
  providers: string[];
  /** AI and Machine Learning rows of other services (SageMaker, Azure ML, ...). */
  otherAi: FocusSkipped;
  /** Model usage rows whose ChargeCategory is not Usage (credits, tax, adjustments). */
  notUsage: FocusSkipped;
}

/** Options of {@link readFocusCsv}. */
export interface FocusOptions {
  /** The column naming the model, instead of {@link FOCUS_MODEL_COLUMNS}. */
  modelColumn?: string;
}

const DAY_MS = 86_400_000;

/**
 * The model a meter names, with the AWS region prefix (`USE1-`) and the Bedrock token-type
 * suffixes (`-input-tokens`, `-output-tokens`, `-cache-read-input-token-count`, ...) removed:
 * `USE1-Claude3.5Sonnet-input-tokens` → `Claude3.5Sonnet`. Other meters are kept as they are;
 * `--model-alias` maps them to the telemetry's model id.
 */
export function focusMeterModel(meter: string | undefined): string | undefined {
  if (meter === undefined) return undefined;
  let m = meter.trim();
  if (m === '') return undefined;
  m = m.replace(/^[A-Z]{2,4}\d-(MP:)?/, '');
  m = m.replace(/-cache-(read|write)-input-token-count$/i, '');
  m = m.replace(/-(mantle-)?(input|output)-tokens(-.*)?$/i, '');
  return m === '' ? undefined : m;
}

/** The spanledger provider of a FOCUS row, or `undefined` for rows that are not model usage. */
export function focusProvider(
  row: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const service = row.ServiceName ?? '';
  if (/bedrock/i.test(service)) return 'aws.bedrock';
  if (/openai/i.test(service) || /openai/i.test(row.x_SkuMeterSubcategory ?? '')) {
    return 'azure.ai.openai';
  }
  return undefined;
}

/** `ServiceProviderName` (FOCUS 1.3), else `ProviderName`. */
function providerName(row: Readonly<Record<string, string | undefined>>): string {
  return row.ServiceProviderName || row.ProviderName || row.InvoiceIssuerName || '';
}

/** A FOCUS timestamp: ISO 8601, or `YYYY-MM-DD hh:mm:ss` (UTC, as FOCUS requires). */
function instant(v: string | undefined): number {
  if (v === undefined || v.trim() === '') return Number.NaN;
  let t = v.trim().replace(' ', 'T');
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) t += 'T00:00:00Z';
  else if (!/(Z|[+-]\d{2}:?\d{2})$/.test(t)) t += 'Z';
  return Date.parse(t);
}

/** Reads a FOCUS CSV export into billed rows (streamed; sums bounded by {@link MAX_FOCUS_KEYS}). */
export async function readFocusCsv(path: string, options: FocusOptions = {}): Promise<FocusBill> {
  const sums = new Map<string, BilledRow>();
  const providers = new Set<string>();
  const otherAi: FocusSkipped = { rows: 0, costUsd: 0 };
  const notUsage: FocusSkipped = { rows: 0, costUsd: 0 };
  // Loaded on first use: the CLI's other commands never pay for the CSV parser.
  const { parse } = await import('csv-parse');
  const parser = parse({
    columns: true,
    bom: true,
    skip_empty_lines: true,
    trim: true,
    info: true,
  });
  const input = createReadStream(path);
  input.on('error', (e) => parser.destroy(e));
  input.pipe(parser);
  let line = 1;
  let checked = false;
  try {
    for await (const item of parser as AsyncIterable<{
      record: Record<string, string>;
      info: { lines: number };
    }>) {
      line = item.info.lines;
      const row = item.record as Readonly<Record<string, string | undefined>>;
      if (!checked) {
        checkColumns(row, path, options);
        checked = true;
      }
      const who = providerName(row);
      if (/amazon|aws/i.test(who)) providers.add('aws.bedrock');
      if (/microsoft|azure/i.test(who)) providers.add('azure.ai.openai');
      const provider = focusProvider(row);
      const isAi = row.ServiceCategory === 'AI and Machine Learning';
      if (provider === undefined && !isAi) continue;
      const where = `${path}:${line}`;
      const cost = Number(row.BilledCost);
      if (row.BilledCost === undefined || row.BilledCost === '' || !Number.isFinite(cost)) {
        throw new BillError(
          `${where}: BilledCost ${JSON.stringify(row.BilledCost)} is not a number`,
        );
      }
      if (provider === undefined) {
        otherAi.rows++;
        otherAi.costUsd += cost;
        continue;
      }
      requireUsd(row.BillingCurrency, `${where}: BillingCurrency`);
      const category = row.ChargeCategory ?? '';
      if (category !== '' && category !== 'Usage') {
        notUsage.rows++;
        notUsage.costUsd += cost;
        continue;
      }
      const start = instant(row.ChargePeriodStart);
      const end = instant(row.ChargePeriodEnd);
      if (Number.isNaN(start)) {
        throw new BillError(
          `${where}: ChargePeriodStart ${JSON.stringify(row.ChargePeriodStart)} is not a time`,
        );
      }
      if (!Number.isNaN(end) && end - start > DAY_MS) {
        throw new BillError(
          `${where}: a charge period longer than a day (${row.ChargePeriodStart} to ${row.ChargePeriodEnd}); export with daily or hourly granularity`,
        );
      }
      const meter = options.modelColumn
        ? row[options.modelColumn]
        : FOCUS_MODEL_COLUMNS.map((c) => row[c]).find((v) => v !== undefined && v !== '');
      const model = focusMeterModel(meter);
      const day = utcDay(start);
      const key = `${day}\u0000${provider}\u0000${model ?? ''}`;
      const sum = sums.get(key);
      if (sum) sum.costUsd += cost;
      else {
        if (sums.size >= MAX_FOCUS_KEYS) {
          throw new BillError(`${path}: more than ${MAX_FOCUS_KEYS} day and model combinations`);
        }
        sums.set(key, { day, provider, model, costUsd: cost, source: path });
      }
    }
  } catch (e) {
    if (e instanceof BillError) throw e;
    throw new BillError(
      `cannot read ${path} as CSV (near line ${line}): ${oneLine((e as Error).message)}`,
    );
  } finally {
    input.destroy();
  }
  return { rows: [...sums.values()], providers: [...providers].sort(), otherAi, notUsage };
}

function checkColumns(
  row: Readonly<Record<string, string | undefined>>,
  path: string,
  options: FocusOptions,
): void {
  const missing = ['ChargePeriodStart', 'BilledCost', 'BillingCurrency', 'ServiceName'].filter(
    (c) => !(c in row),
  );
  if (options.modelColumn !== undefined && !(options.modelColumn in row)) {
    missing.push(options.modelColumn);
  }
  if (missing.length > 0) {
    throw new BillError(`${path}: not a FOCUS export: no column ${missing.join(', ')}`);
  }
}
