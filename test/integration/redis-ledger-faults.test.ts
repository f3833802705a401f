/**
 * RedisLedger under faults, on a real redis-server: a Redis that hangs (`SIGSTOP`) while a
 * process spends against a shared budget, writes whose reply is lost or whose command never
 * arrives (a TCP proxy in front of Redis loses the bytes), the script cache after a start or a
 * `SCRIPT FLUSH` (counted by the server's `INFO commandstats`), and a Redis that cannot be reached
 * at startup.
 */
import { randomUUID } from 'node:crypto';
import { type AddressInfo, connect, createServer } from 'node:net';
import { context, type DiagLogger, DiagLogLevel, diag, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SCRIPTS } from '../../src/budgets/redis/scripts.js';
import { RedisLedger } from '../../src/budgets/redis-ledger.js';
import type { BudgetLedger, KeyRef, WindowRef } from '../../src/budgets/types.js';
import { BudgetExceededError, createSpanLedger } from '../../src/index.js';
import {
  commandCalls,
  type FaultProxy,
  type RawRedis,
  type RedisServer,
  startFaultProxy,
  startRedis,
  startTestRedis,
  stopTestRedis,
  waitFor,
} from './redis-server.js';

const DAY = 86_400_000;
const day = (key: string): WindowRef => ({ writeKey: key, readKeys: [key], ttlMs: DAY });
const ref = (key: string): KeyRef => ({ key, ttlMs: DAY });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let server: RedisServer | undefined;
let raw: RawRedis | undefined;
let binary: string | undefined;
const ledgers: RedisLedger[] = [];

function ledger(options: ConstructorParameters<typeof RedisLedger>[0]): RedisLedger {
  const l = new RedisLedger(options);
  ledgers.push(l);
  return l;
}

/** What Redis itself holds for a key (read through the test's own connection). */
async function held(key: string): Promise<{ spent: number; reserved: number }> {
  const [spent, reserved] = (await raw?.hmGet(key, ['spent', 'reserved'])) ?? [];
  return { spent: Number(spent ?? 0), reserved: Number(reserved ?? 0) };
}

/** Collects the OTel diag lines at warn and above. */
function captureDiag(): string[] {
  const lines: string[] = [];
  const keep = (level: string) => (message: string) => lines.push(`${level} ${message}`);
  diag.setLogger(
    {
      error: keep('error'),
      warn: keep('warn'),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    } as DiagLogger,
    DiagLogLevel.WARN,
  );
  return lines;
}

beforeAll(async () => {
  ({ binary, server, raw } = (await startTestRedis()) ?? {});
});

afterEach(() => {
  diag.disable();
});

afterAll(async () => {
  for (const l of ledgers) await l.close();
  await stopTestRedis({ server, raw });
});

describe('RedisLedger with Redis hung (SIGSTOP), fail-open', () => {
  it('8 loops on a $3.00 day budget, Redis stopped at $1.50 for 3 s: spend stays within the limit plus what was in flight, and Redis converges to the actual spend', async (ctx) => {
    if (!server?.pid || !raw) return ctx.skip();
    const pid = server.pid;
    const prefix = `hang:${randomUUID()}:`;
    const key = 'team:2026-11-30';
    const w = day(key);
    const LIMIT = 3;
    const ESTIMATE = 0.05;
    const LOOPS = 8;
    const PAUSE_AT = 1.5;
    const STALL_MS = 3_000;
    const l = ledger({ url: server.url, keyPrefix: prefix, timeoutMs: 50, failure: 'open' });
    expect(await l.ready()).toBe(true);

    let spent = 0; // what the loops' calls really cost (the provider's invoice)
    let calls = 0;
    let refused = 0;
    let stalled: Promise<void> | undefined;
    let spentAtResume = Number.NaN;
    let seenDuringStall = { spentUsd: Number.NaN, reservedUsd: Number.NaN };
    let spentWhenSeen = Number.NaN;
    let stopAt = Number.POSITIVE_INFINITY; // a bound on the test's time if the budget never holds

    const stall = async () => {
      process.kill(pid, 'SIGSTOP');
      stopAt = Date.now() + STALL_MS + 5_000;
      try {
        await sleep(STALL_MS);
        spentWhenSeen = spent;
        seenDuringStall = await l.get([key]);
      } finally {
        spentAtResume = spent;
        process.kill(pid, 'SIGCONT');
      }
    };

    const loop = async () => {
      while (Date.now() < stopAt) {
        const r = await l.reserve(w, ESTIMATE, LIMIT, true);
        if (!r.ok) {
          refused++;
          return;
        }
        await sleep(1 + Math.random() * 2); // the call
        // Actual cost 0.01..estimate, in whole hundredths of a cent.
        const actual = 0.01 + Math.floor(Math.random() * ((ESTIMATE - 0.01) * 10_000 + 1)) / 10_000;
        spent += actual;
        calls++;
        await l.settle(ref(key), ESTIMATE, ref(key), actual);
        if (stalled === undefined && spent >= PAUSE_AT) stalled = stall();
      }
    };
    try {
      await Promise.all(Array.from({ length: LOOPS }, loop));
      await stalled;
    } finally {
      if (Number.isNaN(spentAtResume)) process.kill(pid, 'SIGCONT');
    }

    // Every dollar spent lands in Redis exactly once: the writes that timed out while Redis hung
    // were applied by Redis when it woke, and the ones replayed are not counted twice.
    let redisNow = { spent: 0, reserved: 0 };
    await waitFor(
      'Redis to hold the actual spend, and no reservation',
      async () => {
        redisNow = await held(prefix + key);
        return Math.abs(redisNow.spent - spent) < 1e-9 && Math.abs(redisNow.reserved) < 1e-9;
      },
      10_000,
    ).catch(() => {});
    const stats = l.stats();
    console.log(
      `Redis hung ${STALL_MS} ms at $${PAUSE_AT}: ${calls} calls by ${LOOPS} loops, ${refused} refused; ` +
        `spent $${spent.toFixed(4)} of $${LIMIT} ($${spentAtResume.toFixed(4)} when Redis resumed); ` +
        `ledger during the stall: spent $${seenDuringStall.spentUsd.toFixed(4)} + reserved $${seenDuringStall.reservedUsd.toFixed(4)} ` +
        `(actual then $${spentWhenSeen.toFixed(4)}); Redis after: spent ${redisNow.spent}, reserved ${redisNow.reserved}; ` +
        `stats ${JSON.stringify(stats)}`,
    );
    // The bound: the limit plus what was in flight (one estimate per loop).
    const inFlight = LOOPS * ESTIMATE;
    expect(spentAtResume).toBeLessThanOrEqual(LIMIT + inFlight + 1e-9);
    expect(spent).toBeLessThanOrEqual(LIMIT + inFlight + 1e-9);
    // The ledger never reads less than what this process spent, stalled or not.
    expect(seenDuringStall.spentUsd).toBeGreaterThanOrEqual(spentWhenSeen - 1e-9);
    expect(seenDuringStall.spentUsd + seenDuringStall.reservedUsd).toBeGreaterThan(
      LIMIT - ESTIMATE,
    );
    expect(refused).toBe(LOOPS);
    // Converged: Redis holds the actual spend exactly once, nothing reserved.
    expect(redisNow.spent).toBeCloseTo(spent, 9);
    expect(redisNow.reserved).toBeCloseTo(0, 9);
    const after = await l.get([key]);
    expect(after.spentUsd).toBeCloseTo(spent, 9);
    expect(l.stats()).toMatchObject({ shadowKeys: 0 });
  });
});

describe('guard() on a Redis ledger that hangs (SIGSTOP), fail-open', () => {
  it('8 guarded loops on a $3.00 day budget, Redis stopped at $1.50 for 3 s: spend stays within the limit plus what was in flight, check() blocks', async (ctx) => {
    if (!server?.pid || !raw) return ctx.skip();
    const pid = server.pid;
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const LIMIT = 3;
    const ESTIMATE = 0.05;
    const LOOPS = 8;
    const STALL_MS = 3_000;
    const budgetLedger = ledger({
      url: server.url,
      keyPrefix: `guard:${randomUUID()}:`,
      timeoutMs: 50,
      failure: 'open',
    });
    expect(await budgetLedger.ready()).toBe(true);
    const spanLedger = createSpanLedger({
      budgetLedger,
      budgets: [
        {
          name: 'team-daily',
          scope: { team: 'payments' },
          window: { calendar: 'day', timeZone: 'UTC' },
          limitUsd: LIMIT,
          action: 'block',
        },
      ],
    });
    const provider = new TracerProvider({ spanProcessors: [spanLedger.processor] });
    const tracer = provider.getTracer('hang');
    let spent = 0;
    let calls = 0;
    let refused = 0;
    let stalled: Promise<void> | undefined;
    let spentAtResume = Number.NaN;
    let decisionDuringStall: unknown;
    let stopAt = Number.POSITIVE_INFINITY;
    const inRun = <T>(fn: () => Promise<T>): Promise<T> => {
      const root = tracer.startSpan('invoke_agent billing', {
        attributes: { 'spanledger.team': 'payments' },
      });
      return context.with(trace.setSpan(context.active(), root), fn).finally(() => root.end());
    };
    const stall = async () => {
      process.kill(pid, 'SIGSTOP');
      stopAt = Date.now() + STALL_MS + 5_000;
      try {
        await sleep(STALL_MS);
        decisionDuringStall = await inRun(() => spanLedger.check({ estimateUsd: ESTIMATE }));
      } finally {
        spentAtResume = spent;
        process.kill(pid, 'SIGCONT');
      }
    };
    const loop = async () => {
      while (Date.now() < stopAt) {
        try {
          await inRun(() =>
            spanLedger.guard(
              async () => {
                await sleep(1 + Math.random() * 2);
                const usd =
                  0.01 + Math.floor(Math.random() * ((ESTIMATE - 0.01) * 10_000 + 1)) / 10_000;
                tracer
                  .startSpan('review', { attributes: { 'spanledger.manual.cost.usd': usd } })
                  .end();
                spent += usd;
                calls++;
              },
              { estimateUsd: ESTIMATE },
            ),
          );
        } catch (e) {
          if (!(e instanceof BudgetExceededError)) throw e;
          refused++;
          return;
        }
        if (stalled === undefined && spent >= 1.5) stalled = stall();
      }
    };
    try {
      await Promise.all(Array.from({ length: LOOPS }, loop));
      await stalled;
    } finally {
      if (Number.isNaN(spentAtResume)) process.kill(pid, 'SIGCONT');
    }
    console.log(
      `guard() with Redis hung ${STALL_MS} ms at $1.50: ${calls} calls, ${refused} refused; spent $${spent.toFixed(4)} of $${LIMIT} ` +
        `($${spentAtResume.toFixed(4)} when Redis resumed); check() during the stall: ${JSON.stringify(decisionDuringStall)}`,
    );
    expect(spentAtResume).toBeLessThanOrEqual(LIMIT + LOOPS * ESTIMATE + 1e-9);
    expect(spent).toBeLessThanOrEqual(LIMIT + LOOPS * ESTIMATE + 1e-9);
    expect(decisionDuringStall).toMatchObject({ action: 'block' });
    expect(refused).toBe(LOOPS);
    await provider.shutdown();
  });
});

describe('RedisLedger writes with an unknown outcome are applied exactly once', () => {
  let proxy: FaultProxy | undefined;
  beforeAll(async () => {
    if (server) proxy = await startFaultProxy(server.port);
  });
  afterAll(async () => {
    await proxy?.close();
  });
  afterEach(() => {
    if (proxy) proxy.mode = 'pass';
  });

  it('a call in flight when the ledger closes answers by the policy, with no outage warning', async (ctx) => {
    if (!proxy) return ctx.skip();
    const p = proxy;
    const l = ledger({ url: p.url, keyPrefix: `closing:${randomUUID()}:`, timeoutMs: 2_000 });
    expect(await l.ready()).toBe(true);
    const lines = captureDiag();
    p.mode = 'blackhole';
    const inFlight = l.get(['k']);
    await l.close(); // a shutdown while the read waits for an answer
    expect(await inFlight).toEqual({ spentUsd: 0, reservedUsd: 0 });
    expect(l.stats().afterClose).toBe(1);
    expect(l.stats().redisUnavailable).toBe(0);
    expect(lines).toEqual([]);
  });

  it('a settle whose reply is lost has landed: replayed after the reconnect, it is not counted twice', async (ctx) => {
    if (!proxy || !raw) return ctx.skip();
    const p = proxy;
    const prefix = `lost-reply:${randomUUID()}:`;
    const l = ledger({ url: p.url, keyPrefix: prefix, timeoutMs: 100, failure: 'open' });
    expect(await l.ready()).toBe(true);
    await l.add(ref('k'), 0.1);
    expect((await l.reserve(day('k'), 0.5, 1, true)).ok).toBe(true);

    p.mode = 'drop-replies';
    expect(await l.settle(ref('k'), 0.5, ref('k'), 0.2)).toBeUndefined();
    // Redis applied it; the ledger could not know.
    await waitFor('the settle to land', async () => (await held(`${prefix}k`)).spent > 0.29);
    // While unknown, the ledger counts the spend (unknown is not zero).
    expect((await l.get(['k'])).spentUsd).toBeGreaterThanOrEqual(0.3 - 1e-9);

    p.mode = 'pass';
    p.cut(); // the connection is lost with the reply: the outcome stays unknown
    await waitFor('the ledger to reconnect and replay', () => {
      const s = l.stats();
      return s.connects >= 2 && s.shadowKeys === 0;
    });
    const h = await held(`${prefix}k`);
    console.log(
      `lost reply: Redis after the replay ${JSON.stringify(h)}; ${JSON.stringify(l.stats())}`,
    );
    expect(h.spent).toBeCloseTo(0.3, 12);
    expect(h.reserved).toBeCloseTo(0, 12);
    expect(l.stats().replaysSkipped).toBe(1);
    expect((await l.get(['k'])).spentUsd).toBeCloseTo(0.3, 12);
  });

  it('an add that never reached Redis is replayed once after the reconnect', async (ctx) => {
    if (!proxy || !raw) return ctx.skip();
    const p = proxy;
    const prefix = `lost-command:${randomUUID()}:`;
    const l = ledger({ url: p.url, keyPrefix: prefix, timeoutMs: 100, failure: 'open' });
    expect(await l.ready()).toBe(true);
    await l.add(ref('k'), 0.1);
    p.mode = 'blackhole';
    expect(await l.add(ref('k'), 0.4)).toBeUndefined();
    expect((await held(`${prefix}k`)).spent).toBeCloseTo(0.1, 12);
    p.mode = 'pass';
    p.cut();
    await waitFor('the ledger to reconnect and replay', () => {
      const s = l.stats();
      return s.connects >= 2 && s.shadowKeys === 0;
    });
    expect((await held(`${prefix}k`)).spent).toBeCloseTo(0.5, 12);
    expect(l.stats()).toMatchObject({ replaysSkipped: 0 });
    expect(l.stats().replayedWrites).toBeGreaterThanOrEqual(1);
  });
});

describe('RedisLedger on a connection that goes silent for good', () => {
  let proxy: FaultProxy | undefined;
  beforeAll(async () => {
    if (server) proxy = await startFaultProxy(server.port);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('replaces it after max(5 s, 100 × timeoutMs) and replays what it had not confirmed, once', async (ctx) => {
    if (!proxy || !raw) return ctx.skip();
    const p = proxy;
    const prefix = `silent:${randomUUID()}:`;
    const l = ledger({ url: p.url, keyPrefix: prefix, timeoutMs: 50, failure: 'open' });
    expect(await l.ready()).toBe(true);
    await l.add(ref('k'), 0.25);
    p.freeze();
    const t0 = Date.now();
    expect(await l.add(ref('k'), 0.5)).toBeUndefined();
    // Decided locally meanwhile, the unconfirmed spend counted.
    expect((await l.get(['k'])).spentUsd).toBe(0.75);
    await waitFor(
      'a new connection and the replay',
      () => l.stats().stallResets === 1 && l.stats().shadowKeys === 0,
      15_000,
    );
    console.log(
      `silent connection replaced after ${Date.now() - t0} ms; ${JSON.stringify(l.stats())}`,
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(5_000);
    expect((await held(`${prefix}k`)).spent).toBe(0.75);
    expect(l.stats()).toMatchObject({ connects: 2, replayedWrites: 1, replaysSkipped: 0 });
  });
});

describe('the write script (APPLY) on Redis: each write counts once, whatever order its copies arrive in', () => {
  it('applies new numbers, skips copies, and forgets numbers below the writer’s low mark', async (ctx) => {
    if (!raw) return ctx.skip();
    const r = raw;
    const key = `apply:${randomUUID()}`;
    /** One call: `[seq, spent]` writes, with the writer's low mark. */
    const apply = async (low: number, writes: Array<[number, number]>) =>
      (await r.sendCommand([
        'EVAL',
        SCRIPTS.apply.source,
        '1',
        key,
        'w:test',
        '60000',
        String(low),
        String(writes.length),
        // No counters other than USD.
        '0',
        ...writes.flatMap(([seq, spent]) => [String(seq), '0', String(spent)]),
      ])) as unknown[];
    // 5 arrives before 3 (a resend overtook it): both count.
    expect((await apply(3, [[5, 0.5]])).slice(0, 3)).toEqual([1, 0, '0.5']);
    expect((await apply(3, [[3, 0.25]])).slice(0, 3)).toEqual([1, 0, '0.75']);
    // Copies of 3 and 5 (a replay after lost replies, a late original) are skipped.
    expect(
      (
        await apply(3, [
          [3, 0.25],
          [5, 0.5],
          [6, 0.125],
        ])
      ).slice(0, 3),
    ).toEqual([1, 2, '0.875']);
    expect(await r.hGet(key, 'w:test')).toMatch(/^3(,\d+){3}$/);
    // The writer has nothing below 7 in flight any more: the list is pruned, copies still skipped.
    expect((await apply(7, [[7, 0.125]])).slice(0, 3)).toEqual([1, 0, '1']);
    expect(await r.hGet(key, 'w:test')).toBe('7,7');
    expect((await apply(8, [[5, 0.5]])).slice(0, 3)).toEqual([0, 1, '1']);
  });
});

describe('RedisLedger script cache', () => {
  let own: RedisServer | undefined;
  let ownRaw: RawRedis | undefined;
  beforeAll(async () => {
    if (!binary) return;
    ({ server: own, raw: ownRaw } = (await startTestRedis()) ?? {});
  });
  afterAll(async () => {
    await stopTestRedis({ server: own, raw: ownRaw });
  });

  it('loads each script once: 50 concurrent first settles, then 200 mixed calls after SCRIPT FLUSH', async (ctx) => {
    if (!own || !ownRaw) return ctx.skip();
    const r = ownRaw;
    const prefix = `sc:${randomUUID()}:`;
    const l = ledger({ url: own.url, keyPrefix: prefix, timeoutMs: 2_000 });
    // Connected, no script sent yet.
    await waitFor('the ledger to connect', () => l.stats().connects === 1);
    await r.configResetStat();
    await Promise.all(Array.from({ length: 50 }, () => l.settle(ref('k'), 0, ref('k'), 0.01)));
    const first = await commandCalls(r);
    expect((await l.get(['k'])).spentUsd).toBeCloseTo(0.5, 12);

    await r.scriptFlush();
    await r.configResetStat();
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        switch (i % 4) {
          case 0:
            return l.reserve(day('k'), 0.01, 100, true);
          case 1:
            return l.settle(ref('k'), 0, ref('k'), 0.01);
          case 2:
            return l.add(ref('k'), 0.01);
          default:
            return l.get(['k']);
        }
      }),
    );
    // Writes that met the empty cache were not run; they are replayed in order.
    await waitFor('the writes to be replayed', () => l.stats().shadowKeys === 0);
    const afterFlush = await commandCalls(r);
    console.log(
      `script cache: 50 first settles → ${JSON.stringify(first)}; ` +
        `200 mixed calls after SCRIPT FLUSH → ${JSON.stringify(afterFlush)}`,
    );
    // Full scripts (EVAL) are never sent; each of the four scripts is loaded once.
    expect(first.eval ?? 0).toBe(0);
    expect(first['script|load'] ?? 0).toBe(4);
    expect(first.evalsha).toBe(50);
    expect(afterFlush.eval ?? 0).toBe(0);
    expect(afterFlush['script|load'] ?? 0).toBeLessThanOrEqual(4);
    expect(afterFlush['script|load'] ?? 0).toBeGreaterThanOrEqual(1);
    // And every write counted once.
    expect(Number(await r.hGet(`${prefix}k`, 'spent'))).toBeCloseTo(
      0.5 + 50 * 0.01 + 50 * 0.01,
      12,
    );
    expect((await l.get(['k'])).spentUsd).toBeCloseTo(1.5, 12);
  });
});

describe('RedisLedger unreachable at startup', () => {
  it('says so once at warn level, with the address and the policy, and counts every failure in stats()', async (ctx) => {
    if (!binary) return ctx.skip();
    const dead = await startRedis({ binary });
    await dead.stop();
    const lines = captureDiag();
    const l = ledger({ url: dead.url, failure: 'open' });
    const asLedger: BudgetLedger = l;
    const w = day('k');
    for (let i = 0; i < 5; i++) {
      await l.reserve(w, 0.1, 1, true);
      await sleep(60);
    }
    await l.settle(ref('k'), 0.1, ref('k'), 0.05);
    await l.get(['k']);
    const stats = asLedger.stats?.() as ReturnType<RedisLedger['stats']>;
    console.log(
      `unreachable at startup: diag ${JSON.stringify(lines)}; stats ${JSON.stringify(stats)}`,
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^warn spanledger: /);
    expect(lines[0]).toContain(`127.0.0.1:${dead.port}`);
    expect(lines[0]).toContain('fail-open');
    // Every call decided without Redis: those made before the first connection failed, and after.
    expect(stats.redisUnavailable + stats.beforeFirstConnect).toBe(7);
    expect(stats.degradedReserves).toBe(5);
    expect(stats.connectFailures).toBeGreaterThanOrEqual(1);
    // Closed with the settle's spend never written: said once, with the amount.
    await l.close();
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('unconfirmed_at_close (1 writes (USD 0.05 of spend)');
  });
});

describe('RedisLedger while its first connection is being made', () => {
  it('decides early calls by the policy without a warning, and writes their spend once connected', async (ctx) => {
    if (!server) return ctx.skip();
    const upstream = server.port;
    // A slow first connection: each accepted socket is piped to Redis only after 800 ms, well
    // past the early calls' 200 ms deadline (which also leaves the calls after it room on a
    // loaded machine: at 50 ms a slow replay once warned of a timeout).
    const slow = createServer((socket) => {
      socket.pause();
      setTimeout(() => {
        const up = connect(upstream, '127.0.0.1');
        socket.pipe(up).pipe(socket);
        socket.resume();
        socket.on('error', () => up.destroy());
        up.on('error', () => socket.destroy());
      }, 800);
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const { port } = slow.address() as AddressInfo;
    try {
      const lines = captureDiag();
      const prefix = `first:${Date.now()}:`;
      const l = ledger({
        url: `redis://127.0.0.1:${port}`,
        keyPrefix: prefix,
        timeoutMs: 200,
        failure: 'open',
      });
      expect((await l.reserve(day('k'), 0.5, 1, true)).ok).toBe(true); // fail-open, local view
      expect(await l.settle(ref('k'), 0.5, ref('k'), 0.2)).toBeUndefined();
      expect(l.stats().beforeFirstConnect).toBeGreaterThanOrEqual(1);
      expect(l.stats().redisUnavailable).toBe(0);
      // Once connected, the kept settle is replayed: Redis holds its spend, once, and no hold.
      await waitFor('the early settle to land', async () => (await held(`${prefix}k`)).spent > 0);
      expect(await held(`${prefix}k`)).toEqual({ spent: 0.2, reserved: 0 });
      expect((await l.get(['k'])).spentUsd).toBeCloseTo(0.2, 12);
      expect(lines).toEqual([]);
      await l.close();
    } finally {
      slow.close();
    }
  });
});
