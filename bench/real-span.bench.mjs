// In-process micro-harness: spanledger's processor on the real span shapes
// (bench/fixtures/real-spans.mjs), timed around its own methods.
//
//   node bench/real-span.bench.mjs            (after `npm run build`)
//   BENCH_BASELINE=.scratch/dist-0 node bench/real-span.bench.mjs   (A/B, children alternating)
//
// Each child builds what `spanledger/register` builds around a model call (a TracerProvider with
// the ledger's processor first and a span processor after it, a real MeterProvider so every cost
// metric is recorded), replays the captured span as a local root, and times `onEnding` and
// `onStart` with performance.now(), plus the steps inside `onEnding` when BENCH_STEPS=1 (the
// step timers add their own cost). Between two spans it runs "churn" (JSON of a chat response,
// some allocation, as the client, undici and the exporters do between two real calls) so the
// processor runs with caches as cold as in the real app; BENCH_CHURN=0 turns it off (hot loop).
// It also counts bytes allocated per span (heap growth over BENCH_ALLOC_SPANS spans with the
// young generation large enough that no scavenge runs) against the same pipeline without the
// ledger. Knobs: BENCH_ROUNDS (children per build, default 6), BENCH_SPANS (timed spans per
// child, default 4000), BENCH_WARMUP (default 1000), BENCH_SHAPE (openai | anthropic).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ANTHROPIC_MESSAGES, OPENAI_CHAT, replay } from './fixtures/real-spans.mjs';
import { loadAvg, median, noopExporter, num } from './lib.mjs';

const SHAPES = { openai: OPENAI_CHAT, anthropic: ANTHROPIC_MESSAGES };
const args = process.argv.slice(2);
const childIdx = args.indexOf('--child');

if (childIdx >= 0) {
  const dist = args[childIdx + 1];
  const shape = SHAPES[process.env.BENCH_SHAPE ?? 'openai'];
  const SPANS = num('BENCH_SPANS', 4000);
  const WARMUP = num('BENCH_WARMUP', 1000);
  const CHURN = process.env.BENCH_CHURN !== '0';
  const { createSpanLedger } = await import(new URL(dist, `file://${process.cwd()}/`).href);

  function pipeline(withLedger, exporter = noopExporter) {
    const reader = new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      exportIntervalMillis: 3_600_000,
    });
    const ledger = withLedger
      ? createSpanLedger({ meterProvider: new MeterProvider({ readers: [reader] }) })
      : undefined;
    const spanProcessors = [new SimpleSpanProcessor({ exporter })];
    if (ledger) spanProcessors.unshift(ledger.processor);
    const provider = new TracerProvider({ spanProcessors });
    return { tracer: provider.getTracer(shape.scope.name, shape.scope.version), ledger };
  }

  // Money first: the replayed span is priced as the real one was.
  {
    const mem = new InMemorySpanExporter();
    const { tracer } = pipeline(true, mem);
    replay(tracer, shape, ROOT_CONTEXT);
    const a = mem.getFinishedSpans()[0].attributes;
    if (
      Math.abs(a['spanledger.cost.usd'] - shape.costUsd) > 1e-12 ||
      a['spanledger.trace.cost.usd'] !== a['spanledger.cost.usd']
    )
      throw new Error(`replayed span priced wrongly: ${JSON.stringify(a)}`);
  }

  const { tracer, ledger } = pipeline(true);
  const proc = ledger.processor;
  const timers = { onEnding: [], onStart: [] };
  const wrap = (obj, name, into) => {
    const f = obj[name];
    if (typeof f !== 'function') return;
    const label = into ?? name;
    timers[label] ??= [];
    const list = timers[label];
    obj[name] = function (...a) {
      const t = performance.now();
      try {
        return f.apply(this, a);
      } finally {
        list.push(performance.now() - t);
      }
    };
  };
  wrap(proc, 'onEnding');
  wrap(proc, 'onStart');
  if (process.env.BENCH_STEPS === '1') {
    for (const step of ['costOf', 'write', 'closeRun', 'rollUp', 'addToSubtree']) wrap(proc, step);
    const m = proc.metrics?.();
    if (m) {
      wrap(m, 'record', 'metrics.record');
      wrap(m, 'recordTrace', 'metrics.recordTrace');
    }
  }

  // Between two calls the real app parses a response, builds a request and exports: enough
  // work to evict what the processor's path had in the caches.
  const body = JSON.stringify({
    id: 'chatcmpl-mock',
    object: 'chat.completion',
    model: 'gpt-4o-2024-08-06',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'Hello. '.repeat(40) },
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: 1200,
      completion_tokens: 300,
      prompt_tokens_details: { cached_tokens: 1024 },
    },
    headers: Object.fromEntries(
      Array.from({ length: 30 }, (_, i) => [`x-header-${i}`, `value-${i}`]),
    ),
  });
  let sink = 0;
  // Many object shapes read through shared property sites, as the client, undici and the SDK's
  // exporters do: V8's megamorphic lookup cache then holds their entries, not the processor's.
  const shapes = Array.from({ length: 400 }, (_, i) => {
    const o = {};
    for (let j = 0; j < 6 + (i % 9); j++) o[`k${(i * 7 + j * 13) % 97}_${j}`] = j;
    return o;
  });
  const keysOf = shapes.map((o) => Object.keys(o));
  const readAll = (o, ks) => {
    let n = 0;
    for (let j = 0; j < ks.length; j++) n += o[ks[j]];
    return n;
  };
  const churn = () => {
    for (let i = 0; i < shapes.length; i++) sink += readAll(shapes[i], keysOf[i]);
    for (let i = 0; i < 6; i++) {
      const o = JSON.parse(body);
      o.n = i;
      sink += JSON.stringify(o).length;
      const m = new Map(Object.entries(o.headers));
      sink += m.size;
    }
  };

  for (let i = 0; i < WARMUP; i++) {
    if (CHURN) churn();
    replay(tracer, shape, ROOT_CONTEXT);
  }
  for (const k in timers) timers[k].length = 0;
  globalThis.gc?.();
  for (let i = 0; i < SPANS; i++) {
    if (CHURN) churn();
    replay(tracer, shape, ROOT_CONTEXT);
    if (i % 256 === 255) await new Promise((r) => setImmediate(r));
  }
  const out = { sink: sink > 0 };
  for (const [k, xs] of Object.entries(timers)) {
    if (xs.length === 0) continue;
    const s = [...xs].sort((x, y) => x - y);
    out[k] = {
      p50: s[s.length >> 1] * 1000,
      mean: (xs.reduce((a, b) => a + b, 0) / xs.length) * 1000,
      n: xs.length,
    };
  }
  // Bytes per span: heap growth over N spans, no scavenge in between (the parent starts the
  // child with a young generation large enough), with and without the ledger.
  const N = num('BENCH_ALLOC_SPANS', 2000);
  const used = () =>
    v8
      .getHeapSpaceStatistics()
      .filter((s) => s.space_name === 'new_space' || s.space_name === 'old_space')
      .reduce((n, s) => n + s.space_used_size, 0);
  const bytes = (tr) => {
    for (let i = 0; i < 2000; i++) replay(tr, shape, ROOT_CONTEXT);
    globalThis.gc();
    const h0 = used();
    for (let i = 0; i < N; i++) replay(tr, shape, ROOT_CONTEXT);
    return (used() - h0) / N;
  };
  const plain = pipeline(false).tracer;
  bytes(plain);
  const b0 = Math.min(bytes(plain), bytes(plain));
  const b1 = Math.min(bytes(tracer), bytes(tracer));
  out.bytesPerSpan = { plain: Math.round(b0), ledger: Math.round(b1), added: Math.round(b1 - b0) };
  await ledger.shutdown();
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}

// --- parent: alternate the builds, one child per (build, round) -------------------------------
const self = fileURLToPath(import.meta.url);
const builds = { A: process.env.BENCH_DIST ?? 'dist/index.js' };
if (process.env.BENCH_BASELINE)
  builds.B = `${process.env.BENCH_BASELINE.replace(/\/$/, '')}/index.js`;
const ROUNDS = num('BENCH_ROUNDS', 6);
const runChild = (dist) =>
  new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      ['--expose-gc', '--single-threaded-gc', '--max-semi-space-size=128', self, '--child', dist],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let s = '';
    p.stdout.on('data', (d) => {
      s += d;
    });
    p.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(s)) : reject(new Error(`child ${dist} exited ${code}`)),
    );
  });

console.log(
  `shape ${process.env.BENCH_SHAPE ?? 'openai'}, churn ${process.env.BENCH_CHURN !== '0'}, builds ${JSON.stringify(builds)}, load ${loadAvg().join(' ')}`,
);
const res = {};
for (let r = 0; r < ROUNDS; r++) {
  const order = Object.keys(builds);
  if (r % 2 === 1) order.reverse();
  for (const b of order) {
    res[b] ??= [];
    res[b].push(await runChild(builds[b]));
  }
}
for (const [b, rs] of Object.entries(res)) {
  const keys = Object.keys(rs[0]).filter((k) => k !== 'sink' && k !== 'bytesPerSpan');
  const row = keys.map((k) => {
    const p = rs.map((x) => x[k].p50);
    return `${k} p50 ${median(p).toFixed(2)} µs (${Math.min(...p).toFixed(2)}–${Math.max(...p).toFixed(2)})`;
  });
  const added = rs.map((x) => x.bytesPerSpan.added);
  console.log(
    `${b} ${builds[b]}: ${row.join('; ')}; bytes/span added ${median(added)} (plain ${median(rs.map((x) => x.bytesPerSpan.plain))})`,
  );
}
console.log(`load ${loadAvg().join(' ')}`);
