/**
 * A month of the demo's workload, end to end for finance: the demo (the example agent under the
 * NodeSDK with spanledger, real `openai` client, mock OpenAI API) runs once on each of eight days
 * of October 2026, each run a new process as far as Prometheus knows (its own `instance`: a
 * series born that day). Its counters, as the Prometheus exporter serves them, are written into a
 * real Prometheus 3's storage at that day's times (promtool's backfill). Then `spanledger
 * showback --format focus` over the month must pass the FOCUS validator and sum to the spans'
 * cost, per day and in all, to 1e-9 relative; and `spanledger reconcile` against an OpenAI bill
 * of the same figures with one planted drift (gpt-4o billed 12 % above on one day) and one model
 * no telemetry saw must find exactly those, with exit code 3.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo } from '../../../src/cli/demo.js';
import { run } from '../../../src/cli/run.js';
import { readEstimates } from '../../../src/finance/prometheus.js';
import { ensurePrometheus, freePort, required, startPrometheus } from '../../support/collector.js';
import { parseFocusCsv, validateFocus } from '../../support/focus-validator.js';
import { openaiBucket } from '../../support/mock-billing.js';

const DAYS = ['01', '03', '08', '14', '15', '20', '27', '31'].map((d) => `2026-10-${d}`);
const DRIFT_DAY = DAYS[3] as string;
const UNOBSERVED_DAY = DAYS[5] as string;
const COUNTERS = [
  'spanledger_cost_usd_total',
  'spanledger_tokens_total',
  'spanledger_cache_savings_usd_total',
];

let tmp = '';
let prom: { url: string; stop(): Promise<void> } | undefined;
/** The spans' cost of each day's demo, as the demo's report of its own spans says. */
const spansUsd = new Map<string, number>();

/** One demo process: its printed report (JSON) and its /metrics text once the runs are done. */
async function demoDay(seed: number): Promise<{ totalUsd: number; metrics: string }> {
  const port = await freePort();
  let release: () => void = () => {};
  const until = new Promise<void>((r) => {
    release = r;
  });
  let stdout = '';
  let metrics = '';
  const code = await runDemo(
    [
      ...['--runs', '6', '--seed', String(seed), '--json', '--prometheus-port', String(port)],
      ...['--html', join(tmp, `demo-${seed}.html`)],
    ],
    {
      stdout: (s) => {
        stdout += s;
        void fetch(`http://127.0.0.1:${port}/metrics`)
          .then((r) => r.text())
          .then((t) => {
            metrics = t;
            release();
          });
      },
      stderr: () => {},
    },
    { until },
  );
  expect(code).toBe(0);
  const json = JSON.parse(stdout) as { report: { totals: { costUsd: number } } };
  return { totalUsd: json.report.totals.costUsd, metrics };
}

/** The counters' lines of an exposition, relabelled as one process and stamped at `day`. */
function samplesOf(metrics: string, day: string, instance: string): string[] {
  const out: string[] = [];
  for (const line of metrics.split('\n')) {
    const m = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
    if (m === null || !COUNTERS.includes(m[1] as string)) continue;
    const labels = `job="support-agent",instance="${instance}"${m[2] ? `,${m[2]}` : ''}`;
    // Two samples a day: when the process had done its work, and six hours later.
    for (const hour of ['12', '18']) {
      const ts = Date.parse(`${day}T${hour}:00:00Z`) / 1000;
      out.push(`${m[1]}{${labels}} ${m[3]} ${ts}`);
    }
  }
  return out;
}

beforeAll(async () => {
  const provisioned = ensurePrometheus();
  const binary = required('Prometheus', provisioned);
  if (binary === undefined || provisioned.path === undefined) return;
  tmp = mkdtempSync(join(tmpdir(), 'spanledger-month-'));
  const byMetric = new Map<string, string[]>(COUNTERS.map((c) => [c, []]));
  for (const [i, day] of DAYS.entries()) {
    const { totalUsd, metrics } = await demoDay(i + 1);
    spansUsd.set(day, totalUsd);
    for (const s of samplesOf(metrics, day, `demo-${i + 1}`)) {
      byMetric.get(s.slice(0, s.indexOf('{')))?.push(s);
    }
  }
  const om: string[] = [];
  for (const [metric, lines] of byMetric) {
    om.push(`# TYPE ${metric.replace(/_total$/, '')} counter`, ...lines);
  }
  om.push('# EOF', '');
  writeFileSync(join(tmp, 'month.om'), om.join('\n'));
  execFileSync(
    provisioned.promtool as string,
    ['tsdb', 'create-blocks-from', 'openmetrics', join(tmp, 'month.om'), join(tmp, 'data')],
    { stdio: 'pipe' },
  );
  prom = await startPrometheus({
    binary,
    config: 'global: {}\n',
    dataDir: join(tmp, 'data'),
    args: ['--storage.tsdb.retention.time=100y'],
  });
}, 600_000);

afterAll(async () => {
  await prom?.stop();
  if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
});

const MONTH = ['--from', '2026-10-01', '--to', '2026-11-01'];

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    color: false,
  });
  return { code, stdout, stderr };
}

describe('a month of the demo, exported and reconciled', () => {
  it('exports FOCUS rows that pass the validator and sum to the spans, per day and in all', async (ctx) => {
    if (prom === undefined) return ctx.skip();
    const out = await cli('showback', '--prometheus', prom.url, ...MONTH, '--format', 'focus');
    expect(out.code, out.stderr).toBe(0);
    const { columns, rows } = parseFocusCsv(out.stdout);
    expect(validateFocus(columns, rows, { allowUnknownQuantity: true })).toEqual([]);
    const spans = [...spansUsd.values()].reduce((s, x) => s + x, 0);
    expect(spans).toBeGreaterThan(1);
    const total = rows.reduce((s, r) => s + Number(r.BilledCost), 0);
    expect(Math.abs(total - spans) / spans).toBeLessThan(1e-9);
    for (const day of DAYS) {
      const ofDay = rows
        .filter((r) => r.ChargePeriodStart?.startsWith(day))
        .reduce((s, r) => s + Number(r.BilledCost), 0);
      const want = spansUsd.get(day) as number;
      expect(Math.abs(ofDay - want) / want, day).toBeLessThan(1e-9);
    }
    // Days without a demo have no rows: nothing is spread or extrapolated.
    expect(rows.every((r) => DAYS.some((d) => r.ChargePeriodStart?.startsWith(d)))).toBe(true);
  });

  it('reconciles against an OpenAI bill and finds the planted drift and the unseen model', async (ctx) => {
    if (prom === undefined) return ctx.skip();
    const estimates = await readEstimates({
      prometheusUrl: prom.url,
      from: new Date('2026-10-01T00:00:00Z'),
      to: new Date('2026-11-01T00:00:00Z'),
      timeZone: 'UTC',
      by: ['provider', 'model'],
    });
    const openai = estimates.filter((e) => e.labels.provider === 'openai' && e.costUsd > 0);
    expect(openai.some((e) => e.labels.model === 'gpt-4o' && e.day === DRIFT_DAY)).toBe(true);
    // The bill: each day's estimate per model (gpt-4o under its dated snapshot id), gpt-4o
    // 12 % above on one day, and o3 on a day no telemetry saw it.
    const planted = new Map<string, number>();
    const buckets = DAYS.map((day) => {
      const items: [string, number][] = [];
      for (const e of openai.filter((x) => x.day === day)) {
        const model = e.labels.model as string;
        const usd = model === 'gpt-4o' && day === DRIFT_DAY ? e.costUsd * 1.12 : e.costUsd;
        if (usd !== e.costUsd) planted.set(model, e.costUsd);
        items.push([`${model === 'gpt-4o' ? 'gpt-4o-2024-08-06' : model}, input`, usd]);
      }
      if (day === UNOBSERVED_DAY) items.push(['o3-2025-04-16, output', 7.25]);
      return openaiBucket(day, items);
    });
    const bill = join(tmp, 'openai-october.json');
    writeFileSync(
      bill,
      JSON.stringify([
        { object: 'page', data: buckets.slice(0, 4), has_more: true, next_page: 'p2' },
        { object: 'page', data: buckets.slice(4), has_more: false, next_page: null },
      ]),
    );
    const out = await cli(
      'reconcile',
      ...['--prometheus', prom.url, ...MONTH, '--openai-costs', bill, '--min-usd', '0', '--json'],
    );
    expect(out.code, out.stderr).toBe(3);
    const report = JSON.parse(out.stdout) as {
      rows: Array<{
        day: string;
        provider: string;
        model: string | null;
        estimateUsd: number;
        billedUsd: number;
        pct: number | null;
        status: string;
        drift: boolean;
      }>;
    };
    const drifting = report.rows.filter((r) => r.drift);
    expect(drifting.map((r) => [r.day, r.model, r.status])).toEqual([
      [DRIFT_DAY, 'gpt-4o', 'matched'],
      [UNOBSERVED_DAY, 'o3-2025-04-16', 'unobserved'],
    ]);
    const [gpt4o, o3] = drifting;
    const estimate = planted.get('gpt-4o') as number;
    expect(gpt4o?.estimateUsd).toBeCloseTo(estimate, 12);
    expect(gpt4o?.billedUsd).toBeCloseTo(estimate * 1.12, 12);
    expect(gpt4o?.pct).toBeCloseTo(12, 9);
    expect(o3?.billedUsd).toBe(7.25);
    // Every other OpenAI row matches its bill to the cent.
    for (const r of report.rows.filter((x) => x.provider === 'openai' && !x.drift)) {
      expect(r.status).toBe('matched');
      expect(Math.abs(r.billedUsd - r.estimateUsd)).toBeLessThan(0.005);
    }
  });
});
