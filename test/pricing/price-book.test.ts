import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config.js';
import { CATALOG_NAME } from '../../src/pricing/catalog.js';
import {
  PriceBook,
  type PriceResult,
  priceUsage,
  validateUsage,
} from '../../src/pricing/price-book.js';

const AT = Date.parse('2026-11-10T12:00:00Z');
const book = new PriceBook();
const contract = new PriceBook({
  config: loadConfigFile(
    fileURLToPath(new URL('../fixtures/prices/contract.yaml', import.meta.url)),
  ).prices,
});

/** Relative 1e-9, the SPEC's conservation tolerance. */
function expectUsd(r: PriceResult, usd: number): void {
  expect(r.status).toBe('priced');
  expect(Math.abs((r.costUsd as number) - usd)).toBeLessThanOrEqual(1e-9 * Math.abs(usd));
}

describe('worked examples from published prices', () => {
  it('gpt-4o: 1M input + 1M output = $12.50', () => {
    const r = book.price(
      { provider: 'openai', model: 'gpt-4o', inputTokens: 1e6, outputTokens: 1e6 },
      AT,
    );
    expectUsd(r, 12.5);
    expect(r.breakdown).toEqual({
      inputUsd: 2.5,
      outputUsd: 10,
      cacheReadUsd: 0,
      cacheWriteUsd: 0,
      otherUsd: 0,
    });
    expect(r).toMatchObject({
      source: 'catalog',
      provider: 'openai',
      model: 'gpt-4o',
      catalog: CATALOG_NAME,
    });
  });

  it('claude-sonnet-4: 100k input of which 80k cache reads + 10k output = $0.234', () => {
    const r = book.price(
      {
        provider: 'anthropic',
        model: 'claude-sonnet-4',
        inputTokens: 100_000,
        cacheReadTokens: 80_000,
        outputTokens: 10_000,
      },
      AT,
    );
    expectUsd(r, 0.234);
    expect(r.breakdown?.inputUsd).toBeCloseTo(0.06, 12);
    expect(r.breakdown?.cacheReadUsd).toBeCloseTo(0.024, 12);
    expect(r.breakdown?.outputUsd).toBeCloseTo(0.15, 12);
    // 80k reads at $0.30 instead of $3: $0.216 saved.
    expect(r.cacheSavingsUsd).toBeCloseTo(0.216, 12);
  });

  it('gemini-2.5-pro: 150k in + 10k out = $0.2875; 300k in + 10k out = $0.90 (above 200k)', () => {
    expectUsd(
      book.price(
        { provider: 'google', model: 'gemini-2.5-pro', inputTokens: 150_000, outputTokens: 10_000 },
        AT,
      ),
      0.2875,
    );
    expectUsd(
      book.price(
        { provider: 'google', model: 'gemini-2.5-pro', inputTokens: 300_000, outputTokens: 10_000 },
        AT,
      ),
      0.9,
    );
    // The tier applies strictly above 200k input tokens.
    expectUsd(
      book.price(
        { provider: 'google', model: 'gemini-2.5-pro', inputTokens: 200_000, outputTokens: 0 },
        AT,
      ),
      0.25,
    );
  });

  it('claude-sonnet-4: 5-minute writes at $3.75/MTok, 1-hour writes at $6/MTok', () => {
    const usage = {
      provider: 'anthropic',
      model: 'claude-sonnet-4',
      inputTokens: 100_000,
      cacheWriteTokens: 50_000,
      outputTokens: 1_000,
    };
    const fiveMin = book.price(usage, AT);
    // 50k uncached at $3 = 0.15, 50k 5m writes at $3.75 = 0.1875, 1k out at $15 = 0.015.
    expectUsd(fiveMin, 0.3525);
    expect(fiveMin.breakdown?.cacheWriteUsd).toBeCloseTo(0.1875, 12);
    const mixed = book.price({ ...usage, cacheWrite1hTokens: 20_000 }, AT);
    // 30k 5m writes = 0.1125, 20k 1h writes = 0.12.
    expect(mixed.breakdown?.cacheWriteUsd).toBeCloseTo(0.2325, 12);
    expect(mixed.breakdown?.inputUsd).toBeCloseTo(0.15, 12);
    expectUsd(mixed, 0.3975);
    const allHour = book.price({ ...usage, cacheWrite1hTokens: 50_000 }, AT);
    expect(allHour.breakdown?.cacheWriteUsd).toBeCloseTo(0.3, 12);
  });

  it('Bedrock ids: model id, us. inference profile, inference-profile ARN via aws.bedrock', () => {
    const usage = { inputTokens: 1e6, outputTokens: 1e6 };
    for (const model of [
      'anthropic.claude-3-5-sonnet-20240620-v1:0',
      'us.anthropic.claude-3-5-sonnet-20240620-v1:0',
      'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0',
      'arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0',
    ]) {
      const r = book.price({ provider: 'aws.bedrock', model, ...usage }, AT);
      expectUsd(r, 18);
      expect(r.provider).toBe('aws');
    }
  });

  it('reasoning tokens are inside output and never charged twice (o3-mini, gpt-5)', () => {
    for (const [model, usd] of [
      ['o3-mini', (10_000 * 1.1 + 5_000 * 4.4) / 1e6],
      ['gpt-5', (10_000 * 1.25 + 5_000 * 10) / 1e6],
    ] as const) {
      const base = { provider: 'openai', model, inputTokens: 10_000, outputTokens: 5_000 };
      const without = book.price(base, AT);
      const withReasoning = book.price({ ...base, reasoningTokens: 4_000 }, AT);
      expectUsd(without, usd);
      expect(withReasoning.costUsd).toBe(without.costUsd);
    }
  });

  it('a model that prices reasoning apart charges it instead of output (sonar-deep-research)', () => {
    const r = book.price(
      {
        provider: 'perplexity',
        model: 'sonar-deep-research',
        inputTokens: 1_000,
        outputTokens: 1_000,
        reasoningTokens: 400,
      },
      AT,
    );
    // 1k in at $2, 600 out at $8, 400 reasoning at $3.
    expectUsd(r, (1_000 * 2 + 600 * 8 + 400 * 3) / 1e6);
  });

  it('embeddings: text-embedding-3-small, 1M input = $0.02', () => {
    const r = book.price(
      { provider: 'openai', model: 'text-embedding-3-small', inputTokens: 1e6 },
      AT,
    );
    expectUsd(r, 0.02);
  });
});

describe('provider aliases and model forms', () => {
  const usage = { inputTokens: 1e6, outputTokens: 1e6 };
  it.each([
    ['openai.chat', 'gpt-4o', 'openai', 12.5],
    ['openai.responses', 'gpt-4o', 'openai', 12.5],
    // 1M input tokens in one request is above Claude Sonnet 4's 200k long-context threshold:
    // $6 + $22.50 (docs/pricing.md, Errata).
    ['anthropic.messages', 'claude-sonnet-4', 'anthropic', 28.5],
    ['azure.ai.openai', 'gpt-4o', 'azure', 12.5],
    ['gcp.vertex_ai', 'gemini-2.5-pro', 'google', 17.5],
    ['gcp.gemini', 'gemini-2.5-pro', 'google', 17.5],
    ['x_ai', 'grok-3', 'x-ai', 18],
    ['OpenAI', 'gpt-4o', 'openai', 12.5],
    [undefined, 'openai/gpt-4o', 'openai', 12.5],
    ['openai', 'openai/gpt-4o', 'openai', 12.5],
    ['litellm', 'openai/gpt-4o', 'openai', 12.5],
    ['gcp.vertex_ai', 'models/gemini-2.5-pro', 'google', 17.5],
  ])('%s / %s → %s, $%d for 1M in + 1M out', (provider, model, catalogProvider, usd) => {
    const r = book.price({ provider, model, ...usage }, AT);
    expectUsd(r, usd);
    expect(r.provider).toBe(catalogProvider);
  });

  it('on openrouter, openai/gpt-4o stays an OpenRouter id', () => {
    const r = book.price({ provider: 'openrouter', model: 'openai/gpt-4o', ...usage }, AT);
    expect(r.provider).toBe('openrouter');
    expect(r.model).toBe('openai/gpt-4o');
    expectUsd(r, 12.5);
  });

  it('Claude on Vertex prices through Google', () => {
    const r = book.price({ provider: 'gcp.vertex_ai', model: 'claude-sonnet-4', ...usage }, AT);
    expect(r.provider).toBe('google');
    expectUsd(r, 18);
  });

  it('user aliases come first', () => {
    const r = contract.price({ provider: 'my-gateway', model: 'gpt-4o-mini', ...usage }, AT);
    expect(r.provider).toBe('openai');
    expectUsd(r, 0.75);
  });
});

describe('unknown is not zero', () => {
  it('unknown model → unpriced, unknown_model, no cost', () => {
    const r = book.price(
      { provider: 'openai', model: 'gpt-99-ultra', inputTokens: 10, outputTokens: 10 },
      AT,
    );
    expect(r).toMatchObject({ status: 'unpriced', reason: 'unknown_model', provider: 'openai' });
    expect(r.costUsd).toBeUndefined();
  });

  it('unknown provider → unpriced, unknown_provider', () => {
    const r = book.price({ provider: 'acme.llm', model: 'gpt-4o', inputTokens: 10 }, AT);
    expect(r).toMatchObject({ status: 'unpriced', reason: 'unknown_provider', provider: 'acme' });
    expect(r.costUsd).toBeUndefined();
  });

  it('unknown model without provider → unknown_model', () => {
    const r = book.price({ model: 'totally-made-up-model', inputTokens: 10 }, AT);
    expect(r).toMatchObject({ status: 'unpriced', reason: 'unknown_model' });
    expect(r.costUsd).toBeUndefined();
  });

  it('inconsistent usage → unpriced with the reason, never a throw', () => {
    expect(
      book.price({ provider: 'openai', model: 'gpt-4o', inputTokens: 10, cacheReadTokens: 20 }, AT),
    ).toMatchObject({
      status: 'unpriced',
      reason: expect.stringMatching(/^invalid_usage: cache read/),
    });
    expect(
      book.price({ provider: 'openai', model: 'gpt-4o', inputTokens: Number.NaN }, AT),
    ).toMatchObject({
      status: 'unpriced',
      reason: 'invalid_usage: inputTokens must be a finite non-negative number',
    });
    expect(
      book.price({ provider: 'openai', model: 'gpt-4o', inputTokens: 10 }, new Date('nope')),
    ).toMatchObject({
      status: 'unpriced',
      reason: 'invalid_time',
    });
    expect(priceUsage({ provider: 'openai', model: 'gpt-4o' }, { at: 'not a date' }).reason).toBe(
      'invalid_time',
    );
  });

  it('audio input may be cached: audio and cache reads are each bounded by input, not summed', () => {
    expect(
      validateUsage({
        model: 'm',
        inputTokens: 1_000,
        inputAudioTokens: 800,
        cacheReadTokens: 600,
      }),
    ).toBeUndefined();
    expect(
      validateUsage({ model: 'm', outputTokens: 10, reasoningTokens: 8, outputAudioTokens: 8 }),
    ).toBeUndefined();
    expect(validateUsage({ model: 'm', outputTokens: 10, reasoningTokens: 11 })).toMatch(
      /reasoningTokens exceed/,
    );
    expect(
      validateUsage({ model: 'm', cacheWriteTokens: 1, cacheWrite1hTokens: 2, inputTokens: 5 }),
    ).toMatch(/cacheWrite1hTokens exceed/);
  });
});

describe('price at event time', () => {
  it('accepts a Date, epoch ms or an ISO string with the same result', () => {
    const u = { provider: 'openai', model: 'gpt-4o', inputTokens: 1e6, outputTokens: 1e6 };
    expect(book.price(u, new Date(AT)).costUsd).toBe(12.5);
    expect(priceUsage(u, { at: AT }).costUsd).toBe(12.5);
    expect(priceUsage(u, { at: '2026-11-10T12:00:00Z' }).costUsd).toBe(12.5);
  });

  it('DeepSeek off-peak hours (UTC) before the 2025-09 change: half price', () => {
    const u = { provider: 'deepseek', model: 'deepseek-chat', inputTokens: 1e6, outputTokens: 1e6 };
    const peak = book.price(u, Date.parse('2025-03-01T12:00:00Z')).costUsd as number;
    const off = book.price(u, Date.parse('2025-03-01T18:00:00Z')).costUsd as number;
    expect(off).toBeLessThan(peak);
    expect(book.price(u, Date.parse('2025-03-02T00:30:00Z')).costUsd).toBe(peak);
  });
});

describe('overrides from the prices file', () => {
  const u = { provider: 'openai', model: 'gpt-4o', inputTokens: 1e6, outputTokens: 1e6 };

  it('a contract price effective Nov 15 changes the price mid-month', () => {
    const nov10 = contract.price(u, Date.parse('2026-11-10T12:00:00Z'));
    expectUsd(nov10, 12.5);
    expect(nov10.source).toBe('catalog');
    const nov20 = contract.price(u, Date.parse('2026-11-20T12:00:00Z'));
    expectUsd(nov20, 10);
    expect(nov20).toMatchObject({ source: 'override', provider: 'openai', model: 'gpt-4o' });
    expect(nov20.catalog).toBeUndefined();
    // The switch happens at midnight UTC.
    expectUsd(contract.price(u, Date.parse('2026-11-14T23:59:59.999Z')), 12.5);
    expectUsd(contract.price(u, Date.parse('2026-11-15T00:00:00Z')), 10);
  });

  it('a discount multiplier applies inside its window only', () => {
    const a = {
      provider: 'anthropic',
      model: 'claude-sonnet-4',
      inputTokens: 1e6,
      outputTokens: 1e6,
    };
    // Long context (1M input tokens): $6 + $22.50 = $28.50 (docs/pricing.md, Errata).
    const before = contract.price(a, Date.parse('2026-10-31T23:59:59Z'));
    expectUsd(before, 28.5);
    const during = contract.price(a, Date.parse('2026-11-10T00:00:00Z'));
    expectUsd(during, 22.8);
    expect(during).toMatchObject({ source: 'override', multiplier: 0.8, catalog: CATALOG_NAME });
    expectUsd(contract.price(a, Date.parse('2026-12-01T00:00:00Z')), 28.5);
  });

  it('a custom fine-tune priced per token, with or without the provider', () => {
    const ft = {
      model: 'ft:gpt-4o-mini:acme::abc123',
      inputTokens: 200_000,
      cacheReadTokens: 100_000,
      outputTokens: 50_000,
    };
    // 100k at $0.30 + 100k reads at $0.15 + 50k at $1.20.
    const usd = (100_000 * 0.3 + 100_000 * 0.15 + 50_000 * 1.2) / 1e6;
    expectUsd(contract.price({ provider: 'openai', ...ft }, AT), usd);
    expectUsd(contract.price(ft, AT), usd);
    expect(contract.price(ft, AT).source).toBe('override');
  });

  it('a self-hosted model priced per second', () => {
    const r = contract.price(
      {
        provider: 'vllm',
        model: 'llama-3.1-8b-local',
        inputTokens: 5_000,
        outputTokens: 500,
        seconds: 12.5,
      },
      AT,
    );
    expectUsd(r, 0.01);
    expect(r.breakdown?.otherUsd).toBeCloseTo(0.01, 12);
    expect(
      contract.price({ provider: 'vllm', model: 'llama-3.1-8b-local', inputTokens: 5 }, AT),
    ).toMatchObject({
      status: 'unpriced',
      reason: 'missing_duration',
    });
  });

  it('service tiers: batch 0.5 by default, configured priority, unknown tier is partial', () => {
    expectUsd(book.price({ ...u, serviceTier: 'batch' }, AT), 6.25);
    expect(book.price({ ...u, serviceTier: 'batch' }, AT)).toMatchObject({
      multiplier: 0.5,
      serviceTier: 'batch',
    });
    expectUsd(book.price({ ...u, serviceTier: 'default' }, AT), 12.5);
    expectUsd(contract.price({ ...u, serviceTier: 'priority' }, AT), 22.5);
    const unknown = book.price({ ...u, serviceTier: 'priority' }, AT);
    expect(unknown).toMatchObject({
      status: 'partial',
      reason: 'unknown_service_tier: priority',
      costUsd: 12.5,
    });
  });

  it('Azure deployment names map to catalog models', () => {
    const r = contract.price(
      { provider: 'azure.ai.openai', model: 'prod-gpt4o', inputTokens: 1e6, outputTokens: 1e6 },
      AT,
    );
    expect(r).toMatchObject({ provider: 'azure', model: 'gpt-4o' });
    expectUsd(r, 12.5);
    // Scoped to its provider: the same name elsewhere is not the deployment.
    expect(
      contract.price({ provider: 'openai', model: 'prod-gpt4o', inputTokens: 1 }, AT).reason,
    ).toBe('unknown_model');
    const p = contract.price(
      { provider: 'openai', model: 'team-search-mini', inputTokens: 1e6 },
      AT,
    );
    expectUsd(p, 0.15);
  });

  it.each([
    ['azure.ai.openai', 'OTel semconv; spans of AzureOpenAI clients (usage layer)'],
    ['az.ai.openai', 'OTel semconv (older name)'],
    ['azure', 'OpenInference llm.provider'],
    ['azure.chat', 'Vercel AI SDK <provider>.<api>'],
    ['azure-openai', 'other emitters'],
  ])('an Azure-scoped deployment matches provider %s (%s)', (provider) => {
    const r = contract.price(
      { provider, model: 'prod-gpt4o', inputTokens: 1e6, outputTokens: 1e6 },
      AT,
    );
    expect(r).toMatchObject({ provider: 'azure', model: 'gpt-4o', matchedBy: 'deployment' });
    expectUsd(r, 12.5);
  });

  it('tries fallbackModels in order when the model matches nothing, and says which matched', () => {
    const u = { provider: 'azure.ai.openai', inputTokens: 1e6, outputTokens: 1e6 };
    // The response model is the dated snapshot: priced as itself, the fallback never tried.
    const dated = contract.price({ ...u, model: 'gpt-4o-2024-08-06', fallbackModels: ['x'] }, AT);
    expect(dated).toMatchObject({
      model: 'gpt-4o',
      matchedModel: 'gpt-4o-2024-08-06',
      matchedBy: 'model',
    });
    expectUsd(dated, 12.5);
    // An unknown (or absent) response model: the request model, a deployment name, prices it.
    const deployed = contract.price(
      { ...u, model: 'gpt-4o-azure-nightly', fallbackModels: ['nope', 'prod-gpt4o'] },
      AT,
    );
    expect(deployed).toMatchObject({
      provider: 'azure',
      model: 'gpt-4o',
      matchedModel: 'prod-gpt4o',
      matchedBy: 'deployment',
    });
    expectUsd(deployed, 12.5);
    // Nothing matches: unpriced with the reason, never $0.
    const none = contract.price({ ...u, model: 'a', fallbackModels: ['b'] }, AT);
    expect(none).toMatchObject({ status: 'unpriced', reason: 'unknown_model' });
    expect(none.costUsd).toBeUndefined();
    // A prefix split says so.
    expect(book.price({ model: 'openai/gpt-4o', inputTokens: 1 }, AT).matchedBy).toBe(
      'provider_prefix',
    );
    // So does a contract price reached through the prefixed id's catalog entry ($2 + $8).
    const later = Date.parse('2026-11-20T00:00:00Z');
    const viaPrefix = contract.price(
      { model: 'openai/gpt-4o', inputTokens: 1e6, outputTokens: 1e6 },
      later,
    );
    expect(viaPrefix).toMatchObject({ source: 'override', matchedBy: 'provider_prefix' });
    expectUsd(viaPrefix, 10);
    expect(validateUsage({ model: 'gpt-4o', fallbackModels: [''] as string[] })).toBe(
      'fallbackModels must be a list of model ids',
    );
  });

  it('a Bedrock application-inference-profile ARN maps through deployments', () => {
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6';
    const r = contract.price(
      { provider: 'aws.bedrock', model: arn, inputTokens: 1e6, outputTokens: 1e6 },
      AT,
    );
    expect(r.provider).toBe('aws');
    expectUsd(r, 18);
    expect(book.price({ provider: 'aws.bedrock', model: arn, inputTokens: 1 }, AT).status).toBe(
      'unpriced',
    );
  });
});

describe('cache', () => {
  it('stays bounded and keeps prices right after eviction', () => {
    const small = new PriceBook({ maxCachedModels: 2 });
    for (const model of ['gpt-4o', 'gpt-4o-mini', 'o3-mini', 'gpt-4o']) {
      expect(small.price({ provider: 'openai', model, inputTokens: 1e6 }, AT).status).toBe(
        'priced',
      );
    }
    expectUsd(small.price({ provider: 'openai', model: 'gpt-4o', inputTokens: 1e6 }, AT), 2.5);
  });
});
