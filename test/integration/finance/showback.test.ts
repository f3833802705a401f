/**
 * `spanledger showback` against a real Prometheus 3 fed by the end-to-end pipeline (agent and
 * gateway collectors of collector-config/, remote write): the support-agent example answers its
 * tickets, is restarted (its processes count from 0 again: a counter reset, or new series), and
 * answers them again. The showback total, read from raw samples, must equal the sum of
 * `spanledger.cost.usd` over every span the services ended (the witness preload of the collector
 * test writes each one) to 1e-9 relative; the FOCUS export must pass the validator and sum to
 * the same; each error is one line and exit 1.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendTicket, startStack, TICKETS } from '../../../examples/support-agent/stack.mjs';
import { METRICS, readEstimatesFrom } from '../../../src/finance/prometheus.js';
import { cli } from '../../cli/run-cli.js';
import { ensureBuilt } from '../../support/built.js';
import { ensureCollector, ensurePrometheus, freePort, required } from '../../support/collector.js';
import { parseFocusCsv, validateFocus } from '../../support/focus-validator.js';
import { type Pipeline, startPipeline } from '../../support/pipeline.js';
import { until } from '../collector/otlp-file.js';

let tmp: string | undefined;
let pipeline: Pipeline | undefined;
let html: Server | undefined;
let htmlUrl = '';
/** The run: from a second before the first export to after the last one. */
let from = '';
let restartMs = 0;
/** The sum of spanledger.cost.usd over every span the services ended, and by category. */
let spent = 0;
const spentBy = new Map<string, number>();

const relative = (got: number, want: number) => Math.abs(got - want) / want;

async function tickets(edgeUrl: string): Promise<void> {
  for (const [tenant, ticket] of TICKETS) {
    expect((await sendTicket(edgeUrl, tenant, ticket)).status).toBe(200);
  }
}

const showbackTotal = async (url: string): Promise<number> => {
  const rows = await readEstimatesFrom({
    prometheusUrl: url,
    from: new Date(from),
    to: new Date(Date.now()),
    timeZone: 'UTC',
    by: ['tenant'],
  });
  return rows.reduce((s, r) => s + r.costUsd, 0);
};

beforeAll(async () => {
  const collector = required('the collector', ensureCollector());
  const prometheus = required('Prometheus', ensurePrometheus());
  if (!collector || !prometheus) return;
  ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'spanledger-showback-e2e-'));
  pipeline = await startPipeline({ collector, prometheus, dir: tmp });
  from = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000).toISOString();
  const witnessFile = join(tmp, 'witness.jsonl');
  writeFileSync(witnessFile, '');
  const witness = pathToFileURL(join(import.meta.dirname, '..', 'collector', 'witness.mjs')).href;
  const env = {
    NODE_OPTIONS: `--import ${witness} ${process.env.NODE_OPTIONS ?? ''}`.trim(),
    WITNESS_FILE: witnessFile,
    OTEL_METRIC_EXPORT_INTERVAL: '1000',
    OTEL_BSP_SCHEDULE_DELAY: '100',
  };
  const otlpEndpoint = `http://127.0.0.1:${pipeline.agentHttp}`;
  // First run, then a restart: stop() flushes the services' last metric export; the new
  // processes count from 0.
  // Each start is its own process instance, as service.instance.id says it must be (the 3.x
  // NodeSDK sets one by itself; the 2.x one does not): without it a restarted service whose
  // first export already exceeds its last value before the restart cannot be told apart from
  // one that kept counting (docs/finance.md). The reset arithmetic itself is checked on
  // hand-made samples in test/finance/prometheus.test.ts.
  const instance = (n: number) => ({
    ...env,
    OTEL_RESOURCE_ATTRIBUTES: `service.instance.id=showback-e2e-${process.pid}-${n}`,
  });
  const first = await startStack({ otlpEndpoint, env: instance(1) });
  await tickets(first.edgeUrl);
  await first.stop();
  restartMs = Date.now();
  const second = await startStack({ otlpEndpoint, env: instance(2) });
  await tickets(second.edgeUrl);
  await second.stop();

  for (const line of readFileSync(witnessFile, 'utf8').split('\n')) {
    if (line === '') continue;
    const w = JSON.parse(line) as { attributes: Record<string, unknown> };
    const cost = w.attributes['spanledger.cost.usd'] as number | undefined;
    if (cost === undefined) continue;
    spent += cost;
    const category = String(w.attributes['spanledger.cost.category']);
    spentBy.set(category, (spentBy.get(category) ?? 0) + cost);
  }
  const url = pipeline.prw.url;
  await until(
    'the showback total to reach what the spans cost',
    async () => relative(await showbackTotal(url), spent) < 1e-9,
    60_000,
    async () => `${await showbackTotal(url).catch((e) => String(e))} of ${spent}`,
  );

  html = createServer((_, res) => {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('404 page not found');
  });
  await new Promise<void>((r) => html?.listen(0, '127.0.0.1', r));
  const address = html.address();
  htmlUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}, 1_800_000);

afterAll(async () => {
  await pipeline?.stop();
  await new Promise((r) => (html ? html.close(r) : r(undefined)));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The cost series' raw samples over the run. */
async function rawSeries(url: string): Promise<Array<Array<[number, number]>>> {
  const seconds = Math.ceil((Date.now() - Date.parse(from)) / 1000) + 1;
  const res = await fetch(
    `${url}/api/v1/query?query=${encodeURIComponent(`${METRICS.cost}[${seconds}s]`)}`,
  );
  const body = (await res.json()) as {
    data: { result: Array<{ values: Array<[number, string]> }> };
  };
  return body.data.result.map((s) => s.values.map(([t, v]) => [t * 1000, Number(v)]));
}

describe('showback of a run with a restart', () => {
  it('the restart reset the counters: series that went down or were born after it', async (ctx) => {
    if (pipeline === undefined) return ctx.skip();
    const series = await rawSeries(pipeline.prw.url);
    const reset = series.filter((s) => s.some(([, v], i) => i > 0 && v < (s[i - 1]?.[1] ?? 0)));
    const born = series.filter((s) => (s[0]?.[0] ?? 0) > restartMs);
    expect(reset.length + born.length).toBeGreaterThan(0);
    expect(spent).toBeGreaterThan(0);
  });

  it('reads every dimension under the label the pipeline writes, and each category to the span', async (ctx) => {
    if (pipeline === undefined) return ctx.skip();
    const by = ['service', 'provider', 'model', 'category', 'team', 'tenant', 'use_case'];
    const rows = await readEstimatesFrom({
      prometheusUrl: pipeline.prw.url,
      from: new Date(from),
      to: new Date(Date.now()),
      timeZone: 'UTC',
      by,
    });
    const valued = by.filter((d) => rows.some((r) => r.labels[d] !== undefined));
    expect(valued).toEqual(by);
    const byCategory = new Map<string, number>();
    for (const r of rows) {
      const c = r.labels.category as string;
      byCategory.set(c, (byCategory.get(c) ?? 0) + r.costUsd);
    }
    expect([...byCategory.keys()].sort()).toEqual([...spentBy.keys()].sort());
    for (const [category, want] of spentBy) {
      expect(relative(byCategory.get(category) ?? 0, want), category).toBeLessThan(1e-9);
    }
  });

  it('FOCUS rows pass the validator and sum to what the spans cost', async (ctx) => {
    if (pipeline === undefined) return ctx.skip();
    const out = await cli(
      'showback',
      '--prometheus',
      pipeline.prw.url,
      '--from',
      from,
      '--to',
      new Date(Date.now() + 1000).toISOString(),
      '--by',
      'team,tenant,use_case',
      '--format',
      'focus',
    );
    expect(out.code, out.stderr).toBe(0);
    const { columns, rows } = parseFocusCsv(out.stdout);
    expect(validateFocus(columns, rows, { allowUnknownQuantity: true })).toEqual([]);
    const billed = rows.reduce((s, r) => s + Number(r.BilledCost), 0);
    expect(relative(billed, spent)).toBeLessThan(1e-9);
    // Model calls carry their tokens; every row is an estimate in USD.
    expect(rows.some((r) => r.ConsumedUnit === 'Tokens' && Number(r.ConsumedQuantity) > 0)).toBe(
      true,
    );
    expect(rows.every((r) => r.x_CostStatus === 'estimate' && r.BillingCurrency === 'USD')).toBe(
      true,
    );
  });

  it('CSV and the table add up to the same total', async (ctx) => {
    if (pipeline === undefined) return ctx.skip();
    const args = ['--prometheus', pipeline.prw.url, '--from', from, '--to'];
    const to = new Date(Date.now() + 1000).toISOString();
    const csv = await cli('showback', ...args, to, '--format', 'csv', '--by', 'category');
    expect(csv.code, csv.stderr).toBe(0);
    const lines = csv.stdout.trim().split('\r\n').slice(1);
    const sum = lines.reduce((s, l) => s + Number(l.split(',')[4]), 0);
    expect(Math.abs(sum - spent)).toBeLessThan(1e-8);
    const table = await cli('showback', ...args, to);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(
      new RegExp(`\\ntotal\\s+${spent.toFixed(6).replace('.', '\\.')}\\n`),
    );
  });

  it('fails with one line and exit 1: unreachable, not Prometheus, HTTP error, empty, future, no series', async (ctx) => {
    if (pipeline === undefined) return ctx.skip();
    const url = pipeline.prw.url;
    const run = (over: Record<string, string>) => {
      const flags = { prometheus: url, from, to: new Date(Date.now()).toISOString(), ...over };
      return cli('showback', ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v]));
    };
    const closed = `http://127.0.0.1:${await freePort()}`;
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ prometheus: closed }, new RegExp(`cannot reach Prometheus at ${closed}: ECONNREFUSED`)],
      [
        { prometheus: htmlUrl },
        /is not a Prometheus HTTP API: .* answered HTTP 404 404 page not found/,
      ],
      [{ selector: 'job=~"(' }, /^spanledger showback: Prometheus at .* answered HTTP 400: /],
      [{ to: from }, /the range is empty/],
      [
        {
          from: new Date(Date.now() + 86_400_000).toISOString(),
          to: new Date(Date.now() + 2 * 86_400_000).toISOString(),
        },
        /the range is in the future/,
      ],
      [
        { selector: 'job="nope"' },
        /no spanledger series in the range: spanledger_cost_usd_total\{job="nope"\}/,
      ],
    ];
    for (const [over, message] of cases) {
      const out = await run(over);
      expect(out.code, out.stderr).toBe(1);
      expect(out.stderr).toMatch(message);
      expect(out.stderr.trim().split('\n')).toHaveLength(1);
      expect(out.stdout).toBe('');
    }
  });
});
