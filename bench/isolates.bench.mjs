// Scenario (a) of bench/processor.bench.mjs (an HTTP span with ten attributes and no GenAI key)
// measured a second way, in worker isolates taking turns; it puts spanledger's processor some
// 0.02 lower than the bench's separate processes do (docs/performance.md, "2026-12-02: a span
// spanledger does not price" and "2026-12-02: entry spans without a record").
//
// Why: on a shared 2-core machine the speed drifts over seconds and minutes, by more than the
// 5 % the target allows, so separate processes run one after the other see different machines.
// Here each pipeline runs in its own worker thread, so in its own V8 isolate (its own compiled
// code, heap and hidden classes, as in a process of its own), and the isolates take turns in
// short blocks, so a slow stretch falls on all of them alike. What still varies is the isolate
// itself (the compilers' choices), so the run repeats the whole set of isolates BENCH_SETS times
// and reports the spread over sets.
//
// Pipelines: plain (the SDK with a SimpleSpanProcessor and an exporter that does nothing), idle
// (the same with a second span processor that does nothing: the cost of being a processor at
// all), ledger (the same with spanledger's processor first, as users register it).
//
// Per set: the ratio of each block to plain's block in the same round (plain ns / pipeline ns, so a
// throughput ratio), the first eighth of the blocks dropped, the median over the rest. Over
// sets: quartiles, and the geometric mean of the sets' medians with its 95 % interval and the
// verdict against 0.95 (bench/lib.mjs, ratioInterval).
//
// Knobs: BENCH_SETS (20), BENCH_BLOCKS (100 per set), BENCH_BLOCK_SPANS (4096),
// BENCH_WARMUP_SPANS (30000), BENCH_BATCH (spans between macrotask yields, 256), BENCH_DIST,
// BENCH_BASELINE (a directory holding another build's index.js, e.g. .scratch/dist-0: a fourth
// isolate runs its processor, and the run reports this build against it block by block).
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import {
  cpuModel,
  distUrl,
  HTTP_ATTRS,
  loadAvg,
  median,
  noopExporter,
  num,
  ratioInterval,
  turnOrders,
} from './lib.mjs';

const baselineUrl = process.env.BENCH_BASELINE
  ? new URL(`${process.env.BENCH_BASELINE}/index.js`, `file://${process.cwd()}/`).href
  : undefined;
const PIPELINES = ['plain', 'idle', 'ledger', ...(baselineUrl ? ['baseline'] : [])];
const TARGET = 0.95;

async function isolate({ pipeline, warmup, batch, baseline }) {
  const { ROOT_CONTEXT, SpanKind } = await import('@opentelemetry/api');
  const { SimpleSpanProcessor, TracerProvider } = await import('@opentelemetry/sdk-trace');
  const spanProcessors = [new SimpleSpanProcessor({ exporter: noopExporter })];
  if (pipeline === 'idle') {
    const done = () => Promise.resolve();
    spanProcessors.unshift({
      onStart() {},
      onEnding() {},
      onEnd() {},
      forceFlush: done,
      shutdown: done,
    });
  } else if (pipeline === 'ledger' || pipeline === 'baseline') {
    const { createSpanLedger } = await import(pipeline === 'ledger' ? distUrl : baseline);
    spanProcessors.unshift(createSpanLedger().processor);
  }
  const tracer = new TracerProvider({ spanProcessors }).getTracer('bench');
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  // ns per span over n spans, yielding as the bench's processes do (the SDK's export promises
  // settle between batches).
  const block = async (n) => {
    const t0 = performance.now();
    for (let i = 0; i < n; ) {
      const end = Math.min(n, i + batch);
      for (; i < end; i++) {
        const s = tracer.startSpan(
          'GET /api/v1/orders/:id',
          { kind: SpanKind.SERVER },
          ROOT_CONTEXT,
        );
        s.setAttributes(HTTP_ATTRS);
        s.end();
      }
      await tick();
    }
    return ((performance.now() - t0) * 1e6) / n;
  };
  await block(warmup);
  parentPort.on('message', async (n) => parentPort.postMessage(await block(n)));
  parentPort.postMessage('ready');
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function main() {
  const sets = num('BENCH_SETS', 20);
  const blocks = num('BENCH_BLOCKS', 100);
  const blockSpans = num('BENCH_BLOCK_SPANS', 4096);
  const warmup = num('BENCH_WARMUP_SPANS', 30000);
  const batch = num('BENCH_BATCH', 256);
  const loadBefore = loadAvg();
  const t0 = Date.now();
  const perSet = Object.fromEntries(PIPELINES.map((p) => [p, []]));
  // This build against the baseline's, per set: the median of baseline ns / ledger ns by block.
  const againstBaseline = [];
  const nsPerSpan = Object.fromEntries(PIPELINES.map((p) => [p, []]));
  for (let set = 0; set < sets; set++) {
    const workers = PIPELINES.map(
      (pipeline) =>
        new Worker(new URL(import.meta.url), {
          workerData: { pipeline, warmup, batch, baseline: baselineUrl },
        }),
    );
    for (const w of workers) {
      w.on('error', (e) => {
        console.error(`isolates bench: a worker failed: ${e?.stack ?? e}`);
        process.exit(1);
      });
    }
    const next = (w) => new Promise((resolve) => w.once('message', resolve));
    await Promise.all(workers.map(next));
    const times = PIPELINES.map(() => []);
    // A fresh random order per round of blocks that never starts with the pipeline that ended
    // the round before: none runs twice in a row with its data still in the core's caches.
    const orders = turnOrders(
      PIPELINES.map((_, i) => i),
      set,
    );
    for (let b = 0; b < blocks; b++) {
      for (const i of orders()) {
        const reply = next(workers[i]);
        workers[i].postMessage(blockSpans);
        times[i].push(await reply);
      }
    }
    await Promise.all(workers.map((w) => w.terminate()));
    const skip = Math.floor(blocks / 8);
    const plain = times[0].slice(skip);
    PIPELINES.forEach((p, i) => {
      const own = times[i].slice(skip);
      nsPerSpan[p].push(median(own));
      perSet[p].push(median(own.map((ns, k) => plain[k] / ns)));
    });
    if (baselineUrl) {
      const base = times[3].slice(skip);
      againstBaseline.push(median(times[2].slice(skip).map((ns, k) => base[k] / ns)));
    }
  }
  console.log(
    `machine: ${cpuModel()}, Node ${process.version}; load ${loadBefore.join(' ')} before, ` +
      `${loadAvg().join(' ')} after; ${sets} sets x ${blocks} blocks x ${blockSpans} spans; ` +
      `${Math.round((Date.now() - t0) / 1000)} s; package: ${distUrl}`,
  );
  for (const p of PIPELINES.slice(1)) {
    const sorted = [...perSet[p]].sort((a, b) => a - b);
    const r = ratioInterval(perSet[p], TARGET);
    console.log(
      `(a) ${p.padEnd(6)} throughput / plain: quartiles ${quantile(sorted, 0.25).toFixed(3)} ` +
        `${median(sorted).toFixed(3)} ${quantile(sorted, 0.75).toFixed(3)}; geometric mean ` +
        `${r.mean.toFixed(3)} (95 % interval ${r.lo.toFixed(3)} to ${r.hi.toFixed(3)}); ` +
        `target >= ${TARGET}: ${r.verdict}`,
    );
  }
  if (baselineUrl) {
    const sorted = [...againstBaseline].sort((a, b) => a - b);
    const r = ratioInterval(againstBaseline, 1);
    console.log(
      `ledger throughput / baseline (${baselineUrl}): quartiles ${quantile(sorted, 0.25).toFixed(3)} ` +
        `${median(sorted).toFixed(3)} ${quantile(sorted, 0.75).toFixed(3)}; geometric mean ` +
        `${r.mean.toFixed(3)} (95 % interval ${r.lo.toFixed(3)} to ${r.hi.toFixed(3)})`,
    );
  }
  console.log(
    `ns per span, median over sets: ${PIPELINES.map((p) => `${p} ${median(nsPerSpan[p]).toFixed(0)}`).join(', ')}`,
  );
}

if (isMainThread) await main();
else await isolate(workerData);
