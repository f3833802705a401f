/**
 * `spanledger demo`: the example support agent (examples/support-agent) run in-process against
 * the example's mock OpenAI API, for a mixed workload (tenants, teams, use cases; tools,
 * retrievals, LLM-as-judge evaluations, human reviews; prompt-cache hits; a self-hosted model no
 * catalog prices; one runaway run that a per-run budget stops), then what it cost: per run, by
 * category, budgets, showback by tenant and use case, cache savings, and an HTML report
 * (docs/demo.md). Nothing else is needed: no collector, no key, no network.
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type CliIO, EXIT, parseCommandLine, UsageError } from './args.js';
import { DECIMALS, renderDemo } from './demo/print.js';
import type { DemoRun } from './demo/run.js';

import { MIN_RUNS, planWorkload } from './demo/workload.js';
import { buildReport } from './report/aggregate.js';
import type { ReportModel } from './report/model.js';
import { reportSpanOf } from './report/read.js';
import { renderTables } from './report/tables.js';

/** Default number of runs. */
export const DEFAULT_RUNS = 24;
/** The most runs: the demo holds every span in memory. */
export const MAX_RUNS = 1000;

/** Usage of `spanledger demo`. */
export const DEMO_USAGE = `Usage: spanledger demo [--runs N] [--seed S] [--otlp URL] [--prometheus-port P] [--json]

Runs the example support agent (examples/support-agent) against a mock OpenAI API, with the real
openai client and spanledger's processor: tenants, teams and use cases; tool calls, retrievals,
LLM-as-judge evaluations, human reviews; prompt-cache hits; a self-hosted model no catalog
prices; one runaway run that a per-run budget stops. Then prints what it cost and writes an HTML
report. Needs no collector, no API key and no network.

Options:
  --runs N               how many runs (default ${DEFAULT_RUNS}, from ${MIN_RUNS} to ${MAX_RUNS})
  --seed S               the workload's seed, a whole number (default 1): same seed, same output
  --html FILE            where to write the HTML report (default: spanledger-demo.html in the
                         system's temp directory)
  --otlp URL             also send the traces and metrics to an OTLP/HTTP collector, e.g.
                         http://localhost:4318
  --prometheus-port P    serve the cost metrics on http://127.0.0.1:P/metrics, and keep serving
                         them after the report until Ctrl-C
  --json                 print the runs, every span's cost and the report model as JSON
  -h, --help             show this help
`;

const OPTIONS = {
  runs: { type: 'string' },
  seed: { type: 'string' },
  html: { type: 'string' },
  otlp: { type: 'string' },
  'prometheus-port': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function wholeNumber(flag: string, raw: string, min: number, max: number): number {
  const n = /^-?\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, got '${raw}'`);
  }
  return n;
}

function otlpUrl(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--otlp must be a URL such as http://localhost:4318, got '${raw}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--otlp must be an http or https URL (OTLP/HTTP), got '${raw}'`);
  }
  return raw.replace(/\/+$/, '');
}

/** The HTML page's renderer (src/cli/report/html.ts), when this build has it. */
type HtmlModule = {
  renderHtml: (model: ReportModel, options?: { title?: string }) => string | Promise<string>;
};

async function loadHtml(): Promise<HtmlModule | undefined> {
  // A specifier the bundler does not follow, as `spanledger report --html` loads it.
  const specifier = './report/html.js';
  try {
    return (await import(specifier)) as HtmlModule;
  } catch {
    return undefined;
  }
}

/** The page: `renderHtml`'s, or the text tables in a page when this build has no renderer or
 * it fails (chart.js not installed): the demo's report is printed either way. */
async function htmlPage(model: ReportModel, io: CliIO): Promise<string> {
  const html = await loadHtml();
  try {
    if (html !== undefined) return await html.renderHtml(model, { title: 'spanledger demo' });
  } catch (e) {
    io.stderr(`spanledger demo: the HTML page could not be rendered, writing the tables: ${e}\n`);
  }
  const text = renderTables(model, { decimals: DECIMALS, title: 'spanledger demo' }).replace(
    /[&<>]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c] as string,
  );
  return `<!doctype html>\n<html lang="en">\n<meta charset="utf-8">\n<title>spanledger demo</title>\n<pre>${text}</pre>\n</html>\n`;
}

/** The heavy part (the NodeSDK, the instrumentations, the agent) is its own bundle
 * (dist/cli/demo.js), loaded only by this command. */
async function loadRun(): Promise<typeof import('./demo/run.js')> {
  return import('./demo/run.js');
}

/** A progress bar on stderr, on a TTY only. */
async function progress(total: number): Promise<{ update(n: number): void; stop(): void }> {
  const none = { update: () => {}, stop: () => {} };
  if (process.stderr.isTTY !== true) return none;
  try {
    const { SingleBar, Presets } = await import('cli-progress');
    const bar = new SingleBar(
      {
        format: 'running the support agent [{bar}] {value}/{total} runs',
        stream: process.stderr,
        clearOnComplete: true,
        hideCursor: true,
      },
      Presets.shades_classic,
    );
    bar.start(total, 0);
    return { update: (n) => bar.update(n), stop: () => bar.stop() };
  } catch {
    return none;
  }
}

/** Options of {@link runDemo} for tests: when to stop serving metrics (default: Ctrl-C). */
export interface DemoHooks {
  until?: Promise<unknown>;
}

/** Run the demo; resolves to the exit code. */
export async function runDemo(argv: string[], io: CliIO, hooks: DemoHooks = {}): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS, true);
  if (values.help) {
    io.stdout(DEMO_USAGE);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const runs =
    values.runs === undefined ? DEFAULT_RUNS : wholeNumber('runs', values.runs, MIN_RUNS, MAX_RUNS);
  const seed = values.seed === undefined ? 1 : wholeNumber('seed', values.seed, 0, 2 ** 32 - 1);
  const port =
    values['prometheus-port'] === undefined
      ? undefined
      : wholeNumber('prometheus-port', values['prometheus-port'], 1, 65535);
  const otlp = otlpUrl(values.otlp);
  const html = resolve(values.html ?? join(tmpdir(), 'spanledger-demo.html'));

  const plan = planWorkload(runs, seed);
  const { runWorkload } = await loadRun();
  const bar = await progress(runs);
  let demo: DemoRun;
  try {
    demo = await runWorkload(plan, {
      seed,
      ...(otlp === undefined ? {} : { otlp }),
      ...(port === undefined ? {} : { prometheusPort: port }),
      onRun: (n) => bar.update(n),
    });
  } catch (e) {
    bar.stop();
    const message = e instanceof Error ? e.message : String(e);
    if (/Cannot find module 'openai'/.test(message)) {
      io.stderr(
        'spanledger demo: it runs the real openai client: install it (npm install openai)\n',
      );
      return EXIT.config;
    }
    if (message.startsWith('cannot serve metrics')) {
      io.stderr(`spanledger demo: ${message}\n`);
      return EXIT.config;
    }
    throw e;
  }
  bar.stop();
  try {
    const spans = demo.spans.map(reportSpanOf);
    const model = await buildReport(spans, { by: ['tenant', 'use_case'], top: runs });
    await writeFile(html, await htmlPage(model, io));
    if (values.json) {
      io.stdout(
        `${JSON.stringify(
          {
            seed,
            html,
            runs: demo.runs,
            budgetEvents: demo.budgetEvents,
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId,
              name: s.name,
              category: s.attributes['spanledger.cost.category'],
              status: s.attributes['spanledger.cost.status'],
              costUsd: s.attributes['spanledger.cost.usd'],
              cacheSavingsUsd: s.attributes['spanledger.cost.cache_savings_usd'],
              ...usageOf(s.attributes),
            })),
            report: model,
          },
          null,
          2,
        )}\n`,
      );
    } else {
      io.stdout(
        renderDemo(model, demo.runs, demo.budgetEvents, {
          seed,
          html,
          color: io.color === true,
          ...(otlp === undefined ? {} : { otlp }),
          ...(demo.metricsUrl === undefined ? {} : { metricsUrl: demo.metricsUrl }),
        }),
      );
    }
    if (demo.metricsUrl !== undefined) await (hooks.until ?? interrupted());
  } finally {
    await demo.stop();
  }
  return EXIT.ok;
}

/** A model call's tokens, to check its price by: the request model, input (cached included),
 * cached input and output tokens. */
function usageOf(a: Readonly<Record<string, unknown>>): { usage?: object } {
  const model = a['gen_ai.request.model'];
  const input = a['gen_ai.usage.input_tokens'];
  if (typeof model !== 'string' || typeof input !== 'number') return {};
  return {
    usage: {
      model,
      input,
      output: a['gen_ai.usage.output_tokens'],
      cached: a['gen_ai.usage.cache_read.input_tokens'] ?? 0,
    },
  };
}

/** Resolves on Ctrl-C (SIGINT) or SIGTERM, which then stop the demo instead of the process. */
function interrupted(): Promise<void> {
  return new Promise((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
