/**
 * The built package in child-process apps set up with NodeSDK, as users run them: CommonJS
 * (require-in-the-middle) and ES modules (import-in-the-middle through `module.register`), with
 * the contrib instrumentation and OpenAIUsageInstrumentation registered in either order, or ours
 * alone. Each app makes a plain and a streamed gpt-4o chat call (1200 input of which 1024 cached,
 * 300 output: $0.00472 each) and prints its spans.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockProviders, startMockProviders } from '../../support/mock-providers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const apps = join(root, 'test/fixtures/apps');
const run = promisify(execFile);

/** Build dist/ when it is missing or older than any source file (`npm test` builds first). */
function ensureBuilt(): void {
  const built = (() => {
    try {
      return statSync(join(root, 'dist/index.cjs')).mtimeMs;
    } catch {
      return 0;
    }
  })();
  const src = join(root, 'src');
  const newest = Math.max(
    ...readdirSync(src, { recursive: true }).map((f) => statSync(join(src, String(f))).mtimeMs),
  );
  if (built > newest) return;
  const r = spawnSync(join(root, 'node_modules/.bin/tsup'), [], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}\n${r.stderr}`);
}

interface ExportedSpan {
  name: string;
  scope: string;
  attributes: Record<string, unknown>;
}

let mock: MockProviders;

beforeAll(async () => {
  ensureBuilt();
  mock = await startMockProviders();
}, 120_000);

afterAll(async () => {
  await mock?.close();
});

async function app(file: string, instrumentations: string, hook = true): Promise<ExportedSpan[]> {
  const args = file.endsWith('.mjs') && hook ? ['--import', './register-hook.mjs', file] : [file];
  const { stdout } = await run(process.execPath, args, {
    cwd: apps,
    env: {
      ...process.env,
      OPENAI_BASE_URL: mock.openaiURL,
      INSTRUMENTATIONS: instrumentations,
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
    },
  });
  return (JSON.parse(stdout) as ExportedSpan[]).filter(
    (s) => s.attributes['gen_ai.operation.name'] !== undefined,
  );
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
