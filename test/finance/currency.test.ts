import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRates, parseRates } from '../../src/finance/currency.js';
import { extractSnippets } from '../docs/extract.js';
import { configErrorOf } from '../support/errors.js';

/** `actual` within 1e-9 relative of the hand-computed `expected`. */
function close(actual: number | undefined, expected: number): void {
  expect(actual).toBeTypeOf('number');
  expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(1e-9 * Math.abs(expected));
}

// The history file's shape (eurofxref-hist.csv): newest first, a trailing comma, N/A for a
// currency without a rate (CYP: all of them since 2008). 2026-11-27 is a Friday.
const HISTORY = [
  'Date,USD,JPY,BGN,CYP,GBP,',
  '2026-11-27,1.0412,162.75,1.9558,N/A,0.8731,',
  '2026-11-26,1.04,162,1.9558,N/A,N/A,',
  '2026-11-25,1.0388,161.9,1.9558,N/A,0.8715,',
  '',
].join('\n');

// The daily file's shape (eurofxref.csv): ", " between fields, the date written out.
const DAILY =
  'Date, USD, JPY, BGN, CZK, GBP, \n27 November 2026, 1.0412, 162.75, 1.9558, 24.5, 0.8731, \n';

describe('parseRates: conversions at the day’s rate', () => {
  it('EUR, GBP and JPY from the history file, hand-computed (rates are units per euro)', () => {
    // 100 USD on 2026-11-27: 100 / 1.0412 = 96.04302727621976 EUR.
    const eur = parseRates(HISTORY, 'EUR', 'hist.csv')(100, '2026-11-27');
    close(eur.amount, 96.04302727621976);
    close(eur.rate, 1 / 1.0412);
    expect(eur).toMatchObject({ currency: 'EUR', rateDay: '2026-11-27' });
    // GBP: 100 / 1.0412 × 0.8731 = 83.85516711486747; its rate 0.8385516711486747 per USD.
    const gbp = parseRates(HISTORY, 'gbp', 'hist.csv')(100, '2026-11-27');
    close(gbp.amount, 83.85516711486747);
    close(gbp.rate, 0.8385516711486747);
    expect(gbp.currency).toBe('GBP');
    // JPY: 100 / 1.0412 × 162.75 = 15631.002689204766.
    close(parseRates(HISTORY, 'JPY', 'hist.csv')(100, '2026-11-27').amount, 15631.002689204766);
    // USD stays USD, at 1.
    expect(parseRates(HISTORY, 'USD', 'hist.csv')(12.5, '2026-11-28')).toEqual({
      amount: 12.5,
      currency: 'USD',
      rate: 1,
      rateDay: '2026-11-28',
    });
  });

  it('a weekend takes Friday’s rate and says so; a day whose rate is N/A the day before', () => {
    const toEur = parseRates(HISTORY, 'EUR', 'hist.csv');
    for (const day of ['2026-11-28', '2026-11-29']) {
      const c = toEur(100, day);
      expect(c.rateDay).toBe('2026-11-27');
      close(c.amount, 96.04302727621976);
    }
    // GBP was N/A on 2026-11-26: the 25th stands in, 100 / 1.0388 × 0.8715 = 83.8948786869465.
    const gbp = parseRates(HISTORY, 'GBP', 'hist.csv')(100, '2026-11-26');
    expect(gbp.rateDay).toBe('2026-11-25');
    close(gbp.amount, (100 / 1.0388) * 0.8715);
    // Seven days after the last rate is still a holiday; eight is a stale file.
    expect(toEur(1, '2026-12-04').rateDay).toBe('2026-11-27');
    expect(configErrorOf(() => toEur(1, '2026-12-05'))).toBe(
      'spanledger: hist.csv has no rate within 7 days before 2026-12-05 (the last is of 2026-11-27): use a newer file',
    );
  });

  it('a day before the first rate is an error naming the file and its first day', () => {
    expect(configErrorOf(() => parseRates(HISTORY, 'EUR', 'hist.csv')(1, '2026-11-24'))).toBe(
      "spanledger: hist.csv has no rate on or before 2026-11-24 (its first day is 2026-11-25): use a file that covers the export's range",
    );
  });

  it('the daily file, with a BOM and CRLF line ends, converts the same', () => {
    for (const text of [DAILY, `\uFEFF${DAILY.replaceAll('\n', '\r\n')}`]) {
      const c = parseRates(text, 'GBP', 'eurofxref.csv')(100, '2026-11-30');
      expect(c.rateDay).toBe('2026-11-27');
      close(c.amount, 83.85516711486747);
    }
    close(
      parseRates(`\uFEFF${HISTORY.replaceAll('\n', '\r\n')}`, 'JPY', 'h')(100, '2026-11-27').amount,
      15631.002689204766,
    );
  });
});

describe('parseRates: one-line errors', () => {
  it('a currency the file lacks, and one that is N/A throughout', () => {
    expect(configErrorOf(() => parseRates(HISTORY, 'CHF', 'hist.csv'))).toBe(
      'spanledger: hist.csv has no rates for CHF (it has EUR, USD, JPY, BGN, CYP, GBP)',
    );
    expect(configErrorOf(() => parseRates(HISTORY, 'CYP', 'hist.csv'))).toBe(
      'spanledger: hist.csv has no day with rates for both USD and CYP',
    );
    expect(configErrorOf(() => parseRates(HISTORY, 'euro', 'hist.csv'))).toBe(
      'spanledger: "euro" is not a currency code (three letters, e.g. EUR)',
    );
  });

  it.each([
    ['', 'spanledger: f.csv: empty file, expected ECB reference rates'],
    ['USD,GBP\n1,2\n', 'spanledger: f.csv:1: expected the header of ECB reference rates'],
    ['Date,USD,GBP,\n2026-11-27,1.04,abc,\n', 'spanledger: f.csv:2: GBP: "abc" is not a rate'],
    ['Date,USD,GBP,\n2026-11-27,1.04,\n', 'spanledger: f.csv:2: 2 fields, the header has 3'],
    ['Date,USD,GBP,\n2026-11-31,1.04,0.87,\n', 'spanledger: f.csv:2: "2026-11-31" is not a date'],
    [
      'Date,USD,GBP,\r\n2026-11-27,1.04,0.87,\r\n2026-11-27,1.04,0.87,\r\n',
      'spanledger: f.csv:3: 2026-11-27 again (also line 2)',
    ],
    ['Date,GBP,\n2026-11-27,0.87,\n', 'spanledger: f.csv:1: no USD column'],
    [
      'PK\u0003\u0004\u0014\u0000',
      'spanledger: f.csv: a zip archive: unzip it and give the .csv inside',
    ],
    ['Date,USD,GBP,\n2026-11-27,-1.04,0.87,\n', 'spanledger: f.csv:2: USD: "-1.04" is not a rate'],
  ])('%j', (text, message) => {
    expect(configErrorOf(() => parseRates(text, 'GBP', 'f.csv'))).toContain(message);
  });
});

describe('loadRates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spanledger-rates-'));

  it('reads a file and names it in errors', () => {
    const path = join(dir, 'eurofxref-hist.csv');
    writeFileSync(path, HISTORY);
    close(loadRates(path, 'EUR')(100, '2026-11-27').amount, 96.04302727621976);
    writeFileSync(path, HISTORY.replace('0.8715', '0,8715'));
    expect(configErrorOf(() => loadRates(path, 'EUR'))).toBe(
      `spanledger: ${path}:4: 7 fields, the header has 6`,
    );
  });

  it('refuses what is not a regular file', () => {
    const sub = join(dir, 'rates.d');
    mkdirSync(sub);
    expect(configErrorOf(() => loadRates(sub, 'EUR'))).toBe(
      `spanledger: cannot read ${sub}: not a regular file`,
    );
    expect(configErrorOf(() => loadRates(join(dir, 'missing.csv'), 'EUR'))).toMatch(
      /^spanledger: cannot read .*missing\.csv: ENOENT/,
    );
  });
});

describe('docs/finance.md, "Currencies"', () => {
  it('its rates file gives the figures the text states', () => {
    const doc = join(import.meta.dirname, '../../docs/finance.md');
    const block = extractSnippets('docs/finance.md', readFileSync(doc, 'utf8')).find(
      (s) => s.directive.file === 'eurofxref-hist.csv',
    );
    const text = block?.code ?? '';
    // $34.00 on 2026-11-27: €32.654629, £28.510757; Saturday's at Friday's rates.
    const eur = parseRates(text, 'EUR', 'eurofxref-hist.csv')(34, '2026-11-27');
    close(eur.amount, 32.654629273914715);
    close(eur.rate, 0.9604302727621975);
    const gbp = parseRates(text, 'GBP', 'eurofxref-hist.csv');
    close(gbp(34, '2026-11-27').amount, 28.510756819054937);
    close(gbp(34, '2026-11-27').rate, 0.8385516711486747);
    expect(gbp(34, '2026-11-28').rateDay).toBe('2026-11-27');
    expect(configErrorOf(() => gbp(34, '2026-12-05'))).toBe(
      'spanledger: eurofxref-hist.csv has no rate within 7 days before 2026-12-05 (the last is of 2026-11-27): use a newer file',
    );
    expect(
      configErrorOf(() => parseRates(text.replace('0.8720', 'n/a'), 'GBP', 'eurofxref-hist.csv')),
    ).toBe(
      'spanledger: eurofxref-hist.csv:3: GBP: "n/a" is not a rate (a positive decimal, or N/A)',
    );
  });
});
