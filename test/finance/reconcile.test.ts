/**
 * The join of estimates and bills: a planted drift (one model billed 12 % above its estimate
 * on one day) found with exact figures, billed spend no telemetry saw, estimated spend with no
 * bill, the threshold and its floor, and the model-matching rule (never merging two snapshots).
 */
import { describe, expect, it } from 'vitest';
import type { BilledRow, EstimateRow } from '../../src/finance/model.js';
import { isDrift, matchModel, reconcile, stripSnapshot } from '../../src/finance/reconcile.js';

const est = (
  day: string,
  provider: string,
  model: string | undefined,
  costUsd: number,
): EstimateRow => ({
  day,
  labels: { provider, model },
  costUsd,
});
const bill = (
  day: string,
  provider: string,
  model: string | undefined,
  costUsd: number,
): BilledRow => ({
  day,
  provider,
  model,
  costUsd,
  source: 'test',
});

const BASE = {
  from: '2026-11-01',
  to: '2026-11-04',
  thresholdPct: 5,
  minUsd: 1,
};

describe('reconcile', () => {
  const report = reconcile({
    ...BASE,
    billedProviders: ['openai', 'anthropic'],
    estimates: [
      est('2026-11-01', 'openai', 'gpt-4o', 40),
      est('2026-11-02', 'openai', 'gpt-4o', 50),
      est('2026-11-02', 'openai', 'gpt-4o-mini', 2.5),
      est('2026-11-01', 'anthropic', 'claude-sonnet-4-20250514', 10),
      est('2026-11-01', 'aws.bedrock', 'anthropic.claude-3-5-sonnet-20240620-v1:0', 3.25),
      est('2026-11-05', 'openai', 'gpt-4o', 99),
    ],
    billed: [
      bill('2026-11-01', 'openai', 'gpt-4o-2024-08-06', 15),
      bill('2026-11-01', 'openai', 'gpt-4o-2024-08-06', 25.5),
      // The planted drift: 12 % above the estimate of 50.
      bill('2026-11-02', 'openai', 'gpt-4o-2024-08-06', 56),
      // Billed, never seen by the telemetry.
      bill('2026-11-03', 'openai', 'o3-2025-04-16', 7.25),
      bill('2026-11-03', 'openai', undefined, 0.3),
      bill('2026-11-01', 'anthropic', 'claude-sonnet-4-20250514', 10.2),
      bill('2026-10-31', 'openai', 'gpt-4o-2024-08-06', 1.5),
    ],
  });

  it('one row per day, provider and model, with exact figures', () => {
    expect(report.rows).toEqual([
      {
        day: '2026-11-01',
        provider: 'anthropic',
        model: 'claude-sonnet-4-20250514',
        estimateUsd: 10,
        billedUsd: 10.2,
        diffUsd: 10.2 - 10,
        pct: ((10.2 - 10) / 10) * 100,
        status: 'matched',
        billedAs: [],
        drift: false,
      },
      {
        day: '2026-11-01',
        provider: 'openai',
        model: 'gpt-4o',
        estimateUsd: 40,
        billedUsd: 40.5,
        diffUsd: 0.5,
        pct: 1.25,
        status: 'matched',
        billedAs: ['gpt-4o-2024-08-06'],
        drift: false,
      },
      {
        day: '2026-11-02',
        provider: 'openai',
        model: 'gpt-4o',
        estimateUsd: 50,
        billedUsd: 56,
        diffUsd: 6,
        pct: 12,
        status: 'matched',
        billedAs: ['gpt-4o-2024-08-06'],
        drift: true,
      },
      {
        day: '2026-11-02',
        provider: 'openai',
        model: 'gpt-4o-mini',
        estimateUsd: 2.5,
        billedUsd: 0,
        diffUsd: -2.5,
        pct: -100,
        status: 'unbilled',
        billedAs: [],
        drift: true,
      },
      {
        day: '2026-11-03',
        provider: 'openai',
        model: null,
        estimateUsd: 0,
        billedUsd: 0.3,
        diffUsd: 0.3,
        pct: null,
        status: 'unobserved',
        billedAs: [],
        drift: false,
      },
      {
        day: '2026-11-03',
        provider: 'openai',
        model: 'o3-2025-04-16',
        estimateUsd: 0,
        billedUsd: 7.25,
        diffUsd: 7.25,
        pct: null,
        status: 'unobserved',
        billedAs: [],
        drift: true,
      },
    ]);
    expect(report.drift).toBe(true);
  });

  it('totals per provider with a bill; estimates of other providers apart', () => {
    expect(report.totals).toEqual([
      {
        provider: 'anthropic',
        estimateUsd: 10,
        billedUsd: 10.2,
        diffUsd: 10.2 - 10,
        pct: ((10.2 - 10) / 10) * 100,
      },
      {
        provider: 'openai',
        estimateUsd: 92.5,
        billedUsd: 40.5 + 56 + 0.3 + 7.25,
        diffUsd: 40.5 + 56 + 0.3 + 7.25 - 92.5,
        pct: ((40.5 + 56 + 0.3 + 7.25 - 92.5) / 92.5) * 100,
      },
    ]);
    expect(report.unreconciled).toEqual([{ provider: 'aws.bedrock', estimateUsd: 3.25 }]);
    expect(report.outsideRange).toEqual({ rows: 1, costUsd: 1.5 });
    expect(report.matches).toEqual([
      { provider: 'openai', billed: 'gpt-4o-2024-08-06', model: 'gpt-4o', rule: 'snapshot' },
    ]);
  });

  it('never merges two snapshots: a dated estimate matches only itself', () => {
    const r = reconcile({
      ...BASE,
      billedProviders: ['openai'],
      estimates: [est('2026-11-01', 'openai', 'gpt-4o-2024-05-13', 10)],
      billed: [bill('2026-11-01', 'openai', 'gpt-4o-2024-08-06', 10)],
    });
    expect(r.rows.map((x) => [x.model, x.status, x.estimateUsd, x.billedUsd])).toEqual([
      ['gpt-4o-2024-05-13', 'unbilled', 10, 0],
      ['gpt-4o-2024-08-06', 'unobserved', 0, 10],
    ]);
  });

  it('an alias maps a billed id the other rules cannot', () => {
    const r = reconcile({
      ...BASE,
      billedProviders: ['aws.bedrock'],
      aliases: new Map([['Claude3.5Sonnet', 'anthropic.claude-3-5-sonnet-20240620-v1:0']]),
      estimates: [
        est('2026-11-01', 'aws.bedrock', 'anthropic.claude-3-5-sonnet-20240620-v1:0', 2.25),
      ],
      billed: [bill('2026-11-01', 'aws.bedrock', 'Claude3.5Sonnet', 2.25)],
    });
    expect(r.rows.map((x) => [x.model, x.status, x.diffUsd, x.billedAs])).toEqual([
      ['anthropic.claude-3-5-sonnet-20240620-v1:0', 'matched', 0, ['Claude3.5Sonnet']],
    ]);
    expect(r.matches[0]?.rule).toBe('alias');
    expect(r.drift).toBe(false);
  });
});

describe('matchModel', () => {
  const seen = new Set(['gpt-4o', 'gpt-4o-2024-05-13', 'claude-sonnet-4', 'o3']);
  it.each([
    ['gpt-4o', 'gpt-4o', 'exact'],
    ['gpt-4o-2024-05-13', 'gpt-4o-2024-05-13', 'exact'],
    ['gpt-4o-2024-08-06', 'gpt-4o', 'snapshot'],
    ['claude-sonnet-4-20250514', 'claude-sonnet-4', 'snapshot'],
    ['o3-2025-04-16', 'o3', 'snapshot'],
  ])('%s -> %s (%s)', (billed, model, rule) => {
    expect(matchModel(billed, seen)).toEqual({ model, rule });
  });

  it('an id of another model family stays unmatched', () => {
    expect(matchModel('gpt-4o-mini-2024-07-18', seen)).toBeUndefined();
    expect(matchModel('gpt-4.1-2025-04-14', seen)).toBeUndefined();
  });

  it('strips date and version suffixes only', () => {
    expect(stripSnapshot('anthropic.claude-3-5-sonnet-20240620-v1:0')).toBe(
      'anthropic.claude-3-5-sonnet',
    );
    expect(stripSnapshot('claude-3-5-sonnet@20240620')).toBe('claude-3-5-sonnet');
    expect(stripSnapshot('gpt-4o-mini')).toBe('gpt-4o-mini');
    expect(stripSnapshot('claude-3-7-sonnet-latest')).toBe('claude-3-7-sonnet-latest');
  });
});

describe('isDrift', () => {
  it('needs both the percentage and the floor', () => {
    expect(isDrift(100, 5, 5, 1)).toBe(false); // 5 % is not above 5 %
    expect(isDrift(100, 5.01, 5, 1)).toBe(true);
    expect(isDrift(10, 0.9, 5, 1)).toBe(false); // 9 % but under $1
    expect(isDrift(0, 0.99, 5, 1)).toBe(false); // billed with no estimate, under the floor
    expect(isDrift(0, 1, 5, 1)).toBe(true);
    expect(isDrift(100, -6, 5, 1)).toBe(true); // billed below the estimate counts too
  });
});
