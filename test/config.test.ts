import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, validateConfig } from '../src/config.js';
import { createDimensions } from '../src/dimensions.js';
import { ConfigError, createSpanLedger, PriceBook } from '../src/index.js';
import { ledgerOptionsFromEnv } from '../src/node/env.js';

const dir = mkdtempSync(join(tmpdir(), 'spanledger-config-home-'));
const SRC = join(import.meta.dirname, '..', 'src');

const FILE = `providerAliases: { my-gateway: openai }
budgets:
  - name: eu-daily
    scope: { region: eu }
    window: { calendar: day, timeZone: UTC }
    limitUsd: 5
`;

describe('the configuration file, validated once against the dimensions in force', () => {
  const path = join(dir, 'prices.yaml');
  writeFileSync(path, FILE);

  it('one file: prices for the price book, budgets scoped by an extra dimension', () => {
    const dims = createDimensions(['spanledger.region'], 'SPANLEDGER_DIMENSIONS');
    const config = loadConfigFile(path, dims);
    expect(config.prices).toEqual({ providerAliases: { 'my-gateway': 'openai' } });
    expect(config.budgets.map((b) => [b.name, b.scope])).toEqual([['eu-daily', { region: 'eu' }]]);
    // Without the dimension, the file's scope is refused, naming the file.
    expect(() => loadConfigFile(path)).toThrow(
      `spanledger: invalid prices in ${path}: budgets[0].scope.region: unknown dimension "region"`,
    );
  });

  it('through SPANLEDGER_PRICES_FILE and through createSpanLedger({ prices: path })', () => {
    const env = ledgerOptionsFromEnv({
      SPANLEDGER_DIMENSIONS: 'spanledger.region',
      SPANLEDGER_PRICES_FILE: path,
    });
    expect(env.budgets?.map((b) => b.name)).toEqual(['eu-daily']);
    expect(env.priceBook?.config).toEqual({ providerAliases: { 'my-gateway': 'openai' } });
    const ledger = createSpanLedger({
      prices: path,
      attribution: { extraDimensions: ['spanledger.region'] },
    });
    expect(ledger.budgets.map((b) => b.scope)).toEqual([{ region: 'eu' }]);
    const inCode = createSpanLedger({
      prices: validateConfigInput(),
      attribution: { extraDimensions: ['spanledger.region'] },
    });
    expect(inCode.budgets.map((b) => b.name)).toEqual(['in-code']);
  });

  it('the price book reads no files', () => {
    expect(() => new PriceBook({ prices: path as never })).toThrow(ConfigError);
    expect(() => new PriceBook({ prices: path as never })).toThrow(
      'spanledger: PriceBook reads no files',
    );
    // Budgets belong to the file, not to the price book's prices.
    expect(() => new PriceBook({ prices: { budgets: [] } as never })).toThrow(
      'spanledger: invalid prices in options.prices: (root): Unrecognized key: "budgets"',
    );
    expect(validateConfig({ budgets: [] }, 'options.prices')).toEqual({ prices: {}, budgets: [] });
  });
});

describe('one home per concern: files', () => {
  // Which layer imports which is test/layers.test.ts; here: who reads configuration files.
  const sources = (folder: string): [string, string][] =>
    readdirSync(join(SRC, folder), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => [`${folder}/${f}`, readFileSync(join(SRC, folder, f), 'utf8')]);

  it('neither pricing/ nor budgets/ reads a file (src/config.ts reads it and hands both their part)', () => {
    const readers = [...sources('pricing'), ...sources('budgets')]
      .filter(([, text]) => /readConfigFile|loadConfigFile|from 'node:fs'/.test(text))
      .map(([f]) => f);
    expect(readers).toEqual([]);
    expect(readFileSync(join(SRC, 'config.ts'), 'utf8')).toContain('readConfigFile');
  });
});

function validateConfigInput() {
  return {
    budgets: [
      {
        name: 'in-code',
        scope: { region: 'eu' },
        window: { calendar: 'day', timeZone: 'UTC' },
        limitUsd: 1,
      },
    ],
  } as const;
}
