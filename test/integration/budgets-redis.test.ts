/**
 * The decision API end to end over a real redis-server: two replicas (child processes, each a
 * `createSpanLedger` with a `RedisLedger`, see budgets-redis-worker.ts) share one daily team
 * budget of $0.50 with action `block`. Their guarded calls run concurrently until refused; then
 * Redis is killed while they run, under `failure: 'closed'`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLedger } from '../../src/budgets/redis-ledger.js';
import type { BudgetEvent } from '../../src/index.js';
import { harness } from '../processor/harness.js';
// Type only: erased, so the worker script does not run here.
import type { Refusal } from './budgets-redis-worker.js';
import {
  type RawRedis,
  type RedisServer,
  startTestRedis,
  stopTestRedis,
  waitFor,
} from './redis-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const NOW = Date.parse('2026-11-02T10:00:00Z');
const KEY = 'spanledger:b:{team-daily:_}:day:2026-11-02@UTC';
const ESTIMATE = 0.01;

interface Result {
  pid: number;
  calls: number;
  spentUsd: number;
  mispriced: number;
  refusals: Refusal[];
  callsAfterKill: number;
  checkDuringOutage?: {
    action: string;
    budget?: string;
    remainingUsd?: number;
    spentUsd?: number;
  };
  ledgerStats: {
    redisUnavailable: number;
    redisTimeout: number;
    degradedReserves: number;
    pendingWrites: number;
  };
  problems: Record<string, number>;
  diagWarnings: string[];
  events: { kind: string; threshold?: number }[];
}

interface Replica {
  child: ChildProcess;
  ready: Promise<void>;
  warm: Promise<void>;
  done: Promise<Result>;
}

/** Starts one replica; resolves `ready` when its ledger reached Redis. */
function replica(url: string, prefix: string, mode: 'exhaust' | 'outage', limit: number): Replica {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(here, 'budgets-redis-worker.ts'),
      url,
      prefix,
      mode,
      String(limit),
      '8',
      String(NOW),
      'closed',
      mode === 'exhaust' ? '2000' : '200',
    ],
    { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  const lines: ((line: string) => void)[] = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const l of lines) l(out);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const seen = (word: string) =>
    new Promise<void>((ok) => lines.push((text) => text.includes(`${word}\n`) && ok()));
  return {
    child,
    ready: seen('ready'),
    warm: seen('warm'),
    done: new Promise((ok, fail) =>
      child.once('exit', (code) => {
        const json = out.split('\n').find((line) => line.startsWith('{'));
        if (code === 0 && json) ok(JSON.parse(json) as Result);
        else fail(new Error(`replica exited ${code}: ${err}\n${out}`));
      }),
    ),
  };
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

describe('budgets over Redis: two replicas, one daily team budget', () => {
  it('guarded calls share $0.50: Redis spend = what callers observed, <= limit, refusals before the call', async (ctx) => {
    if (!server || !raw) return ctx.skip();
    const prefix = `br:${randomUUID()}:`;
    const limit = 0.5;
    const replicas = [0, 1].map(() => replica(server?.url ?? '', prefix, 'exhaust', limit));
    await Promise.all(replicas.map((r) => r.ready));
    const started = Date.now();
    for (const r of replicas) r.child.stdin?.write('go\n');
    const results = await Promise.all(replicas.map((r) => r.done));
    const elapsed = Date.now() - started;

    // What Redis holds: one hash, the team's window of 2026-11-02 (UTC).
    expect(await raw.keys(`${prefix}*`)).toEqual([prefix + KEY]);
    const stored = await raw.hGetAll(prefix + KEY);
    const redisSpent = Number(stored.spent);
    const observed = sum(results.map((r) => r.spentUsd));
    const calls = sum(results.map((r) => r.calls));
    console.log(
      `2 replicas x 8 loops: ${calls} guarded calls in ${elapsed} ms (${results
        .map((r) => r.calls)
        .join(' + ')}); Redis spent "${stored.spent}", reserved "${stored.reserved}"; ` +
        `callers observed ${observed}; refusals ${results.map((r) => r.refusals.length).join(' + ')}; ` +
        `warnings signalled per replica ${results.map((r) => r.events.length).join(' + ')}`,
    );

    for (const r of results) {
      // Both replicas really spent from the shared budget, every span at its known price.
      expect(r.calls).toBeGreaterThan(0);
      expect(r.mispriced).toBe(0);
      // Redis answered every operation: the refusals are budget decisions, not the policy.
      expect(r.ledgerStats).toMatchObject({ redisUnavailable: 0, redisTimeout: 0 });
      expect(r.ledgerStats.degradedReserves).toBe(0);
      // Each of the 8 loops stopped at exactly one refusal: a BudgetExceededError from the
      // team budget, thrown before the guarded function started.
      expect(r.refusals).toHaveLength(8);
      for (const f of r.refusals) {
        expect(f).toMatchObject({
          name: 'BudgetExceededError',
          budget: 'team-daily',
          limit: 'limit_usd',
          limitUsd: limit,
          ran: false,
        });
        // A genuine refusal: what was spent and held left no room for one more estimate.
        expect((f.spentUsd as number) + (f.reservedUsd ?? 0) + ESTIMATE).toBeGreaterThan(limit);
      }
      expect(r.problems).toEqual({});
    }
    // Settled spend in Redis is exactly the sum of the span costs the callers observed.
    expect(Math.abs(redisSpent - observed)).toBeLessThanOrEqual(1e-9);
    // Never above the limit; nothing left reserved.
    expect(redisSpent).toBeLessThanOrEqual(limit + 1e-12);
    expect(Number(stored.reserved ?? 0)).toBeCloseTo(0, 12);
    // Used up to within what 16 loops can hold in flight (16 x 0.01) and, since a loop stops
    // only when spent + reserved + 0.01 > 0.50, at least 0.50 - 0.01 - 16 x 0.01 was settled.
    expect(redisSpent).toBeGreaterThan(limit - ESTIMATE - 16 * ESTIMATE);
    // Each call cost at least 0.00472 (the cheapest kind), so at most 105 fit in 0.50.
    expect(calls).toBeLessThanOrEqual(Math.floor(limit / 0.00472));
    expect(calls).toBeGreaterThanOrEqual(Math.ceil((limit - 17 * ESTIMATE) / ESTIMATE));
  }, 60_000); // two tsx child processes start in ~5 s each on a loaded machine

  it("Redis killed mid-run under failure 'closed': every guarded call started after the kill is refused before it runs", async (ctx) => {
    if (!server || !raw) return ctx.skip();
    const s = server;
    const prefix = `bo:${randomUUID()}:`;
    // A limit the replicas cannot reach: any refusal is the failure policy's.
    const limit = 1000;
    const replicas = [0, 1].map(() => replica(s.url, prefix, 'outage', limit));
    await Promise.all(replicas.map((r) => r.ready));
    for (const r of replicas) r.child.stdin?.write('go\n');
    // Mid-run: every loop of both replicas has made 10 calls, and they keep calling.
    await Promise.all(replicas.map((r) => r.warm));
    const before = Number(await raw.hGet(prefix + KEY, 'spent'));
    expect(before).toBeGreaterThanOrEqual(2 * 8 * 10 * 0.00472 - 1e-9);
    await raw.close();
    raw = undefined;
    await s.kill();
    for (const r of replicas) r.child.stdin?.write('killed\n');
    const results = await Promise.all(replicas.map((r) => r.done));
    // Leave a server for afterAll (and later tests) to stop.
    await s.restart();
    raw = createClient({ url: s.url });
    raw.on('error', () => {});
    await raw.connect();

    console.log(
      `outage: ${results.map((r) => `${r.calls} calls, ${r.refusals.length} refusals`).join('; ')}; ` +
        `check() during the outage: ${JSON.stringify(results[0]?.checkDuringOutage)}; ` +
        `stats ${JSON.stringify(results.map((r) => r.ledgerStats))}`,
    );
    for (const r of results) {
      expect(r.calls).toBeGreaterThanOrEqual(8 * 10);
      expect(r.mispriced).toBe(0);
      // After the kill: 8 loops x 5 attempts, all refused, none of their functions ran.
      expect(r.callsAfterKill).toBe(0);
      const after = r.refusals.filter((f) => f.afterKill);
      expect(after).toHaveLength(40);
      // Every refusal (including attempts in flight when Redis died) came before the call.
      for (const f of r.refusals) {
        expect(f).toMatchObject({
          name: 'BudgetExceededError',
          budget: 'team-daily',
          ran: false,
        });
      }
      // What the refusal says: the ledger is unavailable (not "over budget"), and no spend it
      // cannot know.
      for (const f of after) {
        expect(f).toMatchObject({ limit: 'ledger_unavailable', limitUsd: limit });
        expect(f.spentUsd).toBeUndefined();
        expect(f.message).toBe(
          'spanledger: budget "team-daily" blocks this call (ledger_unavailable: ledger unavailable (fail-closed))',
        );
      }
      // Refused at the check (the ledger reports itself unavailable), before any reservation.
      expect(r.ledgerStats.redisUnavailable + r.ledgerStats.redisTimeout).toBeGreaterThanOrEqual(
        40,
      );
      // The outage is reported through OTel diag.
      expect(
        r.diagWarnings.some((m) => /redis_(unavailable|timeout|connection_error)/.test(m)),
      ).toBe(true);
      // check() (never throws) tells the caller what guarded calls will meet: a refusal.
      expect(r.checkDuringOutage).toMatchObject({ action: 'block', limit: 'ledger_unavailable' });
    }
  }, 60_000);

  it('a shared window crossing 50 % through two replicas is signalled once, at the spend that crossed it', async (ctx) => {
    if (!server || !raw) return ctx.skip();
    const r = raw;
    const prefix = `bw:${randomUUID()}:`;
    const events: { replica: string; event: BudgetEvent }[] = [];
    const replicas = ['a', 'b'].map((name) => {
      const budgetLedger = new RedisLedger({
        url: server?.url,
        keyPrefix: prefix,
        timeoutMs: 2_000,
      });
      return {
        budgetLedger,
        h: harness({
          now: () => NOW,
          budgetLedger,
          onBudgetEvent: (event) => events.push({ replica: name, event }),
          budgets: [
            {
              name: 'team-daily',
              scope: { team: 'payments' },
              window: { calendar: 'day', timeZone: 'UTC' },
              limitUsd: 0.5,
              warnAt: [0.5],
              action: 'block',
            },
          ],
        }),
      };
    });
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    try {
      for (const x of replicas) expect(await x.budgetLedger.ready()).toBe(true);
      const spend = async (x: typeof a, usd: number, total: number) => {
        x.h.run('review', { 'spanledger.team': 'payments', 'spanledger.manual.cost.usd': usd });
        await waitFor(`the shared window to reach ${total}`, async () => {
          const spent = Number(await r.hGet(prefix + KEY, 'spent'));
          return Math.abs(spent - total) < 1e-9;
        });
      };
      await spend(a, 0.2, 0.2); // 40 %: no warning due
      expect(events).toEqual([]);
      await spend(b, 0.1, 0.3); // 60 %: the window crossed 50 % (0.25) with this spend
      await waitFor('the 50 % warning of the shared window', () => events.length > 0, 2_000);
      expect(events).toHaveLength(1);
      expect(events[0]?.event).toMatchObject({
        kind: 'warning',
        budget: 'team-daily',
        threshold: 0.5,
      });
      expect(Math.abs((events[0]?.event.spentUsd as number) - 0.3)).toBeLessThan(1e-9);
      await spend(a, 0.05, 0.35); // 70 %: nothing new crossed
      expect(events).toHaveLength(1);
    } finally {
      for (const x of replicas) await x.h.ledger.shutdown();
    }
  });
});
