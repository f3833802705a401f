import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config.js';
import { readConfigFile } from '../../src/config-file.js';
import { ConfigError, validatePricesConfig } from '../../src/pricing/config.js';
import { PriceBook } from '../../src/pricing/price-book.js';

/** The prices sections of a configuration file. */
const loadPricesFile = (path: string) => loadConfigFile(path).prices;

const fixture = (name: string): string =>
  fileURLToPath(new URL(`../fixtures/prices/${name}`, import.meta.url));

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('the prices sections of a configuration file', () => {
  it('reads every section of the complete example', () => {
    const c = loadPricesFile(fixture('contract.yaml'));
    expect(c.providerAliases).toEqual({ 'my-gateway': 'openai' });
    expect(c.deployments?.length).toBe(3);
    expect(c.models?.map((m) => m.model)).toEqual([
      'gpt-4o',
      'ft:gpt-4o-mini:acme::abc123',
      'llama-3.1-8b-local',
    ]);
    // Dates become epoch ms at midnight UTC.
    expect(c.models?.[0]?.prices[0]?.effectiveFrom).toBe(Date.parse('2026-11-15T00:00:00Z'));
    expect(c.discounts?.[0]).toEqual({
      provider: 'anthropic',
      multiplier: 0.8,
      effectiveFrom: Date.parse('2026-11-01T00:00:00Z'),
      effectiveUntil: Date.parse('2026-12-01T00:00:00Z'),
    });
    expect(c.serviceTiers).toEqual({ priority: 1.8 });
    expect(c.tools?.[0]).toEqual({ name: 'web_search', perCallUsd: 0.01 });
    expect(c.retrievals?.[1]).toEqual({
      dbSystem: 'pinecone',
      perUnitUsd: 0.000016,
      unit: 'read_unit',
    });
    expect(c.humanReview).toEqual({ ratePerHourUsd: 45, roles: { legal: 180 } });
  });

  it('accepts JSON (YAML is a superset) and an empty file', () => {
    expect(validatePricesConfig(JSON.parse('{"serviceTiers":{"flex":0.5}}'), 'x.json')).toEqual({
      serviceTiers: { flex: 0.5 },
    });
    expect(validatePricesConfig(null, 'empty.yaml')).toEqual({});
  });
});

describe('malformed prices fail at construction with file, entry and reason', () => {
  it('a negative price names models[1].prices[0].inputPerMTok', () => {
    const path = fixture('bad-price.yaml');
    const e = errorOf(() => loadConfigFile(path));
    expect(e.message).toContain(path);
    expect(e.message).toContain('models[1].prices[0].inputPerMTok');
    expect(e.message).toMatch(/>=\s*0|non-?negative/i);
  });

  it('an unknown key is named', () => {
    const path = fixture('unknown-key.yaml');
    const e = errorOf(() => loadConfigFile(path));
    expect(e.message).toContain(path);
    expect(e.message).toContain('modles');
  });

  it('unparsable YAML names the file and the line', () => {
    const path = fixture('unparsable.yaml');
    const e = errorOf(() => readConfigFile(path));
    expect(e.message).toContain(`cannot parse ${path}`);
    expect(e.message).toMatch(/line \d+/);
  });

  it('a missing file names the file', () => {
    const path = fixture('does-not-exist.yaml');
    const e = errorOf(() => loadConfigFile(path));
    expect(e.message).toContain(`cannot read ${path}`);
    expect(e.message).toContain('ENOENT');
  });

  it('deployments need exactly one of name or pattern, and a valid pattern', () => {
    const path = fixture('bad-deployment.yaml');
    const e = errorOf(() => loadPricesFile(path));
    expect(e.message).toContain('deployments[0]: give exactly one of name or pattern');
    expect(e.message).toContain('deployments[1].pattern: bad regular expression');
  });

  it('objects given in code are named options.prices', () => {
    const e = errorOf(
      () => new PriceBook({ prices: { models: [{ provider: 'x', model: 'y', prices: [{}] }] } }),
    );
    expect(e.message).toContain('options.prices');
    expect(e.message).toContain('models[0].prices[0]: a price period needs at least one of');
  });

  it('date-times need an explicit offset; discount windows must not be empty', () => {
    const e = errorOf(() =>
      validatePricesConfig(
        {
          discounts: [
            { multiplier: 0.9, effectiveFrom: '2026-11-10T10:00:00' },
            { multiplier: 0.9, effectiveFrom: '2026-11-10', effectiveUntil: '2026-11-10' },
          ],
        },
        'p.yaml',
      ),
    );
    expect(e.message).toContain('discounts[0].effectiveFrom: not an ISO date or date-time');
    expect(e.message).toContain('discounts[1].effectiveUntil: effectiveUntil must be after');
  });

  it('multipliers must be positive', () => {
    const e = errorOf(() => validatePricesConfig({ serviceTiers: { batch: 0 } }, 'p.yaml'));
    expect(e.message).toContain('serviceTiers.batch');
  });
});
