/**
 * Showback lines as FOCUS rows (FinOps Open Cost and Usage Specification): the 1.2 columns, with
 * the 1.3 names where 1.3 replaces 1.2 ones (ServiceProviderName and HostProviderName for
 * ProviderName and PublisherName) and the 1.3 allocation columns on shared costs; spanledger's
 * own columns prefixed `x_`. Every figure is an estimate from telemetry, not a bill: InvoiceId
 * stays null and `x_CostStatus` says `estimate`. docs/finance.md lists each column and how it is
 * filled.
 */
import { calendarWindow } from '../budgets/window.js';
import { csvField } from '../cli/report/tables.js';
import type { TokenType } from './model.js';
import { startOfDay } from './prometheus.js';
import type { ShowbackLine } from './showback.js';

/** A FOCUS cell: a string, a number, or null (empty in CSV). */
export type FocusValue = string | number | null;
/** One FOCUS row, by column name. */
export type FocusRow = Record<string, FocusValue>;

/** The dimensions a FOCUS export always groups by (besides `--by`): SkuId is the model and
 * ServiceProviderName the provider, so rows are per provider and model. */
export const FOCUS_BASE_DIMENSIONS = ['provider', 'model'] as const;

/** spanledger's dimension → its FOCUS custom column. */
const DIMENSION_COLUMNS: Readonly<Record<string, string>> = {
  team: 'x_Team',
  cost_center: 'x_CostCenter',
  tenant: 'x_Tenant',
  use_case: 'x_UseCase',
  agent: 'x_Agent',
  service: 'x_Service',
  category: 'x_CostCategory',
  provider: 'x_Provider',
  model: 'x_Model',
};

/** The FOCUS columns in the order they are written (FOCUS then `x_`). */
export const FOCUS_COLUMNS = [
  'BilledCost',
  'BillingAccountId',
  'BillingAccountName',
  'BillingCurrency',
  'BillingPeriodEnd',
  'BillingPeriodStart',
  'ChargeCategory',
  'ChargeClass',
  'ChargeDescription',
  'ChargeFrequency',
  'ChargePeriodEnd',
  'ChargePeriodStart',
  'ConsumedQuantity',
  'ConsumedUnit',
  'ContractedCost',
  'EffectiveCost',
  'HostProviderName',
  'InvoiceId',
  'InvoiceIssuerName',
  'ListCost',
  'PricingQuantity',
  'PricingUnit',
  'ServiceCategory',
  'ServiceName',
  'ServiceProviderName',
  'ServiceSubcategory',
  'SkuId',
  'SkuPriceId',
  'AllocatedMethodId',
  'AllocatedMethodDetails',
  'x_CostStatus',
  'x_EstimateSource',
  'x_CostKind',
  'x_CostName',
  'x_Unallocated',
  ...Object.values(DIMENSION_COLUMNS),
  'x_CostUsd',
  'x_FxRate',
  'x_FxRateDay',
  'x_InputTokens',
  'x_OutputTokens',
  'x_CacheReadTokens',
  'x_CacheWriteTokens',
  'x_ReasoningTokens',
  'x_CacheSavingsUsd',
] as const;

const TOKEN_COLUMNS: ReadonlyArray<[TokenType, string]> = [
  ['input', 'x_InputTokens'],
  ['output', 'x_OutputTokens'],
  ['cache_read', 'x_CacheReadTokens'],
  ['cache_write', 'x_CacheWriteTokens'],
  ['reasoning', 'x_ReasoningTokens'],
];

/** What {@link focusRows} needs besides the lines. */
export interface FocusContext {
  /** The dimensions the lines carry (`--by` plus {@link FOCUS_BASE_DIMENSIONS}). */
  by: readonly string[];
  from: Date;
  to: Date;
  /** The zone days are cut in: ChargePeriod is the day (clipped to the range), BillingPeriod
   * its calendar month, both written in UTC as FOCUS requires. */
  timeZone: string;
  /** BillingAccountId (FOCUS requires one): default `spanledger`. */
  billingAccountId?: string;
}

/** Where the estimates come from (`x_EstimateSource`). */
export const ESTIMATE_SOURCE = 'spanledger telemetry (Prometheus cost counters)';

/** An instant as FOCUS writes date/times: `YYYY-MM-DDTHH:mm:ssZ`, UTC. */
export function focusDateTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** A number as FOCUS's numeric format wants it: a plain decimal, or E notation without `+`. */
export function focusNumber(x: number): string {
  return String(x).replace('e+', 'E').replace('e', 'E');
}

/** The FOCUS rows of showback lines, one per line. */
export function focusRows(lines: readonly ShowbackLine[], ctx: FocusContext): FocusRow[] {
  const fromMs = ctx.from.getTime();
  const toMs = ctx.to.getTime();
  return lines.map((l) => {
    const dayWindow = calendarWindow(
      { calendar: 'day', timeZone: ctx.timeZone },
      startOfDay(l.day, ctx.timeZone),
    );
    const month = calendarWindow({ calendar: 'month', timeZone: ctx.timeZone }, dayWindow.startMs);
    const provider = l.labels.provider;
    const model = l.labels.model;
    const tokens =
      l.tokens === undefined
        ? undefined
        : TOKEN_COLUMNS.reduce((s, [t]) => s + (l.tokens?.[t] ?? 0), 0);
    const cost = l.converted?.amount ?? l.costUsd;
    const sku =
      l.kind === 'usage'
        ? (model ?? `spanledger/${l.labels.category ?? 'unknown'}`)
        : `spanledger/${l.kind}/${l.name ?? 'unnamed'}`;
    const absent = ctx.by.filter((d) => l.labels[d] === undefined);
    const row: FocusRow = {
      BilledCost: cost,
      BillingAccountId: ctx.billingAccountId ?? 'spanledger',
      BillingAccountName: null,
      BillingCurrency: l.converted?.currency ?? 'USD',
      BillingPeriodEnd: focusDateTime(month.endMs),
      BillingPeriodStart: focusDateTime(month.startMs),
      ChargeCategory: 'Usage',
      ChargeClass: null,
      ChargeDescription: describe(l),
      ChargeFrequency: l.kind === 'usage' ? 'Usage-Based' : 'Recurring',
      ChargePeriodEnd: focusDateTime(Math.min(dayWindow.endMs, toMs)),
      ChargePeriodStart: focusDateTime(Math.max(dayWindow.startMs, fromMs)),
      // Unknown is not zero: a line whose tokens are unknown has no quantity (docs/finance.md).
      ConsumedQuantity: tokens ?? null,
      ConsumedUnit: tokens === undefined ? null : 'Tokens',
      ContractedCost: cost,
      EffectiveCost: cost,
      HostProviderName: provider ?? null,
      InvoiceId: null,
      InvoiceIssuerName: provider ?? 'Unknown',
      ListCost: cost,
      PricingQuantity: tokens ?? null,
      PricingUnit: tokens === undefined ? null : 'Tokens',
      ServiceCategory: 'AI and Machine Learning',
      ServiceName: l.kind === 'usage' ? (provider ?? 'Unknown') : (l.name ?? 'Unknown'),
      ServiceProviderName: provider ?? 'Unknown',
      ServiceSubcategory: 'Generative AI',
      SkuId: sku,
      SkuPriceId: sku,
      AllocatedMethodId: l.allocation?.method ?? null,
      AllocatedMethodDetails:
        l.allocation === undefined
          ? null
          : // FOCUS 1.3's AllocatedMethodDetails object: Elements with the row's ratio of the
            // origin charge (the day's part of the shared cost); what it was measured by in
            // x_-prefixed keys, as the object's custom properties must be.
            JSON.stringify({
              Elements: [{ AllocatedRatio: l.allocation.share }],
              x_Basis: l.allocation.basis,
              x_Dimension: l.allocation.dimension,
            }),
      x_CostStatus: 'estimate',
      x_EstimateSource: l.kind === 'usage' ? ESTIMATE_SOURCE : 'spanledger configuration',
      x_CostKind: l.kind,
      x_CostName: l.name ?? null,
      x_Unallocated: absent.length === 0 ? null : absent.join(','),
      x_CostUsd: l.costUsd,
      x_FxRate: l.converted?.rate ?? null,
      x_FxRateDay: l.converted?.rateDay ?? null,
      x_CacheSavingsUsd: l.cacheSavingsUsd ?? null,
    };
    for (const [dim, column] of Object.entries(DIMENSION_COLUMNS)) {
      row[column] = l.labels[dim] ?? null;
    }
    for (const [t, column] of TOKEN_COLUMNS) row[column] = l.tokens?.[t] ?? null;
    return row;
  });
}

function describe(l: ShowbackLine): string {
  if (l.kind !== 'usage') return `${l.kind} cost ${l.name ?? ''} (configured, an estimate)`;
  const what = l.labels.model ?? l.labels.category ?? 'AI usage';
  const who = l.labels.provider === undefined ? '' : ` on ${l.labels.provider}`;
  return `Estimated ${what}${who} usage from spanledger telemetry`;
}

/** FOCUS rows as CSV (RFC 4180, CRLF): null is an empty field, numbers in FOCUS's format. */
export function renderFocusCsv(rows: readonly FocusRow[]): string {
  const out = [FOCUS_COLUMNS.join(',')];
  for (const r of rows) {
    out.push(
      FOCUS_COLUMNS.map((c) => {
        const v = r[c];
        if (v === null || v === undefined) return '';
        return csvField(typeof v === 'number' ? focusNumber(v) : v);
      }).join(','),
    );
  }
  return `${out.join('\r\n')}\r\n`;
}
