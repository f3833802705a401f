/**
 * Reading configuration files and reporting their errors, shared by every schema (the file
 * schema in config.ts, prices, budgets, dimensions): kept apart from all of them so that none
 * imports another at load time.
 *
 * A configuration file is read once, at startup, so it must neither hang nor exhaust memory
 * there: it must be a regular file (a FIFO or a device would block startup for ever) of at most
 * {@link MAX_CONFIG_FILE_BYTES}, checked on the open descriptor before anything is read. A
 * `.json` file is parsed with `JSON.parse`; anything else as YAML, except that text that is a
 * JSON document (it starts with `{` or `[`) goes to `JSON.parse` first, which is about a hundred
 * times faster than the YAML parser on large files (see docs/setup.md).
 *
 * The parsers themselves (yaml, and zod for the schemas) are loaded on first use, not at import:
 * together they cost about 100 ms of startup, which a service configured by environment
 * variables alone never needs (docs/performance.md, "2026-11-30: startup").
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import type * as Zod from 'zod';
import type { z } from 'zod';

// A synchronous loader that works in both builds (and under the test runner, which runs these
// sources as ES modules): validation happens in constructors, which cannot await an import().
// Both packages ship a CommonJS build, so this loads it on every supported Node.
const requireHere = createRequire(import.meta.url);
let zodModule: typeof Zod.z | undefined;
let yamlParse: typeof Yaml.parse | undefined;

/** zod, loaded on the first schema built (a configuration file, or options in code that fail
 * the plain checks). */
export function zod(): typeof Zod.z {
  zodModule ??= (requireHere('zod') as typeof Zod).z;
  return zodModule;
}

/** `fn()` computed once, on first call: for schemas, built only when something is validated. */
export function lazily<T>(fn: () => T): () => T {
  let value: T | undefined;
  let done = false;
  return () => {
    if (!done) {
      value = fn();
      done = true;
    }
    return value as T;
  };
}

function parseYaml(text: string): unknown {
  yamlParse ??= (requireHere('yaml') as typeof Yaml).parse;
  return yamlParse(text, { prettyErrors: true });
}

/** Thrown at startup for bad configuration (a file, a variable or options in code); the
 * message names where and why. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The largest configuration file read: 16 MiB (a prices file with thousands of entries is a
 * few hundred KiB). */
export const MAX_CONFIG_FILE_BYTES = 16 * 1024 * 1024;

const MIB = 1024 * 1024;

function kind(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a file';
}

/** The text of a configuration file; refuses non-regular files and files over the limit. */
function readText(path: string): string {
  let fd: number;
  try {
    // Non-blocking: opening a FIFO for reading would otherwise wait for a writer.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new ConfigError(`spanledger: cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) {
      throw new ConfigError(
        `spanledger: cannot read ${path}: not a regular file (${kind(stats)}); give the path of a YAML or JSON file`,
      );
    }
    if (stats.size > MAX_CONFIG_FILE_BYTES) {
      throw new ConfigError(
        `spanledger: cannot read ${path}: ${(stats.size / MIB).toFixed(1)} MiB is over the ${MAX_CONFIG_FILE_BYTES / MIB} MiB limit of a configuration file`,
      );
    }
    return readFileSync(fd, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`spanledger: cannot read ${path}: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/** Read a YAML or JSON file into a plain value; errors name the file and why. */
export function readConfigFile(path: string): unknown {
  const text = readText(path);
  if (/\.json$/i.test(path)) {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`spanledger: cannot parse ${path} as JSON: ${(e as Error).message}`);
    }
  }
  if (/^\uFEFF?\s*[[{]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      // A YAML flow mapping (`{ a: 1 }`) is not JSON: the YAML parser decides.
    }
  }
  try {
    return parseYaml(text);
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
