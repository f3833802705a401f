/**
 * Showback lines and their table, CSV and JSON from hand-built estimates: unallocated rows kept
 * and marked, printed rows that sum to the printed total, RFC 4180 quoting, conversion.
 */
import { describe, expect, it } from 'vitest';
import type { EstimateRow } from '../../src/finance/model.js';
import {
  buildShowback,
  renderShowbackCsv,
  renderShowbackJson,
  renderShowbackTable,
} from '../../src/finance/showback.js';

const by = ['team', 'tenant'];
const estimates: EstimateRow[] = [
  { day: '2025-10-25', labels: { team: 'a,"b"', tenant: 'acme' }, costUsd: 1 / 3 },
  { day: '2025-10-25', labels: { team: 'beta', tenant: undefined }, costUsd: 1 / 3 },
  {
    day: '2025-10-26',
    labels: { team: 'beta', tenant: 'initech' },
    costUsd: 1 / 3,
    tokens: { input: 10, output: 2 },
    cacheSavingsUsd: 0.5,
  },
];
const ctx = {
  by,
  from: new Date('2025-10-25T00:00:00Z'),
  to: new Date('2025-10-27T00:00:00Z'),
  timeZone: 'UTC',
};

describe('showback renderings', () => {
  const lines = buildShowback({
    estimates,
    by,
    extra: [
      { day: '2025-10-25', kind: 'fixed', name: 'gpu', labels: { team: 'beta' }, costUsd: 2 },
    ],
  });

  it('orders usage before fixed and shared costs within a day', () => {
    expect(lines.map((l) => [l.day, l.kind])).toEqual([
      ['2025-10-25', 'usage'],
      ['2025-10-25', 'usage'],
      ['2025-10-25', 'fixed'],
      ['2025-10-26', 'usage'],
    ]);
  });

  it('prints a table whose rows add up to its total, unallocated spelled out', () => {
    const text = renderShowbackTable(lines, ctx);
    const amounts = text
      .split('\n')
      .filter((l) => l.startsWith('2025-'))
      .map((l) => l.trim().split(/\s{2,}/))
      .map((cells) => cells.find((c) => /^\d+\.\d{6}$/.test(c)) as string);
    // A third three times: 0.333334 once, 0.333333 twice, so that they and 2 make 3.000000.
    expect(amounts).toEqual(['0.333334', '0.333333', '2.000000', '0.333333']);
    expect(text).toMatch(/\ntotal\s+3\.000000\n/);
    expect(text).toContain('(unallocated)');
    expect(text).toContain('fixed: gpu');
  });

  it('writes RFC 4180 CSV: quoted fields, CRLF, empty for unallocated and unknown', () => {
    const csv = renderShowbackCsv(lines, ctx);
    const rows = csv.split('\r\n');
    expect(rows[0]).toBe(
      'day,team,tenant,kind,name,cost_usd,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,reasoning_tokens,cache_savings_usd,allocation_method,allocation_dimension,allocation_share',
    );
    expect(rows[1]).toBe('2025-10-25,"a,""b""",acme,usage,,0.333333334,,,,,,,,,');
    expect(rows[2]).toBe('2025-10-25,beta,,usage,,0.333333333,,,,,,,,,');
    expect(rows[4]).toBe('2025-10-26,beta,initech,usage,,0.333333333,10,2,,,,0.500000000,,,');
    expect(csv.endsWith('\r\n')).toBe(true);
  });

  it('writes JSON with null for unallocated and the exact totals', () => {
    const doc = JSON.parse(renderShowbackJson(lines, ctx));
    expect(doc.estimate).toBe(true);
    expect(doc.rows[1].labels).toEqual({ team: 'beta', tenant: null });
    expect(doc.totals.costUsd).toBe(1 / 3 + 1 / 3 + 2 + 1 / 3);
  });

  it('converts each line at its day and shows the currency', () => {
    const converted = buildShowback({
      estimates,
      by,
      convert: (usd, day) => ({ amount: usd * 2, currency: 'CHF', rate: 2, rateDay: day }),
    });
    expect(converted.map((l) => l.converted?.amount)).toEqual([2 / 3, 2 / 3, 2 / 3]);
    const table = renderShowbackTable(converted, ctx);
    expect(table).toContain('cost_chf');
    expect(table).toMatch(/\ntotal\s+2\.000000\n/);
    const csv = renderShowbackCsv(converted, ctx).split('\r\n');
    expect(csv[0]).toContain('cost_usd,cost,currency,fx_rate,fx_rate_day,');
    expect(csv[1]).toContain(',0.333333334,0.666666667,CHF,2,2025-10-25,');
  });
});
