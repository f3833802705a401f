/**
 * Budget definitions (docs/budgets.md): the `budgets:` list of the config file, or the same list
 * given in code. Validated once at startup; any problem throws `ConfigError` naming the origin,
 * the entry path (`budgets[2].window.timeZone`) and the reason. Scope keys are dimension names
 * from the dimensions in force (built-in and extra, src/dimensions.ts), handed in by the caller.
 */
import type { z as Z } from 'zod';
import { ConfigError, describeIssues, zod } from '../config-file.js';
import { BUILTIN, type Dimensions, dimensionValue } from '../dimensions.js';

/** What happens when a budget is exceeded (docs/budgets.md). */
export type BudgetAction = 'alert' | 'degrade' | 'block' | 'pause';

/** Matcher value meaning "any value, one budget window per distinct value". */
export const PER_VALUE = '*';

/** A dimension matcher: one value, any of several values (one shared window), or `'*'`. */
export type ScopeMatcher = string | readonly string[];

/** Dimension matchers, all of which must match; keys are dimension names (`team`, `tenant`,
 * ...), including configured extra dimensions. */
export type ScopeMatchers = Readonly<Record<string, ScopeMatcher>>;

/** `'trace'`: every run; or dimension matchers. */
export type BudgetScope = 'trace' | ScopeMatchers;

/** The calendar periods a window can span. */
export type CalendarPeriod = 'day' | 'week' | 'month' | 'quarter' | 'year';

/** A calendar window in a named IANA time zone. */
export interface CalendarWindow {
  calendar: CalendarPeriod;
  /** IANA time zone, e.g. `America/New_York`; windows start at local midnight. */
  timeZone: string;
  /** First day of a week (`calendar: 'week'` only). Default `monday` (ISO 8601). */
  weekStartsOn?: 'monday' | 'sunday';
  /** Month the fiscal year starts in, 1-12 (`calendar: 'quarter'` and `'year'` only). Quarters
   * start in this month and every third month after. Default 1 (January). */
  fiscalYearStartMonth?: number;
}

/** A rolling window of the last `rollingMs` milliseconds. */
export interface RollingWindow {
  rollingMs: number;
}

/** When spend counts: a calendar period, a rolling duration, or one run (`'trace'`). */
export type BudgetWindow = CalendarWindow | RollingWindow | 'trace';

/** What `degrade` suggests to the caller; every field is advisory. */
export interface DegradeSuggestion {
  /** A cheaper model to switch to. */
  model?: string;
  /** A lower max-output-tokens setting. */
  maxTokens?: number;
  /** Skip optional tools and evaluations. */
  skipOptional?: boolean;
}

/** Token types a token limit may name, as usage records count them (docs/pricing.md, "How token
 * counts are read"): `input` includes cache reads and writes, `output` includes reasoning. */
export const TOKEN_TYPES = ['input', 'output', 'cacheRead', 'cacheWrite', 'reasoning'] as const;

/** One of {@link TOKEN_TYPES}. */
export type TokenType = (typeof TOKEN_TYPES)[number];

/** Token counts (or limits) by type. */
export type TokenCounts = Partial<Record<TokenType, number>>;

/** A budget as written by users (YAML/JSON entry or object in code). */
export interface BudgetInput {
  /** Unique name; also the budget's identity in the ledger (rename to start afresh). */
  name: string;
  scope: BudgetScope;
  /** Required unless the scope is `'trace'` (then it defaults to `'trace'`). */
  window?: BudgetWindow;
  /** USD limit per window (or run). A budget needs at least one limit. */
  limitUsd?: number;
  /** LLM calls per window (or run). */
  maxLlmCalls?: number;
  /** Tool calls per window (or run). */
  maxToolCalls?: number;
  /** Tokens per window (or run): input plus output, or, on calendar and rolling windows, a
   * limit per token type (`{ input: 1_500_000, output: 500_000 }`), each enforced. */
  maxTokens?: number | TokenCounts;
  /** How many identical tool calls (same name and arguments) a run may make (`window: 'trace'`
   * only). */
  maxRepeatedToolCalls?: number;
  /** Warning thresholds as fractions of each limit, each in (0, 1). Default `[0.5, 0.8]`. Per-run
   * budgets warn on `limitUsd` only. */
  warnAt?: readonly number[];
  /** Default `alert`. */
  action?: BudgetAction;
  /** Suggestion returned with `degrade` decisions (`action: 'degrade'` only). */
  degrade?: DegradeSuggestion;
}

/** A validated budget: defaults applied, `warnAt` sorted ascending. */
export interface Budget {
  name: string;
  scope: BudgetScope;
  window: BudgetWindow;
  limitUsd?: number;
  maxLlmCalls?: number;
  maxToolCalls?: number;
  maxTokens?: number | TokenCounts;
  maxRepeatedToolCalls?: number;
  warnAt: readonly number[];
  action: BudgetAction;
  degrade?: DegradeSuggestion;
}

/** Options of the budgets schema. */
export interface BudgetsSchemaOptions {
  /** The dimensions scopes may name (built-in and extra). Default: the built-ins. */
  dimensions?: Dimensions;
}

const COUNT_LIMITS = ['maxLlmCalls', 'maxToolCalls', 'maxTokens', 'maxRepeatedToolCalls'] as const;
const LIMITS = ['limitUsd', ...COUNT_LIMITS] as const;

/** Rolling windows are kept in 60 buckets: anything under a second is a typo. */
const MIN_ROLLING_MS = 1000;
/** One leap year and a bit; longer windows belong in a calendar window. */
const MAX_ROLLING_MS = 400 * 24 * 3_600_000;

type Ctx = Z.core.$RefinementCtx;

function fail(ctx: Ctx, path: (string | number)[], message: string): void {
  ctx.addIssue({ code: 'custom', path, message });
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether Intl knows the zone. Node 20 ships full ICU, so every IANA zone is available. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

function parseScope(value: unknown, known: Dimensions, ctx: Ctx): BudgetScope {
  if (value === 'trace') return 'trace';
  if (!isRecord(value)) {
    fail(ctx, [], `expected 'trace' or dimension matchers such as { team: 'payments' }`);
    return zod().NEVER;
  }
  const keys = Object.keys(value);
  if (keys.length === 0) {
    // An empty matcher set would silently match everything; make the intent explicit.
    fail(ctx, [], `empty scope: name at least one dimension (e.g. tenant: '*'), or use 'trace'`);
  }
  const out: Record<string, ScopeMatcher> = {};
  for (const key of keys) {
    const v = value[key];
    const unknown = known.unknown(key);
    if (unknown !== undefined) {
      fail(ctx, [key], unknown);
      continue;
    }
    if (typeof v === 'string') {
      if (v === '') fail(ctx, [key], 'empty value');
      out[key] = v;
    } else if (Array.isArray(v)) {
      if (v.length === 0) fail(ctx, [key], 'empty list of values');
      v.forEach((item, i) => {
        if (typeof item !== 'string' || item === '') {
          fail(ctx, [key, i], 'expected a non-empty string');
        } else if (item === PER_VALUE) {
          // A list shares one window; '*' means one window per value. Both at once is ambiguous.
          fail(ctx, [key, i], `'*' cannot be part of a list; use ${key}: '*' alone`);
        }
      });
      out[key] = [...new Set(v as string[])];
    } else {
      fail(ctx, [key], `expected a string, a list of strings, or '*'`);
    }
  }
  return out;
}

function parseWindow(value: unknown, ctx: Ctx): BudgetWindow {
  if (value === 'trace') return 'trace';
  if (!isRecord(value)) {
    fail(ctx, [], `expected 'trace', { calendar, timeZone } or { rollingMs }`);
    return zod().NEVER;
  }
  const keys = Object.keys(value);
  if ('rollingMs' in value) {
    for (const k of keys) if (k !== 'rollingMs') fail(ctx, [k], `not allowed with rollingMs`);
    const ms = value.rollingMs;
    if (typeof ms !== 'number' || !Number.isInteger(ms)) {
      fail(ctx, ['rollingMs'], 'expected an integer number of milliseconds');
    } else if (ms < MIN_ROLLING_MS || ms > MAX_ROLLING_MS) {
      fail(
        ctx,
        ['rollingMs'],
        `must be between ${MIN_ROLLING_MS} and ${MAX_ROLLING_MS} (400 days)`,
      );
    }
    return { rollingMs: ms as number };
  }
  if (!('calendar' in value)) {
    fail(ctx, [], `expected 'trace', { calendar, timeZone } or { rollingMs }`);
    return zod().NEVER;
  }
  for (const k of keys) {
    if (!CALENDAR_KEYS.has(k)) {
      fail(
        ctx,
        [k],
        `unknown key (calendar windows take calendar, timeZone, weekStartsOn, fiscalYearStartMonth)`,
      );
    }
  }
  const { calendar, timeZone, weekStartsOn, fiscalYearStartMonth } = value;
  if (!CALENDAR_PERIODS.includes(calendar as CalendarPeriod)) {
    fail(
      ctx,
      ['calendar'],
      `expected 'day', 'week', 'month', 'quarter' or 'year', got ${JSON.stringify(calendar)}`,
    );
  }
  if (timeZone === undefined) {
    // No silent UTC: a day in UTC is not the day people in New York budget for.
    fail(ctx, ['timeZone'], 'required (an IANA time zone such as America/New_York or UTC)');
  } else if (typeof timeZone !== 'string' || !isValidTimeZone(timeZone)) {
    fail(ctx, ['timeZone'], `unknown IANA time zone ${JSON.stringify(timeZone)}`);
  }
  if (weekStartsOn !== undefined) {
    if (calendar !== 'week') {
      fail(ctx, ['weekStartsOn'], `only applies to calendar: 'week'`);
    } else if (weekStartsOn !== 'monday' && weekStartsOn !== 'sunday') {
      fail(ctx, ['weekStartsOn'], `expected 'monday' or 'sunday'`);
    }
  }
  if (fiscalYearStartMonth !== undefined) {
    if (calendar !== 'quarter' && calendar !== 'year') {
      fail(ctx, ['fiscalYearStartMonth'], `only applies to calendar: 'quarter' or 'year'`);
    } else if (
      typeof fiscalYearStartMonth !== 'number' ||
      !Number.isInteger(fiscalYearStartMonth) ||
      fiscalYearStartMonth < 1 ||
      fiscalYearStartMonth > 12
    ) {
      fail(
        ctx,
        ['fiscalYearStartMonth'],
        `expected a month number from 1 (January) to 12, got ${JSON.stringify(fiscalYearStartMonth)}`,
      );
    }
  }
  const out: CalendarWindow = {
    calendar: calendar as CalendarPeriod,
    timeZone: timeZone as string,
  };
  if (weekStartsOn !== undefined) out.weekStartsOn = weekStartsOn as 'monday' | 'sunday';
  // Default January is not written out: a window's key and label stay those of a plain year.
  if (fiscalYearStartMonth !== undefined && fiscalYearStartMonth !== 1) {
    out.fiscalYearStartMonth = fiscalYearStartMonth as number;
  }
  return out;
}

const CALENDAR_PERIODS: readonly CalendarPeriod[] = ['day', 'week', 'month', 'quarter', 'year'];
const CALENDAR_KEYS = new Set(['calendar', 'timeZone', 'weekStartsOn', 'fiscalYearStartMonth']);

function budgetSchema(known: Dimensions) {
  const z = zod();
  const count = z.number().int().positive();
  return z
    .object({
      name: z.string().min(1).max(100),
      scope: z.unknown().transform((v, ctx) => parseScope(v, known, ctx)),
      window: z
        .unknown()
        .optional()
        .transform((v, ctx) => (v === undefined ? undefined : parseWindow(v, ctx))),
      limitUsd: z.number().finite().nonnegative().optional(),
      maxLlmCalls: count.optional(),
      maxToolCalls: count.optional(),
      maxTokens: z
        .union([
          count,
          z
            .object(Object.fromEntries(TOKEN_TYPES.map((t) => [t, count.optional()])))
            .strict()
            .refine((o) => Object.values(o).some((v) => v !== undefined), {
              error: `name at least one token type (${TOKEN_TYPES.join(', ')})`,
            }),
        ])
        .optional(),
      maxRepeatedToolCalls: count.optional(),
      warnAt: z
        .array(
          z
            .number()
            .gt(0, 'a warning threshold is a fraction in (0, 1), e.g. 0.8')
            .lt(1, 'a warning threshold is a fraction in (0, 1), e.g. 0.8'),
        )
        .optional(),
      action: z.enum(['alert', 'degrade', 'block', 'pause']).default('alert'),
      degrade: z
        .object({
          model: z.string().min(1).optional(),
          maxTokens: count.optional(),
          skipOptional: z.boolean().optional(),
        })
        .strict()
        .optional(),
    })
    .strict()
    .transform((b, ctx): Budget => {
      let window = b.window;
      if (window === undefined) {
        if (b.scope === 'trace') window = 'trace';
        else
          fail(
            ctx,
            ['window'],
            `required for a dimension scope ({ calendar, timeZone } or { rollingMs })`,
          );
      } else if (b.scope === 'trace' && window !== 'trace') {
        fail(ctx, ['window'], `scope 'trace' is per run: its window is 'trace'`);
      }
      const perRun = window === undefined || window === 'trace';
      if (!perRun) {
        if (b.maxRepeatedToolCalls !== undefined) {
          fail(ctx, ['maxRepeatedToolCalls'], `per-run limit: only with window 'trace'`);
        }
      } else if (b.maxTokens !== undefined && typeof b.maxTokens !== 'number') {
        // A run counts input plus output tokens only (its rollup attributes).
        fail(ctx, ['maxTokens'], 'per token type: calendar and rolling windows only');
      }
      if (LIMITS.every((k) => b[k] === undefined)) {
        fail(
          ctx,
          [],
          perRun
            ? `a budget needs a limit (${LIMITS.join(', ')})`
            : `a budget needs a limit (${LIMITS.filter((k) => k !== 'maxRepeatedToolCalls').join(', ')})`,
        );
      }
      if (perRun && b.action === 'pause') {
        // A run ends by itself; a pause outlives windows, which a run does not have.
        fail(
          ctx,
          ['action'],
          `'pause' applies to calendar and rolling windows: use 'block' per run`,
        );
      }
      if (b.degrade !== undefined && b.action !== 'degrade') {
        fail(ctx, ['degrade'], `only with action: 'degrade'`);
      }
      const warnAt = [...(b.warnAt ?? [0.5, 0.8])].sort((x, y) => x - y);
      if (new Set(warnAt).size !== warnAt.length) fail(ctx, ['warnAt'], 'duplicate threshold');
      // Per-run budgets warn on their USD limit only; window budgets on each limit.
      const warns = !perRun || b.limitUsd !== undefined;
      if (b.warnAt !== undefined && b.warnAt.length > 0 && !warns) {
        fail(ctx, ['warnAt'], 'warning thresholds are fractions of limitUsd, which is not set');
      }
      const out: Budget = {
        name: b.name,
        scope: b.scope,
        window: window ?? 'trace',
        warnAt: warns ? warnAt : [],
        action: b.action,
      };
      if (b.limitUsd !== undefined) out.limitUsd = b.limitUsd;
      if (b.maxLlmCalls !== undefined) out.maxLlmCalls = b.maxLlmCalls;
      if (b.maxToolCalls !== undefined) out.maxToolCalls = b.maxToolCalls;
      if (b.maxRepeatedToolCalls !== undefined) out.maxRepeatedToolCalls = b.maxRepeatedToolCalls;
      if (typeof b.maxTokens === 'number') out.maxTokens = b.maxTokens;
      else if (b.maxTokens !== undefined) {
        const byType: TokenCounts = {};
        for (const t of TOKEN_TYPES) {
          const v = b.maxTokens[t];
          if (v !== undefined) byType[t] = v;
        }
        out.maxTokens = byType;
      }
      if (b.degrade !== undefined) out.degrade = b.degrade;
      return out;
    });
}

/**
 * Schema of the `budgets:` list. Embed it in another schema (e.g. the prices file's
 * `budgets` key); issue paths are relative to the list. Built on demand: zod is loaded with the
 * first schema, never by a service that configures no budgets (docs/performance.md, "2026-11-30: startup").
 */
export function createBudgetsSchema(options: BudgetsSchemaOptions = {}) {
  return zod()
    .array(budgetSchema(options.dimensions ?? BUILTIN))
    .superRefine((list, ctx) => {
      const seen = new Map<string, number>();
      list.forEach((b, i) => {
        const first = seen.get(b.name);
        // The name is the budget's identity in the ledger: two budgets would share windows.
        if (first !== undefined)
          fail(ctx, [i, 'name'], `duplicate name "${b.name}" (also budgets[${first}])`);
        else seen.set(b.name, i);
      });
    });
}

/**
 * Validate a budgets list; `origin` names it in errors (a file path, or `options.budgets`).
 * Errors read `spanledger: invalid budgets in <origin>: budgets[2].window.timeZone: ...`.
 */
export function validateBudgets(
  input: unknown,
  origin: string,
  options: BudgetsSchemaOptions = {},
): Budget[] {
  // No budgets needs no schema (nor zod).
  if (input === undefined || input === null || (Array.isArray(input) && input.length === 0)) {
    return [];
  }
  // Parse under a `budgets` key so every path names the list, as it appears in the file.
  const parsed = zod()
    .object({ budgets: createBudgetsSchema(options) })
    .safeParse({ budgets: input });
  if (!parsed.success) {
    throw new ConfigError(
      `spanledger: invalid budgets in ${origin}: ${describeIssues(parsed.error.issues)}`,
    );
  }
  return parsed.data.budgets;
}

/**
 * Match a budget's dimension scope against the dimension values of a span or context.
 * Returns `undefined` when the budget does not apply, otherwise the values that select the
 * budget's window: one entry per `'*'` dimension (per-value budgets), `{}` when the budget has
 * one shared window. A dimension that is absent (or blank: the one rule of `dimensionValue`)
 * never matches, not even `'*'`. Trace scopes
 * always match with `{}`.
 */
export function matchScope(
  scope: BudgetScope,
  values: Readonly<Record<string, string | undefined>>,
): Record<string, string> | undefined {
  if (scope === 'trace') return {};
  const grouped: Record<string, string> = {};
  for (const key in scope) {
    const matcher = scope[key] as ScopeMatcher;
    const value = dimensionValue(values[key]);
    if (value === undefined) return undefined;
    if (matcher === PER_VALUE) grouped[key] = value;
    else if (typeof matcher === 'string' ? matcher !== value : !matcher.includes(value)) {
      return undefined;
    }
  }
  return grouped;
}
