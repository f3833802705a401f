import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
    [
      { SPANLEDGER_DIMENSIONS: 'spanledger.region,bad key' },
      /SPANLEDGER_DIMENSIONS: "bad key" cannot be a dimension: not an attribute key/,
    ],
    [{ SPANLEDGER_SEMCONV_COST_ATTRIBUTES: 'off' }, /expected true or false/],
    [{ SPANLEDGER_REDIS_URL: 'localhost:6379' }, /SPANLEDGER_REDIS_URL: expected a redis:\/\//],
    [
      { SPANLEDGER_REDIS_URL: 'redis://10.0.0.1:6379,redis://10.0.0.2:6379' },
      /^spanledger: SPANLEDGER_REDIS_URL: 2 URLs given; several are the seed nodes of a Redis Cluster: set SPANLEDGER_REDIS_CLUSTER=true$/,
    ],
    [
      {
        SPANLEDGER_REDIS_URL: 'redis://10.0.0.1:6379,10.0.0.2:6379',
        SPANLEDGER_REDIS_CLUSTER: 'true',
      },
      /SPANLEDGER_REDIS_URL: expected a redis:\/\/ or rediss:\/\/ URL, got "10.0.0.2:6379"/,
    ],
    [
      {
        SPANLEDGER_REDIS_URL: 'redis://:a@10.0.0.1:6379,redis://:b@10.0.0.2:6379',
        SPANLEDGER_REDIS_CLUSTER: 'true',
      },
      /^spanledger: SPANLEDGER_REDIS_URL: every root node must have the same scheme and credentials/,
    ],
    [
      { SPANLEDGER_REDIS_URL: 'redis://10.0.0.1:6379/2', SPANLEDGER_REDIS_CLUSTER: 'true' },
      /SPANLEDGER_REDIS_URL: a Redis Cluster has database 0 only/,
    ],
    [
      { SPANLEDGER_REDIS_CLUSTER: 'true' },
      /SPANLEDGER_REDIS_CLUSTER=true needs SPANLEDGER_REDIS_URL/,
    ],
    [
      { SPANLEDGER_REDIS_URL: 'redis://10.0.0.1:6379', SPANLEDGER_REDIS_CLUSTER: 'yes' },
      /SPANLEDGER_REDIS_CLUSTER="yes": expected true or false/,
    ],
    [
      { SPANLEDGER_BUDGETS_FILE: '/nope.yaml' },
      /^spanledger: SPANLEDGER_BUDGETS_FILE: cannot read/,
    ],
    [{ SPANLEDGER_MAX_VALUES_PER_DIMENSION: '1.5' }, /expected a positive integer/],
    [
      { SPANLEDGER_REDIS_URL: 'redis://127.0.0.1:1', SPANLEDGER_REDIS_TIMEOUT_MS: '0' },
      /SPANLEDGER_REDIS_TIMEOUT_MS.*expected a positive integer/,
    ],
    [
      { SPANLEDGER_PRICES_FILE: tmpdir() },
      /^spanledger: SPANLEDGER_PRICES_FILE: cannot read .*: not a regular file \(a directory\); give the path of a YAML or JSON file$/,
    ],
    [
      { SPANLEDGER_TRUST_BAGGAGE: 'ture' },
      /^spanledger: SPANLEDGER_TRUST_BAGGAGE: "ture" is not a dimension key \(expected true, false or dimension keys: spanledger.team, spanledger.cost_center, spanledger.tenant, spanledger.use_case\)$/,
    ],
    [{ SPANLEDGER_TRUST_BAGGAGE: 'maybe' }, /SPANLEDGER_TRUST_BAGGAGE: "maybe" is not a dimension/],
    [
      { SPANLEDGER_TRUST_BAGGAGE: 'spanledger.tenant,spanledger.cost.usd' },
      /SPANLEDGER_TRUST_BAGGAGE: "spanledger.cost.usd" is not a dimension key/,
    ],
    [
      { SPANLEDGER_TRUST_BAGGAGE: 'spanledger.region' },
      /SPANLEDGER_TRUST_BAGGAGE: "spanledger.region" is not a dimension key/,
    ],
  ])('rejects %o', (env, message) => {
    expect(() => ledgerOptionsFromEnv(env)).toThrow(ConfigError);
    expect(() => ledgerOptionsFromEnv(env)).toThrow(message);
  });

  it('SPANLEDGER_STRICT_MODELS leaves approximately matched model ids unpriced', () => {
    expect(ledgerOptionsFromEnv({ SPANLEDGER_STRICT_MODELS: 'true' })).toEqual({
      strictModels: true,
    });
    expect(ledgerOptionsFromEnv({ SPANLEDGER_STRICT_MODELS: 'false' })).toEqual({});
    // With a prices file the variable reaches the price book built from it.
    const withFile = ledgerOptionsFromEnv({
      SPANLEDGER_STRICT_MODELS: 'TRUE',
      SPANLEDGER_PRICES_FILE: contract,
    });
    expect(withFile.strictModels).toBeUndefined();
    expect(withFile.priceBook?.strictModels).toBe(true);
    const r = withFile.priceBook?.price({
      provider: 'deepseek',
      model: 'deepseek-chatt',
      inputTokens: 10,
    });
    expect(r).toMatchObject({ status: 'unpriced', reason: 'approximate_model' });
    expect(() => ledgerOptionsFromEnv({ SPANLEDGER_STRICT_MODELS: 'strict' })).toThrow(
      'spanledger: SPANLEDGER_STRICT_MODELS="strict": expected true or false',
    );
  });

  it('a routing alternative with no exact price in the prices file names the variable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanledger-env-'));
    const file = join(dir, 'prices.yaml');
    writeFileSync(file, 'routing:\n  models:\n    gpt-4o: [gpt-4o-minni]\n');
    expect(() => ledgerOptionsFromEnv({ SPANLEDGER_PRICES_FILE: file })).toThrow(
      /^spanledger: SPANLEDGER_PRICES_FILE: invalid prices: routing\.models\.gpt-4o\[0\]: "gpt-4o-minni" /,
    );
  });

  it('extra dimensions from SPANLEDGER_DIMENSIONS scope the budgets of a budgets file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanledger-env-'));
    const file = (name: string, scope: string): string => {
      const path = join(dir, name);
      writeFileSync(
        path,
        `budgets:\n  - name: eu\n    scope: ${scope}\n    window: trace\n    limitUsd: 1\n`,
      );
      return path;
    };
    const ok = ledgerOptionsFromEnv({
      SPANLEDGER_DIMENSIONS: 'spanledger.region',
      SPANLEDGER_BUDGETS_FILE: file('ok.yaml', '{ region: eu }'),
    });
    expect(ok.budgets?.[0]?.scope).toEqual({ region: 'eu' });
    expect(ok.attribution).toEqual({ extraDimensions: ['spanledger.region'] });
    // A typo in the file blames the file, and says where the known names come from.
    const typo = file('typo.yaml', '{ regoin: eu }');
    expect(() =>
      ledgerOptionsFromEnv({
        SPANLEDGER_DIMENSIONS: 'spanledger.region',
        SPANLEDGER_BUDGETS_FILE: typo,
      }),
    ).toThrow(
      `spanledger: SPANLEDGER_BUDGETS_FILE: invalid budgets in ${typo}: budgets[0].scope.regoin: unknown dimension "regoin" (known: team, costCenter, tenant, useCase, agent, region; more with attribution.extraDimensions or SPANLEDGER_DIMENSIONS)`,
    );
    // Without the variable, region is unknown, and the message says how to add it.
    expect(() =>
      ledgerOptionsFromEnv({ SPANLEDGER_BUDGETS_FILE: file('plain.yaml', '{ region: eu }') }),
    ).toThrow('unknown dimension "region" (known: team, costCenter, tenant, useCase, agent;');
    // A bad key blames the variable, not the budgets file.
    expect(() =>
      ledgerOptionsFromEnv({
        SPANLEDGER_DIMENSIONS: 'spanledger.cost.usd',
        SPANLEDGER_BUDGETS_FILE: file('x.yaml', '{ team: a }'),
      }),
    ).toThrow(
      'spanledger: SPANLEDGER_DIMENSIONS: "spanledger.cost.usd" cannot be a dimension: an attribute spanledger reads or writes',
    );
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
