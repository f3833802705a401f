import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, validateConfig } from '../../src/config.js';
import { createDimensions } from '../../src/dimensions.js';
import { labelNames, validateFinance } from '../../src/finance/config.js';
import { extractSnippets } from '../docs/extract.js';
import { configErrorOf } from '../support/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'spanledger-finance-config-'));

const invalid = (input: unknown): string => configErrorOf(() => validateFinance(input, 'test'));

describe('validateFinance: valid sections', () => {
  it('normalises amounts to USD a month and keeps labels and dates', () => {
    expect(
      validateFinance(
        {
          fixedCosts: [
            {
              name: 'support-triage-integration',
              monthlyUsd: 300,
              labels: { use_case: 'support-triage', category: 'integration' },
              from: '2026-01-01',
            },
          ],
          sharedCosts: [
            {
              name: 'vector-store-cluster',
              annualUsd: 14_400,
              allocateBy: 'use_case',
              until: new Date('2027-01-01T00:00:00Z'),
            },
          ],
        },
        'test',
      ),
    ).toEqual({
      fixedCosts: [
        {
          name: 'support-triage-integration',
          monthlyUsd: 300,
          labels: { use_case: 'support-triage', category: 'integration' },
          from: '2026-01-01',
        },
      ],
      sharedCosts: [
        {
          name: 'vector-store-cluster',
          monthlyUsd: 1200,
          labels: {},
          allocateBy: 'use_case',
          until: '2027-01-01',
        },
      ],
    });
    expect(validateFinance(undefined, 'test')).toEqual({ fixedCosts: [], sharedCosts: [] });
    expect(validateFinance({}, 'test')).toEqual({ fixedCosts: [], sharedCosts: [] });
  });

  it('labels use the CLI names of the dimensions in force, extra ones included', () => {
    expect(labelNames()).toEqual([
      'team',
      'cost_center',
      'tenant',
      'use_case',
      'agent',
      'model',
      'provider',
      'category',
      'service',
    ]);
    const dims = createDimensions(['spanledger.region'], 'SPANLEDGER_DIMENSIONS');
    const [cost] = validateFinance(
      {
        sharedCosts: [
          { name: 'eu-gateway', monthlyUsd: 50, allocateBy: 'tenant', labels: { region: 'eu' } },
        ],
      },
      'test',
      { dimensions: dims },
    ).sharedCosts;
    expect(cost?.labels).toEqual({ region: 'eu' });
  });
});

describe('validateFinance: one line naming the entry and why', () => {
  const fixed = { name: 'f', monthlyUsd: 1, labels: { team: 'search' } };
  const shared = { name: 's', monthlyUsd: 1, allocateBy: 'tenant' };

  it.each([
    [{ fixedCost: [] }, 'finance: Unrecognized key: "fixedCost"'],
    [
      { fixedCosts: [{ ...fixed, monthlyUSD: 1 }] },
      'finance.fixedCosts[0]: Unrecognized key: "monthlyUSD"',
    ],
    [
      { fixedCosts: [{ ...fixed, annualUsd: 12 }] },
      'finance.fixedCosts[0]: give exactly one of monthlyUsd or annualUsd',
    ],
    [
      { sharedCosts: [{ name: 's', allocateBy: 'tenant' }] },
      'finance.sharedCosts[0]: give exactly one of monthlyUsd or annualUsd',
    ],
    [
      { fixedCosts: [{ ...fixed, monthlyUsd: -5 }] },
      'finance.fixedCosts[0].monthlyUsd: Too small: expected number to be >=0',
    ],
    [
      { fixedCosts: [{ ...fixed, labels: { useCase: 'x' } }] },
      "finance.fixedCosts[0].labels.useCase: labels use the CLI's names: use use_case",
    ],
    [
      { fixedCosts: [{ ...fixed, labels: { region: 'eu' } }] },
      'finance.fixedCosts[0].labels.region: unknown label "region" (known: team, cost_center, tenant, use_case, agent, model, provider, category, service)',
    ],
    [
      { fixedCosts: [{ ...fixed, labels: { team: ' ' } }] },
      'finance.fixedCosts[0].labels.team: expected a non-blank string',
    ],
    [
      { fixedCosts: [{ ...fixed, labels: {} }] },
      'finance.fixedCosts[0].labels: a fixed cost belongs to at least one label',
    ],
    [
      { fixedCosts: [{ ...fixed, from: '2026-02-30' }] },
      'finance.fixedCosts[0].from: expected a date YYYY-MM-DD, got "2026-02-30"',
    ],
    [
      { fixedCosts: [{ ...fixed, from: '2026-03-01', until: '2026-03-01' }] },
      'finance.fixedCosts[0].until: must be after from (2026-03-01): until is the first day not charged',
    ],
    [
      { sharedCosts: [{ ...shared, allocateBy: 'costCenter' }] },
      "finance.sharedCosts[0].allocateBy: labels use the CLI's names: use cost_center",
    ],
    [
      { sharedCosts: [{ ...shared, labels: { tenant: 'acme' } }] },
      'finance.sharedCosts[0].labels.tenant: the cost is split across tenant',
    ],
    [
      { fixedCosts: [fixed], sharedCosts: [{ ...shared, name: 'f' }] },
      'finance.sharedCosts[0].name: duplicate name "f" (also finance.fixedCosts[0])',
    ],
  ])('%j', (input, message) => {
    expect(invalid(input)).toContain(`spanledger: invalid finance in test: ${message}`);
  });
});

describe('the finance: section of the configuration file', () => {
  it('is validated with the rest of the file, errors naming the file', () => {
    const path = join(dir, 'spanledger.yaml');
    writeFileSync(
      path,
      `budgets:
  - { name: per-run, scope: trace, limitUsd: 2 }
finance:
  sharedCosts:
    - name: vector-store-cluster
      monthlyUsd: 1200
      allocateBy: use_case
      from: 2026-01-01
`,
    );
    const config = loadConfigFile(path);
    expect(config.budgets.map((b) => b.name)).toEqual(['per-run']);
    expect(config.finance?.sharedCosts[0]).toEqual({
      name: 'vector-store-cluster',
      monthlyUsd: 1200,
      labels: {},
      allocateBy: 'use_case',
      from: '2026-01-01',
    });
    // Without a finance: section the configuration has none (and is what it was before).
    expect(validateConfig({ budgets: [] }, 'options.prices')).toEqual({ prices: {}, budgets: [] });
    writeFileSync(
      path,
      'finance:\n  sharedCosts:\n    - { name: v, monthlyUsd: 1, allocateBy: user }\n',
    );
    expect(configErrorOf(() => loadConfigFile(path))).toBe(
      `spanledger: invalid prices in ${path}: finance.sharedCosts[0].allocateBy: unknown label "user" (known: team, cost_center, tenant, use_case, agent, model, provider, category, service)`,
    );
  });

  it('the example of docs/finance.md validates', () => {
    const doc = join(import.meta.dirname, '../../docs/finance.md');
    const blocks = extractSnippets('docs/finance.md', readFileSync(doc, 'utf8')).filter(
      (s) => s.lang === 'yaml' && s.code.includes('finance:'),
    );
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) {
      const path = join(dir, `doc-${block.line}.yaml`);
      writeFileSync(path, block.code);
      const config = loadConfigFile(path);
      expect(config.finance?.fixedCosts.length ?? 0).toBeGreaterThan(0);
    }
  });
});
