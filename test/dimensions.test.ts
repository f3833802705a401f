import { describe, expect, it } from 'vitest';
import { matchScope } from '../src/budgets/config.js';
import { BUILTIN, createDimensions, type Dimensions, dimensionValue } from '../src/dimensions.js';
import { dimensionAttributes } from '../src/metrics/cost-metrics.js';
import { configErrorOf } from './support/errors.js';

describe('dimensions: names and attribute keys', () => {
  it('built-ins by short name; an extra key spanledger.<name> is named <name> in scopes', () => {
    const dims: Dimensions = createDimensions(
      ['spanledger.region', 'deployment.environment'],
      'SPANLEDGER_DIMENSIONS',
    );
    expect(dims.names).toEqual([
      'team',
      'costCenter',
      'tenant',
      'useCase',
      'agent',
      'region',
      'deployment.environment',
    ]);
    expect(dims.keyOf('region')).toBe('spanledger.region');
    expect(dims.keyOf('costCenter')).toBe('spanledger.cost_center');
    expect(dims.keyOf('deployment.environment')).toBe('deployment.environment');
    // Copied onto spans: every dimension but the agent's name (its instrumentation sets it).
    expect(dims.copiedKeys).toEqual([
      'spanledger.team',
      'spanledger.cost_center',
      'spanledger.tenant',
      'spanledger.use_case',
      'spanledger.region',
      'deployment.environment',
    ]);
    expect(BUILTIN.names).toEqual(['team', 'costCenter', 'tenant', 'useCase', 'agent']);
  });

  it.each([
    ['spanledger.cost.usd', 'an attribute spanledger reads or writes'],
    ['spanledger.service_tier', 'an attribute spanledger reads or writes'],
    ['gen_ai.usage.input_tokens', 'an attribute spanledger reads or writes'],
    ['gen_ai.request.foo', 'reserved namespace gen_ai.'],
    ['spanledger.trace.x', 'reserved namespace spanledger.trace.'],
    ['spanledger.team', 'already a built-in dimension (team)'],
    ['spanledger.costCenter', 'its name "costCenter" is a built-in dimension'],
    ['bad key', 'not an attribute key'],
    ['', 'not an attribute key'],
  ])('refuses %j as a dimension key: %s', (key, why) => {
    expect(configErrorOf(() => createDimensions([key], 'SPANLEDGER_DIMENSIONS'))).toBe(
      `spanledger: SPANLEDGER_DIMENSIONS: ${JSON.stringify(key)} cannot be a dimension: ${why}`,
    );
  });

  it('refuses two keys with one name', () => {
    expect(
      configErrorOf(() =>
        createDimensions(['spanledger.region', 'region'], 'options.attribution.extraDimensions'),
      ),
    ).toBe(
      'spanledger: options.attribution.extraDimensions: "region" cannot be a dimension: its name "region" is also the name of "spanledger.region"',
    );
  });
});

describe("one rule for '' and blank values, in every reader", () => {
  it('dimensionValue: a string with a visible character, else absent', () => {
    expect(dimensionValue('acme')).toBe('acme');
    expect(dimensionValue('')).toBeUndefined();
    expect(dimensionValue('   ')).toBeUndefined();
    expect(dimensionValue('\u00a0\t')).toBeUndefined();
    expect(dimensionValue(' acme')).toBe(' acme');
    expect(dimensionValue(42)).toBeUndefined();
    expect(dimensionValue(undefined)).toBeUndefined();
  });

  it("a span's blank value falls through to its run root's, for budgets and metrics alike", () => {
    const span = { 'spanledger.team': '', 'spanledger.tenant': '  ', 'spanledger.use_case': 'x' };
    const root = { 'spanledger.team': 'payments', 'spanledger.tenant': 'acme' };
    const values = BUILTIN.values(span, root);
    expect(values).toEqual({ team: 'payments', tenant: 'acme', useCase: 'x' });
    // Metrics read the same values, under the attribute keys.
    expect(dimensionAttributes(span, root)).toEqual({
      'spanledger.team': 'payments',
      'spanledger.tenant': 'acme',
      'spanledger.use_case': 'x',
    });
    // A blank value given to a check is absent: it matches no scope, not even '*'.
    expect(matchScope({ tenant: '*' }, { tenant: '' })).toBeUndefined();
    expect(matchScope({ tenant: '*' }, { tenant: ' ' })).toBeUndefined();
    expect(matchScope({ tenant: '*' }, values)).toEqual({ tenant: 'acme' });
  });
});
