/**
 * A FOCUS export (AWS Data Exports "FOCUS 1.2 with AWS columns" shape) as billed rows: Bedrock
 * usage summed per UTC day and model, other AI services and non-usage charges summed apart,
 * everything else ignored; other currencies and monthly rows refused in one line.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  focusMeterModel,
  focusProvider,
  readFocusCsv,
} from '../../../src/finance/billing/focus.js';

const FIXTURE = 'test/fixtures/finance/focus-aws.csv';
const HEADER =
  'BilledCost,BillingCurrency,ChargeCategory,ChargePeriodStart,ChargePeriodEnd,ProviderName,ServiceCategory,ServiceName,SkuMeter';

function csv(...lines: string[]): string {
  const path = join(mkdtempSync(join(tmpdir(), 'spanledger-focus-')), 'export.csv');
  writeFileSync(path, `${[HEADER, ...lines].join('\n')}\n`);
  return path;
}

describe('readFocusCsv', () => {
  it('sums Bedrock usage per day and model; other AI rows and credits apart', async () => {
    const bill = await readFocusCsv(FIXTURE);
    expect(bill.rows).toEqual([
      {
        day: '2026-11-01',
        provider: 'aws.bedrock',
        model: 'Claude3.5Sonnet',
        costUsd: 2.25,
        source: FIXTURE,
      },
      {
        day: '2026-11-02',
        provider: 'aws.bedrock',
        model: 'Claude3.5Sonnet',
        costUsd: 0.125,
        source: FIXTURE,
      },
    ]);
    expect(bill.providers).toEqual(['aws.bedrock']);
    expect(bill.otherAi).toEqual({ rows: 1, costUsd: 10 });
    expect(bill.notUsage).toEqual({ rows: 1, costUsd: -0.5 });
  });

  it('takes the model from the column given', async () => {
    const bill = await readFocusCsv(FIXTURE, { modelColumn: 'ChargeDescription' });
    expect(bill.rows.map((r) => r.model)).toEqual([
      'Claude 3.5 Sonnet, input tokens',
      'Claude 3.5 Sonnet, output tokens',
      'Claude 3.5 Sonnet, cache reads',
    ]);
  });

  it('refuses a currency other than USD, naming the line', async () => {
    const path = csv(
      '1.5,EUR,Usage,2026-11-01T00:00:00Z,2026-11-02T00:00:00Z,Microsoft,AI and Machine Learning,Azure OpenAI,gpt-4o-0806-Inp-glbl',
    );
    await expect(readFocusCsv(path)).rejects.toThrow(
      `${path}:2: BillingCurrency: currency "EUR" is not USD; reconcile compares USD amounts only`,
    );
  });

  it('refuses monthly rows (a day cannot be told)', async () => {
    const path = csv(
      '1.5,USD,Usage,2026-11-01 00:00:00,2026-12-01 00:00:00,AWS,AI and Machine Learning,Amazon Bedrock,USE1-Nova-Lite-input-tokens',
    );
    await expect(readFocusCsv(path)).rejects.toThrow(
      /:2: a charge period longer than a day .*daily or hourly granularity$/,
    );
  });

  it('refuses a file that is not a FOCUS export', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'spanledger-focus-')), 'other.csv');
    writeFileSync(path, 'a,b\n1,2\n');
    await expect(readFocusCsv(path)).rejects.toThrow(
      `${path}: not a FOCUS export: no column ChargePeriodStart, BilledCost, BillingCurrency, ServiceName`,
    );
  });

  it('maps Azure OpenAI rows and covers the Azure provider', async () => {
    const path = csv(
      '0.25,USD,Usage,2026-11-01T00:00:00Z,2026-11-02T00:00:00Z,Microsoft,AI and Machine Learning,Azure OpenAI,gpt-4o-0806-Inp-glbl',
      '0.5,USD,Usage,2026-11-01T05:00:00Z,2026-11-01T06:00:00Z,Microsoft,AI and Machine Learning,Azure OpenAI,gpt-4o-0806-Inp-glbl',
    );
    const bill = await readFocusCsv(path);
    expect(bill.providers).toEqual(['azure.ai.openai']);
    expect(bill.rows).toEqual([
      {
        day: '2026-11-01',
        provider: 'azure.ai.openai',
        model: 'gpt-4o-0806-Inp-glbl',
        costUsd: 0.75,
        source: path,
      },
    ]);
  });
});

describe('FOCUS row helpers', () => {
  it.each([
    ['USE1-Claude3.5Sonnet-input-tokens', 'Claude3.5Sonnet'],
    ['EUC1-Nova-Lite-output-tokens', 'Nova-Lite'],
    ['USW2-Claude4Sonnet-cache-write-input-token-count', 'Claude4Sonnet'],
    ['USE1-MP:USE1_InputTokenCount-Units', 'USE1_InputTokenCount-Units'],
    ['gpt-4o-0806-Inp-glbl', 'gpt-4o-0806-Inp-glbl'],
    ['', undefined],
  ])('meter %s names %s', (meter, model) => {
    expect(focusMeterModel(meter)).toBe(model);
  });

  it('providers', () => {
    expect(focusProvider({ ServiceName: 'Amazon Bedrock' })).toBe('aws.bedrock');
    expect(focusProvider({ ServiceName: 'Claude 3.5 Sonnet (Amazon Bedrock Edition)' })).toBe(
      'aws.bedrock',
    );
    expect(focusProvider({ ServiceName: 'Azure OpenAI' })).toBe('azure.ai.openai');
    expect(focusProvider({ ServiceName: 'Amazon SageMaker' })).toBeUndefined();
  });
});
