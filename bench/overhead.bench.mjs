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
 *   (5) and up: register's set-up rebuilt with pieces switched off (bench/fixtures/
 *       register-parts.mjs), one variant per entry of BENCH_PARTS.
 *
 * Printed: per case and variant the median and range over rounds of µs per call, the added µs
 * over (0), and the ratios (2)/(1) and (3)/(1) of added µs; the load before and after.
 *
 *     npm run bench:overhead         (builds first)
 *     BENCH_ROUNDS=5 BENCH_CALLS=1000 BENCH_WARMUP=300 BENCH_CASES='openai chat' BENCH_VARIANTS=1,2
 *     BENCH_PROFILE=dir              (each child also writes a --cpu-prof profile into dir,
 *                                     sampled every BENCH_PROFILE_INTERVAL µs, default 100)
 *     BENCH_VARIANTS=0,1,2,5,6 BENCH_PARTS=';processor,usage'
 *                                    (variants (5) and up: BENCH_OFF of register-parts.mjs)
 *     BENCH_BASELINE=.scratch/dist-0 (also variant (4): register from that build, e.g. before a
 *                                     change; a directory inside this checkout)
 *     BENCH_PRELOAD=./bench/fixtures/processor-timing.mjs
 *                                    (variant (2) also imports this after register; what it
 *                                     writes to stderr is printed)
 *     BENCH_PIN=1                    (Linux: this process, with the mock servers and the sink, on
 *                                     CPU 0, each app on CPU 1 with its helper threads: the two
 *                                     no longer share cores, and the rounds' spread narrows)
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { OPENAI_DEFAULTS, startMockProviders } from '../test/support/mock-providers.ts';
import { cpuModel, loadAvg, median, num } from './lib.mjs';

const ROUNDS = num('BENCH_ROUNDS', 5);
const CALLS = num('BENCH_CALLS', 1000);
const WARMUP = num('BENCH_WARMUP', 300);
const root = fileURLToPath(new URL('..', import.meta.url));
const PIN = process.env.BENCH_PIN === '1';
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
// BENCH_PARTS (semicolon-separated; an empty one is the whole set-up), ids from 5.
const parts = (
  process.env.BENCH_PARTS ?? ';processor;sampler;usage;metrics;attribution;processor,usage,diag'
).split(';');
parts.forEach((off, i) => {
  allVariants.push({
    id: 5 + i,
    name: `(${5 + i}) parts, off: ${off === '' ? 'none' : off}`,
    args: ['--import', './bench/fixtures/register-parts.mjs'],
    env: { BENCH_OFF: off },
  });
});
const wanted = process.env.BENCH_VARIANTS?.split(',').map(Number);
const variants = allVariants.filter((v) =>
  wanted === undefined ? v.id < 5 : wanted.includes(v.id),
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
  return new Promise((resolve, reject) => {
    const argv = [...prof, ...variant.args, app];
    const child = spawn(
      PIN ? 'taskset' : process.execPath,
      PIN ? ['-c', '1', process.execPath, ...argv] : argv,
      {
        cwd: root,
        env: { ...env, ...variant.env },
      },
    );
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
        resolve(
          out
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l)),
        );
      }
    });
  });
}

const loadBefore = loadAvg();
/** µs per call (wall and CPU) by case, then by variant id: one value per round. */
const results = { wall: {}, cpu: {}, main: {}, others: {} };
for (let round = 0; round < ROUNDS; round++) {
  // Alternate the order: forwards on even rounds, backwards on odd ones.
  const order = round % 2 === 0 ? variants : [...variants].reverse();
  for (const variant of order) {
    for (const r of await runChild(variant, round)) {
      for (const [measure, value] of [
        ['wall', r.usPerCall],
        ['cpu', r.cpuUsPerCall],
        ['main', r.threads?.main],
        ['others', r.threads?.others],
      ]) {
        if (value === undefined) continue;
        results[measure][r.case] ??= {};
        results[measure][r.case][variant.id] ??= [];
        results[measure][r.case][variant.id].push(value);
      }
    }
  }
}
const loadAfter = loadAvg();
await Promise.all([mock.close(), cachedMock.close()]);
sink.close();

const f = (x) => x.toFixed(0);
const signed = (x) => (x >= 0 ? `+${f(x)}` : f(x));
const baseline = variants.some((v) => v.id === 4);
console.log(
  `# Overhead per model call on a real workload (${cpuModel()}, Node ${process.version})`,
);
console.log(
  `load ${loadBefore.join(' ')} before, ${loadAfter.join(' ')} after; ${ROUNDS} rounds of ` +
    `${CALLS} calls (after ${WARMUP} warm-up), variants alternating` +
    `${PIN ? ', pinned (bench on CPU 0, each app on CPU 1)' : ''}; OTLP exports received: ` +
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
]) {
  if (Object.keys(results[measure]).length === 0) continue;
  console.log(`## ${title}\n`);
  report(results[measure]);
}

function report(byCase) {
  console.log('| case | variant | median | range | added median | added range | added / (1) |');
  console.log('|---|---|---|---|---|---|---|');
  const summary = [];
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
      const plain = median(added(1));
      const ratio = (id) =>
        byVariant[id] === undefined ? 'n/a' : `${(median(added(id)) / plain).toFixed(2)}x`;
      summary.push(`| ${name} | ${ratio(2)} | ${ratio(3)} |${baseline ? ` ${ratio(4)} |` : ''}`);
    }
  }
  if (summary.length > 0) {
    console.log('\nAdded µs per call against plain OTel (medians of added µs):\n');
    console.log(`| case | (2)/(1) | (3)/(1) |${baseline ? ' (4)/(1) |' : ''}`);
    console.log(`|---|---|---|${baseline ? '---|' : ''}`);
    for (const line of summary) console.log(line);
  }
  console.log('');
}
