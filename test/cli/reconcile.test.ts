/**
 * `spanledger reconcile` in-process: the estimates reader injected (the Prometheus reader is
 * tested with a real Prometheus on its own), bills from the mock billing APIs (three OpenAI
 * pages), a downloaded Anthropic report and a FOCUS export; a planted drift found with exact
 * figures and exit 3, a threshold that lets it pass with exit 0, a refused key with exit 1,
 * bad command lines with exit 2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReconcileDeps, runReconcile, zoneMidnight } from '../../src/cli/reconcile.js';
import type { EstimateQuery, EstimateRow } from '../../src/finance/model.js';
import { type MockBilling, openaiBucket, startMockBilling } from '../support/mock-billing.js';
import { cli, type Outcome } from './run-cli.js';

const ANTHROPIC = 'test/fixtures/finance/anthropic-cost-report.json';
const FOCUS = 'test/fixtures/finance/focus-aws.csv';
const BEDROCK = 'anthropic.claude-3-5-sonnet-20240620-v1:0';

const est = (day: string, provider: string, model: string, costUsd: number): EstimateRow => ({
  day,
  labels: { provider, model },
  costUsd,
});

const ESTIMATES: EstimateRow[] = [
  est('2026-11-01', 'openai', 'gpt-4o', 4),
  est('2026-11-02', 'openai', 'gpt-4o', 50),
  est('2026-11-02', 'openai', 'gpt-4o-mini', 2.5),
  est('2026-11-01', 'anthropic', 'claude-sonnet-4-20250514', 5.7378912),
  est('2026-11-01', 'aws.bedrock', BEDROCK, 2.25),
  est('2026-11-02', 'aws.bedrock', BEDROCK, 0.125),
];

let mock: MockBilling;
const queries: EstimateQuery[] = [];

beforeAll(async () => {
  mock = await startMockBilling();
  mock.openaiPages = [
    [
      openaiBucket('2026-11-01', [
        ['gpt-4o-2024-08-06, input', 1.5],
        ['gpt-4o-2024-08-06, output', 2.5],
      ]),
    ],
    // The planted drift: 56 billed against 50 estimated, 12 %.
    [
      openaiBucket('2026-11-02', [
        ['gpt-4o-2024-08-06, input', 20],
        ['gpt-4o-2024-08-06, output', 36],
      ]),
    ],
    [
      openaiBucket('2026-11-03', [
        ['o3-2025-04-16, output', 7.25],
        ['web search tool calls', 0.3],
      ]),
    ],
  ];
});
afterAll(async () => {
  await mock.close();
});

async function reconcileCli(argv: string[], deps: Partial<ReconcileDeps> = {}): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const code = await runReconcile(
    argv,
    {
      stdout: (s) => {
        stdout += s;
      },
      stderr: (s) => {
        stderr += s;
      },
    },
    {
      readEstimates: async (q) => {
        queries.push(q);
        return ESTIMATES;
      },
      env: { OPENAI_ADMIN_KEY: mock.openaiKey, SPANLEDGER_OPENAI_BASE_URL: mock.openaiURL },
      ...deps,
    },
  );
  return { code, stdout, stderr };
}

const ALL = [
  '--prometheus',
  'http://prometheus.test:9090',
  '--from',
  '2026-11-01',
  '--to',
  '2026-11-04',
  '--openai',
  '--anthropic-costs',
  ANTHROPIC,
  '--focus',
  FOCUS,
  '--model-alias',
  `Claude3.5Sonnet=${BEDROCK}`,
];

describe('spanledger reconcile', () => {
  it('finds the planted drift, the unobserved model and the unbilled estimate: exit 3', async () => {
    queries.length = 0;
    const out = await reconcileCli([...ALL, '--json']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(3);
    expect(queries).toEqual([
      {
        prometheusUrl: 'http://prometheus.test:9090',
        from: new Date('2026-11-01T00:00:00Z'),
        to: new Date('2026-11-04T00:00:00Z'),
        timeZone: 'UTC',
        by: ['provider', 'model'],
      },
    ]);
    const report = JSON.parse(out.stdout);
    const figures = report.rows.map((r: Record<string, unknown>) => [
      r.day,
      r.provider,
      r.model,
      r.estimateUsd,
      r.billedUsd,
      r.status,
      r.drift,
    ]);
    expect(figures).toEqual([
      [
        '2026-11-01',
        'anthropic',
        'claude-sonnet-4-20250514',
        5.7378912,
        1.2378912 + 4.5,
        'matched',
        false,
      ],
      ['2026-11-01', 'aws.bedrock', BEDROCK, 2.25, 2.25, 'matched', false],
      ['2026-11-01', 'openai', 'gpt-4o', 4, 4, 'matched', false],
      ['2026-11-02', 'anthropic', null, 0, 0.205, 'unobserved', false],
      ['2026-11-02', 'aws.bedrock', BEDROCK, 0.125, 0.125, 'matched', false],
      ['2026-11-02', 'openai', 'gpt-4o', 50, 56, 'matched', true],
      ['2026-11-02', 'openai', 'gpt-4o-mini', 2.5, 0, 'unbilled', true],
      ['2026-11-03', 'openai', null, 0, 0.3, 'unobserved', false],
      ['2026-11-03', 'openai', 'o3-2025-04-16', 0, 7.25, 'unobserved', true],
    ]);
    const drift = report.rows.find(
      (r: { drift: boolean; model: string }) => r.model === 'gpt-4o' && r.drift,
    );
    expect(drift.diffUsd).toBe(6);
    expect(Math.abs(drift.pct - 12) / 12).toBeLessThan(1e-9);
    const openai = report.totals.find((t: { provider: string }) => t.provider === 'openai');
    expect(openai.estimateUsd).toBe(56.5);
    expect(Math.abs(openai.billedUsd - 67.55) / 67.55).toBeLessThan(1e-9);
    expect(report.sources).toEqual([
      'openai (Costs API)',
      `anthropic (${ANTHROPIC})`,
      `aws.bedrock (${FOCUS})`,
    ]);
    expect(report.focus).toEqual([
      {
        providers: ['aws.bedrock'],
        otherAi: { rows: 1, costUsd: 10 },
        notUsage: { rows: 1, costUsd: -0.5 },
      },
    ]);
  });

  it('prints the tables, the matched ids and the verdict', async () => {
    const out = await reconcileCli(ALL);
    expect(out.code).toBe(3);
    expect(out.stdout).toMatch(
      /\n {2}2026-11-02 {2}openai +gpt-4o \(billed as gpt-4o-2024-08-06\) +50\.0000 +56\.0000 +6\.0000 +12\.00 % {2}DRIFT\n/,
    );
    expect(out.stdout).toMatch(/\n {2}openai +56\.5000 +67\.5500 +11\.0500 +19\.56 %\n/);
    expect(out.stdout).toContain('Billed, no telemetry (instrumentation gaps)');
    expect(out.stdout).toMatch(
      / {2}2026-11-03 {2}openai +o3-2025-04-16 +0\.0000 +7\.2500 +7\.2500 +- +DRIFT\n/,
    );
    expect(out.stdout).toMatch(
      /Telemetry, no bill\n.*\n {2}2026-11-02 {2}openai +gpt-4o-mini +2\.5000 +0\.0000 +-2\.5000 +-100\.00 % +DRIFT\n/,
    );
    expect(out.stdout).toContain('  openai  gpt-4o-2024-08-06 -> gpt-4o (snapshot)');
    expect(out.stdout).toContain(`  aws.bedrock  Claude3.5Sonnet -> ${BEDROCK} (alias)`);
    expect(out.stdout).toContain(
      'other AI and Machine Learning services, not compared: 1 rows, $10.0000',
    );
    expect(out.stdout.trimEnd().split('\n').at(-1)).toBe(
      'DRIFT: 3 row(s) above the threshold (exit 3)',
    );
  });

  it('exit 0 when every difference is under the threshold or the floor', async () => {
    const out = await reconcileCli([...ALL, '--threshold', '15', '--min-usd', '10']);
    expect(out.code).toBe(0);
    expect(out.stdout.trimEnd().split('\n').at(-1)).toBe('no drift above the threshold');
  });

  it('cuts the estimates in another zone, and says days do not line up', async () => {
    queries.length = 0;
    const out = await reconcileCli([...ALL, '--time-zone', 'Europe/Paris']);
    expect(queries[0]?.from).toEqual(new Date('2026-10-31T23:00:00Z'));
    expect(queries[0]?.to).toEqual(new Date('2026-11-03T23:00:00Z'));
    expect(queries[0]?.timeZone).toBe('Europe/Paris');
    expect(out.stdout).toContain(
      'note: estimates are cut in Europe/Paris days, bills in UTC days: days do not line up, compare totals',
    );
  });

  it('a refused key: one line, exit 1, no key printed', async () => {
    const out = await reconcileCli(ALL, {
      env: {
        OPENAI_ADMIN_KEY: 'sk-admin-wrong-123456789',
        SPANLEDGER_OPENAI_BASE_URL: mock.openaiURL,
      },
    });
    expect(out.code).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(
      /^spanledger reconcile: OpenAI Costs API refused the key in OPENAI_ADMIN_KEY \(HTTP 401: [^\n]*\); it needs an admin key\n$/,
    );
    expect(out.stderr).not.toContain('sk-admin-wrong-123456789');
  });

  it('a bill file that cannot be read: one line, exit 1, Prometheus not asked', async () => {
    queries.length = 0;
    const out = await reconcileCli([
      '--prometheus',
      'http://prometheus.test:9090',
      '--from',
      '2026-11-01',
      '--to',
      '2026-11-04',
      '--openai-costs',
      'test/fixtures/finance/no-such-bill.json',
    ]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(
      /^spanledger reconcile: cannot read test\/fixtures\/finance\/no-such-bill\.json: ENOENT[^\n]*\n$/,
    );
    expect(queries).toEqual([]);
  });

  it('estimates that cannot be read: exit 1', async () => {
    const out = await reconcileCli(ALL, {
      readEstimates: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:9');
      },
    });
    expect(out.code).toBe(1);
    expect(out.stderr).toBe(
      'spanledger reconcile: cannot read the estimates from http://prometheus.test:9090: connect ECONNREFUSED 127.0.0.1:9\n',
    );
  });

  it.each([
    [['--from', '2026-11-01', '--to', '2026-12-01', '--openai'], '--prometheus is required'],
    [
      ['--prometheus', 'http://p:9090', '--from', '2026-11-01', '--to', '2026-12-01'],
      'no bill: give --openai-costs, --openai, --anthropic-costs, --anthropic or --focus',
    ],
    [
      ['--prometheus', 'http://p:9090', '--from', '2026-11-31', '--to', '2026-12-01', '--openai'],
      "--from must be a day, YYYY-MM-DD, got '2026-11-31'",
    ],
    [
      ['--prometheus', 'http://p:9090', '--from', '2026-12-01', '--to', '2026-11-01', '--openai'],
      '--to (2026-11-01) must be after --from (2026-12-01)',
    ],
    [
      [
        '--prometheus',
        'http://p:9090',
        '--from',
        '2026-11-01',
        '--to',
        '2026-12-01',
        '--openai',
        '--openai-costs',
        'x.json',
      ],
      'give --openai-costs FILE or --openai, not both',
    ],
    [
      [
        '--prometheus',
        'http://p:9090',
        '--from',
        '2026-11-01',
        '--to',
        '2026-12-01',
        '--openai',
        '--time-zone',
        'Mars/Olympus',
      ],
      "--time-zone must be an IANA time zone (Europe/Paris) or UTC, got 'Mars/Olympus'",
    ],
  ])('bad command line %j: exit 2', async (argv, message) => {
    const out = await cli('reconcile', ...argv);
    expect(out.code).toBe(2);
    expect(out.stderr.split('\n')[0]).toBe(`spanledger reconcile: ${message}`);
  });

  it('is listed in the help', async () => {
    const out = await cli('--help');
    expect(out.stdout).toMatch(/\n {2}reconcile {2}estimates in Prometheus against provider bills/);
  });
});

describe('zoneMidnight', () => {
  it('is the first instant of the day in the zone', () => {
    expect(zoneMidnight('2026-07-01', 'Europe/Paris').toISOString()).toBe(
      '2026-06-30T22:00:00.000Z',
    );
    expect(zoneMidnight('2026-03-29', 'Europe/Paris').toISOString()).toBe(
      '2026-03-28T23:00:00.000Z',
    );
    expect(zoneMidnight('2026-11-01', 'America/New_York').toISOString()).toBe(
      '2026-11-01T04:00:00.000Z',
    );
    expect(zoneMidnight('2026-11-01', 'UTC').toISOString()).toBe('2026-11-01T00:00:00.000Z');
  });
});
