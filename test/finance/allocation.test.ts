import { describe, expect, it } from 'vitest';
import {
  allocateCosts,
  allocationDimensions,
  daysInMonth,
  MAX_RANGE_DAYS,
  rangeDays,
} from '../../src/finance/allocation.js';
import { type FinanceConfigInput, validateFinance } from '../../src/finance/config.js';
import type { AllocatedRow, EstimateRow } from '../../src/finance/model.js';

/** `actual` within 1e-9 relative of the hand-computed `expected`. */
function close(actual: number | undefined, expected: number): void {
  expect(actual).toBeTypeOf('number');
  expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(1e-9 * Math.abs(expected));
}

const finance = (input: FinanceConfigInput) => validateFinance(input, 'test');
const utc = (from: string, to: string) => ({
  from: new Date(`${from}T00:00:00Z`),
  to: new Date(`${to}T00:00:00Z`),
  timeZone: 'UTC',
});
const sum = (rows: readonly AllocatedRow[]): number => rows.reduce((s, r) => s + r.costUsd, 0);

const INTEGRATION = {
  name: 'support-triage-integration',
  monthlyUsd: 300,
  labels: { use_case: 'support-triage' },
};
const VECTOR_STORE = { name: 'vector-store-cluster', monthlyUsd: 1200, allocateBy: 'use_case' };

describe('daysInMonth and rangeDays', () => {
  it('counts 28, 29, 30 and 31 days', () => {
    expect(['2026-02-14', '2028-02-01', '2026-11-30', '2026-03-31'].map(daysInMonth)).toEqual([
      28, 29, 30, 31,
    ]);
  });

  it('cuts a Europe/Paris range at local midnights: the 23-hour and the 25-hour days are one day each', () => {
    // 2026-03-29 00:00 CET is 2026-03-28T23:00Z; 2026-03-30 00:00 CEST is 2026-03-29T22:00Z.
    expect(
      rangeDays({
        from: Date.parse('2026-03-28T23:00:00Z'),
        to: Date.parse('2026-03-29T22:00:00Z'),
        timeZone: 'Europe/Paris',
      }),
    ).toEqual([{ day: '2026-03-29', fraction: 1 }]);
    // 2026-10-25 00:00 CEST is 2026-10-24T22:00Z; 2026-10-26 00:00 CET is 2026-10-25T23:00Z.
    expect(
      rangeDays({
        from: Date.parse('2026-10-24T22:00:00Z'),
        to: Date.parse('2026-10-25T23:00:00Z'),
        timeZone: 'Europe/Paris',
      }),
    ).toEqual([{ day: '2026-10-25', fraction: 1 }]);
    // The whole of March in Paris: 31 days, although it is 743 hours long, not 744.
    const march = rangeDays({
      from: Date.parse('2026-02-28T23:00:00Z'),
      to: Date.parse('2026-03-31T22:00:00Z'),
      timeZone: 'Europe/Paris',
    });
    expect(march.map((d) => d.day)).toEqual(
      Array.from({ length: 31 }, (_, i) => `2026-03-${String(i + 1).padStart(2, '0')}`),
    );
    expect(march.every((d) => d.fraction === 1)).toBe(true);
  });

  it('refuses a range over MAX_RANGE_DAYS', () => {
    const from = Date.parse('2020-01-01T00:00:00Z');
    expect(
      rangeDays({ from, to: from + MAX_RANGE_DAYS * 86_400_000, timeZone: 'UTC' }),
    ).toHaveLength(MAX_RANGE_DAYS);
    expect(() =>
      rangeDays({ from, to: from + (MAX_RANGE_DAYS + 1) * 86_400_000, timeZone: 'UTC' }),
    ).toThrow(`spanledger: a range of more than ${MAX_RANGE_DAYS} days`);
  });

  it('refuses a reversed range and an unknown zone', () => {
    expect(() => rangeDays({ ...utc('2026-03-02', '2026-03-01') })).toThrow(RangeError);
    expect(() =>
      rangeDays({ ...utc('2026-03-01', '2026-03-02'), timeZone: 'Europe/Pariss' }),
    ).toThrow('spanledger: unknown IANA time zone "Europe/Pariss"');
  });
});

describe('allocateCosts: fixed costs spread per day', () => {
  it('a February: 28 rows of 300 / 28 = 10.714285714285714, summing to the month', () => {
    const rows = allocateCosts(
      finance({ fixedCosts: [INTEGRATION] }),
      [],
      utc('2026-02-01', '2026-03-01'),
    );
    expect(rows).toHaveLength(28);
    expect(rows[0]).toEqual({
      day: '2026-02-01',
      kind: 'fixed',
      name: 'support-triage-integration',
      labels: { use_case: 'support-triage' },
      costUsd: rows[0]?.costUsd,
    });
    for (const r of rows) close(r.costUsd, 10.714285714285714);
    close(sum(rows), 300);
    // A leap February has 29 days: 300 / 29 = 10.344827586206897.
    const leap = allocateCosts(
      finance({ fixedCosts: [INTEGRATION] }),
      [],
      utc('2028-02-01', '2028-03-01'),
    );
    expect(leap).toHaveLength(29);
    close(leap[28]?.costUsd, 10.344827586206897);
    close(sum(leap), 300);
  });

  it('a 31-day month: 300 / 31 = 9.67741935483871 a day', () => {
    const rows = allocateCosts(
      finance({ fixedCosts: [INTEGRATION] }),
      [],
      utc('2026-03-01', '2026-04-01'),
    );
    expect(rows).toHaveLength(31);
    for (const r of rows) close(r.costUsd, 9.67741935483871);
    close(sum(rows), 300);
  });

  it('a range over a month boundary: each day at its own month (2 × 300/31 + 2 × 300/28 = 40.78341013824885)', () => {
    const rows = allocateCosts(
      finance({ fixedCosts: [INTEGRATION] }),
      [],
      utc('2026-01-30', '2026-02-03'),
    );
    expect(rows.map((r) => r.day)).toEqual([
      '2026-01-30',
      '2026-01-31',
      '2026-02-01',
      '2026-02-02',
    ]);
    close(rows[1]?.costUsd, 300 / 31);
    close(rows[2]?.costUsd, 300 / 28);
    close(sum(rows), 40.78341013824885);
  });

  it('the DST day in Europe/Paris is a whole day (300 / 31), and a half of it 11 of its 23 hours', () => {
    const cfg = finance({ fixedCosts: [INTEGRATION] });
    const day = allocateCosts(cfg, [], {
      from: Date.parse('2026-03-28T23:00:00Z'),
      to: Date.parse('2026-03-29T22:00:00Z'),
      timeZone: 'Europe/Paris',
    });
    expect(day).toHaveLength(1);
    close(day[0]?.costUsd, 9.67741935483871);
    // Local midnight to local noon: 11 hours of a 23-hour day, 300/31 × 11/23.
    const morning = allocateCosts(cfg, [], {
      from: Date.parse('2026-03-28T23:00:00Z'),
      to: Date.parse('2026-03-29T10:00:00Z'),
      timeZone: 'Europe/Paris',
    });
    close(morning[0]?.costUsd, 4.628330995792426);
    // All of March in Paris: 31 days, the month's 300 exactly.
    const march = allocateCosts(cfg, [], {
      from: Date.parse('2026-02-28T23:00:00Z'),
      to: Date.parse('2026-03-31T22:00:00Z'),
      timeZone: 'Europe/Paris',
    });
    expect(march).toHaveLength(31);
    close(sum(march), 300);
  });

  it('effective dates: from inclusive, until exclusive (10 days of March: 3000 / 31 = 96.7741935483871)', () => {
    const rows = allocateCosts(
      finance({ fixedCosts: [{ ...INTEGRATION, from: '2026-03-10', until: '2026-03-20' }] }),
      [],
      utc('2026-03-01', '2026-04-01'),
    );
    expect(rows.map((r) => r.day)).toEqual(
      Array.from({ length: 10 }, (_, i) => `2026-03-${String(10 + i).padStart(2, '0')}`),
    );
    close(sum(rows), 96.7741935483871);
  });

  it('an annual amount is a twelfth a month: 3600 a year over November is 300', () => {
    const rows = allocateCosts(
      finance({ fixedCosts: [{ name: 'x', annualUsd: 3600, labels: { team: 'search' } }] }),
      [],
      utc('2026-11-01', '2026-12-01'),
    );
    close(rows[0]?.costUsd, 10);
    close(sum(rows), 300);
  });
});

describe('allocateCosts: shared costs split by measured usage', () => {
  const est = (day: string, labels: Record<string, string>, costUsd: number): EstimateRow => ({
    day,
    labels,
    costUsd,
  });

  it('by each value’s usage cost summed over the other labels, spend without a value a share of its own', () => {
    // 2026-11-03, a day of a 30-day month: 1200 / 30 = 40 to split. Usage: support-triage 3 + 1
    // (two models) = 4, search 2, no use case 1.5 + a blank one 0.5 = 2; of 8 in all.
    const estimates = [
      est('2026-11-03', { use_case: 'support-triage', model: 'gpt-4o' }, 3),
      est('2026-11-03', { use_case: 'support-triage', model: 'gpt-4o-mini' }, 1),
      est('2026-11-03', { use_case: 'search', model: 'gpt-4o' }, 2),
      est('2026-11-03', { model: 'gpt-4o' }, 1.5),
      est('2026-11-03', { use_case: '  ', model: 'gpt-4o' }, 0.5),
      est('2026-11-03', { use_case: 'idle' }, 0),
      // Outside the range: no part of the basis.
      est('2026-11-04', { use_case: 'search' }, 100),
    ];
    const rows = allocateCosts(
      finance({ sharedCosts: [{ ...VECTOR_STORE, labels: { category: 'vector_store' } }] }),
      estimates,
      utc('2026-11-03', '2026-11-04'),
    );
    expect(rows.map((r) => [r.labels, r.allocation?.method, r.allocation?.share])).toEqual([
      [{ category: 'vector_store', use_case: 'search' }, 'proportional', 0.25],
      [{ category: 'vector_store', use_case: 'support-triage' }, 'proportional', 0.5],
      [{ category: 'vector_store' }, 'proportional', 0.25],
    ]);
    close(rows[0]?.costUsd, 10);
    close(rows[1]?.costUsd, 20);
    close(rows[2]?.costUsd, 10);
    expect(rows[0]).toMatchObject({
      kind: 'shared',
      name: 'vector-store-cluster',
      allocation: { basis: 'usage_cost', dimension: 'use_case' },
    });
  });

  it('names the dimensions the estimates must be grouped by, each once', () => {
    const cfg = finance({
      fixedCosts: [INTEGRATION],
      sharedCosts: [
        VECTOR_STORE,
        { ...VECTOR_STORE, name: 'v2' },
        { ...VECTOR_STORE, name: 'g', allocateBy: 'tenant' },
      ],
    });
    expect(allocationDimensions(cfg)).toEqual(['use_case', 'tenant']);
  });

  it('a day without usage keeps its whole amount on one unallocated row', () => {
    const rows = allocateCosts(
      finance({ sharedCosts: [VECTOR_STORE] }),
      [est('2026-11-02', { use_case: 'search' }, 1)],
      utc('2026-11-01', '2026-11-03'),
    );
    expect(rows).toEqual([
      {
        day: '2026-11-01',
        kind: 'shared',
        name: 'vector-store-cluster',
        labels: {},
        costUsd: 40,
        allocation: { method: 'unallocated', basis: 'usage_cost', dimension: 'use_case', share: 1 },
      },
      {
        day: '2026-11-02',
        kind: 'shared',
        name: 'vector-store-cluster',
        labels: { use_case: 'search' },
        costUsd: 40,
        allocation: {
          method: 'proportional',
          basis: 'usage_cost',
          dimension: 'use_case',
          share: 1,
        },
      },
    ]);
  });

  it('conserves each cost over a range across a month boundary, to 1e-9', () => {
    // 2026-10-20 to 2026-11-10: 12 days of October (31) and 9 of November (30), usage on some.
    const estimates: EstimateRow[] = [];
    for (let i = 0; i < 21; i += 2) {
      const day = new Date(Date.UTC(2026, 9, 20 + i)).toISOString().slice(0, 10);
      estimates.push(est(day, { tenant: 'acme', use_case: 'search' }, 0.1 * (i + 1)));
      estimates.push(est(day, { tenant: 'globex' }, 0.037 * (i + 3)));
      if (i % 4 === 0) estimates.push(est(day, { use_case: 'triage' }, 1 / 3));
    }
    const cfg = finance({
      fixedCosts: [INTEGRATION],
      sharedCosts: [VECTOR_STORE, { name: 'gateway', annualUsd: 10_000, allocateBy: 'tenant' }],
    });
    const rows = allocateCosts(cfg, estimates, utc('2026-10-20', '2026-11-10'));
    const of = (name: string) => sum(rows.filter((r) => r.name === name));
    close(of('support-triage-integration'), (300 * 12) / 31 + (300 * 9) / 30);
    close(of('vector-store-cluster'), (1200 * 12) / 31 + (1200 * 9) / 30);
    close(of('gateway'), ((10_000 / 12) * 12) / 31 + ((10_000 / 12) * 9) / 30);
    // Odd days had no usage: unallocated there, proportional on the others.
    const gateway = rows.filter((r) => r.name === 'gateway');
    expect(gateway.filter((r) => r.allocation?.method === 'unallocated')).toHaveLength(10);
    for (const day of new Set(gateway.map((r) => r.day))) {
      const shares = gateway.filter((r) => r.day === day).map((r) => r.allocation?.share ?? 0);
      close(
        shares.reduce((a, b) => a + b, 0),
        1,
      );
    }
  });

  it('refuses an estimate whose cost is negative or not a number', () => {
    const cfg = finance({ sharedCosts: [VECTOR_STORE] });
    expect(() =>
      allocateCosts(
        cfg,
        [est('2026-11-01', { use_case: 'x' }, -1)],
        utc('2026-11-01', '2026-11-02'),
      ),
    ).toThrow('spanledger: the estimate of 2026-11-01 {"use_case":"x"} costs -1');
    expect(() =>
      allocateCosts(cfg, [est('2026-11-01', {}, Number.NaN)], utc('2026-11-01', '2026-11-02')),
    ).toThrow(RangeError);
  });
});
