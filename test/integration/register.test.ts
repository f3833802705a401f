import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runProcess } from '../support/apps.js';
import { ensureBuilt, ROOT } from '../support/built.js';
import { type OtlpReceiver, startOtlpReceiver } from '../support/otlp-receiver.js';

// The fixture app makes RUNS runs of two gpt-4o chat calls through the OTel API alone:
// 1000 in + 500 out ($0.0075 at list price) and 2000 in + 100 out ($0.006).
const RUNS = 10;
const LIST_RUN_USD = (1000 * 2.5 + 500 * 10 + 2000 * 2.5 + 100 * 10) / 1e6;
// test/fixtures/prices/contract.yaml: $2/$8 per MTok from 2026-11-15 (today is later).
const CONTRACT_RUN_USD = (1000 * 2 + 500 * 8 + 2000 * 2 + 100 * 8) / 1e6;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a fixture app under `node <flag> spanledger/register`, exporting to `receiver`. */
function runApp(
  flag: '--import' | '--require',
  app: string,
  env: Record<string, string>,
  receiver?: OtlpReceiver,
): Promise<Run> {
  return runProcess(
    process.execPath,
    [flag, 'spanledger/register', join('test', 'fixtures', 'apps', app)],
    {
      env: {
        PATH: process.env.PATH,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver?.endpoint ?? 'http://127.0.0.1:9',
        OTEL_LOGS_EXPORTER: 'none',
        OTEL_SERVICE_NAME: 'register-test',
        RUNS: String(RUNS),
        ...env,
      },
    },
  );
}

let receiver: OtlpReceiver | undefined;
beforeAll(() => ensureBuilt());
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

describe('node --import spanledger/register (ESM app, no telemetry code)', () => {
  it('exports priced spans, rollups and cost metrics over OTLP, flushed at exit', async () => {
    receiver = await startOtlpReceiver();
    const run = await runApp('--import', 'priced-app.mjs', {}, receiver);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);

    const chats = receiver.spans.filter((s) => s.name === 'chat gpt-4o');
    const roots = receiver.spans.filter((s) => s.name === 'agent run');
    expect(chats).toHaveLength(2 * RUNS);
    expect(roots).toHaveLength(RUNS);
    expect(chats[0]?.resource['service.name']).toBe('register-test');
    expect(chats[0]?.attributes['spanledger.cost.status']).toBe('priced');
    expect(chats[0]?.attributes['spanledger.cost.source']).toBe('catalog');
    const spanSum = chats.reduce((s, c) => s + (c.attributes['spanledger.cost.usd'] as number), 0);
    expect(spanSum).toBeCloseTo(RUNS * LIST_RUN_USD, 12);
    for (const root of roots) {
      expect(root.attributes['spanledger.trace.cost.usd']).toBeCloseTo(LIST_RUN_USD, 12);
      expect(root.attributes['spanledger.trace.llm_calls']).toBe(2);
    }
    // Conservation: spans = rollups = metrics.
    expect(receiver.total('spanledger.cost.usd')).toBeCloseTo(RUNS * LIST_RUN_USD, 12);
    expect(receiver.total('spanledger.trace.cost.usd')).toBeCloseTo(RUNS * LIST_RUN_USD, 12);
    expect(receiver.total('spanledger.tokens', (a) => a['gen_ai.token.type'] === 'input')).toBe(
      RUNS * 3000,
    );
  });

  it('keeps metrics exact when the sampler exports no trace at all', async () => {
    receiver = await startOtlpReceiver();
    const run = await runApp(
      '--import',
      'priced-app.mjs',
      { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' },
      receiver,
    );
    expect(run.code).toBe(0);
    expect(receiver.spans).toHaveLength(0);
    expect(receiver.total('spanledger.cost.usd')).toBeCloseTo(RUNS * LIST_RUN_USD, 12);
    const runs = receiver.points.find((p) => p.metric === 'spanledger.trace.cost.usd');
    expect(runs?.count).toBe(RUNS);
  });

  it('prices with the SPANLEDGER_PRICES_FILE contract', async () => {
    receiver = await startOtlpReceiver();
    const prices = join(ROOT, 'test', 'fixtures', 'prices', 'contract.yaml');
    const run = await runApp(
      '--import',
      'priced-app.mjs',
      { SPANLEDGER_PRICES_FILE: prices },
      receiver,
    );
    expect(run.code).toBe(0);
    expect(receiver.total('spanledger.cost.usd')).toBeCloseTo(RUNS * CONTRACT_RUN_USD, 12);
    const chat = receiver.spans.find((s) => s.name === 'chat gpt-4o');
    expect(chat?.attributes['spanledger.cost.source']).toBe('override');
  });
});

describe('instrumentations patch what an ESM app imports', () => {
  it('node:http and openai are patched under --import (the loader hook is registered)', async () => {
    const run = await runApp('--import', 'patched-app.mjs', {
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
    });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ http: true, openai: true });
  });
});

describe('node --require spanledger/register (CommonJS app)', () => {
  it('exports the same priced telemetry', async () => {
    receiver = await startOtlpReceiver();
    const run = await runApp('--require', 'priced-app.cjs', {}, receiver);
    expect(run.code).toBe(0);
    expect(
      receiver.spans.filter((s) => s.attributes['spanledger.cost.usd'] !== undefined),
    ).toHaveLength(2 * RUNS);
    expect(receiver.total('spanledger.cost.usd')).toBeCloseTo(RUNS * LIST_RUN_USD, 12);
  });
});

/** A FIFO as a prices file: reading it would wait for a writer for ever. */
const FIFO = join(mkdtempSync(join(tmpdir(), 'spanledger-fifo-')), 'prices.yaml');
spawnSync('mkfifo', [FIFO]);

describe('bad configuration stops the process at startup, naming where and why', () => {
  it.each([
    [
      { SPANLEDGER_PRICES_FILE: FIFO },
      /^spanledger: SPANLEDGER_PRICES_FILE: cannot read .*prices\.yaml: not a regular file \(a FIFO\)/,
    ],
    [
      { SPANLEDGER_TRUST_BAGGAGE: 'ture' },
      /^spanledger: SPANLEDGER_TRUST_BAGGAGE: "ture" is not a dimension key/,
    ],
    [
      { SPANLEDGER_DIMENSIONS: 'spanledger.cost.usd' },
      /^spanledger: SPANLEDGER_DIMENSIONS: "spanledger.cost.usd" cannot be a dimension/,
    ],
    [
      { SPANLEDGER_PRICES_FILE: '/nonexistent/prices.yaml' },
      /SPANLEDGER_PRICES_FILE: cannot read \/nonexistent\/prices\.yaml/,
    ],
    [
      { SPANLEDGER_PRICES_FILE: join(ROOT, 'test', 'fixtures', 'prices', 'bad-price.yaml') },
      /SPANLEDGER_PRICES_FILE: .*bad-price\.yaml/,
    ],
    [
      { SPANLEDGER_REDIS_FAILURE: 'sometimes' },
      /SPANLEDGER_REDIS_FAILURE="sometimes": expected open or closed/,
    ],
    [
      { SPANLEDGER_INSTRUMENTATIONS: 'openai,langchain' },
      /SPANLEDGER_INSTRUMENTATIONS: unknown instrumentation "langchain"/,
    ],
    [
      { SPANLEDGER_TRUST_BAGGAGE: 'true', SPANLEDGER_MAX_VALUES_PER_DIMENSION: '-3' },
      /SPANLEDGER_MAX_VALUES_PER_DIMENSION="-3": expected a positive integer/,
    ],
  ])('%o', async (env, message) => {
    const run = await runApp('--import', 'priced-app.mjs', env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(message);
    expect(run.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
  });

  it('SPANLEDGER_DISABLED=true starts nothing and the app runs', async () => {
    receiver = await startOtlpReceiver();
    const run = await runApp(
      '--import',
      'priced-app.mjs',
      { SPANLEDGER_DISABLED: 'true' },
      receiver,
    );
    expect(run.code).toBe(0);
    expect(receiver.spans).toHaveLength(0);
    expect(receiver.points).toHaveLength(0);
  });
});
