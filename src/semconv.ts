/**
 * Every attribute name spanledger reads or writes, in one place.
 *
 * The OTel GenAI constants in `@opentelemetry/semantic-conventions` are deprecated (moved to the
 * semantic-conventions-genai repository), whose advice is to copy the strings: so they live here.
 * `docs/conventions.md` documents each of them; keep the two in step.
 */

// --- OTel GenAI semantic conventions (read) ---
export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
export const ATTR_GEN_AI_SYSTEM = 'gen_ai.system';
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
export const ATTR_GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
export const ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = 'gen_ai.usage.cache_read.input_tokens';
export const ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS =
  'gen_ai.usage.cache_creation.input_tokens';
export const ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = 'gen_ai.usage.reasoning.output_tokens';
export const ATTR_GEN_AI_TOOL_NAME = 'gen_ai.tool.name';
export const ATTR_GEN_AI_AGENT_NAME = 'gen_ai.agent.name';
export const ATTR_GEN_AI_DATA_SOURCE_ID = 'gen_ai.data_source.id';
export const ATTR_GEN_AI_EVALUATION_NAME = 'gen_ai.evaluation.name';
/** GenAI semconv event with an evaluation's result (written by `recordEvaluationResult`). */
export const EVENT_GEN_AI_EVALUATION_RESULT = 'gen_ai.evaluation.result';
export const ATTR_GEN_AI_EVALUATION_SCORE_VALUE = 'gen_ai.evaluation.score.value';
export const ATTR_GEN_AI_EVALUATION_SCORE_LABEL = 'gen_ai.evaluation.score.label';
export const ATTR_GEN_AI_EVALUATION_EXPLANATION = 'gen_ai.evaluation.explanation';
/** The evaluated completion, when the event cannot sit on its span. */
export const ATTR_GEN_AI_RESPONSE_ID = 'gen_ai.response.id';
export const ATTR_GEN_AI_TOOL_CALL_ID = 'gen_ai.tool.call.id';
/** OTel general semconv: the class of error an operation ended with. */
export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_GEN_AI_OPENAI_REQUEST_SERVICE_TIER = 'gen_ai.openai.request.service_tier';
export const ATTR_GEN_AI_OPENAI_RESPONSE_SERVICE_TIER = 'gen_ai.openai.response.service_tier';
export const ATTR_OPENAI_REQUEST_SERVICE_TIER = 'openai.request.service_tier';
export const ATTR_OPENAI_RESPONSE_SERVICE_TIER = 'openai.response.service_tier';
export const ATTR_DB_SYSTEM = 'db.system';
export const ATTR_DB_SYSTEM_NAME = 'db.system.name';
export const ATTR_MCP_SERVER_NAME = 'mcp.server.name';
export const ATTR_SERVER_ADDRESS = 'server.address';
export const ATTR_SERVER_PORT = 'server.port';
/** Resource attribute: one running process of a service (its series in the metrics). */
export const ATTR_SERVICE_INSTANCE_ID = 'service.instance.id';
/** Token type on `spanledger.tokens` (input, output, cache_read, cache_write, reasoning). */
export const ATTR_GEN_AI_TOKEN_TYPE = 'gen_ai.token.type';

// --- legacy and vendor usage forms (read) ---
export const ATTR_GEN_AI_USAGE_PROMPT_TOKENS = 'gen_ai.usage.prompt_tokens';
export const ATTR_GEN_AI_USAGE_COMPLETION_TOKENS = 'gen_ai.usage.completion_tokens';
/** OpenLLMetry (Traceloop): Anthropic-style, excluded from `input_tokens`. */
export const ATTR_TRACELOOP_CACHE_READ_INPUT_TOKENS = 'gen_ai.usage.cache_read_input_tokens';
/** OpenLLMetry (Traceloop): Anthropic-style, excluded from `input_tokens`. */
export const ATTR_TRACELOOP_CACHE_CREATION_INPUT_TOKENS =
  'gen_ai.usage.cache_creation_input_tokens';
/** `@anthropic-ai/sdk` built-in spans: cache writes, inside the (inclusive) input count. */
export const ATTR_ANTHROPIC_SDK_CACHE_WRITE_INPUT_TOKENS = 'gen_ai.usage.cache_write.input_tokens';
/** `@anthropic-ai/sdk` built-in spans: the part of the cache writes made with a 1-hour TTL. */
export const ATTR_ANTHROPIC_CACHE_WRITE_1H_INPUT_TOKENS =
  'anthropic.usage.cache_creation.ephemeral_1h_input_tokens';
export const ATTR_TRACELOOP_SPAN_KIND = 'traceloop.span.kind';
/** OpenLLMetry / OpenLIT reasoning count. */
export const ATTR_GEN_AI_USAGE_REASONING_TOKENS = 'gen_ai.usage.reasoning_tokens';
/** Written by OpenLIT on its spans; its Anthropic input count excludes the cache. */
export const ATTR_TELEMETRY_SDK_NAME = 'telemetry.sdk.name';

export const ATTR_OPENINFERENCE_SPAN_KIND = 'openinference.span.kind';
export const ATTR_LLM_PROVIDER = 'llm.provider';
export const ATTR_LLM_SYSTEM = 'llm.system';
export const ATTR_LLM_MODEL_NAME = 'llm.model_name';
export const ATTR_LLM_TOKEN_COUNT_PROMPT = 'llm.token_count.prompt';
export const ATTR_LLM_TOKEN_COUNT_COMPLETION = 'llm.token_count.completion';
export const ATTR_LLM_TOKEN_COUNT_PROMPT_CACHE_READ = 'llm.token_count.prompt_details.cache_read';
export const ATTR_LLM_TOKEN_COUNT_PROMPT_CACHE_WRITE = 'llm.token_count.prompt_details.cache_write';
export const ATTR_LLM_TOKEN_COUNT_COMPLETION_REASONING =
  'llm.token_count.completion_details.reasoning';
export const ATTR_LLM_TOKEN_COUNT_PROMPT_AUDIO = 'llm.token_count.prompt_details.audio';
export const ATTR_LLM_TOKEN_COUNT_COMPLETION_AUDIO = 'llm.token_count.completion_details.audio';

export const ATTR_AI_MODEL_ID = 'ai.model.id';
export const ATTR_AI_MODEL_PROVIDER = 'ai.model.provider';
export const ATTR_AI_USAGE_INPUT_TOKENS = 'ai.usage.inputTokens';
export const ATTR_AI_USAGE_OUTPUT_TOKENS = 'ai.usage.outputTokens';
export const ATTR_AI_USAGE_PROMPT_TOKENS = 'ai.usage.promptTokens';
export const ATTR_AI_USAGE_COMPLETION_TOKENS = 'ai.usage.completionTokens';
export const ATTR_AI_USAGE_CACHED_INPUT_TOKENS = 'ai.usage.cachedInputTokens';
export const ATTR_AI_USAGE_REASONING_TOKENS = 'ai.usage.reasoningTokens';
export const ATTR_AI_USAGE_INPUT_CACHE_READ_TOKENS = 'ai.usage.inputTokenDetails.cacheReadTokens';
export const ATTR_AI_USAGE_INPUT_CACHE_WRITE_TOKENS = 'ai.usage.inputTokenDetails.cacheWriteTokens';
export const ATTR_AI_USAGE_OUTPUT_REASONING_TOKENS = 'ai.usage.outputTokenDetails.reasoningTokens';
export const ATTR_AI_TOOL_CALL_NAME = 'ai.toolCall.name';
/** Vercel AI SDK: the tool call's arguments (JSON), read for loop detection. */
export const ATTR_AI_TOOL_CALL_ARGS = 'ai.toolCall.args';
export const ATTR_AI_RESPONSE_MODEL = 'ai.response.model';
/** Vercel AI SDK embeddings: input tokens. */
export const ATTR_AI_USAGE_TOKENS = 'ai.usage.tokens';
/** Vercel AI SDK: provider metadata JSON (v5 Anthropic keeps the cache split only here). */
export const ATTR_AI_RESPONSE_PROVIDER_METADATA = 'ai.response.providerMetadata';
/** OpenInference embeddings model. */
export const ATTR_EMBEDDING_MODEL_NAME = 'embedding.model_name';
/** Langfuse: a JSON object of disjoint usage buckets (`input` excludes `input_*` details). */
export const ATTR_LANGFUSE_USAGE_DETAILS = 'langfuse.observation.usage_details';
/** Langfuse model name. */
export const ATTR_LANGFUSE_MODEL_NAME = 'langfuse.observation.model.name';

// --- provider-reported cost attributes already in the wild (read, preferred over estimates) ---
/** Proposed GenAI semconv cost attributes (semantic-conventions-genai PR #443). */
export const ATTR_GEN_AI_USAGE_COST_AMOUNT = 'gen_ai.usage.cost.amount';
export const ATTR_GEN_AI_USAGE_COST_CURRENCY = 'gen_ai.usage.cost.currency';
export const ATTR_GEN_AI_USAGE_COST_SOURCE = 'gen_ai.usage.cost.source';
/** OpenLIT. */
export const ATTR_GEN_AI_USAGE_COST = 'gen_ai.usage.cost';
/** LiteLLM. */
export const ATTR_GEN_AI_COST_TOTAL_COST = 'gen_ai.cost.total_cost';
/** OpenInference. */
export const ATTR_LLM_COST_TOTAL = 'llm.cost.total';
/** Langfuse: a JSON object whose `total` is the cost. */
export const ATTR_LANGFUSE_COST_DETAILS = 'langfuse.observation.cost_details';

/** Reported cost keys in order of preference. */
export const REPORTED_COST_KEYS: readonly string[] = [
  ATTR_GEN_AI_USAGE_COST_AMOUNT,
  ATTR_GEN_AI_USAGE_COST,
  ATTR_GEN_AI_COST_TOTAL_COST,
  ATTR_LLM_COST_TOTAL,
];

// --- spanledger inputs set by user code or helpers (read) ---
/** Explicit category for a span (one of the six); wins over any inference. */
export const ATTR_CATEGORY = 'spanledger.cost.category';
/** Cost that the called service itself reported for this span (source `provider`). */
export const ATTR_REPORTED_COST_USD = 'spanledger.reported.cost.usd';
/** Cost that application code states for this span (source `manual`). */
export const ATTR_MANUAL_COST_USD = 'spanledger.manual.cost.usd';
/** Minutes of human review done in this span. */
export const ATTR_HUMAN_REVIEW_MINUTES = 'spanledger.human_review.minutes';
/** Reviewer role, to choose a rate (optional). */
export const ATTR_HUMAN_REVIEW_ROLE = 'spanledger.human_review.role';
/** Service tier when no provider attribute carries it (`batch`, `flex`, `priority`, ...). */
export const ATTR_SERVICE_TIER = 'spanledger.service_tier';
/** Seconds of compute for models priced per second (self-hosted). */
export const ATTR_USAGE_SECONDS = 'spanledger.usage.seconds';

// --- business outcomes (set by `recordOutcome`, read by the processor; never cost) ---
/** Marks an outcome span and names the outcome (`ticket_resolved`). */
export const ATTR_OUTCOME_NAME = 'spanledger.outcome.name';
/** How many outcomes the span records (default 1). */
export const ATTR_OUTCOME_COUNT = 'spanledger.outcome.count';
/** Business value of the outcomes the span records (all of them), USD. */
export const ATTR_OUTCOME_VALUE_USD = 'spanledger.outcome.value.usd';

// --- attribution dimensions (fixed keys, docs/conventions.md; names and extras live in dimensions.ts) ---
export const ATTR_TEAM = 'spanledger.team';
export const ATTR_COST_CENTER = 'spanledger.cost_center';
export const ATTR_TENANT = 'spanledger.tenant';
export const ATTR_USE_CASE = 'spanledger.use_case';

// --- written by the processor (fixed, docs/conventions.md) ---
export const ATTR_COST_USD = 'spanledger.cost.usd';
export const ATTR_COST_CATEGORY = ATTR_CATEGORY;
export const ATTR_COST_STATUS = 'spanledger.cost.status';
export const ATTR_COST_SOURCE = 'spanledger.cost.source';
export const ATTR_COST_UNPRICED_REASON = 'spanledger.cost.unpriced_reason';
export const ATTR_COST_INPUT_USD = 'spanledger.cost.input_usd';
export const ATTR_COST_OUTPUT_USD = 'spanledger.cost.output_usd';
export const ATTR_COST_CACHE_READ_USD = 'spanledger.cost.cache_read_usd';
export const ATTR_COST_CACHE_WRITE_USD = 'spanledger.cost.cache_write_usd';
export const ATTR_COST_CACHE_SAVINGS_USD = 'spanledger.cost.cache_savings_usd';
/** Local catalog estimate kept beside a provider-reported cost, for reconciliation. */
export const ATTR_COST_ESTIMATED_USD = 'spanledger.cost.estimated_usd';
export const ATTR_PRICING_PROVIDER = 'spanledger.pricing.provider';
export const ATTR_PRICING_MODEL = 'spanledger.pricing.model';
export const ATTR_PRICING_CATALOG = 'spanledger.pricing.catalog';
export const ATTR_PRICING_SERVICE_TIER = 'spanledger.pricing.service_tier';
/** `exact`, or `approximate` when the catalog matched the model id only by a prefix or
 * substring rule (docs/pricing.md, "Approximate matches"). */
export const ATTR_PRICING_MATCH = 'spanledger.pricing.match';
/** On the `spanledger.cost.alternative.usd` metric (and on spans, a string array, with
 * `routing.onSpans`): the model the same usage was priced on (docs/pricing.md, "Routing
 * counterfactuals"). */
export const ATTR_ALTERNATIVE_MODEL = 'spanledger.alternative.model';
/** With `routing.onSpans`: what the span's usage would have cost on each alternative (double
 * array, in the order of `spanledger.alternative.model`). Also the counter's name. */
export const ATTR_COST_ALTERNATIVE_USD = 'spanledger.cost.alternative.usd';
export const ATTR_USAGE_QUANTITY = 'spanledger.usage.quantity';
export const ATTR_USAGE_UNIT = 'spanledger.usage.unit';

// --- rollups written by the processor (fixed, docs/conventions.md) ---
/** On every span whose subtree (itself and its descendants) carries cost. */
export const ATTR_SUBTREE_COST_USD = 'spanledger.subtree.cost.usd';
export const ATTR_TRACE_COST_USD = 'spanledger.trace.cost.usd';
export const ATTR_TRACE_LLM_CALLS = 'spanledger.trace.llm_calls';
export const ATTR_TRACE_TOOL_CALLS = 'spanledger.trace.tool_calls';
export const ATTR_TRACE_RETRIEVALS = 'spanledger.trace.retrievals';
export const ATTR_TRACE_EVALUATIONS = 'spanledger.trace.evaluations';
export const ATTR_TRACE_INPUT_TOKENS = 'spanledger.trace.input_tokens';
export const ATTR_TRACE_OUTPUT_TOKENS = 'spanledger.trace.output_tokens';
export const ATTR_TRACE_CACHE_READ_TOKENS = 'spanledger.trace.cache_read_tokens';
export const ATTR_TRACE_UNPRICED_SPANS = 'spanledger.trace.unpriced_spans';
export const ATTR_TRACE_FAILED_COST_USD = 'spanledger.trace.failed_cost.usd';
/** On the local root: `priced`, or `partial` when any span of the run is unpriced or partly
 * priced (the run total is then a lower bound, never a silent 0). */
export const ATTR_TRACE_COST_STATUS = 'spanledger.trace.cost.status';

// --- budgets (fixed, docs/conventions.md) ---
export const EVENT_BUDGET_WARNING = 'spanledger.budget.warning';
export const EVENT_BUDGET_EXCEEDED = 'spanledger.budget.exceeded';
export const ATTR_BUDGET_NAME = 'spanledger.budget.name';
export const ATTR_BUDGET_LIMIT_USD = 'spanledger.budget.limit_usd';
export const ATTR_BUDGET_SPENT_USD = 'spanledger.budget.spent_usd';
export const ATTR_BUDGET_ACTION = 'spanledger.budget.action';
/** On the local root: names of the budgets the run exceeded (string array). */
export const ATTR_BUDGET_EXCEEDED = 'spanledger.budget.exceeded';
/** Tool call arguments (GenAI semconv, opt-in), fingerprinted for loop detection. */
export const ATTR_GEN_AI_TOOL_CALL_ARGUMENTS = 'gen_ai.tool.call.arguments';

/** `spanledger.trace.cost.<category>.usd` on the local root. */
export function traceCategoryCostAttribute(category: CostCategory): string {
  return `spanledger.trace.cost.${category}.usd`;
}

export const COST_CATEGORIES = [
  'llm',
  'tool',
  'retrieval',
  'evaluation',
  'human_review',
  'external',
] as const;
/** One of the six cost categories (docs/conventions.md). */
export type CostCategory = (typeof COST_CATEGORIES)[number];

/** `spanledger.trace.cost.status` values. */
export type RunCostStatus = 'priced' | 'partial';
/** `spanledger.cost.status` values. */
export type CostStatus = 'priced' | 'unpriced' | 'partial';
/** `spanledger.cost.source` values. */
export type CostSource = 'catalog' | 'override' | 'provider' | 'rule' | 'manual';
