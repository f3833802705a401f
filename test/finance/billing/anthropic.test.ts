/**
 * Anthropic's cost report as billed rows: amounts are decimal strings in cents (the documented
 * example, "123.78912" USD, is $1.2378912), a downloaded array of pages, and the API fetched
 * from a mock speaking its documented format over three pages, with a refused key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  anthropicCostRows,
  fetchAnthropicCosts,
  readAnthropicCostFile,
} from '../../../src/finance/billing/anthropic.js';
import { BillError } from '../../../src/finance/billing/common.js';
import { anthropicBucket, type MockBilling, startMockBilling } from '../../support/mock-billing.js';

const FIXTURE = 'test/fixtures/finance/anthropic-cost-report.json';

describe('a downloaded cost report', () => {
  it('reads an array of pages; cents become dollars; non-token lines have no model', () => {
    const rows = readAnthropicCostFile(FIXTURE);
    expect(rows.map((r) => [r.day, r.provider, r.model, r.source])).toEqual([
      ['2026-11-01', 'anthropic', 'claude-sonnet-4-20250514', FIXTURE],
      ['2026-11-01', 'anthropic', 'claude-sonnet-4-20250514', FIXTURE],
      ['2026-11-02', 'anthropic', undefined, FIXTURE],
    ]);
    expect(rows[0]?.costUsd).toBeCloseTo(1.2378912, 12);
    expect(rows[1]?.costUsd).toBe(4.5);
    expect(rows[2]?.costUsd).toBe(0.205);
  });

  it('refuses an amount that is not a decimal string, and another currency', () => {
    const bucket = anthropicBucket('2026-11-01', [
      ['claude-sonnet-4-20250514', 'output_tokens', '1'],
    ]) as {
      results: Record<string, unknown>[];
    };
    (bucket.results[0] as Record<string, unknown>).amount = 1.5;
    expect(() => anthropicCostRows([{ data: [bucket] }], 'a.json')).toThrow(
      'a.json: page 1, bucket 1, result 1: amount 1.5 is not a decimal string',
    );
    (bucket.results[0] as Record<string, unknown>).amount = '150';
    (bucket.results[0] as Record<string, unknown>).currency = 'EUR';
    expect(() => anthropicCostRows([{ data: [bucket] }], 'a.json')).toThrow(
      'a.json: page 1, bucket 1, result 1: currency "EUR" is not USD; reconcile compares USD amounts only',
    );
  });
});

describe('the cost report API, fetched', () => {
  let mock: MockBilling;
  beforeAll(async () => {
    mock = await startMockBilling();
  });
  afterAll(async () => {
    await mock.close();
  });
  const from = new Date('2026-11-01T00:00:00Z');
  const to = new Date('2026-12-01T00:00:00Z');

  it('follows next_page over three pages with the documented query and headers', async () => {
    mock.requests.length = 0;
    mock.anthropicPages = [
      [
        anthropicBucket('2026-11-01', [
          ['claude-sonnet-4-20250514', 'uncached_input_tokens', '300'],
        ]),
      ],
      [anthropicBucket('2026-11-02', [['claude-sonnet-4-20250514', 'output_tokens', '1250.5']])],
      [anthropicBucket('2026-11-03', [[null, null, '1000']])],
    ];
    const rows = await fetchAnthropicCosts({
      from,
      to,
      env: { ANTHROPIC_ADMIN_KEY: mock.anthropicKey, SPANLEDGER_ANTHROPIC_BASE_URL: mock.url },
    });
    expect(rows.map((r) => [r.day, r.model, r.costUsd, r.source])).toEqual([
      ['2026-11-01', 'claude-sonnet-4-20250514', 3, 'anthropic-cost-report'],
      ['2026-11-02', 'claude-sonnet-4-20250514', 12.505, 'anthropic-cost-report'],
      ['2026-11-03', undefined, 10, 'anthropic-cost-report'],
    ]);
    expect(mock.requests.map((u) => u.searchParams.get('page'))).toEqual([
      null,
      'page_1',
      'page_2',
    ]);
    const q = mock.requests[0] as URL;
    expect(q.pathname).toBe('/v1/organizations/cost_report');
    expect([...q.searchParams]).toEqual([
      ['starting_at', '2026-11-01T00:00:00.000Z'],
      ['ending_at', '2026-12-01T00:00:00.000Z'],
      ['bucket_width', '1d'],
      ['group_by[]', 'description'],
      ['limit', '31'],
    ]);
  });

  it('a refused key is one line naming the variable, never the key', async () => {
    const err = await fetchAnthropicCosts({
      from,
      to,
      env: { ANTHROPIC_ADMIN_KEY: 'sk-ant-wrong-000000', SPANLEDGER_ANTHROPIC_BASE_URL: mock.url },
    }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(BillError);
    expect((err as Error).message).toBe(
      'Anthropic cost report API refused the key in ANTHROPIC_ADMIN_KEY (HTTP 401: invalid x-api-key); it needs an admin key',
    );
  });
});
