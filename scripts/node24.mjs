#!/usr/bin/env node
/**
 * `node scripts/node24.mjs <script> [args...]`: runs a script that loads the repository's own
 * node_modules (`npm run demo`, `npm run example`, the benchmarks) on a Node that the
 * OpenTelemetry JS 3.x line there supports (>= 22.15):
 *
 * - this Node, when it is new enough: the script runs in this process;
 * - otherwise Node 24 from `ensureNode24()` (scripts/tools.mjs; installed into `.tools/node24`
 *   on first use), as a child with the same stdio, its directory first on PATH; its exit code
 *   (or the signal that ended it) is this process's.
 *
 * When Node 24 cannot be had (another platform, no registry), the script runs on this Node with
 * a warning: it may work, but it is not what the 3.x packages are tested on.
 */
import { spawn } from 'node:child_process';
import { delimiter, dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureNode24 } from './tools.mjs';

/** The oldest Node the 3.x line supports (its packages' `engines`). */
const FLOOR = [22, 15];

const [script, ...args] = process.argv.slice(2);
if (script === undefined) {
  console.error('usage: node scripts/node24.mjs <script> [args...]');
  process.exit(2);
}

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const fits = major > FLOOR[0] || (major === FLOOR[0] && minor >= FLOOR[1]);
const node24 = fits ? undefined : ensureNode24();

if (node24 === undefined) {
  if (!fits) {
    console.error(
      `Node 24 could not be installed into .tools/node24: running ${script} on Node ` +
        `${process.versions.node}, older than the ${FLOOR.join('.')} the OpenTelemetry 3.x packages need`,
    );
  }
  // In this process, as `node <script> [args...]` would run it.
  process.argv = [process.argv[0] ?? process.execPath, resolve(script), ...args];
  await import(pathToFileURL(resolve(script)).href);
} else {
  const PATH = `${dirname(node24)}${delimiter}${process.env.PATH ?? ''}`;
  const child = spawn(node24, [script, ...args], {
    stdio: 'inherit',
    env: { ...process.env, PATH },
  });
  // Ctrl-C reaches the child from the terminal itself; a signal sent to this process alone is
  // passed on. Either way the child decides how to stop, and this process ends as it does.
  process.on('SIGINT', () => {});
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('error', (err) => {
    console.error(`cannot run ${node24}: ${err.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
}
