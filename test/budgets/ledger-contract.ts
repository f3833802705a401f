/**
 * The {@link BudgetLedger} contract, as one suite every ledger runs: `MemoryLedger` in
 * `ledger-contract.test.ts`, `RedisLedger` on a real redis-server in
 * `test/integration/redis-ledger-contract.test.ts`. Amounts are chosen exact in binary (eighths
 * of a dollar) where a ledger's arithmetic (doubles in memory, `long double` in Redis) could
 * otherwise decide a comparison at the limit differently.
 */
import { describe, expect, it } from 'vitest';
import type { BudgetLedger, KeyRef, WindowRef } from '../../src/budgets/types.js';

/** A fresh ledger for one test, and how to let time pass for it. */
export interface ContractSubject {
  ledger: BudgetLedger;
  /** Let `ms` pass on the ledger's clock (a fake clock moved, or real time waited). */
  elapse(ms: number): Promise<void>;
  /** The ledger's clock (pauses' `until` is an instant on it). */
  now(): number;
}

const HOUR = 3_600_000;
const day = (key: string, ttlMs = HOUR): WindowRef => ({ writeKey: key, readKeys: [key], ttlMs });
const ref = (key: string, ttlMs = HOUR): KeyRef => ({ key, ttlMs });

/** Declares the contract's tests for one ledger; `make` answers undefined to skip them. */
export function ledgerContract(
  name: string,
  make: () => Promise<ContractSubject | undefined>,
): void {
  describe(`${name}: the BudgetLedger contract`, () => {
    it('takes exactly the reservations that fit: 20 concurrent $0.125 on $1.00 → 8', async (ctx) => {
      const s = await make();
      if (!s) return ctx.skip();
      const w = day('fit');
      const results = await Promise.all(
        Array.from({ length: 20 }, () => s.ledger.reserve(w, 0.125, 1, true)),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(8);
      expect(await s.ledger.get(w.readKeys)).toEqual({ spentUsd: 0, reservedUsd: 1 });
      // The limit is inclusive; zero always fits; a refusal changes nothing.
      expect(await s.ledger.reserve(w, 0, 1, true)).toMatchObject({ ok: true, reservedUsd: 1 });
      expect(await s.ledger.reserve(w, 0.125, 1, true)).toEqual({
        ok: false,
        spentUsd: 0,
        reservedUsd: 1,
      });
      // Not enforced (alert, degrade): taken beyond the limit, still accounted for.
      expect(await s.ledger.reserve(w, 0.5, 1, false)).toEqual({
        ok: true,
        spentUsd: 0,
        reservedUsd: 1.5,
      });
      // An infinite limit is no limit.
      expect((await s.ledger.reserve(w, 100, Number.POSITIVE_INFINITY, true)).ok).toBe(true);
    });

    it('settle turns a reservation into spend and answers the spend key’s totals; release and add do one half each', async (ctx) => {
      const s = await make();
      if (!s) return ctx.skip();
      const w = day('money');
      expect((await s.ledger.reserve(w, 0.5, 1, true)).ok).toBe(true);
      expect((await s.ledger.reserve(w, 0.25, 1, true)).ok).toBe(true);
      expect(await s.ledger.settle(ref('money'), 0.5, ref('money'), 0.375)).toEqual({
        spentUsd: 0.375,
        reservedUsd: 0.25,
      });
      await s.ledger.release(ref('money'), 0.25);
      expect(await s.ledger.add(ref('money'), 0.125)).toEqual({
        spentUsd: 0.5,
        reservedUsd: 0,
      });
      expect(await s.ledger.get(['money'])).toEqual({ spentUsd: 0.5, reservedUsd: 0 });
      // Room left: exactly $0.50.
      expect((await s.ledger.reserve(w, 0.625, 1, true)).ok).toBe(false);
      expect((await s.ledger.reserve(w, 0.5, 1, true)).ok).toBe(true);
    });

    it('a release never drives a reservation below zero; unknown keys read as zeros', async (ctx) => {
      const s = await make();
      if (!s) return ctx.skip();
      expect((await s.ledger.reserve(day('neg'), 0.25, 1, true)).ok).toBe(true);
      await s.ledger.release(ref('neg'), 5);
      expect(await s.ledger.get(['neg'])).toEqual({ spentUsd: 0, reservedUsd: 0 });
      // A double release cannot hand out budget that was never held.
      expect((await s.ledger.reserve(day('neg'), 1.125, 1, true)).ok).toBe(false);
      await s.ledger.release(ref('nowhere'), 1);
      expect(await s.ledger.get(['nowhere', 'nor-here'])).toEqual({ spentUsd: 0, reservedUsd: 0 });
    });

    it('rolling windows: the limit is on the sum over readKeys; settle may land in a later bucket', async (ctx) => {
      const s = await make();
      if (!s) return ctx.skip();
      await s.ledger.add(ref('r:1'), 0.25);
      await s.ledger.add(ref('r:2'), 0.25);
      const now: WindowRef = { writeKey: 'r:3', readKeys: ['r:1', 'r:2', 'r:3'], ttlMs: HOUR };
      expect(await s.ledger.reserve(now, 0.5, 1, true)).toEqual({
        ok: true,
        spentUsd: 0.5,
        reservedUsd: 0.5,
      });
      expect((await s.ledger.reserve(now, 0.125, 1, true)).ok).toBe(false);
      const later: WindowRef = { writeKey: 'r:4', readKeys: ['r:2', 'r:3', 'r:4'], ttlMs: HOUR };
      expect(await s.ledger.settle(ref('r:3'), 0.5, ref('r:4'), 0.375)).toEqual({
        spentUsd: 0.375,
        reservedUsd: 0,
      });
      expect(await s.ledger.get(later.readKeys)).toEqual({ spentUsd: 0.625, reservedUsd: 0 });
      expect(await s.ledger.get(['r:3'])).toEqual({ spentUsd: 0, reservedUsd: 0 });
    });

    it('invalid amounts and limits are counted and ignored, never thrown: reserve says no, settle and add answer undefined', async (ctx) => {
      const s = await make();
      if (!s) return ctx.skip();
      const l = s.ledger;
      await l.add(ref('bad'), 0.25);
      const bad = [Number.NaN, -1, Number.POSITIVE_INFINITY];
      for (const amount of bad) {
        expect(await l.reserve(day('bad'), amount, 1, true)).toEqual({
          ok: false,
          spentUsd: 0.25,
          reservedUsd: 0,
        });
        await expect(l.settle(ref('bad'), amount, ref('bad'), 0.125)).resolves.toBeUndefined();
        await expect(l.settle(ref('bad'), 0, ref('bad'), amount)).resolves.toBeUndefined();
        await expect(l.add(ref('bad'), amount)).resolves.toBeUndefined();
        await expect(l.release(ref('bad'), amount)).resolves.toBeUndefined();
      }
      expect((await l.reserve(day('bad'), 0.125, Number.NaN, true)).ok).toBe(false);
      expect(await l.get(['bad'])).toEqual({ spentUsd: 0.25, reservedUsd: 0 });
      const stats = l.stats?.();
      expect(stats?.invalidArguments).toBe(bad.length * 5 + 1);
      expect(stats?.problems).toMatchObject({ invalid_argument: bad.length * 5 + 1 });
      // A limit that is not enforced is not compared with: any value is fine.
      expect(await l.reserve(day('bad'), 0.125, Number.NaN, false)).toEqual({
        ok: true,
        spentUsd: 0.25,
        reservedUsd: 0.125,
      });
      expect(l.stats?.().invalidArguments).toBe(bad.length * 5 + 1);
    });

    it('windows expire by their TTL: an expired key reads as zeros and a late release does not go negative', async (ctx) => {
      const s = await make();
      if (!s) return ctx.skip();
      expect((await s.ledger.reserve(day('short', 200), 0.25, 1, true)).ok).toBe(true);
      await s.ledger.add(ref('short', 200), 0.125, { tokens: 100 });
      await s.ledger.add(ref('long'), 0.125, { tokens: 7 });
      await s.elapse(400);
      expect(await s.ledger.get(['short', 'long'])).toEqual({ spentUsd: 0.125, reservedUsd: 0 });
      expect((await s.ledger.get(['short', 'long'], ['tokens'])).counts).toEqual({
        tokens: { spent: 7, reserved: 0 },
      });
      await s.ledger.release(ref('short', 200), 0.25);
      expect(await s.ledger.settle(ref('short', 200), 0.25, ref('short', 200), 0.125)).toEqual({
        spentUsd: 0.125,
        reservedUsd: 0,
      });
    });

    it('several counters per key: every limit checked and all reserved in one step, all or nothing', async (ctx) => {
      const s = await make();
      if (!s) return ctx.skip();
      const w = day('counters');
      const call = (tokens: number) => ({
        llm_calls: { amount: 1, limit: 5 },
        tokens: { amount: tokens, limit: 1000 },
      });
      // Tokens decide: 3 x 300 fit in 1000, a 4th does not (calls would allow 5).
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          s.ledger.reserve(w, 0.125, Number.POSITIVE_INFINITY, true, call(300)),
        ),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(3);
      const held = {
        spentUsd: 0,
        reservedUsd: 0.375,
        counts: { llm_calls: { spent: 0, reserved: 3 }, tokens: { spent: 0, reserved: 900 } },
      };
      expect(await s.ledger.get(w.readKeys, ['llm_calls', 'tokens'])).toEqual(held);
      // Calls would fit, tokens do not: nothing is taken, on any counter.
      expect(await s.ledger.reserve(w, 0, 1, true, call(200))).toEqual({ ok: false, ...held });
      // Up to the limit exactly; then a used-up counter admits nothing, not even zero.
      expect((await s.ledger.reserve(w, 0, 1, true, call(100))).ok).toBe(true);
      expect((await s.ledger.reserve(w, 0, 1, true, call(0))).ok).toBe(false);
      // A USD limit still decides beside the counters.
      expect((await s.ledger.reserve(w, 0.75, 1, true, { llm_calls: { amount: 1 } })).ok).toBe(
        false,
      );
      // Not enforced: taken beyond every limit.
      expect(await s.ledger.reserve(w, 0, 1, false, call(500))).toMatchObject({
        ok: true,
        counts: { llm_calls: { reserved: 5 }, tokens: { reserved: 1500 } },
      });
      // A call that names no counter deals in USD alone.
      expect(await s.ledger.get(w.readKeys)).toEqual({ spentUsd: 0, reservedUsd: 0.375 });
    });

    it('counters settle, release and add like USD, and answer the counts they name', async (ctx) => {
      const s = await make();
      if (!s) return ctx.skip();
      const w = day('tally');
      const req = { llm_calls: { amount: 1, limit: 10 }, 'tokens.output': { amount: 400 } };
      expect((await s.ledger.reserve(w, 0.25, 1, true, req)).ok).toBe(true);
      expect((await s.ledger.reserve(w, 0.25, 1, true, req)).ok).toBe(true);
      const reserved = { llm_calls: 1, 'tokens.output': 400 };
      expect(
        await s.ledger.settle(ref('tally'), 0.25, ref('tally'), 0.125, {
          reserved,
          actual: { llm_calls: 1, 'tokens.output': 250 },
        }),
      ).toEqual({
        spentUsd: 0.125,
        reservedUsd: 0.25,
        counts: {
          llm_calls: { spent: 1, reserved: 1 },
          'tokens.output': { spent: 250, reserved: 400 },
        },
      });
      await s.ledger.release(ref('tally'), 0.25, reserved);
      expect(await s.ledger.add(ref('tally'), 0.125, { tool_calls: 2 })).toEqual({
        spentUsd: 0.25,
        reservedUsd: 0,
        counts: { tool_calls: { spent: 2, reserved: 0 } },
      });
      expect(
        await s.ledger.get(
          ['tally', 'unknown'],
          ['llm_calls', 'tokens.output', 'tool_calls', 'tokens'],
        ),
      ).toEqual({
        spentUsd: 0.25,
        reservedUsd: 0,
        counts: {
          llm_calls: { spent: 1, reserved: 0 },
          'tokens.output': { spent: 250, reserved: 0 },
          tool_calls: { spent: 2, reserved: 0 },
          tokens: { spent: 0, reserved: 0 },
        },
      });
      // A release never drives a counter below zero.
      await s.ledger.release(ref('tally'), 0, { tool_calls: 5, llm_calls: 5 });
      expect(await s.ledger.get(['tally'], ['llm_calls'])).toMatchObject({
        counts: { llm_calls: { spent: 1, reserved: 0 } },
      });
    });

    it('rolling windows: counter limits apply to the sum over readKeys', async (ctx) => {
      const s = await make();
      if (!s) return ctx.skip();
      await s.ledger.add(ref('cr:1'), 0, { tool_calls: 2 });
      await s.ledger.add(ref('cr:2'), 0, { tool_calls: 1 });
      const now: WindowRef = { writeKey: 'cr:3', readKeys: ['cr:1', 'cr:2', 'cr:3'], ttlMs: HOUR };
      const tool = { tool_calls: { amount: 1, limit: 4 } };
      expect(await s.ledger.reserve(now, 0, 1, true, tool)).toEqual({
        ok: true,
        spentUsd: 0,
        reservedUsd: 0,
        counts: { tool_calls: { spent: 3, reserved: 1 } },
      });
      expect((await s.ledger.reserve(now, 0, 1, true, tool)).ok).toBe(false);
      // The oldest bucket left the window: room again.
      const later: WindowRef = {
        writeKey: 'cr:4',
        readKeys: ['cr:2', 'cr:3', 'cr:4'],
        ttlMs: HOUR,
      };
      expect((await s.ledger.reserve(later, 0, 1, true, tool)).ok).toBe(true);
    });

    it('invalid counter names, amounts and limits are counted and ignored', async (ctx) => {
      const s = await make();
      if (!s) return ctx.skip();
      const l = s.ledger;
      await l.add(ref('badc'), 0.25, { tokens: 10 });
      const before = Number(l.stats?.().invalidArguments ?? 0);
      expect(
        await l.reserve(day('badc'), 0, 1, true, { tokens: { amount: -1, limit: 100 } }),
      ).toEqual({
        ok: false,
        spentUsd: 0.25,
        reservedUsd: 0,
        counts: { tokens: { spent: 10, reserved: 0 } },
      });
      expect(
        (await l.reserve(day('badc'), 0, 1, true, { tokens: { amount: 1, limit: Number.NaN } })).ok,
      ).toBe(false);
      expect((await l.reserve(day('badc'), 0, 1, true, { 'a b': { amount: 1 } })).ok).toBe(false);
      await expect(l.add(ref('badc'), 0, { tokens: Number.NaN })).resolves.toBeUndefined();
      await expect(l.add(ref('badc'), 0, { 'x:y': 1 })).resolves.toBeUndefined();
      await expect(
        l.settle(ref('badc'), 0, ref('badc'), 0, { reserved: {}, actual: { tokens: -5 } }),
      ).resolves.toBeUndefined();
      await expect(
        l.release(ref('badc'), 0, { tokens: Number.POSITIVE_INFINITY }),
      ).resolves.toBeUndefined();
      expect(await l.get(['badc'], ['tokens'])).toEqual({
        spentUsd: 0.25,
        reservedUsd: 0,
        counts: { tokens: { spent: 10, reserved: 0 } },
      });
      expect(l.stats?.().invalidArguments).toBe(before + 7);
    });

    it('a paused scope refuses every reservation naming its key, whatever enforce says, until resumed', async (ctx) => {
      const s = await make();
      if (!s) return ctx.skip();
      const l = s.ledger;
      if (!l.pause || !l.resume || !l.pauses) throw new Error('the ledger keeps no pauses');
      const w: WindowRef = { ...day('p:{a:_}:month'), pauseKey: 'p:{a:_}:paused' };
      const other: WindowRef = { ...day('p:{b:_}:month'), pauseKey: 'p:{b:_}:paused' };
      expect((await l.reserve(w, 0.25, 1, true)).ok).toBe(true);
      const at = Date.parse('2026-11-30T12:00:00Z');
      const info = { reason: 'runaway loop', by: 'alice@ops-1', at };
      expect(await l.pause(w.pauseKey as string, info)).toEqual({ ok: true });
      // Refused with the pause, nothing held; a budget that does not enforce is refused too.
      expect(await l.reserve(w, 0.125, 1, true)).toEqual({
        ok: false,
        spentUsd: 0,
        reservedUsd: 0.25,
        paused: info,
      });
      expect(
        await l.reserve(w, 0, Number.POSITIVE_INFINITY, false, { llm_calls: { amount: 1 } }),
      ).toMatchObject({
        ok: false,
        paused: info,
      });
      // Another scope, and a reservation that names no pause key, are not affected.
      expect((await l.reserve(other, 0.125, 1, true)).ok).toBe(true);
      expect((await l.reserve(day('p:{a:_}:month'), 0.125, 1, true)).ok).toBe(true);
      // get reports it when asked; writes go on (a call in flight settles).
      expect(await l.get(w.readKeys, undefined, w.pauseKey)).toEqual({
        spentUsd: 0,
        reservedUsd: 0.375,
        paused: info,
      });
      expect(await l.get([], ['tokens'], w.pauseKey)).toEqual({
        spentUsd: 0,
        reservedUsd: 0,
        counts: { tokens: { spent: 0, reserved: 0 } },
        paused: info,
      });
      expect(await l.get(other.readKeys, undefined, other.pauseKey)).toEqual({
        spentUsd: 0,
        reservedUsd: 0.125,
      });
      expect(await l.settle(ref('p:{a:_}:month'), 0.25, ref('p:{a:_}:month'), 0.25)).toEqual({
        spentUsd: 0.25,
        reservedUsd: 0.125,
      });
      expect(await l.pauses()).toEqual([{ key: 'p:{a:_}:paused', ...info }]);
      // A pause replaces the one before; resume lifts it, once.
      const again = { reason: 'still looping', by: 'bob@ops-2', at: at + 1000 };
      expect(await l.pause('p:{a:_}:paused', again)).toEqual({ ok: true });
      expect((await l.reserve(w, 0.125, 1, true)).paused).toEqual(again);
      expect(await l.resume('p:{a:_}:paused')).toEqual({ ok: true, removed: true });
      expect(await l.resume('p:{a:_}:paused')).toEqual({ ok: true, removed: false });
      expect(await l.reserve(w, 0.125, 1, true)).toEqual({
        ok: true,
        spentUsd: 0.25,
        reservedUsd: 0.25,
      });
      expect(await l.pauses()).toEqual([]);
    });

    it('a pause with until lifts by itself; invalid pause details are counted and refused', async (ctx) => {
      const s = await make();
      if (!s) return ctx.skip();
      const l = s.ledger;
      if (!l.pause || !l.pauses) throw new Error('the ledger keeps no pauses');
      const w: WindowRef = { ...day('u:{a:_}:day'), pauseKey: 'u:{a:_}:paused' };
      const at = s.now();
      const info = { reason: 'maintenance', by: 'ops', at, until: at + 400 };
      expect(await l.pause('u:{a:_}:paused', info)).toEqual({ ok: true });
      expect((await l.reserve(w, 0.125, 1, true)).paused).toEqual(info);
      expect(await l.pauses()).toEqual([{ key: 'u:{a:_}:paused', ...info }]);
      await s.elapse(600);
      expect((await l.reserve(w, 0.125, 1, true)).ok).toBe(true);
      expect(await l.pauses()).toEqual([]);
      const before = l.stats?.().invalidArguments as number;
      expect(await l.pause('u:{a:_}:paused', { reason: '', by: 'ops', at })).toEqual({ ok: false });
      expect(
        await l.pause('u:{a:_}:paused', { reason: 'x', by: 'ops', at, until: at - 1 }),
      ).toEqual({
        ok: false,
      });
      expect(await l.pause('', { reason: 'x', by: 'ops', at })).toEqual({ ok: false });
      expect(l.stats?.().invalidArguments).toBe(before + 3);
      expect((await l.reserve(w, 0.125, 1, true)).ok).toBe(true);
    });

    it('close is idempotent, and a closed ledger never throws', async (ctx) => {
      const s = await make();
      if (!s) return ctx.skip();
      await s.ledger.add(ref('c'), 0.25);
      await s.ledger.close();
      await s.ledger.close();
      await expect(s.ledger.get(['c'])).resolves.toBeDefined();
      await expect(s.ledger.reserve(day('c'), 0.125, 1, true)).resolves.toBeDefined();
      // Resolved (with totals, or undefined when the store did not confirm), never rejected.
      await s.ledger.settle(ref('c'), 0.125, ref('c'), 0.125);
      await s.ledger.add(ref('c'), 0.125);
      await expect(s.ledger.release(ref('c'), 0.125)).resolves.toBeUndefined();
    });
  });
}
