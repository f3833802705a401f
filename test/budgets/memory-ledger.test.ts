import { describe, expect, it } from 'vitest';
import { MemoryLedger } from '../../src/budgets/memory-ledger.js';
import type { KeyRef, WindowRef } from '../../src/budgets/types.js';
import { windowRef, writeRef } from '../../src/budgets/window.js';

/** A fake clock the test moves by hand. */
function fakeClock(start = Date.parse('2026-11-30T12:00:00Z')) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const ref = (key: string, ttlMs = 60_000): WindowRef => ({ writeKey: key, readKeys: [key], ttlMs });
const kref = (key: string, ttlMs = 60_000): KeyRef => ({ key, ttlMs });

describe('MemoryLedger reservations', () => {
  it('reserve respects the limit exactly; settling below the estimate frees the difference', async () => {
    const ledger = new MemoryLedger({ now: fakeClock().now });
    const w = ref('day');
    // limit 1.00: three reservations of 0.30 fit (0.8999999999999999 in doubles)...
    for (let i = 0; i < 3; i++) expect((await ledger.reserve(w, 0.3, 1, true)).ok).toBe(true);
    expect(await ledger.get(w.readKeys)).toEqual({ spentUsd: 0, reservedUsd: 0.3 + 0.3 + 0.3 });
    // ...a fourth does not, and changes nothing.
    expect(await ledger.reserve(w, 0.3, 1, true)).toEqual({
      ok: false,
      spentUsd: 0,
      reservedUsd: 0.8999999999999999,
    });
    // Settle one 0.30 reservation to 0.25 actual: 0.05 comes back.
    await ledger.settle(writeRef(w), 0.3, writeRef(w), 0.25);
    const t = await ledger.get(w.readKeys);
    expect(t.spentUsd).toBe(0.25);
    expect(t.reservedUsd).toBe(0.8999999999999999 - 0.3);
    expect(t.spentUsd + t.reservedUsd).toBeCloseTo(0.85, 15);
    // Room is 0.15: 0.10 and then 0.05 fit, a further cent does not.
    expect((await ledger.reserve(w, 0.1, 1, true)).ok).toBe(true);
    expect((await ledger.reserve(w, 0.05, 1, true)).ok).toBe(true);
    const full = await ledger.reserve(w, 0.01, 1, true);
    expect(full.ok).toBe(false);
    expect(full.spentUsd + full.reservedUsd).toBeCloseTo(1, 12);
  });

  it('a reservation equal to the remaining room is taken (limit is inclusive)', async () => {
    const ledger = new MemoryLedger();
    const w = ref('k');
    expect((await ledger.reserve(w, 0.5, 1, true)).ok).toBe(true);
    expect(await ledger.reserve(w, 0.5, 1, true)).toEqual({
      ok: true,
      spentUsd: 0,
      reservedUsd: 1,
    });
    expect((await ledger.reserve(w, 1e-9, 1, true)).ok).toBe(false);
    // Zero always fits while the window is within its limit.
    expect((await ledger.reserve(w, 0, 1, true)).ok).toBe(true);
  });

  it('without enforcement the reservation is always taken and reported', async () => {
    const ledger = new MemoryLedger();
    const w = ref('alert');
    await ledger.add(writeRef(w), 0.9);
    expect(await ledger.reserve(w, 0.3, 1, false)).toEqual({
      ok: true,
      spentUsd: 0.9,
      reservedUsd: 0.3,
    });
  });

  it('release drops a reservation without spend, never below zero', async () => {
    const ledger = new MemoryLedger();
    const w = ref('r');
    await ledger.reserve(w, 0.4, 1, true);
    await ledger.release(writeRef(w), 0.4);
    expect(await ledger.get(w.readKeys)).toEqual({ spentUsd: 0, reservedUsd: 0 });
    // A double release must not hand out budget that was never held.
    await ledger.release(writeRef(w), 0.4);
    expect(await ledger.get(w.readKeys)).toEqual({ spentUsd: 0, reservedUsd: 0 });
    // Releasing on a key that never existed creates nothing.
    await ledger.release(kref('never'), 1);
    expect(ledger.stats().keys).toBe(1);
  });

  it('settle moves spend to another key (rolling bucket current at settle time)', async () => {
    const ledger = new MemoryLedger();
    const w: WindowRef = { writeKey: 'b1', readKeys: ['b0', 'b1'], ttlMs: 60_000 };
    await ledger.add(kref('b0'), 0.5);
    expect((await ledger.reserve(w, 0.4, 1, true)).ok).toBe(true);
    expect((await ledger.reserve(w, 0.2, 1, true)).ok).toBe(false);
    await ledger.settle(kref('b1'), 0.4, kref('b2'), 0.35);
    expect(await ledger.get(['b0', 'b1', 'b2'])).toEqual({ spentUsd: 0.85, reservedUsd: 0 });
    expect(await ledger.get(['b1'])).toEqual({ spentUsd: 0, reservedUsd: 0 });
  });

  it('sums rolling buckets: spend ages out bucket by bucket', async () => {
    const clock = fakeClock(Date.parse('2026-11-30T12:00:30Z'));
    const ledger = new MemoryLedger({ now: clock.now });
    const hourly = { rollingMs: 3_600_000 };
    await ledger.add(writeRef(windowRef('h', {}, hourly, clock.now(), { graceMs: 0 })), 0.6);
    clock.advance(30 * 60_000); // 12:30:30
    const mid = windowRef('h', {}, hourly, clock.now(), { graceMs: 0 });
    expect((await ledger.reserve(mid, 0.5, 1, true)).ok).toBe(false);
    expect((await ledger.reserve(mid, 0.4, 1, true)).ok).toBe(true);
    await ledger.settle(writeRef(mid), 0.4, writeRef(mid), 0.4);
    // 13:01:00: the 12:00 bucket has left the window (and expired); 0.4 remains.
    clock.advance(30 * 60_000 + 30_000);
    const later = windowRef('h', {}, hourly, clock.now(), { graceMs: 0 });
    expect(await ledger.get(later.readKeys)).toEqual({ spentUsd: 0.4, reservedUsd: 0 });
    expect((await ledger.reserve(later, 0.6, 1, true)).ok).toBe(true);
  });

  it('ignores and counts amounts that would corrupt the totals (the contract: never throws)', async () => {
    const ledger = new MemoryLedger();
    expect(await ledger.reserve(ref('k'), Number.NaN, 1, true)).toEqual({
      ok: false,
      spentUsd: 0,
      reservedUsd: 0,
    });
    expect(await ledger.add(kref('k'), -1)).toBeUndefined();
    expect(await ledger.settle(kref('k'), 0, kref('k'), Infinity)).toBeUndefined();
    expect(ledger.stats()).toMatchObject({
      keys: 0,
      invalidArguments: 3,
      problems: { invalid_argument: 3 },
    });
  });

  it('concurrent reservations never both pass a limit only one fits', async () => {
    const ledger = new MemoryLedger();
    const w = ref('race');
    const results = await Promise.all(
      Array.from({ length: 100 }, () => ledger.reserve(w, 0.07, 1, true)),
    );
    expect(results.filter((r) => r.ok).length).toBe(14); // 14 * 0.07 = 0.98; 15 would be 1.05
    expect((await ledger.get(w.readKeys)).reservedUsd).toBeLessThanOrEqual(1);
  });
});

describe('MemoryLedger expiry', () => {
  it('keys expire after their TTL on the injected clock', async () => {
    const clock = fakeClock();
    const ledger = new MemoryLedger({ now: clock.now });
    await ledger.add(kref('day', 1000), 0.5);
    clock.advance(999);
    expect(await ledger.get(['day'])).toEqual({ spentUsd: 0.5, reservedUsd: 0 });
    clock.advance(1);
    // Reads see zeros at once; the entry itself goes on the next write (lazy sweep, no timers).
    expect(await ledger.get(['day'])).toEqual({ spentUsd: 0, reservedUsd: 0 });
    expect(ledger.stats()).toMatchObject({ keys: 1, evictions: 0, expired: 0 });
    await ledger.add(kref('other', 1000), 0.1);
    expect(ledger.stats()).toMatchObject({ keys: 1, evictions: 0, expired: 1 });
  });

  it('a write after expiry starts from zero', async () => {
    const clock = fakeClock();
    const ledger = new MemoryLedger({ now: clock.now });
    await ledger.reserve(ref('k', 1000), 0.9, 1, true);
    clock.advance(1000);
    expect(await ledger.reserve(ref('k', 1000), 0.9, 1, true)).toEqual({
      ok: true,
      spentUsd: 0,
      reservedUsd: 0.9,
    });
  });

  it('writes extend a key’s life and never shorten it', async () => {
    const clock = fakeClock();
    const ledger = new MemoryLedger({ now: clock.now });
    await ledger.add(kref('k', 10_000), 0.1);
    clock.advance(5000);
    await ledger.add(kref('k', 1000), 0.1); // would expire at 6 s: ignored, stays 10 s
    clock.advance(4999);
    expect((await ledger.get(['k'])).spentUsd).toBeCloseTo(0.2, 15);
    await ledger.add(kref('k', 10_000), 0.1); // now until 19,999 ms
    clock.advance(9999);
    expect((await ledger.get(['k'])).spentUsd).toBeCloseTo(0.3, 15);
    clock.advance(1);
    expect((await ledger.get(['k'])).spentUsd).toBe(0);
  });

  it('a release after the window expired does nothing', async () => {
    const clock = fakeClock();
    const ledger = new MemoryLedger({ now: clock.now });
    await ledger.reserve(ref('k', 1000), 0.5, 1, true);
    clock.advance(2000);
    await ledger.release(kref('k', 1000), 0.5);
    expect(await ledger.get(['k'])).toEqual({ spentUsd: 0, reservedUsd: 0 });
  });
});

describe('MemoryLedger bounds', () => {
  it('at maxKeys the key expiring soonest is evicted and counted', async () => {
    const ledger = new MemoryLedger({ maxKeys: 3, now: fakeClock().now });
    await ledger.add(kref('long', 30_000), 1);
    await ledger.add(kref('short', 10_000), 2);
    await ledger.add(kref('mid', 20_000), 3);
    await ledger.add(kref('new', 40_000), 4);
    expect(ledger.stats()).toMatchObject({ keys: 3, evictions: 1, expired: 0 });
    expect(await ledger.get(['short'])).toEqual({ spentUsd: 0, reservedUsd: 0 });
    expect((await ledger.get(['long', 'mid', 'new'])).spentUsd).toBe(8);
    await ledger.add(kref('newer', 50_000), 5);
    expect(await ledger.get(['mid'])).toEqual({ spentUsd: 0, reservedUsd: 0 });
    expect(ledger.stats().evictions).toBe(2);
  });

  it('an extended key is no longer the first to go', async () => {
    const clock = fakeClock();
    const ledger = new MemoryLedger({ maxKeys: 2, now: clock.now });
    await ledger.add(kref('a', 10_000), 1);
    await ledger.add(kref('b', 20_000), 1);
    await ledger.add(kref('a', 30_000), 1); // a now outlives b
    await ledger.add(kref('c', 40_000), 1);
    expect((await ledger.get(['a'])).spentUsd).toBe(2);
    expect((await ledger.get(['b'])).spentUsd).toBe(0);
  });

  it('expired keys are swept before anything live is evicted', async () => {
    const clock = fakeClock();
    const ledger = new MemoryLedger({ maxKeys: 2, now: clock.now });
    await ledger.add(kref('old', 1000), 1);
    await ledger.add(kref('live', 60_000), 1);
    clock.advance(1000);
    await ledger.add(kref('new', 60_000), 1);
    expect(ledger.stats()).toMatchObject({ keys: 2, evictions: 0, expired: 1 });
  });

  it('memory stays bounded under a stream of distinct keys and moving expiries', async () => {
    const clock = fakeClock();
    const ledger = new MemoryLedger({ maxKeys: 1000, now: clock.now });
    for (let i = 0; i < 20_000; i++) {
      clock.advance(1);
      await ledger.add(kref(`k${i}`, 5_000 + (i % 7) * 1000), 0.001);
      await ledger.add(kref(`k${i >> 1}`, 60_000), 0.001); // keep moving expiries
    }
    const s = ledger.stats();
    expect(s.keys).toBeLessThanOrEqual(1000);
    expect(s.evictions + s.expired + s.keys).toBeGreaterThanOrEqual(20_000);
  });

  it('close is idempotent; a closed ledger keeps answering from the same totals (a draining service keeps its budgets)', async () => {
    const ledger = new MemoryLedger();
    await ledger.add(kref('k'), 1);
    await ledger.close();
    await ledger.close();
    expect(await ledger.get(['k'])).toEqual({ spentUsd: 1, reservedUsd: 0 });
    expect((await ledger.reserve(ref('k'), 0.5, 1.25, true)).ok).toBe(false);
    expect((await ledger.reserve(ref('k'), 0.25, 1.25, true)).ok).toBe(true);
  });

  it('checks its options strictly, naming the option', () => {
    expect(() => new MemoryLedger({ maxKeys: 0 })).toThrow(
      'spanledger: new MemoryLedger: invalid options: maxKeys: must be a positive integer, got 0',
    );
    expect(() => new MemoryLedger({ maxkeys: 10 } as never)).toThrow(
      'spanledger: new MemoryLedger: invalid options: maxkeys: unknown key (known: maxKeys, now)',
    );
    expect(() => new MemoryLedger({ now: 5 } as never)).toThrow(TypeError);
  });
});
