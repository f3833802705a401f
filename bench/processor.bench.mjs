// Span-pipeline overhead of spanledger's cost processor.
//
//   npm run bench                       (builds, then runs this file)
//   node bench/processor.bench.mjs      (after `npm run build`)
//
// Why child processes: timing several pipelines in ONE process lets them pollute each other's
// inline caches, hidden-class transitions and GC (per-round figures moved by 2-4x on a shared
// 2-core machine). So every (scenario, pipeline) measurement runs in its OWN child process
// (`node --expose-gc bench/processor.bench.mjs --child <scenario> <pipeline>`) that builds only
// that one pipeline, warms it up, then times ROUNDS rounds of SPANS spans and reports the best
// round. The parent repeats this over PROCS processes per task, plain/ledger(/lean) back to back
// with the order alternating per repetition, and derives:
//   - per task: median and min over processes (each process contributes its best round);
//   - (a) ratio and (b)/(b')/(c)/(e) added µs: MIN-VS-MIN (best ledger process vs best plain
//     process) -> the headline and the verdict, because noise on a shared machine only adds
//     time; the median of the per-repetition PAIRED figures (plain and ledger processes run back
//     to back) is printed alongside with its own verdict.
// The pricing engine alone (d) runs in the parent process with tinybench.
//
// Environment knobs: BENCH_PROCS (processes per task, default 5), BENCH_SPANS (spans per timed
// round, default 120000), BENCH_ROUNDS (timed rounds per process, default 3), BENCH_WARMUP_SPANS
// (default 30000), BENCH_BATCH (spans between macrotask yields, default 256), BENCH_SCENARIOS
// (comma list of a,b,c,e,f,g; default all), BENCH_TIME_MS (tinybench time per (d) task, default 500),
// BENCH_DIST (path of another build's index.js to measure instead of ../dist/index.js).
// `--json` prints only the JSON results; `--out FILE` also writes them to FILE.
//
// Pipelines: plain  = TracerProvider + SimpleSpanProcessor(no-op exporter);
//            ledger = the same with createSpanLedger().processor registered FIRST;
//            lean   = ledger with createSpanLedger({ semconvCostAttributes: false }) (3 fewer
//                     attributes written: the gen_ai.usage.cost.* mirrors);
//            metered = ledger with a real MeterProvider (every cost metric recorded);
//            routed = metered with `routing` (gpt-4o -> gpt-4o-mini, claude-haiku-4-5): (br),
//                     the routing counterfactuals' added cost, is routed - metered in (b).
// Scenarios: (a) HTTP server span, 10 attributes, no GenAI keys;
//            (b) priced LLM chat span, the 7 attributes needed to price it (gpt-4o, warm cache);
//            (c) execute_tool parent + LLM child (category inheritance), per span;
//            (d) pricing engine alone (in-process); (d3) the routing counterfactual step alone
//                (two alternatives priced on the usage of one span);
//            (e) priced LLM span with a realistic attribute count: the 7 of (b) + 13 typical
//                ones = 20, so the span's attributes object is already in V8 dictionary mode
//                before spanledger adds its 15;
//            (f) an agent run: root + 10 priced LLM children, with the `attrs` pipeline (f0): the
//                SDK writing the ledger's attributes as constants, the floor under any
//                implementation. Targets: (a) plain spans keep >= 0.95 of the SDK's throughput;
//                (f - f0) a priced call costs <= 1.5 µs above that floor (docs/performance.md);
//            (g) the attributes of a real contrib-OpenAI chat span, the span its run's local root,
//                with the `attrs` floor (g0) and a real meter provider (gm).
// Each timed round yields one macrotask (setImmediate) every BATCH spans, so the SDK's per-span
// export promises settle inside the round (their cost belongs to the pipeline; the yield is a
// fixed cost per batch, the same for both pipelines).

import { execSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
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
import { OPENAI_CHAT, replay } from './fixtures/real-spans.mjs';
import {
  cpuModel,
  distUrl,
  HTTP_ATTRS,
  loadAvg,
  median,
  noopExporter,
  num,
  ratioInterval,
} from './lib.mjs';

// --- options ---------------------------------------------------------------------------------
const { createSpanLedger, priceUsage } = await import(distUrl);
const args = process.argv.slice(2);
const PROCS = num('BENCH_PROCS', 5);
const SPANS = num('BENCH_SPANS', 120000);
const ROUNDS = num('BENCH_ROUNDS', 3);
const WARMUP_SPANS = num('BENCH_WARMUP_SPANS', 30000);
const BATCH = num('BENCH_BATCH', 256);
const TIME_MS = num('BENCH_TIME_MS', 500);

// --- span shapes -----------------------------------------------------------------------------
/** The 7 attributes that make a span a priced LLM call. */
const LLM_ATTRS = {
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': 'openai',
  'gen_ai.request.model': 'gpt-4o',
  'gen_ai.response.model': 'gpt-4o-2024-08-06',
  'gen_ai.usage.input_tokens': 1200,
  'gen_ai.usage.cache_read.input_tokens': 1024,
  'gen_ai.usage.output_tokens': 300,
};
/** (e): LLM_ATTRS + 13 attributes a real instrumentation typically sets = 20 attributes. */
const REALISTIC_LLM_ATTRS = {
  ...LLM_ATTRS,
  'server.address': 'api.openai.com',
  'server.port': 443,
  'gen_ai.request.temperature': 0.2,
  'gen_ai.request.max_tokens': 1024,
  'gen_ai.request.top_p': 1,
  'gen_ai.request.frequency_penalty': 0,
  'gen_ai.request.presence_penalty': 0,
  'gen_ai.request.seed': 42,
  'gen_ai.request.stop_sequences': ['\n\nUser:'],
  'gen_ai.response.id': 'chatcmpl-AbC123xyz',
  'gen_ai.response.finish_reasons': ['stop'],
  'gen_ai.output.type': 'text',
  'gen_ai.conversation.id': 'conv_5j66UpCpwteGg4YSxUnt7lPY',
};
const AGENT_ATTRS = {
  'gen_ai.operation.name': 'invoke_agent',
  'gen_ai.agent.name': 'support',
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
const EXPECTED_LLM_COST_USD = 0.00472;
/** Routing counterfactuals of the 'routed' pipeline and (d3): two alternatives for gpt-4o. */
const ROUTING = { models: { 'gpt-4o': ['gpt-4o-mini', 'claude-haiku-4-5'] } };

const SHAPES = {
  a: {
    label: '(a) HTTP span, 10 attrs, no GenAI keys',
    spansPerOp: 1,
    pipelines: ['plain', 'ledger'],
    op(tracer) {
      const s = tracer.startSpan('GET /api/v1/orders/:id', { kind: SpanKind.SERVER }, ROOT_CONTEXT);
      s.setAttributes(HTTP_ATTRS);
      s.end();
    },
  },
  b: {
    label: '(b) priced LLM span, 7 attrs',
    spansPerOp: 1,
    pipelines: ['plain', 'ledger', 'lean', 'metered', 'routed'],
    op(tracer) {
      const s = tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT }, ROOT_CONTEXT);
      s.setAttributes(LLM_ATTRS);
      s.end();
    },
  },
  c: {
    label: '(c) execute_tool parent + LLM child',
    spansPerOp: 2,
    pipelines: ['plain', 'ledger'],
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
  f: {
    // A real run: the root (an agent span, no usage of its own) and ten priced model calls
    // under it. The per-span figure is over 11 spans; the derived figure is per priced call,
    // with the root's rollup write shared among the ten.
    label: '(f) run: agent root + 10 LLM children',
    spansPerOp: 11,
    pipelines: ['plain', 'ledger', 'lean', 'attrs', 'metered'],
    op(tracer) {
      const root = tracer.startSpan(
        'invoke_agent support',
        { kind: SpanKind.INTERNAL },
        ROOT_CONTEXT,
      );
      root.setAttributes(AGENT_ATTRS);
      const ctx = trace.setSpan(ROOT_CONTEXT, root);
      for (let i = 0; i < 10; i++) {
        const s = tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT }, ctx);
        s.setAttributes(LLM_ATTRS);
        s.end();
      }
      root.end();
    },
  },
  g: {
    // The captured attributes of a real contrib-OpenAI chat span (bench/fixtures/real-spans.mjs),
    // set as the instrumentation sets them (5 at start, 8 later), the span its run's local root as
    // in the overhead bench's app: its own 17 cost attributes, the subtree cost and the 12 run
    // totals are written on it. In-process timings of the steps: bench/real-span.bench.mjs.
    label: '(g) real OpenAI chat span, 13 attrs, local root',
    spansPerOp: 1,
    pipelines: ['plain', 'ledger', 'attrs', 'metered'],
    op(tracer) {
      replay(tracer, OPENAI_CHAT, ROOT_CONTEXT);
    },
  },
  e: {
    label: '(e) priced LLM span, 20 attrs',
    spansPerOp: 1,
    pipelines: ['plain', 'ledger', 'lean'],
    op(tracer) {
      const s = tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT }, ROOT_CONTEXT);
      s.setAttributes(REALISTIC_LLM_ATTRS);
      s.end();
    },
  },
};

// --- pipelines -------------------------------------------------------------------------------
/** Exporter whose export() reports success at once. */
/**
 * The `attrs` pipeline's processor: it writes, in `onEnding`, exactly the attributes the ledger
 * writes on each span of the scenario (learned by running the scenario once through a ledger),
 * as constants, and does nothing else. The SDK's cost of the SPEC attributes alone: the floor
 * under any implementation that writes them.
 */
function attributesOnlyProcessor(shape) {
  const mem = new InMemorySpanExporter();
  shape.op(makePipeline('ledger', mem).tracer);
  const byName = new Map();
  for (const s of mem.getFinishedSpans()) {
    const own = Object.entries(s.attributes).filter(
      ([k]) => k.startsWith('spanledger.') || k.startsWith('gen_ai.usage.cost.'),
    );
    byName.set(s.name, own);
  }
  return {
    onStart() {},
    onEnding(span) {
      for (const [k, v] of byName.get(span.name) ?? []) span.setAttribute(k, v);
    },
    onEnd() {},
    shutdown: () => Promise.resolve(),
    forceFlush: () => Promise.resolve(),
  };
}

/** Build ONE pipeline; returns its tracer and (for ledger/lean) the ledger. */
function makePipeline(pipeline, exporter = noopExporter, shape = undefined) {
  let ledger;
  let first;
  if (pipeline === 'ledger') ledger = createSpanLedger();
  else if (pipeline === 'metered') {
    // As under NodeSDK or spanledger/register: a real meter provider, so every cost metric is
    // recorded (exported at the end; the interval is longer than any run).
    const reader = new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      exportIntervalMillis: 3_600_000,
    });
    ledger = createSpanLedger({ meterProvider: new MeterProvider({ readers: [reader] }) });
  } else if (pipeline === 'routed') {
    // 'metered' plus routing counterfactuals: two alternatives priced on every LLM span.
    const reader = new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      exportIntervalMillis: 3_600_000,
    });
    ledger = createSpanLedger({
      meterProvider: new MeterProvider({ readers: [reader] }),
      routing: ROUTING,
    });
  } else if (pipeline === 'lean') ledger = createSpanLedger({ semconvCostAttributes: false });
  else if (pipeline === 'attrs') first = attributesOnlyProcessor(shape);
  else if (pipeline !== 'plain') throw new Error(`unknown pipeline ${pipeline}`);
  const spanProcessors = [new SimpleSpanProcessor({ exporter: exporter })];
  if (ledger) spanProcessors.unshift(ledger.processor);
  if (first) spanProcessors.unshift(first);
  const provider = new TracerProvider({ spanProcessors });
  return { tracer: provider.getTracer('bench'), ledger };
}

// --- pair child: (b) through 'metered' and 'routed' in ONE process, rounds interleaved -------
// Both pipelines share the processor's code, so the IC pollution the one-pipeline children
// avoid is not an issue here, and interleaving cancels the machine's load between the two:
// the per-round difference is what routing adds. BENCH_PAIR_ROUNDS rounds (default 40).
if (args.includes('--pair')) {
  if (typeof globalThis.gc !== 'function') throw new Error('pair child needs --expose-gc');
  const yieldNow = () => new Promise((r) => setImmediate(r));
  const tracers = {
    metered: makePipeline('metered').tracer,
    routed: makePipeline('routed').tracer,
  };
  const SPANS_PER_ROUND = Math.round(SPANS / 6);
  async function timed(tracer, spans) {
    const t0 = performance.now();
    for (let i = 0; i < spans; ) {
      const end = Math.min(spans, i + BATCH);
      for (; i < end; i++) SHAPES.b.op(tracer);
      await yieldNow();
    }
    return ((performance.now() - t0) * 1e6) / spans;
  }
  await timed(tracers.metered, WARMUP_SPANS);
  await timed(tracers.routed, WARMUP_SPANS);
  const rounds = num('BENCH_PAIR_ROUNDS', 40);
  const m = [];
  const r = [];
  for (let i = 0; i < rounds; i++) {
    globalThis.gc();
    // Alternate which goes first, so neither always follows the collection.
    const order = i % 2 === 0 ? ['metered', 'routed'] : ['routed', 'metered'];
    for (const name of order)
      (name === 'metered' ? m : r).push(await timed(tracers[name], SPANS_PER_ROUND));
  }
  const diffs = m.map((x, i) => r[i] - x);
  process.stdout.write(
    `${JSON.stringify({ rounds, spansPerRound: SPANS_PER_ROUND, metered: m, routed: r, minDiffNs: Math.min(...r) - Math.min(...m), medianPairedNs: median(diffs) })}\n`,
  );
  process.exit(0);
}

// --- child: one (scenario, pipeline) in this process -------------------------------------------
const childIdx = args.indexOf('--child');
if (childIdx >= 0) {
  const shapeId = args[childIdx + 1];
  const pipeline = args[childIdx + 2];
  const shape = SHAPES[shapeId];
  if (!shape) throw new Error(`unknown scenario ${shapeId}`);
  if (typeof globalThis.gc !== 'function') throw new Error('child needs --expose-gc');
  const { tracer, ledger } = makePipeline(pipeline, noopExporter, shape);
  const op = shape.op;
  const opsPerYield = Math.max(1, Math.round(BATCH / shape.spansPerOp));
  const yieldNow = () => new Promise((r) => setImmediate(r));
  /** Run `spans` spans (yielding every BATCH spans); returns ns per span. */
  async function timed(spans) {
    const ops = Math.round(spans / shape.spansPerOp);
    const t0 = performance.now();
    for (let i = 0; i < ops; ) {
      const end = Math.min(ops, i + opsPerYield);
      for (; i < end; i++) op(tracer);
      await yieldNow();
    }
    return ((performance.now() - t0) * 1e6) / (ops * shape.spansPerOp);
  }
  await timed(WARMUP_SPANS);
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    globalThis.gc();
    await yieldNow();
    rounds.push(await timed(SPANS));
  }
  let stats;
  if (ledger) {
    stats = ledger.stats();
    const n = stats.spans.priced + stats.spans.partial + stats.spans.unpriced;
    if (shapeId === 'a' && n !== 0) throw new Error(`HTTP spans were assessed: ${n}`);
    if (shapeId !== 'a' && stats.spans.priced === 0) throw new Error('no span was priced');
    await ledger.shutdown();
  }
  process.stdout.write(
    `${JSON.stringify({ shape: shapeId, pipeline, rounds, best: Math.min(...rounds), stats })}\n`,
  );
  process.exit(0);
}

// --- parent ----------------------------------------------------------------------------------
const jsonOnly = args.includes('--json');
const outIdx = args.indexOf('--out');
const outFile = outIdx >= 0 ? args[outIdx + 1] : undefined;
const log = jsonOnly ? () => {} : (...a) => console.log(...a);
const scenarios = (process.env.BENCH_SCENARIOS ?? 'a,b,c,e,f,g')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const s of scenarios) if (!SHAPES[s]) throw new Error(`BENCH_SCENARIOS: unknown ${s}`);

// global.gc even when node was started without --expose-gc (npm run bench).
if (typeof globalThis.gc !== 'function') {
  v8.setFlagsFromString('--expose-gc');
  globalThis.gc = vm.runInNewContext('gc');
}

// machine
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
  v8: process.versions.v8,
  platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  loadAvgAtStart: loadAvg(),
  sdkTraceBase: dep('@opentelemetry/sdk-trace'),
  api: dep('@opentelemetry/api'),
  tinybench: dep('tinybench'),
};

// sanity check: the ledger prices the LLM spans as expected and leaves the HTTP span alone.
function sanityCheck() {
  const mem = new InMemorySpanExporter();
  const { tracer } = makePipeline('ledger', mem);
  SHAPES.a.op(tracer);
  SHAPES.b.op(tracer);
  SHAPES.c.op(tracer);
  SHAPES.e.op(tracer);
  const [http, llm, child, parent, realistic] = mem.getFinishedSpans();
  const leanMem = new InMemorySpanExporter();
  SHAPES.b.op(makePipeline('lean', leanMem).tracer);
  const [leanLlm] = leanMem.getFinishedSpans();
  const fail = (m) => {
    throw new Error(`bench sanity check failed: ${m}`);
  };
  if (Object.keys(http.attributes).some((k) => k.startsWith('spanledger.')))
    fail('HTTP span got cost attributes');
  for (const [name, span] of [
    ['(b) LLM span', llm],
    ['(e) LLM span', realistic],
    ['(b) lean LLM span', leanLlm],
  ]) {
    if (span.attributes['spanledger.cost.status'] !== 'priced')
      fail(`${name} not priced: ${JSON.stringify(span.attributes)}`);
    if (span.attributes['spanledger.cost.usd'] !== EXPECTED_LLM_COST_USD)
      fail(`${name} priced at ${span.attributes['spanledger.cost.usd']}, expected 0.00472`);
  }
  if (llm.attributes['gen_ai.usage.cost.amount'] !== EXPECTED_LLM_COST_USD)
    fail('(b) LLM span lacks gen_ai.usage.cost.amount');
  if ('gen_ai.usage.cost.amount' in leanLlm.attributes)
    fail('semconvCostAttributes: false still wrote gen_ai.usage.cost.amount');
  if (child.attributes['spanledger.cost.category'] !== 'tool') {
    fail(
      `child of execute_tool has category ${child.attributes['spanledger.cost.category']}, expected tool`,
    );
  }
  const written = (span, own) => Object.keys(span.attributes).length - Object.keys(own).length;
  return {
    llmCostUsd: llm.attributes['spanledger.cost.usd'],
    attrs: {
      b: { user: Object.keys(LLM_ATTRS).length, ledger: written(llm, LLM_ATTRS) },
      bLean: { user: Object.keys(LLM_ATTRS).length, ledger: written(leanLlm, LLM_ATTRS) },
      e: {
        user: Object.keys(REALISTIC_LLM_ATTRS).length,
        ledger: written(realistic, REALISTIC_LLM_ATTRS),
      },
    },
    childCategory: child.attributes['spanledger.cost.category'],
    parentCategory: parent.attributes['spanledger.cost.category'],
  };
}
const check = sanityCheck();

const minOf = (xs) => Math.min(...xs);
const maxOf = (xs) => Math.max(...xs);

// (d) pricing engine alone, in this process, with tinybench.
const { Bench } = await import('tinybench');
const pricing = {};
{
  const ledger = createSpanLedger();
  const book = ledger.priceBook;
  const AT = new Date();
  let sink = 0;
  book.price(USAGE, AT);
  priceUsage(USAGE);
  const routed = createSpanLedger({ routing: ROUTING });
  const routedBook = routed.priceBook;
  const atMs = AT.getTime();
  const tasks = {
    // The routing step alone: the alternatives of the call, each priced on the same usage.
    'd3 routing counterfactuals (2 alternatives)': () => {
      for (let i = 0; i < BATCH; i++) {
        const alts = routedBook.routing.alternativesFor('gpt-4o', 'gpt-4o-2024-08-06', undefined);
        for (let j = 0; j < alts.length; j++) {
          sink += routedBook.alternativeCost(USAGE, alts[j], atMs);
        }
      }
    },
    'd1 priceUsage': () => {
      for (let i = 0; i < BATCH; i++) sink += priceUsage(USAGE).costUsd;
    },
    'd2 PriceBook.price': () => {
      for (let i = 0; i < BATCH; i++) sink += book.price(USAGE, AT).costUsd;
    },
  };
  log(`(d) pricing engine in-process, 3 rounds x ${TIME_MS} ms per task...`);
  for (let round = 0; round < 3; round++) {
    const bench = new Bench({ time: TIME_MS, warmupTime: 100, iterations: 16 });
    for (const [name, fn] of Object.entries(tasks))
      bench.add(name, fn, { beforeAll: () => globalThis.gc() });
    await bench.run();
    for (const task of bench.tasks) {
      const r = task.result;
      if (r.state !== 'completed')
        throw new Error(`task ${task.name} ${r.state}: ${r.error?.stack ?? ''}`);
      pricing[task.name] ??= [];
      pricing[task.name].push((r.latency.mean * 1e6) / BATCH);
    }
  }
  if (sink === 0) log('(sink)');
  await ledger.shutdown();
  await routed.shutdown();
}

// Span scenarios: one child process per (scenario, pipeline), PROCS repetitions.
const self = fileURLToPath(import.meta.url);
function runChild(shape, pipeline) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', self, '--child', shape, pipeline], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0)
        return reject(new Error(`child ${shape} ${pipeline} exited ${code}:\n${err}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch (e) {
        reject(new Error(`child ${shape} ${pipeline}: bad output ${out}\n${err}\n${e}`));
      }
    });
  });
}

/** raw[shape][pipeline][rep] = { best, rounds, load } */
const raw = {};
const nTasks = scenarios.reduce((n, s) => n + SHAPES[s].pipelines.length, 0);
log(
  `span scenarios ${scenarios.join(',')}: ${nTasks} tasks x ${PROCS} processes, each ${WARMUP_SPANS} warmup + best of ${ROUNDS} x ${SPANS} spans...`,
);
const t0 = performance.now();
for (let rep = 0; rep < PROCS; rep++) {
  for (const shape of scenarios) {
    const order = [...SHAPES[shape].pipelines];
    if (rep % 2 === 1) order.reverse();
    for (const pipeline of order) {
      const load = loadAvg()[0];
      const res = await runChild(shape, pipeline);
      raw[shape] ??= {};
      raw[shape][pipeline] ??= [];
      raw[shape][pipeline].push({ best: res.best, rounds: res.rounds, load });
    }
  }
  log(
    `  repetition ${rep + 1}/${PROCS} done (${((performance.now() - t0) / 1000).toFixed(0)} s, load ${loadAvg()[0]})`,
  );
}
machine.loadAvgAtEnd = loadAvg();

// --- figures ---------------------------------------------------------------------------------
const tasks = {};
const rows = [];
for (const shape of scenarios) {
  for (const pipeline of SHAPES[shape].pipelines) {
    const best = raw[shape][pipeline].map((r) => r.best);
    tasks[`${shape} ${pipeline}`] = {
      nsPerSpanMedian: median(best),
      nsPerSpanMin: minOf(best),
      nsPerSpanMax: maxOf(best),
      perProcess: best,
    };
    rows.push({
      task: `${shape} ${pipeline}`,
      'spans/s (median)': Math.round(1e9 / median(best)).toLocaleString('en-US'),
      'ns/span median': median(best).toFixed(0),
      'ns/span min': minOf(best).toFixed(0),
      'ns/span per process': best.map((x) => x.toFixed(0)).join(' / '),
    });
  }
}
for (const [name, ns] of Object.entries(pricing)) {
  tasks[name] = { nsPerCallMedian: median(ns), nsPerCallMin: minOf(ns), perRound: ns };
  rows.push({
    task: name,
    'spans/s (median)': `${Math.round(1e9 / median(ns)).toLocaleString('en-US')} calls/s`,
    'ns/span median': `${median(ns).toFixed(0)} /call`,
    'ns/span min': `${minOf(ns).toFixed(0)} /call`,
    'ns/span per process': `(in-process) ${ns.map((x) => x.toFixed(0)).join(' / ')}`,
  });
}

// (bp) routing counterfactuals, metered vs routed interleaved in one process (with scenario b).
let pair;
if (scenarios.includes('b')) {
  log('(bp) routing: metered vs routed, interleaved rounds in one process...');
  pair = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', self, '--pair'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: process.env,
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').pop()))
        : reject(new Error(`pair child exited ${code}`)),
    );
  });
}

/** Paired (same repetition) and min-vs-min comparisons of two pipelines of one scenario. */
function compare(shape, base, other) {
  const b = raw[shape]?.[base];
  const o = raw[shape]?.[other];
  if (!b || !o) return undefined;
  const perRep = b.map((x, i) => ({
    addedUs: (o[i].best - x.best) / 1e3,
    ratio: x.best / o[i].best, // throughput other / base
  }));
  const bMin = minOf(b.map((x) => x.best));
  const oMin = minOf(o.map((x) => x.best));
  return {
    pairedAddedUs: median(perRep.map((p) => p.addedUs)),
    pairedRatio: median(perRep.map((p) => p.ratio)),
    perRepAddedUs: perRep.map((p) => p.addedUs),
    perRepRatio: perRep.map((p) => p.ratio),
    minVsMinAddedUs: (oMin - bMin) / 1e3,
    minVsMinRatio: bMin / oMin,
  };
}
const derived = {
  a: compare('a', 'plain', 'ledger'),
  b: compare('b', 'plain', 'ledger'),
  bLean: compare('b', 'plain', 'lean'),
  bMirrors: compare('b', 'lean', 'ledger'), // the 3 gen_ai.usage.cost.* attributes
  bRouting: compare('b', 'metered', 'routed'), // routing counterfactuals, 2 alternatives
  c: compare('c', 'plain', 'ledger'), // per span; x2 for the pair
  e: compare('e', 'plain', 'ledger'),
  eLean: compare('e', 'plain', 'lean'),
  eMirrors: compare('e', 'lean', 'ledger'),
  f: compare('f', 'plain', 'ledger'), // per span of 11; x1.1 per priced call
  fLean: compare('f', 'plain', 'lean'),
  fAttrs: compare('f', 'plain', 'attrs'), // writing the ledger's attributes, nothing else
  fMetered: compare('f', 'plain', 'metered'), // with a real meter provider
  fOverFloor: compare('f', 'attrs', 'ledger'), // the ledger above writing its attributes
  g: compare('g', 'plain', 'ledger'), // a real OpenAI chat span, priced, its run's root
  gAttrs: compare('g', 'plain', 'attrs'),
  gMetered: compare('g', 'plain', 'metered'),
  gOverFloor: compare('g', 'attrs', 'ledger'),
};
const targets = {};
if (derived.a) {
  targets.ratioA = {
    target: '>= 0.95',
    paired: derived.a.pairedRatio,
    minVsMin: derived.a.minVsMinRatio,
    met: derived.a.minVsMinRatio >= 0.95,
    metPaired: derived.a.pairedRatio >= 0.95,
    interval: ratioInterval(derived.a.perRepRatio, 0.95),
  };
}
// (b): what a priced model call in an agent run costs above the floor the same run measures
// (f0: the SDK writing the same attributes as constants), per call (x1.1: 11 spans, 10 calls).
// What spanledger itself adds on top of the attributes it is specified to write.
if (derived.fOverFloor) {
  targets.callAboveFloorF = {
    target: '<= 1.5 µs per priced call above the (f0) floor',
    paired: derived.fOverFloor.pairedAddedUs * 1.1,
    minVsMin: derived.fOverFloor.minVsMinAddedUs * 1.1,
    met: derived.fOverFloor.minVsMinAddedUs * 1.1 <= 1.5,
    metPaired: derived.fOverFloor.pairedAddedUs * 1.1 <= 1.5,
  };
}
const result = {
  date: new Date().toISOString(),
  dist: distUrl,
  machine,
  settings: {
    processesPerTask: PROCS,
    spansPerRound: SPANS,
    roundsPerProcess: ROUNDS,
    warmupSpans: WARMUP_SPANS,
    batch: BATCH,
    scenarios,
    pricingTimeMs: TIME_MS,
    wallSeconds: Math.round((performance.now() - t0) / 1000),
  },
  check,
  tasks,
  derived,
  routingPair: pair,
  targets,
  raw,
};

if (!jsonOnly) {
  const f = (x, d = 2) => x.toFixed(d);
  const pr = (xs, d = 2) => xs.map((x) => f(x, d)).join(' / ');
  const verdict = (m) => (m ? 'MET' : 'MISSED');
  const us = (c, k = 1) =>
    `${f(c.minVsMinAddedUs * k)} µs min-vs-min; paired ${f(c.pairedAddedUs * k)} µs (per rep ${pr(c.perRepAddedUs.map((x) => x * k))})`;
  log('');
  log(
    `machine: ${machine.cpu}, ${machine.nproc} cores, ${machine.memGiB} GiB, Node ${machine.node} (V8 ${machine.v8}), ${machine.platform}`,
  );
  log(
    `load average (1/5/15 min) at start ${machine.loadAvgAtStart.join(' ')}, at end ${machine.loadAvgAtEnd.join(' ')}; package: ${distUrl}`,
  );
  log(
    `settings: ${PROCS} processes per task; each ${WARMUP_SPANS} warmup spans then best of ${ROUNDS} rounds x ${SPANS} spans (yield every ${BATCH}); wall ${result.settings.wallSeconds} s`,
  );
  console.table(rows);
  if (derived.a) {
    log(
      `(a) throughput ratio ledger/plain        = ${f(derived.a.minVsMinRatio, 3)} min-vs-min (target >= 0.95: ${verdict(targets.ratioA.met)}); paired ${f(derived.a.pairedRatio, 3)} (${verdict(targets.ratioA.metPaired)}; per rep ${pr(derived.a.perRepRatio, 3)}); added ${f(derived.a.minVsMinAddedUs, 3)} µs/span`,
    );
    const ci = targets.ratioA.interval;
    log(
      `    paired, geometric mean over ${PROCS} repetitions = ${f(ci.mean, 3)} (95 % interval ${f(ci.lo, 3)} to ${f(ci.hi, 3)}): ${ci.verdict}`,
    );
  }
  if (derived.b) {
    log(`(b) added per priced LLM span (7 attrs)  = ${us(derived.b)}`);
    log(`(b') same, semconvCostAttributes: false  = ${us(derived.bLean)}`);
    log(`     the 3 mirror attributes (b - b')     = ${us(derived.bMirrors)}`);
    if (derived.bRouting) {
      log(
        `(br) routing, 2 alternatives (routed - metered) = ${us(derived.bRouting)}  target < 0.5 µs`,
      );
    }
  }
  if (derived.c) log(`(c) added per tool + LLM span pair       = ${us(derived.c, 2)}`);
  if (derived.f) {
    log(
      `(f) added per priced LLM call in a run   = ${us(derived.f, 1.1)}  (root + 10 calls; rollup shared)`,
    );
    log(`(f') same, semconvCostAttributes: false  = ${us(derived.fLean, 1.1)}`);
    log(`(f0) floor: setAttribute of the same     = ${us(derived.fAttrs, 1.1)}  (attrs pipeline)`);
    log(
      `(fm) with a real meter provider          = ${us(derived.fMetered, 1.1)}  (metered pipeline)`,
    );
    log(
      `(f - f0) per priced call above the floor = ${us(derived.fOverFloor, 1.1)}  target <= 1.5 µs: min-vs-min ${verdict(targets.callAboveFloorF.met)}, paired ${verdict(targets.callAboveFloorF.metPaired)}`,
    );
  }
  if (derived.g) {
    log(`(g) added per real OpenAI chat span      = ${us(derived.g)}  (13 attrs, its run's root)`);
    log(`(g0) floor: setAttribute of the same     = ${us(derived.gAttrs)}  (attrs pipeline)`);
    log(`(gm) with a real meter provider          = ${us(derived.gMetered)}  (metered pipeline)`);
    log(`(g - g0) above the floor                 = ${us(derived.gOverFloor)}`);
  }
  if (derived.e) {
    log(`(e) added per priced LLM span (20 attrs) = ${us(derived.e)}`);
    log(`(e') same, semconvCostAttributes: false  = ${us(derived.eLean)}`);
    log(
      `     the 3 mirror attributes (e - e')     = ${us(derived.eMirrors)}  (= ${f((derived.eMirrors.minVsMinAddedUs * 1e3) / 3, 0)} ns per attribute)`,
    );
  }
  log(
    `(d) PriceBook.price ${f(tasks['d2 PriceBook.price'].nsPerCallMedian, 0)} ns/call, priceUsage ${f(tasks['d1 priceUsage'].nsPerCallMedian, 0)} ns/call (warm cache, in-process, median of 3 rounds)`,
  );
  log(
    `(d3) routing counterfactuals, 2 alternatives: ${f(tasks['d3 routing counterfactuals (2 alternatives)'].nsPerCallMedian, 0)} ns per priced span (in-process, median of 3 rounds)`,
  );
  if (pair) {
    log(
      `(bp) routing added per priced LLM span, 2 alternatives, metrics recorded: ${f(pair.minDiffNs, 0)} ns min-vs-min, ${f(pair.medianPairedNs, 0)} ns paired median over ${pair.rounds} interleaved rounds (one process, metered vs routed; target < 500 ns)`,
    );
  }
  log(
    `sanity: LLM span priced at $${check.llmCostUsd}; attributes user+ledger: (b) ${check.attrs.b.user}+${check.attrs.b.ledger}, (b') ${check.attrs.bLean.user}+${check.attrs.bLean.ledger}, (e) ${check.attrs.e.user}+${check.attrs.e.ledger}; child of execute_tool -> category ${check.childCategory}`,
  );
  log('');
  log('JSON:');
}
console.log(JSON.stringify(result, null, 2));
if (outFile) writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
