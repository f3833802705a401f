import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProcess } from '../support/apps.js';
import { ensureBuilt, ROOT } from '../support/built.js';
import { type OtlpReceiver, startOtlpReceiver } from '../support/otlp-receiver.js';
import { startTestRedis, stopTestRedis, type TestRedis } from './redis-server.js';

const RUNS = 10;
const LIST_RUN_USD = (1000 * 2.5 + 500 * 10 + 2000 * 2.5 + 100 * 10) / 1e6;

let redis: TestRedis | undefined;
let receiver: OtlpReceiver;

beforeAll(async () => {
  ensureBuilt();
  receiver = await startOtlpReceiver();
  redis = await startTestRedis();
});
afterAll(async () => {
  await receiver?.close();
  await stopTestRedis(redis);
});

function runApp(
  serviceName: string,
  url: string,
): Promise<{ code: number | null; stderr: string }> {
  return runProcess(
    process.execPath,
    ['--import', 'spanledger/register', join('test', 'fixtures', 'apps', 'priced-app.mjs')],
    {
      env: {
        PATH: process.env.PATH,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_LOGS_EXPORTER: 'none',
        OTEL_SERVICE_NAME: serviceName,
        OTEL_RESOURCE_ATTRIBUTES: 'spanledger.team=payments',
        SPANLEDGER_REDIS_URL: url,
        SPANLEDGER_REDIS_KEY_PREFIX: 'register-test:',
        // What is tested is the shared window, not the deadline: two processes and the test
        // suite share two cores, where a 50 ms deadline is sometimes missed (and said).
        SPANLEDGER_REDIS_TIMEOUT_MS: '2000',
        SPANLEDGER_BUDGETS_FILE: join(ROOT, 'test', 'fixtures', 'budgets', 'team-daily.yaml'),
        RUNS: String(RUNS),
      },
    },
  );
}

describe('register with SPANLEDGER_REDIS_URL', () => {
  it('two processes add their spend to one shared team window in Redis', async (ctx) => {
    if (!redis) return ctx.skip();
    const { server, raw } = redis;
    const runs = await Promise.all([
      runApp('replica-a', server.url),
      runApp('replica-b', server.url),
    ]);
    expect(runs.map((r) => r.code)).toEqual([0, 0]);
    expect(runs.map((r) => r.stderr)).toEqual(['', '']);

    const keys = await raw.keys('register-test:*');
    expect(keys).toHaveLength(1); // one window: team payments, today (UTC)
    const window = await raw.hGetAll(keys[0] as string);
    expect(Number(window.spent)).toBeCloseTo(2 * RUNS * LIST_RUN_USD, 12);
    expect(Number(window.reserved ?? 0)).toBe(0);
    // The same dollars as the exported cost metrics of both replicas, with the team label.
    expect(
      receiver.total('spanledger.cost.usd', (a) => a['spanledger.team'] === 'payments'),
    ).toBeCloseTo(2 * RUNS * LIST_RUN_USD, 12);
  });
});
