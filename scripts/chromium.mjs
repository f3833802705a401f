#!/usr/bin/env node
/**
 * Chromium for the HTML report test (test/integration/report/html.test.ts), which opens the page
 * `spanledger report --html` writes in a headless browser driven by playwright-core.
 *
 * `ensureChromium()` uses Debian's `chromium` package at `/usr/bin/chromium`, installing it with
 * `apt-get update && apt-get install -y chromium` when it is missing (as root, or through sudo
 * when that works without a password). It is idempotent: a browser that runs is never installed
 * again. It never throws: it returns `{ path, reason }`, `path` undefined when there is no
 * browser, and `reason` saying why (or how it was found). What to do then is the caller's choice:
 * the tests fail under `CI=true` and skip locally, as for the collector (scripts/collector.mjs).
 *
 * Playwright's own browser downloads are not used: Debian's build is signed and kept up to date
 * by apt, and the test passes its path to playwright-core as `executablePath`.
 *
 * Command line: `node scripts/chromium.mjs` provisions it and prints where it is.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** The browser's version line, or undefined when it does not run. */
export function chromiumVersion(path = CHROMIUM_PATH) {
  if (!existsSync(path)) return undefined;
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  if (r.error || r.status !== 0) return undefined;
  return r.stdout.trim() || undefined;
}

/** Runs a command with its output on stderr; undefined on success, else why it failed. */
function runLogged(cmd, args, env) {
  console.error(`$ ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, {
    stdio: ['ignore', 2, 2],
    env: { ...process.env, ...env },
    timeout: 900_000,
  });
  if (r.error) return `cannot run ${cmd}: ${r.error.message}`;
  if (r.status !== 0) return `${[cmd, ...args].join(' ')} exited with ${r.status ?? r.signal}`;
  return undefined;
}

/** How to run apt-get: directly as root, through password-less sudo, or not at all (why). */
function aptGet() {
  if (process.platform !== 'linux') return { reason: `no apt-get on ${process.platform}` };
  const which = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' });
  if (which.status !== 0) return { reason: 'apt-get is not available (not a Debian system?)' };
  if (process.getuid?.() === 0) return { prefix: [] };
  const sudo = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' });
  if (sudo.status === 0) return { prefix: ['sudo', '-n'] };
  return { reason: 'installing chromium needs root (or password-less sudo)' };
}

/**
 * Debian's Chromium at `/usr/bin/chromium`, installed with apt-get when missing. Never throws.
 * @returns {{ path: string | undefined, reason: string }}
 */
export function ensureChromium() {
  try {
    const found = chromiumVersion();
    if (found) return { path: CHROMIUM_PATH, reason: `found ${found}` };
    const apt = aptGet();
    if (!apt.prefix)
      return { path: undefined, reason: `${CHROMIUM_PATH} is missing: ${apt.reason}` };
    const [cmd, ...pre] = [...apt.prefix, 'apt-get'];
    // Non-interactive: no debconf question may stop an unattended run.
    const env = { DEBIAN_FRONTEND: 'noninteractive' };
    const failed =
      runLogged(cmd, [...pre, 'update'], env) ??
      runLogged(cmd, [...pre, 'install', '-y', 'chromium'], env);
    if (failed) return { path: undefined, reason: `${CHROMIUM_PATH} is missing: ${failed}` };
    const installed = chromiumVersion();
    if (!installed) {
      return {
        path: undefined,
        reason: `apt-get installed chromium but ${CHROMIUM_PATH} does not run`,
      };
    }
    return { path: CHROMIUM_PATH, reason: `installed ${installed}` };
  } catch (err) {
    return { path: undefined, reason: `chromium: ${err?.message ?? err}` };
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = ensureChromium();
  console.log(r.path ? `${r.path} (${r.reason})` : `no chromium: ${r.reason}`);
  process.exit(r.path ? 0 : 1);
}
