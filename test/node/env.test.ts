import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/index.js';
import { ledgerOptionsFromEnv } from '../../src/node/env.js';
import { instrumentationsFromEnv } from '../../src/node/start.js';

const contract = join(import.meta.dirname, '..', 'fixtures', 'prices', 'contract.yaml');

describe('SPANLEDGER_* variables', () => {
  it('unset or blank variables give the defaults', () => {
    expect(ledgerOptionsFromEnv({})).toEqual({});
    expect(
      ledgerOptionsFromEnv({ SPANLEDGER_PRICES_FILE: '  ', SPANLEDGER_DIMENSIONS: '' }),
    ).toEqual({});
  });

  it('reads attribution settings', () => {
    const options = ledgerOptionsFromEnv({
      SPANLEDGER_DIMENSIONS: 'spanledger.region, spanledger.product',
      SPANLEDGER_TRUST_BAGGAGE: 'spanledger.tenant,spanledger.region',
      SPANLEDGER_MAX_VALUES_PER_DIMENSION: '250',
      SPANLEDGER_SEMCONV_COST_ATTRIBUTES: 'false',
    });
    expect(options.attribution).toEqual({
      extraDimensions: ['spanledger.region', 'spanledger.product'],
      trustBaggage: ['spanledger.tenant', 'spanledger.region'],
      maxValuesPerDimension: 250,
    });
    expect(options.semconvCostAttributes).toBe(false);
    expect(ledgerOptionsFromEnv({ SPANLEDGER_TRUST_BAGGAGE: 'FALSE' }).attribution).toEqual({
      trustBaggage: false,
    });
  });

  it('loads the prices file and its budgets section', () => {
    const options = ledgerOptionsFromEnv({
      SPANLEDGER_PRICES_FILE: contract,
      SPANLEDGER_BUDGETS_FILE: contract,
    });
    expect(options.priceBook?.config.models?.length).toBe(3);
    expect(options.budgets).toEqual([]);
  });

  it.each([
    [{ SPANLEDGER_DIMENSIONS: 'spanledger.region,bad key' }, /SPANLEDGER_DIMENSIONS: "bad key"/],
    [{ SPANLEDGER_SEMCONV_COST_ATTRIBUTES: 'off' }, /expected true or false/],
    [{ SPANLEDGER_REDIS_URL: 'localhost:6379' }, /SPANLEDGER_REDIS_URL: expected a redis:\/\//],
    [
      { SPANLEDGER_BUDGETS_FILE: '/nope.yaml' },
      /^spanledger: SPANLEDGER_BUDGETS_FILE: cannot read/,
    ],
    [{ SPANLEDGER_MAX_VALUES_PER_DIMENSION: '1.5' }, /expected a positive integer/],
  ])('rejects %o', (env, message) => {
    expect(() => ledgerOptionsFromEnv(env)).toThrow(ConfigError);
    expect(() => ledgerOptionsFromEnv(env)).toThrow(message);
  });

  it('SPANLEDGER_INSTRUMENTATIONS selects instrumentations by name', () => {
    const names = (env: Record<string, string>) =>
      instrumentationsFromEnv(env).map((i) => {
        i.disable(); // constructed instrumentations patch at once: undo it in this worker
        return i.instrumentationName;
      });
    expect(names({})).toEqual([
      '@opentelemetry/instrumentation-openai',
      'spanledger-instrumentation-openai',
      '@opentelemetry/instrumentation-http',
      '@opentelemetry/instrumentation-undici',
    ]);
    expect(names({ SPANLEDGER_INSTRUMENTATIONS: 'none' })).toEqual([]);
    expect(names({ SPANLEDGER_INSTRUMENTATIONS: 'HTTP' })).toEqual([
      '@opentelemetry/instrumentation-http',
    ]);
  });
});
