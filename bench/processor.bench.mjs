// Span-pipeline overhead of spanledger's cost processor, measured in one run with tinybench.
//
//   npm run bench                       (builds, then runs this file)
//   node bench/processor.bench.mjs      (after `npm run build`)
//
// Environment knobs: BENCH_TIME_MS (measured time per task and round, default 1000),
// BENCH_ROUNDS (default 7), BENCH_BATCH (spans per timed sample, default 256),
// BENCH_DIST (path of another build's index.js to measure instead of ../dist/index.js).
// `--json` prints only the JSON results; `--out FILE` also writes them to FILE.
//
// Pipelines: plain = BasicTracerProvider + SimpleSpanProcessor(no-op exporter);
//            ledger = the same with spanledger's processor registered FIRST.
// Scenarios: (a) HTTP server span, no GenAI keys; (b) priced LLM chat span (gpt-4o, warm cache);
//            (c) execute_tool parent + LLM child (category inheritance); (d) pricing engine alone.
// Each timed sample runs BATCH spans and then yields one macrotask, so the SDK's per-span export
// promises are settled inside the sample (their cost belongs to the pipeline; the yield is a
// fixed ~µs per batch, the same for both pipelines). Rounds are interleaved (plain/ledger order
// alternates per round); figures are the median over rounds.

import { execSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Bench } from 'tinybench';

// --- options ---------------------------------------------------------------------------------
// BENCH_DIST: another build of the package to measure (A/B of a candidate change), default ../dist.
const distUrl = process.env.BENCH_DIST
  ? new URL(process.env.BENCH_DIST, `file://${process.cwd()}/`).href
  : new URL('../dist/index.js', import.meta.url).href;
const { createSpanLedger, priceUsage } = await import(distUrl);
const args = process.argv.slice(2);
const jsonOnly = args.includes('--json');
const outIdx = args.indexOf('--out');
const outFile = outIdx >= 0 ? args[outIdx + 1] : undefined;
const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const BATCH = Number(process.env.BENCH_BATCH ?? 256);
const WARMUP_MS = 200;
const log = jsonOnly ? () => {} : (...a) => console.log(...a);

// global.gc even when node was started without --expose-gc (npm run bench).
if (typeof globalThis.gc !== 'function') {
  v8.setFlagsFromString('--expose-gc');
  globalThis.gc = vm.runInNewContext('gc');
}
const gc = () => globalThis.gc();

// --- machine ---------------------------------------------------------------------------------
function cpuModel() {
  try {
    const m = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m);
    if (m) return m[1].trim();
  } catch {}
  return os.cpus()[0]?.model ?? 'unknown';
}
function dep(name) {
  try {
    return JSON.parse(
      readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url)),
    ).version;
  } catch {
    return '?';
  }
}
let nproc = String(os.availableParallelism?.() ?? os.cpus().length);
try {
  nproc = execSync('nproc', { encoding: 'utf8' }).trim();
} catch {}
const machine = {
  cpu: cpuModel(),
  nproc: Number(nproc),
  memGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  loadAvgAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
  v8: process.versions.v8,
  platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  sdkTraceBase: dep('@opentelemetry/sdk-trace-base'),
  api: dep('@opentelemetry/api'),
  tinybench: dep('tinybench'),
};

// --- pipelines -------------------------------------------------------------------------------
/** Exporter whose export() reports success at once. */
const noopExporter = {
  export(_spans, resultCallback) {
    resultCallback({ code: 0 });
  },
  shutdown() {
    return Promise.resolve();
  },
  forceFlush() {
    return Promise.resolve();
  },
};

const ledger = createSpanLedger();
const plainProvider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(noopExporter)],
});
const ledgerProvider = new BasicTracerProvider({
  spanProcessors: [ledger.processor, new SimpleSpanProcessor(noopExporter)],
});
const tracers = {
  plain: plainProvider.getTracer('bench'),
  ledger: ledgerProvider.getTracer('bench'),
};

// --- span shapes -----------------------------------------------------------------------------
const HTTP_ATTRS = {
  'http.request.method': 'GET',
  'url.path': '/api/v1/orders/12345',
  'url.scheme': 'https',
  'server.address': 'api.example.com',
  'server.port': 443,
  'http.route': '/api/v1/orders/:id',
  'http.response.status_code': 200,
  'network.protocol.version': '1.1',
  'user_agent.original': 'Mozilla/5.0 (X11; Linux x86_64)',
  'client.address': '10.0.0.17',
};
const LLM_ATTRS = {
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': 'openai',
  'gen_ai.request.model': 'gpt-4o',
  'gen_ai.response.model': 'gpt-4o-2024-08-06',
  'gen_ai.usage.input_tokens': 1200,
  'gen_ai.usage.cache_read.input_tokens': 1024,
  'gen_ai.usage.output_tokens': 300,
  'gen_ai.response.finish_reasons': ['stop'],
};
const TOOL_ATTRS = {
  'gen_ai.operation.name': 'execute_tool',
  'gen_ai.tool.name': 'web_search',
  'gen_ai.tool.call.id': 'call_abc123',
};
const USAGE = {
  provider: 'openai',
  model: 'gpt-4o-2024-08-06',
  inputTokens: 1200,
  cacheReadTokens: 1024,
  outputTokens: 300,
};

const SHAPES = {
  a: {
    label: '(a) HTTP span, no GenAI keys',
    spansPerOp: 1,
    op(tracer) {
      const s = tracer.startSpan('GET /api/v1/orders/:id', { kind: SpanKind.SERVER }, ROOT_CONTEXT);
      s.setAttributes(HTTP_ATTRS);
      s.end();
    },
  },
  b: {
    label: '(b) priced LLM chat span',
    spansPerOp: 1,
    op(tracer) {
      const s = tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT }, ROOT_CONTEXT);
      s.setAttributes(LLM_ATTRS);
      s.end();
    },
  },
  c: {
    label: '(c) execute_tool parent + LLM child',
    spansPerOp: 2,
    op(tracer) {
      const parent = tracer.startSpan(
        'execute_tool web_search',
        { kind: SpanKind.INTERNAL },
        ROOT_CONTEXT,
      );
      parent.setAttributes(TOOL_ATTRS);
      const child = tracer.startSpan(
        'chat gpt-4o',
        { kind: SpanKind.CLIENT },
        trace.setSpan(ROOT_CONTEXT, parent),
      );
      child.setAttributes(LLM_ATTRS);
      child.end();
      parent.end();
    },
  },
};

// --- sanity check: the ledger pipeline really prices (and warms the price cache) ---------------
function sanityCheck() {
  const mem = new InMemorySpanExporter();
  const p = new BasicTracerProvider({
    spanProcessors: [ledger.processor, new SimpleSpanProcessor(mem)],
  });
  const t = p.getTracer('bench-check');
  SHAPES.a.op(t);
  SHAPES.b.op(t);
  SHAPES.c.op(t);
  const [http, llm, child, parent] = mem.getFinishedSpans();
  const fail = (m) => {
    throw new Error(`bench sanity check failed: ${m}`);
  };
  if (Object.keys(http.attributes).some((k) => k.startsWith('spanledger.')))
    fail('HTTP span got cost attributes');
  if (llm.attributes['spanledger.cost.status'] !== 'priced')
    fail(`LLM span not priced: ${JSON.stringify(llm.attributes)}`);
  if (!(llm.attributes['spanledger.cost.usd'] > 0)) fail('LLM span has no cost');
  if (child.attributes['spanledger.cost.category'] !== 'tool') {
    fail(
      `child of execute_tool has category ${child.attributes['spanledger.cost.category']}, expected tool`,
    );
  }
  return {
    llmCostUsd: llm.attributes['spanledger.cost.usd'],
    llmAttrsWritten: Object.keys(llm.attributes).filter((k) => !(k in LLM_ATTRS)).length,
    childCategory: child.attributes['spanledger.cost.category'],
    parentCategory: parent.attributes['spanledger.cost.category'],
  };
}
const check = sanityCheck();
// Warm the price cache and JIT outside the timed rounds.
ledger.priceBook.price(USAGE, new Date());
priceUsage(USAGE);
for (let i = 0; i < 2000; i++) for (const k of Object.keys(SHAPES)) SHAPES[k].op(tracers.ledger);
await new Promise((r) => setImmediate(r));

// --- tasks -----------------------------------------------------------------------------------
const drain = () => new Promise((r) => setImmediate(r));
let sink = 0;
const AT = new Date();
const book = ledger.priceBook;

function spanTask(shape, pipeline) {
  const tracer = tracers[pipeline];
  const op = SHAPES[shape].op;
  return async () => {
    for (let i = 0; i < BATCH; i++) op(tracer);
    await drain();
  };
}
const pricingTasks = {
  'd1 priceUsage': () => {
    for (let i = 0; i < BATCH; i++) sink += priceUsage(USAGE).costUsd;
  },
  'd2 PriceBook.price': () => {
    for (let i = 0; i < BATCH; i++) sink += book.price(USAGE, AT).costUsd;
  },
};

const hooks = { beforeAll: () => gc() };

/** name -> per-round { nsPerOp, rme, samples } */
const raw = {};
for (let round = 0; round < ROUNDS; round++) {
  const bench = new Bench({
    name: `round ${round + 1}`,
    time: TIME_MS,
    warmupTime: WARMUP_MS,
    iterations: 16,
  });
  const order = round % 2 === 0 ? ['plain', 'ledger'] : ['ledger', 'plain'];
  for (const shape of Object.keys(SHAPES)) {
    for (const pipeline of order)
      bench.add(`${shape} ${pipeline}`, spanTask(shape, pipeline), hooks);
  }
  for (const [name, fn] of Object.entries(pricingTasks)) bench.add(name, fn, hooks);
  log(
    `round ${round + 1}/${ROUNDS} (${bench.tasks.length} tasks x ~${((TIME_MS + WARMUP_MS) / 1000).toFixed(1)} s)...`,
  );
  await bench.run();
  for (const task of bench.tasks) {
    const r = task.result;
    if (r.state !== 'completed')
      throw new Error(`task ${task.name} ${r.state}: ${r.error?.stack ?? ''}`);
    const shape = SHAPES[task.name.split(' ')[0]];
    const opsPerSample = BATCH * (shape ? shape.spansPerOp : 1);
    raw[task.name] ??= [];
    raw[task.name].push({
      nsPerOp: (r.latency.mean * 1e6) / opsPerSample,
      rme: r.latency.rme,
      samples: r.latency.samplesCount,
    });
  }
}
if (sink === 0) log('(sink)');

// --- figures ---------------------------------------------------------------------------------
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const rows = [];
const summary = {};
for (const [name, rounds] of Object.entries(raw)) {
  const ns = rounds.map((r) => r.nsPerOp);
  const med = median(ns);
  const isSpan = name.split(' ')[0] in SHAPES;
  summary[name] = { nsPerOp: med, perSecond: 1e9 / med, rounds: ns };
  rows.push({
    task: name,
    unit: isSpan ? 'span' : 'call',
    'ops/s (median)': Math.round(1e9 / med).toLocaleString('en-US'),
    'ns/op (median)': med.toFixed(0),
    'ns/op per round': ns.map((x) => x.toFixed(0)).join(' / '),
    'max ±rme %': Math.max(...rounds.map((r) => r.rme)).toFixed(2),
  });
}
// Paired per round (plain and ledger ran back to back), then the median.
const paired = (shape, f) =>
  median(raw[`${shape} plain`].map((p, i) => f(p.nsPerOp, raw[`${shape} ledger`][i].nsPerOp)));
const derived = {
  ratioA: paired('a', (p, l) => p / l), // throughput ledger / plain
  addedUsPerSpanA: paired('a', (p, l) => (l - p) / 1e3),
  ratioB: paired('b', (p, l) => p / l),
  addedUsPerSpanB: paired('b', (p, l) => (l - p) / 1e3),
  ratioC: paired('c', (p, l) => p / l),
  addedUsPerPairC: paired('c', (p, l) => (2 * (l - p)) / 1e3),
  perRound: {
    ratioA: raw['a plain'].map((p, i) => p.nsPerOp / raw['a ledger'][i].nsPerOp),
    addedUsPerSpanB: raw['b plain'].map((p, i) => (raw['b ledger'][i].nsPerOp - p.nsPerOp) / 1e3),
  },
};
const targets = {
  ratioA: { target: '>= 0.95', met: derived.ratioA >= 0.95 },
  addedUsPerSpanB: { target: '<= 2 µs', met: derived.addedUsPerSpanB <= 2 },
};
machine.loadAvgAtEnd = os.loadavg().map((x) => Number(x.toFixed(2)));
const result = {
  date: new Date().toISOString(),
  dist: distUrl,
  machine,
  settings: { timeMsPerTaskRound: TIME_MS, warmupMs: WARMUP_MS, rounds: ROUNDS, batch: BATCH },
  check,
  tasks: summary,
  derived,
  targets,
  stats: ledger.stats(),
};

if (!jsonOnly) {
  log('');
  log(
    `machine: ${machine.cpu}, ${machine.nproc} cores, ${machine.memGiB} GiB, Node ${machine.node}, ${machine.platform}`,
  );
  log(
    `load average (1/5/15 min) at start ${machine.loadAvgAtStart.join(' ')}, at end ${machine.loadAvgAtEnd.join(' ')}; package: ${distUrl}`,
  );
  log(
    `settings: ${ROUNDS} rounds x ${TIME_MS} ms per task (+${WARMUP_MS} ms warmup), ${BATCH} spans/calls per sample; median over rounds`,
  );
  console.table(rows);
  const f = (x, d = 3) => x.toFixed(d);
  const pr = (xs, d) => xs.map((x) => f(x, d)).join(' / ');
  log(
    `(a) throughput ratio ledger/plain     = ${f(derived.ratioA)}  (target >= 0.95: ${targets.ratioA.met ? 'MET' : 'MISSED'}; per round ${pr(derived.perRound.ratioA, 3)}); added ${f(derived.addedUsPerSpanA)} µs/span`,
  );
  log(
    `(b) added µs per priced LLM span      = ${f(derived.addedUsPerSpanB)}  (target <= 2 µs: ${targets.addedUsPerSpanB.met ? 'MET' : 'MISSED'}; per round ${pr(derived.perRound.addedUsPerSpanB, 3)}); ratio ${f(derived.ratioB)}`,
  );
  log(
    `(c) added µs per tool+LLM span pair   = ${f(derived.addedUsPerPairC)}  (ratio ${f(derived.ratioC)})`,
  );
  log(
    `(d) PriceBook.price ${summary['d2 PriceBook.price'].nsPerOp.toFixed(0)} ns/call, priceUsage ${summary['d1 priceUsage'].nsPerOp.toFixed(0)} ns/call (warm cache)`,
  );
  log(
    `sanity: LLM span priced at $${check.llmCostUsd}, ${check.llmAttrsWritten} attributes written; child of execute_tool -> category ${check.childCategory}`,
  );
  log('');
  log('JSON:');
}
console.log(JSON.stringify(result, null, 2));
if (outFile) writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
await ledger.shutdown();
