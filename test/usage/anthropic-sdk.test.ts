/**
 * `@anthropic-ai/sdk` (>= 0.134) traces its own calls. Its input count includes cache reads and
 * writes, and it splits the writes by TTL in `anthropic.usage.cache_creation.ephemeral_{5m,1h}_*`:
 * a 1-hour write costs more than a 5-minute one (claude-sonnet-4-5: $6 against $3.75 per MTok).
 */
import { describe, expect, it } from 'vitest';
import { readLlmCall } from '../../src/usage/normalize.js';

const SCOPE = { name: 'com.anthropic.sdk.typescript', version: '1.12.0' };

function nativeSpan(write5m: number, write1h: number): Record<string, string | number> {
  return {
    'gen_ai.provider.name': 'anthropic',
    'gen_ai.operation.name': 'chat',
    'gen_ai.request.model': 'claude-sonnet-4-5',
    'gen_ai.response.model': 'claude-sonnet-4-5-20250929',
    // 3000 uncached + 4000 read + the writes.
    'gen_ai.usage.input_tokens': 7000 + write5m + write1h,
    'gen_ai.usage.output_tokens': 200,
    'gen_ai.usage.cache_read.input_tokens': 4000,
    'gen_ai.usage.cache_write.input_tokens': write5m + write1h,
    'anthropic.usage.cache_creation.ephemeral_5m_input_tokens': write5m,
    'anthropic.usage.cache_creation.ephemeral_1h_input_tokens': write1h,
  };
}

describe('readLlmCall: @anthropic-ai/sdk native spans', () => {
  it('keeps the inclusive input count and reads the 1-hour part of the cache writes', () => {
    const call = readLlmCall('anthropic.messages.create', nativeSpan(2000, 1000), SCOPE);
    expect(call).toMatchObject({
      provider: 'anthropic',
      model: 'claude-sonnet-4-5-20250929',
      fallbackModels: ['claude-sonnet-4-5'],
      inputTokens: 10_000,
      outputTokens: 200,
      cacheReadTokens: 4000,
      cacheWriteTokens: 3000,
      cacheWrite1hTokens: 1000,
      invalid: [],
    });
  });

  it('reads no 1-hour part when the span has none', () => {
    const attrs = nativeSpan(500, 0);
    delete attrs['anthropic.usage.cache_creation.ephemeral_1h_input_tokens'];
    const call = readLlmCall('anthropic.messages.create', attrs, SCOPE);
    expect(call?.cacheWrite1hTokens).toBe(0);
    expect(call?.cacheWriteTokens).toBe(500);
  });

  it('flags a 1-hour part larger than all the writes as invalid (unknown, not guessed)', () => {
    const attrs = nativeSpan(0, 1000);
    attrs['gen_ai.usage.cache_write.input_tokens'] = 10;
    const call = readLlmCall('anthropic.messages.create', attrs, SCOPE);
    expect(call?.cacheWrite1hTokens).toBe(0);
    expect(call?.invalid).toEqual(['anthropic.usage.cache_creation.ephemeral_1h_input_tokens']);
  });
});
