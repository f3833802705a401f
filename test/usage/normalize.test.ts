import { describe, expect, it } from 'vitest';
import { isWrapperSpan, readLlmCall } from '../../src/usage/normalize.js';
import { emitterFixtures } from '../fixtures/emitters.js';

describe('readLlmCall: one row per real emitter attribute set', () => {
  it.each(emitterFixtures.map((f) => [f.emitter, f] as const))('%s', (_name, f) => {
    const scope = f.emitter.startsWith('traceloop-anthropic-0.27')
      ? { name: '@traceloop/instrumentation-anthropic', version: '0.27.0' }
      : undefined;
    const call = readLlmCall(f.spanName, f.attributes, scope);
    const wrapper = isWrapperSpan(f.spanName, f.attributes);
    expect(wrapper).toBe(f.wrapper === true);
    if (!call) {
      // Spans with neither usage nor a model call (tool calls) are not model calls.
      expect(f.expected.inputTokens + f.expected.outputTokens).toBe(0);
      return;
    }
    expect(call.provider ?? '').toBe(f.expected.provider);
    expect(call.models[0]).toBe(f.expected.model);
    expect({
      input: call.inputTokens,
      output: call.outputTokens,
      cacheRead: call.cacheReadTokens,
      cacheWrite: call.cacheWriteTokens,
      reasoning: call.reasoningTokens,
    }).toEqual({
      input: f.expected.inputTokens,
      output: f.expected.outputTokens,
      cacheRead: f.expected.cacheReadTokens,
      cacheWrite: f.expected.cacheWriteTokens,
      reasoning: f.expected.reasoningTokens,
    });
    expect(call.reportedCostUsd).toBe(f.expected.reportedCostUsd);
    expect(call.invalid).toEqual([]);
  });
});
