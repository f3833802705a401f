/**
 * What `spanledger/register` adds to a process's startup, and what the helpers add per call.
 *
 * Startup: wall time and peak memory of a trivial app (start to exit), run ROUNDS times each,
 * interleaved, for an ES module app (`--import`) and a CommonJS one (`--require`):
 *   - `node app`: no telemetry;
 *   - the plain NodeSDK (bench/fixtures/plain-sdk.mjs, .cjs), with the same instrumentations and
 *     exporters (and, for ES modules, the same loader hook) but no spanledger: what a user
 *     without us runs;
 *   - `node --import spanledger/register app` (`--require` for CommonJS).
 * Exporters are `none` so nothing waits on the network. Wall time is measured here, from spawn
 * to exit; peak memory is the child's own `process.resourceUsage().maxRSS` at exit, written by
 * bench/fixtures/report-rss.mjs, which every variant imports first. Reported: min and median of
 * each, and register's extra over the plain SDK.
 *
 * `BENCH_COMPARE_DIST=<dir>` adds register from another build (`<dir>/register.js`, `.cjs`) to
 * the same interleaved rounds, for before/after figures measured under the same load.
 *
 * First priced span: bench/fixtures/first-span.mjs, run ROUNDS times: the `end()` of the first
 * gpt-4o span a ledger prices (the price catalog loads on first use) and of the next one.
 *
 * Helpers: one process, tinybench: a bare `startActiveSpan` + `end` (the cost any span has)
 * against `traceTool`, `traceRetrieval`, `traceEvaluation` and `recordOutcome`, each through a
 * provider with the ledger's processor first and a no-op exporter. Reported in µs per call.
 *
 *     npm run bench:register        (builds first)
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { Bench } from 'tinybench';
import { cpuModel, distUrl, loadAvg, median, noopExporter, num } from './lib.mjs';

const ROUNDS = num('BENCH_ROUNDS', 15);
const root = fileURLToPath(new URL('..', import.meta.url));
const env = {
  PATH: process.env.PATH,
  OTEL_TRACES_EXPORTER: 'none',
  OTEL_METRICS_EXPORTER: 'none',
  OTEL_LOGS_EXPORTER: 'none',
};
const REPORTER = ['--import', './bench/fixtures/report-rss.mjs'];

/** One run: wall ms from spawn to exit, the child's CPU ms (all threads) and peak RSS in MiB. */
function run(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [...REPORTER, ...args], {
    cwd: root,
    env,
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  const line = /spanledger-bench maxRSS (\d+) cpu (\d+)/.exec(r.stderr);
  if (!line) throw new Error(`${args.join(' ')}: no maxRSS line in ${JSON.stringify(r.stderr)}`);
  return { ms, cpu: Number(line[2]) / 1000, mb: Number(line[1]) / 1024 };
}

const ESM_APP = 'bench/fixtures/trivial-app.mjs';
const CJS_APP = 'bench/fixtures/trivial-app.cjs';
const variants = {
  'ESM: no telemetry': [ESM_APP],
  'ESM: plain NodeSDK': ['--import', './bench/fixtures/plain-sdk.mjs', ESM_APP],
  'ESM: --import spanledger/register': ['--import', 'spanledger/register', ESM_APP],
  'CJS: no telemetry': [CJS_APP],
  'CJS: plain NodeSDK': ['--require', './bench/fixtures/plain-sdk.cjs', CJS_APP],
  'CJS: --require spanledger/register': ['--require', 'spanledger/register', CJS_APP],
};
const compare = process.env.BENCH_COMPARE_DIST;
if (compare) {
  variants['ESM: register from BENCH_COMPARE_DIST'] = [
    '--import',
    pathToFileURL(resolve(compare, 'register.js')).href,
    ESM_APP,
  ];
  variants['CJS: register from BENCH_COMPARE_DIST'] = [
    '--require',
    resolve(compare, 'register.cjs'),
    CJS_APP,
  ];
}
const runs = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (const args of Object.values(variants)) run(args); // warm the file cache
const firstSpan = [];
for (let i = 0; i < ROUNDS; i++) {
  for (const [name, args] of Object.entries(variants)) runs[name].push(run(args));
  const r = spawnSync(process.execPath, ['bench/fixtures/first-span.mjs'], {
    cwd: root,
    env: { ...env, ...(process.env.BENCH_DIST ? { BENCH_DIST: process.env.BENCH_DIST } : {}) },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`first-span failed: ${r.stderr}`);
  firstSpan.push(JSON.parse(r.stdout));
}

const min = (xs) => Math.min(...xs);
const signed = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
const ms = (name) => runs[name].map((r) => r.ms);
const mb = (name) => runs[name].map((r) => r.mb);
const cpu = (name) => runs[name].map((r) => r.cpu);
console.log(`# spanledger/register startup (${cpuModel()}, load ${loadAvg().join(' ')})`);
console.log(
  `${ROUNDS} runs each, interleaved; wall ms from spawn to exit, CPU ms of the child (user + ` +
    'system, all threads: less sensitive to other load than wall time), peak RSS (maxRSS at exit)\n',
);
console.log('| variant | min ms | median ms | min CPU ms | median CPU ms | min MiB | median MiB |');
console.log('|---|---|---|---|---|---|---|');
for (const name of Object.keys(runs)) {
  const cells = [ms, cpu, mb].flatMap((xs) => [min(xs(name)), median(xs(name))]);
  console.log(`| ${name} | ${cells.map((x) => x.toFixed(1)).join(' | ')} |`);
}
console.log(
  '\n| register over the plain NodeSDK | min ms | median ms | min CPU ms | median CPU ms | min MiB | median MiB |',
);
console.log('|---|---|---|---|---|---|---|');
for (const kind of ['ESM', 'CJS']) {
  const plain = `${kind}: plain NodeSDK`;
  const regs = [
    [kind, `${kind}: ${kind === 'ESM' ? '--import' : '--require'} spanledger/register`],
    ...(compare
      ? [[`${kind}, BENCH_COMPARE_DIST`, `${kind}: register from BENCH_COMPARE_DIST`]]
      : []),
  ];
  for (const [label, reg] of regs) {
    const cells = [ms, cpu, mb].flatMap((xs) =>
      [min, median].map((f) => f(xs(reg)) - f(xs(plain))),
    );
    console.log(`| ${label} | ${cells.map(signed).join(' | ')} |`);
  }
}
const usd = new Set(firstSpan.map((r) => r.usd));
console.log(
  `\nFirst priced span (catalog loaded on first use), ${ROUNDS} processes: end() of the first ` +
    `${median(firstSpan.map((r) => r.ends[0])).toFixed(1)} ms median ` +
    `(min ${min(firstSpan.map((r) => r.ends[0])).toFixed(1)}), of the second ` +
    `${median(firstSpan.map((r) => r.ends[1])).toFixed(2)} ms, of the third ` +
    `${median(firstSpan.map((r) => r.ends[2])).toFixed(2)} ms; priced at $${[...usd].join(', ')}\n`,
);

// --- helpers ---
const { createSpanLedger, recordOutcome, traceEvaluation, traceRetrieval, traceTool } =
  await import(distUrl);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const ledger = createSpanLedger({
  prices: { tools: [{ name: 'lookup_order', perCallUsd: 0.002 }] },
});
const provider = new TracerProvider({
  spanProcessors: [ledger.processor, new SimpleSpanProcessor({ exporter: noopExporter })],
});
trace.setGlobalTracerProvider(provider);
const tracer = trace.getTracer('bench');
const options = { tracer };

const bench = new Bench({ time: num('BENCH_TIME_MS', 1500), warmupTime: 300 });
bench
  .add('bare startActiveSpan + end', () => tracer.startActiveSpan('x', (s) => s.end()))
  .add('traceTool (priced by a rule)', () => traceTool('lookup_order', options, () => 1))
  .add('traceRetrieval (unpriced)', () => traceRetrieval('kb', options, () => 1))
  .add('traceEvaluation', () => traceEvaluation('quality', options, () => 1))
  .add('recordOutcome', () =>
    tracer.startActiveSpan('run', (s) => {
      recordOutcome('ticket_resolved', { valueUsd: 12.5, tracer });
      s.end();
    }),
  );
await bench.run();

const perCallUs = (t) => t.result.latency.p50 * 1000;
const base = perCallUs(bench.tasks[0]);
console.log('| operation | p50 µs per call | over a bare span µs |');
console.log('|---|---|---|');
for (const t of bench.tasks) {
  const us = perCallUs(t);
  console.log(
    `| ${t.name} | ${us.toFixed(2)} | ${t === bench.tasks[0] ? '' : `+${(us - base).toFixed(2)}`} |`,
  );
}
console.log('\n(recordOutcome is measured inside a run span: its row includes that span.)');
await ledger.shutdown();
