/**
 * The built package in child-process apps set up with NodeSDK, as users run them: CommonJS
 * (require-in-the-middle) and ES modules (import-in-the-middle through `module.register`), with
 * the contrib instrumentation and OpenAIUsageInstrumentation registered in either order, or ours
 * alone. Each app makes a plain and a streamed gpt-4o chat call (1200 input of which 1024 cached,
 * 300 output: $0.00472 each) and prints its spans.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExportedSpan, runOpenAIApp } from '../../support/apps.js';
import { ensureBuilt } from '../../support/built.js';
import { type MockProviders, startMockProviders } from '../../support/mock-providers.js';

let mock: MockProviders;

beforeAll(async () => {
  ensureBuilt();
  mock = await startMockProviders();
}, 120_000);

afterAll(async () => {
  await mock?.close();
});

async function app(file: string, instrumentations: string, hook = true): Promise<ExportedSpan[]> {
  return (await runOpenAIApp({ file, instrumentations, hook, baseURL: mock.openaiURL })).spans;
}

describe('module systems: one priced span per call', () => {
  it.each([
    ['openai-app.cjs', 'ours,contrib'],
    ['openai-app.cjs', 'contrib,ours'],
    ['openai-app.mjs', 'ours,contrib'],
    ['openai-app.mjs', 'contrib,ours'],
  ])('%s with %s enriches the contrib span', async (file, order) => {
    const spans = await app(file, order);
    expect(spans).toHaveLength(2);
    for (const s of spans) {
      expect(s.scope).toBe('@opentelemetry/instrumentation-openai');
      expect(s.attributes['gen_ai.usage.cache_read.input_tokens']).toBe(1024);
      expect(s.attributes['spanledger.cost.usd']).toBeCloseTo(0.00472, 12);
    }
  });

  it.each(['openai-app.cjs', 'openai-app.mjs'])(
    '%s with ours alone starts its own span',
    async (file) => {
      const spans = await app(file, 'ours');
      expect(spans).toHaveLength(2);
      for (const s of spans) {
        expect(s.scope).toBe('spanledger-instrumentation-openai');
        expect(s.name).toBe('chat gpt-4o');
        expect(s.attributes['spanledger.cost.usd']).toBeCloseTo(0.00472, 12);
      }
    },
  );

  it('an ES module app without the loader hook is not patched at all', async () => {
    expect(await app('openai-app.mjs', 'ours,contrib', false)).toEqual([]);
  });
});
