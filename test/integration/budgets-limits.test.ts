/**
 * Token and call limits on calendar windows over a real redis-server (docs/budgets.md,
 * "Limits"): four replicas (child processes, each a `createSpanLedger` with a `RedisLedger`, see
 * budgets-limits-worker.ts) with four loops each share one monthly budget; and a quarterly budget
 * in Europe/Paris with a fiscal year from April rolls over at local midnight on 1 July, on a fake
 * clock, in Redis.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { context, trace } from '@opentelemetry/api';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLedger } from '../../src/budgets/redis-ledger.js';
import { BudgetExceededError, type BudgetInput, createSpanLedger } from '../../src/index.js';
import { gpt4oChat, useContextManager } from '../support/fixtures.js';
import {
  type RawRedis,
  type RedisServer,
  startFaultProxy,
  startTestRedis,
  stopTestRedis,
  waitFor,
} from './redis-server.js';

useContextManager();

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const NOW = Date.parse('2026-11-02T10:00:00Z');
/** Most tokens one worker call uses (20000 input + 2000 output). */
const MAX_CALL = 22_000;
const REPLICAS = 4;
const LOOPS = 4;
/** Calls that can be in flight at once: every loop of every replica. */
const IN_FLIGHT = REPLICAS * LOOPS;

interface Result {
  calls: number;
  tokens: number;
  refusals: { limit: string; unit?: string; used?: number; max?: number; ran: boolean }[];
  errors: string[];
  degradedReserves: number;
}

/** Starts one replica; `ready` once its ledger reached Redis, `done` with its result. */
function replica(url: string, prefix: string, budget: BudgetInput, estimate: number | 'none') {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(here, 'budgets-limits-worker.ts'),
      url,
      prefix,
      JSON.stringify(budget),
      String(LOOPS),
      String(NOW),
      String(estimate),
    ],
    { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((ok) => {
    onReady = ok;
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes('ready\n')) onReady();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const done = new Promise<Result>((ok, fail) =>
    child.once('exit', (code) => {
      const json = out.split('\n').find((line) => line.startsWith('{'));
      if (code === 0 && json) ok(JSON.parse(json) as Result);
      else fail(new Error(`replica exited ${code}: ${err}\n${out}`));
    }),
  );
  return { child, ready, done };
}

/** Runs the four replicas against one budget until every loop was refused. */
async function fleet(prefix: string, budget: BudgetInput, estimate: number | 'none') {
  const replicas = Array.from({ length: REPLICAS }, () =>
    replica(server?.url ?? '', prefix, budget, estimate),
  );
  await Promise.all(replicas.map((r) => r.ready));
  const started = Date.now();
  for (const r of replicas) r.child.stdin?.write('go\n');
  const results = await Promise.all(replicas.map((r) => r.done));
  return { results, elapsed: Date.now() - started };
}

let server: RedisServer | undefined;
let raw: RawRedis | undefined;

beforeAll(async () => {
  ({ server, raw } = (await startTestRedis()) ?? {});
});

afterAll(async () => {
  await stopTestRedis({ server, raw });
});

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const LIMIT = 2_000_000;
const tokensMonth: BudgetInput = {
  name: 'tokens-month',
  scope: { team: 'payments' },
  window: { calendar: 'month', timeZone: 'UTC' },
  maxTokens: LIMIT,
  action: 'block',
};
const KEY = 'spanledger:b:{tokens-month:_}:month:2026-11@UTC';

describe('a monthly 2M-token budget shared by four processes (four loops each)', () => {
  it('with estimates that cover each call: never over the limit; Redis holds exactly the tokens used', async (ctx) => {
    if (!server || !raw) return ctx.skip();
    const prefix = `bt:${randomUUID()}:`;
    const { results, elapsed } = await fleet(prefix, tokensMonth, MAX_CALL);
    const stored = await raw.hGetAll(prefix + KEY);
    const used = Number(stored['spent:tokens']);
    const calls = sum(results.map((r) => r.calls));
    console.log(
      `tokens with estimates: ${calls} calls in ${elapsed} ms (${results.map((r) => r.calls).join(' + ')}); ` +
        `Redis spent:tokens ${stored['spent:tokens']}, reserved:tokens ${stored['reserved:tokens']}`,
    );
    for (const r of results) {
      expect(r.errors).toEqual([]);
      expect(r.degradedReserves).toBe(0);
      expect(r.calls).toBeGreaterThan(0);
      // Each loop stopped at one refusal, of the token limit, before its function ran.
      expect(r.refusals).toHaveLength(LOOPS);
      for (const f of r.refusals) {
        expect(f).toMatchObject({ limit: 'max_tokens', unit: 'tokens', max: LIMIT, ran: false });
        expect((f.used as number) + MAX_CALL).toBeGreaterThan(LIMIT);
      }
    }
    // Exact accounting: what the callers used is what Redis holds; nothing left reserved.
    expect(used).toBe(sum(results.map((r) => r.tokens)));
    expect(Number(stored['reserved:tokens'] ?? 0)).toBe(0);
    // Never over; used up to within what the loops could hold in flight.
    expect(used).toBeLessThanOrEqual(LIMIT);
    expect(used).toBeGreaterThan(LIMIT - IN_FLIGHT * MAX_CALL);
  }, 120_000);

  it('without estimates: overshoot at most the tokens of the calls in flight', async (ctx) => {
    if (!server || !raw) return ctx.skip();
    const prefix = `bn:${randomUUID()}:`;
    const { results, elapsed } = await fleet(prefix, tokensMonth, 'none');
    const stored = await raw.hGetAll(prefix + KEY);
    const used = Number(stored['spent:tokens']);
    console.log(
      `tokens without estimates: ${sum(results.map((r) => r.calls))} calls in ${elapsed} ms; ` +
        `Redis spent:tokens ${used}: ${used - LIMIT} over the limit (bound ${IN_FLIGHT} x ${MAX_CALL} = ${IN_FLIGHT * MAX_CALL})`,
    );
    for (const r of results) {
      expect(r.errors).toEqual([]);
      expect(r.refusals).toHaveLength(LOOPS);
      // A call without an estimate is refused once the tokens are used up, not before.
      for (const f of r.refusals) {
        expect(f).toMatchObject({ limit: 'max_tokens', max: LIMIT, ran: false });
        expect(f.used as number).toBeGreaterThanOrEqual(LIMIT);
      }
    }
    expect(used).toBe(sum(results.map((r) => r.tokens)));
    expect(used).toBeGreaterThanOrEqual(LIMIT);
    // Each call was admitted while the window had tokens left: the overshoot is what the calls
    // then in flight used, at most one call per loop.
    expect(used - LIMIT).toBeLessThanOrEqual(IN_FLIGHT * MAX_CALL);
  }, 120_000);
});

describe('a monthly LLM call limit shared by four processes', () => {
  it('exactly the limit runs: one call held per call in flight, atomically with the check', async (ctx) => {
    if (!server || !raw) return ctx.skip();
    const prefix = `bc:${randomUUID()}:`;
    const budget: BudgetInput = {
      name: 'calls-month',
      scope: { team: 'payments' },
      window: { calendar: 'month', timeZone: 'UTC' },
      maxLlmCalls: 150,
      action: 'block',
    };
    const { results } = await fleet(prefix, budget, 'none');
    const stored = await raw.hGetAll(`${prefix}spanledger:b:{calls-month:_}:month:2026-11@UTC`);
    expect(sum(results.map((r) => r.calls))).toBe(150);
    expect(stored['spent:llm_calls']).toBe('150');
    expect(Number(stored['reserved:llm_calls'] ?? 0)).toBe(0);
    for (const r of results) {
      expect(r.errors).toEqual([]);
      for (const f of r.refusals) {
        expect(f).toEqual({
          limit: 'max_llm_calls',
          unit: 'calls',
          used: 150,
          max: 150,
          ran: false,
        });
      }
    }
  }, 120_000);
});

describe('a quarterly budget in Europe/Paris, fiscal year from April, in Redis', () => {
  it('rolls over at local midnight on 1 July (2026-06-30T22:00Z), not at UTC midnight; keys expire by themselves', async (ctx) => {
    if (!server || !raw) return ctx.skip();
    const prefix = `bq:${randomUUID()}:`;
    let now = Date.parse('2026-06-30T21:00:00Z');
    const budgetLedger = new RedisLedger({ url: server.url, keyPrefix: prefix, failure: 'closed' });
    expect(await budgetLedger.ready()).toBe(true);
    const ledger = createSpanLedger({
      now: () => now,
      budgetLedger,
      budgets: [
        {
          name: 'q-tokens',
          scope: { team: 'payments' },
          window: { calendar: 'quarter', timeZone: 'Europe/Paris', fiscalYearStartMonth: 4 },
          maxTokens: 4600,
          limitUsd: 100,
          action: 'block',
        },
      ],
    });
    const tracer = new TracerProvider({ spanProcessors: [ledger.processor] }).getTracer('q');
    const call = async () => {
      const rootSpan = tracer.startSpan('run', { attributes: { 'spanledger.team': 'payments' } });
      try {
        await context.with(trace.setSpan(context.active(), rootSpan), () =>
          ledger.guard(() => {
            tracer.startSpan('chat', { attributes: gpt4oChat(2000, 0, 300) }).end();
          }),
        );
        return 'ran';
      } catch (e) {
        if (e instanceof BudgetExceededError) return e;
        throw e;
      } finally {
        rootSpan.end();
      }
    };
    expect(await call()).toBe('ran');
    expect(await call()).toBe('ran');
    now = Date.parse('2026-06-30T21:59:59.999Z');
    expect(await call()).toMatchObject({ limit: 'max_tokens', used: 4600, max: 4600 });
    now = Date.parse('2026-06-30T22:00:00Z');
    expect(await call()).toBe('ran');
    const q2 = `${prefix}spanledger:b:{q-tokens:_}:quarter:2026-04@Europe/Paris`;
    const q3 = `${prefix}spanledger:b:{q-tokens:_}:quarter:2026-07@Europe/Paris`;
    expect((await raw.keys(`${prefix}*`)).sort()).toEqual([q2, q3]);
    expect(await raw.hGet(q2, 'spent:tokens')).toBe('4600');
    expect(await raw.hGet(q3, 'spent:tokens')).toBe('2300');
    // TTLs from the fake clock: the old quarter's key, last written at 21:00Z, lives to one hour
    // (grace) past its end; the new one the whole quarter (92 days) plus that hour.
    const HOUR = 3_600_000;
    const ttl2 = await raw.pTTL(q2);
    const ttl3 = await raw.pTTL(q3);
    expect(ttl2).toBeGreaterThan(2 * HOUR - 60_000);
    expect(ttl2).toBeLessThanOrEqual(2 * HOUR);
    expect(ttl3).toBeGreaterThan(92 * 24 * HOUR + HOUR - 60_000);
    expect(ttl3).toBeLessThanOrEqual(92 * 24 * HOUR + HOUR);
    await ledger.shutdown();
  }, 30_000);
});

describe('counters when Redis does not answer (fail-open), and their replay', () => {
  it('decides from the last totals plus what this process holds; lost writes land once', async (ctx) => {
    if (!server || !raw) return ctx.skip();
    const proxy = await startFaultProxy(server.port);
    const prefix = `bf:${randomUUID()}:`;
    const l = new RedisLedger({
      url: proxy.url,
      keyPrefix: prefix,
      timeoutMs: 100,
      failure: 'open',
    });
    try {
      expect(await l.ready()).toBe(true);
      const DAY = 86_400_000;
      const w = { writeKey: 'k', readKeys: ['k'], ttlMs: DAY };
      const k = { key: 'k', ttlMs: DAY };
      const call = { llm_calls: { amount: 1, limit: 3 }, tokens: { amount: 500, limit: 2000 } };
      const names = ['llm_calls', 'tokens'];
      await l.add(k, 0, { tokens: 1000 });
      expect((await l.reserve(w, 0, Number.POSITIVE_INFINITY, true, call)).ok).toBe(true);

      proxy.mode = 'blackhole';
      // Decided locally: 1000 spent + 500 held in Redis + 500 more fits 2000 exactly.
      expect(await l.reserve(w, 0, Number.POSITIVE_INFINITY, true, call)).toEqual({
        ok: true,
        spentUsd: 0,
        reservedUsd: 0,
        counts: { llm_calls: { spent: 0, reserved: 2 }, tokens: { spent: 1000, reserved: 1000 } },
      });
      expect(await l.reserve(w, 0, Number.POSITIVE_INFINITY, true, call)).toMatchObject({
        ok: false,
        counts: { tokens: { spent: 1000, reserved: 1000 } },
      });
      // The reservation taken in Redis settles; the write is sent, its outcome unknown.
      const settled = {
        reserved: { llm_calls: 1, tokens: 500 },
        actual: { llm_calls: 1, tokens: 400 },
      };
      expect(await l.settle(k, 0, k, 0, settled)).toBeUndefined();
      // Unknown is not zero: the spend counts at once. A settle gives back the reservation this
      // process took locally first (the one Redis holds is released below, through Redis).
      expect((await l.get(['k'], names)).counts).toEqual({
        llm_calls: { spent: 1, reserved: 1 },
        tokens: { spent: 1400, reserved: 500 },
      });
      await l.release(k, 0, { llm_calls: 1, tokens: 500 });

      proxy.mode = 'pass';
      proxy.cut();
      await waitFor('the ledger to reconnect and replay', () => {
        const st = l.stats();
        return st.connects >= 2 && st.shadowKeys === 0;
      });
      const stored = await raw.hGetAll(`${prefix}k`);
      expect({
        tokens: [stored['spent:tokens'], Number(stored['reserved:tokens'])],
        calls: [stored['spent:llm_calls'], Number(stored['reserved:llm_calls'])],
      }).toEqual({ tokens: ['1400', 0], calls: ['1', 0] });
      expect((await l.get(['k'], names)).counts).toEqual({
        llm_calls: { spent: 1, reserved: 0 },
        tokens: { spent: 1400, reserved: 0 },
      });
    } finally {
      await l.close();
      await proxy.close();
    }
  }, 30_000);
});
