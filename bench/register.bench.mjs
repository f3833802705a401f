/**
 * What `spanledger/register` adds to a process's startup, and what the helpers add per call.
 *
 * Startup: wall time of a trivial app (start to exit), run ROUNDS times each, interleaved:
 *   - `node app`: no telemetry;
 *   - `node --import bench/fixtures/plain-sdk.mjs app`: the plain NodeSDK, with the same loader
 *     hook, instrumentations and exporters but no spanledger (what a user without us runs);
 *   - `node --import spanledger/register app`.
 * Exporters are `none` so nothing waits on the network. Reported: min and median of each, and
 * register's extra over the plain SDK.
 *
 * Helpers: one process, tinybench: a bare `startActiveSpan` + `end` (the cost any span has)
 * against `traceTool`, `traceRetrieval`, `traceEvaluation` and `recordOutcome`, each through a
 * provider with the ledger's processor first and a no-op exporter. Reported in µs per call.
 *
 *     npm run bench:register        (builds first)
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { Bench } from 'tinybench';
import { cpuModel, distUrl, loadAvg, median, noopExporter, num } from './lib.mjs';

const ROUNDS = num('BENCH_ROUNDS', 15);
const root = fileURLToPath(new URL('..', import.meta.url));
const app = 'bench/fixtures/trivial-app.mjs';
const env = {
  PATH: process.env.PATH,
  OTEL_TRACES_EXPORTER: 'none',
  OTEL_METRICS_EXPORTER: 'none',
  OTEL_LOGS_EXPORTER: 'none',
};

function wallMs(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [...args, app], { cwd: root, env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  return ms;
}

const variants = {
  'no telemetry': [],
  'plain NodeSDK': ['--import', './bench/fixtures/plain-sdk.mjs'],
  'spanledger/register': ['--import', 'spanledger/register'],
};
const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (const args of Object.values(variants)) wallMs(args); // warm the file cache
for (let i = 0; i < ROUNDS; i++) {
  for (const [name, args] of Object.entries(variants)) times[name].push(wallMs(args));
}

console.log(`# spanledger/register startup (${cpuModel()}, load ${loadAvg().join(' ')})`);
console.log(`${ROUNDS} runs each, interleaved; wall ms from spawn to exit\n`);
console.log('| variant | min ms | median ms |');
console.log('|---|---|---|');
for (const [name, xs] of Object.entries(times)) {
  console.log(`| ${name} | ${Math.min(...xs).toFixed(1)} | ${median(xs).toFixed(1)} |`);
}
const extra = (f) => f(times['spanledger/register']) - f(times['plain NodeSDK']);
console.log(
  `\nregister over the plain NodeSDK: +${extra((xs) => Math.min(...xs)).toFixed(1)} ms (min), ` +
    `+${extra(median).toFixed(1)} ms (median)\n`,
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
