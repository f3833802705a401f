/**
 * openai 7 (the pinned OPENAI7_VERSION, installed into .tools/openai7: it needs Node >= 22, so it
 * cannot be a devDependency) in the child-process apps on Node 24 (installed into .tools/node24),
 * with the built package, NodeSDK and OpenAIUsageInstrumentation, alone or beside the contrib
 * instrumentation (which patches openai < 7 only and so adds no span), CommonJS and ES modules.
 *
 * Each call gives exactly one span, spanledger's own, priced exactly:
 * - gpt-4o (the mock answers gpt-4o-2024-08-06), 1200 input of which 1024 cached, 300 output:
 *   176 x $2.50 + 1024 x $1.25 + 300 x $10 per MTok = $0.00472, for a chat call, a streamed chat
 *   call with `include_usage`, a Responses call and a streamed Responses call;
 * - text-embedding-3-small, 1000 input: 1000 x $0.02 per MTok = $0.00002, with the default
 *   (base64, decoded by the client) and an explicit float encoding;
 * - a call the provider rejects (HTTP 400): one span with status ERROR and `error.type`, the app
 *   sees the client's own error and goes on (no unhandled rejection).
 *
 * Under CI=true, Node 24 or openai 7 that cannot be installed fails the test; locally it skips.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ExportedSpan, runOpenAIApp } from '../../support/apps.js';
import { ensureBuilt } from '../../support/built.js';
import {
  type MockProviders,
  OPENAI_DEFAULTS,
  startMockProviders,
} from '../../support/mock-providers.js';
import { ensureNode24, ensureOpenAI7, isCI, OPENAI7_VERSION } from '../../support/tools.js';

const OURS = 'spanledger-instrumentation-openai';
const APPS = ['openai-app.cjs', 'openai-app.mjs'];
const SETUPS = ['ours', 'ours,contrib', 'contrib,ours'];

let mock: MockProviders;
let node: string | undefined;
let openai: string | undefined;
let missing = '';

beforeAll(async () => {
  ensureBuilt();
  node = ensureNode24();
  openai = node ? ensureOpenAI7() : undefined;
  if (!node) missing = 'Node 24 could not be installed into .tools/node24';
  else if (!openai)
    missing = `openai@${OPENAI7_VERSION} could not be installed into .tools/openai7`;
  if (missing && isCI) throw new Error(`${missing} (a failure under CI=true)`);
  if (missing) console.warn(`SKIPPED openai 7 tests: ${missing}`);
  mock = await startMockProviders();
}, 900_000);

afterAll(async () => {
  await mock?.close();
});

beforeEach((ctx) => {
  if (missing) ctx.skip();
});

async function app(file: string, instrumentations: string, calls: string) {
  return runOpenAIApp({
    file,
    instrumentations,
    calls,
    baseURL: mock.openaiURL,
    node: node as string,
    openaiModule: openai as string,
  });
}

const cost = (s: ExportedSpan) => s.attributes['spanledger.cost.usd'];

describe(`openai@${OPENAI7_VERSION} on Node 24: one own span per call, priced exactly`, () => {
  beforeEach(() => {
    mock.openai = { ...OPENAI_DEFAULTS };
  });

  it('is the version the apps load', async () => {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)(`${openai}/package.json`) as { version: string };
    expect(pkg.version).toBe(OPENAI7_VERSION);
  });

  describe.each(APPS)('%s', (file) => {
    it.each(SETUPS)('chat, streamed chat, Responses, streamed Responses with %s', async (setup) => {
      const { spans, stderr } = await app(file, setup, 'chat,stream,responses,responses-stream');
      expect(stderr).not.toMatch(/failed/);
      expect(spans).toHaveLength(4);
      for (const s of spans) {
        expect(s.scope).toBe(OURS);
        expect(s.name).toBe('chat gpt-4o');
        expect(s.status).toBe(0);
        expect(s.attributes['gen_ai.provider.name']).toBe('openai');
        expect(s.attributes['gen_ai.request.model']).toBe('gpt-4o');
        expect(s.attributes['gen_ai.response.model']).toBe('gpt-4o-2024-08-06');
        expect(s.attributes['gen_ai.usage.input_tokens']).toBe(1200);
        expect(s.attributes['gen_ai.usage.cache_read.input_tokens']).toBe(1024);
        expect(s.attributes['gen_ai.usage.output_tokens']).toBe(300);
        expect(cost(s)).toBeCloseTo(0.00472, 12);
      }
    });

    it('embeddings, base64 (default) and float', async () => {
      mock.openai = { ...mock.openai, model: 'text-embedding-3-small', prompt: 1000, cached: 0 };
      const { spans, stderr } = await app(file, 'ours,contrib', 'embeddings,embeddings-float');
      expect(stderr).not.toMatch(/failed/);
      expect(spans).toHaveLength(2);
      for (const s of spans) {
        expect(s.scope).toBe(OURS);
        expect(s.name).toBe('embeddings text-embedding-3-small');
        expect(s.attributes['gen_ai.usage.input_tokens']).toBe(1000);
        expect(cost(s)).toBeCloseTo(0.00002, 12);
      }
    });

    it('a rejected call: one ERROR span, the error reaches the app, nothing unhandled', async () => {
      mock.openai = { ...mock.openai, failWith: 400 };
      const { spans, stderr } = await app(file, 'ours,contrib', 'chat,stream,embeddings');
      expect(stderr).toContain('call chat failed: BadRequestError');
      expect(stderr).toContain('call stream failed: BadRequestError');
      expect(stderr).toContain('call embeddings failed: BadRequestError');
      expect(spans).toHaveLength(3);
      for (const s of spans) {
        expect(s.scope).toBe(OURS);
        expect(s.status).toBe(2);
        expect(s.attributes['error.type']).toBe('BadRequestError');
        expect(cost(s)).toBeUndefined();
      }
    });
  });
});
