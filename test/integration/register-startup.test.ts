/**
 * What `spanledger/register` loads at startup (docs/performance.md, "2026-11-30: startup"): the configuration
 * parsers (zod; yaml is loaded by the NodeSDK itself) only when a configuration file is given,
 * and the price catalog only when something is priced. Each case runs a fixture app in its own
 * process under test/fixtures/apps/loaded-packages.mjs, which lists the packages it loaded.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runProcess } from '../support/apps.js';
import { ensureBuilt, ROOT } from '../support/built.js';

const CATALOG = '@pydantic/genai-prices';

/** The packages a run of `app` under `node <flag> spanledger/register` loaded. */
async function loadedPackages(
  flag: '--import' | '--require',
  app: string,
  env: Record<string, string> = {},
): Promise<string[]> {
  const run = await runProcess(
    process.execPath,
    [
      '--import',
      './test/fixtures/apps/loaded-packages.mjs',
      flag,
      'spanledger/register',
      join('test', 'fixtures', 'apps', app),
    ],
    {
      env: {
        PATH: process.env.PATH,
        OTEL_TRACES_EXPORTER: 'none',
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
        RUNS: '1',
        ...env,
      },
    },
  );
  expect(run.code, run.stderr).toBe(0);
  const line = /^loaded-packages: (.*)$/m.exec(run.stderr);
  expect(line, run.stderr).not.toBeNull();
  return (line?.[1] ?? '').split(',');
}

beforeAll(() => ensureBuilt());

describe('spanledger/register startup without configuration files', () => {
  it.each([
    ['--import', 'unpriced-app.mjs'],
    ['--require', 'unpriced-app.cjs'],
  ] as const)('%s: neither zod nor the price catalog is loaded', async (flag, app) => {
    const loaded = await loadedPackages(flag, app);
    // The list is real: the SDK and the API were seen.
    expect(loaded).toContain('@opentelemetry/sdk-node');
    expect(loaded).toContain('@opentelemetry/api');
    expect(loaded).not.toContain('zod');
    expect(loaded).not.toContain(CATALOG);
  });

  it('a prices file loads the parsers and schemas; the catalog waits for the first lookup', async () => {
    const prices = join(ROOT, 'test', 'fixtures', 'prices', 'contract.yaml');
    const loaded = await loadedPackages('--import', 'unpriced-app.mjs', {
      SPANLEDGER_PRICES_FILE: prices,
    });
    expect(loaded).toContain('zod');
    expect(loaded).toContain('yaml');
    expect(loaded).not.toContain(CATALOG);
  });

  it.each([
    ['--import', 'priced-app.mjs'],
    ['--require', 'priced-app.cjs'],
  ] as const)('%s: the first priced span loads the catalog', async (flag, app) => {
    const loaded = await loadedPackages(flag, app);
    expect(loaded).toContain(CATALOG);
    expect(loaded).not.toContain('zod');
  });
});
