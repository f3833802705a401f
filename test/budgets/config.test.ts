import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type BudgetInput,
  createBudgetsSchema,
  matchScope,
  validateBudgets,
} from '../../src/budgets/config.js';
import { loadBudgetsFile } from '../../src/config.js';
import { createDimensions } from '../../src/dimensions.js';
import { configErrorOf } from '../support/errors.js';

const monthly = {
  name: 'team-monthly',
  scope: { team: 'payments' },
  window: { calendar: 'month', timeZone: 'America/New_York' },
  limitUsd: 500,
  action: 'block',
} as const;

const invalid = (entry: Record<string, unknown>, ...before: unknown[]): string =>
  configErrorOf(() => validateBudgets([...before, entry], 'options.budgets'));

describe('validateBudgets: valid definitions', () => {
  it('applies defaults: warnAt [0.5, 0.8], action alert, trace window for trace scope', () => {
    const [perRun] = validateBudgets(
      [{ name: 'per-run', scope: 'trace', limitUsd: 2, maxLlmCalls: 50 }],
      'options.budgets',
    );
    expect(perRun).toEqual({
      name: 'per-run',
      scope: 'trace',
      window: 'trace',
      limitUsd: 2,
      maxLlmCalls: 50,
      warnAt: [0.5, 0.8],
      action: 'alert',
    });
  });

  it('keeps scopes, windows, sorted thresholds and the degrade suggestion', () => {
    const input: BudgetInput[] = [
      monthly,
      {
        name: 'tenant-daily',
        scope: { tenant: '*', useCase: ['support', 'sales'] },
        window: { calendar: 'week', timeZone: 'Europe/Berlin', weekStartsOn: 'sunday' },
        limitUsd: 20,
        warnAt: [0.9, 0.25],
        action: 'degrade',
        degrade: { model: 'gpt-4o-mini', maxTokens: 512, skipOptional: true },
      },
      { name: 'burst', scope: { agent: 'planner' }, window: { rollingMs: 3_600_000 }, limitUsd: 5 },
      {
        name: 'loops',
        scope: 'trace',
        window: 'trace',
        maxRepeatedToolCalls: 3,
        maxToolCalls: 100,
        maxTokens: 1_000_000,
        action: 'block',
      },
    ];
    const out = validateBudgets(input, 'options.budgets');
    expect(out[0]).toMatchObject({ window: { calendar: 'month', timeZone: 'America/New_York' } });
    expect(out[1]).toMatchObject({
      scope: { tenant: '*', useCase: ['support', 'sales'] },
      warnAt: [0.25, 0.9],
      degrade: { model: 'gpt-4o-mini', maxTokens: 512, skipOptional: true },
    });
    expect(out[2]?.window).toEqual({ rollingMs: 3_600_000 });
    // Without a USD limit there is nothing to warn about.
    expect(out[3]).toMatchObject({ maxRepeatedToolCalls: 3, warnAt: [], action: 'block' });
  });

  it('per-run caps for matching runs: a dimension scope with window trace', () => {
    const [b] = validateBudgets(
      [{ name: 'support-run', scope: { useCase: 'support' }, window: 'trace', maxLlmCalls: 20 }],
      'x',
    );
    expect(b?.window).toBe('trace');
  });

  it('extra configured dimensions are accepted', () => {
    const b = { name: 'r', scope: { region: 'eu' }, window: 'trace', limitUsd: 1 };
    expect(configErrorOf(() => validateBudgets([b], 'x'))).toContain(
      'budgets[0].scope.region: unknown dimension "region"',
    );
    const dimensions = createDimensions(['spanledger.region'], 'SPANLEDGER_DIMENSIONS');
    expect(validateBudgets([b], 'x', { dimensions })[0]?.scope).toEqual({ region: 'eu' });
  });

  it('undefined and empty lists mean no budgets', () => {
    expect(validateBudgets(undefined, 'x')).toEqual([]);
    expect(validateBudgets([], 'x')).toEqual([]);
  });

  it('the schema can be embedded; paths are relative to the list', () => {
    const r = createBudgetsSchema().safeParse([{ ...monthly, limitUsd: -1 }]);
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual([0, 'limitUsd']);
  });
});

describe('validateBudgets: errors name origin, entry and reason', () => {
  it('unknown IANA time zone', () => {
    const msg = invalid(
      { ...monthly, name: 'c', window: { calendar: 'day', timeZone: 'America/New_Yrok' } },
      { ...monthly, name: 'a' },
      { ...monthly, name: 'b' },
    );
    expect(msg).toBe(
      'spanledger: invalid budgets in options.budgets: budgets[2].window.timeZone: unknown IANA time zone "America/New_Yrok"',
    );
  });

  it('missing time zone, bad calendar, weekStartsOn on a month', () => {
    expect(invalid({ ...monthly, window: { calendar: 'month' } })).toContain(
      'budgets[0].window.timeZone: required',
    );
    expect(invalid({ ...monthly, window: { calendar: 'fortnight', timeZone: 'UTC' } })).toBe(
      `spanledger: invalid budgets in options.budgets: budgets[0].window.calendar: expected 'day', 'week', 'month', 'quarter' or 'year', got "fortnight"`,
    );
    expect(
      invalid({
        ...monthly,
        window: { calendar: 'month', timeZone: 'UTC', weekStartsOn: 'monday' },
      }),
    ).toContain(`budgets[0].window.weekStartsOn: only applies to calendar: 'week'`);
    expect(
      invalid({
        ...monthly,
        window: { calendar: 'week', timeZone: 'UTC', weekStartsOn: 'friday' },
      }),
    ).toContain(`budgets[0].window.weekStartsOn: expected 'monday' or 'sunday'`);
  });

  it('fiscalYearStartMonth: a month number, on quarters and years only', () => {
    const window = (w: object) => ({ ...monthly, window: { timeZone: 'Europe/Paris', ...w } });
    expect(invalid(window({ calendar: 'month', fiscalYearStartMonth: 4 }))).toBe(
      `spanledger: invalid budgets in options.budgets: budgets[0].window.fiscalYearStartMonth: only applies to calendar: 'quarter' or 'year'`,
    );
    for (const bad of [0, 13, 4.5, 'april']) {
      expect(invalid(window({ calendar: 'quarter', fiscalYearStartMonth: bad }))).toBe(
        `spanledger: invalid budgets in options.budgets: budgets[0].window.fiscalYearStartMonth: expected a month number from 1 (January) to 12, got ${JSON.stringify(bad)}`,
      );
    }
    expect(invalid(window({ calendar: 'year', fiscalStart: 4 }))).toContain(
      'budgets[0].window.fiscalStart: unknown key (calendar windows take calendar, timeZone, weekStartsOn, fiscalYearStartMonth)',
    );
  });

  it('quarter and year windows: the fiscal start month is kept, January is the default', () => {
    const [q, y, plain] = validateBudgets(
      [
        {
          ...monthly,
          name: 'q',
          window: { calendar: 'quarter', timeZone: 'Europe/Paris', fiscalYearStartMonth: 4 },
        },
        {
          ...monthly,
          name: 'y',
          window: { calendar: 'year', timeZone: 'UTC', fiscalYearStartMonth: 1 },
        },
        { ...monthly, name: 'p', window: { calendar: 'year', timeZone: 'UTC' } },
      ],
      'options.budgets',
    );
    expect(q?.window).toEqual({
      calendar: 'quarter',
      timeZone: 'Europe/Paris',
      fiscalYearStartMonth: 4,
    });
    expect(y?.window).toEqual({ calendar: 'year', timeZone: 'UTC' });
    expect(plain?.window).toEqual(y?.window);
  });

  it('calls and tokens on calendar and rolling windows, with or without a USD limit', () => {
    const { limitUsd: _l, ...noLimit } = monthly;
    const [tokens, calls, both] = validateBudgets(
      [
        { ...noLimit, name: 't', maxTokens: 2_000_000 },
        {
          ...noLimit,
          name: 'c',
          window: { rollingMs: 60_000 },
          maxLlmCalls: 100,
          maxToolCalls: 50,
        },
        { ...monthly, name: 'b', maxTokens: { input: 1_500_000, output: 500_000 }, warnAt: [0.9] },
      ],
      'options.budgets',
    );
    expect(tokens).toEqual({
      name: 't',
      scope: { team: 'payments' },
      window: { calendar: 'month', timeZone: 'America/New_York' },
      maxTokens: 2_000_000,
      // Warnings at fractions of every limit the budget has.
      warnAt: [0.5, 0.8],
      action: 'block',
    });
    expect(calls).toMatchObject({ maxLlmCalls: 100, maxToolCalls: 50, warnAt: [0.5, 0.8] });
    expect(calls?.limitUsd).toBeUndefined();
    expect(both).toMatchObject({
      limitUsd: 500,
      maxTokens: { input: 1_500_000, output: 500_000 },
      warnAt: [0.9],
    });
  });

  it('bad rolling windows', () => {
    expect(invalid({ ...monthly, window: { rollingMs: 500 } })).toContain(
      'budgets[0].window.rollingMs: must be between 1000 and',
    );
    expect(invalid({ ...monthly, window: { rollingMs: '1h' } })).toContain(
      'budgets[0].window.rollingMs: expected an integer number of milliseconds',
    );
    expect(invalid({ ...monthly, window: { rollingMs: 60_000, timeZone: 'UTC' } })).toContain(
      'budgets[0].window.timeZone: not allowed with rollingMs',
    );
  });

  it('per-run-only limits on calendar or rolling windows; per-type token limits on runs', () => {
    expect(invalid({ ...monthly, maxRepeatedToolCalls: 3 })).toBe(
      `spanledger: invalid budgets in options.budgets: budgets[0].maxRepeatedToolCalls: per-run limit: only with window 'trace'`,
    );
    expect(invalid({ name: 'r', scope: 'trace', maxTokens: { input: 10 } })).toBe(
      'spanledger: invalid budgets in options.budgets: budgets[0].maxTokens: per token type: calendar and rolling windows only',
    );
    expect(
      invalid({ ...monthly, window: { rollingMs: 60_000 }, maxRepeatedToolCalls: 3 }),
    ).toContain(`budgets[0].maxRepeatedToolCalls: per-run limit: only with window 'trace'`);
  });

  it('scope trace with a calendar window; dimension scope without a window', () => {
    expect(invalid({ ...monthly, scope: 'trace' })).toContain(
      `budgets[0].window: scope 'trace' is per run: its window is 'trace'`,
    );
    const { window: _w, ...noWindow } = monthly;
    expect(invalid(noWindow)).toContain('budgets[0].window: required for a dimension scope');
  });

  it('duplicate names', () => {
    expect(invalid({ ...monthly }, { ...monthly }, { ...monthly, name: 'other' })).toBe(
      'spanledger: invalid budgets in options.budgets: budgets[2].name: duplicate name "team-monthly" (also budgets[0])',
    );
  });

  it('empty scopes and empty matcher values', () => {
    expect(invalid({ ...monthly, scope: {} })).toContain('budgets[0].scope: empty scope');
    expect(invalid({ ...monthly, scope: { team: '' } })).toContain(
      'budgets[0].scope.team: empty value',
    );
    expect(invalid({ ...monthly, scope: { team: [] } })).toContain(
      'budgets[0].scope.team: empty list of values',
    );
    expect(invalid({ ...monthly, scope: { team: ['a', '*'] } })).toContain(
      `budgets[0].scope.team[1]: '*' cannot be part of a list`,
    );
    expect(invalid({ ...monthly, scope: { team: 3 } })).toContain(
      'budgets[0].scope.team: expected a string, a list of strings',
    );
    expect(invalid({ ...monthly, scope: 'global' })).toContain(
      `budgets[0].scope: expected 'trace' or dimension matchers`,
    );
  });

  it('limits, thresholds, actions, degrade', () => {
    const { limitUsd: _l, ...noLimit } = monthly;
    expect(invalid(noLimit)).toBe(
      'spanledger: invalid budgets in options.budgets: budgets[0]: a budget needs a limit (limitUsd, maxLlmCalls, maxToolCalls, maxTokens)',
    );
    expect(invalid({ name: 'x', scope: 'trace' })).toBe(
      'spanledger: invalid budgets in options.budgets: budgets[0]: a budget needs a limit (limitUsd, maxLlmCalls, maxToolCalls, maxTokens, maxRepeatedToolCalls)',
    );
    expect(invalid({ ...noLimit, maxTokens: {} })).toContain(
      'budgets[0].maxTokens: name at least one token type (input, output, cacheRead, cacheWrite, reasoning)',
    );
    expect(invalid({ ...noLimit, maxTokens: { prompt: 5 } })).toContain('budgets[0].maxTokens');
    expect(invalid({ ...noLimit, maxTokens: { input: -5 } })).toContain('budgets[0].maxTokens');
    expect(invalid({ name: 'r', scope: 'trace', maxLlmCalls: 3, warnAt: [0.5] })).toContain(
      'budgets[0].warnAt: warning thresholds are fractions of limitUsd, which is not set',
    );
    expect(invalid({ ...monthly, warnAt: [0.5, 1] })).toContain(
      'budgets[0].warnAt[1]: a warning threshold is a fraction in (0, 1), e.g. 0.8',
    );
    expect(invalid({ ...monthly, warnAt: [0.5, 0.5] })).toContain(
      'budgets[0].warnAt: duplicate threshold',
    );
    expect(invalid({ ...monthly, action: 'stop' })).toContain('budgets[0].action:');
    expect(invalid({ ...monthly, degrade: { model: 'm' } })).toContain(
      `budgets[0].degrade: only with action: 'degrade'`,
    );
    expect(invalid({ ...monthly, action: 'degrade', degrade: { temperature: 0 } })).toContain(
      'budgets[0].degrade: Unrecognized key: "temperature"',
    );
    expect(invalid({ ...monthly, limitUSD: 5 })).toContain(
      'budgets[0]: Unrecognized key: "limitUSD"',
    );
    expect(invalid({ name: 'r', scope: 'trace', maxLlmCalls: 2.5 })).toContain(
      'budgets[0].maxLlmCalls:',
    );
  });

  it('a list is required', () => {
    expect(configErrorOf(() => validateBudgets({ name: 'x' }, 'options.budgets'))).toContain(
      'budgets: Invalid input: expected array',
    );
  });
});

describe('loadBudgetsFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spanledger-budgets-'));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('reads the budgets list of a YAML config file next to the prices sections', () => {
    const path = file(
      'ok.yaml',
      `providerAliases: { my-gateway: openai }
budgets:
  - name: tenant-monthly
    scope: { tenant: '*' }
    window: { calendar: month, timeZone: America/New_York }
    limitUsd: 250
    action: block
`,
    );
    expect(loadBudgetsFile(path)).toEqual([
      {
        name: 'tenant-monthly',
        scope: { tenant: '*' },
        window: { calendar: 'month', timeZone: 'America/New_York' },
        limitUsd: 250,
        warnAt: [0.5, 0.8],
        action: 'block',
      },
    ]);
  });

  it('names the file in errors', () => {
    const path = file(
      'bad.yaml',
      `budgets:
  - name: a
    scope: { team: payments }
    limitUsd: 1
    window: { calendar: day, timeZone: Mars/Olympus }
`,
    );
    expect(configErrorOf(() => loadBudgetsFile(path))).toBe(
      `spanledger: invalid budgets in ${path}: budgets[0].window.timeZone: unknown IANA time zone "Mars/Olympus"`,
    );
    expect(configErrorOf(() => loadBudgetsFile(join(dir, 'missing.yaml')))).toContain(
      'cannot read',
    );
  });

  it('a file without budgets has none', () => {
    expect(loadBudgetsFile(file('none.yaml', 'providerAliases: {}\n'))).toEqual([]);
    expect(loadBudgetsFile(file('empty.yaml', ''))).toEqual([]);
  });
});

describe('matchScope', () => {
  it('trace scope matches every run with one window', () => {
    expect(matchScope('trace', {})).toEqual({});
  });

  it('all matchers must match; a list shares one window', () => {
    const scope = { team: 'payments', useCase: ['support', 'sales'] };
    expect(matchScope(scope, { team: 'payments', useCase: 'sales' })).toEqual({});
    expect(matchScope(scope, { team: 'payments', useCase: 'search' })).toBeUndefined();
    expect(matchScope(scope, { team: 'risk', useCase: 'sales' })).toBeUndefined();
    expect(matchScope(scope, { useCase: 'sales' })).toBeUndefined();
  });

  it("'*' matches any present value and selects a window per value", () => {
    const scope = { tenant: '*', team: 'payments' };
    expect(matchScope(scope, { tenant: 'acme', team: 'payments' })).toEqual({ tenant: 'acme' });
    expect(matchScope(scope, { tenant: 'globex', team: 'payments' })).toEqual({ tenant: 'globex' });
    expect(matchScope(scope, { team: 'payments' })).toBeUndefined();
    expect(matchScope(scope, { tenant: '', team: 'payments' })).toBeUndefined();
  });
});

describe('docs/budgets.md', () => {
  it('the worked example is valid', () => {
    const doc = readFileSync(new URL('../../docs/budgets.md', import.meta.url), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(yaml).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'spanledger-docs-'));
    const path = join(dir, 'spanledger.yaml');
    writeFileSync(path, yaml as string);
    const budgets = loadBudgetsFile(path);
    expect(budgets.map((b) => `${b.name}:${b.action}`)).toEqual([
      'per-run:block',
      'tenant-monthly:block',
      'payments-bots-daily:degrade',
      'planner-burst:alert',
      'support-quarterly:block',
    ]);
    expect(budgets[1]?.warnAt).toEqual([0.5, 0.8, 0.95]);
    expect(budgets[4]).toMatchObject({
      window: { calendar: 'quarter', timeZone: 'Europe/Paris', fiscalYearStartMonth: 4 },
      maxTokens: { input: 1_600_000_000, output: 400_000_000 },
      maxLlmCalls: 5_000_000,
      maxToolCalls: 2_000_000,
      warnAt: [0.8],
    });
  });
});
