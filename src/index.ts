/**
 * spanledger: prices every span of AI-agent work, rolls cost up per trace and enforces budgets.
 * The public API, exported by name; everything else in `src/` is internal.
 */
export {
  ATTRIBUTION_KEYS,
  type AttributionDimensions,
  type AttributionOptions,
  OTHER,
  withAttribution,
} from './attribution/attribution.js';
export type { BudgetAction, BudgetInput, DegradeSuggestion } from './budgets/config.js';
export {
  type BudgetDecision,
  BudgetExceededError,
  type BudgetLimit,
  type BudgetRefusal,
  type CheckInput,
  type LimitUnit,
} from './budgets/decisions.js';
export { MemoryLedger, type MemoryLedgerOptions } from './budgets/memory-ledger.js';
export {
  RedisLedger,
  type RedisLedgerOptions,
  type RedisLedgerStats,
} from './budgets/redis-ledger.js';
export type { BudgetEvent } from './budgets/signals.js';
export type {
  BudgetLedger,
  BudgetLedgerStats,
  KeyRef,
  PausedScope,
  PauseInfo,
  PauseResult,
  ReserveResult,
  WindowRef,
  WindowTotals,
} from './budgets/types.js';
export type { CostOptions } from './helpers/cost.js';
export {
  type EvaluationOptions,
  type EvaluationResult,
  type EvaluationResultOptions,
  recordEvaluationResult,
  traceEvaluation,
} from './helpers/evaluation.js';
export { type ExternalOptions, traceExternal } from './helpers/external.js';
export { type HumanReviewOptions, traceHumanReview } from './helpers/human-review.js';
export { type OutcomeOptions, recordOutcome } from './helpers/outcome.js';
export { type RetrievalOptions, traceRetrieval } from './helpers/retrieval.js';
export type { HelperOptions, SpanHelper } from './helpers/run.js';
export { type ToolOptions, traceTool } from './helpers/tool.js';
/**
 * OpenAI client instrumentation: exact usage (cached input, reasoning, service tier) for pricing,
 * one span per call. Beside the contrib `OpenAIInstrumentation` (openai 4 to 6) it enriches the
 * contrib's spans; alone (openai 7) it starts its own. See docs/clients.md.
 */
export {
  OpenAIUsageInstrumentation,
  type OpenAIUsageInstrumentationConfig,
} from './instrumentation/openai.js';
export {
  type BudgetCallOptions,
  type BudgetPause,
  type BudgetScopeRef,
  createSpanLedger,
  type PauseOptions,
  type Reservation,
  type SpanLedger,
  type SpanLedgerOptions,
  type SpanLedgerStats,
} from './ledger.js';
export { ConfigError, type PricesConfigInput } from './pricing/config.js';
export {
  PriceBook,
  type PriceBookOptions,
  type PriceResult,
  type PriceUsageOptions,
  priceUsage,
  type UsageRecord,
} from './pricing/price-book.js';
export { registeredLedger } from './registered.js';
export type { CostCategory, CostSource, CostStatus } from './semconv.js';
