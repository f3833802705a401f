/**
 * Usage normalisation: every emitter's attributes to one usage record, in the OTel semconv
 * convention (input counts include cache reads and writes; output counts include reasoning).
 * This is the one place that knows how each instrumentation counts; see the emitter table in
 * docs/conventions.md and the per-emitter tests.
 */
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import * as A from '../semconv.js';
import type { UsageRecord } from './record.js';

export type { UsageRecord } from './record.js';

/** Largest token count accepted from one call; anything above is treated as garbage. */
export const MAX_TOKENS = 1e9;

/**
 * One model call read off a span: its usage record (the type the price book prices, so the
 * call is priced as it is, with no copy) plus what only a span can tell. Counts are always
 * present here. `model` is the best candidate id (the response model, else the request model;
 * `''` when the span names neither) and `fallbackModels` holds the request model when it differs.
 */
export interface LlmCall extends UsageRecord {
  fallbackModels: string[];
  operation?: string;
  /** Whether any usage attribute was present (valid or not). */
  hasUsage: boolean;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  cacheWrite1hTokens: number;
  reasoningTokens: number;
  inputAudioTokens: number;
  outputAudioTokens: number;
  /** Provider-reported cost in USD, and the attribute it came from. */
  reportedCostUsd?: number;
  reportedCostKey?: string;
  /** Attribute keys whose values were unusable (wrong type, negative, NaN, absurd). */
  invalid: string[];
}

/** Provider name given to Azure OpenAI calls whose span names OpenAI (or no provider). */
export const AZURE_OPENAI_PROVIDER = 'azure.ai.openai';

/** Host suffixes of Azure OpenAI resources: `<resource>.openai.azure.com`, and the
 * multi-service `<resource>.cognitiveservices.azure.com`. */
const AZURE_OPENAI_HOST_SUFFIXES = ['.openai.azure.com', '.cognitiveservices.azure.com'];

/** Whether a `server.address` is the host of an Azure OpenAI resource. */
export function isAzureOpenAIHost(host: string): boolean {
  const h = host.toLowerCase();
  return AZURE_OPENAI_HOST_SUFFIXES.some((s) => h.length > s.length && h.endsWith(s));
}

/**
 * The provider of a call, Azure OpenAI recognised: the contrib OpenAI instrumentation (and
 * other OpenAI-client emitters) write `openai` for an `AzureOpenAI` client, and only the host
 * in `server.address` says Azure. Azure's deployment names and contract prices are scoped to
 * Azure in the prices file (docs/pricing.md), so the call must say Azure to find them. Used by
 * the span reader and by `spanledger price --server-address`, so both resolve alike.
 */
export function callProvider(
  emitted: string | undefined,
  serverAddress: unknown,
): string | undefined {
  const p = emitted?.toLowerCase();
  if (p !== undefined && GOOGLE_GENERIC.has(p)) {
    // Vertex AI is billed from its own price list (docs/pricing.md, "Cloud price lists").
    return typeof serverAddress === 'string' && isVertexHost(serverAddress)
      ? VERTEX_PROVIDER
      : emitted;
  }
  if (p !== undefined && p !== 'openai' && !p.startsWith('openai.')) return emitted;
  if (typeof serverAddress !== 'string') return emitted;
  if (isAzureOpenAIHost(serverAddress)) return AZURE_OPENAI_PROVIDER;
  if (emitted === undefined && isVertexHost(serverAddress)) return VERTEX_PROVIDER;
  return emitted;
}

/** Provider name given to calls whose span says Google but not which API, on a Vertex host. */
export const VERTEX_PROVIDER = 'gcp.vertex_ai';

/** Provider names that say Google without saying Gemini API or Vertex AI: the Google Gen AI
 * SDKs call either, and semconv's `gcp.gen_ai` is the "unknown Google API" value. */
const GOOGLE_GENERIC = new Set(['gcp.gen_ai', 'google', 'google_genai', 'google-genai']);

/** Whether a `server.address` is a Vertex AI endpoint: `aiplatform.googleapis.com`, regional
 * `<region>-aiplatform.googleapis.com`. */
export function isVertexHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'aiplatform.googleapis.com' || h.endsWith('-aiplatform.googleapis.com');
}

/** Operations whose spans aggregate their children's usage: never priced from usage. */
const WRAPPER_OPERATIONS = new Set(['invoke_agent', 'invoke_workflow', 'create_agent']);
/** Vercel AI SDK outer spans repeat the usage of their inner `.do*` spans. */
const VERCEL_WRAPPER =
  /^ai\.(generateText|streamText|generateObject|streamObject|embed|embedMany)$/;
/** Span kinds (OpenInference, OpenLLMetry) that aggregate their children. */
const WRAPPER_KINDS = new Set(['AGENT', 'CHAIN', 'agent', 'workflow', 'task']);
const LLM_OPERATIONS = new Set([
  'chat',
  'text_completion',
  'generate_content',
  'embeddings',
  'completion',
  'embedding',
]);

function str(v: AttributeValue | undefined): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

const PROVIDER_KEYS = [
  A.ATTR_GEN_AI_PROVIDER_NAME,
  A.ATTR_GEN_AI_SYSTEM,
  A.ATTR_LLM_PROVIDER,
  A.ATTR_LLM_SYSTEM,
  A.ATTR_AI_MODEL_PROVIDER,
];
const RESPONSE_MODEL_KEYS = [
  A.ATTR_GEN_AI_RESPONSE_MODEL,
  A.ATTR_AI_RESPONSE_MODEL,
  A.ATTR_LANGFUSE_MODEL_NAME,
];
const REQUEST_MODEL_KEYS = [
  A.ATTR_GEN_AI_REQUEST_MODEL,
  A.ATTR_LLM_MODEL_NAME,
  A.ATTR_AI_MODEL_ID,
  A.ATTR_EMBEDDING_MODEL_NAME,
];
const INPUT_KEYS = [
  A.ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  A.ATTR_GEN_AI_USAGE_PROMPT_TOKENS,
  A.ATTR_LLM_TOKEN_COUNT_PROMPT,
  A.ATTR_AI_USAGE_INPUT_TOKENS,
  A.ATTR_AI_USAGE_PROMPT_TOKENS,
  A.ATTR_AI_USAGE_TOKENS,
];
const OUTPUT_KEYS = [
  A.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  A.ATTR_GEN_AI_USAGE_COMPLETION_TOKENS,
  A.ATTR_LLM_TOKEN_COUNT_COMPLETION,
  A.ATTR_AI_USAGE_OUTPUT_TOKENS,
  A.ATTR_AI_USAGE_COMPLETION_TOKENS,
];
/** Cache reads counted inside the input total. */
const CACHE_READ_INCLUSIVE_KEYS = [
  A.ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  A.ATTR_LLM_TOKEN_COUNT_PROMPT_CACHE_READ,
  A.ATTR_AI_USAGE_INPUT_CACHE_READ_TOKENS,
  A.ATTR_AI_USAGE_CACHED_INPUT_TOKENS,
];
const CACHE_WRITE_INCLUSIVE_KEYS = [
  A.ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
  A.ATTR_ANTHROPIC_SDK_CACHE_WRITE_INPUT_TOKENS,
  A.ATTR_LLM_TOKEN_COUNT_PROMPT_CACHE_WRITE,
  A.ATTR_AI_USAGE_INPUT_CACHE_WRITE_TOKENS,
];
const REASONING_KEYS = [
  A.ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
  A.ATTR_LLM_TOKEN_COUNT_COMPLETION_REASONING,
  A.ATTR_AI_USAGE_OUTPUT_REASONING_TOKENS,
  A.ATTR_AI_USAGE_REASONING_TOKENS,
  A.ATTR_GEN_AI_USAGE_REASONING_TOKENS,
];
const CACHE_WRITE_1H_KEYS = [A.ATTR_ANTHROPIC_CACHE_WRITE_1H_INPUT_TOKENS];
const INPUT_AUDIO_KEYS = [A.ATTR_LLM_TOKEN_COUNT_PROMPT_AUDIO];
const OUTPUT_AUDIO_KEYS = [A.ATTR_LLM_TOKEN_COUNT_COMPLETION_AUDIO];
const SERVICE_TIER_KEYS = [
  A.ATTR_OPENAI_RESPONSE_SERVICE_TIER,
  A.ATTR_GEN_AI_OPENAI_RESPONSE_SERVICE_TIER,
  A.ATTR_OPENAI_REQUEST_SERVICE_TIER,
  A.ATTR_GEN_AI_OPENAI_REQUEST_SERVICE_TIER,
  A.ATTR_SERVICE_TIER,
];

const EXCLUSIVE_READ_KEYS = [A.ATTR_TRACELOOP_CACHE_READ_INPUT_TOKENS];
const EXCLUSIVE_WRITE_KEYS = [A.ATTR_TRACELOOP_CACHE_CREATION_INPUT_TOKENS];

// Key groups, one per field, each in order of preference. A span's attributes are scanned once
// and each field takes its most preferred present key: one pass over the few keys a span has
// instead of a lookup for each of the ~45 keys spanledger knows (most of them absent).
const GROUPS: readonly (readonly string[])[] = [
  PROVIDER_KEYS,
  RESPONSE_MODEL_KEYS,
  REQUEST_MODEL_KEYS,
  INPUT_KEYS,
  OUTPUT_KEYS,
  CACHE_READ_INCLUSIVE_KEYS,
  CACHE_WRITE_INCLUSIVE_KEYS,
  EXCLUSIVE_READ_KEYS,
  EXCLUSIVE_WRITE_KEYS,
  REASONING_KEYS,
  INPUT_AUDIO_KEYS,
  OUTPUT_AUDIO_KEYS,
  SERVICE_TIER_KEYS,
  CACHE_WRITE_1H_KEYS,
];
const F_PROVIDER = 0;
const F_RESPONSE_MODEL = 1;
const F_REQUEST_MODEL = 2;
const F_INPUT = 3;
const F_OUTPUT = 4;
const F_CACHE_READ = 5;
const F_CACHE_WRITE = 6;
const F_EXCLUSIVE_READ = 7;
const F_EXCLUSIVE_WRITE = 8;
const F_REASONING = 9;
const F_INPUT_AUDIO = 10;
const F_OUTPUT_AUDIO = 11;
const F_SERVICE_TIER = 12;
const F_CACHE_WRITE_1H = 13;

/** Keys that {@link ownCategory}-style checks read besides the operation name (category
 * signals: an explicit category, human review, evaluation, span kinds, vector databases). */
export const RARE_CATEGORY = 1;
/** Manual and reported cost, usage seconds and quantity (read by the pricing step). */
export const RARE_PRICE = 2;
/** Provider-reported cost keys (read by {@link reportedCost}). */
export const RARE_COST = 4;
/** Usage kept in JSON (Langfuse usage details, Vercel AI SDK provider metadata). */
export const RARE_USAGE = 8;
/** Every group: what a caller that did not scan must assume. */
export const RARE_ALL = RARE_CATEGORY | RARE_PRICE | RARE_COST | RARE_USAGE;
const RARE_GROUPS: readonly [number, readonly string[]][] = [
  [
    RARE_CATEGORY,
    [
      A.ATTR_CATEGORY,
      A.ATTR_HUMAN_REVIEW_MINUTES,
      A.ATTR_GEN_AI_EVALUATION_NAME,
      A.ATTR_OPENINFERENCE_SPAN_KIND,
      A.ATTR_TRACELOOP_SPAN_KIND,
      A.ATTR_DB_SYSTEM_NAME,
      A.ATTR_DB_SYSTEM,
    ],
  ],
  [
    RARE_PRICE,
    [A.ATTR_MANUAL_COST_USD, A.ATTR_REPORTED_COST_USD, A.ATTR_USAGE_SECONDS, A.ATTR_USAGE_QUANTITY],
  ],
  [
    RARE_COST,
    [...A.REPORTED_COST_KEYS, A.ATTR_LANGFUSE_COST_DETAILS, A.ATTR_GEN_AI_USAGE_COST_CURRENCY],
  ],
  [RARE_USAGE, [A.ATTR_LANGFUSE_USAGE_DETAILS, A.ATTR_AI_RESPONSE_PROVIDER_METADATA]],
];

// A usage key's slot is field * 64 + rank (>= 0); a rare key's is minus its group's bit.
const SLOT = new Map<string, number>();
GROUPS.forEach((keys, field) => {
  keys.forEach((key, rank) => {
    SLOT.set(key, field * 64 + rank);
  });
});
for (const [bit, keys] of RARE_GROUPS) for (const key of keys) SLOT.set(key, -bit);
// Reused across calls: the processor is synchronous, so one scratch array cannot be shared by
// two reads at once, and the hot path allocates nothing for it.
const best = new Int8Array(GROUPS.length);

/**
 * One pass over a span's keys: each usage field's most preferred present key (kept in `best` for
 * the reads that follow), and which groups of rare keys are present (returned as bits), so the
 * steps after it skip reading keys a span does not have (docs/performance.md, "per-call cuts on
 * real spans"). The processor calls it once per span, before the category and the call.
 */
export function scanAttributes(attrs: Attributes): number {
  best.fill(-1);
  let rare = 0;
  for (const k in attrs) {
    const slot = SLOT.get(k);
    if (slot === undefined) continue;
    if (slot < 0) {
      rare |= -slot;
      continue;
    }
    const field = slot >> 6;
    const rank = slot & 63;
    const current = best[field] as number;
    if (current < 0 || rank < current) best[field] = rank;
  }
  return rare;
}

/** The first non-empty string among a field's keys, by preference. */
function first(attrs: Attributes, field: number): string | undefined {
  const rank = best[field] as number;
  if (rank < 0) return undefined;
  const keys = GROUPS[field] as readonly string[];
  for (let i = rank; i < keys.length; i++) {
    const v = str(attrs[keys[i] as string]);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** Read a token count: a non-negative integer below MAX_TOKENS, else recorded as invalid. */
function tokens(attrs: Attributes, field: number, call: LlmCall): number | undefined {
  const rank = best[field] as number;
  if (rank < 0) return undefined;
  const keys = GROUPS[field] as readonly string[];
  for (let i = rank; i < keys.length; i++) {
    const k = keys[i] as string;
    const v = attrs[k];
    if (v === undefined || v === null) continue;
    call.hasUsage = true;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_TOKENS) return v;
    call.invalid.push(k);
    return undefined;
  }
  return undefined;
}

/** Whether a span only aggregates the usage of its children (agent, workflow, outer SDK span). */
export function isWrapperSpan(name: string, attrs: Attributes, rare = RARE_ALL): boolean {
  const op = attrs[A.ATTR_GEN_AI_OPERATION_NAME];
  if (typeof op === 'string' && WRAPPER_OPERATIONS.has(op)) return true;
  if ((rare & RARE_CATEGORY) !== 0) {
    const kind = attrs[A.ATTR_OPENINFERENCE_SPAN_KIND] ?? attrs[A.ATTR_TRACELOOP_SPAN_KIND];
    if (typeof kind === 'string' && WRAPPER_KINDS.has(kind)) return true;
  }
  return name.startsWith('ai.') && VERCEL_WRAPPER.test(name);
}

/** Reported cost in USD from any known cost attribute (first usable wins). */
export function reportedCost(
  attrs: Attributes,
  call: { invalid: string[] },
): [number, string] | undefined {
  const currency = attrs[A.ATTR_GEN_AI_USAGE_COST_CURRENCY];
  for (const k of A.REPORTED_COST_KEYS) {
    const v = attrs[k];
    if (v === undefined || v === null) continue;
    if (k === A.ATTR_GEN_AI_USAGE_COST_AMOUNT && currency !== undefined && currency !== 'USD') {
      // A cost in another currency cannot be summed with USD; keep the local estimate instead.
      call.invalid.push(A.ATTR_GEN_AI_USAGE_COST_CURRENCY);
      continue;
    }
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 1e6) return [v, k];
    call.invalid.push(k);
  }
  const details = attrs[A.ATTR_LANGFUSE_COST_DETAILS];
  if (typeof details === 'string') {
    try {
      const parsed = JSON.parse(details) as { total?: unknown };
      const total = parsed?.total;
      if (typeof total === 'number' && Number.isFinite(total) && total >= 0 && total < 1e6) {
        return [total, A.ATTR_LANGFUSE_COST_DETAILS];
      }
    } catch {
      // fall through: recorded as invalid below
    }
    call.invalid.push(A.ATTR_LANGFUSE_COST_DETAILS);
  }
  return undefined;
}

/**
 * Read a model call off a span's attributes, or undefined when the span is not one
 * (no model, no usage, no inference operation).
 */
export function readLlmCall(
  _name: string,
  attrs: Attributes,
  scope?: InstrumentationScopeView,
  scanned?: number,
): LlmCall | undefined {
  // `scanned`: the bits scanAttributes just returned for these attributes (nothing scanned
  // since), so the scan is not repeated.
  const rare = scanned ?? scanAttributes(attrs);
  const responseModel = first(attrs, F_RESPONSE_MODEL);
  const requestModel = first(attrs, F_REQUEST_MODEL);
  const operation = str(attrs[A.ATTR_GEN_AI_OPERATION_NAME]);
  const kind = (rare & RARE_CATEGORY) !== 0 ? attrs[A.ATTR_OPENINFERENCE_SPAN_KIND] : undefined;
  // Every field present from the start, absent ones `undefined`: one object shape for every
  // call, so the price book's reads of it stay monomorphic whatever the emitter.
  const call: LlmCall = {
    provider: callProvider(first(attrs, F_PROVIDER), attrs[A.ATTR_SERVER_ADDRESS]),
    model: responseModel ?? requestModel ?? '',
    fallbackModels: [],
    operation,
    hasUsage: false,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    cacheWrite1hTokens: 0,
    reasoningTokens: 0,
    inputAudioTokens: 0,
    outputAudioTokens: 0,
    seconds: undefined,
    serviceTier: undefined,
    reportedCostUsd: undefined,
    reportedCostKey: undefined,
    invalid: [],
  };
  if (responseModel && requestModel && requestModel !== responseModel) {
    call.fallbackModels.push(requestModel);
  }

  let input = tokens(attrs, F_INPUT, call);
  let output = tokens(attrs, F_OUTPUT, call);
  let langfuse: Buckets | undefined;
  if (input === undefined && output === undefined && (rare & RARE_USAGE) !== 0) {
    langfuse = langfuseUsage(attrs, call);
    if (langfuse) {
      input = langfuse.input;
      output = langfuse.output;
    }
  }
  let cacheRead = tokens(attrs, F_CACHE_READ, call) ?? langfuse?.cacheRead;
  let cacheWrite = tokens(attrs, F_CACHE_WRITE, call) ?? langfuse?.cacheWrite;
  // OpenLLMetry writes Anthropic's own counts: its input excludes cache reads and writes.
  const exclusiveRead = tokens(attrs, F_EXCLUSIVE_READ, call);
  const exclusiveWrite = tokens(attrs, F_EXCLUSIVE_WRITE, call);
  let exclusive = false;
  if (cacheWrite === undefined && (rare & RARE_USAGE) !== 0) {
    const meta = anthropicMetadata(attrs);
    if (meta) {
      cacheRead = meta.read;
      cacheWrite = meta.write;
      // The metadata carries Anthropic's raw input count: equal to ours means ours is raw too.
      exclusive = meta.rawInput !== undefined && meta.rawInput === input;
    }
  }
  if (cacheRead === undefined && cacheWrite === undefined) {
    if (exclusiveRead !== undefined || exclusiveWrite !== undefined) {
      cacheRead = exclusiveRead;
      cacheWrite = exclusiveWrite;
      exclusive = isAnthropic(call.provider);
    }
  }
  let total = input ?? 0;
  const cached = (cacheRead ?? 0) + (cacheWrite ?? 0);
  // Anthropic's API counts input without the cache, and several emitters pass that on under
  // semconv names. A cache count above the input total cannot be inclusive; below it, only
  // emitters known to pass the raw count are corrected (see docs/conventions.md).
  if (
    input !== undefined &&
    cached > 0 &&
    (exclusive || cached > total || exclusiveEmitter(call.provider, attrs, scope))
  ) {
    total += cached;
  }
  call.inputTokens = total;
  call.outputTokens = output ?? 0;
  call.cacheReadTokens = cacheRead ?? 0;
  call.cacheWriteTokens = cacheWrite ?? 0;
  const write1h = tokens(attrs, F_CACHE_WRITE_1H, call);
  if (write1h !== undefined) {
    // A part larger than the whole is garbled: unknown, not a guess at which count is right.
    if (write1h <= call.cacheWriteTokens) call.cacheWrite1hTokens = write1h;
    else call.invalid.push(A.ATTR_ANTHROPIC_CACHE_WRITE_1H_INPUT_TOKENS);
  }
  call.reasoningTokens = tokens(attrs, F_REASONING, call) ?? langfuse?.reasoning ?? 0;
  call.inputAudioTokens = tokens(attrs, F_INPUT_AUDIO, call) ?? 0;
  call.outputAudioTokens = tokens(attrs, F_OUTPUT_AUDIO, call) ?? 0;
  if (call.reasoningTokens > call.outputTokens) {
    // Some emitters report reasoning beside output (Gemini's thoughts): fold it in once.
    call.outputTokens += call.reasoningTokens;
  }
  const tier = first(attrs, F_SERVICE_TIER);
  if (tier) call.serviceTier = tier;
  const reported = (rare & RARE_COST) !== 0 ? reportedCost(attrs, call) : undefined;
  if (reported) {
    call.reportedCostUsd = reported[0];
    call.reportedCostKey = reported[1];
  }

  const inferenceKind = kind === 'LLM' || kind === 'EMBEDDING';
  const isCall =
    call.hasUsage ||
    (call.model !== '' &&
      ((operation !== undefined && LLM_OPERATIONS.has(operation)) ||
        inferenceKind ||
        reported !== undefined));
  return isCall ? call : undefined;
}

interface Buckets {
  input: number;
  output: number;
  cacheRead?: number;
  cacheWrite?: number;
  reasoning?: number;
}

/** Langfuse usage details are disjoint buckets: `input` excludes every `input_*` detail and
 * the cache buckets, `output` every `output_*` one. Summing them gives semconv totals. */
function langfuseUsage(attrs: Attributes, call: LlmCall): Buckets | undefined {
  const raw = attrs[A.ATTR_LANGFUSE_USAGE_DETAILS];
  if (typeof raw !== 'string') return undefined;
  call.hasUsage = true;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    call.invalid.push(A.ATTR_LANGFUSE_USAGE_DETAILS);
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) {
    call.invalid.push(A.ATTR_LANGFUSE_USAGE_DETAILS);
    return undefined;
  }
  const b: Buckets = { input: 0, output: 0 };
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (k === 'total') continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_TOKENS) {
      call.invalid.push(A.ATTR_LANGFUSE_USAGE_DETAILS);
      return undefined;
    }
    if (k.includes('cache_read') || k === 'input_cached_tokens')
      b.cacheRead = (b.cacheRead ?? 0) + v;
    else if (k.includes('cache_creation') || k.includes('cache_write'))
      b.cacheWrite = (b.cacheWrite ?? 0) + v;
    if (k.startsWith('output')) {
      b.output += v;
      if (k.includes('reasoning')) b.reasoning = (b.reasoning ?? 0) + v;
    } else {
      b.input += v;
    }
  }
  return b;
}

/** The instrumentation scope of a span (name and version), when known. */
export interface InstrumentationScopeView {
  name: string;
  version?: string;
}

function isAnthropic(provider: string | undefined): boolean {
  return provider?.toLowerCase().startsWith('anthropic') === true;
}

/** Emitters that pass Anthropic's exclusive input count on under inclusive semconv names:
 * OpenLLMetry's Anthropic instrumentation up to 0.27.0, and OpenLIT. */
function exclusiveEmitter(
  provider: string | undefined,
  attrs: Attributes,
  scope: InstrumentationScopeView | undefined,
): boolean {
  if (!isAnthropic(provider)) return false;
  if (attrs[A.ATTR_TELEMETRY_SDK_NAME] === 'openlit') return true;
  if (scope?.name === '@traceloop/instrumentation-anthropic') {
    return scope.version === undefined || compareVersions(scope.version, '0.27.0') <= 0;
  }
  return false;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Vercel AI SDK 5 with the Anthropic provider keeps the cache split only in its provider
 * metadata JSON, in Anthropic's own (exclusive) counting. */
function anthropicMetadata(
  attrs: Attributes,
): { read: number; write: number; rawInput?: number } | undefined {
  const raw = attrs[A.ATTR_AI_RESPONSE_PROVIDER_METADATA];
  if (typeof raw !== 'string' || !raw.includes('anthropic')) return undefined;
  try {
    const usage = (JSON.parse(raw) as { anthropic?: { usage?: Record<string, unknown> } }).anthropic
      ?.usage;
    if (!usage) return undefined;
    const read = usage.cache_read_input_tokens;
    const write = usage.cache_creation_input_tokens;
    const ok = (v: unknown): v is number =>
      typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_TOKENS;
    if (!ok(read) && !ok(write)) return undefined;
    const rawInput = usage.input_tokens;
    return {
      read: ok(read) ? read : 0,
      write: ok(write) ? write : 0,
      ...(ok(rawInput) ? { rawInput } : {}),
    };
  } catch {
    return undefined;
  }
}
