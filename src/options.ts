/**
 * Option objects given in code are validated as strictly as configuration files: unknown keys
 * are errors (with the nearest known key suggested), and every problem is named in one line,
 * `path: reason; path: reason`, the form file errors use (src/config-file.ts).
 */
import { z } from 'zod';
import { describeIssues } from './config-file.js';

/** How a value reads in an error: strings quoted, other primitives as written, objects by kind. */
export function shown(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || typeof v !== 'object') return String(v);
  return Array.isArray(v) ? 'array' : 'object';
}

/** A value's kind in an error (`string`, `number`, `array`, `null`). */
export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  return Array.isArray(v) ? 'array' : typeof v;
}

/** An optional option checked by `ok`; the error reads `expected <what>, got <value>`. */
export function option(
  ok: (v: unknown) => boolean,
  expected: string,
  show: (v: unknown) => string = shown,
) {
  return z
    .unknown()
    .refine(ok, { error: (iss) => `expected ${expected}, got ${show(iss.input)}` })
    .optional();
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
