#!/usr/bin/env node
/**
 * `node scripts/bootstrap.mjs [--build]`: what `npm run demo` and `npm test` run first, so that
 * each works on a fresh clone with nothing run before it. Node builtins only: it runs before
 * `node_modules` exists, on any Node the package supports (20 here; scripts/node24.mjs then runs
 * Node 24 where it is needed).
 *
 * - Install: `npm ci` when `node_modules` is missing or does not match `package-lock.json`. npm
 *   itself records what it installed in `node_modules/.package-lock.json` (the hidden lockfile);
 *   the tree matches when every package the lockfile lists is there at its version and
 *   integrity (optional ones may be absent: they are skipped on other platforms). So after
 *   `npm ci` (as CI runs it, `.ci/run`) this does nothing.
 * - Build (`--build`): `tsup` when a file of `dist/` that the CLI needs is missing or older than
 *   any file under `src/` or `examples/support-agent/` (the demo bundles the example agent), or
 *   than package.json or tsup.config.ts.
 *
 * A `node_modules` that is a symbolic link (a work tree sharing another tree's install) is never
 * reinstalled from here: `npm ci` would wipe the tree it points to. It says so and goes on.
 * Exit code: 0, or npm's / tsup's when they fail.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Why `node_modules` of `root` must be (re)installed, or undefined when it matches the
 * lockfile.
 */
export function installNeeded(root = ROOT) {
  const lock = readJson(join(root, 'package-lock.json'));
  if (lock?.packages === undefined) return undefined; // no lockfile: nothing to compare with
  if (!existsSync(join(root, 'node_modules'))) return 'node_modules is missing';
  const hidden = readJson(join(root, 'node_modules', '.package-lock.json'));
  if (hidden?.packages === undefined) return 'node_modules was not installed by npm 7 or later';
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || !path.startsWith('node_modules/')) continue;
    const installed = hidden.packages[path];
    if (installed === undefined) {
      if (entry.optional || entry.devOptional) continue;
      return `${path.slice('node_modules/'.length)} is not installed`;
    }
    if (installed.version !== entry.version) {
      return `${path.slice('node_modules/'.length)} is ${installed.version}, the lockfile says ${entry.version}`;
    }
    if (entry.integrity !== undefined && installed.integrity !== entry.integrity) {
      return `${path.slice('node_modules/'.length)} differs from the lockfile's (integrity)`;
    }
  }
  return undefined;
}

function newest(dir) {
  let latest = 0;
  if (!existsSync(dir)) return latest;
  for (const f of readdirSync(dir, { recursive: true })) {
    const m = statSync(join(dir, String(f))).mtimeMs;
    if (m > latest) latest = m;
  }
  return latest;
}

/** Why `dist/` of `root` must be built, or undefined when it is newer than its sources. */
export function buildNeeded(root = ROOT) {
  const outputs = [
    'index.js',
    'index.cjs',
    'node.js',
    'register.js',
    'cli/main.js',
    'cli/demo.js',
    'cli/report/html.js',
  ];
  let oldest = Number.POSITIVE_INFINITY;
  for (const f of outputs) {
    const file = join(root, 'dist', f);
    if (!existsSync(file)) return `dist/${f} is missing`;
    oldest = Math.min(oldest, statSync(file).mtimeMs);
  }
  const inputs = Math.max(
    newest(join(root, 'src')),
    newest(join(root, 'examples', 'support-agent')),
    statSync(join(root, 'package.json')).mtimeMs,
    statSync(join(root, 'tsup.config.ts')).mtimeMs,
  );
  return inputs > oldest ? 'dist/ is older than its sources' : undefined;
}

function run(cmd, args) {
  console.error(`$ ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (r.error) console.error(`cannot run ${cmd}: ${r.error.message}`);
  return r.status ?? 1;
}

/** Install and (with `build`) build as needed; returns an exit code. */
export function bootstrap({ build = false } = {}) {
  const why = installNeeded();
  if (why !== undefined) {
    const link = join(ROOT, 'node_modules');
    if (existsSync(link) && lstatSync(link).isSymbolicLink()) {
      console.error(
        `bootstrap: ${why}, but node_modules is a link to another tree's install: run npm ci there`,
      );
    } else {
      console.error(`bootstrap: ${why}: installing from package-lock.json`);
      const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
      const code = run(npm, ['ci', '--no-audit', '--no-fund']);
      if (code !== 0) return code;
    }
  }
  if (build) {
    const reason = buildNeeded();
    if (reason !== undefined) {
      console.error(`bootstrap: ${reason}: building`);
      const code = run(join(ROOT, 'node_modules', '.bin', 'tsup'), ['--silent']);
      if (code !== 0) return code;
    }
  }
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--build');
  if (unknown.length > 0) {
    console.error(`usage: node scripts/bootstrap.mjs [--build] (unknown: ${unknown.join(' ')})`);
    process.exit(2);
  }
  process.exit(bootstrap({ build: args.includes('--build') }));
}
