/**
 * The `finance:` section of the configuration file (docs/finance.md, "Fixed and shared costs"):
 * costs that no span carries, given as monthly (or annual) USD amounts. Fixed costs belong to
 * the labels they name; shared costs are split across one dimension in proportion to measured
 * usage cost (allocation.ts). Validated once, strictly, like the other sections: any problem
 * throws `ConfigError` naming the origin, the entry (`finance.sharedCosts[1].allocateBy`) and
 * why. Label and dimension names are those of the CLI and of the estimate rows (`use_case`,
 * `cost_center`: snake_case), not the camelCase names of budget scopes. The file is read and the
 * section composed in src/config.ts; this module reads no files.
 */
import type { z as Z } from 'zod';
import { ConfigError, describeIssues, zod } from '../config-file.js';
import { BUILTIN, type Dimensions, dimensionName, dimensionValue } from '../dimensions.js';
import type { Day } from './model.js';

/** Labels that are no attribution dimension but group estimate rows all the same. */
export const SPAN_LABELS = ['model', 'provider', 'category', 'service'] as const;

/** What a configured cost costs and when: exactly one of `monthlyUsd` and `annualUsd`. */
export interface CostAmountInput {
  /** Unique among fixed and shared costs: the rows' `name` (a FOCUS charge's identity). */
  name: string;
  /** USD per calendar month, spread evenly over the month's days. */
  monthlyUsd?: number;
  /** USD per year: booked as `annualUsd / 12` a month (straight-line, like a month-end close). */
  annualUsd?: number;
  /** First day the cost applies (`YYYY-MM-DD`, a day of the export's time zone). */
  from?: string | Date;
  /** First day it no longer applies (exclusive). */
  until?: string | Date;
}

/** A fixed cost as written: it belongs to the labels it names. */
export interface FixedCostInput extends CostAmountInput {
  /** Label values by name (`{ use_case: 'support-triage' }`); at least one. */
  labels: Readonly<Record<string, string>>;
}

/** A shared cost as written: split across `allocateBy` by each value's usage cost. */
export interface SharedCostInput extends CostAmountInput {
  /** The dimension to split across (`use_case`, `tenant`, `team`, `cost_center`, ...). */
  allocateBy: string;
  /** Labels every row of the cost carries (e.g. `{ category: vector_store }`); not `allocateBy`. */
  labels?: Readonly<Record<string, string>>;
}

/** The `finance:` section as written (file or object in code). */
export interface FinanceConfigInput {
  fixedCosts?: readonly FixedCostInput[];
  sharedCosts?: readonly SharedCostInput[];
}

/** A validated cost: the amount as USD per month, dates as `YYYY-MM-DD`. */
export interface CostBase {
  name: string;
  /** USD per calendar month (`annualUsd / 12` when the file gave a yearly amount). */
  monthlyUsd: number;
  /** First day it applies, inclusive; absent: always. */
  from?: Day;
  /** First day it no longer applies; absent: no end. */
  until?: Day;
  labels: Readonly<Record<string, string>>;
}

/** A validated fixed cost. */
export type FixedCost = CostBase;

/** A validated shared cost. */
export interface SharedCost extends CostBase {
  allocateBy: string;
}

/** The validated `finance:` section. */
export interface FinanceConfig {
  fixedCosts: FixedCost[];
  sharedCosts: SharedCost[];
}

/** Options of the finance schema. */
export interface FinanceSchemaOptions {
  /** The dimensions in force (built-in and extra): their names may label costs. Default: the
   * built-ins. */
  dimensions?: Dimensions;
}

/** Costs per list: a configuration names a handful; thousands would be a generated file gone
 * wrong, and every one of them multiplies the rows of an export. */
export const MAX_COSTS = 1000;

/**
 * The names a cost's labels and `allocateBy` may use: each dimension in force by its CLI name
 * (the attribute key below `spanledger.`: `use_case`, `cost_center`; else the dimension's own
 * name: `agent`, or an extra key such as `deployment.environment`), then {@link SPAN_LABELS}.
 */
export function labelNames(dimensions: Dimensions = BUILTIN): string[] {
  const names = dimensions.all.map((d) =>
    d.key.startsWith('spanledger.') ? dimensionName(d.key) : d.name,
  );
  return [...names, ...SPAN_LABELS.filter((n) => !names.includes(n))];
}

type Ctx = Z.core.$RefinementCtx;

const fail = (ctx: Ctx, path: (string | number)[], message: string): void => {
  ctx.addIssue({ code: 'custom', path, message });
};

/** Why `name` is no label name, or undefined when it is one. */
function unknownLabel(name: string, known: readonly string[], dimensions: Dimensions): string {
  // A budget scope's name (`useCase`) for the same dimension: say which spelling finance uses.
  const key = dimensions.keyOf(name);
  const snake = key?.startsWith('spanledger.') ? dimensionName(key) : undefined;
  if (snake !== undefined && snake !== name) return `labels use the CLI's names: use ${snake}`;
  return `unknown label ${JSON.stringify(name)} (known: ${known.join(', ')})`;
}

/** `YYYY-MM-DD` of a real calendar date, or undefined. */
export function parseDay(value: string): Day | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (m === null) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d
    ? value
    : undefined;
}

function buildSchema(dimensions: Dimensions) {
  const z = zod();
  const known = labelNames(dimensions);
  const usd = z.number().finite().nonnegative();
  // YAML 1.2 reads 2026-01-01 as a string; a YAML 1.1 reader or code may hand a Date (its UTC
  // date is the day written).
  const day = z.union([z.string(), z.date()]).transform((value, ctx): Day => {
    const text = value instanceof Date ? value.toISOString().slice(0, 10) : value;
    const parsed = parseDay(text);
    if (parsed === undefined) {
      fail(ctx, [], `expected a date YYYY-MM-DD, got ${JSON.stringify(text)}`);
      return z.NEVER;
    }
    return parsed;
  });
  const labels = z.record(z.string(), z.unknown()).transform((value, ctx) => {
    const out: Record<string, string> = {};
    for (const [name, v] of Object.entries(value)) {
      if (!known.includes(name)) fail(ctx, [name], unknownLabel(name, known, dimensions));
      // The one rule of dimensions.ts: a blank value is no value, and would not match spend.
      else if (typeof v !== 'string' || dimensionValue(v) === undefined)
        fail(ctx, [name], 'expected a non-blank string');
      else out[name] = v;
    }
    return out;
  });
  const common = {
    name: z.string().min(1).max(100),
    monthlyUsd: usd.optional(),
    annualUsd: usd.optional(),
    from: day.optional(),
    until: day.optional(),
  };
  const base = (
    c: { name: string; monthlyUsd?: number; annualUsd?: number; from?: Day; until?: Day },
    costLabels: Record<string, string>,
    ctx: Ctx,
  ): CostBase => {
    if ((c.monthlyUsd === undefined) === (c.annualUsd === undefined)) {
      fail(ctx, [], 'give exactly one of monthlyUsd or annualUsd');
    }
    if (c.from !== undefined && c.until !== undefined && c.until <= c.from) {
      fail(ctx, ['until'], `must be after from (${c.from}): until is the first day not charged`);
    }
    const out: CostBase = {
      name: c.name,
      monthlyUsd: c.monthlyUsd ?? (c.annualUsd ?? 0) / 12,
      labels: costLabels,
    };
    if (c.from !== undefined) out.from = c.from;
    if (c.until !== undefined) out.until = c.until;
    return out;
  };
  const fixed = z
    .object({ ...common, labels })
    .strict()
    .transform((c, ctx): FixedCost => {
      if (Object.keys(c.labels).length === 0) {
        fail(ctx, ['labels'], 'a fixed cost belongs to at least one label, e.g. { use_case: ... }');
      }
      return base(c, c.labels, ctx);
    });
  const shared = z
    .object({ ...common, allocateBy: z.string(), labels: labels.optional() })
    .strict()
    .transform((c, ctx): SharedCost => {
      if (!known.includes(c.allocateBy)) {
        fail(ctx, ['allocateBy'], unknownLabel(c.allocateBy, known, dimensions));
      } else if (c.labels?.[c.allocateBy] !== undefined) {
        fail(ctx, ['labels', c.allocateBy], `the cost is split across ${c.allocateBy}`);
      }
      return { ...base(c, c.labels ?? {}, ctx), allocateBy: c.allocateBy };
    });
  return z
    .object({
      fixedCosts: z.array(fixed).max(MAX_COSTS).default([]),
      sharedCosts: z.array(shared).max(MAX_COSTS).default([]),
    })
    .strict()
    .superRefine((f, ctx) => {
      // The name is a cost's identity in the export: two costs of one name would read as one.
      const seen = new Map<string, string>();
      for (const list of ['fixedCosts', 'sharedCosts'] as const) {
        f[list].forEach((c, i) => {
          const first = seen.get(c.name);
          if (first !== undefined) {
            fail(ctx, [list, i, 'name'], `duplicate name "${c.name}" (also finance.${first})`);
          } else seen.set(c.name, `${list}[${i}]`);
        });
      }
    });
}

/**
 * Schema of the `finance:` section, to embed in the file's schema (src/config.ts); issue paths
 * are relative to the section. Built on demand (zod loads with the first schema).
 */
export function createFinanceSchema(options: FinanceSchemaOptions = {}) {
  return buildSchema(options.dimensions ?? BUILTIN);
}

/**
 * Validate a `finance:` section given in code; `origin` names it in errors:
 * `spanledger: invalid finance in <origin>: finance.fixedCosts[0].labels.useCase: ...`.
 */
export function validateFinance(
  input: unknown,
  origin: string,
  options: FinanceSchemaOptions = {},
): FinanceConfig {
  if (input === undefined || input === null) return { fixedCosts: [], sharedCosts: [] };
  // Parsed under a `finance` key so that every path reads as it does in the file.
  const parsed = zod()
    .object({ finance: createFinanceSchema(options) })
    .safeParse({ finance: input });
  if (!parsed.success) {
    throw new ConfigError(
      `spanledger: invalid finance in ${origin}: ${describeIssues(parsed.error.issues)}`,
    );
  }
  return parsed.data.finance;
}
