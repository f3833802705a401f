/**
 * `spanledger budgets status|pause|resume`, in-process through `run()`, against a real
 * redis-server: the figures of `status` against hand-computed values, and a pause from the CLI
 * seen by a service's ledger sharing the Redis.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisLedger } from '../../src/budgets/redis-ledger.js';
import { BudgetExceededError, createSpanLedger } from '../../src/index.js';
import { startTestRedis, stopTestRedis, type TestRedis } from '../integration/redis-server.js';
import { cli } from './run-cli.js';

const BUDGETS = `budgets:
  - name: support-month
    scope: { useCase: support }
    window: { calendar: month, timeZone: UTC }
    limitUsd: 100
    maxTokens: 1000000
    maxLlmCalls: 1000
    action: block
  - name: tenant-day
    scope: { tenant: "*" }
    window: { calendar: day, timeZone: Europe/Paris }
    limitUsd: 5
    action: pause
  - name: per-run
    scope: trace
    limitUsd: 2
    action: block
`;

function budgetsFile(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'spanledger-budgets-')), 'budgets.yaml');
  writeFileSync(path, BUDGETS);
  return path;
}

let redis: TestRedis | undefined;
const file = budgetsFile();
const ledgers: RedisLedger[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
});
afterEach(() => {
  vi.unstubAllEnvs();
});
afterAll(async () => {
  for (const l of ledgers) await l.close();
  await stopTestRedis(redis);
});

/** A fresh key prefix for the CLI (through the service's variable) and a ledger on it. */
function fleet(): { prefix: string; store: RedisLedger } {
  const prefix = `cli:${randomUUID()}:`;
  vi.stubEnv('SPANLEDGER_REDIS_KEY_PREFIX', prefix);
  vi.stubEnv('SPANLEDGER_REDIS_URL', '');
  vi.stubEnv('SPANLEDGER_BUDGETS_FILE', '');
  vi.stubEnv('SPANLEDGER_PRICES_FILE', '');
  const store = new RedisLedger({
    url: redis?.server.url as string,
    keyPrefix: prefix,
    timeoutMs: 2000,
  });
  ledgers.push(store);
  return { prefix, store };
}

const KEY = 'spanledger:b:{support-month:_}:month:2026-11@UTC';
const ref = { key: KEY, ttlMs: 3_600_000 };

describe('spanledger budgets status', () => {
  it('prints each window’s limit, spent, reserved, remaining, burn rate and time to exhaustion, per unit', async (ctx) => {
    if (!redis) return ctx.skip();
    const { store } = fleet();
    // $30, 200,000 tokens and 120 LLM calls spent; one call in flight holds $2, 6000 tokens, 1 call.
    await store.add(ref, 30, { tokens: 200_000, llm_calls: 120 });
    const held = await store.reserve(
      { writeKey: KEY, readKeys: [KEY], ttlMs: 3_600_000 },
      2,
      100,
      true,
      {
        tokens: { amount: 6000, limit: 1_000_000 },
        llm_calls: { amount: 1, limit: 1000 },
      },
    );
    expect(held.ok).toBe(true);
    // Ten days (240 hours) into November.
    const args = ['--budgets', file, '--redis', redis.server.url, '--at', '2026-11-11T00:00:00Z'];
    const out = await cli('budgets', 'status', ...args, '--json');
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const status = JSON.parse(out.stdout);
    const month = status.budgets.find((b: { budget: string }) => b.budget === 'support-month');
    expect(month.window).toEqual({
      id: 'month:2026-11@UTC',
      key: KEY,
      start: '2026-11-01T00:00:00.000Z',
      end: '2026-12-01T00:00:00.000Z',
      elapsed_ms: 240 * 3_600_000,
    });
    // USD: 30 / 240 h = 0.125 $/h; (100 - 30 - 2) / 0.125 = 544 h.
    // Tokens: 200,000 / 240 = 833.33/h; 794,000 / 833.33 = 952.8 h. Calls: 0.5/h; 879 / 0.5 = 1758 h.
    expect(month.limits).toEqual([
      {
        unit: 'USD',
        counter: 'usd',
        limit: 100,
        spent: 30,
        reserved: 2,
        remaining: 68,
        burn_rate_per_hour: 0.125,
        exhaustion_in_ms: 544 * 3_600_000,
        exhaustion_at: '2026-12-03T16:00:00.000Z',
      },
      {
        unit: 'LLM calls',
        counter: 'llm_calls',
        limit: 1000,
        spent: 120,
        reserved: 1,
        remaining: 879,
        burn_rate_per_hour: 0.5,
        exhaustion_in_ms: 1758 * 3_600_000,
        exhaustion_at: '2027-01-23T06:00:00.000Z',
      },
      {
        unit: 'tokens',
        counter: 'tokens',
        limit: 1_000_000,
        spent: 200_000,
        reserved: 6000,
        remaining: 794_000,
        burn_rate_per_hour: 200_000 / 240,
        exhaustion_in_ms: 3_430_080_000, // 952.8 h
        exhaustion_at: '2026-12-20T16:48:00.000Z',
      },
    ]);
    expect(month.paused).toBeNull();
    // The per-value budget needs its value; the per-run budget has no shared window.
    expect(status.per_value).toEqual([
      'tenant-day: one window per tenant: add --dimension tenant=VALUE to see one',
    ]);
    expect(status.pauses).toEqual([]);

    const table = await cli('budgets', 'status', ...args);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('budgets at 2026-11-11T00:00:00.000Z');
    // Right-aligned, fixed decimals: 4 for USD, none for counts (burn rates of counts: 1).
    expect(table.stdout).toMatch(
      /^support-month +month:2026-11@UTC +USD +100\.0000 +30\.0000 +2\.0000 +68\.0000 +0\.1250 +22d 16h$/m,
    );
    expect(table.stdout).toMatch(/^ +LLM calls +1,000 +120 +1 +879 +0\.5 +73d 06h$/m);
    expect(table.stdout).toMatch(
      /^ +tokens +1,000,000 +200,000 +6,000 +794,000 +833\.3 +39d 16h$/m,
    );
    expect(table.stdout).toContain('paused scopes: none');
  });

  it('a per-value budget with its value; paused scopes listed with reason, by, at and until', async (ctx) => {
    if (!redis) return ctx.skip();
    fleet();
    const url = redis.server.url;
    const paused = await cli(
      'budgets',
      'pause',
      'tenant-day',
      '--dimension',
      'tenant=acme',
      '--reason',
      'runaway loop',
      '--by',
      'alice@ops-1',
      '--until',
      '2099-01-01',
      '--budgets',
      file,
      '--redis',
      url,
    );
    expect(paused.stderr).toBe('');
    expect(paused.code).toBe(0);
    // host:port: the URL (and a password in it) is not printed.
    expect(paused.stdout).toContain(
      `paused budget "tenant-day" (tenant=acme) for every process sharing 127.0.0.1:${redis.server.port}`,
    );
    expect(paused.stdout).toContain('until   2099-01-01T00:00:00.000Z');
    const out = await cli(
      'budgets',
      'status',
      'tenant-day',
      '--dimension',
      'tenant=acme',
      '--budgets',
      file,
      '--redis',
      url,
      '--at',
      '2026-11-30T12:00:00Z',
      '--json',
    );
    const status = JSON.parse(out.stdout);
    expect(status.budgets).toHaveLength(1);
    expect(status.budgets[0]).toMatchObject({
      budget: 'tenant-day',
      action: 'pause',
      dimensions: { tenant: 'acme' },
      window: { id: 'day:2026-11-30@Europe/Paris', start: '2026-11-29T23:00:00.000Z' },
      paused: { reason: 'runaway loop', by: 'alice@ops-1', until: '2099-01-01T00:00:00.000Z' },
    });
    expect(status.pauses).toMatchObject([
      {
        budget: 'tenant-day',
        dimensions: { tenant: 'acme' },
        reason: 'runaway loop',
        by: 'alice@ops-1',
      },
    ]);
    const table = await cli('budgets', 'status', '--budgets', file, '--redis', url);
    expect(table.stdout).toMatch(
      /^ {2}budget "tenant-day" \(tenant=acme\): runaway loop \(by alice@ops-1 at \S+Z, until 2099-01-01T00:00:00\.000Z\)$/m,
    );
    const resumed = await cli(
      'budgets',
      'resume',
      'tenant-day',
      '--dimension',
      'tenant=acme',
      '--budgets',
      file,
      '--redis',
      url,
    );
    expect(resumed).toEqual({
      code: 0,
      stdout: 'resumed budget "tenant-day" (tenant=acme)\n',
      stderr: '',
    });
    const again = await cli(
      'budgets',
      'resume',
      'tenant-day',
      '--dimension',
      'tenant=acme',
      '--budgets',
      file,
      '--redis',
      url,
    );
    expect(again.stdout).toBe('budget "tenant-day" (tenant=acme) was not paused\n');
  });
});

describe('spanledger budgets pause', () => {
  it('a pause from the CLI refuses the service’s guarded calls (limit paused, who, when, why) until resumed', async (ctx) => {
    if (!redis) return ctx.skip();
    const { prefix } = fleet();
    const budgetLedger = new RedisLedger({
      url: redis.server.url,
      keyPrefix: prefix,
      timeoutMs: 2000,
    });
    const service = createSpanLedger({ prices: file, budgetLedger });
    const support = { dimensions: { useCase: 'support' }, estimateUsd: 0.01 };
    expect(await service.guard(async () => 'ran', support)).toBe('ran');
    const url = redis.server.url;
    const p = await cli(
      'budgets',
      'pause',
      'support-month',
      '--reason',
      'runaway loop',
      '--by',
      'alice@ops-1',
      '--budgets',
      file,
      '--redis',
      url,
      '--json',
    );
    expect(p.code).toBe(0);
    const stored = JSON.parse(p.stdout).paused;
    const e = await service.guard(async () => 'ran', support).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BudgetExceededError);
    expect(e).toMatchObject({
      budget: 'support-month',
      limit: 'paused',
      pausedBy: 'alice@ops-1',
      pausedAt: stored.pausedAt,
      reason: `paused by alice@ops-1 at ${stored.pausedAt}: runaway loop`,
    });
    expect((e as BudgetExceededError).until).toBeUndefined();
    // check() answers block with the same figures.
    expect(await service.check(support)).toMatchObject({ action: 'block', limit: 'paused' });
    expect(
      await cli('budgets', 'resume', 'support-month', '--budgets', file, '--redis', url),
    ).toMatchObject({ code: 0 });
    expect(await service.guard(async () => 'ran', support)).toBe('ran');
    await service.shutdown();
  });

  it('says what is wrong: no Redis (exit 1), an unknown budget or a missing dimension (exit 2)', async (ctx) => {
    if (!redis) return ctx.skip();
    fleet();
    const none = await cli('budgets', 'pause', 'support-month', '--reason', 'x', '--budgets', file);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(
      "spanledger budgets pause: no shared budget ledger: budgets in a process' memory cannot be read or paused from outside it; set SPANLEDGER_REDIS_URL or --redis URL to the service's Redis\n",
    );
    const url = redis.server.url;
    const unknown = await cli(
      'budgets',
      'pause',
      'support-mnth',
      '--reason',
      'x',
      '--budgets',
      file,
      '--redis',
      url,
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(
      /^spanledger budgets: unknown budget "support-mnth" \(budgets with windows: support-month, tenant-day\)$/m,
    );
    const missing = await cli(
      'budgets',
      'pause',
      'tenant-day',
      '--reason',
      'x',
      '--budgets',
      file,
      '--redis',
      url,
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /budget "tenant-day" has one window per tenant: give tenant \(e\.g\. tenant=acme\)/,
    );
    const noReason = await cli(
      'budgets',
      'pause',
      'support-month',
      '--budgets',
      file,
      '--redis',
      url,
    );
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/--reason is required/);
    const down = await cli(
      'budgets',
      'status',
      '--budgets',
      file,
      '--redis',
      'redis://127.0.0.1:1',
    );
    expect(down.code).toBe(1);
    expect(down.stderr).toBe(
      'spanledger budgets status: Redis at 127.0.0.1:1 did not answer within 5 s\n',
    );
  }, 20_000);
});
