// The statistics the benches print their verdicts with (bench/lib.mjs): a target over rounds
// that scatter more than the effect is met only when the mean's whole 95 % interval is under it.
import { describe, expect, it } from 'vitest';
import { meanVerdict, ratioInterval, turnOrders } from '../../bench/lib.mjs';

describe('meanVerdict', () => {
  it("gives the mean and Student's t times the standard error either side", () => {
    // Mean 0.1; deviations ±0.1 → sample variance 0.04/3, SE sqrt(0.04/3/4) = 0.057735;
    // 3 degrees of freedom: t(0.975) = 3.182446 (tables), half-width 0.183739.
    const r = meanVerdict([0, 0.2, 0, 0.2], 0.5);
    expect(r.mean).toBeCloseTo(0.1, 12);
    expect(r.hi - r.mean).toBeCloseTo(3.182446 * Math.sqrt(0.04 / 3 / 4), 6);
    expect(r.mean - r.lo).toBeCloseTo(0.183739, 6);
    expect(r.verdict).toBe('met');
  });

  it('says met, not met or undecided by where the whole interval lies', () => {
    // Interval 0.1 ± 0.1837: -0.0837 to 0.2837.
    expect(meanVerdict([0, 0.2, 0, 0.2], 0.1).verdict).toBe('undecided');
    expect(meanVerdict([0, 0.2, 0, 0.2], 0.28).verdict).toBe('undecided');
    expect(meanVerdict([0, 0.2, 0, 0.2], 0.29).verdict).toBe('met');
    expect(meanVerdict([0, 0.2, 0, 0.2], -0.08).verdict).toBe('undecided');
    expect(meanVerdict([0, 0.2, 0, 0.2], -0.09).verdict).toBe('not met');
    // The same mean with a tighter spread decides where the wide one could not.
    expect(meanVerdict([0.09, 0.11, 0.09, 0.11], 0.15).verdict).toBe('met');
    expect(meanVerdict([0.29, 0.31, 0.29, 0.31], 0.2).verdict).toBe('not met');
  });

  it('is wide on few rounds: two rounds 1.26 and 1.73 do not decide against 0.10', () => {
    // Mean 1.494, SE 0.232, one degree of freedom: t(0.975) = 12.706205, interval -1.45 to 4.44.
    const r = meanVerdict([1.262, 1.726], 0.1);
    expect(r.lo).toBeCloseTo(1.494 - 12.706205 * 0.232, 6);
    expect(r.verdict).toBe('undecided');
  });

  it('never decides on one figure', () => {
    const r = meanVerdict([0.01], 0.1);
    expect(r.mean).toBe(0.01);
    expect(r.verdict).toBe('undecided');
  });
});

describe('ratioInterval', () => {
  // Logs ±0.1 around log 0.9: SE sqrt(4 × 0.01 / 3 / 4) = 0.057735, t(0.975, 3) = 3.182446,
  // half-width 0.183739 in logs, so 0.9 × e^(±0.1837): 0.749 to 1.081.
  const wide = [0.1, -0.1, 0.1, -0.1].map((d) => 0.9 * Math.exp(d));

  it('gives the geometric mean and an interval symmetric in the logarithms', () => {
    const r = ratioInterval(wide, 0.95);
    expect(r.mean).toBeCloseTo(0.9, 12);
    expect(r.lo).toBeCloseTo(0.9 * Math.exp(-0.183739), 6);
    expect(r.hi).toBeCloseTo(0.9 * Math.exp(0.183739), 6);
    // Not the arithmetic mean: 1.25 and 0.8 are reciprocals, geometric mean 1, arithmetic 1.025.
    expect(ratioInterval([1.25, 0.8], 1).mean).toBeCloseTo(1, 12);
  });

  it('says met only when the whole interval is at or above the floor, not met when all is below', () => {
    expect(ratioInterval(wide, 0.95).verdict).toBe('undecided');
    expect(ratioInterval(wide, 0.74).verdict).toBe('met');
    expect(ratioInterval(wide, 1.09).verdict).toBe('not met');
    // The same mean with a tight spread decides against 0.95.
    expect(ratioInterval([0.9, 0.901, 0.899, 0.9], 0.95).verdict).toBe('not met');
    expect(ratioInterval([0.97, 0.971, 0.969, 0.97], 0.95).verdict).toBe('met');
  });
});

describe('turnOrders', () => {
  it("gives each turn a permutation, never starts with the last turn's last, and mixes the neighbours", () => {
    const variants = [0, 1, 2, 4, 5];
    const next = turnOrders(variants, 7);
    const follows = new Map<string, number>();
    let last: number | undefined;
    for (let turn = 0; turn < 3000; turn++) {
      const order = next();
      expect([...order].sort()).toEqual(variants);
      // No variant runs two turns back to back (with the order reversed turn by turn, the ones
      // at either end did, every other turn).
      expect(order[0]).not.toBe(last);
      const seq = last === undefined ? order : [last, ...order];
      for (let i = 1; i < seq.length; i++) {
        const pair = `${seq[i - 1]}>${seq[i]}`;
        follows.set(pair, (follows.get(pair) ?? 0) + 1);
      }
      last = order[order.length - 1];
    }
    // Every variant follows every other one, and about equally often: 20 ordered pairs share
    // 3000 * 5 - 1 successions, some 750 each.
    expect(follows.size).toBe(20);
    for (const n of follows.values()) expect(Math.abs(n - 750)).toBeLessThan(150);
  });

  it('repeats for the same round and differs between rounds', () => {
    const a = turnOrders(['a', 'b', 'c'], 1);
    const b = turnOrders(['a', 'b', 'c'], 1);
    const c = turnOrders(['a', 'b', 'c'], 2);
    const take = (f: () => string[]) => Array.from({ length: 20 }, () => f().join(''));
    expect(take(a)).toEqual(take(b));
    expect(take(c)).not.toEqual(take(turnOrders(['a', 'b', 'c'], 1)));
  });
});
