/**
 * `createSpanLedger(options)`: the one object an application creates. It validates the prices
 * file once, at construction (bad configuration fails fast, naming file, entry and reason), and
 * hands out the span processor to register first.
 */
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { type ProblemCounts, Reporter } from './diag.js';
import type { PricesConfigInput } from './pricing/config.js';
import { PriceBook } from './pricing/price-book.js';
import { CostProcessor, type PricingCounts } from './processor/processor.js';
import { TraceRegistry } from './processor/rollup.js';
import { UnitRules } from './processor/rules.js';

/** Options of {@link createSpanLedger}. */
export interface SpanLedgerOptions {
  /** Prices file (YAML or JSON path) or the same content as an object: contract prices,
   * custom models, aliases, discounts, service tiers, tool/retrieval/human-review rules.
   * Default: the bundled catalog only. */
  prices?: string | PricesConfigInput;
  /** A prepared price book, shared with other code (instead of `prices`). */
  priceBook?: PriceBook;
  /** Also write `gen_ai.usage.cost.amount|currency|source` (the proposed GenAI semconv cost
   * attributes) on inference spans. Default true. */
  semconvCostAttributes?: boolean;
  /** Cap on open traces (local roots not yet ended) holding rollup state; the oldest are
   * evicted beyond it. Default 10000 (about 3 MB). */
  maxOpenTraces?: number;
  /** Evict a trace's rollup state when its local root has been open this long. Default
   * 3600000 (one hour). */
  traceTtlMs?: number;
}

/** Counters since start: spans by pricing outcome, and run-time problems by kind. */
export interface SpanLedgerStats {
  spans: PricingCounts;
  /** Open traces with rollup state, and how many were evicted by the cap or the expiry. */
  traces: { open: number; evictions: number };
  problems: ProblemCounts;
}

/** What {@link createSpanLedger} returns. */
export interface SpanLedger {
  /** The span processor. Register it before any exporting processor. */
  readonly processor: SpanProcessor;
  /** The price book in use (also usable with `priceUsage`). */
  readonly priceBook: PriceBook;
  /** Counters since start. */
  stats(): SpanLedgerStats;
  /** Flush and stop; idempotent. Logs the run-time problem counts once through OTel diag. */
  shutdown(): Promise<void>;
}

/** Create the ledger: the cost processor and its price book. Throws `ConfigError` on bad
 * configuration (at startup, never at run time). */
export function createSpanLedger(options: SpanLedgerOptions = {}): SpanLedger {
  if (options.priceBook !== undefined && options.prices !== undefined) {
    throw new TypeError('spanledger: give either prices or priceBook, not both');
  }
  const priceBook = options.priceBook ?? new PriceBook({ prices: options.prices });
  const reporter = new Reporter();
  const traces = new TraceRegistry({
    ...(options.maxOpenTraces !== undefined ? { maxOpenTraces: options.maxOpenTraces } : {}),
    ...(options.traceTtlMs !== undefined ? { traceTtlMs: options.traceTtlMs } : {}),
  });
  const processor = new CostProcessor({
    traces,
    context: { priceBook, rules: new UnitRules(priceBook.config) },
    reporter,
    semconvCostAttributes: options.semconvCostAttributes ?? true,
  });
  let shutdown: Promise<void> | undefined;
  return {
    processor,
    priceBook,
    stats: () => ({
      spans: { ...processor.counts },
      traces: { open: traces.size, evictions: traces.evictions },
      problems: reporter.snapshot(),
    }),
    shutdown() {
      shutdown ??= processor.shutdown().then(() => reporter.summary());
      return shutdown;
    },
  };
}
