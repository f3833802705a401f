/**
 * Pause and resume across a fleet on a real redis-server (docs/budgets.md, "Pause and resume"):
 * two service processes (budgets-pause-worker.ts) make guarded calls in a loop; the built
 * `spanledger budgets pause` stops both, and `resume` lets both continue, each within one second
 * (measured). And `action: pause` trips at the limit and stays paused after the window rolls
 * over (fake clock) until resumed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLedger } from '../../src/budgets/redis-ledger.js';
import { BudgetExceededError, createSpanLedger } from '../../src/index.js';
import { ensureBuilt, ROOT } from '../support/built.js';
import { startTestRedis, stopTestRedis, type TestRedis, waitFor } from './redis-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const BUDGETS = `budgets:
  - name: support-month
    scope: { useCase: support }
    window: { calendar: month, timeZone: UTC }
    limitUsd: 1000
    action: block
`;

let redis: TestRedis | undefined;
let file = '';

beforeAll(async () => {
  redis = await startTestRedis();
  if (redis) ensureBuilt();
  file = join(mkdtempSync(join(tmpdir(), 'spanledger-pause-')), 'budgets.yaml');
  writeFileSync(file, BUDGETS);
});
afterAll(async () => {
  await stopTestRedis(redis);
});

/** The service's variables: both workers and the CLI read the same budgets and Redis. */
const serviceEnv = (prefix: string): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  SPANLEDGER_BUDGETS_FILE: file,
  SPANLEDGER_REDIS_URL: redis?.server.url,
  SPANLEDGER_REDIS_KEY_PREFIX: prefix,
  SPANLEDGER_REDIS_FAILURE: 'closed',
  SPANLEDGER_REDIS_TIMEOUT_MS: '2000',
});

interface Worker {
  child: ChildProcess;
  /** Lines printed so far. */
  lines: string[];
  /** The epoch ms of the first line starting with `word` after line `from`. */
  next(word: string, from?: number): Promise<{ at: number; rest: string; index: number }>;
}

function worker(prefix: string): Worker {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(here, 'budgets-pause-worker.ts')],
    {
      cwd: ROOT,
      env: serviceEnv(prefix),
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  let buffer = '';
  let err = '';
  const waiters: (() => void)[] = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    lines.push(...parts);
    for (const w of waiters.splice(0)) w();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const next = async (word: string, from = 0) => {
    for (;;) {
      const index = lines.findIndex((l, i) => i >= from && l.startsWith(`${word}`));
      if (index >= 0) {
        const [, at, ...rest] = (lines[index] as string).split(' ');
        return { at: Number(at), rest: rest.join(' '), index };
      }
      if (child.exitCode !== null) throw new Error(`worker exited ${child.exitCode}: ${err}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        child.once('exit', () => resolve());
      });
    }
  };
  return { child, lines, next };
}

/** The built CLI (`dist/cli/main.js`), as an SRE runs it: its output and when it exited. */
function cli(
  prefix: string,
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string; exitedAt: number }> {
  const child = spawn(process.execPath, [join(ROOT, 'dist/cli/main.js'), ...args], {
    cwd: ROOT,
    env: serviceEnv(prefix),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve) =>
    child.once('exit', (code) => resolve({ code, stdout, stderr, exitedAt: Date.now() })),
  );
}

describe('spanledger budgets pause and resume, across two running processes', () => {
  it('the CLI stops both within one second of the pause, and resume lets both continue', async (ctx) => {
    if (!redis) return ctx.skip();
    const prefix = `pause:${randomUUID()}:`;
    const workers = [worker(prefix), worker(prefix)];
    await Promise.all(workers.map((w) => w.next('ready')));
    for (const w of workers) w.child.stdin?.write('go\n');
    await Promise.all(workers.map((w) => w.next('running')));

    const started = Date.now();
    const paused = await cli(
      prefix,
      'budgets',
      'pause',
      'support-month',
      '--reason',
      'runaway loop',
      '--by',
      'sre@ops-1',
      '--json',
    );
    expect(paused.stderr).toBe('');
    expect(paused.code).toBe(0);
    const pausedAt = JSON.parse(paused.stdout).paused.pausedAt as string;
    const refusals = await Promise.all(workers.map((w) => w.next('refused')));
    const delays = refusals.map((r) => r.at - Date.parse(pausedAt));
    console.log(
      `pause: CLI ran ${paused.exitedAt - started} ms; stored at ${pausedAt}; workers refused ${delays.join(' and ')} ms after it`,
    );
    for (const [i, r] of refusals.entries()) {
      // Refused from the moment the pause is stored: well within one second.
      expect(delays[i]).toBeGreaterThanOrEqual(0);
      expect(delays[i]).toBeLessThan(1000);
      expect(JSON.parse(r.rest)).toEqual({
        budget: 'support-month',
        limit: 'paused',
        pausedBy: 'sre@ops-1',
        pausedAt,
        reason: `paused by sre@ops-1 at ${pausedAt}: runaway loop`,
      });
    }

    const resumed = await cli(prefix, 'budgets', 'resume', 'support-month');
    expect(resumed).toMatchObject({
      code: 0,
      stdout: 'resumed budget "support-month"\n',
      stderr: '',
    });
    const allowed = await Promise.all(workers.map((w, i) => w.next('allowed', refusals[i]?.index)));
    const after = allowed.map((a) => a.at - resumed.exitedAt);
    console.log(`resume: workers ran again ${after.join(' and ')} ms after the CLI exited`);
    for (const a of after) expect(a).toBeLessThan(1000);

    for (const w of workers) w.child.stdin?.write('stop\n');
    const totals = await Promise.all(
      workers.map(async (w) => {
        await new Promise((resolve) => w.child.once('exit', resolve));
        return JSON.parse(w.lines.find((l) => l.startsWith('{')) as string);
      }),
    );
    for (const t of totals) {
      expect(t.errors).toEqual([]);
      expect(t.ran).toBeGreaterThan(1);
      expect(t.refused).toBeGreaterThan(0);
    }
  }, 60_000);
});

describe('action: pause', () => {
  it('trips at the limit, stays paused after the window rolls over, until resumed', async (ctx) => {
    if (!redis) return ctx.skip();
    const prefix = `trip:${randomUUID()}:`;
    let now = Date.parse('2026-11-30T23:59:00Z');
    const budgetLedger = new RedisLedger({
      url: redis.server.url,
      keyPrefix: prefix,
      timeoutMs: 2000,
      failure: 'closed',
    });
    const ledger = createSpanLedger({
      now: () => now,
      budgetLedger,
      budgets: [
        {
          name: 'tenant-day',
          scope: { tenant: '*' },
          window: { calendar: 'day', timeZone: 'UTC' },
          limitUsd: 0.05,
          action: 'pause',
        },
      ],
    });
    const acme = { dimensions: { tenant: 'acme' } };
    await (await ledger.reserve(0.03, acme)).settle(0.03);
    // The call that does not fit trips the pause, and is refused by it.
    const e = (await ledger.reserve(0.03, acme).catch((x: unknown) => x)) as BudgetExceededError;
    expect(e).toBeInstanceOf(BudgetExceededError);
    expect(e).toMatchObject({
      budget: 'tenant-day',
      limit: 'paused',
      pausedBy: 'spanledger (action: pause)',
      pausedAt: '2026-11-30T23:59:00.000Z',
      reason:
        'paused by spanledger (action: pause) at 2026-11-30T23:59:00.000Z: limit reached: limit_usd: spent 0.03 + estimate 0.03 would exceed 0.05 USD',
    });
    // The pause is a key of its own, with no window TTL; the window's key has one.
    const pauseKey = `${prefix}spanledger:b:{tenant-day:tenant=acme}:paused`;
    expect(await redis.raw.pTTL(pauseKey)).toBe(-1);
    expect(
      await redis.raw.pTTL(`${prefix}spanledger:b:{tenant-day:tenant=acme}:day:2026-11-30@UTC`),
    ).toBeGreaterThan(0);
    // Another tenant is not paused.
    await (await ledger.reserve(0.01, { dimensions: { tenant: 'globex' } })).settle(0.01);

    // The next day: a fresh window with nothing spent, and still paused.
    now = Date.parse('2026-12-01T00:00:01Z');
    expect(
      (await ledger.reserve(0.01, acme).catch((x: unknown) => x)) as BudgetExceededError,
    ).toMatchObject({
      limit: 'paused',
      pausedAt: '2026-11-30T23:59:00.000Z',
    });
    expect(await ledger.check(acme)).toMatchObject({ action: 'block', limit: 'paused' });
    expect(await ledger.pauses()).toEqual([
      {
        budget: 'tenant-day',
        dimensions: { tenant: 'acme' },
        key: 'spanledger:b:{tenant-day:tenant=acme}:paused',
        reason: 'limit reached: limit_usd: spent 0.03 + estimate 0.03 would exceed 0.05 USD',
        by: 'spanledger (action: pause)',
        pausedAt: '2026-11-30T23:59:00.000Z',
      },
    ]);
    expect(await ledger.resume({ budget: 'tenant-day', dimensions: { tenant: 'acme' } })).toBe(
      true,
    );
    await (await ledger.reserve(0.01, acme)).settle(0.01);

    // Spend that reaches the limit exactly (no refusal needed) trips it too: the write that
    // reached it pauses the scope.
    await (await ledger.reserve(0.04, acme)).settle(0.04);
    await waitFor('the pause', async () => (await ledger.pauses()).length === 1, 5000);
    expect(
      (await ledger.reserve(0, acme).catch((x: unknown) => x)) as BudgetExceededError,
    ).toMatchObject({
      limit: 'paused',
      reason:
        'paused by spanledger (action: pause) at 2026-12-01T00:00:01.000Z: limit reached: limit_usd: spent 0.05 of 0.05 USD',
    });
    await ledger.shutdown();
  });
});

describe('pauses when Redis is unreachable', () => {
  it('fail-open: a scope this process last saw paused stays refused; one it never saw paused is decided locally', async (ctx) => {
    const own = await startTestRedis();
    if (!own) return ctx.skip();
    try {
      const make = () =>
        new RedisLedger({ url: own.server.url, keyPrefix: 'fo:', timeoutMs: 200, failure: 'open' });
      const seen = make();
      const unseen = make();
      expect(await seen.ready()).toBe(true);
      expect(await unseen.ready()).toBe(true);
      const w = {
        writeKey: 'w:{a:_}:day',
        readKeys: ['w:{a:_}:day'],
        ttlMs: 60_000,
        pauseKey: 'w:{a:_}:paused',
      };
      const info = { reason: 'incident', by: 'ops', at: Date.now() };
      expect(await seen.pause('w:{a:_}:paused', info)).toEqual({ ok: true });
      expect((await unseen.reserve({ ...w, pauseKey: undefined }, 0.01, 1, true)).ok).toBe(true);
      await own.raw.close();
      await own.server.kill();
      // Decided without Redis: the pause this ledger knows holds; the other knows none.
      expect(await seen.reserve(w, 0.01, 1, true)).toMatchObject({ ok: false, paused: info });
      expect(await unseen.reserve(w, 0.01, 1, true)).toMatchObject({ ok: true });
      expect(seen.stats().degradedReserves).toBe(1);
      // pause and resume need Redis: they say so and change nothing.
      expect(await seen.resume('w:{a:_}:paused')).toEqual({ ok: false, unavailable: true });
      expect(await seen.pauses()).toBeUndefined();
      expect(await seen.reserve(w, 0.01, 1, true)).toMatchObject({ ok: false, paused: info });
      await seen.close();
      await unseen.close();
    } finally {
      await own.server.stop();
    }
  }, 30_000);
});
