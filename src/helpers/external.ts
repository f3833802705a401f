/** `traceExternal`: other metered SaaS the agent triggers (category `external`). */
import { SpanKind } from '@opentelemetry/api';
import * as A from '../semconv.js';
import { type CostOptions, costAttributes, UNIT_CHECKS } from './cost.js';
import { type HelperOptions, spanHelper } from './run.js';

/** Options of {@link traceExternal}. */
export interface ExternalOptions extends HelperOptions, CostOptions {
  /** The unit of `quantity` (`page`, `minute`, `credit`), kept as `spanledger.usage.unit`. */
  unit?: string;
}

/**
 * `traceExternal(service, options, fn)`: run `fn` as a call to a metered external service, span
 * `external {service}` with category `external`, priced by `costUsd` (source `provider`, or
 * `manual` with `costSource`). Without a cost the span is `unpriced` (`no_cost_reported`), never
 * $0; set `spanledger.reported.cost.usd` on the span inside `fn` when the cost arrives with the
 * response. Returns what `fn` returns; errors are recorded on the span and rethrown.
 */
export const traceExternal = spanHelper<ExternalOptions>(
  'traceExternal',
  'service',
  UNIT_CHECKS,
  (service, o) => ({
    name: `external ${service}`,
    kind: SpanKind.CLIENT,
    attributes: {
      [A.ATTR_CATEGORY]: 'external',
      ...costAttributes(o),
      ...(o.unit !== undefined ? { [A.ATTR_USAGE_UNIT]: o.unit } : {}),
    },
  }),
);
