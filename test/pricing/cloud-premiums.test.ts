/**
 * Premiums the span does not show (docs/pricing.md, "Premiums the span does not show"): the
 * prices file the doc shows, loaded as a user would, puts the Azure OpenAI Data Zone and Regional
 * premiums and the Claude-on-Vertex regional premium on the calls it names and on no others.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { PricesConfigInput } from '../../src/pricing/config.js';
import { PriceBook, type UsageRecord } from '../../src/pricing/price-book.js';
import { readLlmCall } from '../../src/usage/normalize.js';
import { extractSnippets } from '../docs/extract.js';

const DOC = readFileSync(new URL('../../docs/pricing.md', import.meta.url), 'utf8');
const block = extractSnippets('docs/pricing.md', DOC).find(
  (s) => s.directive.file === 'cloud-premiums.yaml',
);
const premiums = new PriceBook({ prices: parseYaml(block?.code ?? '') as PricesConfigInput });
const list = new PriceBook();
const AT = Date.parse('2026-11-10T12:00:00Z');

// 100k input of which 20k cache reads and 5k cache writes, 2k output.
const usage = {
  inputTokens: 100_000,
  cacheReadTokens: 20_000,
  cacheWriteTokens: 5_000,
  outputTokens: 2_000,
};

function usd(book: PriceBook, provider: string, model: string): number {
  const r = book.price({ provider, model, ...usage } satisfies UsageRecord, AT);
  expect(r.status, JSON.stringify(r)).toBe('priced');
  return r.costUsd as number;
}

describe('the premiums block of docs/pricing.md', () => {
  it('is a yaml block (the PriceBook above validated it as a prices file)', () => {
    expect(block?.lang).toBe('yaml');
  });

  it.each([
    // Global Standard list: $2.50 input, $1.25 cache read, $10 output.
    // $1.10 input, $0.28 cache read, $4.40 output.
    ['azure.ai.openai', 'o4-mini', (1.1 * 80_000 + 0.28 * 20_000 + 4.4 * 2_000) / 1e6],
    // Anthropic's list on the global endpoint: $3, $0.30 read, $3.75 write, $15 output.
    [
      'gcp.vertex_ai',
      'claude-sonnet-4-5@20250929',
      (3 * 75_000 + 0.3 * 20_000 + 3.75 * 5_000 + 15 * 2_000) / 1e6,
    ],
  ])('%s %s: 1.1 times the list price, every token type', (provider, model, listUsd) => {
    expect(Math.abs(usd(list, provider, model) - listUsd)).toBeLessThanOrEqual(1e-12);
    expect(Math.abs(usd(premiums, provider, model) - 1.1 * listUsd)).toBeLessThanOrEqual(1e-12);
  });

  it.each([
    ['openai', 'gpt-4o'], // the OpenAI API, not Azure
    ['azure.ai.openai', 'gpt-4o-mini'], // another Azure model
    ['azure.ai.openai', 'gpt-4o-2024-08-06'], // no deployment named: the Global list
    ['anthropic', 'claude-sonnet-4-5'], // Anthropic's API
    ['aws.bedrock', 'global.anthropic.claude-sonnet-4-5-20250929-v1:0'],
    ['gcp.vertex_ai', 'claude-sonnet-4@20250514'], // older Claude: no regional premium
    ['gcp.gemini', 'gemini-2.5-pro'],
    ['gcp.vertex_ai', 'gemini-2.5-pro'],
  ])('%s %s: the list price', (provider, model) => {
    expect(usd(premiums, provider, model)).toBe(usd(list, provider, model));
  });

  it.each([
    ['chat-eu', 1.1], // the Data Zone deployment
    ['chat-global', 1], // the Global deployment of the same model
  ])(
    'the Azure deployment %s, asked by its name: %s times the list price of its model',
    (deployment, times) => {
      // Global Standard list of gpt-4o-2024-08-06: $2.50 input, $1.25 cache read, $10 output.
      const listUsd = (2.5 * 80_000 + 1.25 * 20_000 + 10 * 2_000) / 1e6;
      expect(
        Math.abs(usd(list, 'azure.ai.openai', 'gpt-4o-2024-08-06') - listUsd),
      ).toBeLessThanOrEqual(1e-12);
      expect(
        Math.abs(usd(premiums, 'azure.ai.openai', deployment) - times * listUsd),
      ).toBeLessThanOrEqual(1e-12);
    },
  );

  it.each([
    ['chat-eu', 1.1],
    ['chat-global', 1],
    ['not-a-deployment', 1],
  ])(
    'an `openai` span on an Azure OpenAI host, deployment %s: %s times the list, the response model notwithstanding',
    (deployment, times) => {
      const call = readLlmCall('chat gpt-4o', {
        'gen_ai.operation.name': 'chat',
        'gen_ai.system': 'openai',
        'gen_ai.request.model': deployment,
        'gen_ai.response.model': 'gpt-4o-2024-08-06',
        'server.address': 'acme-eu.openai.azure.com',
        'gen_ai.usage.input_tokens': 100_000,
        'gen_ai.usage.output_tokens': 2_000,
      });
      expect(call?.provider).toBe('azure.ai.openai');
      const r = premiums.price(call as UsageRecord, AT);
      expect(r).toMatchObject({ status: 'priced', provider: 'azure', model: 'gpt-4o' });
      expect(
        Math.abs((r.costUsd as number) - (times * (2.5 * 100_000 + 10 * 2_000)) / 1e6),
      ).toBeLessThanOrEqual(1e-12);
    },
  );
});
