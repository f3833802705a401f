/**
 * `spanledger demo`, in-process: its printed dollars are the sums of its spans, the runaway run
 * is stopped at the configured call, the same seed prints the same report, and the telemetry
 * reaches an OTLP receiver and a Prometheus scrape with the same total.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { DEMO_BUDGETS, DEMO_PRICES } from '../../src/cli/demo/run.js';
import { runDemo } from '../../src/cli/demo.js';
import { priceUsage } from '../../src/index.js';
import { startOtlpReceiver } from '../support/otlp-receiver.js';
import { cli } from './run-cli.js';

// The example agent imports `spanledger` as users do; the CLI bundle builds it from the sources
// (tsup.config.ts), and so does this test.
vi.mock('spanledger', () => import('../../src/index.js'));

const dir = mkdtempSync(join(tmpdir(), 'spanledger-demo-test-'));

async function demo(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runDemo(['--html', join(dir, 'demo.html'), ...argv], {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
  });
  return { code, stdout, stderr };
}

interface DemoJson {
  runs: {
    run: number;
    kind: string;
    traceId: string;
    result: {
      error?: string;
      refused?: { budget: string; limit: string; used: number; max: number };
    };
  }[];
  spans: {
    traceId: string;
    name: string;
    category?: string;
    status?: string;
    costUsd?: number;
    usage?: { model: string; input: number; output: number; cached: number };
  }[];
  report: {
    totals: { costUsd: number; spans: number; traces: number; cacheSavingsUsd: number };
    topTraces: { traceId: string; costUsd: number; llmCalls: number; toolCalls: number }[];
    unpriced: { model: string }[];
  };
}

const cents = (x: number) => Math.round(x * 100);
/** The first amount with six decimals in a table line. */
const firstAmount = (line: string): number =>
  Number(
    line
      .trim()
      .split(/\s{2,}/)
      .find((c) => /^\d+\.\d{6}$/.test(c)),
  );

describe('spanledger demo', () => {
  it('prints totals that are the sums of its spans, to the cent and below', async () => {
    const json = await demo('--json', '--runs', '12', '--seed', '7');
    expect(json.code).toBe(0);
    const out = JSON.parse(json.stdout) as DemoJson;
    const spanSum = out.spans.reduce((s, x) => s + (x.costUsd ?? 0), 0);
    expect(out.runs).toHaveLength(12);
    expect(out.report.totals.traces).toBe(12);
    expect(Math.abs(out.report.totals.costUsd - spanSum)).toBeLessThan(1e-9);
    for (const tr of out.report.topTraces) {
      const mine = out.spans.filter((s) => s.traceId === tr.traceId);
      expect(Math.abs(tr.costUsd - mine.reduce((s, x) => s + (x.costUsd ?? 0), 0))).toBeLessThan(
        1e-9,
      );
    }
    // A mixed workload: every category, a human review, cache savings and the unpriced model.
    const categories = new Set(out.spans.map((s) => s.category));
    for (const c of ['llm', 'tool', 'retrieval', 'evaluation', 'human_review']) {
      expect(categories.has(c)).toBe(true);
    }
    expect(out.report.totals.cacheSavingsUsd).toBeGreaterThan(0);
    expect(out.report.unpriced.map((u) => u.model)).toEqual(['northwind-sales-13b']);

    // The text report of the same seed prints the same total, and its tables add up to it.
    const text = (await demo('--runs', '12', '--seed', '7')).stdout;
    const total = Number(/^Total USD (\d+\.\d{6}) /m.exec(text)?.[1]);
    expect(cents(total)).toBe(cents(spanSum));
    expect(total).toBeCloseTo(spanSum, 6);
    // Each table's rows add up to its printed total, which is the total.
    for (const section of ['Cost per run', 'Cost by category', 'Showback by tenant']) {
      const lines = (text.slice(text.indexOf(section)).split('\n\n')[0] as string).split('\n');
      const rule = lines.findIndex((l) => /^-+$/.test(l));
      const rows = lines.slice(2, rule).map((l) => Math.round(firstAmount(l) * 1e6));
      const footer = firstAmount(lines[rule + 1] as string);
      expect(rows.length, section).toBeGreaterThan(2);
      expect(
        rows.reduce((x, y) => x + y, 0),
        section,
      ).toBe(Math.round(footer * 1e6));
      expect(footer, section).toBe(total);
    }
  });

  it('prices each span by the catalog and the example prices file', async () => {
    const out = JSON.parse((await demo('--json', '--runs', '8')).stdout) as DemoJson;
    const byName = (prefix: string) => out.spans.filter((s) => s.name.startsWith(prefix));
    // The example's unit prices: $0.002 a lookup, $0.0004 a query, 3 minutes at $60 an hour.
    for (const s of byName('execute_tool lookup_order')) expect(s.costUsd).toBe(0.002);
    for (const s of byName('retrieval kb-support')) expect(s.costUsd).toBe(0.0004);
    expect(out.spans.filter((x) => x.category === 'human_review').length).toBeGreaterThan(0);
    for (const s of out.spans.filter((x) => x.category === 'human_review')) {
      expect(s.costUsd).toBeCloseTo(3, 12);
    }
    // Model calls: the catalog's price of the tokens on the span, cached input at its own rate.
    const calls = out.spans.filter((s) => s.name.startsWith('chat gpt-4o'));
    expect(calls.length).toBeGreaterThan(4);
    for (const c of calls) {
      const a = c.usage as NonNullable<DemoJson['spans'][number]['usage']>;
      const expected = priceUsage({
        provider: 'openai',
        model: a.model,
        inputTokens: a.input,
        outputTokens: a.output,
        cacheReadTokens: a.cached,
      });
      expect(expected.status).toBe('priced');
      expect(c.costUsd).toBeCloseTo(expected.costUsd as number, 12);
    }
    expect(
      out.spans.filter((s) => s.name.startsWith('chat northwind')).map((s) => s.status),
    ).toEqual(expect.arrayContaining(['unpriced']));
  });

  it('stops the runaway run at the call the per-run budget allows no more', async () => {
    const out = JSON.parse((await demo('--json', '--runs', '6', '--seed', '3')).stdout) as DemoJson;
    const runaway = out.runs.filter((r) => r.kind === 'runaway');
    expect(runaway).toHaveLength(1);
    const run = runaway[0] as DemoJson['runs'][number];
    const perRun = DEMO_BUDGETS.find((b) => b.name === 'per-run');
    const max = perRun?.maxRepeatedToolCalls as number;
    expect(run.result.refused).toEqual({
      budget: 'per-run',
      limit: 'max_repeated_tool_calls',
      used: max,
      max,
    });
    const trace = out.report.topTraces.find((t) => t.traceId === run.traceId);
    // Tool calls 1..max ran (each after a model call); call max + 1 was refused before it ran.
    expect(trace?.toolCalls).toBe(max);
    expect(trace?.llmCalls).toBe(max + 1);
    const text = (await demo('--runs', '6', '--seed', '3')).stdout;
    expect(text).toContain(`refused tool call ${max + 1} of the run before it ran`);
    // Every other run resolved its ticket.
    expect(out.runs.filter((r) => r.result.error !== undefined)).toEqual([run]);
  });

  it('prints the same report for the same seed, a different one for another, within 100 columns', async () => {
    const a = await demo('--runs', '10', '--seed', '42');
    const b = await demo('--runs', '10', '--seed', '42');
    const c = await demo('--runs', '10', '--seed', '43');
    expect(a.code).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    expect(c.stdout).not.toBe(a.stdout);
    for (const line of a.stdout.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
    // Not a TTY here: no escape codes.
    expect(a.stdout).not.toContain('\u001b[');
    expect(readFileSync(join(dir, 'demo.html'), 'utf8')).toContain('<html');
  });

  it('uses the example prices file for the work no catalog prices', () => {
    const file = parse(
      readFileSync(
        join(import.meta.dirname, '../../examples/support-agent/spanledger.yaml'),
        'utf8',
      ),
    ) as Record<string, unknown>;
    expect({
      tools: file.tools,
      retrievals: file.retrievals,
      humanReview: file.humanReview,
      routing: file.routing,
    }).toEqual(DEMO_PRICES);
    expect(file.budgets).toEqual(DEMO_BUDGETS);
  });

  it('--otlp sends the same spans and cost to an OTLP receiver', async () => {
    const sink = await startOtlpReceiver();
    try {
      const out = JSON.parse(
        (await demo('--json', '--runs', '6', '--otlp', sink.endpoint)).stdout,
      ) as DemoJson;
      expect(sink.spans).toHaveLength(out.spans.length);
      const exported = sink.spans.reduce(
        (s, x) => s + ((x.attributes['spanledger.cost.usd'] as number | undefined) ?? 0),
        0,
      );
      expect(Math.abs(exported - out.report.totals.costUsd)).toBeLessThan(1e-9);
      expect(Math.abs(sink.total('spanledger.cost.usd') - out.report.totals.costUsd)).toBeLessThan(
        1e-9,
      );
    } finally {
      await sink.close();
    }
  });

  it('--prometheus-port serves spanledger_cost_usd_total summing to the printed total', async () => {
    const port = await freePort();
    let release: () => void = () => {};
    const until = new Promise<void>((r) => {
      release = r;
    });
    let stdout = '';
    let scraped = '';
    const done = runDemo(
      ['--html', join(dir, 'prom.html'), '--runs', '6', '--prometheus-port', String(port)],
      {
        stdout: (s) => {
          stdout += s;
          // The report is printed once the runs are done: scrape then, while it serves.
          void fetch(`http://127.0.0.1:${port}/metrics`)
            .then((r) => r.text())
            .then((t) => {
              scraped = t;
              release();
            });
        },
        stderr: () => {},
      },
      { until },
    );
    expect(await done).toBe(0);
    const total = Number(/^Total USD (\d+\.\d{6}) /m.exec(stdout)?.[1]);
    expect(stdout).toContain(`http://127.0.0.1:${port}/metrics`);
    const series = scraped
      .split('\n')
      .filter((l) => l.startsWith('spanledger_cost_usd_total{'))
      .map((l) => Number(l.split(' ').at(-1)));
    expect(series.length).toBeGreaterThan(3);
    expect(series.reduce((s, x) => s + x, 0)).toBeCloseTo(total, 6);
  });

  it('refuses bad flags with one line and exit code 2', async () => {
    const few = await cli('demo', '--runs', '2');
    expect(few.code).toBe(2);
    expect(few.stderr).toContain('--runs must be a whole number from 5 to 1000');
    expect((await cli('demo', '--otlp', 'localhost:4318')).code).toBe(2);
    const help = (await cli('demo', '--help')).stdout;
    for (const flag of ['--runs', '--seed', '--otlp', '--prometheus-port', '--json', '--html']) {
      expect(help).toContain(flag);
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
