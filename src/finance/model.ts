/**
 * The finance layer's shared shapes (docs/finance.md). Finance reads what the pipeline already
 * exported (the cost counters in Prometheus, provider bills) and never touches spans: it sits
 * after export in the data flow. `showback` turns the counters into chargeback rows; `reconcile`
 * joins the same daily estimates with what providers billed. Money is in USD (the ledger's
 * currency) until an export converts it at the rate of each row's day.
 */

/** A calendar day in the export's time zone, `YYYY-MM-DD`. */
export type Day = string;

/** Token types as the tokens counter labels them (`gen_ai.token.type`). */
export type TokenType = 'input' | 'output' | 'cache_read' | 'cache_write' | 'reasoning';

/**
 * The labels an estimate row is grouped by, by dimension name. A missing key, or `undefined`,
 * means the series carried no value: spend with no tenant is unallocated, never dropped.
 * Names: `service`, `provider`, `model`, `category`, `team`, `cost_center`, `tenant`,
 * `use_case`, `agent`.
 */
export type EstimateLabels = Readonly<Record<string, string | undefined>>;

/**
 * One day's estimated spend for one label combination, as the cost counters recorded it:
 * the exact increase of `spanledger_cost_usd_total` over the day (counter resets handled, no
 * extrapolation), so that the rows of a range sum to the spans' costs.
 */
export interface EstimateRow {
  day: Day;
  labels: EstimateLabels;
  /** Estimated cost, USD. */
  costUsd: number;
  /** Tokens of the same day and labels by type, where the tokens counter can be joined to
   * this row without guessing (see docs/finance.md); absent when it cannot. */
  tokens?: Partial<Record<TokenType, number>>;
  /** What cache reads saved against the uncached input price, USD. */
  cacheSavingsUsd?: number;
}

/** A request for daily estimates over `[from, to)`. */
export interface EstimateQuery {
  /** Prometheus base URL, e.g. `http://prometheus:9090`. */
  prometheusUrl: string;
  from: Date;
  to: Date;
  /** IANA time zone (or `UTC`) the days are cut in. */
  timeZone: string;
  /** Dimension names to group by (see {@link EstimateLabels}); the others are summed away. */
  by: readonly string[];
  /** Extra matcher fragment for every selector, e.g. `cluster="prod"`. */
  selector?: string;
}

/** Reads daily estimates (implemented against Prometheus in `prometheus.ts`). */
export type ReadEstimates = (query: EstimateQuery) => Promise<EstimateRow[]>;

/** One provider-billed amount, normalised from a provider's cost API or a FOCUS export. */
export interface BilledRow {
  day: Day;
  /** Provider as spanledger names it (`openai`, `anthropic`, `aws.bedrock`, ...). */
  provider: string;
  /** The model, when the bill names one; `undefined` for lines no model explains (fees). */
  model: string | undefined;
  /** Billed cost in USD. */
  costUsd: number;
  /** Where the row came from, for the reconcile output: `openai-costs-api`, a file path. */
  source: string;
}

/** How a shared cost was split (the FOCUS 1.3 allocation columns state it). */
export interface Allocation {
  /** `proportional`: by each value's share of the measured basis; `unallocated` when the day
   * had no measured usage to split by (the whole amount stays on one unallocated row). */
  method: 'proportional' | 'unallocated';
  /** What the shares are measured in: estimated usage cost, USD. */
  basis: 'usage_cost';
  /** The dimension the cost is split across (snake_case name, e.g. `use_case`). */
  dimension: string;
  /** This row's share of the shared cost, 0 to 1. */
  share: number;
}

/**
 * A day's part of a configured fixed or shared cost (docs/finance.md): fixed costs belong to
 * the labels they are configured for; shared costs are split in proportion to measured usage.
 * The rows of one cost over a range sum to its configured amount pro-rated to that range.
 */
export interface AllocatedRow {
  day: Day;
  kind: 'fixed' | 'shared';
  /** The configured cost's name, e.g. `vector-store-cluster`. */
  name: string;
  labels: EstimateLabels;
  costUsd: number;
  /** Shared costs only. */
  allocation?: Allocation;
}

/** A USD amount converted at its day's rate. */
export interface Converted {
  amount: number;
  currency: string;
  /** Units of `currency` per USD. */
  rate: number;
  /** The day the rate was published for: the row's day, or the last day before it. */
  rateDay: Day;
}

/** Converts a USD amount of a given day (implemented from ECB reference rates in
 * `currency.ts`); throws a one-line error when no rate is on or before the day. */
export type ConvertUsd = (usd: number, day: Day) => Converted;
