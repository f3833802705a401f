/**
 * Other currencies for finance exports (docs/finance.md, "Currencies"). USD stays the ledger's
 * currency; an export converts each row at its day's rate from a rates file the user supplies,
 * in the European Central Bank's reference-rate CSV format, either file the ECB publishes:
 *
 * - the history, `eurofxref-hist.csv`: `Date,USD,JPY,...,` then `2026-11-27,1.0412,...,` (newest
 *   first, a trailing comma, `N/A` where a currency had no rate that day);
 * - the day's rates, `eurofxref.csv`: `Date, USD, JPY, ..., ` then `27 November 2026, 1.0412, ...`.
 *
 * Rates are units per euro, so USD → X is `usd / USD × X` (X = EUR: `usd / USD`). A day without
 * rates (a weekend, a TARGET holiday) takes the last day before it that has both, and says which
 * (`rateDay`), at most {@link MAX_RATE_AGE_DAYS} back: an older rate is a stale file, not a
 * holiday. The format has no quoting, so it is split by hand; anything that does not fit it is a
 * one-line `ConfigError` naming the file, the line and why.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { ConfigError } from '../config-file.js';
import type { Converted, ConvertUsd, Day } from './model.js';

/** How far back a day's rate may come from. The ECB's longest closings (Easter: Friday to
 * Monday; Christmas) leave four days without rates; a week covers them with room. */
export const MAX_RATE_AGE_DAYS = 7;

/** The largest rates file read: the whole history since 1999 is under 2 MiB. */
export const MAX_RATES_FILE_BYTES = 16 * 1024 * 1024;

const MONTHS = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];

const pad = (n: number): string => String(n).padStart(2, '0');

/** `YYYY-MM-DD` of a real date, or undefined. */
function isoDay(y: number, m: number, d: number): Day | undefined {
  const t = new Date(Date.UTC(y, m - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== m - 1 || t.getUTCDate() !== d) {
    return undefined;
  }
  return `${String(y).padStart(4, '0')}-${pad(m)}-${pad(d)}`;
}

/** A date as either file writes it: `2026-11-27` (history) or `27 November 2026` (daily). */
function parseDate(text: string): Day | undefined {
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (m !== null) return isoDay(Number(m[1]), Number(m[2]), Number(m[3]));
  m = /^(\d{1,2}) ([A-Za-z]+) (\d{4})$/.exec(text);
  if (m === null) return undefined;
  const month = MONTHS.indexOf((m[2] as string).toLowerCase());
  return month < 0 ? undefined : isoDay(Number(m[3]), month + 1, Number(m[1]));
}

const dayNumber = (day: Day): number =>
  Date.UTC(+day.slice(0, 4), +day.slice(5, 7) - 1, +day.slice(8, 10)) / 86_400_000;

/** A file's rates for one conversion: the days (ascending) and, per day, units per euro. */
interface Series {
  days: Day[];
  usd: number[];
  target: number[];
}

/**
 * Parse an ECB reference-rate CSV (either file) and return the converter from USD to
 * `currency` (ISO 4217 code, any case; `EUR`, or a column of the file). `origin` names the text
 * in errors (the file's path). Throws `ConfigError`: `spanledger: <origin>:<line>: <why>` for a
 * malformed file, and a one-line error for a currency the file does not have.
 */
export function parseRates(text: string, currency: string, origin = 'rates'): ConvertUsd {
  const target = currency.trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(target)) {
    throw new ConfigError(
      `spanledger: ${JSON.stringify(currency)} is not a currency code (three letters, e.g. EUR)`,
    );
  }
  // The file is checked whatever the target: a broken file is reported when it is given.
  const series = readSeries(text, target, origin);
  // The ledger's own currency needs no rate: every day converts at 1, as of itself.
  if (target === 'USD') {
    return (usd, day) => ({ amount: usd, currency: 'USD', rate: 1, rateDay: day });
  }
  return (usd: number, day: Day): Converted => {
    if (!Number.isFinite(usd)) throw new RangeError(`spanledger: cannot convert ${usd} USD`);
    const i = lastOnOrBefore(series.days, day);
    if (i < 0) {
      throw new ConfigError(
        `spanledger: ${origin} has no rate on or before ${day} (its first day is ${series.days[0]}): use a file that covers the export's range`,
      );
    }
    const rateDay = series.days[i] as Day;
    const age = dayNumber(day) - dayNumber(rateDay);
    if (age > MAX_RATE_AGE_DAYS) {
      throw new ConfigError(
        `spanledger: ${origin} has no rate within ${MAX_RATE_AGE_DAYS} days before ${day} (the last is of ${rateDay}): use a newer file`,
      );
    }
    // Units of the target per euro over US dollars per euro: units of the target per dollar.
    const rate = (series.target[i] as number) / (series.usd[i] as number);
    return { amount: usd * rate, currency: target, rate, rateDay };
  };
}

/** Index of the last day on or before `day` (binary search), or -1. */
function lastOnOrBefore(days: readonly Day[], day: Day): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) {
    throw new RangeError(`spanledger: not a day YYYY-MM-DD: ${JSON.stringify(day)}`);
  }
  let lo = 0;
  let hi = days.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((days[mid] as Day) <= day) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

const RATE = /^\d+(\.\d+)?$/;

/** The USD and target columns of a file, days ascending; rows where either is `N/A` are left
 * out (the currency had no rate that day: the day before stands in, as on a holiday). */
function readSeries(text: string, target: string, origin: string): Series {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const where = (n: number): string => `spanledger: ${origin}:${n + 1}`;
  const fields = (line: string): string[] => {
    const f = line.split(',').map((s) => s.trim());
    // Both files end every line with a comma (the daily one with ", "): no column.
    if (f.length > 1 && f[f.length - 1] === '') f.pop();
    return f;
  };
  const headerAt = lines.findIndex((l) => l.trim() !== '');
  if (headerAt < 0)
    throw new ConfigError(`spanledger: ${origin}: empty file, expected ECB reference rates`);
  const header = fields(lines[headerAt] as string);
  if (text.startsWith('PK')) {
    // The ECB serves both files zipped.
    throw new ConfigError(
      `spanledger: ${origin}: a zip archive: unzip it and give the .csv inside`,
    );
  }
  if (header[0] !== 'Date') {
    throw new ConfigError(
      `${where(headerAt)}: expected the header of ECB reference rates (Date, USD, JPY, ...), got ${JSON.stringify((lines[headerAt] as string).slice(0, 40))}`,
    );
  }
  const columns = new Map<string, number>();
  header.forEach((name, i) => {
    if (i === 0) return;
    if (!/^[A-Z]{3}$/.test(name)) {
      throw new ConfigError(
        `${where(headerAt)}: column ${i + 1}: ${JSON.stringify(name)} is not a currency code`,
      );
    }
    if (columns.has(name)) throw new ConfigError(`${where(headerAt)}: column ${name} twice`);
    columns.set(name, i);
  });
  const usdAt = columns.get('USD');
  if (usdAt === undefined) {
    throw new ConfigError(
      `${where(headerAt)}: no USD column: ECB rates are per euro, and USD amounts need the dollar's`,
    );
  }
  const targetAt = target === 'EUR' ? undefined : columns.get(target);
  if (target !== 'EUR' && targetAt === undefined) {
    throw new ConfigError(
      `spanledger: ${origin} has no rates for ${target} (it has EUR, ${[...columns.keys()].join(', ')})`,
    );
  }
  const rows: { day: Day; usd: number; target: number }[] = [];
  const seen = new Map<Day, number>();
  for (let n = headerAt + 1; n < lines.length; n++) {
    const line = lines[n] as string;
    if (line.trim() === '') continue;
    const f = fields(line);
    if (f.length !== header.length) {
      throw new ConfigError(`${where(n)}: ${f.length} fields, the header has ${header.length}`);
    }
    const day = parseDate(f[0] as string);
    if (day === undefined) {
      throw new ConfigError(
        `${where(n)}: ${JSON.stringify(f[0])} is not a date (2026-11-27 or 27 November 2026)`,
      );
    }
    const again = seen.get(day);
    if (again !== undefined)
      throw new ConfigError(`${where(n)}: ${day} again (also line ${again + 1})`);
    seen.set(day, n);
    // Every value is checked, not only the two used: a file that is wrong elsewhere is suspect.
    for (let i = 1; i < f.length; i++) {
      const v = f[i] as string;
      if (v !== 'N/A' && !(RATE.test(v) && Number(v) > 0)) {
        throw new ConfigError(
          `${where(n)}: ${header[i]}: ${JSON.stringify(v)} is not a rate (a positive decimal, or N/A)`,
        );
      }
    }
    const usd = f[usdAt] as string;
    const other = targetAt === undefined ? '1' : (f[targetAt] as string);
    if (usd === 'N/A' || other === 'N/A') continue;
    rows.push({ day, usd: Number(usd), target: Number(other) });
  }
  if (rows.length === 0) {
    throw new ConfigError(`spanledger: ${origin} has no day with rates for both USD and ${target}`);
  }
  rows.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
  return {
    days: rows.map((r) => r.day),
    usd: rows.map((r) => r.usd),
    target: rows.map((r) => r.target),
  };
}

/**
 * Read an ECB reference-rate CSV file (`eurofxref-hist.csv` or `eurofxref.csv`, unzipped) and
 * return the converter from USD to `currency` (see {@link parseRates}). The file must be a
 * regular file of at most {@link MAX_RATES_FILE_BYTES}; problems are one-line `ConfigError`s.
 */
export function loadRates(path: string, currency: string): ConvertUsd {
  let fd: number;
  try {
    // Non-blocking: opening a FIFO for reading would otherwise wait for a writer.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new ConfigError(`spanledger: cannot read ${path}: ${(e as Error).message}`);
  }
  let text: string;
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile())
      throw new ConfigError(`spanledger: cannot read ${path}: not a regular file`);
    if (stats.size > MAX_RATES_FILE_BYTES) {
      throw new ConfigError(
        `spanledger: cannot read ${path}: over the ${MAX_RATES_FILE_BYTES / 1024 / 1024} MiB limit of a rates file`,
      );
    }
    text = readFileSync(fd, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`spanledger: cannot read ${path}: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
  return parseRates(text, currency, path);
}
