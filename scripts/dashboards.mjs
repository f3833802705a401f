#!/usr/bin/env node
/**
 * The monitoring mixin's tooling (docs/dashboards.md): jsonnet, and the rendered files committed
 * beside the mixin so that a user can import them without jsonnet.
 *
 * - `ensureJsonnet()`: go-jsonnet's `jsonnet`, `jsonnetfmt` and `jsonnet-lint` at
 *   `JSONNET_VERSION`, installed with `go install` into the same cache outside the clone as the
 *   collector and Prometheus (scripts/collector.mjs: temp dir renamed into place, a lock against
 *   a concurrent install). Never throws: `{ path, jsonnetfmt, jsonnetLint }` (path is `jsonnet`),
 *   or `{ path: undefined, reason }`.
 * - `renderMixin(jsonnet)`: the files `dashboards/mixin.libsonnet` renders, by path under
 *   `dashboards/rendered/`: `dashboards/<name>.json` (2-space JSON, trailing newline),
 *   `alerts.yaml` and `rules.yaml`.
 * - `render()` writes them (and removes rendered dashboards the mixin no longer has);
 *   `staleFiles()` lists the committed files that differ from a fresh render.
 * - `formatProblems()` and `lintProblems()`: `jsonnetfmt --test` and `jsonnet-lint` over every
 *   .libsonnet and .jsonnet file.
 *
 * Command line: `node scripts/dashboards.mjs [render|check]` (`npm run dashboards` renders;
 * `check` exits 1 when the rendered files are stale or a file is unformatted or lint-unclean).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { buildOnce, cacheDir, goInstall, goMissing, ROOT, runs } from './collector.mjs';

/** The go-jsonnet release installed. */
export const JSONNET_VERSION = 'v0.22.0';
/** The mixin's directory (the jsonnet library path: imports are relative to it). */
export const MIXIN_DIR = join(ROOT, 'dashboards');
/** Where the rendered files are committed. */
export const RENDERED_DIR = join(MIXIN_DIR, 'rendered');

const TOOLS = ['jsonnet', 'jsonnetfmt', 'jsonnet-lint'];

/** jsonnet, jsonnetfmt and jsonnet-lint, installed into the cache if missing. */
export function ensureJsonnet() {
  try {
    const missing = goMissing();
    if (missing) return { path: undefined, reason: missing };
    const dir = join(cacheDir(), `jsonnet-${JSONNET_VERSION}`);
    const r = buildOnce(
      dir,
      // jsonnet-lint has no --version; its --help exits 0.
      (d) =>
        runs(join(d, 'jsonnet'), ['--version']) &&
        runs(join(d, 'jsonnetfmt'), ['--version']) &&
        runs(join(d, 'jsonnet-lint'), ['--help']),
      (tmp) =>
        goInstall(
          tmp,
          TOOLS.map((t) => `github.com/google/go-jsonnet/cmd/${t}@${JSONNET_VERSION}`),
        ),
      `jsonnet ${JSONNET_VERSION}`,
    );
    if (!r.path) return r;
    return {
      path: join(r.path, 'jsonnet'),
      jsonnetfmt: join(r.path, 'jsonnetfmt'),
      jsonnetLint: join(r.path, 'jsonnet-lint'),
    };
  } catch (err) {
    return { path: undefined, reason: `jsonnet: ${err?.message ?? err}` };
  }
}

/** Runs a tool; its stdout, or throws with its stderr. */
function output(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: MIXIN_DIR, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

/** 2-space JSON with a trailing newline, as the rendered dashboards are committed. */
const json = (value) => `${JSON.stringify(value, null, 2)}\n`;

const HEADER =
  '# Rendered from dashboards/ by `npm run dashboards`: edit the jsonnet, not this file.\n';

/** The rendered files of the mixin, by path relative to `dashboards/rendered/`. */
export function renderMixin(jsonnet) {
  const mixin = JSON.parse(
    output(jsonnet, [
      '-J',
      MIXIN_DIR,
      '-e',
      "local m = import 'mixin.libsonnet'; { dashboards: m.grafanaDashboards, alerts: m.prometheusAlerts, rules: m.prometheusRules }",
    ]),
  );
  const files = new Map();
  for (const name of Object.keys(mixin.dashboards).sort()) {
    files.set(`dashboards/${name}`, json(mixin.dashboards[name]));
  }
  files.set('alerts.yaml', HEADER + stringify(mixin.alerts, { lineWidth: 0 }));
  files.set('rules.yaml', HEADER + stringify(mixin.rules, { lineWidth: 0 }));
  return files;
}

/** The rendered dashboards committed now (relative to `dashboards/rendered/`). */
function committedDashboards() {
  const dir = join(RENDERED_DIR, 'dashboards');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => `dashboards/${f}`);
}

/** Writes the rendered files; removes rendered dashboards the mixin no longer has. */
export function render(jsonnet) {
  const files = renderMixin(jsonnet);
  for (const old of committedDashboards()) {
    if (!files.has(old)) rmSync(join(RENDERED_DIR, old));
  }
  mkdirSync(join(RENDERED_DIR, 'dashboards'), { recursive: true });
  for (const [path, text] of files) writeFileSync(join(RENDERED_DIR, path), text);
  return [...files.keys()];
}

/** Committed rendered files that a fresh render would change, add or remove. */
export function staleFiles(jsonnet) {
  const files = renderMixin(jsonnet);
  const stale = [];
  for (const [path, text] of files) {
    const file = join(RENDERED_DIR, path);
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) stale.push(path);
  }
  for (const old of committedDashboards()) if (!files.has(old)) stale.push(old);
  return stale;
}

/** Every .libsonnet and .jsonnet file of the mixin (absolute paths). */
export function jsonnetFiles(dir = MIXIN_DIR) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(lib|j)sonnet$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Files `jsonnetfmt --test` would reformat (relative to `dashboards/`). */
export function formatProblems(jsonnetfmt) {
  return jsonnetFiles()
    .filter((f) => spawnSync(jsonnetfmt, ['--test', f], { stdio: 'ignore' }).status !== 0)
    .map((f) => relative(MIXIN_DIR, f));
}

/** What `jsonnet-lint` says about each file, for the files it is not clean on. */
export function lintProblems(jsonnetLint) {
  const problems = [];
  for (const f of jsonnetFiles()) {
    const r = spawnSync(jsonnetLint, ['-J', MIXIN_DIR, f], { encoding: 'utf8' });
    if (r.status !== 0 || r.stdout.trim() || r.stderr.trim()) {
      problems.push(`${relative(MIXIN_DIR, f)}: ${(r.stdout + r.stderr).trim()}`);
    }
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const command = process.argv[2] ?? 'render';
  if (command !== 'render' && command !== 'check') {
    console.error('usage: node scripts/dashboards.mjs [render|check]');
    process.exit(2);
  }
  const tools = ensureJsonnet();
  if (!tools.path) {
    console.error(`jsonnet is not available: ${tools.reason}`);
    process.exit(1);
  }
  if (command === 'render') {
    for (const f of render(tools.path)) console.log(`dashboards/rendered/${f}`);
  } else {
    const stale = staleFiles(tools.path).map((f) => `stale: dashboards/rendered/${f}`);
    const fmt = formatProblems(tools.jsonnetfmt).map((f) => `not formatted (jsonnetfmt): ${f}`);
    const lint = lintProblems(tools.jsonnetLint).map((p) => `jsonnet-lint: ${p}`);
    const all = [...stale, ...fmt, ...lint];
    for (const p of all) console.error(p);
    if (stale.length) console.error('run `npm run dashboards` to render them again');
    process.exit(all.length ? 1 : 0);
  }
}
