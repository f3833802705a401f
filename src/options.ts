/**
 * Option objects given in code are validated as strictly as configuration files: unknown keys
 * are errors (with the nearest known key suggested), and every problem is named in one line,
 * `path: reason; path: reason`, the form file errors use (src/config-file.ts).
 *
 * Options that are right are checked in plain code; the strict schema (and zod with it) is built
 * only to name what is wrong, so a service whose options are fine never loads zod
 * (docs/performance.md, "2026-11-30: startup").
 */
import type { z } from 'zod';
import { describeIssues, zod } from './config-file.js';

/** How a value reads in an error: strings quoted, other primitives as written, the rest by kind
 * (`a function`, `an array`, `object`). */
export function shown(v: unknown): string {
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || typeof v !== 'object') return String(v);
  return Array.isArray(v) ? 'an array' : 'object';
}

/** How one option value is checked: what is wrong with it (`must be ...`), or undefined. */
export type Check = (value: unknown) => string | undefined;

/**
 * An options object checked key by key in plain code (for constructors and helpers, where a
 * schema would cost more than the check): an unknown key or a bad value throws one TypeError,
 * `spanledger: <where>: invalid options: <key>: <why>`, naming the known keys.
 */
export function checkOptionObject<O extends object>(
  where: string,
  options: unknown,
  checks: Readonly<Record<string, Check>>,
): O {
  if (options === undefined) return {} as O;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(
      `spanledger: ${where}: invalid options: expected an object, got ${shown(options)}`,
    );
  }
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const check = checks[key];
    if (check === undefined) {
      throw new TypeError(
        `spanledger: ${where}: invalid options: ${key}: unknown key (known: ${Object.keys(checks).join(', ')})`,
      );
    }
    const problem = check(value);
    if (problem !== undefined) {
      throw new TypeError(
        `spanledger: ${where}: invalid options: ${key}: ${problem}, got ${shown(value)}`,
      );
    }
  }
  return options as O;
}

/** A value's kind in an error (`string`, `number`, `array`, `null`). */
export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  return Array.isArray(v) ? 'array' : typeof v;
}

/** How one optional option is checked: `ok` for a value that is right, `problem` naming what is
 * wrong with one that is not. `undefined` is always right (the option is not given). */
export interface OptionRule {
  readonly ok: (value: unknown) => boolean;
  readonly problem: (value: unknown) => string;
}

/** An optional option checked by `ok`; the error reads `expected <what>, got <value>`. */
export function option(
  ok: (v: unknown) => boolean,
  expected: string,
  show: (v: unknown) => string = shown,
): OptionRule {
  return { ok, problem: (v) => `expected ${expected}, got ${show(v)}` };
}

/** The schema of one rule, for the schemas that name what is wrong. */
export function ruleSchema(rule: OptionRule) {
  return zod()
    .unknown()
    .refine(rule.ok, { error: (iss) => rule.problem(iss.input) })
    .optional();
}

/**
 * Check an options object against `rules` as a strict schema of them would (unknown keys are
 * errors), in plain code; only options that fail are parsed with that schema, to throw
 * `make("<prefix>: <issues>")` naming every problem and suggesting the key a typo meant.
 */
export function checkOptions(
  rules: Readonly<Record<string, OptionRule>>,
  input: unknown,
  prefix: string,
  make: (message: string) => Error,
): void {
  if (plainOptionsOk(rules, input)) return;
  const shape: Record<string, ReturnType<typeof ruleSchema>> = {};
  for (const [key, rule] of Object.entries(rules)) shape[key] = ruleSchema(rule);
  parseOptions(zod().strictObject(shape), input, Object.keys(rules), prefix, make);
}

/** Whether the strict schema of `rules` would accept `input`: the same reads as the schema makes
 * (every key it knows, and every enumerable key for the unknown ones), never fewer. */
function plainOptionsOk(rules: Readonly<Record<string, OptionRule>>, input: unknown): boolean {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return false;
  const o = input as Record<string, unknown>;
  for (const key in o) if (!Object.hasOwn(rules, key)) return false;
  for (const key in rules) {
    const v = o[key];
    if (v !== undefined && !(rules[key] as OptionRule).ok(v)) return false;
  }
  return true;
}

/** An optional function-valued option. */
export const functionOption = () => option((v) => typeof v === 'function', 'a function', kindOf);

/** An optional positive integer. */
export const positiveInteger = () =>
  option((v) => typeof v === 'number' && Number.isInteger(v) && v > 0, 'a positive integer');

/** Edit distance, for "did you mean" (short option names only). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j] as number;
      row[j] = Math.min(
        up + 1,
        (row[j - 1] as number) + 1,
        diag + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1),
      );
      diag = up;
    }
  }
  return row[b.length] as number;
}

/** The known key a mistyped one most likely meant, if any is close. */
export function nearest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    // A key cut short (`estimate` for `estimateUsd`) is as good as a typo.
    const cut = key.length >= 4 && k.toLowerCase().startsWith(key.toLowerCase());
    const d = cut ? 1 : distance(key, k);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  return bestD <= Math.max(2, Math.floor(key.length / 4)) ? best : undefined;
}

/**
 * Issues as one line; unknown keys each get their own entry, `key: unknown option (did you mean
 * known?)`, the suggestion taken from `known`.
 */
export function describeOptionIssues(
  issues: readonly z.core.$ZodIssue[],
  known: readonly string[],
): string {
  const flat: z.core.$ZodIssue[] = [];
  for (const i of issues) {
    if (i.code !== 'unrecognized_keys') {
      flat.push(i);
      continue;
    }
    for (const key of i.keys) {
      const near = nearest(key, known);
      flat.push({
        code: 'custom',
        path: [...i.path, key],
        message: `unknown option${near !== undefined ? ` (did you mean ${near}?)` : ''}`,
        input: undefined,
      } as z.core.$ZodIssue);
    }
  }
  return describeIssues(flat);
}

/** Parse `input` with `schema`; on failure throw `make("<prefix>: <issues>")`. */
export function parseOptions<T extends z.ZodType>(
  schema: T,
  input: unknown,
  known: readonly string[],
  prefix: string,
  make: (message: string) => Error,
): z.output<T> {
  const r = schema.safeParse(input);
  if (!r.success) throw make(`${prefix}: ${describeOptionIssues(r.error.issues, known)}`);
  return r.data;
}
