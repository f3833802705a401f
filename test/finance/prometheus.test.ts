/**
 * The sample arithmetic of readEstimates against a real Prometheus 3 serving hand-made samples
 * (test/support/showback-samples.ts, whose comments give each series' story): baselines before the range (one of them days old), a series born in the range, a counter
 * reset, day boundaries in Europe/Paris across the end of summer time (2025-10-26 is 25 hours
 * long there), the selector, tokens and cache savings joined, unallocated rows, and the errors.
 * Every figure is a sum of exactly representable steps, computed by hand.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EstimateQuery, EstimateRow } from '../../src/finance/model.js';
import {
  CounterIncreases,
  PROM_LABELS,
  rangeDays,
  readEstimatesFrom,
  startOfDay,
} from '../../src/finance/prometheus.js';
import { ROOT } from '../support/built.js';
import { freePort } from '../support/collector.js';
import { startSamplePrometheus } from '../support/showback-samples.js';

const PARIS = 'Europe/Paris';

let prom: { url: string; stop(): Promise<void> } | undefined;
let html: Server | undefined;
let htmlUrl = '';

beforeAll(async () => {
  prom = await startSamplePrometheus();
  if (prom === undefined) return;
  html = createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html><body>Grafana</body></html>');
  });
  await new Promise<void>((r) => html?.listen(0, '127.0.0.1', r));
  const address = html.address();
  htmlUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}, 600_000);

afterAll(async () => {
  await prom?.stop();
  await new Promise((r) => (html ? html.close(r) : r(undefined)));
});

const query = (over: Partial<EstimateQuery> = {}): EstimateQuery => ({
  prometheusUrl: prom?.url ?? '',
  from: new Date(startOfDay('2025-10-25', PARIS)),
  to: new Date(startOfDay('2025-10-28', PARIS)),
  timeZone: PARIS,
  by: ['team', 'tenant'],
  selector: 'cluster="prod"',
  ...over,
});

/** Rows as [day, labels joined, cost] for comparison. */
const brief = (rows: EstimateRow[], by: string[]) =>
  rows.map((r) => [r.day, by.map((d) => r.labels[d] ?? '-').join('/'), r.costUsd]);

describe('the calendar of a range', () => {
  it('cuts days at local midnight in the zone, the last Sunday of October 25 hours long', () => {
    const days = rangeDays(startOfDay('2025-10-25', PARIS), startOfDay('2025-10-28', PARIS), PARIS);
    expect(days.map((d) => [d.day, (d.endMs - d.startMs) / 3_600_000])).toEqual([
      ['2025-10-25', 24],
      ['2025-10-26', 25],
      ['2025-10-27', 24],
    ]);
    expect(new Date(startOfDay('2025-10-25', PARIS)).toISOString()).toBe(
      '2025-10-24T22:00:00.000Z',
    );
    expect(new Date(startOfDay('2025-10-27', PARIS)).toISOString()).toBe(
      '2025-10-26T23:00:00.000Z',
    );
  });
});

describe('CounterIncreases (pure)', () => {
  it('adds each step, the new value after a reset, and the first value against its baseline', () => {
    const c = new CounterIncreases();
    c.add({ a: '1' }, 'd1', [10, 12, 3, 4]);
    c.add({ a: '1' }, 'd2', [1]);
    c.add({ a: '2' }, 'd1', [7]);
    const out = [...c.increases(new Map([['a\u00001', 8]]))];
    // a=1: 10-8 = 2, +2, reset +3, +1 → 8 on d1; reset to 1 → 1 on d2. a=2 born: 7.
    expect(out).toEqual([
      { labels: { a: '1' }, day: 'd1', value: 8 },
      { labels: { a: '1' }, day: 'd2', value: 1 },
      { labels: { a: '2' }, day: 'd1', value: 7 },
    ]);
  });
  it('refuses more series than its cap', () => {
    const c = new CounterIncreases({ maxSeries: 1 });
    c.add({ a: '1' }, 'd', [1]);
    expect(() => c.add({ a: '2' }, 'd', [1])).toThrow(/more than 1 series/);
  });
});

describe('readEstimates against Prometheus 3', () => {
  it('gives each day exactly its steps in Europe/Paris, across the end of summer time', async (ctx) => {
    if (prom === undefined) return ctx.skip();
    const by = ['team', 'tenant'];
    const rows = await readEstimatesFrom(query());
    // alpha/acme on the 25th: llm 12 → 12.5 → 13.5 (1.5) and the born tool series' 2;
    // the 26th: 13.5 → 14, 15, 16, reset to 2, (0.5 + 1 + 1 + 2); the 27th: 2 → 3 at midnight.
    // gamma: 7.5 - 5 against its six-day-old baseline. beta: born at 0.25, then +0.5.
    expect(brief(rows, by)).toEqual([
      ['2025-10-25', 'alpha/acme', 3.5],
      ['2025-10-25', 'gamma/initech', 2.5],
      ['2025-10-26', 'alpha/acme', 4.5],
      ['2025-10-26', 'beta/-', 0.25],
      ['2025-10-27', 'alpha/acme', 1],
      ['2025-10-27', 'beta/-', 0.5],
    ]);
    // The unallocated tenant is undefined, not dropped and not a string.
    expect(rows[3]?.labels).toEqual({ team: 'beta', tenant: undefined });
    // Tokens and savings join alpha/acme's 25th (the tokens counter's steps: 1100 - 100, born 50).
    expect(rows[0]?.tokens).toEqual({ input: 1000, output: 50 });
    expect(rows[0]?.cacheSavingsUsd).toBe(0.125);
    expect(rows[2]?.tokens).toBeUndefined();
  });

  it('cuts days in UTC: the sample at Paris midnight becomes the baseline, the last one counts', async (ctx) => {
    if (prom === undefined) return ctx.skip();
    const rows = await readEstimatesFrom(
      query({
        timeZone: 'UTC',
        from: new Date('2025-10-25T00:00:00Z'),
        to: new Date('2025-10-28T00:00:00Z'),
        by: ['team'],
      }),
    );
    // alpha: baseline 12.5 (22:00Z the 24th); the 25th 13.5, 14 and the tool's 2 (3.5); the
    // 26th 15, 16, reset 2, 3 (5); the 27th 3 → 100 at 23:00Z (97).
    expect(brief(rows, ['team'])).toEqual([
      ['2025-10-25', 'alpha', 3.5],
      ['2025-10-25', 'gamma', 2.5],
      ['2025-10-26', 'alpha', 5],
      ['2025-10-26', 'beta', 0.25],
      ['2025-10-27', 'alpha', 97],
      ['2025-10-27', 'beta', 0.5],
    ]);
  });

  it('leaves tokens out when grouping by category (the tokens counter has none)', async (ctx) => {
    if (prom === undefined) return ctx.skip();
    const rows = await readEstimatesFrom(query({ by: ['category'] }));
    expect(brief(rows, ['category'])).toEqual([
      ['2025-10-25', 'llm', 4],
      ['2025-10-25', 'tool', 2],
      ['2025-10-26', 'llm', 4.75],
      ['2025-10-27', 'llm', 1.5],
    ]);
    expect(rows.every((r) => r.tokens === undefined && r.cacheSavingsUsd === undefined)).toBe(true);
  });

  it('without a selector, reads every cluster', async (ctx) => {
    if (prom === undefined) return ctx.skip();
    const { selector: _, ...rest } = query({ by: ['team'] });
    const rows = await readEstimatesFrom(rest);
    const total = rows.reduce((s, r) => s + r.costUsd, 0);
    expect(total).toBe(12.25 + 1000);
  });

  it('fails with one line: unreachable, not Prometheus, HTTP error, empty or future range, no series', async (ctx) => {
    if (prom === undefined) return ctx.skip();
    const closed = `http://127.0.0.1:${await freePort()}`;
    await expect(readEstimatesFrom(query({ prometheusUrl: closed }))).rejects.toThrow(
      `cannot reach Prometheus at ${closed}: ECONNREFUSED`,
    );
    await expect(readEstimatesFrom(query({ prometheusUrl: htmlUrl }))).rejects.toThrow(
      `${htmlUrl} is not a Prometheus HTTP API: ${htmlUrl}/api/v1/query answered HTTP 200 <html><body>Grafana</body></html>`,
    );
    await expect(readEstimatesFrom(query({ selector: 'cluster=' }))).rejects.toThrow(
      /^Prometheus at http:\/\/127\.0\.0\.1:\d+ answered HTTP 400: .*parse error/,
    );
    const day = new Date('2025-10-25T00:00:00Z');
    await expect(readEstimatesFrom(query({ from: day, to: day }))).rejects.toThrow(
      'the range is empty: --from 2025-10-25T00:00:00.000Z is not before --to 2025-10-25T00:00:00.000Z',
    );
    const future = Date.now() + 86_400_000;
    await expect(
      readEstimatesFrom(query({ from: new Date(future), to: new Date(future + 1000) })),
    ).rejects.toThrow(/^the range is in the future: --from /);
    await expect(readEstimatesFrom(query({ selector: 'cluster="nope"' }))).rejects.toThrow(
      'no spanledger series in the range: spanledger_cost_usd_total{cluster="nope"} has no sample from 2025-10-24T22:00:00.000Z to 2025-10-27T23:00:00.000Z',
    );
  });
});

describe('the label names', () => {
  it('are the mixin’s (dashboards/config.libsonnet labels)', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(join(ROOT, 'dashboards', 'config.libsonnet'), 'utf8');
    const jsonnetName: Record<string, string> = {
      cost_center: 'costCenter',
      use_case: 'useCase',
    };
    for (const [dim, label] of Object.entries(PROM_LABELS)) {
      expect(text).toContain(`${jsonnetName[dim] ?? dim}: '${label}',`);
    }
  });
});
