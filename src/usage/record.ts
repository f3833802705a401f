/**
 * The usage record: one model call's usage, the one shape that flows from the usage layer (which
 * reads it off spans) to the price book (which prices it), the CLI and `priceUsage`. Counting
 * follows the OTel GenAI semantic conventions; see "How token counts are read" in
 * docs/pricing.md.
 */

/** One call's model usage to price. Token counts follow the OTel semconv convention:
 * `inputTokens` includes cache reads and writes; `outputTokens` includes reasoning. */
export interface UsageRecord {
  /** Provider as emitted (`openai`, `aws.bedrock`, `openai.chat`...). Optional: the catalog can
   * often tell from the model id alone. */
  provider?: string;
  /** Model id as emitted (deployment name, ARN, `openai/gpt-4o`...). */
  model: string;
  /** Other ids of the same call's model, tried in order when `model` (and each one before)
   * matches no price: on a span, the request model (an Azure deployment name) after the
   * response model (a dated snapshot id). */
  fallbackModels?: readonly string[];
  inputTokens?: number;
  outputTokens?: number;
  cacheReadTokens?: number;
  /** All cache writes, including 1-hour ones. */
  cacheWriteTokens?: number;
  /** Part of `cacheWriteTokens` written with a 1-hour TTL (Anthropic). */
  cacheWrite1hTokens?: number;
  /** Part of `outputTokens` spent on reasoning; never charged on top of output. */
  reasoningTokens?: number;
  inputAudioTokens?: number;
  outputAudioTokens?: number;
  /** Seconds of compute, for models priced per second. */
  seconds?: number;
  /** Service tier (`batch`, `flex`, `priority`, `default`...). */
  serviceTier?: string;
}
