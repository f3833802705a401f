/**
 * `spanledger price` and the command dispatch, run in-process through `run()` with real catalog
 * figures, plus one run of the built binary to prove the shipped CLI works.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './run-cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PRICES = fileURLToPath(new URL('../fixtures/cli/prices.yaml', import.meta.url));
const MALFORMED = fileURLToPath(new URL('../fixtures/cli/malformed-prices.yaml', import.meta.url));

/** Run `price ... --json` and parse the one object it prints. */
async function priceJson(...argv: string[]): Promise<Record<string, unknown>> {
  const out = await cli('price', ...argv, '--json');
  expect(out.stderr).toBe('');
  expect(out.code).toBe(0);
  // Exactly one JSON object on one line: scripts can pipe it to jq.
  expect(out.stdout.trim().split('\n')).toHaveLength(1);
  return JSON.parse(out.stdout) as Record<string, unknown>;
}

// Pinned so a future-dated catalog price cannot move the expected figures.
const AT = ['--at', '2025-06-01'];

describe('spanledger price --json', () => {
  it('prices gpt-4o: 1M input + 1M output = $12.50', async () => {
    const j = await priceJson(
      '--provider',
      'openai',
      '--model',
      'gpt-4o',
      '--input',
      '1000000',
      '--output',
      '1000000',
      ...AT,
    );
    expect(j).toMatchObject({
      status: 'priced',
      source: 'catalog',
      provider: 'openai',
      model: 'gpt-4o',
      catalog: 'genai-prices@0.1.8+errata.2',
      at: '2025-06-01T00:00:00.000Z',
      input_tokens: 1_000_000,
      output_tokens: 1_000_000,
      cache_read_tokens: 0,
    });
    expect(j.cost_usd).toBe(12.5);
    expect(j.input_usd).toBe(2.5);
    expect(j.output_usd).toBe(10);
    expect(j.cache_read_usd).toBe(0);
    expect(j.cache_write_usd).toBe(0);
    expect(j.other_usd).toBe(0);
    expect(j.cache_savings_usd).toBe(0);
    expect(j.reason).toBeUndefined();
  });

  it('prices claude-sonnet-4 with cache reads inside --input: $0.234', async () => {
    const j = await priceJson(
      '--provider',
      'anthropic',
      '--model',
      'claude-sonnet-4',
      '--input',
      '100000',
      '--cache-read',
      '80000',
      '--output',
      '10000',
      ...AT,
    );
    // 20k uncached at $3/M + 80k cache reads at $0.30/M + 10k output at $15/M.
    expect(j.cost_usd as number).toBeCloseTo(0.234, 12);
    expect(j.input_usd as number).toBeCloseTo(0.06, 12);
    expect(j.cache_read_usd as number).toBeCloseTo(0.024, 12);
    expect(j.output_usd as number).toBeCloseTo(0.15, 12);
    // Savings against paying $3/M for the 80k cached tokens.
    expect(j.cache_savings_usd as number).toBeCloseTo(0.216, 12);
    expect(j).toMatchObject({
      provider: 'anthropic',
      requested_model: 'claude-sonnet-4',
      cache_read_tokens: 80_000,
    });
    expect(String(j.model)).toMatch(/^claude-sonnet-4/);
  });

  it('echoes cache writes, 1-hour writes and reasoning', async () => {
    const j = await priceJson(
      '--provider',
      'anthropic',
      '--model',
      'claude-sonnet-4',
      '--input',
      '100000',
      '--cache-write',
      '50000',
      '--cache-write-1h',
      '10000',
      '--output',
      '10000',
      '--reasoning',
      '4000',
      ...AT,
    );
    expect(j).toMatchObject({
      cache_write_tokens: 50_000,
      cache_write_1h_tokens: 10_000,
      reasoning_tokens: 4_000,
    });
    // 40k 5-minute writes at $3.75/M + 10k 1-hour writes at $6/M.
    expect(j.cache_write_usd as number).toBeCloseTo(0.15 + 0.06, 12);
    // Reasoning is part of output, never charged on top.
    expect(j.output_usd as number).toBeCloseTo(0.15, 12);
  });

  it('reports an unknown model as unpriced with a reason, exit 0, and no cost', async () => {
    const j = await priceJson(
      '--provider',
      'openai',
      '--model',
      'gpt-nonexistent-9',
      '--input',
      '10',
      '--output',
      '5',
    );
    expect(j.status).toBe('unpriced');
    expect(j.reason).toBe('unknown_model');
    expect(j).not.toHaveProperty('cost_usd');
    expect(j).not.toHaveProperty('input_usd');
    expect(j.input_tokens).toBe(10);
  });

  it('applies the service tier multiplier', async () => {
    const j = await priceJson(
      '--model',
      'gpt-4o',
      '--input',
      '1000000',
      '--output',
      '1000000',
      '--service-tier',
      'batch',
      ...AT,
    );
    expect(j.cost_usd).toBe(6.25);
    expect(j).toMatchObject({ service_tier: 'batch', multiplier: 0.5 });
  });

  it('defaults --at to now and echoes it', async () => {
    const before = Date.now();
    const j = await priceJson('--model', 'gpt-4o', '--input', '1', '--output', '1');
    const at = Date.parse(String(j.at));
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
  });
});

describe('spanledger price --prices with --at', () => {
  const gpt4o = [
    '--provider',
    'openai',
    '--model',
    'gpt-4o',
    '--input',
    '1000000',
    '--output',
    '1000000',
    '--prices',
    PRICES,
  ];

  it('uses the catalog before a contract price takes effect and the contract from its date', async () => {
    const before = await priceJson(...gpt4o, '--at', '2025-06-30T23:59:59Z');
    expect(before).toMatchObject({ cost_usd: 12.5, source: 'catalog' });
    const from = await priceJson(...gpt4o, '--at', '2025-07-01');
    expect(from).toMatchObject({ cost_usd: 10, source: 'override', input_usd: 2, output_usd: 8 });
  });

  it('prices a custom model by its period in force, unpriced before the first', async () => {
    const acme = [
      '--provider',
      'acme',
      '--model',
      'acme-large',
      '--input',
      '1000000',
      '--output',
      '1000000',
      '--prices',
      PRICES,
    ];
    expect((await priceJson(...acme, '--at', '2025-03-01')).cost_usd).toBe(3);
    // An offset counts: 01:00+02:00 on July 1st is still June 30th in UTC.
    expect((await priceJson(...acme, '--at', '2025-07-01T01:00:00+02:00')).cost_usd).toBe(3);
    expect((await priceJson(...acme, '--at', '2025-07-02')).cost_usd).toBe(9);
    const early = await priceJson(...acme, '--at', '2024-12-31');
    expect(early).toMatchObject({ status: 'unpriced', reason: 'no_price_in_effect' });
    expect(early).not.toHaveProperty('cost_usd');
  });

  it('prices an Azure deployment name through the prices file, as the processor does', async () => {
    // The same call and file as test/integration/clients/azure-openai.test.ts, whose span
    // carries the same figure: 176 x $2 + 1024 x $1 + 300 x $8 per MTok (Azure contract).
    const azure = fileURLToPath(new URL('../fixtures/prices/azure-openai.yaml', import.meta.url));
    const args = ['--model', 'prod-gpt4o', '--input', '1200', '--cache-read', '1024'];
    const j = await priceJson(
      '--provider',
      'azure.ai.openai',
      ...args,
      '--output',
      '300',
      '--prices',
      azure,
    );
    expect(j).toMatchObject({
      status: 'priced',
      source: 'override',
      provider: 'azure',
      model: 'gpt-4o',
      matched_by: 'deployment',
    });
    expect(j.cost_usd).toBeCloseTo(0.003776, 15);
    const table = await cli('price', '--provider', 'az.ai.openai', ...args, '--output', '300');
    expect(table.stdout).toMatch(/matched\s+azure \/ \(no match\)/);
    const mapped = await cli(
      'price',
      '--provider',
      'az.ai.openai',
      ...args,
      '--output',
      '300',
      '--prices',
      azure,
    );
    expect(mapped.stdout).toMatch(/matched\s+azure \/ gpt-4o \(deployment prod-gpt4o\)/);
    // A span's provider and host, as the contrib writes them for an AzureOpenAI client.
    const fromSpan = await priceJson(
      '--provider',
      'openai',
      '--server-address',
      'myres.openai.azure.com',
      ...args,
      '--output',
      '300',
      '--prices',
      azure,
    );
    expect(fromSpan).toMatchObject({ requested_provider: 'azure.ai.openai', provider: 'azure' });
    expect(fromSpan.cost_usd).toBe(j.cost_usd);
    // Scoped to Azure: on OpenAI the name means nothing, and unknown is not $0.
    const openai = await priceJson(
      '--provider',
      'openai',
      ...args,
      '--output',
      '300',
      '--prices',
      azure,
    );
    expect(openai).toMatchObject({ status: 'unpriced', reason: 'unknown_model' });
    expect(openai).not.toHaveProperty('cost_usd');
  });

  it('fails on a malformed prices file with exit 1, naming the file, the entry and the reason', async () => {
    const out = await cli(
      'price',
      '--model',
      'acme-large',
      '--input',
      '1',
      '--output',
      '1',
      '--prices',
      MALFORMED,
    );
    expect(out.code).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain(MALFORMED);
    expect(out.stderr).toContain('models[0].prices[0].effectiveFrom');
    expect(out.stderr).toContain('not an ISO date');
  });

  it('fails on a missing prices file with exit 1 naming the path', async () => {
    const missing = `${PRICES}.does-not-exist`;
    const out = await cli(
      'price',
      '--model',
      'gpt-4o',
      '--input',
      '1',
      '--output',
      '1',
      '--prices',
      missing,
    );
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(missing);
  });
});

describe('spanledger price table', () => {
  it('prints an aligned table whose rows add up to the total', async () => {
    const out = await cli(
      'price',
      '--provider',
      'anthropic',
      '--model',
      'claude-sonnet-4',
      '--input',
      '100000',
      '--cache-read',
      '80000',
      '--output',
      '10000',
      ...AT,
    );
    expect(out.code).toBe(0);
    expect(out.stderr).toBe('');
    const line = (label: string): string =>
      out.stdout.split('\n').find((l) => l.trimStart().startsWith(label)) ?? '';
    expect(line('matched')).toMatch(/anthropic \/ claude-sonnet-4/);
    expect(line('catalog')).toContain('genai-prices@0.1.8+errata.2');
    expect(line('input (uncached)')).toMatch(/20,000\s+0\.060000$/);
    expect(line('cache read')).toMatch(/80,000\s+0\.024000$/);
    expect(line('output')).toMatch(/10,000\s+0\.150000$/);
    expect(line('total')).toMatch(/0\.234000$/);
    expect(line('cache savings')).toMatch(/0\.216000$/);
    expect(line('source')).toMatch(/catalog$/);
    expect(line('status')).toMatch(/priced$/);
    // Right-aligned USD column: every amount ends in the same column.
    const ends = ['input (uncached)', 'cache read', 'output', 'total'].map((l) => line(l).length);
    expect(new Set(ends).size).toBe(1);
  });

  it('says unpriced, never $0, for an unknown model', async () => {
    const out = await cli(
      'price',
      '--provider',
      'openai',
      '--model',
      'gpt-nonexistent-9',
      '--input',
      '10',
      '--output',
      '5',
    );
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/status\s+unpriced/);
    expect(out.stdout).toMatch(/reason\s+unknown_model/);
    expect(out.stdout).toMatch(/total\s+15\s+unpriced/);
    expect(out.stdout).not.toMatch(/0\.000000/);
  });
});

describe('spanledger price: bad arguments exit 2 with usage on stderr', () => {
  const cases: [string, string[], RegExp][] = [
    ['missing --model', ['--input', '1', '--output', '1'], /--model is required/],
    ['missing --input', ['--model', 'gpt-4o', '--output', '1'], /--input is required/],
    [
      'non-numeric count',
      ['--model', 'gpt-4o', '--input', 'lots', '--output', '1'],
      /--input must be a non-negative whole number/,
    ],
    [
      'negative count',
      ['--model', 'gpt-4o', '--input=-5', '--output', '1'],
      /--input must be a non-negative whole number/,
    ],
    [
      'fractional count',
      ['--model', 'gpt-4o', '--input', '1.5', '--output', '1'],
      /--input must be/,
    ],
    ['hex count', ['--model', 'gpt-4o', '--input', '0x10', '--output', '1'], /--input must be/],
    ['empty count', ['--model', 'gpt-4o', '--input=', '--output', '1'], /--input must be/],
    [
      'bad date',
      ['--model', 'gpt-4o', '--input', '1', '--output', '1', '--at', 'yesterday'],
      /--at must be an ISO date/,
    ],
    [
      'impossible date',
      ['--model', 'gpt-4o', '--input', '1', '--output', '1', '--at', '2025-02-30'],
      /--at must be/,
    ],
    [
      'date-time without offset',
      ['--model', 'gpt-4o', '--input', '1', '--output', '1', '--at', '2025-06-01T12:00:00'],
      /--at must be/,
    ],
    [
      'unknown flag',
      ['--model', 'gpt-4o', '--input', '1', '--output', '1', '--inptu', '3'],
      /Unknown option '--inptu'/,
    ],
    ['stray positional', ['gpt-4o', '--input', '1', '--output', '1'], /positional/i],
    [
      'cache reads above input',
      ['--model', 'gpt-4o', '--input', '10', '--cache-read', '11', '--output', '1'],
      /exceed --input/,
    ],
    [
      'cache reads plus writes above input',
      [
        '--model',
        'claude-sonnet-4',
        '--input',
        '10',
        '--cache-read',
        '6',
        '--cache-write',
        '6',
        '--output',
        '1',
      ],
      /exceed --input/,
    ],
    [
      '1h writes above writes',
      [
        '--model',
        'gpt-4o',
        '--input',
        '10',
        '--cache-write',
        '2',
        '--cache-write-1h',
        '3',
        '--output',
        '1',
      ],
      /--cache-write-1h/,
    ],
    [
      'reasoning above output',
      ['--model', 'o3', '--input', '10', '--output', '5', '--reasoning', '6'],
      /--reasoning \(6\) exceeds --output/,
    ],
  ];
  it.each(cases)('%s', async (_name, argv, message) => {
    const out = await cli('price', ...argv, '--json');
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(message);
    expect(out.stderr).toContain('Usage: spanledger price');
  });

  it('prints its help on --help, exit 0', async () => {
    const out = await cli('price', '--help');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('Usage: spanledger price');
    expect(out.stdout).toContain('--cache-write-1h');
  });
});

describe('spanledger commands', () => {
  it.each([['--help'], ['-h'], ['help']])(
    '%s lists the commands on stdout, exit 0',
    async (flag) => {
      const out = await cli(flag);
      expect(out.code).toBe(0);
      expect(out.stdout).toMatch(/Usage: spanledger <command>/);
      expect(out.stdout).toMatch(/^ {2}price /m);
      expect(out.stdout).toMatch(/^ {2}demo /m);
    },
  );

  it('help price shows the price usage', async () => {
    const out = await cli('help', 'price');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('Usage: spanledger price');
  });

  it.each([['frobnicate'], ['constructor'], ['--json']])(
    'unknown command %s: exit 2 with usage on stderr',
    async (name) => {
      const out = await cli(name);
      expect(out.code).toBe(2);
      expect(out.stdout).toBe('');
      expect(out.stderr).toContain(`unknown command '${name}'`);
      expect(out.stderr).toContain('Usage: spanledger <command>');
    },
  );

  it('no command: exit 2 with usage on stderr', async () => {
    const out = await cli();
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('Usage: spanledger <command>');
  });

  it('--version prints the package version', async () => {
    const out = await cli('--version');
    expect(out.code).toBe(0);
    expect(out.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('the built binary', () => {
  // The project's own build (`npm run build`: tsup with tsup.config.ts, shebang, ESM bundle),
  // written to a private directory laid out like the installed package (package.json beside
  // dist/): rebuilding dist/ in place would wipe files other test files are loading meanwhile.
  const PKG = join(ROOT, '.scratch', `cli-bin-${process.pid}`);
  const BIN = join(PKG, 'dist', 'cli', 'main.js');

  beforeAll(() => {
    rmSync(PKG, { recursive: true, force: true });
    mkdirSync(PKG, { recursive: true });
    copyFileSync(join(ROOT, 'package.json'), join(PKG, 'package.json'));
    execFileSync('npm', ['run', 'build', '--silent', '--', '--out-dir', join(PKG, 'dist')], {
      cwd: ROOT,
      stdio: 'pipe',
    });
  }, 180_000);

  afterAll(() => {
    rmSync(PKG, { recursive: true, force: true });
  });

  it('is an executable script with a node shebang', () => {
    expect(readFileSync(BIN, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    // Run through the shebang, as a user's shell would.
    const stdout = execFileSync(BIN, ['--version'], { cwd: ROOT, encoding: 'utf8' });
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(stdout.trim()).toBe(pkg.version);
  });

  it('prices gpt-4o from a child process', () => {
    const stdout = execFileSync(
      process.execPath,
      [
        BIN,
        'price',
        '--provider',
        'openai',
        '--model',
        'gpt-4o',
        '--input',
        '1000000',
        '--output',
        '1000000',
        '--at',
        '2025-06-01',
        '--json',
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    const j = JSON.parse(stdout) as Record<string, unknown>;
    expect(j).toMatchObject({
      status: 'priced',
      cost_usd: 12.5,
      input_usd: 2.5,
      output_usd: 10,
      catalog: 'genai-prices@0.1.8+errata.2',
    });
  });

  it('sets the exit code for bad arguments', () => {
    const child = spawnSync(process.execPath, [BIN, 'price', '--input', '1', '--output', '1'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(child.status).toBe(2);
    expect(child.stdout).toBe('');
    expect(child.stderr).toContain('--model is required');
  });
});
