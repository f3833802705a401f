/**
 * The usage an OpenAI response body reports, as the GenAI semconv attributes, and how it reaches
 * a span: written at once, or, on a span the cost processor will account for, left on the span
 * for the processor to write when it accounts for it.
 *
 * Why the second way: the OpenAI usage instrumentation sees each body between the client's work
 * and the contrib instrumentation's, once per call, where its code and data are out of the CPU's
 * caches; the cost processor of `spanledger/register` accounts for spans in batches, where they
 * are in (docs/performance.md, "2026-12-01: where in a batch the time goes"). Leaving the body's
 * usage object and service tier on the span is two stores; writing them then is the same writes
 * as before, made before the processor reads the span's usage. Used only on spans the processor
 * has seen start (its {@link SpanSlot}): without it, nothing would write them.
 */
import * as A from '../semconv.js';

type Obj = Record<string, unknown>;

/** Where the attributes go (the processor's attribute writer). */
export interface UsageSink {
  set(key: string, value: number | string): void;
}

/**
 * The record the cost processor keeps on each span it sees start: its one property on the span
 * object. One property, set once in `onStart`, keeps every span on one hidden class, so the
 * SDK's, the instrumentations' and the exporters' code reading spans stays monomorphic
 * (docs/performance.md, "2026-12-01: one record per span, and the order of the turns"). Its key lives here because the usage
 * instrumentation, below the processor, fills its usage part; the processor extends it.
 */
export interface SpanSlot {
  /** Set by the processor's `onStart`: its accounting will write what is left here. */
  willAccount: boolean;
  /** The `usage` object of the span's last response body (or stream chunk) that had one. */
  openaiUsage: Obj | undefined;
  /** The service tier of the span's last response body that named one. */
  openaiTier: string | undefined;
}

const kSlot = Symbol('spanledger.span');

interface Holder {
  [kSlot]?: SpanSlot;
}

/** The record attached to `span` ({@link attachSlot}), if any. */
export function slotOf<T extends SpanSlot>(span: object): T | undefined {
  return (span as Holder)[kSlot] as T | undefined;
}

/** Attach the processor's record to a span (once, from its `onStart`, or on first need). */
export function attachSlot(span: object, slot: SpanSlot): void {
  (span as Holder)[kSlot] = slot;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null;
const count = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;

/**
 * Leave a response's usage and service tier on a span the cost processor accounts for; false
 * (nothing left) on any other span, which the caller then writes at once.
 */
export function leaveOpenAIUsage(span: object, response: Obj, tier: string | undefined): boolean {
  const slot = (span as Holder)[kSlot];
  if (slot === undefined || !slot.willAccount) return false;
  const usage = response.usage;
  if (isObj(usage)) slot.openaiUsage = usage;
  if (tier !== undefined) slot.openaiTier = tier;
  return true;
}

/** Write (once) what {@link leaveOpenAIUsage} left on a span: the service tier, and the
 * cache-read and reasoning counts (the contrib instrumentation writes input and output itself). */
export function writeLeftOpenAIUsage(span: object, out: UsageSink): void {
  const slot = (span as Holder)[kSlot];
  if (slot === undefined) return;
  const tier = slot.openaiTier;
  const usage = slot.openaiUsage;
  if (tier === undefined && usage === undefined) return;
  slot.openaiTier = undefined;
  slot.openaiUsage = undefined;
  if (tier !== undefined) out.set(A.ATTR_OPENAI_RESPONSE_SERVICE_TIER, tier);
  if (usage !== undefined) writeOpenAIUsage(usage, out, false);
}

/** Whether anything is left on the span to write (for {@link writeLeftOpenAIUsage}). */
export function hasLeftOpenAIUsage(span: object): boolean {
  const slot = (span as Holder)[kSlot];
  return slot !== undefined && (slot.openaiTier !== undefined || slot.openaiUsage !== undefined);
}

/**
 * Writes an OpenAI `usage` object in the semconv convention (both OpenAI APIs count cached
 * tokens inside the input and reasoning inside the output, as the semconv does): the input and
 * output counts only when `inputOutput` (the contrib sets those itself on its spans), the
 * cache-read and reasoning counts always. Read and written field by field: it builds nothing.
 */
export function writeOpenAIUsage(usage: Obj, out: UsageSink, inputOutput: boolean): void {
  let n: number | undefined;
  if (inputOutput) {
    // Chat Completions, Completions and embeddings: prompt/completion; Responses: input/output.
    n = count(usage.prompt_tokens ?? usage.input_tokens);
    if (n !== undefined) out.set(A.ATTR_GEN_AI_USAGE_INPUT_TOKENS, n);
    n = count(usage.completion_tokens ?? usage.output_tokens);
    if (n !== undefined) out.set(A.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, n);
  }
  const inDetails = usage.prompt_tokens_details ?? usage.input_tokens_details;
  if (isObj(inDetails)) {
    n = count(inDetails.cached_tokens);
    if (n !== undefined) out.set(A.ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, n);
  }
  const outDetails = usage.completion_tokens_details ?? usage.output_tokens_details;
  if (isObj(outDetails)) {
    n = count(outDetails.reasoning_tokens);
    if (n !== undefined) out.set(A.ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, n);
  }
}
