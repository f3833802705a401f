/**
 * `spanledger prices show` and `spanledger prices check`, run in-process through `run()` with
 * real catalog figures and the contract fixture.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cli } from './run-cli.js';

const CONTRACT = fileURLToPath(new URL('../fixtures/prices/contract.yaml', import.meta.url));

async function showJson(...argv: string[]): Promise<Record<string, unknown>> {
  const out = await cli('prices', 'show', ...argv, '--json');
  expect(out.stderr).toBe('');
  expect(out.code).toBe(0);
  return JSON.parse(out.stdout);
}

function file(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'spanledger-prices-')), 'prices.yaml');
  writeFileSync(path, content);
  return path;
}

describe('spanledger prices show', () => {
  it('prints the card in force: rates per token type, tiers, cache, source', async () => {
    const card = await showJson(
      'claude-sonnet-4-5',
      '--provider',
      'anthropic',
      '--at',
      '2026-11-10',
    );
    expect(card).toMatchObject({
      status: 'priced',
      provider: 'anthropic',
      model: 'claude-sonnet-4-5',
      match: 'exact',
      source: 'catalog',
      catalog: 'genai-prices@0.1.8+errata.2',
      at: '2026-11-10T00:00:00.000Z',
      input_mtok: { base: 3, tiers: [{ start: 200000, price: 6 }] },
      cache_read_mtok: { base: 0.3, tiers: [{ start: 200000, price: 0.6 }] },
      cache_write_mtok: { base: 3.75, tiers: [{ start: 200000, price: 7.5 }] },
      cache_write_1h_mtok: { base: 6, tiers: [{ start: 200000, price: 12 }] },
      output_mtok: { base: 15, tiers: [{ start: 200000, price: 22.5 }] },
    });
    const table = await cli('prices', 'show', 'claude-sonnet-4-5', '--provider', 'anthropic');
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('anthropic / claude-sonnet-4-5 (exact)');
    expect(table.stdout).toMatch(/input {15}3; 6 above 200,000 input tokens/);
    expect(table.stdout).toMatch(/cache write 1h {6}6; 12 above 200,000 input tokens/);
  });

  it('names the erratum in force and the off-peak window only while it can apply', async () => {
    // DeepSeek before 2025-09-05 16:00 UTC: catalog prices, a 00:30-16:30 UTC standard window.
    const before = await showJson(
      'deepseek-chat',
      '--provider',
      'deepseek',
      '--at',
      '2025-03-01T18:00:00Z',
    );
    expect(before).toMatchObject({ input_mtok: 0.135, cache_read_mtok: 0.035, output_mtok: 0.55 });
    expect(before.errata).toBeUndefined();
    expect(before.time_of_day).toEqual([
      {
        start_utc: '00:30:00Z',
        end_utc: '16:30:00Z',
        prices: { input_mtok: 0.27, cache_read_mtok: 0.07, output_mtok: 1.1 },
      },
    ]);
    const table = await cli(
      'prices',
      'show',
      'deepseek-chat',
      '--provider',
      'deepseek',
      '--at',
      '2025-03-01T18:00:00Z',
    );
    expect(table.stdout).toContain(
      'time of day         00:30–16:30 UTC: input 0.27, cache_read 0.07, output 1.1 (not in force at the time asked)',
    );
    // After it: the erratum's all-day prices, no window.
    const after = await showJson(
      'deepseek-chat',
      '--provider',
      'deepseek',
      '--at',
      '2025-09-10T20:00:00Z',
    );
    expect(after).toMatchObject({
      input_mtok: 0.56,
      cache_read_mtok: 0.07,
      output_mtok: 1.68,
      errata: ['deepseek-2025-09-05'],
      catalog: expect.stringMatching(/\+errata\.\d+$/),
    });
    expect(after.time_of_day).toBeUndefined();
    const titan = await showJson('amazon.titan-embed-text-v2:0', '--provider', 'aws.bedrock');
    expect(titan).toMatchObject({ input_mtok: 0.02, errata: ['aws-titan-embed-text-v2'] });
  });

  it('says when the id matched only approximately', async () => {
    const card = await showJson('deepseek-chatt', '--provider', 'deepseek');
    expect(card).toMatchObject({
      requested_model: 'deepseek-chatt',
      model: 'deepseek-chat',
      match: 'approximate',
    });
  });

  it('applies a prices file: contract periods, discounts, deployments', async () => {
    const before = await showJson(
      'gpt-4o',
      '--provider',
      'openai',
      '--prices',
      CONTRACT,
      '--at',
      '2026-11-14',
    );
    expect(before).toMatchObject({ source: 'catalog', input_mtok: 2.5, output_mtok: 10 });
    const after = await showJson(
      'gpt-4o',
      '--provider',
      'openai',
      '--prices',
      CONTRACT,
      '--at',
      '2026-11-15',
    );
    expect(after).toMatchObject({
      source: 'override',
      input_mtok: 2,
      output_mtok: 8,
      cache_read_mtok: 1,
      price_changes: ['2026-11-15T00:00:00.000Z'],
    });
    expect(after.catalog).toBeUndefined();
    const discounted = await showJson(
      'claude-haiku-4-5',
      '--provider',
      'anthropic',
      '--prices',
      CONTRACT,
      '--at',
      '2026-11-20',
    );
    expect(discounted).toMatchObject({ source: 'override', multiplier: 0.8, input_mtok: 1 });
    const deployment = await showJson(
      'prod-gpt4o',
      '--provider',
      'azure.ai.openai',
      '--prices',
      CONTRACT,
    );
    expect(deployment).toMatchObject({
      provider: 'azure',
      model: 'gpt-4o',
      matched_by: 'deployment',
    });
  });

  it('an unknown model has no card, never a zero price', async () => {
    const card = await showJson('no-such-model-anywhere', '--provider', 'openai');
    expect(card).toMatchObject({ status: 'unpriced', reason: 'unknown_model' });
    expect(card.input_mtok).toBeUndefined();
    const table = await cli('prices', 'show', 'no-such-model-anywhere', '--provider', 'openai');
    expect(table.stdout).toContain('never as $0');
  });

  it('rejects bad command lines with exit 2', async () => {
    expect((await cli('prices', 'show')).code).toBe(2);
    expect((await cli('prices', 'show', 'a', 'b')).code).toBe(2);
    expect((await cli('prices', 'show', 'gpt-4o', '--at', '2025-02-30')).stderr).toContain(
      '--at must be an ISO date',
    );
    expect((await cli('prices', 'list')).stderr).toContain("unknown subcommand 'list'");
    expect((await cli('prices')).code).toBe(2);
    const help = await cli('prices', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('spanledger prices check FILE');
  });
});

describe('spanledger prices check', () => {
  it('prints what each entry resolves to and exits 0 for a good file', async () => {
    const out = await cli('prices', 'check', CONTRACT, '--at', '2026-11-20', '--json');
    expect(out.code).toBe(0);
    const report = JSON.parse(out.stdout);
    expect(report.valid).toBe(true);
    const entries = Object.fromEntries(
      report.entries.map((e: { entry: string; resolves: string }) => [e.entry, e.resolves]),
    );
    expect(entries['models[0] openai/gpt-4o']).toBe(
      'openai/gpt-4o (override, exact): input 2, output 8 per MTok; periods: from 2026-11-15',
    );
    expect(entries['deployments[2] /^team-.*-mini$/']).toBe(
      'openai/gpt-4o-mini (catalog, exact): input 0.15, output 0.6 per MTok',
    );
    expect(entries['providerAliases.my-gateway']).toBe('provider openai');
    expect(entries['discounts[0]']).toBe(
      'x0.8 on provider anthropic, model * from 2026-11-01T00:00:00.000Z until 2026-12-01T00:00:00.000Z',
    );
  });

  it('exits 1 naming entries that resolve to no price', async () => {
    const path = file(
      'deployments:\n  - name: x\n    priceAs: { model: no-such-model-zz }\nrouting:\n  models:\n    gpt-4o: [gpt-4o-mini]\n',
    );
    const out = await cli('prices', 'check', path);
    expect(out.code).toBe(1);
    expect(out.stdout).toContain('1 entry resolves to no exact price');
    expect(out.stdout).toMatch(/! deployments\[0\] x +no price \(unknown_model\)/);
    expect(out.stdout).toMatch(
      / {3}routing\.models\.gpt-4o\[0\] gpt-4o-mini +openai\/gpt-4o-mini \(catalog, exact\)/,
    );
  });

  it('an invalid file fails with the one-line configuration error, exit 1', async () => {
    const out = await cli('prices', 'check', file('routing:\n  model: {}\n'));
    expect(out.code).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(
      /^spanledger: invalid prices in .*prices\.yaml: routing: Unrecognized key: "model"; routing: give models or useCases \(or both\)\n$/,
    );
    const typo = await cli(
      'prices',
      'check',
      file('routing:\n  models:\n    gpt-4o: [gpt-4o-minni]\n'),
    );
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('routing.models.gpt-4o[0]: "gpt-4o-minni"');
  });
});

describe('spanledger price says when a match is approximate', () => {
  it('in the table and in --json', async () => {
    const argv = [
      'price',
      '--provider',
      'deepseek',
      '--model',
      'deepseek-chatt',
      '--input',
      '1000',
      '--output',
      '10',
    ];
    const table = await cli(...argv);
    expect(table.stdout).toMatch(/matched\s+deepseek \/ deepseek-chat \(approximate match\)/);
    const json = JSON.parse((await cli(...argv, '--json')).stdout);
    expect(json).toMatchObject({ model: 'deepseek-chat', match: 'approximate' });
    const exact = JSON.parse(
      (
        await cli(
          'price',
          '--provider',
          'openai',
          '--model',
          'gpt-4o',
          '--input',
          '1',
          '--output',
          '1',
          '--json',
        )
      ).stdout,
    );
    expect(exact.match).toBe('exact');
  });
});
