/**
 * Every Prometheus panel of the committed dashboards shows data from a real run: the
 * support-agent example (its six tickets, and the tickets judged on an approximately priced
 * fine-tune and on an unpriced model) sends its telemetry through the agent and gateway
 * collectors (collector-config/) into Prometheus 3, in two rounds a few metric exports apart;
 * then each target of each panel is queried as Grafana queries it (instant at the end of the run
 * for a stat or table, a range over the run for a time series), with `$__range` the run,
 * `$__rate_interval` Grafana's and every filter at All (`.*`), and must return at least one
 * series with a value that is not NaN. TraceQL panels need Tempo, which this machine does not
 * have: queries.test.ts parses them (docs/dashboards.md).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EXTRA_TICKETS,
  type Stack,
  sendTicket,
  startStack,
  TICKETS,
} from '../../../examples/support-agent/stack.mjs';
import { ensureBuilt } from '../../support/built.js';
import { ensureCollector, ensurePrometheus, required } from '../../support/collector.js';
import {
  interpolate,
  promSeries,
  type QueryContext,
  renderedDashboards,
  type Series,
  targetsOf,
} from '../../support/grafana.js';
import { type Pipeline, startPipeline } from '../../support/pipeline.js';
import { promQuery, until } from '../collector/otlp-file.js';

const dashboards = renderedDashboards();
let tmp: string | undefined;
let pipeline: Pipeline | undefined;
let stack: Stack | undefined;
/** The run, in seconds since the epoch: the dashboards' time range. */
let start = 0;
let end = 0;
/** The answer to each ticket: tenant, status. */
const statuses: Array<[string, number]> = [];

/** The tickets of one round: the example's six, two judged on other models, one of a trial
 * tenant whose budget pauses it. */
async function round(edgeUrl: string): Promise<void> {
  for (const [tenant, ticket] of TICKETS) {
    statuses.push([tenant, (await sendTicket(edgeUrl, tenant, ticket)).status]);
  }
  for (const [tenant, ticket, judge] of EXTRA_TICKETS) {
    statuses.push([tenant, (await sendTicket(edgeUrl, tenant, ticket, judge)).status]);
  }
}

/** The number of runs Prometheus has counted (the run-cost histogram's count). */
async function runsCounted(url: string): Promise<number> {
  const r = await promQuery(url, 'sum(last_over_time(spanledger_trace_cost_usd_count[10m]))');
  return r[0]?.value ?? 0;
}

beforeAll(async () => {
  const collector = required('the collector', ensureCollector());
  const prometheus = required('Prometheus', ensurePrometheus());
  if (!collector || !prometheus) return;
  ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'spanledger-dashboards-e2e-'));
  pipeline = await startPipeline({ collector, prometheus, dir: tmp });
  const url = pipeline.prw.url;
  start = Math.floor(Date.now() / 1000) - 1;
  stack = await startStack({
    otlpEndpoint: `http://127.0.0.1:${pipeline.agentHttp}`,
    env: { OTEL_METRIC_EXPORT_INTERVAL: '1000', OTEL_BSP_SCHEDULE_DELAY: '100' },
  });
  const perRound = TICKETS.length + EXTRA_TICKETS.length;
  // Two rounds with the first one's metrics in Prometheus between them, so that every counter
  // has a sample before the second round increases it (an increase needs two samples). The
  // services keep running while the panels are queried, as a dashboard watches live services:
  // a stopping service's last export no longer holds its in-memory budget pauses.
  for (const n of [1, 2]) {
    await round(stack.edgeUrl);
    await until(
      `Prometheus to count round ${n} of runs`,
      async () => (await runsCounted(url)) >= n * perRound,
      60_000,
      async () => `${await runsCounted(url)} of ${n * perRound}`,
    );
  }
  end = Math.ceil(Date.now() / 1000) + 1;
}, 1_800_000);

afterAll(async () => {
  await stack?.stop();
  await pipeline?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** What Grafana would send for this run: the range is the run; `$__interval` 15 s (the data
 * source's default minimum for a range this short); every filter at All. */
function grafanaContext(): QueryContext {
  return { rangeSeconds: end - start, intervalSeconds: 15 };
}

const hasValue = (series: Series[]) => series.some((s) => s.values.some((v) => !Number.isNaN(v)));
const positive = (series: Series[]) => series.some((s) => s.values.some((v) => v > 0));

/** Panels whose figure may rightly be 0 after this run, and why. Every other panel must show a
 * positive figure: the workload reaches what it counts. */
const MAY_BE_ZERO: Record<string, string> = {
  'Windows over 80 %': 'no tenant spends 80 % of its $10 month in a test run',
  'Unallocated this month (no team)':
    'every request is the customer-care team’s (the edge sets it)',
  'Fixed costs':
    'the default _config has no use cases, so no fixed costs (finance.test.ts checks one)',
  'Spans an alternative could not price':
    'gpt-4o-mini, the one alternative, prices every gpt-4o call',
};

describe('the workload', () => {
  it('answered every ticket of both rounds', (ctx) => {
    if (pipeline === undefined) return ctx.skip();
    expect(statuses).toHaveLength(2 * (TICKETS.length + EXTRA_TICKETS.length));
    // Every ticket answered but the trial tenant's and the runaway (the last extra ticket), which
    // the per-run budget stops.
    const perRound = TICKETS.length + EXTRA_TICKETS.length;
    const runaway = statuses.filter((_, i) => i % perRound === perRound - 1);
    expect(runaway).toEqual([
      ['initech', 429],
      ['initech', 429],
    ]);
    const others = statuses.filter(
      ([tenant], i) => tenant !== 'trial' && i % perRound !== perRound - 1,
    );
    expect(others.every(([, s]) => s === 200)).toBe(true);
    // The trial tenant's scope is paused by its first run: the last one is refused.
    expect(statuses.filter(([tenant]) => tenant === 'trial').at(-1)).toEqual(['trial', 429]);
  });
});

for (const [file, d] of dashboards) {
  const targets = targetsOf(d).filter((t) => t.language === 'promql');
  if (targets.length === 0) continue;
  describe(`${file}: every Prometheus panel returns data`, () => {
    for (const t of targets) {
      it(`${t.panel.title} (${t.refId}, ${t.instant ? 'instant' : 'range'})`, async (ctx) => {
        if (pipeline === undefined) return ctx.skip();
        const c = grafanaContext();
        const query = interpolate(t.query, d, c);
        // A range query's ends are aligned to its step, as Grafana's Prometheus data source
        // aligns them (so the last point is at or after the end of the range).
        const step = c.intervalSeconds;
        const series = await promSeries(
          pipeline.prw.url,
          query,
          t.instant
            ? { time: end }
            : {
                start: Math.floor(start / step) * step,
                time: Math.ceil(end / step) * step,
                step,
              },
        );
        expect(series.length, `no series: ${query}`).toBeGreaterThan(0);
        expect(hasValue(series), `only NaN: ${query}`).toBe(true);
        if (MAY_BE_ZERO[t.panel.title] === undefined) {
          expect(positive(series), `nothing above 0: ${query}`).toBe(true);
        }
      });
    }
  });
}

describe('money on the dashboards', () => {
  it('the Spend of the run is every dollar the counters hold: series born inside the range count in full', async (ctx) => {
    if (pipeline === undefined) return ctx.skip();
    const url = pipeline.prw.url;
    // Every spanledger series was born during the run, so what the counters hold at its end is
    // what the run spent (test/integration/collector/e2e.test.ts proves that equals the spans').
    const [held] = await promSeries(url, 'sum(spanledger_cost_usd_total)', { time: end });
    const want = held?.values[0] ?? Number.NaN;
    expect(want).toBeGreaterThan(0);
    const figures: Array<[string, string, number]> = [];
    for (const [file, title] of [
      ['spanledger-agent-cost.json', 'Spend'],
      ['spanledger-showback.json', 'Spend this month'],
    ] as const) {
      const d = dashboards.get(file);
      const t = d && targetsOf(d).find((x) => x.panel.title === title);
      if (d === undefined || t === undefined) throw new Error(`${file} has no panel ${title}`);
      const [s] = await promSeries(url, interpolate(t.query, d, grafanaContext()), { time: end });
      figures.push([file, title, s?.values[0] ?? Number.NaN]);
    }
    for (const [file, title, got] of figures) {
      expect(Math.abs(got - want) / want, `${file}: ${title}: ${got} against ${want}`).toBeLessThan(
        1e-9,
      );
    }
    // increase() alone reads each series from its first sample (missing what each held there:
    // the first export of every process, tenant, model and category) and extrapolates to the
    // range's ends: not the run's figure (seen both below it and, once, above it).
    const c = grafanaContext();
    const [plain] = await promSeries(
      url,
      `sum(increase(spanledger_cost_usd_total[${c.rangeSeconds}s]))`,
      { time: end },
    );
    expect(Math.abs((plain?.values[0] ?? 0) - want) / want).toBeGreaterThan(1e-6);
  });
});
