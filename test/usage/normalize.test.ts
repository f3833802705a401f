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
    expect(call.model).toBe(f.expected.model);
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

describe('readLlmCall: Azure OpenAI recognised from the span', () => {
  // What @opentelemetry/instrumentation-openai 0.21.0 writes for an `AzureOpenAI` client
  // (captured in test/integration/clients/azure-openai.test.ts): `gen_ai.system` is always
  // `openai`; only the host says Azure; the request model is the deployment name.
  const contribAzure = {
    'gen_ai.operation.name': 'chat',
    'gen_ai.request.model': 'prod-gpt4o',
    'gen_ai.system': 'openai',
    'server.address': 'myres.openai.azure.com',
    'server.port': 443,
    'gen_ai.response.model': 'gpt-4o-2024-08-06',
    'gen_ai.usage.input_tokens': 1200,
    'gen_ai.usage.output_tokens': 300,
  };

  it.each([
    ['contrib span, *.openai.azure.com', contribAzure, 'azure.ai.openai'],
    [
      'contrib span, *.cognitiveservices.azure.com',
      { ...contribAzure, 'server.address': 'myres.cognitiveservices.azure.com' },
      'azure.ai.openai',
    ],
    [
      'host in capitals',
      { ...contribAzure, 'server.address': 'MyRes.OpenAI.Azure.COM' },
      'azure.ai.openai',
    ],
    [
      'no provider attribute, Azure host',
      { ...contribAzure, 'gen_ai.system': undefined },
      'azure.ai.openai',
    ],
    [
      'semconv provider name az.ai.openai is already Azure',
      { ...contribAzure, 'gen_ai.provider.name': 'az.ai.openai', 'server.address': '10.0.0.1' },
      'az.ai.openai',
    ],
    [
      'api.openai.com stays OpenAI',
      { ...contribAzure, 'server.address': 'api.openai.com' },
      'openai',
    ],
    [
      'a host that only contains the Azure suffix is not Azure',
      { ...contribAzure, 'server.address': 'myres.openai.azure.com.example.net' },
      'openai',
    ],
    [
      'another provider on an Azure host keeps its name',
      { ...contribAzure, 'gen_ai.system': 'anthropic' },
      'anthropic',
    ],
  ])('%s', (_name, attrs, provider) => {
    const call = readLlmCall('chat prod-gpt4o', attrs);
    expect(call?.provider).toBe(provider);
    // The deployment name stays a candidate after the response model.
    expect(call?.model).toBe('gpt-4o-2024-08-06');
    expect(call?.fallbackModels).toEqual(['prod-gpt4o']);
  });
});

describe('readLlmCall: Vertex AI recognised from the server address', () => {
  // The Google Gen AI SDKs call the Gemini API or Vertex AI; a span that says only Google
  // (`gcp.gen_ai`, `google`) is priced from the Vertex list when the host is Vertex's.
  const google = {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'gcp.gen_ai',
    'gen_ai.request.model': 'gemini-2.5-pro',
    'server.address': 'us-central1-aiplatform.googleapis.com',
    'gen_ai.usage.input_tokens': 1200,
    'gen_ai.usage.output_tokens': 300,
  };

  it.each([
    ['gcp.gen_ai on a regional Vertex host', google, 'gcp.vertex_ai'],
    [
      'gcp.gen_ai on the global Vertex host',
      { ...google, 'server.address': 'aiplatform.googleapis.com' },
      'gcp.vertex_ai',
    ],
    ['google on a Vertex host', { ...google, 'gen_ai.provider.name': 'google' }, 'gcp.vertex_ai'],
    ['no provider, Vertex host', { ...google, 'gen_ai.provider.name': undefined }, 'gcp.vertex_ai'],
    [
      'gcp.gen_ai on the Gemini API host stays generic',
      { ...google, 'server.address': 'generativelanguage.googleapis.com' },
      'gcp.gen_ai',
    ],
    [
      'gcp.gemini on a Vertex host keeps its name',
      { ...google, 'gen_ai.provider.name': 'gcp.gemini' },
      'gcp.gemini',
    ],
    [
      'a host that only ends like Vertex is not Vertex',
      { ...google, 'server.address': 'evil-aiplatform.googleapis.com.example.net' },
      'gcp.gen_ai',
    ],
  ])('%s', (_name, attrs, provider) => {
    expect(readLlmCall('chat gemini-2.5-pro', attrs)?.provider).toBe(provider);
  });
});
