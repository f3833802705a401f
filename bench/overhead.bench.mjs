/**
 * What telemetry adds per model call on a real workload (docs/performance.md, "Overhead on a real
 * workload"): the real `openai` and `@anthropic-ai/sdk` clients making sequential calls
 * (bench/fixtures/overhead-app.mjs) against the mock providers of the tests
 * (test/support/mock-providers.ts), every set-up exporting OTLP/HTTP traces, metrics and logs to
 * a local sink that accepts and discards. Cases: OpenAI chat, OpenAI streaming with
 * `include_usage`, OpenAI with a prompt-cache hit, Anthropic messages. Variants, each in its own
 * process, in an order that alternates round by round:
 *
 *   (0) no telemetry;
 *   (1) plain OTel: bench/fixtures/plain-otel.mjs, the NodeSDK with the instrumentations and
 *       signals `spanledger/register` enables, without spanledger;
 *   (2) `--import spanledger/register` with defaults;
 *   (3) register with a budgets file (bench/fixtures/overhead-budgets.yaml, in-memory ledger);
 *   (5) the conventions' floor: plain OTel plus the attributes register adds to an OpenAI chat
 *       span, written in batches by a processor that computes nothing
 *       (bench/fixtures/conventions-floor.mjs);
 *   (6) on request: the same, each span's attributes written at its end (`onEnding`);
 *   (10) and up: register's set-up rebuilt with pieces switched off (bench/fixtures/
 *       register-parts.mjs), one variant per entry of BENCH_PARTS.
 *
 * Printed: per case and variant the median and range over rounds of µs per call (wall, CPU, by
 * thread) and of minor page faults per call, the added figure over (0), and the ratios (2)/(1),
 * (3)/(1) and (5)/(1) of added µs; spanledger's own share, ((2) − (5)) / ((1) − (0)) round by
 * round, its median, its mean with a 95 % interval (Student's t), and the verdict against the
 * target (met only when the whole interval is under it), and with a baseline build (4) the same
 * for it and for (2) − (4); the load before and after; a note when
 * the apps still faulted in pages in the timed window (the heap still growing: the verdict wants
 * BENCH_WARMUP=12000, docs/performance.md).
 *
 * Two ways to run the variants of a round:
 *
 *   - one after the other (the default): each process makes its calls back to back;
 *   - BENCH_TURNS=n: every variant's process at once, taking turns of n calls in a new random
 *     order each turn (seeded by the round), never with the process that ended a turn starting
 *     the next, so that a drift of the shared machine falls on every variant alike rather than
 *     on whichever ran then, and no variant runs two turns back to back with its caches warm
 *     (the order reversed turn by turn did that to the variants at either end: docs/
 *     performance.md, "2026-12-01: one record per span, and the order of the turns"). CPU time and faults count the whole
 *     window (what each process did between its turns too: GC, exports); wall time only the
 *     time inside its turns.
 *
 *     npm run bench:overhead         (builds first)
 *     BENCH_ROUNDS=5 BENCH_CALLS=1000 BENCH_WARMUP=300 BENCH_CASES='openai chat' BENCH_VARIANTS=1,2
 *     BENCH_PROFILE=dir              (each child also writes a --cpu-prof profile into dir,
 *                                     sampled every BENCH_PROFILE_INTERVAL µs, default 100)
 *     BENCH_VARIANTS=0,1,2,10,11 BENCH_PARTS=';processor,usage'
 *                                    (variants (10) and up: BENCH_OFF of register-parts.mjs)
 *     BENCH_TURNS=50                 (the variants of a round at once, in turns of 50 calls)
 *     BENCH_BASELINE=.scratch/dist-0 (also variant (4): register from that build, e.g. before a
 *                                     change; a directory inside this checkout)
 *     BENCH_PRELOAD=./bench/fixtures/processor-timing.mjs
 *                                    (variant (2) also imports this after register; what it
 *                                     writes to stderr is printed)
 *     BENCH_PIN=1                    (Linux: this process, with the mock servers and the sink, on
 *                                     CPU 0, each app on CPU 1 with its helper threads: the two
 *                                     no longer share cores, and the rounds' spread narrows)
 *     BENCH_SEED=fixed | round       (Linux: each app with address-space randomization off
 *                                     (`setarch -R`) and V8's `--random-seed` and `--hash-seed`
 *                                     set: to 1 in every round (fixed), or to the round's number,
 *                                     the same for every variant of a round (round). Processes
 *                                     then differ less; a fixed seed measures one layout only
 *                                     (docs/performance.md, "2026-12-01: where the spread between
 *                                     processes comes from"))
 *     BENCH_ICOUNT=dir               (each app under valgrind's callgrind, its files in dir: the
 *                                     instructions its timed calls executed: in all threads, on
 *                                     the main thread, there outside the garbage collector's
 *                                     work, and in V8's optimizing compilers. Counts repeat
 *                                     where time does not, as long as V8 tiers the code alike;
 *                                     a major collection falls in a window or not
 *                                     (docs/performance.md))
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { OPENAI_DEFAULTS, startMockProviders } from '../test/support/mock-providers.ts';
import { cpuModel, loadAvg, meanVerdict, median, num, turnOrders } from './lib.mjs';

const ROUNDS = num('BENCH_ROUNDS', 5);
const CALLS = num('BENCH_CALLS', 1000);
const WARMUP = num('BENCH_WARMUP', 300);
const root = fileURLToPath(new URL('..', import.meta.url));
const PIN = process.env.BENCH_PIN === '1';
const TURNS = process.env.BENCH_TURNS === undefined ? undefined : num('BENCH_TURNS', 50);
// Instruction counts (BENCH_ICOUNT): callgrind dumps its counters each time the app reads its CPU
// time (process.cpuUsage, libuv's uv_getrusage), which it does only at the start and the end of
// each case's timed calls; so of the dumps, the 2nd, 4th, ... hold exactly each case's calls.
const ICOUNT = process.env.BENCH_ICOUNT;
if (ICOUNT !== undefined && (TURNS !== undefined || process.env.BENCH_PROFILE || PIN)) {
  throw new Error('BENCH_ICOUNT: not with BENCH_TURNS, BENCH_PROFILE or BENCH_PIN');
}
const SEED = process.env.BENCH_SEED;
if (SEED !== undefined && SEED !== 'fixed' && SEED !== 'round') {
  throw new Error(`BENCH_SEED: fixed or round, got ${JSON.stringify(SEED)}`);
}
if (SEED !== undefined && ICOUNT !== undefined)
  throw new Error('BENCH_SEED: not with BENCH_ICOUNT');
/** The command line that starts an app of a round under BENCH_SEED: `setarch` first (no
 * address-space randomization), V8's seeds before the app's own flags. */
const seeded = (round, argv) => {
  if (SEED === undefined) return { prefix: [], argv };
  const seed = SEED === 'fixed' ? 1 : round + 1;
  return {
    prefix: ['setarch', execFileSync('uname', ['-m']).toString().trim(), '-R'],
    argv: [`--random-seed=${seed}`, `--hash-seed=${seed}`, ...argv],
  };
};
if (ICOUNT !== undefined) mkdirSync(ICOUNT, { recursive: true });
if (TURNS !== undefined && process.env.BENCH_PROFILE) {
  throw new Error('BENCH_PROFILE: not with BENCH_TURNS (one profile per process and case)');
}
if (PIN) {
  // Every thread of this process (the mock servers and the sink run here) on CPU 0.
  execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
}
const app = 'bench/fixtures/overhead-app.mjs';

const allVariants = [
  { id: 0, name: '(0) no telemetry', args: [], env: {} },
  { id: 1, name: '(1) plain OTel', args: ['--import', './bench/fixtures/plain-otel.mjs'], env: {} },
  {
    id: 2,
    name: '(2) register',
    args: [
      '--import',
      'spanledger/register',
      ...(process.env.BENCH_PRELOAD ? ['--import', process.env.BENCH_PRELOAD] : []),
    ],
    env: {},
  },
  {
    id: 3,
    name: '(3) register + budgets',
    args: ['--import', 'spanledger/register'],
    env: { SPANLEDGER_BUDGETS_FILE: 'bench/fixtures/overhead-budgets.yaml' },
  },
  {
    id: 5,
    name: '(5) plain OTel + the attributes',
    args: ['--import', './bench/fixtures/conventions-floor.mjs'],
    env: {},
  },
  {
    id: 6,
    name: '(6) the same, written at each end',
    args: ['--import', './bench/fixtures/conventions-floor.mjs'],
    env: { BENCH_FLOOR: 'sync' },
  },
];
// A second build of register (another checkout's `dist/`, under this one so that it resolves the
// same node_modules), measured in the same rounds: before and after a change, without the drift
// between two runs.
if (process.env.BENCH_BASELINE) {
  allVariants.push({
    id: 4,
    name: '(4) register, baseline build',
    args: ['--import', `./${process.env.BENCH_BASELINE}/register.js`],
    env: {},
  });
}
// Register's set-up with pieces switched off (bench/fixtures/register-parts.mjs), for finding
// which piece carries what register adds over plain OTel: one variant per BENCH_OFF value of
// BENCH_PARTS (semicolon-separated; an empty one is the whole set-up), ids from 10.
const parts = (
  process.env.BENCH_PARTS ?? ';processor;sampler;usage;metrics;attribution;processor,usage,diag'
).split(';');
parts.forEach((off, i) => {
  allVariants.push({
    id: 10 + i,
    name: `(${10 + i}) parts, off: ${off === '' ? 'none' : off}`,
    args: ['--import', './bench/fixtures/register-parts.mjs'],
    env: { BENCH_OFF: off },
  });
});
const wanted = process.env.BENCH_VARIANTS?.split(',').map(Number);
const variants = allVariants.filter((v) =>
  wanted === undefined ? v.id <= 5 : wanted.includes(v.id),
);

// The OTLP sink: accepts every export (traces, metrics, logs) and discards it.
const received = { traces: 0, metrics: 0, logs: 0 };
const sink = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    const signal = req.url?.slice('/v1/'.length);
    if (signal !== undefined && signal in received) received[signal]++;
    res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/json' });
    res.end();
  });
});
await new Promise((resolve) => sink.listen(0, '127.0.0.1', resolve));
const sinkUrl = `http://127.0.0.1:${sink.address().port}`;

// Two mock servers: no cache hit on the first, a prompt-cache hit (cached_tokens) on the second.
const mock = await startMockProviders();
mock.openai = { ...OPENAI_DEFAULTS, cached: 0 };
const cachedMock = await startMockProviders();

const env = {
  PATH: process.env.PATH,
  BENCH_CALLS: String(CALLS),
  BENCH_WARMUP: String(WARMUP),
  ...(process.env.BENCH_CASES ? { BENCH_CASES: process.env.BENCH_CASES } : {}),
  MOCK_OPENAI_URL: mock.openaiURL,
  MOCK_OPENAI_CACHED_URL: cachedMock.openaiURL,
  MOCK_ANTHROPIC_URL: mock.anthropicURL,
  OTEL_SERVICE_NAME: 'overhead-bench',
  OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
  // Metrics are exported (and our observable instruments collected) during the run.
  OTEL_METRIC_EXPORT_INTERVAL: '1000',
};

function runChild(variant, round) {
  const prof = process.env.BENCH_PROFILE
    ? [
        '--cpu-prof',
        '--cpu-prof-dir',
        process.env.BENCH_PROFILE,
        '--cpu-prof-interval',
        process.env.BENCH_PROFILE_INTERVAL ?? '100',
        '--cpu-prof-name',
        `v${variant.id}-r${round}.cpuprofile`,
      ]
    : [];
  const cg = ICOUNT === undefined ? undefined : `${ICOUNT}/v${variant.id}-r${round}.out`;
  return new Promise((resolve, reject) => {
    const { prefix, argv } = seeded(round, [...prof, ...variant.args, app]);
    let command = process.execPath;
    let args = argv;
    if (PIN) [command, args] = ['taskset', ['-c', '1', process.execPath, ...argv]];
    if (prefix.length > 0) [command, args] = [prefix[0], [...prefix.slice(1), command, ...args]];
    if (cg !== undefined) {
      for (const file of readdirSync(ICOUNT)) {
        if (file.startsWith(cg.slice(ICOUNT.length + 1))) rmSync(`${ICOUNT}/${file}`);
      }
      command = 'valgrind';
      args = [
        '--tool=callgrind',
        // Its own messages only on trouble: the app's stderr is printed.
        '-q',
        // V8 writes and rewrites its machine code: every write is checked.
        '--smc-check=all-non-file',
        `--callgrind-out-file=${cg}`,
        '--dump-before=uv_getrusage',
        '--zero-before=uv_getrusage',
        process.execPath,
        ...argv,
      ];
    }
    const child = spawn(command, args, {
      cwd: root,
      env: { ...env, ...variant.env, ...(cg === undefined ? {} : SLOW_CLOCK) },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      err += c;
    });
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${variant.name} exited ${code}: ${err}`));
      else {
        if (err.trim() !== '') process.stderr.write(`${variant.name}: ${err}`);
        if (process.env.BENCH_PROFILE) {
          // The timed windows, for reading only the calls out of the profile.
          writeFileSync(`${process.env.BENCH_PROFILE}/v${variant.id}-r${round}.windows.jsonl`, out);
        }
        const lines = out
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        try {
          if (cg !== undefined) instructions(cg, lines);
        } catch (e) {
          reject(e);
          return;
        }
        resolve(lines);
      }
    });
  });
}

/**
 * One round in turns (BENCH_TURNS): every variant's app at once (forked with an IPC channel),
 * each case warmed up and then timed in turns of TURNS calls, in the orders of {@link
 * turnOrders}. Resolves to [variant, figures] for each variant and case.
 */
async function runTurns(order, round) {
  const kids = await Promise.all(order.map((variant) => forkChild(variant, round)));
  const out = [];
  const nextOrder = turnOrders(kids, round);
  try {
    const turns = async (name, total) => {
      for (let done = 0; done < total; done += TURNS) {
        const go = Math.min(TURNS, total - done);
        for (const kid of nextOrder()) await kid.ask({ case: name, go });
      }
    };
    for (const name of kids[0].cases) {
      await turns(name, WARMUP);
      for (const kid of kids) await kid.ask({ mark: true });
      await turns(name, CALLS);
      for (const kid of kids) out.push([kid.variant, await kid.ask({ case: name, report: CALLS })]);
    }
  } finally {
    await Promise.all(kids.map((kid) => kid.stop()));
  }
  return out;
}

/** Fork the app of one variant for turns; resolves once it is ready. */
function forkChild(variant, round) {
  return new Promise((resolve, reject) => {
    const { prefix, argv } = seeded(round, variant.args);
    const child = fork(app, [], {
      cwd: root,
      // Under BENCH_SEED, fork runs `setarch ... node <execArgv> app`: the same process.
      ...(prefix.length > 0
        ? { execPath: prefix[0], execArgv: [...prefix.slice(1), process.execPath, ...argv] }
        : { execArgv: argv }),
      env: { ...env, ...variant.env },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    if (PIN) {
      // This app's threads (V8's helpers are started with the isolate) on CPU 1.
      child.once('spawn', () => {
        execFileSync('taskset', ['-a', '-p', '-c', '1', String(child.pid)], { stdio: 'ignore' });
      });
    }
    let err = '';
    child.stderr.on('data', (c) => {
      err += c;
    });
    let pending;
    const closed = new Promise((done) => child.once('close', done));
    let failure;
    child.once('exit', (code) => {
      if (code === 0) return;
      failure = new Error(`${variant.name} exited ${code}: ${err}`);
      if (pending !== undefined) pending.reject(failure);
      else reject(failure);
    });
    child.on('message', (m) => {
      if (m.ready) {
        resolve({
          variant,
          cases: m.cases,
          ask(message) {
            return new Promise((res, rej) => {
              pending = { resolve: res, reject: rej };
              child.send(message);
            });
          },
          async stop() {
            if (child.connected) child.send({ exit: true });
            await closed;
            // A failure at exit (its flush, say) fails the round, as in the back-to-back runs.
            if (failure !== undefined) throw failure;
            if (err.trim() !== '') process.stderr.write(`${variant.name}: ${err}`);
          },
        });
        return;
      }
      const p = pending;
      pending = undefined;
      p?.resolve(m);
    });
  });
}

/** Under callgrind the app runs about 50 times slower by the clock: the intervals of the
 * exports are stretched alike, so that they come after about as many calls as they do natively
 * (metrics and log records every 1000 ms, spans by the batch of 512 rather than every 5 s). The
 * batched accounting's 100 ms (src/processor/deferred.ts) is not: under callgrind it drains
 * about every 16 spans instead of 64. */
const SLOW_CLOCK = {
  OTEL_METRIC_EXPORT_INTERVAL: '50000',
  OTEL_BLRP_SCHEDULE_DELAY: '50000',
  OTEL_BSP_SCHEDULE_DELAY: '250000',
};

/** Inclusive instructions of the functions that tell the threads and the compilers apart, from
 * one callgrind dump (callgrind_annotate, in valgrind's package). */
function annotate(file) {
  const text = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', file], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const total = Number(
    text.match(/^([\d,]+) \(100\.0%\) +PROGRAM TOTALS/m)?.[1].replaceAll(',', ''),
  );
  // The largest inclusive figure of a function (callgrind lists a function once per signature).
  const of = (name) => {
    let max = 0;
    for (const m of text.matchAll(/^ *([\d,]+) \([^)]*\) +(.*)$/gm)) {
      if (m[2].includes(name)) max = Math.max(max, Number(m[1].replaceAll(',', '')));
    }
    return max;
  };
  if (!Number.isFinite(total) || total === 0) throw new Error(`${file}: no PROGRAM TOTALS`);
  return {
    total,
    main: of('node::SpinEventLoopInternal'),
    mainGc: collectorOnMain(file),
    compile:
      of('v8::internal::OptimizedCompilationJob::ExecuteJob') +
      of('v8::internal::maglev::MaglevCompilationJob::ExecuteJobImpl'),
  };
}

// Where the garbage collector's work on the main thread starts: its pauses (scavenges, a
// mark-compact's final pause), the incremental marking steps and tasks that come before a
// mark-compact, and the scavenge and memory-reducer tasks. Before 2026-12-01 the bench took only
// the pauses out of the mutator, and the steps of a mark-compact that began in a window (33
// thousand instructions per call in one run of register) counted as the calls' work
// (docs/performance.md, "stores by name").
const GC_ENTRY =
  /^v8::internal::(Heap::CollectGarbage\(|Heap::StartIncrementalMarking\(|Heap::HandleGCRequest\(|IncrementalMarkingJob::Task::RunInternal|IncrementalMarking::Observer::Step|MinorGCJob::Task::RunInternal|ScavengeJob::Task::RunInternal|MemoryReducer::TimerTask::RunInternal)/;
// The collector's own functions: a call from one of them into an entry is already counted.
const GC_INSIDE =
  /v8::internal::(Heap|HeapAllocator|IncrementalMarking|MarkCompact|MinorMarkSweep|Scavenge|Sweeper|GCTracer|MinorGC|MemoryReducer|ConcurrentMarking|Marking)/;

/** Instructions the garbage collector ran on the main thread, from one callgrind dump: the
 * inclusive cost of every call into a {@link GC_ENTRY} made from outside the collector, read
 * off the dump's call records (`cfn=`, `calls=`, then the call's inclusive cost). */
function collectorOnMain(file) {
  const names = new Map();
  // callgrind names a function in full once, then by its number alone.
  const nameOf = (spec) => {
    const m = spec.match(/^\((\d+)\)(?: (.*))?$/);
    if (m === null) return spec;
    if (m[2] !== undefined) names.set(m[1], m[2]);
    return names.get(m[1]) ?? '';
  };
  let fn = '';
  let cfn = '';
  let call = false;
  let sum = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('fn=')) fn = nameOf(line.slice(3));
    else if (line.startsWith('cfn=')) cfn = nameOf(line.slice(4));
    else if (line.startsWith('calls=')) call = true;
    else if (call && /^[+\-*\d]/.test(line)) {
      call = false;
      if (GC_ENTRY.test(cfn) && !GC_INSIDE.test(fn)) sum += Number(line.trim().split(/\s+/)[1]);
    }
  }
  return sum;
}

/** Adds each case's instructions per call (thousands) to its line, from the callgrind dumps. */
function instructions(cg, lines) {
  const base = cg.slice(ICOUNT.length + 1);
  const dumps = readdirSync(ICOUNT)
    .filter((f) => f.startsWith(`${base}.`) && /^\d+$/.test(f.slice(base.length + 1)))
    .sort((a, b) => Number(a.slice(base.length + 1)) - Number(b.slice(base.length + 1)));
  if (dumps.length !== 2 * lines.length) {
    throw new Error(`${cg}: ${dumps.length} dumps for ${lines.length} cases (2 per case expected)`);
  }
  lines.forEach((line, i) => {
    const a = annotate(`${ICOUNT}/${dumps[2 * i + 1]}`);
    const k = (x) => x / CALLS / 1000;
    line.instr = k(a.total);
    line.instrMain = k(a.main);
    line.instrCompile = k(a.compile);
    line.instrMutator = k(a.main - a.mainGc);
  });
}

const loadBefore = loadAvg();
/** Figures per call (wall, CPU, by thread, faults) by case, then by variant id: one per round. */
const results = {
  wall: {},
  cpu: {},
  main: {},
  others: {},
  faults: {},
  instr: {},
  instrMain: {},
  instrCompile: {},
  instrMutator: {},
};
const record = (variant, r) => {
  // Under callgrind the times and faults are valgrind's, not the app's: only the counts are kept.
  const timed = ICOUNT === undefined;
  for (const [measure, value] of [
    ['wall', timed ? r.usPerCall : undefined],
    ['cpu', timed ? r.cpuUsPerCall : undefined],
    ['main', timed ? r.threads?.main : undefined],
    ['others', timed ? r.threads?.others : undefined],
    ['faults', timed ? r.faultsPerCall : undefined],
    ['instr', r.instr],
    ['instrMain', r.instrMain],
    ['instrCompile', r.instrCompile],
    ['instrMutator', r.instrMutator],
  ]) {
    if (value === undefined || Number.isNaN(value)) continue;
    results[measure][r.case] ??= {};
    results[measure][r.case][variant.id] ??= [];
    results[measure][r.case][variant.id].push(value);
  }
};
for (let round = 0; round < ROUNDS; round++) {
  // Alternate the order: forwards on even rounds, backwards on odd ones.
  const order = round % 2 === 0 ? variants : [...variants].reverse();
  if (TURNS !== undefined) {
    for (const [variant, r] of await runTurns(order, round)) record(variant, r);
  } else {
    for (const variant of order) {
      for (const r of await runChild(variant, round)) record(variant, r);
    }
  }
}
const loadAfter = loadAvg();
await Promise.all([mock.close(), cachedMock.close()]);
sink.close();

/** At most this share of plain OTel's added work for register over the floor (docs/performance.md). */
const OWN_SHARE_TARGET = 0.1;
/** The measures of work done for the calls (not the helper threads alone, not faults). */
const SHARE_MEASURES = new Set(['wall', 'cpu', 'main', 'instrMutator']);

/** Digits of the figures being printed: µs whole, faults to a tenth. */
let digits = 0;
const f = (x) => x.toFixed(digits);
const signed = (x) => (x >= 0 ? `+${f(x)}` : f(x));
const baseline = variants.some((v) => v.id === 4);
console.log(
  `# Overhead per model call on a real workload (${cpuModel()}, Node ${process.version})`,
);
console.log(
  `load ${loadBefore.join(' ')} before, ${loadAfter.join(' ')} after; ${ROUNDS} rounds of ` +
    `${CALLS} calls (after ${WARMUP} warm-up), ` +
    `${TURNS === undefined ? 'variants alternating' : `variants at once in turns of ${TURNS} calls`}` +
    `${PIN ? ', pinned (bench on CPU 0, each app on CPU 1)' : ''}` +
    `${SEED === undefined ? '' : `, seeded (${SEED}: no address-space randomization, V8 seeds ${SEED === 'fixed' ? '1' : 'by round'})`}; OTLP exports received: ` +
    `${received.traces} traces, ${received.metrics} metrics, ${received.logs} logs\n`,
);
for (const [measure, title] of [
  ['wall', 'Wall time per call (µs)'],
  ['cpu', "The app process's CPU time per call (µs, user + system, all its threads)"],
  ['main', "The app's main thread's CPU time per call (µs, Linux schedstat)"],
  [
    'others',
    "The app's other threads' CPU time per call (µs: V8's GC and compiler helpers, loader hooks, libuv)",
  ],
  ['faults', "The app's minor page faults per call (Linux /proc/self/stat)"],
  ['instr', 'Instructions per call (thousands, callgrind, all threads)'],
  ['instrMain', 'Instructions per call on the main thread (thousands)'],
  [
    'instrCompile',
    "Instructions per call in V8's optimizing compilers, Maglev and Turbofan (thousands)",
  ],
  [
    'instrMutator',
    "Instructions per call on the main thread outside its collections (thousands): the calls' own work, JavaScript and runtime",
  ],
]) {
  if (Object.keys(results[measure]).length === 0) continue;
  console.log(`## ${title}\n`);
  digits = measure === 'faults' ? 1 : 0;
  report(results[measure], SHARE_MEASURES.has(measure));
}
// A first touch of a page costs 14 to 20 µs on this project's VM. While V8 is still growing its
// heap to the working size, such faults fall in the timed window of whichever process grows
// then, and decide the comparison (docs/performance.md, "2026-12-01: page faults while the heap
// grows"). In the steady state the apps fault a few times per hundred calls.
const FAULTS_STEADY = 0.5;
for (const [name, byVariant] of Object.entries(results.faults)) {
  const growing = variants.filter((v) => median(byVariant[v.id] ?? [0]) > FAULTS_STEADY);
  if (growing.length > 0) {
    console.log(
      `\nNote (${name}): ${growing.map((v) => v.name).join(', ')} faulted more than ` +
        `${FAULTS_STEADY} pages per call in the timed window (median): the heap was still ` +
        'growing, and the times carry those faults. Raise BENCH_WARMUP (12000 reaches the ' +
        'steady state here) before reading a ratio.',
    );
  }
}

/** The figures of one measure by case and variant; with `share`, also spanledger's own share
 * against its target (for the measures the target is stated in). */
function report(byCase, share) {
  console.log('| case | variant | median | range | added median | added range | added / (1) |');
  console.log('|---|---|---|---|---|---|---|');
  const summary = [];
  const perRound = [];
  const ownShare = [];
  for (const [name, byVariant] of Object.entries(byCase)) {
    const base = byVariant[0];
    // Added µs per round: the variant's figure minus the same round's no-telemetry figure.
    const added = (id) => byVariant[id]?.map((x, i) => x - (base?.[i] ?? Number.NaN));
    for (const v of variants) {
      const xs = byVariant[v.id];
      const a = added(v.id);
      const cols = [
        f(median(xs)),
        `${f(Math.min(...xs))}–${f(Math.max(...xs))}`,
        v.id === 0 || base === undefined ? '' : signed(median(a)),
        v.id === 0 || base === undefined ? '' : `${f(Math.min(...a))}–${f(Math.max(...a))}`,
        v.id <= 1 || base === undefined || byVariant[1] === undefined
          ? ''
          : `${(median(a) / median(added(1))).toFixed(2)}x`,
      ];
      console.log(`| ${name} | ${v.name} | ${cols.join(' | ')} |`);
    }
    if (base !== undefined && byVariant[1] !== undefined) {
      // Each round's own ratio too: in turns, a round's variants ran in the same window.
      for (const id of [2, 3, 5, 6, 4]) {
        const a = added(id);
        if (a === undefined) continue;
        const ratios = a.map((x, i) => x / added(1)[i]);
        perRound.push(
          `| ${name} | (${id})/(1) | ${median(ratios).toFixed(2)}x | ` +
            `${ratios.map((r) => r.toFixed(2)).join(', ')} |`,
        );
      }
      const plain = median(added(1));
      const ratio = (id) =>
        byVariant[id] === undefined ? 'n/a' : `${(median(added(id)) / plain).toFixed(2)}x`;
      summary.push(
        `| ${name} | ${ratio(2)} | ${ratio(3)} | ${ratio(5)} |${baseline ? ` ${ratio(4)} |` : ''}`,
      );
      if (share && byVariant[2] !== undefined && byVariant[5] !== undefined) {
        // The target (docs/performance.md): spanledger's own work, register over the floor in
        // the same round, against what plain OTel adds in that round.
        // Rounds differ by more than the share itself (each round is new processes), so the
        // verdict takes the mean's 95 % interval: met only when all of it is at or under the
        // target.
        const share = (label, xs, target, verdictOf) => {
          const { mean, lo, hi, verdict } = meanVerdict(xs, target);
          ownShare.push(
            `| ${label} | ${median(xs).toFixed(3)}x | ${mean.toFixed(3)}x | ` +
              `${lo.toFixed(3)} to ${hi.toFixed(3)} | ${verdictOf(verdict)} | ` +
              `${xs.map((r) => r.toFixed(3)).join(', ')} |`,
          );
        };
        const ownOf = (id) => byVariant[id].map((x, i) => (x - byVariant[5][i]) / added(1)[i]);
        share(name, ownOf(2), OWN_SHARE_TARGET, (v) => v);
        // With a baseline build, the same for it, and the difference of the two in the same
        // rounds (a change's effect, without the drift between two runs).
        if (byVariant[4] !== undefined) {
          const own4 = ownOf(4);
          share(`${name}, (4) baseline`, own4, OWN_SHARE_TARGET, (v) => v);
          const diff = ownOf(2).map((x, i) => x - own4[i]);
          const against = { met: '(2) lower', 'not met': '(2) higher', undecided: 'undecided' };
          share(`${name}, (2) − (4)`, diff, 0, (v) => against[v]);
        }
      }
    }
  }
  if (summary.length > 0) {
    console.log(
      '\nAdded per call against plain OTel (ratios of the medians of the added figures):\n',
    );
    console.log(`| case | (2)/(1) | (3)/(1) | (5)/(1) |${baseline ? ' (4)/(1) |' : ''}`);
    console.log(`|---|---|---|---|${baseline ? '---|' : ''}`);
    for (const line of summary) console.log(line);
    console.log('\nThe same ratio round by round (median, then each round):\n');
    console.log('| case | ratio | median | rounds |');
    console.log('|---|---|---|---|');
    for (const line of perRound) console.log(line);
  }
  if (ownShare.length > 0) {
    console.log(
      `\nspanledger's own share: ((2) − (5)) / ((1) − (0)), round by round; the target is at most ${OWN_SHARE_TARGET}x` +
        `${baseline ? ' (with a baseline build: its share, and (2) − (4) against 0)' : ''}:\n`,
    );
    console.log('| case | median | mean | 95 % interval of the mean | target | rounds |');
    console.log('|---|---|---|---|---|---|');
    for (const line of ownShare) console.log(line);
  }
  console.log('');
}
