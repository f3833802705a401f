/**
 * FOCUS rows from hand-built showback lines (usage, a fixed and a shared cost, a conversion at a
 * hand-picked rate), checked column by column and by the validator written from the spec
 * (test/support/focus-validator.ts), and the validator's own rules, one broken row per rule.
 */
import { describe, expect, it } from 'vitest';
import { focusNumber, focusRows, renderFocusCsv } from '../../src/finance/focus.js';
import type { AllocatedRow, ConvertUsd, EstimateRow } from '../../src/finance/model.js';
import { startOfDay } from '../../src/finance/prometheus.js';
import { buildShowback } from '../../src/finance/showback.js';
import { type Cell, parseFocusCsv, validateFocus } from '../support/focus-validator.js';

const PARIS = 'Europe/Paris';
const by = ['team', 'tenant', 'provider', 'model'];

const ESTIMATES: EstimateRow[] = [
  {
    day: '2025-10-25',
    labels: { team: 'alpha', tenant: 'acme', provider: 'openai', model: 'gpt-4o' },
    costUsd: 3.5,
    tokens: { input: 1000, output: 50 },
    cacheSavingsUsd: 0.125,
  },
  {
    day: '2025-10-25',
    labels: { team: 'alpha', tenant: 'acme', provider: undefined, model: undefined },
    costUsd: 2,
  },
  {
    day: '2025-10-26',
    labels: { team: 'beta', tenant: undefined, provider: 'openai', model: 'gpt-4o' },
    costUsd: 0.25,
  },
];

const EXTRA: AllocatedRow[] = [
  {
    day: '2025-10-25',
    kind: 'fixed',
    name: 'vector-store',
    labels: { team: 'alpha' },
    costUsd: 10,
  },
  {
    day: '2025-10-26',
    kind: 'shared',
    name: 'platform',
    labels: { team: 'beta' },
    costUsd: 4,
    allocation: { method: 'proportional', basis: 'usage_cost', dimension: 'team', share: 0.4 },
  },
];

/** Half a euro per dollar; the 26th's rate was published the day before (a Sunday rule). */
const toEur: ConvertUsd = (usd, day) => ({
  amount: usd * 0.5,
  currency: 'EUR',
  rate: 0.5,
  rateDay: day === '2025-10-26' ? '2025-10-24' : day,
});

const ctx = {
  by,
  from: new Date(startOfDay('2025-10-25', PARIS)),
  to: new Date(startOfDay('2025-10-27', PARIS)),
  timeZone: PARIS,
};

/** Rows through the CSV and back, as a FOCUS consumer reads them. */
function roundTrip(csv: string) {
  return parseFocusCsv(csv);
}

describe('focusRows', () => {
  const lines = buildShowback({ estimates: ESTIMATES, by, extra: EXTRA });
  const rows = focusRows(lines, ctx);

  it('writes a usage row with its tokens, its day in UTC and its month as the billing period', () => {
    const r = rows[0];
    expect(r).toMatchObject({
      BilledCost: 3.5,
      EffectiveCost: 3.5,
      ListCost: 3.5,
      ContractedCost: 3.5,
      BillingCurrency: 'USD',
      ChargeCategory: 'Usage',
      ChargeClass: null,
      ChargeFrequency: 'Usage-Based',
      ChargePeriodStart: '2025-10-24T22:00:00Z',
      ChargePeriodEnd: '2025-10-25T22:00:00Z',
      BillingPeriodStart: '2025-09-30T22:00:00Z',
      BillingPeriodEnd: '2025-10-31T23:00:00Z',
      ConsumedQuantity: 1050,
      ConsumedUnit: 'Tokens',
      PricingQuantity: 1050,
      PricingUnit: 'Tokens',
      ServiceCategory: 'AI and Machine Learning',
      ServiceSubcategory: 'Generative AI',
      ServiceProviderName: 'openai',
      HostProviderName: 'openai',
      InvoiceIssuerName: 'openai',
      SkuId: 'gpt-4o',
      SkuPriceId: 'gpt-4o',
      InvoiceId: null,
      x_CostStatus: 'estimate',
      x_CostKind: 'usage',
      x_Team: 'alpha',
      x_Tenant: 'acme',
      x_Unallocated: null,
      x_InputTokens: 1000,
      x_OutputTokens: 50,
      x_CacheReadTokens: null,
      x_CacheSavingsUsd: 0.125,
      x_CostUsd: 3.5,
      x_FxRate: null,
    });
  });

  it('keeps unknown tokens null (not 0) and names the absent dimensions', () => {
    const tool = rows.find((r) => r.x_Unallocated === 'provider,model');
    expect(tool).toMatchObject({
      BilledCost: 2,
      ConsumedQuantity: null,
      ConsumedUnit: null,
      PricingQuantity: null,
      ServiceProviderName: 'Unknown',
      HostProviderName: null,
      SkuId: 'spanledger/unknown',
      x_Provider: null,
    });
    const beta = rows.find((r) => r.x_Team === 'beta' && r.x_CostKind === 'usage');
    expect(beta).toMatchObject({
      x_Tenant: null,
      x_Unallocated: 'tenant',
      ChargePeriodStart: '2025-10-25T22:00:00Z',
      // The 26th is 25 hours long in Paris.
      ChargePeriodEnd: '2025-10-26T23:00:00Z',
    });
  });

  it('writes fixed and shared costs as recurring rows, the shared one with the 1.3 allocation columns', () => {
    expect(rows.find((r) => r.x_CostKind === 'fixed')).toMatchObject({
      BilledCost: 10,
      ChargeFrequency: 'Recurring',
      SkuId: 'spanledger/fixed/vector-store',
      x_CostName: 'vector-store',
      AllocatedMethodId: null,
    });
    const shared = rows.find((r) => r.x_CostKind === 'shared');
    expect(shared?.AllocatedMethodId).toBe('proportional');
    expect(JSON.parse(shared?.AllocatedMethodDetails as string)).toEqual({
      Elements: [{ AllocatedRatio: 0.4 }],
      x_Basis: 'usage_cost',
      x_Dimension: 'team',
    });
  });

  it('passes the validator (unknown quantities aside), and the strict rule names exactly those rows', () => {
    const { columns, rows: read } = roundTrip(renderFocusCsv(rows));
    expect(validateFocus(columns, read, { allowUnknownQuantity: true })).toEqual([]);
    const strict = validateFocus(columns, read);
    const nullQuantity = rows
      .map((r, i) => (r.ConsumedQuantity === null ? i : -1))
      .filter((i) => i >= 0);
    expect([...new Set(strict.map((p) => p.row))]).toEqual(nullQuantity);
    expect(new Set(strict.map((p) => p.column))).toEqual(
      new Set(['PricingQuantity', 'ConsumedQuantity']),
    );
  });

  it('converts: BillingCurrency is the target, the costs converted, USD and the rate kept in x_', () => {
    const converted = focusRows(
      buildShowback({ estimates: ESTIMATES, by, extra: EXTRA, convert: toEur }),
      ctx,
    );
    expect(converted[0]).toMatchObject({
      BilledCost: 1.75,
      EffectiveCost: 1.75,
      BillingCurrency: 'EUR',
      x_CostUsd: 3.5,
      x_FxRate: 0.5,
      x_FxRateDay: '2025-10-25',
    });
    const shared = converted.find((r) => r.x_CostKind === 'shared');
    expect(shared).toMatchObject({ BilledCost: 2, x_CostUsd: 4, x_FxRateDay: '2025-10-24' });
    const { columns, rows: read } = roundTrip(renderFocusCsv(converted));
    expect(validateFocus(columns, read, { allowUnknownQuantity: true })).toEqual([]);
  });

  it('writes numbers in FOCUS numeric format', () => {
    expect(focusNumber(0.000001)).toBe('0.000001');
    expect(focusNumber(1e-7)).toBe('1E-7');
    expect(focusNumber(1e21)).toBe('1E21');
  });
});

describe('the FOCUS validator rejects', () => {
  const good = () => {
    const { columns, rows } = roundTrip(
      renderFocusCsv(focusRows(buildShowback({ estimates: ESTIMATES.slice(0, 1), by }), ctx)),
    );
    return { columns, row: rows[0] as Record<string, Cell> };
  };
  const check = (
    edit: (d: { columns: string[]; row: Record<string, Cell> }) => void,
  ): Array<[string, string]> => {
    const d = good();
    expect(validateFocus(d.columns, [d.row])).toEqual([]);
    edit(d);
    return validateFocus(d.columns, [d.row]).map((p) => [p.column, p.message]);
  };
  const cases: Array<
    [string, (d: { columns: string[]; row: Record<string, Cell> }) => void, [string, string]]
  > = [
    [
      'a missing mandatory column',
      (d) => {
        d.columns = d.columns.filter((c) => c !== 'BilledCost');
      },
      ['BilledCost', 'mandatory column missing'],
    ],
    [
      'a custom column without x_',
      (d) => {
        d.columns.push('Team');
        d.row.Team = 'alpha';
      },
      ['Team', 'custom column without the x_ prefix'],
    ],
    [
      'a 1.2 name that 1.3 replaced',
      (d) => {
        d.columns.push('ProviderName');
        d.row.ProviderName = 'openai';
      },
      ['ProviderName', 'replaced by ServiceProviderName in FOCUS 1.3'],
    ],
    [
      'null where no null is allowed',
      (d) => {
        d.row.ServiceName = null;
      },
      ['ServiceName', 'null in a column that allows no nulls'],
    ],
    [
      'a decimal with a comma',
      (d) => {
        d.row.BilledCost = '1,000';
      },
      ['BilledCost', "not a FOCUS decimal: '1,000'"],
    ],
    [
      'an exponent with a plus sign',
      (d) => {
        d.row.ListCost = '35.2E+7';
      },
      ['ListCost', "not a FOCUS decimal: '35.2E+7'"],
    ],
    [
      'a date/time that is not UTC ISO 8601',
      (d) => {
        d.row.ChargePeriodStart = '2025-10-24 22:00:00';
      },
      ['ChargePeriodStart', "not a UTC date/time YYYY-MM-DDTHH:mm:ssZ: '2025-10-24 22:00:00'"],
    ],
    [
      'JSON that does not parse',
      (d) => {
        d.row.AllocatedMethodDetails = '{share: 1}';
      },
      ['AllocatedMethodDetails', "not JSON: '{share: 1}'"],
    ],
    [
      'allocation details that are not the 1.3 object',
      (d) => {
        d.row.AllocatedMethodDetails = '{"share":1}';
      },
      ['AllocatedMethodDetails', 'not an AllocatedMethodDetails object: \'{"share":1}\''],
    ],
    [
      'a value outside the allowed ones',
      (d) => {
        d.row.ChargeFrequency = 'Daily';
      },
      ['ChargeFrequency', "'Daily' is not an allowed value"],
    ],
    [
      'a ChargeClass other than Correction',
      (d) => {
        d.row.ChargeClass = 'Estimate';
      },
      ['ChargeClass', "'Estimate' is not an allowed value"],
    ],
    [
      'a currency that is not ISO 4217',
      (d) => {
        d.row.BillingCurrency = 'usd';
      },
      ['BillingCurrency', "not an ISO 4217 code: 'usd'"],
    ],
    [
      'a charge period ending at its start',
      (d) => {
        d.row.ChargePeriodEnd = d.row.ChargePeriodStart as string;
      },
      ['ChargePeriodEnd', 'ChargePeriodEnd is not after ChargePeriodStart'],
    ],
    [
      'a charge period outside its billing period',
      (d) => {
        d.row.BillingPeriodStart = '2025-10-25T00:00:00Z';
      },
      ['ChargePeriodStart', 'the charge period is not within the billing period'],
    ],
    [
      'a quantity without its unit',
      (d) => {
        d.row.ConsumedUnit = null;
      },
      ['ConsumedUnit', 'ConsumedUnit must be null exactly when ConsumedQuantity is'],
    ],
    [
      'a usage row without a SKU',
      (d) => {
        d.row.SkuId = null;
      },
      ['SkuId', 'must not be null on a Usage row'],
    ],
    [
      'a consumed quantity on a row that is not usage',
      (d) => {
        d.row.ChargeCategory = 'Adjustment';
      },
      ['ConsumedQuantity', 'must be null unless ChargeCategory is Usage'],
    ],
    [
      'a subcategory of another category',
      (d) => {
        d.row.ServiceSubcategory = 'Virtual Machines';
      },
      ['ServiceSubcategory', "'Virtual Machines' is not a subcategory of AI and Machine Learning"],
    ],
    [
      'a negative usage cost',
      (d) => {
        d.row.EffectiveCost = '-1';
      },
      ['EffectiveCost', 'negative on a Usage row'],
    ],
  ];
  for (const [what, edit, problem] of cases) {
    it(what, () => {
      expect(check(edit)).toEqual([problem]);
    });
  }
  it('a usage row without quantities, unless told spanledger leaves unknown tokens null', () => {
    const d = good();
    d.row.ConsumedQuantity = null;
    d.row.ConsumedUnit = null;
    d.row.PricingQuantity = null;
    d.row.PricingUnit = null;
    expect(validateFocus(d.columns, [d.row]).map((p) => p.column)).toEqual([
      'PricingQuantity',
      'ConsumedQuantity',
    ]);
    expect(validateFocus(d.columns, [d.row], { allowUnknownQuantity: true })).toEqual([]);
  });
});
