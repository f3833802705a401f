import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runProcess } from '../support/apps.js';
import { ensureBuilt } from '../support/built.js';
import {
  type MockProviders,
  OPENAI_DEFAULTS,
  startMockProviders,
} from '../support/mock-providers.js';
import { type OtlpReceiver, startOtlpReceiver } from '../support/otlp-receiver.js';

// The overhead bench's floor (bench/fixtures/conventions-floor.mjs, docs/performance.md) stands
// for "what carrying register's attributes costs" only while it writes what register writes: the
// same keys on an OpenAI chat span, with the same value types and, for this call, the same values.
// Run here through the bench's own app (bench/fixtures/overhead-app.mjs), one real `openai` call
// against the mock provider, exported over OTLP.

let mock: MockProviders;
let receiver: OtlpReceiver | undefined;
beforeAll(async () => {
  await ensureBuilt();
  mock = await startMockProviders();
  // The bench's first mock: no prompt-cache hit.
  mock.openai = { ...OPENAI_DEFAULTS, cached: 0 };
  return () => mock.close();
});
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

/** The attributes of the one chat span the bench's app exports under `preload`. */
async function chatSpan(preload: string): Promise<Record<string, unknown>> {
  receiver = await startOtlpReceiver();
  const run = await runProcess(
    process.execPath,
    ['--import', preload, 'bench/fixtures/overhead-app.mjs'],
    {
      env: {
        PATH: process.env.PATH,
        BENCH_CALLS: '1',
        BENCH_WARMUP: '0',
        BENCH_CASES: 'openai chat',
        MOCK_OPENAI_URL: mock.openaiURL,
        OTEL_SERVICE_NAME: 'bench-floor-test',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
      },
    },
  );
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const chats = receiver.spans.filter((s) => s.name === 'chat gpt-4o');
  expect(chats).toHaveLength(1);
  await receiver.close();
  receiver = undefined;
  return chats[0]?.attributes ?? {};
}

describe("the overhead bench's conventions floor", () => {
  it('adds to an OpenAI chat span the keys, value types and values register adds', async () => {
    const plain = await chatSpan('./bench/fixtures/plain-otel.mjs');
    const register = await chatSpan('spanledger/register');
    const floor = await chatSpan('./bench/fixtures/conventions-floor.mjs');
    const added = (attrs: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(attrs).filter(([key]) => !(key in plain)));
    const byRegister = added(register);
    const byFloor = added(floor);
    expect(Object.keys(byRegister)).toHaveLength(33);
    expect(Object.keys(byFloor).sort()).toEqual(Object.keys(byRegister).sort());
    for (const [key, value] of Object.entries(byRegister)) {
      expect(typeof byFloor[key], key).toBe(typeof value);
      if (typeof value === 'number') expect(byFloor[key], key).toBeCloseTo(value, 15);
      else expect(byFloor[key], key).toEqual(value);
    }
    // 1200 input and 300 output tokens of gpt-4o at list price: $0.003 + $0.003.
    expect(byRegister['spanledger.cost.usd']).toBeCloseTo(0.006, 15);
  });
});
