/**
 * Argument helpers shared by the CLI commands: one error type for "you typed it wrong" (exit 2,
 * usage on stderr) and strict parsers for the values the commands take.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** Where a command writes. Each call writes its string as given (callers add the newlines), so
 * tests can capture output in memory and the entry point can hand it to the process streams. */
export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** Colour may be used on stdout: it is a TTY and `NO_COLOR` is unset or empty
   * (https://no-color.org). Absent means no colour. */
  color?: boolean;
}

/** Exit codes of the CLI. */
export const EXIT = {
  ok: 0,
  /** A prices file (or other input file) is invalid: the arguments were fine, the file is not. */
  config: 1,
  /** Bad command line: unknown command or flag, missing or malformed value. */
  usage: 2,
} as const;

/** A bad command line. The message says what is wrong; the caller prints it with the usage. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * A command line parsed strictly by Node's `util.parseArgs` (unknown flags refused); its
 * messages name the flag ("Unknown option '--inptu'") and become usage errors.
 */
export function parseCommandLine<O extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: O,
  allowPositionals: boolean,
): ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: boolean }>> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * A token count: a finite non-negative integer. Exponent notation (`1e6`) is accepted because
 * it is the easy way to type a million; fractions are refused because no provider bills a
 * fraction of a token, so a fraction is a typo.
 */
export function parseCount(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const text = raw.trim();
  // Number('') is 0 and Number('0x10') is 16: refuse both before converting.
  if (!/^[0-9][0-9_]*(\.[0-9]+)?([eE]\+?[0-9]+)?$/.test(text)) {
    throw new UsageError(`--${flag} must be a non-negative whole number of tokens, got '${raw}'`);
  }
  const n = Number(text.replaceAll('_', ''));
  if (!Number.isFinite(n) || !Number.isSafeInteger(n)) {
    throw new UsageError(`--${flag} must be a non-negative whole number of tokens, got '${raw}'`);
  }
  return n;
}

/**
 * An instant for `--at`. Same rule as the prices file's `effectiveFrom`: `YYYY-MM-DD` is
 * midnight UTC, and a date-time needs `Z` or an offset, so a price change at a day boundary
 * never depends on the machine's time zone.
 */
export function parseInstant(flag: string, raw: string | undefined): Date | undefined {
  if (raw === undefined) return undefined;
  let ms = Number.NaN;
  if (/^\d{4}-\d{2}-\d{2}$/.test(raw)) ms = Date.parse(`${raw}T00:00:00Z`);
  else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(raw)) {
    ms = Date.parse(raw);
  }
  // Date.parse rolls 2025-02-30 over to March: compare the date part back to catch that.
  if (!isRealDate(raw, ms)) {
    throw new UsageError(
      `--${flag} must be an ISO date (2025-06-01) or date-time with offset (2025-06-01T12:00:00Z), got '${raw}'`,
    );
  }
  return new Date(ms);
}

function isRealDate(raw: string, ms: number): boolean {
  if (Number.isNaN(ms)) return false;
  // Check the written date itself (not the instant, which an offset may move to another day).
  const [y, m, d] = raw.slice(0, 10).split('-').map(Number) as [number, number, number];
  const day = new Date(Date.UTC(y, m - 1, d));
  return day.getUTCFullYear() === y && day.getUTCMonth() === m - 1 && day.getUTCDate() === d;
}

/** A required string flag: present and not blank. */
export function requireString(flag: string, raw: string | undefined): string {
  if (raw === undefined || raw.trim() === '') throw new UsageError(`--${flag} is required`);
  return raw.trim();
}
