/**
 * Reading configuration files and reporting their errors, shared by the prices and budgets
 * schemas (kept apart from both so neither imports the other at load time).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';

/** Thrown at startup for a bad prices file or object; the message names where and why. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Read a YAML or JSON file into a plain object; errors name the file. */
export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`spanledger: cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    // YAML is a superset of JSON: one parser serves both, with line numbers in its errors.
    return parseYaml(text, { prettyErrors: true });
  } catch (e) {
    throw new ConfigError(`spanledger: cannot parse ${path}: ${(e as Error).message}`);
  }
}

/** Zod issues as `path.to[2].key: reason; ...`, the form every configuration error uses. */
export function describeIssues(issues: z.core.$ZodIssue[]): string {
  return issues
    .map((i) => {
      const path = i.path
        .map((p, n) => (typeof p === 'number' ? `[${p}]` : n === 0 ? String(p) : `.${String(p)}`))
        .join('');
      return `${path || '(root)'}: ${i.message}`;
    })
    .join('; ');
}
