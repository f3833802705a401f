/**
 * The configuration file, built in one place. One schema covers the whole file: the prices
 * sections (pricing/config.ts), the `budgets:` list (budgets/config.ts), whose scopes are
 * checked against the dimensions in force (dimensions.ts), and the `finance:` section
 * (finance/config.ts: fixed and shared costs, whose labels may name those dimensions too). Each section's owner keeps its own
 * schema and knows nothing of the others: pricing never imports budgets, budgets never import
 * pricing. This module composes them, reads the file (config-file.ts: regular files only, size
 * capped, JSON as JSON), validates it once, and hands out plain validated values: the price book
 * gets its prices and reads no files. See docs/setup.md and docs/pricing.md.
 */
import {
  type Budget,
  type BudgetInput,
  createBudgetsSchema,
  validateBudgets,
} from './budgets/config.js';
import { ConfigError, describeIssues, readConfigFile, zod } from './config-file.js';
import { BUILTIN, type Dimensions } from './dimensions.js';
import {
  createFinanceSchema,
  type FinanceConfig,
  type FinanceConfigInput,
} from './finance/config.js';
import { type PricesConfig, type PricesConfigInput, pricesSections } from './pricing/config.js';

/** The configuration file's content as written (or the same object given in code). */
export type SpanLedgerConfigInput = PricesConfigInput & {
  /** Budgets (docs/budgets.md), in the same file so one file configures money end to end. */
  budgets?: readonly BudgetInput[];
  /** Fixed and shared costs for finance exports (docs/finance.md); the ledger ignores them. */
  finance?: FinanceConfigInput;
};

/** A validated configuration: the prices sections, the budgets and, when the file has one, the
 * `finance:` section. */
export interface SpanLedgerConfig {
  prices: PricesConfig;
  budgets: Budget[];
  finance?: FinanceConfig;
}

/** Schema of the whole configuration file; budget scopes and finance labels may name
 * `dimensions`. Built when a configuration is validated: zod is not loaded by a service that
 * has none. */
export function configSchema(dimensions: Dimensions = BUILTIN) {
  return zod()
    .object({
      ...pricesSections(),
      budgets: createBudgetsSchema({ dimensions }).optional(),
      finance: createFinanceSchema({ dimensions }).optional(),
    })
    .strict();
}

/**
 * Validate a configuration object; `origin` names it in errors (a file path, or
 * `options.prices`): `spanledger: invalid prices in <origin>: models[1].prices[0]: ...`.
 */
export function validateConfig(
  input: unknown,
  origin: string,
  dimensions: Dimensions = BUILTIN,
): SpanLedgerConfig {
  const parsed = configSchema(dimensions).safeParse(input ?? {});
  if (!parsed.success) {
    throw new ConfigError(
      `spanledger: invalid prices in ${origin}: ${describeIssues(parsed.error.issues)}`,
    );
  }
  const { budgets, finance, ...prices } = parsed.data;
  const config: SpanLedgerConfig = { prices, budgets: budgets ?? [] };
  if (finance !== undefined) config.finance = finance;
  return config;
}

/** Read and validate a configuration file (YAML or JSON). */
export function loadConfigFile(path: string, dimensions: Dimensions = BUILTIN): SpanLedgerConfig {
  return validateConfig(readConfigFile(path), path, dimensions);
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Read the `budgets:` list of a configuration file (`SPANLEDGER_BUDGETS_FILE`); its other
 * sections are left to the prices file's validation. A file without `budgets` has none.
 */
export function loadBudgetsFile(path: string, dimensions: Dimensions = BUILTIN): Budget[] {
  const doc = readConfigFile(path);
  if (doc === null || doc === undefined) return [];
  if (!isRecord(doc)) {
    throw new ConfigError(`spanledger: invalid budgets in ${path}: (root): expected a mapping`);
  }
  return validateBudgets(doc.budgets, path, { dimensions });
}
