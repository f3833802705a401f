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
      await s.ledger.add(ref('short', 200), 0.125);
      await s.ledger.add(ref('long'), 0.125);
      await s.elapse(400);
      expect(await s.ledger.get(['short', 'long'])).toEqual({ spentUsd: 0.125, reservedUsd: 0 });
      await s.ledger.release(ref('short', 200), 0.25);
      expect(await s.ledger.settle(ref('short', 200), 0.25, ref('short', 200), 0.125)).toEqual({
        spentUsd: 0.125,
        reservedUsd: 0,
      });
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
