import { describe, expect, it } from 'vitest';
import {
  BUILTIN_PROVIDER_ALIASES,
  canonicalProvider,
  normaliseModel,
  splitProviderPrefix,
} from '../../src/pricing/aliases.js';
import { catalogHasProvider } from '../../src/pricing/catalog.js';

describe('canonicalProvider', () => {
  it.each([
    ['azure.ai.openai', 'azure'],
    ['azure.ai.inference', 'azure'],
    ['aws.bedrock', 'aws'],
    ['gcp.vertex_ai', 'google-vertex'],
    ['gcp.gemini', 'google'],
    ['gcp.gen_ai', 'google'],
    ['x_ai', 'x-ai'],
    ['mistral_ai', 'mistral'],
    ['openai.chat', 'openai'],
    ['openai.responses', 'openai'],
    ['anthropic.messages', 'anthropic'],
    ['google.vertex.chat', 'google-vertex'],
    ['amazon-bedrock', 'aws'],
    [' OpenAI ', 'openai'],
  ])('%s → %s', (raw, id) => {
    expect(canonicalProvider(raw, {})).toBe(id);
  });

  it('user aliases win over built-ins and apply to dotted forms', () => {
    expect(canonicalProvider('aws.bedrock', { 'aws.bedrock': 'anthropic' })).toBe('anthropic');
    expect(canonicalProvider('gateway.chat', { gateway: 'openai' })).toBe('openai');
  });

  it('every built-in alias targets a provider the catalog knows', () => {
    for (const target of new Set(Object.values(BUILTIN_PROVIDER_ALIASES))) {
      expect(catalogHasProvider(target), target).toBe(true);
    }
  });
});

describe('normaliseModel', () => {
  it('strips Bedrock inference-profile and foundation-model ARNs and models/', () => {
    expect(
      normaliseModel(
        'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0',
      ),
    ).toBe('us.anthropic.claude-3-5-sonnet-20240620-v1:0');
    expect(normaliseModel('arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-pro-v1:0')).toBe(
      'amazon.nova-pro-v1:0',
    );
    expect(normaliseModel('models/gemini-2.5-pro')).toBe('gemini-2.5-pro');
  });

  it('leaves application-inference-profile ARNs alone (opaque: map them in deployments)', () => {
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3';
    expect(normaliseModel(arn)).toBe(arn);
  });
});

describe('splitProviderPrefix', () => {
  it('splits at the first slash only', () => {
    expect(splitProviderPrefix('openai/gpt-4o')).toEqual(['openai', 'gpt-4o']);
    expect(splitProviderPrefix('together/meta-llama/Llama-3')).toEqual([
      'together',
      'meta-llama/Llama-3',
    ]);
    expect(splitProviderPrefix('gpt-4o')).toBeUndefined();
    expect(splitProviderPrefix('/gpt-4o')).toBeUndefined();
    expect(splitProviderPrefix('openai/')).toBeUndefined();
  });
});
