/**
 * The real `openai@6` `AzureOpenAI` client, through the real contrib
 * `@opentelemetry/instrumentation-openai` and spanledger's `OpenAIUsageInstrumentation`, priced by
 * the real processor (test/processor/harness.ts) with a prices file that maps an Azure deployment
 * name and sets an Azure contract price.
 *
 * The client is configured for `https://myres.openai.azure.com` exactly as a user would; its
 * `fetch` option sends the requests to the local mock provider instead. So the spans carry what
 * the contrib writes for Azure: `gen_ai.system = openai` (it knows no other value),
 * `server.address = myres.openai.azure.com`, `gen_ai.request.model` = the deployment name.
 *
 * Figures (USD per MTok, test/fixtures/prices/azure-openai.yaml): Azure contract gpt-4o $2.00
 * input, $1.00 cached input, $8.00 output. The mock's call, 1200 input of which 1024 cached,
 * 300 output: 176 x 2 + 1024 x 1 + 300 x 8 per MTok = $0.003776 (OpenAI's list price would be
 * $0.00472).
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { AzureOpenAI as AzureOpenAIClient } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../../src/cli/run.js';
import { OpenAIUsageInstrumentation } from '../../../src/index.js';
import { type Harness, harness } from '../../processor/harness.js';
import {
  type MockProviders,
  OPENAI_DEFAULTS,
  startMockProviders,
} from '../../support/mock-providers.js';
import { modelCalls } from './pipeline.js';

const require = createRequire(import.meta.url);
const PRICES = fileURLToPath(new URL('../../fixtures/prices/azure-openai.yaml', import.meta.url));
const ENDPOINT = 'https://myres.openai.azure.com';
/** 176 x $2 + 1024 x $1 + 300 x $8 per MTok. */
const AZURE_CONTRACT_USD = 0.003776;

let mock: MockProviders;
let h: Harness;
let client: AzureOpenAIClient;
let manager: AsyncLocalStorageContextManager;
let contrib: OpenAIInstrumentation;
/** URLs the client asked for, before the test's fetch sent them to the mock. */
const asked: string[] = [];
let seen = 0;

beforeAll(async () => {
  mock = await startMockProviders();
  h = harness({ prices: PRICES });
  manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  trace.setGlobalTracerProvider(h.provider);
  contrib = new OpenAIInstrumentation();
  registerInstrumentations({ instrumentations: [new OpenAIUsageInstrumentation(), contrib] });
  const { AzureOpenAI } = require('openai') as typeof import('openai');
  client = new AzureOpenAI({
    endpoint: ENDPOINT,
    apiKey: 'azure-test-key',
    apiVersion: '2024-10-21',
    maxRetries: 0,
    // Azure's path is /openai/deployments/<deployment>/<operation>?api-version=...; the mock
    // serves OpenAI's /v1/<operation>.
    fetch: (url: string | URL | Request, init?: RequestInit) => {
      const href = url instanceof Request ? url.url : String(url);
      asked.push(href);
      const operation = new URL(href).pathname.replace(/^\/openai\/deployments\/[^/]+/, '');
      return fetch(`${mock.openaiURL}${operation}`, init);
    },
  });
});

afterAll(async () => {
  await h?.provider.shutdown();
  await h?.ledger.shutdown();
  trace.disable();
  context.disable();
  await mock?.close();
});

beforeEach(() => {
  mock.openai = { ...OPENAI_DEFAULTS };
  contrib.enable();
});

/** The one model-call span the last call produced. */
async function oneCall(): Promise<ReadableSpan> {
  await new Promise((resolve) => setImmediate(resolve));
  const all = h.exporter.getFinishedSpans();
  const calls = modelCalls(all.slice(seen));
  seen = all.length;
  expect(calls).toHaveLength(1);
  return calls[0] as ReadableSpan;
}

/** `spanledger price --json` in-process, on the same prices file. */
async function cliPrice(...argv: string[]): Promise<Record<string, unknown>> {
  let stdout = '';
  const code = await run(['price', ...argv, '--prices', PRICES, '--json'], {
    stdout: (s) => {
      stdout += s;
    },
    stderr: () => {},
  });
  expect(code).toBe(0);
  return JSON.parse(stdout) as Record<string, unknown>;
}

const message = [{ role: 'user' as const, content: 'Hi' }];

describe('AzureOpenAI client, contrib instrumentation: Azure recognised from the span', () => {
  it('prices the call at the Azure contract price, not as OpenAI', async () => {
    await client.chat.completions.create({ model: 'prod-gpt4o', messages: message });
    expect(asked.at(-1)).toMatch(
      /^https:\/\/myres\.openai\.azure\.com\/openai\/deployments\/prod-gpt4o\/chat\/completions\?api-version=/,
    );
    const span = await oneCall();
    // What the contrib writes for an Azure client: no Azure provider name anywhere.
    expect(span.attributes).toMatchObject({
      'gen_ai.system': 'openai',
      'gen_ai.request.model': 'prod-gpt4o',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'server.address': 'myres.openai.azure.com',
      'gen_ai.usage.input_tokens': 1200,
      'gen_ai.usage.cache_read.input_tokens': 1024,
    });
    expect(span.attributes['spanledger.cost.status']).toBe('priced');
    expect(span.attributes['spanledger.cost.source']).toBe('override');
    expect(span.attributes['spanledger.pricing.provider']).toBe('azure');
    expect(span.attributes['spanledger.cost.usd']).toBeCloseTo(AZURE_CONTRACT_USD, 12);
  });

  it('maps the deployment name when the response names no model, as the CLI does', async () => {
    mock.openai = { ...OPENAI_DEFAULTS, model: '' };
    await client.chat.completions.create({ model: 'prod-gpt4o', messages: message });
    const span = await oneCall();
    expect(span.attributes['gen_ai.response.model'] ?? '').toBe('');
    expect(span.attributes['spanledger.cost.unpriced_reason']).toBeUndefined();
    expect(span.attributes['spanledger.cost.status']).toBe('priced');
    expect(span.attributes['spanledger.pricing.model']).toBe('gpt-4o');
    expect(span.attributes['spanledger.cost.usd']).toBeCloseTo(AZURE_CONTRACT_USD, 12);

    // The CLI given what the span says (provider, host, deployment, counts) resolves it alike.
    const cli = await cliPrice(
      '--provider',
      String(span.attributes['gen_ai.system']),
      '--server-address',
      String(span.attributes['server.address']),
      '--model',
      String(span.attributes['gen_ai.request.model']),
      '--input',
      String(span.attributes['gen_ai.usage.input_tokens']),
      '--cache-read',
      String(span.attributes['gen_ai.usage.cache_read.input_tokens']),
      '--output',
      String(span.attributes['gen_ai.usage.output_tokens']),
    );
    expect(cli).toMatchObject({
      status: 'priced',
      provider: 'azure',
      model: 'gpt-4o',
      requested_provider: 'azure.ai.openai',
      matched_by: 'deployment',
    });
    // One engine, one answer: the same figure to the bit.
    expect(cli.cost_usd).toBe(span.attributes['spanledger.cost.usd']);
  });
});

describe('AzureOpenAI client, OpenAIUsageInstrumentation alone (contrib disabled)', () => {
  it('names the provider azure.ai.openai on its own span and prices it alike', async () => {
    contrib.disable();
    await client.chat.completions.create({ model: 'prod-gpt4o', messages: message });
    const span = await oneCall();
    expect(span.instrumentationScope.name).toBe('spanledger-instrumentation-openai');
    expect(span.attributes['gen_ai.provider.name']).toBe('azure.ai.openai');
    expect(span.attributes['spanledger.pricing.provider']).toBe('azure');
    expect(span.attributes['spanledger.cost.usd']).toBeCloseTo(AZURE_CONTRACT_USD, 12);
  });
});
