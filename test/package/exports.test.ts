/**
 * The published builds (run after `tsup`): CommonJS and ESM both load and price, and the package
 * name resolves through the `exports` map from either module system.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

type Api = typeof import('../../src/index.js');

const usage = {
  provider: 'openai',
  model: 'gpt-4o',
  inputTokens: 1_000_000,
  outputTokens: 1_000_000,
};

function expectWorking(api: Api): void {
  expect(typeof api.PriceBook).toBe('function');
  expect(api.priceUsage(usage).costUsd).toBe(12.5);
  expect(new api.PriceBook().price(usage).costUsd).toBe(12.5);
  // The whole public surface is reachable from both builds.
  for (const name of [
    'createSpanLedger',
    'BudgetExceededError',
    'MemoryLedger',
    'RedisLedger',
    'ConfigError',
    'traceTool',
    'traceRetrieval',
    'traceEvaluation',
    'recordEvaluationResult',
    'traceHumanReview',
    'traceExternal',
    'recordOutcome',
  ]) {
    expect(typeof (api as unknown as Record<string, unknown>)[name], name).toBe('function');
  }
}

describe('package builds', () => {
  it('CommonJS: dist/index.cjs', () => {
    const require = createRequire(import.meta.url);
    expectWorking(require('../../dist/index.cjs') as Api);
  });

  it('ESM: dist/index.js', async () => {
    // A computed specifier: the typecheck runs before the build, when dist/ does not exist.
    const esm = new URL('../../dist/index.js', import.meta.url).href;
    expectWorking((await import(esm)) as Api);
  });

  it.each([
    ['require', `const m = require('spanledger');`, []],
    ['import', `const m = await import('spanledger');`, ['--input-type=module']],
  ])('`%s` of the package name resolves through exports', (_kind, load, flags) => {
    const script = `${load} console.log(m.priceUsage(${JSON.stringify(usage)}).costUsd);`;
    const out = execFileSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8' });
    expect(out.trim()).toBe('12.5');
  });
});
