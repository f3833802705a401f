// The statistics the benches print their verdicts with (bench/lib.mjs): a target over rounds
// that scatter more than the effect is met only when the mean's whole 95 % interval is under it.
import { describe, expect, it } from 'vitest';
import { meanVerdict } from '../../bench/lib.mjs';

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
