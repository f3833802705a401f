/**
 * `recordOutcome`: a business outcome (ticket resolved, lead qualified) and its value, so cost
 * can be set against what it bought. An instantaneous span the processor turns into the
 * `spanledger.outcomes` and `spanledger.outcome.value.usd` counters (for every recording span:
 * exact under sampling with `ledger.sampler(...)`). Never counted as cost.
 */
import { SpanKind } from '@opentelemetry/api';
import * as A from '../semconv.js';
import { amount, checkArgs, type HelperOptions, runInSpan } from './run.js';

/** Options of {@link recordOutcome}. */
export interface OutcomeOptions extends HelperOptions {
  /** Business value of each outcome, USD. Default 0 (counted, no value). */
  valueUsd?: number;
  /** How many outcomes this records. Default 1. */
  count?: number;
}

const CHECKS = { valueUsd: amount, count: amount };

/**
 * Record `count` outcomes named `name` worth `valueUsd` each: span `outcome {name}`, a child of
 * the active span, carrying `spanledger.outcome.name`, `.count` and `.value.usd` (the total). Its
 * metrics carry the attribution dimensions (tenant, use case, ...) of the span or its run.
 */
export function recordOutcome(name: string, options: OutcomeOptions = {}): void {
  const o = checkArgs('recordOutcome', 'name', name, options, CHECKS, () => {});
  const count = o.count ?? 1;
  runInSpan(
    o,
    {
      name: `outcome ${name}`,
      kind: SpanKind.INTERNAL,
      attributes: {
        [A.ATTR_OUTCOME_NAME]: name,
        [A.ATTR_OUTCOME_COUNT]: count,
        [A.ATTR_OUTCOME_VALUE_USD]: (o.valueUsd ?? 0) * count,
      },
    },
    () => undefined,
  );
}
