/**
 * A FOCUS dataset validator written from the specification's column definitions
 * (FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec, tag v1.2, specification/columns/*.md: feature
 * level, "Allows nulls", data type, allowed values and the nullability rules between columns),
 * with the 1.3 names where 1.3 replaces 1.2 ones: ServiceProviderName for ProviderName and
 * HostProviderName for PublisherName. It checks what spanledger's export must get right; it is
 * not a full conformance suite (no checks of values against price lists or invoices).
 */

type DataType = 'String' | 'Decimal' | 'DateTime' | 'JSON';

interface ColumnDef {
  type: DataType;
  /** Mandatory columns must be present; Recommended and Conditional ones are checked when present. */
  level: 'Mandatory' | 'Recommended' | 'Conditional';
  nullable: boolean;
  allowed?: readonly string[];
}

const SERVICE_CATEGORIES = [
  'AI and Machine Learning',
  'Analytics',
  'Business Applications',
  'Compute',
  'Databases',
  'Developer Tools',
  'Multicloud',
  'Identity',
  'Integration',
  'Internet of Things',
  'Management and Governance',
  'Media',
  'Migration',
  'Mobile',
  'Networking',
  'Security',
  'Storage',
  'Web',
  'Other',
] as const;

/** ServiceSubcategory values of the AI and Machine Learning category (servicesubcategory.md);
 * other categories' subcategories are only checked to end in their category's "Other (...)" or
 * be named in the spec, which this validator does not need. */
const AI_SUBCATEGORIES = [
  'AI Platforms',
  'Bots',
  'Generative AI',
  'Machine Learning',
  'Natural Language Processing',
  'Other (AI and Machine Learning)',
];

/** The columns of FOCUS 1.2 (1.3 names for the two renamed ones) and their constraints. */
export const FOCUS_COLUMN_DEFS: Readonly<Record<string, ColumnDef>> = {
  AvailabilityZone: { type: 'String', level: 'Recommended', nullable: true },
  BilledCost: { type: 'Decimal', level: 'Mandatory', nullable: false },
  BillingAccountId: { type: 'String', level: 'Mandatory', nullable: false },
  BillingAccountName: { type: 'String', level: 'Mandatory', nullable: true },
  BillingAccountType: { type: 'String', level: 'Conditional', nullable: false },
  BillingCurrency: { type: 'String', level: 'Mandatory', nullable: false },
  BillingPeriodEnd: { type: 'DateTime', level: 'Mandatory', nullable: false },
  BillingPeriodStart: { type: 'DateTime', level: 'Mandatory', nullable: false },
  CapacityReservationId: { type: 'String', level: 'Conditional', nullable: true },
  CapacityReservationStatus: {
    type: 'String',
    level: 'Conditional',
    nullable: true,
    allowed: ['Used', 'Unused'],
  },
  ChargeCategory: {
    type: 'String',
    level: 'Mandatory',
    nullable: false,
    allowed: ['Usage', 'Purchase', 'Tax', 'Credit', 'Adjustment'],
  },
  ChargeClass: { type: 'String', level: 'Mandatory', nullable: true, allowed: ['Correction'] },
  ChargeDescription: { type: 'String', level: 'Mandatory', nullable: true },
  ChargeFrequency: {
    type: 'String',
    level: 'Recommended',
    nullable: false,
    allowed: ['One-Time', 'Recurring', 'Usage-Based'],
  },
  ChargePeriodEnd: { type: 'DateTime', level: 'Mandatory', nullable: false },
  ChargePeriodStart: { type: 'DateTime', level: 'Mandatory', nullable: false },
  CommitmentDiscountCategory: {
    type: 'String',
    level: 'Conditional',
    nullable: true,
    allowed: ['Spend', 'Usage'],
  },
  CommitmentDiscountId: { type: 'String', level: 'Conditional', nullable: true },
  CommitmentDiscountName: { type: 'String', level: 'Conditional', nullable: true },
  CommitmentDiscountQuantity: { type: 'Decimal', level: 'Conditional', nullable: true },
  CommitmentDiscountStatus: {
    type: 'String',
    level: 'Conditional',
    nullable: true,
    allowed: ['Used', 'Unused'],
  },
  CommitmentDiscountType: { type: 'String', level: 'Conditional', nullable: true },
  CommitmentDiscountUnit: { type: 'String', level: 'Conditional', nullable: true },
  ConsumedQuantity: { type: 'Decimal', level: 'Conditional', nullable: true },
  ConsumedUnit: { type: 'String', level: 'Conditional', nullable: true },
  ContractedCost: { type: 'Decimal', level: 'Mandatory', nullable: false },
  ContractedUnitPrice: { type: 'Decimal', level: 'Conditional', nullable: true },
  EffectiveCost: { type: 'Decimal', level: 'Mandatory', nullable: false },
  HostProviderName: { type: 'String', level: 'Recommended', nullable: true },
  InvoiceId: { type: 'String', level: 'Recommended', nullable: true },
  InvoiceIssuerName: { type: 'String', level: 'Mandatory', nullable: false },
  ListCost: { type: 'Decimal', level: 'Mandatory', nullable: false },
  ListUnitPrice: { type: 'Decimal', level: 'Conditional', nullable: true },
  PricingCategory: {
    type: 'String',
    level: 'Conditional',
    nullable: true,
    allowed: ['Standard', 'Dynamic', 'Committed', 'Other'],
  },
  PricingCurrency: { type: 'String', level: 'Conditional', nullable: true },
  PricingCurrencyContractedUnitPrice: { type: 'Decimal', level: 'Conditional', nullable: true },
  PricingCurrencyEffectiveCost: { type: 'Decimal', level: 'Conditional', nullable: true },
  PricingCurrencyListUnitPrice: { type: 'Decimal', level: 'Conditional', nullable: true },
  PricingQuantity: { type: 'Decimal', level: 'Mandatory', nullable: true },
  PricingUnit: { type: 'String', level: 'Mandatory', nullable: true },
  RegionId: { type: 'String', level: 'Conditional', nullable: true },
  RegionName: { type: 'String', level: 'Conditional', nullable: true },
  ResourceId: { type: 'String', level: 'Conditional', nullable: true },
  ResourceName: { type: 'String', level: 'Conditional', nullable: true },
  ResourceType: { type: 'String', level: 'Conditional', nullable: true },
  ServiceCategory: {
    type: 'String',
    level: 'Mandatory',
    nullable: false,
    allowed: SERVICE_CATEGORIES,
  },
  ServiceName: { type: 'String', level: 'Mandatory', nullable: false },
  ServiceProviderName: { type: 'String', level: 'Mandatory', nullable: false },
  ServiceSubcategory: { type: 'String', level: 'Recommended', nullable: false },
  SkuId: { type: 'String', level: 'Conditional', nullable: true },
  SkuMeter: { type: 'String', level: 'Conditional', nullable: true },
  SkuPriceDetails: { type: 'JSON', level: 'Conditional', nullable: true },
  SkuPriceId: { type: 'String', level: 'Conditional', nullable: true },
  SubAccountId: { type: 'String', level: 'Conditional', nullable: true },
  SubAccountName: { type: 'String', level: 'Conditional', nullable: true },
  SubAccountType: { type: 'String', level: 'Conditional', nullable: true },
  Tags: { type: 'JSON', level: 'Conditional', nullable: true },
  // FOCUS 1.3 allocation columns: set on allocated rows only.
  AllocatedMethodId: { type: 'String', level: 'Conditional', nullable: true },
  AllocatedMethodDetails: { type: 'JSON', level: 'Conditional', nullable: true },
};

/** The 1.2 names 1.3 replaced: present, they are an error (the export is 1.3-named). */
const REPLACED: Readonly<Record<string, string>> = {
  ProviderName: 'ServiceProviderName',
  PublisherName: 'HostProviderName',
};

/** FOCUS DateTimeFormat: extended ISO 8601 in UTC, `YYYY-MM-DDTHH:mm:ssZ`. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
/** FOCUS NumericFormat: integer, decimal or E notation (no `+`, no commas or units). */
const NUMERIC = /^-?\d+(\.\d+)?(E-?\d+)?$/;

/** A cell as read from a FOCUS CSV: a string, or null for an empty field. */
export type Cell = string | null;

/** Options of {@link validateFocus}. */
export interface ValidateOptions {
  /**
   * Accept a null ConsumedQuantity and PricingQuantity on a Usage row (the spec requires both
   * when the charge is not a correction). spanledger writes null where its counters do not know
   * the tokens rather than a made-up 0 (docs/finance.md): its tests pass this, and a separate
   * test checks that the strict rule rejects such a row.
   */
  allowUnknownQuantity?: boolean;
}

/** One problem: the row (0-based, -1 for the header), the column and why. */
export interface Problem {
  row: number;
  column: string;
  message: string;
}

/** Every problem of a dataset: its columns (header) and rows (cells by column). */
export function validateFocus(
  columns: readonly string[],
  rows: readonly Readonly<Record<string, Cell>>[],
  options: ValidateOptions = {},
): Problem[] {
  const problems: Problem[] = [];
  const has = new Set(columns);
  for (const [name, def] of Object.entries(FOCUS_COLUMN_DEFS)) {
    if (def.level === 'Mandatory' && !has.has(name)) {
      problems.push({ row: -1, column: name, message: 'mandatory column missing' });
    }
  }
  for (const c of columns) {
    if (REPLACED[c] !== undefined) {
      problems.push({ row: -1, column: c, message: `replaced by ${REPLACED[c]} in FOCUS 1.3` });
    } else if (FOCUS_COLUMN_DEFS[c] === undefined && !c.startsWith('x_')) {
      problems.push({ row: -1, column: c, message: 'custom column without the x_ prefix' });
    }
  }
  rows.forEach((r, i) => {
    const p = (column: string, message: string) => problems.push({ row: i, column, message });
    for (const c of columns) {
      const def = FOCUS_COLUMN_DEFS[c];
      if (def === undefined) continue;
      const v = r[c] ?? null;
      if (v === null || v === '') {
        if (!def.nullable) p(c, 'null in a column that allows no nulls');
        continue;
      }
      if (def.type === 'Decimal' && !NUMERIC.test(v)) p(c, `not a FOCUS decimal: '${v}'`);
      if (def.type === 'DateTime' && !(DATE_TIME.test(v) && !Number.isNaN(Date.parse(v)))) {
        p(c, `not a UTC date/time YYYY-MM-DDTHH:mm:ssZ: '${v}'`);
      }
      if (def.type === 'JSON') {
        let parsed: unknown;
        try {
          parsed = JSON.parse(v);
        } catch {
          p(c, `not JSON: '${v}'`);
        }
        // AllocatedMethodDetailsObject (1.3): { Elements: [{ AllocatedRatio: number, ... }] },
        // custom keys x_-prefixed.
        if (c === 'AllocatedMethodDetails' && parsed !== undefined) {
          const o = parsed as { Elements?: unknown } & Record<string, unknown>;
          const ok =
            typeof o === 'object' &&
            o !== null &&
            Array.isArray(o.Elements) &&
            o.Elements.length > 0 &&
            o.Elements.every(
              (e) => typeof (e as { AllocatedRatio?: unknown }).AllocatedRatio === 'number',
            ) &&
            Object.keys(o).every((k) => k === 'Elements' || k.startsWith('x_'));
          if (!ok) p(c, `not an AllocatedMethodDetails object: '${v}'`);
        }
      }
      if (def.allowed !== undefined && !def.allowed.includes(v)) {
        p(c, `'${v}' is not an allowed value`);
      }
    }
    const get = (c: string): Cell => {
      const v = r[c];
      return v === undefined || v === '' ? null : v;
    };
    // BillingCurrency: an ISO 4217 alphabetic code.
    const currency = get('BillingCurrency');
    if (currency !== null && !/^[A-Z]{3}$/.test(currency)) {
      p('BillingCurrency', `not an ISO 4217 code: '${currency}'`);
    }
    // Periods: the end after the start.
    for (const [start, end] of [
      ['ChargePeriodStart', 'ChargePeriodEnd'],
      ['BillingPeriodStart', 'BillingPeriodEnd'],
    ] as const) {
      const a = get(start);
      const b = get(end);
      if (a !== null && b !== null && !(Date.parse(b) > Date.parse(a))) {
        p(end, `${end} is not after ${start}`);
      }
    }
    // ChargePeriod within the BillingPeriod.
    const cs = get('ChargePeriodStart');
    const bs = get('BillingPeriodStart');
    const ce = get('ChargePeriodEnd');
    const be = get('BillingPeriodEnd');
    if (
      cs &&
      bs &&
      ce &&
      be &&
      (Date.parse(cs) < Date.parse(bs) || Date.parse(ce) > Date.parse(be))
    ) {
      p('ChargePeriodStart', 'the charge period is not within the billing period');
    }
    // Unit columns: null exactly when their quantity is null.
    for (const [q, u] of [
      ['ConsumedQuantity', 'ConsumedUnit'],
      ['PricingQuantity', 'PricingUnit'],
    ] as const) {
      if (!has.has(q) && !has.has(u)) continue;
      if ((get(q) === null) !== (get(u) === null)) p(u, `${u} must be null exactly when ${q} is`);
    }
    // Usage and Purchase rows that are not corrections.
    const category = get('ChargeCategory');
    const correction = get('ChargeClass') === 'Correction';
    if ((category === 'Usage' || category === 'Purchase') && !correction) {
      for (const c of ['SkuId', 'SkuPriceId', 'ListUnitPrice', 'ContractedUnitPrice']) {
        if (has.has(c) && get(c) === null) p(c, `must not be null on a ${category} row`);
      }
      if (get('PricingQuantity') === null && !options.allowUnknownQuantity) {
        p('PricingQuantity', `must not be null on a ${category} row`);
      }
    }
    if (category === 'Usage' && !correction && has.has('ConsumedQuantity')) {
      if (get('ConsumedQuantity') === null && !options.allowUnknownQuantity) {
        p('ConsumedQuantity', 'must not be null on a Usage row');
      }
    }
    if (category !== 'Usage' && get('ConsumedQuantity') !== null) {
      p('ConsumedQuantity', 'must be null unless ChargeCategory is Usage');
    }
    if (category === 'Tax') {
      for (const c of ['PricingQuantity', 'SkuId', 'SkuPriceId']) {
        if (get(c) !== null) p(c, 'must be null on a Tax row');
      }
    }
    if (category === 'Purchase' && get('ChargeFrequency') === 'Usage-Based') {
      p('ChargeFrequency', 'must not be Usage-Based on a Purchase row');
    }
    // ServiceSubcategory belongs to its ServiceCategory.
    const sub = get('ServiceSubcategory');
    const cat = get('ServiceCategory');
    if (sub !== null && cat === 'AI and Machine Learning' && !AI_SUBCATEGORIES.includes(sub)) {
      p('ServiceSubcategory', `'${sub}' is not a subcategory of AI and Machine Learning`);
    }
    // Costs are decimals; Billed, Effective, List and Contracted cost never negative for Usage.
    for (const c of ['BilledCost', 'EffectiveCost', 'ListCost', 'ContractedCost']) {
      const v = get(c);
      if (category === 'Usage' && v !== null && Number(v) < 0) p(c, 'negative on a Usage row');
    }
  });
  return problems;
}

/** Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF) into a header and rows; an empty
 * field is null. */
export function parseFocusCsv(text: string): {
  columns: string[];
  rows: Array<Record<string, Cell>>;
} {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (ch === '"') quoted = false;
      else field += ch;
      i++;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += ch;
    i++;
  }
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  const [header = [], ...body] = records;
  return {
    columns: header,
    rows: body.map((cells) =>
      Object.fromEntries(header.map((c, k) => [c, cells[k] === '' ? null : (cells[k] ?? null)])),
    ),
  };
}
