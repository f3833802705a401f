/**
 * OpenAI Costs API as billed rows: line items split into model and token kind, a downloaded
 * file of concatenated pages, and the API fetched from a mock speaking its documented format
 * over three pages, with a refused key.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BillError } from '../../../src/finance/billing/common.js';
import {
  fetchOpenAICosts,
  openAICostRows,
  parseOpenAILineItem,
  readOpenAICostsFile,
} from '../../../src/finance/billing/openai.js';
import { type MockBilling, openaiBucket, startMockBilling } from '../../support/mock-billing.js';

const FIXTURE = 'test/fixtures/finance/openai-costs.json';

describe('parseOpenAILineItem', () => {
  it.each([
    ['gpt-4o-2024-08-06, input', 'gpt-4o-2024-08-06', 'input', undefined],
    ['gpt-4o-mini-2024-07-18, cached input', 'gpt-4o-mini-2024-07-18', 'cached input', undefined],
    [
      'priority | gpt-5-2025-08-07, output, long context',
      'gpt-5-2025-08-07',
      'output, long context',
      'priority',
    ],
    ['gpt-audio-mini-2025-12-15 audio, input', 'gpt-audio-mini-2025-12-15', 'input', undefined],
    ['ft:gpt-4o-2024-08-06:acme::abc, input', 'ft:gpt-4o-2024-08-06:acme::abc', 'input', undefined],
    ['whisper-1, audio', 'whisper-1', 'audio', undefined],
    ['web search tool calls', undefined, undefined, undefined],
    ['Vector storage', undefined, undefined, undefined],
  ])('%s', (item, model, kind, tier) => {
    expect(parseOpenAILineItem(item)).toEqual({ model, kind, tier });
  });

  it('a null line item (no group_by) names no model', () => {
    expect(parseOpenAILineItem(null).model).toBeUndefined();
  });
});

describe('a downloaded Costs API file', () => {
  it('reads pages written one after another, one row per result, by UTC day', () => {
    expect(readOpenAICostsFile(FIXTURE)).toEqual([
      {
        day: '2026-11-01',
        provider: 'openai',
        model: 'gpt-4o-2024-08-06',
        costUsd: 1.25,
        source: FIXTURE,
      },
      {
        day: '2026-11-01',
        provider: 'openai',
        model: 'gpt-4o-2024-08-06',
        costUsd: 2.5,
        source: FIXTURE,
      },
      { day: '2026-11-01', provider: 'openai', model: undefined, costUsd: 0.3, source: FIXTURE },
      {
        day: '2026-11-02',
        provider: 'openai',
        model: 'gpt-4o-mini-2024-07-18',
        costUsd: 0.0125,
        source: FIXTURE,
      },
      {
        day: '2026-11-02',
        provider: 'openai',
        model: 'gpt-5-2025-08-07',
        costUsd: 4,
        source: FIXTURE,
      },
    ]);
  });

  it('reads a JSON array of pages the same', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanledger-openai-'));
    const path = join(dir, 'costs.json');
    writeFileSync(
      path,
      JSON.stringify([
        { object: 'page', data: [openaiBucket('2026-11-03', [['gpt-4o, input', '0.125']])] },
        { object: 'page', data: [openaiBucket('2026-11-04', [['gpt-4o, output', 2]])] },
      ]),
    );
    expect(readOpenAICostsFile(path).map((r) => [r.day, r.model, r.costUsd])).toEqual([
      ['2026-11-03', 'gpt-4o', 0.125],
      ['2026-11-04', 'gpt-4o', 2],
    ]);
  });

  it('refuses another currency in one line', () => {
    const page = { object: 'page', data: [openaiBucket('2026-11-03', [['gpt-4o, input', 1]])] };
    (
      (page.data[0] as { results: { amount: { currency: string } }[] }).results[0] as {
        amount: { currency: string };
      }
    ).amount.currency = 'eur';
    expect(() => openAICostRows([page], 'x.json')).toThrow(
      /^x\.json: page 1, bucket 1, result 1: currency "eur" is not USD/,
    );
  });

  it('names a file that is not JSON pages', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanledger-openai-'));
    const path = join(dir, 'bad.json');
    writeFileSync(path, '{"object":"page","data":[]} trailing');
    expect(() => readOpenAICostsFile(path)).toThrow(BillError);
    expect(() => readOpenAICostsFile(path)).toThrow(/expected a JSON object or array at offset 28/);
  });
});

describe('the Costs API, fetched', () => {
  let mock: MockBilling;
  beforeAll(async () => {
    mock = await startMockBilling();
  });
  afterAll(async () => {
    await mock.close();
  });

  const from = new Date('2026-11-01T00:00:00Z');
  const to = new Date('2026-11-04T00:00:00Z');

  it('follows next_page over three pages with the documented query', async () => {
    mock.requests.length = 0;
    mock.openaiPages = [
      [openaiBucket('2026-11-01', [['gpt-4o-2024-08-06, input', 1.5]])],
      [openaiBucket('2026-11-02', [['gpt-4o-2024-08-06, output', 3.25]])],
      [
        openaiBucket('2026-11-03', [
          ['o3-2025-04-16, output', 7],
          ['web search tool calls', 0.5],
        ]),
      ],
    ];
    const rows = await fetchOpenAICosts({
      from,
      to,
      env: { OPENAI_ADMIN_KEY: mock.openaiKey, SPANLEDGER_OPENAI_BASE_URL: mock.openaiURL },
    });
    expect(rows.map((r) => [r.day, r.model, r.costUsd, r.source])).toEqual([
      ['2026-11-01', 'gpt-4o-2024-08-06', 1.5, 'openai-costs-api'],
      ['2026-11-02', 'gpt-4o-2024-08-06', 3.25, 'openai-costs-api'],
      ['2026-11-03', 'o3-2025-04-16', 7, 'openai-costs-api'],
      ['2026-11-03', undefined, 0.5, 'openai-costs-api'],
    ]);
    expect(mock.requests.map((u) => u.searchParams.get('page'))).toEqual([
      null,
      'page_1',
      'page_2',
    ]);
    const q = mock.requests[0] as URL;
    expect(q.pathname).toBe('/v1/organization/costs');
    expect(Object.fromEntries(q.searchParams)).toEqual({
      start_time: String(Date.parse('2026-11-01T00:00:00Z') / 1000),
      end_time: String(Date.parse('2026-11-04T00:00:00Z') / 1000),
      bucket_width: '1d',
      group_by: 'line_item',
      limit: '3',
    });
  });

  it('a refused key is one line naming the variable, never the key', async () => {
    const err = await fetchOpenAICosts({
      from,
      to,
      env: {
        OPENAI_ADMIN_KEY: 'sk-wrong-key-000000000000',
        SPANLEDGER_OPENAI_BASE_URL: mock.openaiURL,
      },
    }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(BillError);
    expect((err as Error).message).toMatch(
      /^OpenAI Costs API refused the key in OPENAI_ADMIN_KEY \(HTTP 401: Incorrect API key provided: .*\); it needs an admin key$/,
    );
    expect((err as Error).message).not.toContain('sk-wrong-key-000000000000');
    expect((err as Error).message).not.toContain('\n');
  });

  it('a missing key says which variable', async () => {
    await expect(fetchOpenAICosts({ from, to, env: {} })).rejects.toThrow(
      'OPENAI_ADMIN_KEY is not set: the admin key the cost API needs',
    );
  });
});
