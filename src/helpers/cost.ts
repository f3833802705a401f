/**
 * A cost the helper's caller states for its span: reported by the called service (source
 * `provider`) or stated by the application (source `manual`). The processor prefers either over
 * a unit-price rule.
 */
import type { Attributes } from '@opentelemetry/api';
import type { Check } from '../options.js';
import * as A from '../semconv.js';
import { amount, oneOf, text } from './run.js';

/** Options of helpers whose work can carry a stated cost. */
export interface CostOptions {
  /** Cost of this span's own work, USD (e.g. the cost the called service reported). */
  costUsd?: number;
  /** Where `costUsd` comes from: `provider` (reported by the service; default) or `manual`
   * (stated by the application). Becomes `spanledger.cost.source`. */
  costSource?: 'provider' | 'manual';
  /** Units of work (calls, pages, read units): what a `perUnitUsd` rule multiplies. */
  quantity?: number;
}

/** Checks of {@link CostOptions}. */
export const COST_CHECKS: Record<keyof CostOptions, Check> = {
  costUsd: amount,
  costSource: oneOf('provider', 'manual'),
  quantity: amount,
};

/** Checks of {@link CostOptions} plus a unit name. */
export const UNIT_CHECKS: Record<string, Check> = { ...COST_CHECKS, unit: text };

/** The span attributes of {@link CostOptions}. */
export function costAttributes(o: CostOptions): Attributes {
  const out: Attributes = {};
  if (o.costUsd !== undefined) {
    const key = o.costSource === 'manual' ? A.ATTR_MANUAL_COST_USD : A.ATTR_REPORTED_COST_USD;
    out[key] = o.costUsd;
  }
  if (o.quantity !== undefined) out[A.ATTR_USAGE_QUANTITY] = o.quantity;
  return out;
}
