// Budgets and rollups: what `check()` and `reserve()+settle()` cost with the in-memory and the
// Redis ledger, and what configured budgets add to the span (rollup) path.
//
//   npx tsup && node bench/budgets.bench.mjs        (imports the BUILT package, dist/index.js)
//   node bench/budgets.bench.mjs --json --out FILE  (JSON only / also to a file)
//
// One run, everything measured in child processes (`node --expose-gc bench/budgets.bench.mjs
// --child <kind> <variant>`), so one measurement's JIT state and GC never leak into another:
//
// Part 1, the decision API (`--child api memory|redis`). One `createSpanLedger({ budgets,
//   budgetLedger })` with a realistic budget set (BUDGETS below): a per-run budget (scope
//   `trace`: limitUsd + maxLlmCalls + maxRepeatedToolCalls), a per-tenant monthly calendar budget
//   in America/New_York, and a rolling 1-hour budget for a team (60 one-minute buckets: a check
//   reads 61 keys). The ledger is `MemoryLedger` or `RedisLedger` against a private, real
//   `redis-server` (scripts/redis.mjs `startRedis()`, started by the parent on a free loopback
//   port, stopped at the end). Before timing, the windows are seeded on a shifted clock: one
//   reserve+settle per minute over the last hour, so all 60 rolling buckets and the monthly key
//   hold spend (a check reads real hashes, not missing keys). The calls run inside a live run: a
//   local root span (tenant `acme`, team `payments`) with one priced LLM child and one tool child
//   already ended, so the per-run budget is evaluated too; `dimensions` are passed explicitly.
//   Phases (each: warm-up, then timed; every operation is timed on its own with
//   performance.now() into a Float64Array, sorted for percentiles):
//     check            `check({ estimateUsd: 0.01, call: { kind: 'llm' }, dimensions, context })`
//     check-tool       the same with `call: { kind: 'tool', name, arguments }` (fingerprint)
//     reserve+settle   `reserve(0.0001, ...)` then `settle(0.00008)`: one round trip
//     check x32, reserve+settle x32 (Redis only): 32 concurrent callers (async loops) in one
//                      process, total throughput and per-call latency (including queueing)
// Part 2, the rollup path (`--child rollup plain|ledger|budgets`). One "run" = 1 root span
//   (invoke_agent, tenant/team attributes) + 10 priced LLM children (gpt-4o, the 7 pricing
//   attributes) + 1 priced tool child (`execute_tool search_orders`, with call arguments) = 12
//   spans. Pipelines: plain = TracerProvider + SimpleSpanProcessor(no-op exporter), no
//   spanledger; ledger = the same with createSpanLedger() (same prices, no budgets) first;
//   budgets = ledger + BUDGETS on a MemoryLedger. Each child warms up, then times ROUNDS rounds
//   (gc() before each; a setImmediate yield every ~BATCH spans so the ledger's asynchronous
//   writes settle inside the round) and reports its best round. PROCS processes per pipeline,
//   order alternating per repetition; added µs per span = min-vs-min (best process against best
//   process) with the median of the paired per-repetition differences alongside.
//
// Environment knobs: BENCH_WARMUP_MS (per API phase, default 700), BENCH_TIME_MS (timed per API
// phase, default 2500), BENCH_CONCURRENCY (default 32), BENCH_REDIS_TIMEOUT_MS (RedisLedger
// timeoutMs, default 50 = the library default), BENCH_PROCS (rollup processes per pipeline,
// default 4), BENCH_SPANS (spans per rollup round, default 60000), BENCH_ROUNDS (3),
// BENCH_WARMUP_SPANS (24000), BENCH_BATCH (256), BENCH_PARTS (api,rollup), BENCH_DIST (another
// build's index.js).
//
// RedisLedger: used from the built package when dist exports it; otherwise (the package does not
// export it at the time of writing) src/budgets/redis-ledger.ts is bundled with esbuild into
// node_modules/.cache/spanledger-bench/ and that module is given to createSpanLedger as its
// `budgetLedger` (the engine, processor and MemoryLedger still come from dist).

import { execSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { cpuModel, distUrl, loadAvg, median, noopExporter, num } from './lib.mjs';

// --- options ---------------------------------------------------------------------------------
const dist = await import(distUrl);
const { createSpanLedger, MemoryLedger } = dist;
const args = process.argv.slice(2);
const WARMUP_MS = num('BENCH_WARMUP_MS', 700);
const TIME_MS = num('BENCH_TIME_MS', 2500);
const CONCURRENCY = num('BENCH_CONCURRENCY', 32);
const REDIS_TIMEOUT_MS = num('BENCH_REDIS_TIMEOUT_MS', 50);
const PROCS = num('BENCH_PROCS', 4);
const SPANS = num('BENCH_SPANS', 60000);
const ROUNDS = num('BENCH_ROUNDS', 3);
const WARMUP_SPANS = num('BENCH_WARMUP_SPANS', 24000);
const BATCH = num('BENCH_BATCH', 256);
const MAX_SAMPLES = 4_000_000;

// --- budgets, prices, dimensions -------------------------------------------------------------
const BUDGETS = [
  {
    name: 'per-run',
    scope: 'trace',
    limitUsd: 2,
    maxLlmCalls: 50,
    maxRepeatedToolCalls: 3,
    action: 'block',
  },
  {
    name: 'tenant-monthly',
    scope: { tenant: '*' },
    window: { calendar: 'month', timeZone: 'America/New_York' },
    limitUsd: 250,
    warnAt: [0.5, 0.8, 0.95],
    action: 'block',
  },
  {
    name: 'payments-hourly',
    scope: { team: 'payments' },
    window: { rollingMs: 3_600_000 },
    limitUsd: 100,
    action: 'degrade',
    degrade: { model: 'gpt-4o-mini', maxTokens: 1024 },
  },
];
const PRICES = { tools: [{ name: 'search_orders', perCallUsd: 0.001 }] };
const DIMS = { tenant: 'acme', team: 'payments' };
const ROOT_ATTRS = {
  'gen_ai.operation.name': 'invoke_agent',
  'gen_ai.agent.name': 'support-bot',
  'spanledger.tenant': 'acme',
  'spanledger.team': 'payments',
};
/** The 7 attributes that make a span a priced LLM call ($0.00472 each). */
const LLM_ATTRS = {
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': 'openai',
  'gen_ai.request.model': 'gpt-4o',
  'gen_ai.response.model': 'gpt-4o-2024-08-06',
  'gen_ai.usage.input_tokens': 1200,
  'gen_ai.usage.cache_read.input_tokens': 1024,
  'gen_ai.usage.output_tokens': 300,
};
const LLM_COST_USD = 0.00472;
const TOOL_COST_USD = 0.001;
const TOOL_ARGS = '{"order_id":"ord_8812","fields":["status","total"]}';
const TOOL_ATTRS = {
  'gen_ai.operation.name': 'execute_tool',
  'gen_ai.tool.name': 'search_orders',
  'gen_ai.tool.call.id': 'call_abc123',
  'gen_ai.tool.call.arguments': TOOL_ARGS,
};
const LLM_CHILDREN = 10;
const SPANS_PER_RUN = 1 + LLM_CHILDREN + 1;

/** Exporter whose export() reports success at once. */

function makeTracer(ledger, exporter = noopExporter) {
  const spanProcessors = [new SimpleSpanProcessor({ exporter: exporter })];
  if (ledger) spanProcessors.unshift(ledger.processor);
  return new TracerProvider({ spanProcessors }).getTracer('bench');
}

/** One agent run: root + 10 LLM children + 1 tool child (12 spans). `endRoot` false leaves the
 * root open and returns its context (the API phases check inside a live run). */
function agentRun(tracer, llmChildren = LLM_CHILDREN, endRoot = true) {
  const root = tracer.startSpan(
    'invoke_agent support-bot',
    { kind: SpanKind.INTERNAL },
    ROOT_CONTEXT,
  );
  root.setAttributes(ROOT_ATTRS);
  const ctx = trace.setSpan(ROOT_CONTEXT, root);
  for (let i = 0; i < llmChildren; i++) {
    const s = tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT }, ctx);
    s.setAttributes(LLM_ATTRS);
    s.end();
  }
  const tool = tracer.startSpan('execute_tool search_orders', { kind: SpanKind.INTERNAL }, ctx);
  tool.setAttributes(TOOL_ATTRS);
  tool.end();
  if (endRoot) root.end();
  return { root, ctx };
}

const yieldNow = () => new Promise((r) => setImmediate(r));

// --- latency sampling ------------------------------------------------------------------------
function summarize(lat, elapsedMs, callers = 1) {
  lat.sort();
  const n = lat.length;
  const pct = (p) => lat[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)] * 1000;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += lat[i];
  return {
    callers,
    ops: n,
    seconds: elapsedMs / 1000,
    opsPerSec: n / (elapsedMs / 1000),
    meanUs: (sum / n) * 1000,
    p50Us: pct(50),
    p90Us: pct(90),
    p99Us: pct(99),
    p999Us: pct(99.9),
    maxUs: lat[n - 1] * 1000,
  };
}

/** Runs `op` from `callers` concurrent async loops: warm-up, then timed; per-op latencies. */
async function measure(op, callers = 1) {
  const loop = async (until, lat, counter) => {
    while (performance.now() < until && counter.n < MAX_SAMPLES) {
      const a = performance.now();
      await op();
      const b = performance.now();
      if (lat) lat[counter.n] = b - a;
      counter.n++;
    }
  };
  const warmUntil = performance.now() + WARMUP_MS;
  await Promise.all(Array.from({ length: callers }, () => loop(warmUntil, null, { n: 0 })));
  globalThis.gc?.();
  await yieldNow();
  const lat = new Float64Array(MAX_SAMPLES);
  const counter = { n: 0 };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: callers }, () => loop(t0 + TIME_MS, lat, counter)));
  const elapsed = performance.now() - t0;
  return summarize(lat.subarray(0, counter.n), elapsed, callers);
}

// --- child: the decision API on one ledger ---------------------------------------------------
async function apiChild(variant) {
  // The Redis client's socket is unref'd: keep the event loop alive while awaiting it.
  const keepAlive = setInterval(() => {}, 1000);
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;
  let budgetLedger;
  if (variant === 'memory') {
    budgetLedger = new MemoryLedger({ now });
  } else if (variant === 'redis') {
    const { RedisLedger } = await import(process.env.BENCH_REDIS_LEDGER_MODULE);
    budgetLedger = new RedisLedger({
      url: process.env.BENCH_REDIS_URL,
      timeoutMs: REDIS_TIMEOUT_MS,
    });
    if (!(await budgetLedger.ready(5000))) throw new Error('Redis did not answer');
  } else throw new Error(`unknown ledger ${variant}`);
  const sl = createSpanLedger({ prices: PRICES, budgets: BUDGETS, budgetLedger, now });
  const tracer = makeTracer(sl);

  // Seed: one $0.05 reservation settled at $0.04 per minute over the last hour (all 60 rolling
  // buckets and the monthly key hold spend).
  for (let m = 60; m >= 1; m--) {
    offsetMs = -m * 60_000 + 1000;
    const r = await sl.reserve(0.05, { dimensions: DIMS });
    await r.settle(0.04);
  }
  offsetMs = 0;

  // A live run: root with 1 priced LLM child and 1 tool child ended (per-run state exists).
  const { ctx } = agentRun(tracer, 1, false);
  const checkOpts = { estimateUsd: 0.01, call: { kind: 'llm' }, dimensions: DIMS, context: ctx };
  const toolOpts = {
    estimateUsd: 0.001,
    call: { kind: 'tool', name: 'search_orders', arguments: { order_id: 'ord_1', page: 2 } },
    dimensions: DIMS,
    context: ctx,
  };
  const rsOpts = { dimensions: DIMS, context: ctx };

  // Sanity: allowed with room; the per-run and the monthly budget each decide when they should.
  const fail = (m) => {
    throw new Error(`bench sanity check failed (${variant}): ${m}`);
  };
  // Outside the run: remainingUsd is the tightest ledger budget (the rolling hour).
  const seeded = await sl.check({ dimensions: DIMS, context: ROOT_CONTEXT });
  const d0 = await sl.check(checkOpts);
  if (d0.action !== 'allow' || !(d0.remainingUsd > 0)) fail(`check: ${JSON.stringify(d0)}`);
  const perRun = await sl.check({ ...checkOpts, estimateUsd: 1.999 });
  if (perRun.action !== 'block' || perRun.budget !== 'per-run')
    fail(`per-run budget did not decide: ${JSON.stringify(perRun)}`);
  const hourly = await sl.check({ ...checkOpts, estimateUsd: 99, context: ROOT_CONTEXT });
  if (hourly.action !== 'degrade' || hourly.budget !== 'payments-hourly')
    fail(`rolling budget did not decide: ${JSON.stringify(hourly)}`);
  const d1 = await sl.check(toolOpts);
  if (d1.action !== 'allow') fail(`tool check: ${JSON.stringify(d1)}`);

  const phases = {
    check: [() => sl.check(checkOpts), 1],
    'check-tool': [() => sl.check(toolOpts), 1],
    'reserve+settle': [
      async () => {
        const r = await sl.reserve(0.0001, rsOpts);
        await r.settle(0.00008);
      },
      1,
    ],
  };
  if (variant === 'redis') {
    phases[`check x${CONCURRENCY}`] = [phases.check[0], CONCURRENCY];
    phases[`reserve+settle x${CONCURRENCY}`] = [phases['reserve+settle'][0], CONCURRENCY];
  }
  const results = {};
  for (const [name, [op, callers]] of Object.entries(phases)) {
    results[name] = await measure(op, callers);
  }
  const after = await sl.check({ dimensions: DIMS, context: ROOT_CONTEXT });
  const ledgerStats = typeof budgetLedger.stats === 'function' ? budgetLedger.stats() : undefined;
  const problems = sl.stats().problems;
  await sl.shutdown();
  clearInterval(keepAlive);
  process.stdout.write(
    `${JSON.stringify({
      kind: 'api',
      variant,
      results,
      remainingUsdBefore: seeded.remainingUsd,
      remainingUsdAfter: after.remainingUsd,
      ledgerStats,
      problems,
    })}\n`,
  );
  process.exit(0);
}

// --- child: the rollup path ------------------------------------------------------------------
async function rollupChild(pipeline) {
  if (typeof globalThis.gc !== 'function') throw new Error('child needs --expose-gc');
  let ledger;
  if (pipeline === 'ledger') ledger = createSpanLedger({ prices: PRICES });
  else if (pipeline === 'budgets') {
    ledger = createSpanLedger({
      prices: PRICES,
      budgets: BUDGETS,
      budgetLedger: new MemoryLedger(),
    });
  } else if (pipeline !== 'plain') throw new Error(`unknown pipeline ${pipeline}`);
  const tracer = makeTracer(ledger);
  const runsPerYield = Math.max(1, Math.round(BATCH / SPANS_PER_RUN));
  async function timed(spans) {
    const runs = Math.round(spans / SPANS_PER_RUN);
    const t0 = performance.now();
    for (let i = 0; i < runs; ) {
      const end = Math.min(runs, i + runsPerYield);
      for (; i < end; i++) agentRun(tracer);
      await yieldNow();
    }
    return ((performance.now() - t0) * 1e6) / (runs * SPANS_PER_RUN);
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
    await yieldNow();
    stats = ledger.stats();
    if (stats.spans.priced === 0) throw new Error('no span was priced');
    if (stats.traces.open !== 0) throw new Error(`${stats.traces.open} traces left open`);
    await ledger.shutdown();
  }
  process.stdout.write(
    `${JSON.stringify({ kind: 'rollup', pipeline, rounds, best: Math.min(...rounds), stats })}\n`,
  );
  process.exit(0);
}

const childIdx = args.indexOf('--child');
if (childIdx >= 0) {
  const kind = args[childIdx + 1];
  const variant = args[childIdx + 2];
  if (kind === 'api') await apiChild(variant);
  else if (kind === 'rollup') await rollupChild(variant);
  else throw new Error(`unknown child ${kind}`);
}

// --- parent ----------------------------------------------------------------------------------
const jsonOnly = args.includes('--json');
const outIdx = args.indexOf('--out');
const outFile = outIdx >= 0 ? args[outIdx + 1] : undefined;
const log = jsonOnly ? () => {} : (...a) => console.log(...a);
const parts = new Set((process.env.BENCH_PARTS ?? 'api,rollup').split(',').map((s) => s.trim()));
const self = fileURLToPath(import.meta.url);
const repo = new URL('..', import.meta.url);

function sh(cmd) {
  try {
    return execSync(cmd, {
      encoding: 'utf8',
      cwd: repo,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}
const machine = {
  cpu: cpuModel(),
  nproc: Number(sh('nproc') ?? os.availableParallelism?.() ?? os.cpus().length),
  memGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  uptimeAtStart: sh('uptime'),
  loadAvgAtStart: loadAvg(),
  commit: sh('git rev-parse --short HEAD'),
  dirtySrc: Boolean(sh('git status --porcelain -- src')),
};

// Sanity check of the rollup scenario: one run with budgets, exported to memory.
{
  const mem = new InMemorySpanExporter();
  const sl = createSpanLedger({
    prices: PRICES,
    budgets: BUDGETS,
    budgetLedger: new MemoryLedger(),
  });
  agentRun(makeTracer(sl, mem));
  const spans = mem.getFinishedSpans();
  const root = spans.find((s) => s.name.startsWith('invoke_agent'));
  const a = root?.attributes ?? {};
  const want = LLM_CHILDREN * LLM_COST_USD + TOOL_COST_USD;
  if (spans.length !== SPANS_PER_RUN) throw new Error(`sanity: ${spans.length} spans`);
  if (Math.abs(a['spanledger.trace.cost.usd'] - want) > 1e-12)
    throw new Error(`sanity: trace cost ${a['spanledger.trace.cost.usd']}, expected ${want}`);
  if (a['spanledger.trace.llm_calls'] !== LLM_CHILDREN || a['spanledger.trace.tool_calls'] !== 1)
    throw new Error(`sanity: counts ${JSON.stringify(a)}`);
  await sl.shutdown();
}

function runChild(kind, variant, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', self, '--child', kind, variant], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
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
      if (code !== 0) return reject(new Error(`child ${kind} ${variant} exited ${code}:\n${err}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch (e) {
        reject(new Error(`child ${kind} ${variant}: bad output ${out}\n${err}\n${e}`));
      }
    });
  });
}

/** The RedisLedger module: from dist when exported, else src bundled with esbuild. */
async function redisLedgerModule() {
  if (typeof dist.RedisLedger === 'function') return { url: distUrl, source: 'dist' };
  const esbuild = await import('esbuild');
  const dir = new URL('../node_modules/.cache/spanledger-bench/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const outfile = fileURLToPath(new URL('redis-ledger.mjs', dir));
  await esbuild.build({
    entryPoints: [fileURLToPath(new URL('../src/budgets/redis-ledger.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node18',
    outfile,
    external: ['redis', '@opentelemetry/api'],
    logLevel: 'error',
  });
  return {
    url: `${pathToFileURL(outfile).href}?t=${Date.now()}`,
    source: 'src/budgets/redis-ledger.ts (bundled with esbuild: not exported by dist)',
  };
}

const t0 = performance.now();
const api = {};
let redisInfo;
if (parts.has('api')) {
  log(`decision API: memory ledger (${WARMUP_MS} ms warm-up + ${TIME_MS} ms per phase)...`);
  api.memory = await runChild('api', 'memory');
  const { startRedis } = await import(new URL('../scripts/redis.mjs', import.meta.url).href);
  const redis = await startRedis();
  try {
    const mod = await redisLedgerModule();
    const version = `redis-server ${/v=(\S+)/.exec(sh('redis-server --version') ?? '')?.[1] ?? '?'}`;
    redisInfo = { version, ledgerFrom: mod.source, timeoutMs: REDIS_TIMEOUT_MS };
    log(`decision API: Redis ledger (${version}; RedisLedger from ${mod.source})...`);
    api.redis = await runChild('api', 'redis', {
      BENCH_REDIS_URL: redis.url,
      BENCH_REDIS_LEDGER_MODULE: mod.url,
    });
  } finally {
    await redis.stop();
  }
}

const PIPELINES = ['plain', 'ledger', 'budgets'];
const rollupRaw = {};
if (parts.has('rollup')) {
  log(
    `rollup path: ${PIPELINES.length} pipelines x ${PROCS} processes, each ${WARMUP_SPANS} warm-up + best of ${ROUNDS} x ${SPANS} spans...`,
  );
  for (let rep = 0; rep < PROCS; rep++) {
    const order = rep % 2 ? [...PIPELINES].reverse() : PIPELINES;
    for (const p of order) {
      const load = loadAvg()[0];
      const r = await runChild('rollup', p);
      rollupRaw[p] ??= [];
      rollupRaw[p].push({ best: r.best, rounds: r.rounds, load, stats: r.stats });
    }
    log(`  repetition ${rep + 1}/${PROCS} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
}
machine.loadAvgAtEnd = loadAvg();
machine.uptimeAtEnd = sh('uptime');

// --- figures ---------------------------------------------------------------------------------
const rollup = {};
if (parts.has('rollup')) {
  for (const p of PIPELINES) {
    const best = rollupRaw[p].map((r) => r.best);
    rollup[p] = {
      nsPerSpanMin: Math.min(...best),
      nsPerSpanMedian: median(best),
      spansPerSecBest: 1e9 / Math.min(...best),
      perProcess: best,
    };
  }
  const added = (a, b) => ({
    minVsMinUs: (rollup[a].nsPerSpanMin - rollup[b].nsPerSpanMin) / 1000,
    pairedMedianUs: median(rollupRaw[a].map((r, i) => r.best - rollupRaw[b][i].best)) / 1000,
  });
  rollup.added = {
    ledgerVsPlain: added('ledger', 'plain'),
    budgetsVsPlain: added('budgets', 'plain'),
    budgetsVsLedger: added('budgets', 'ledger'),
  };
}
const result = {
  machine,
  redis: redisInfo,
  settings: {
    warmupMs: WARMUP_MS,
    timeMs: TIME_MS,
    concurrency: CONCURRENCY,
    procs: PROCS,
    spans: SPANS,
    rounds: ROUNDS,
    warmupSpans: WARMUP_SPANS,
    batch: BATCH,
    wallSeconds: Math.round((performance.now() - t0) / 1000),
  },
  api,
  rollup,
  rollupRaw,
};

if (!jsonOnly) {
  const f = (x, d = 1) =>
    x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  log('');
  log(
    `machine: ${machine.cpu}, nproc ${machine.nproc}, Node ${machine.node}, load ${machine.loadAvgAtStart.join(' ')} -> ${machine.loadAvgAtEnd.join(' ')}; commit ${machine.commit}${machine.dirtySrc ? ' (src/ modified)' : ''}; wall ${result.settings.wallSeconds} s`,
  );
  const rows = [];
  for (const [ledger, r] of Object.entries(api)) {
    for (const [phase, s] of Object.entries(r.results)) {
      rows.push({
        ledger,
        phase,
        'ops/s': f(s.opsPerSec, 0),
        'p50 µs': f(s.p50Us),
        'p90 µs': f(s.p90Us),
        'p99 µs': f(s.p99Us),
        'p99.9 µs': f(s.p999Us),
        'max µs': f(s.maxUs, 0),
        ops: s.ops,
      });
    }
  }
  if (rows.length) {
    console.table(rows);
    if (api.redis?.ledgerStats) {
      const st = api.redis.ledgerStats;
      log(
        `Redis ledger: ${redisInfo.version}; ${st.operations} operations, ${st.redisTimeout} timeouts (> ${REDIS_TIMEOUT_MS} ms), ${st.redisUnavailable} unavailable, ${st.degradedReserves} degraded reserves`,
      );
    }
  }
  if (parts.has('rollup')) {
    console.table(
      PIPELINES.map((p) => ({
        pipeline: p,
        'spans/s (best)': f(rollup[p].spansPerSecBest, 0),
        'ns/span min': f(rollup[p].nsPerSpanMin, 0),
        'ns/span median': f(rollup[p].nsPerSpanMedian, 0),
        'ns/span per process': rollup[p].perProcess.map((x) => x.toFixed(0)).join(' / '),
      })),
    );
    for (const [name, a] of Object.entries(rollup.added)) {
      log(
        `added per span, ${name}: ${f(a.minVsMinUs, 2)} µs min-vs-min (${f(a.pairedMedianUs, 2)} µs paired median)`,
      );
    }
  }
  log('');
  log('JSON:');
}
console.log(JSON.stringify(result, null, 2));
if (outFile) writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
