import { describe, expect, it } from 'vitest';
import { Shadow } from '../../../src/budgets/redis/shadow.js';

function setup(maxKeys = 100) {
  let now = Date.parse('2026-11-30T12:00:00Z');
  let full = 0;
  let seq = 0;
  const shadow = new Shadow({
    now: () => now,
    maxKeys,
    onFull: () => {
      full++;
    },
  });
  return {
    shadow,
    next: () => ++seq,
    advance: (ms: number) => {
      now += ms;
    },
    full: () => full,
  };
}

describe('Shadow (what a process holds beyond Redis’ last answer)', () => {
  it('counts a sent write’s spend at once but not the reservation it gives back until confirmed', () => {
    const { shadow, next } = setup();
    // Redis last said: $1.50 spent, $0.40 reserved (8 calls of $0.05 in flight).
    shadow.remember(['k'], ['1.5', '0.4'], 0);
    // One call settles at $0.04; Redis does not answer (it may or may not have applied it).
    shadow.pend('k', 60_000, next, 0.05, 0.04, true);
    expect(shadow.local(['k'])).toEqual({ spentUsd: 1.54, reservedUsd: 0.4 });
    // A write that certainly never reached Redis gives its reservation back at once.
    shadow.pend('k', 60_000, next, 0.05, 0.03, false);
    const t = shadow.local(['k']);
    expect(t.spentUsd).toBeCloseTo(1.57, 12);
    expect(t.reservedUsd).toBeCloseTo(0.35, 12);
  });

  it('merges unsent writes of a key into one, keeps sent ones apart, in sequence order', () => {
    const { shadow, next } = setup();
    const a = shadow.pend('k', 60_000, () => 7, 0, 0.1, false);
    const b = shadow.pend('k', 60_000, next, 0.2, 0.3, false);
    expect(b).toBe(a);
    // Sent earlier with number 5, timed out after the unsent write was kept: it goes first.
    shadow.pend('k', 60_000, () => 5, 0, 0.4, true);
    const batch = shadow.takeForReplay('k');
    expect(batch?.writes.map((w) => [w.seq, w.unreserve, w.spent])).toEqual([
      [5, 0, 0.4],
      [7, 0.2, 0.1 + 0.3],
    ]);
    // Taken for replay: all sent now; a new unsent write starts a new entry.
    const c = shadow.pend('k', 60_000, () => 9, 0, 0.5, false);
    expect(c?.seq).toBe(9);
    expect(shadow.pendingWrites()).toBe(3);
    shadow.resolve('k', batch?.writes ?? []);
    expect(shadow.pendingWrites()).toBe(1);
    expect(shadow.hasPending('k')).toBe(true);
  });

  it('local reservations: taken and given back before any reservation held in Redis', () => {
    const { shadow } = setup();
    expect(shadow.reserveLocally('k', 60_000, 0.3)).toBe(true);
    expect(shadow.local(['k'])).toEqual({ spentUsd: 0, reservedUsd: 0.3 });
    // Settling 0.5: 0.3 was local, 0.2 was reserved in Redis.
    expect(shadow.takeLocalReservation('k', 0.5)).toBeCloseTo(0.2, 12);
    expect(shadow.size).toBe(0);
  });

  it('expires entries by their TTL on the injected clock, and stays within maxKeys', () => {
    const { shadow, next, advance, full } = setup(2);
    shadow.pend('a', 1_000, next, 0, 0.1, false);
    shadow.pend('b', 5_000, next, 0, 0.2, false);
    expect(shadow.pend('c', 1_000, next, 0, 0.3, false)).toBeUndefined();
    expect(full()).toBe(1);
    advance(1_000);
    // 'a' expired with its window: it reads as nothing and makes room.
    expect(shadow.local(['a', 'b'])).toEqual({ spentUsd: 0.2, reservedUsd: 0 });
    expect(shadow.pend('c', 1_000, next, 0, 0.3, false)).toBeDefined();
    expect(shadow.pendingKeys()).toEqual(['b', 'c']);
    // The replay's TTL is what is left of the window.
    expect(shadow.takeForReplay('b')?.ttlMs).toBe(4_000);
  });

  it('counters beside USD: held, given back and pending like USD, summed with the last totals', () => {
    const { shadow, next } = setup();
    // Redis last said: 1000 tokens spent, 500 reserved; 2 LLM calls made.
    const sum = { tokens: { spent: 0, reserved: 0 }, llm_calls: { spent: 0, reserved: 0 } };
    shadow.rememberCounts('k', ['tokens', 'llm_calls'], ['1000', '500', '2', '0'], 0, sum);
    expect(sum).toEqual({
      tokens: { spent: 1000, reserved: 500 },
      llm_calls: { spent: 2, reserved: 0 },
    });
    // One call reserved locally while Redis did not answer.
    expect(shadow.reserveLocally('k', 60_000, 0, { tokens: 300, llm_calls: 1 })).toBe(true);
    // A sent settle of a Redis reservation (500 held, 400 used): spend counts at once, the
    // reservation it gives back only once confirmed.
    shadow.pend('k', 60_000, next, 0, 0, true, {
      tokens: { unreserve: 500, spent: 400 },
      llm_calls: { unreserve: 1, spent: 1 },
    });
    expect(shadow.localCounts(['k'], ['tokens', 'llm_calls', 'tool_calls'])).toEqual({
      tokens: { spent: 1400, reserved: 800 },
      llm_calls: { spent: 3, reserved: 1 },
      tool_calls: { spent: 0, reserved: 0 },
    });
    // Settling the local call gives back the local reservation first: nothing of it is Redis'.
    expect(shadow.takeLocalCounts('k', { tokens: 300, llm_calls: 1 })).toEqual({
      tokens: 0,
      llm_calls: 0,
    });
    // An unsent write merges into the last unsent one, counters included.
    const a = shadow.pend('k', 60_000, next, 0, 0, false, { tokens: { unreserve: 0, spent: 10 } });
    const b = shadow.pend('k', 60_000, next, 0, 0, false, { tokens: { unreserve: 0, spent: 5 } });
    expect(b).toBe(a);
    expect(a?.counts).toEqual({ tokens: { unreserve: 0, spent: 15 } });
    // A write with nothing in it is not kept.
    expect(
      shadow.pend('k', 60_000, next, 0, 0, false, { tokens: { unreserve: 0, spent: 0 } }),
    ).toBeUndefined();
  });
});
