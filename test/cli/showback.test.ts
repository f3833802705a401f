/**
 * `spanledger showback` in-process: its command-line errors (exit 2), the commands of
 * docs/finance.md run against a Prometheus serving hand-made samples
 * (test/support/showback-samples.ts) with their shown output compared, the FOCUS file they
 * write validated, and fixed/shared costs and conversion passed through the hooks.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runShowback } from '../../src/cli/showback.js';
import { extractSnippets } from '../docs/extract.js';
import { ROOT } from '../support/built.js';
import { parseFocusCsv, validateFocus } from '../support/focus-validator.js';
import { startSamplePrometheus } from '../support/showback-samples.js';
import { cli } from './run-cli.js';

let prom: { url: string; stop(): Promise<void> } | undefined;
let tmp = '';

beforeAll(async () => {
  prom = await startSamplePrometheus();
  tmp = mkdtempSync(join(tmpdir(), 'spanledger-showback-cli-'));
}, 600_000);

afterAll(async () => {
  await prom?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('spanledger showback: the command line', () => {
  const base = ['--prometheus', 'http://127.0.0.1:1', '--from', '2025-10-25', '--to', '2025-10-26'];
  const cases: Array<[string, string[], string]> = [
    ['no --prometheus', ['--from', '2025-10-25', '--to', '2025-10-26'], '--prometheus is required'],
    [
      'not a URL',
      ['--prometheus', 'localhost:9090'],
      "--prometheus must be an http(s) URL, got 'localhost:9090'",
    ],
    ['no --from', ['--prometheus', 'http://x:9090', '--to', '2025-10-26'], '--from is required'],
    ['a bad date', [...base, '--to', '2025-02-30'], '--to must be an ISO date'],
    [
      'an unknown format',
      [...base, '--format', 'xlsx'],
      "--format must be one of table, csv, json, focus, got 'xlsx'",
    ],
    ['an unknown dimension', [...base, '--by', 'team,region'], "--by: unknown dimension 'region'"],
    [
      'an unknown zone',
      [...base, '--time-zone', 'Europe/Pariss'],
      "--time-zone must be an IANA zone such as Europe/Paris, got 'Europe/Pariss'",
    ],
    [
      'a bad currency',
      [...base, '--currency', 'euro'],
      "--currency must be an ISO 4217 code such as EUR, got 'euro'",
    ],
    ['rates without a currency', [...base, '--fx-rates', 'r.csv'], '--fx-rates needs --currency'],
    [
      'a currency without rates',
      [...base, '--currency', 'EUR'],
      '--currency needs --fx-rates FILE',
    ],
    ['an unknown flag', [...base, '--team', 'a'], "Unknown option '--team'"],
  ];
  for (const [what, argv, message] of cases) {
    it(`refuses ${what} (exit 2)`, async () => {
      const out = await cli('showback', ...argv);
      expect(out.code).toBe(2);
      expect(out.stderr).toContain(message);
    });
  }
});

/** The shell words of a one-line command (single quotes only, as the docs write them). */
function words(command: string): string[] {
  return [...command.trim().matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? (m[2] as string));
}

describe('the commands of docs/finance.md', () => {
  const snippets = extractSnippets(
    'docs/finance.md',
    readFileSync(join(ROOT, 'docs/finance.md'), 'utf8'),
  );
  const commands = snippets
    .map((s, i) => ({ s, next: snippets[i + 1] }))
    .filter(({ s }) => s.lang === 'sh' && s.code.startsWith('spanledger showback'));

  it('has them', () => {
    expect(commands.length).toBeGreaterThanOrEqual(2);
  });

  for (const { s, next } of commands) {
    it(`line ${s.line}: ${s.code.trim()}`, async (ctx) => {
      if (prom === undefined) return ctx.skip();
      const argv = words(s.code.replace(/\\\n/g, ' '))
        .slice(1)
        .map((w) => (w === 'http://prometheus:9090' ? (prom?.url as string) : w))
        .map((w, i, all) => (all[i - 1] === '--out' ? join(tmp, w) : w));
      const out = await cli(...argv);
      expect(out.code, out.stderr).toBe(0);
      expect(out.stderr).toBe('');
      const file = argv[argv.indexOf('--out') + 1];
      if (argv.includes('--out') && file !== undefined) {
        const { columns, rows } = parseFocusCsv(readFileSync(file, 'utf8'));
        expect(validateFocus(columns, rows, { allowUnknownQuantity: true })).toEqual([]);
        // The samples' cluster="prod" spend over the three Paris days (see prometheus.test.ts).
        expect(rows.reduce((sum, r) => sum + Number(r.BilledCost), 0)).toBe(12.25);
        expect(out.stdout).toBe(`wrote ${file} (${rows.length} rows)\n`);
      } else {
        expect(next?.lang).toBe('text');
        expect(out.stdout).toBe(next?.code);
      }
    });
  }
});

describe('fixed and shared costs, conversion: passed through to the rows', () => {
  it('adds the allocated rows and converts every row', async (ctx) => {
    if (prom === undefined) return ctx.skip();
    let stdout = '';
    const code = await runShowback(
      [
        '--prometheus',
        prom.url,
        '--from',
        '2025-10-25',
        '--to',
        '2025-10-26',
        '--by',
        'team',
        '--selector',
        'cluster="prod"',
        '--format',
        'focus',
        '--config',
        'finance.yaml',
        '--currency',
        'eur',
      ],
      { stdout: (s) => (stdout += s), stderr: () => {} },
      {
        allocate: ({ config }) => [
          { day: '2025-10-25', kind: 'fixed', name: config, labels: { team: 'alpha' }, costUsd: 6 },
        ],
        converter:
          ({ currency }) =>
          (usd, day) => ({ amount: usd / 4, currency, rate: 0.25, rateDay: day }),
      },
    );
    expect(code).toBe(0);
    const { columns, rows } = parseFocusCsv(stdout);
    expect(validateFocus(columns, rows, { allowUnknownQuantity: true })).toEqual([]);
    // The 25th in UTC: alpha's gpt-4o 1.5 and its tool 2 (no provider, no model), gamma 2.5,
    // and the fixed 6; a quarter of each in EUR.
    expect(
      rows.map((r) => [r.x_CostKind, r.x_Team, r.BilledCost, r.BillingCurrency, r.x_CostUsd]),
    ).toEqual([
      ['usage', 'alpha', '0.375', 'EUR', '1.5'],
      ['usage', 'alpha', '0.5', 'EUR', '2'],
      ['usage', 'gamma', '0.625', 'EUR', '2.5'],
      ['fixed', 'alpha', '1.5', 'EUR', '6'],
    ]);
  });
});

describe('fixed and shared costs, conversion: from the files the flags name', () => {
  it('reads finance: from --config and ECB rates from --fx-rates, with no hooks', async (ctx) => {
    if (prom === undefined) return ctx.skip();
    // October has 31 days: $310 a month is $10 on the 25th (UTC), shared by team in proportion
    // to that day's usage (alpha 1.5 + 2 = 3.5, gamma 2.5: 7/12 and 5/12 of $62 / 31 = $2).
    const config = join(tmp, 'spanledger.yaml');
    writeFileSync(
      config,
      [
        'finance:',
        '  fixedCosts:',
        '    - { name: integration, monthlyUsd: 310, labels: { team: alpha } }',
        '  sharedCosts:',
        '    - { name: gateway, monthlyUsd: 62, allocateBy: team }',
        '',
      ].join('\n'),
    );
    // The 25th is a Saturday: the rate of Friday the 24th applies (1 EUR = 1.25 USD).
    const rates = join(tmp, 'eurofxref-hist.csv');
    writeFileSync(rates, 'Date,USD,JPY,\n2025-10-24,1.25,160,\n2025-10-23,1.2,159,\n');
    let stdout = '';
    let stderr = '';
    const code = await runShowback(
      [
        ...['--prometheus', prom.url, '--from', '2025-10-25', '--to', '2025-10-26'],
        ...['--by', 'team', '--selector', 'cluster="prod"', '--format', 'focus'],
        ...['--config', config, '--currency', 'EUR', '--fx-rates', rates],
      ],
      { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    );
    expect(code, stderr).toBe(0);
    const { columns, rows } = parseFocusCsv(stdout);
    expect(validateFocus(columns, rows, { allowUnknownQuantity: true })).toEqual([]);
    const of = (kind: string) =>
      rows
        .filter((r) => r.x_CostKind === kind)
        .map((r) => [r.x_CostName, r.x_Team, Number(r.x_CostUsd)]);
    expect(of('fixed')).toEqual([['integration', 'alpha', 10]]);
    const shared = of('shared');
    expect(shared.map((r) => r.slice(0, 2))).toEqual([
      ['gateway', 'alpha'],
      ['gateway', 'gamma'],
    ]);
    expect(shared[0]?.[2]).toBeCloseTo((2 * 3.5) / 6, 12);
    expect(shared[1]?.[2]).toBeCloseTo((2 * 2.5) / 6, 12);
    // Every row in EUR at the 24th's rate, its USD amount kept.
    for (const r of rows) {
      expect(r.BillingCurrency).toBe('EUR');
      expect(r.x_FxRateDay).toBe('2025-10-24');
      expect(Number(r.BilledCost)).toBeCloseTo(Number(r.x_CostUsd) / 1.25, 12);
    }
    const usd = rows.reduce((sum, r) => sum + Number(r.x_CostUsd), 0);
    expect(usd).toBeCloseTo(1.5 + 2 + 2.5 + 10 + 2, 12);
  });
});
