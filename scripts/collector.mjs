#!/usr/bin/env node
/**
 * The OpenTelemetry Collector distribution of `collector-config/builder.yaml`, and Prometheus 3
 * with promtool, for the collector tests and the gateway benchmark. Both are built from the Go
 * module proxy and cached **outside the clone** (a CI run starts from a fresh clone, so a cache
 * inside it would always be cold), under `${XDG_CACHE_HOME:-$HOME/.cache}/spanledger/`:
 *
 * - `ensureCollector()`: installs the Collector Builder (`go install ...cmd/builder@v0.161.0`)
 *   and builds the manifest; the binary is keyed by a hash of the manifest, so editing it builds
 *   a new one and an unchanged manifest is never rebuilt.
 * - `ensurePrometheus()`: `go install github.com/prometheus/prometheus/cmd/{prometheus,promtool}`
 *   at `PROMETHEUS_MODULE_VERSION`, keyed by that version.
 *
 * Each builds into a temp dir next to its final place and renames it into place, so a half-done
 * build is never used; a lock (a directory holding the builder's pid, taken over when that
 * process is gone) makes a concurrent run wait for the first build instead of starting its own.
 * They never throw: they return `{ path }`, or `{ path: undefined, reason }`. What to do then is
 * the caller's choice: the tests fail under `CI=true` and skip locally.
 *
 * `buildOnce()`, `goInstall()`, `goMissing()` and `runs()` are exported for the other Go-built
 * tools (scripts/dashboards.mjs installs jsonnet the same way, into the same cache).
 *
 * `startCollector()` and `startPrometheus()` start one on loopback and wait until it is ready:
 * its own log says so and its URL answers (a port found free can be taken by another process
 * before the child binds it, and that process may answer the URL: the log is the child's own).
 * `freePort()` (scripts/ports.mjs) finds a free loopback port for the ports a config names; a
 * start that lost one of its ports that way throws an error with `addressInUse: true`, and the
 * caller can try again with new ports (`onFreePorts()`; `startPrometheus()` does when it chose
 * the port).
 *
 * Command line: `node scripts/collector.mjs` provisions both and prints where they are.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADDRESS_IN_USE, freePort, onFreePorts } from './ports.mjs';
import { processAlive } from './tools.mjs';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The builder manifest of the distribution. */
export const MANIFEST = join(ROOT, 'collector-config', 'builder.yaml');
/** The Collector Builder release; every module of the manifest is at the same release. */
export const BUILDER_VERSION = 'v0.161.0';
/** The Go module version of Prometheus 3 that is built (Prometheus 3.x tags its Go module
 * v0.3xx; the binary built this way reports an empty version string). */
export const PROMETHEUS_MODULE_VERSION = 'v0.316.0';
/** The collector binary's name (`dist.name` of the manifest). */
export const COLLECTOR_NAME = 'otelcol-spanledger';

/** Where the builds are cached: `${XDG_CACHE_HOME:-$HOME/.cache}/spanledger`. */
export function cacheDir() {
  const base = process.env.XDG_CACHE_HOME?.trim() || join(homedir(), '.cache');
  return join(base, 'spanledger');
}

/** The cache key of a manifest: the first 16 hex digits of its SHA-256. */
export function manifestHash(manifest = MANIFEST) {
  return createHash('sha256').update(readFileSync(manifest)).digest('hex').slice(0, 16);
}

const sleepSync = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** How long ago `path` was modified, ms (0 if it is gone). */
function ageMs(path) {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Makes `final` (a directory) with `build(tmp)` unless `isReady(final)`. One build at a time per
 * `final`: a second caller waits for the first one's lock, then finds its result. The build runs
 * in a temp dir that is renamed into place only when `isReady(tmp)`. Returns `{ path: final }`
 * or `{ path: undefined, reason }`.
 */
export function buildOnce(final, isReady, build, waitLabel) {
  if (isReady(final)) return { path: final };
  mkdirSync(dirname(final), { recursive: true });
  const lock = `${final}.lock`;
  let told = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      let owner = 0;
      try {
        owner = Number.parseInt(readFileSync(join(lock, 'pid'), 'utf8'), 10);
      } catch {
        // The lock is being made (no pid yet) or removed: look again shortly.
      }
      // Its owner is gone, or it never wrote its pid (it died between the two steps).
      if ((owner > 0 && !processAlive(owner)) || (owner === 0 && ageMs(lock) > 30_000)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (!told) console.error(`waiting for another build of ${waitLabel} (pid ${owner || '?'})`);
      told = true;
      sleepSync(1000);
      if (isReady(final)) return { path: final };
    }
  }
  try {
    if (isReady(final)) return { path: final };
    const tmp = `${final}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const reason = build(tmp);
    if (reason !== undefined || !isReady(tmp)) {
      rmSync(tmp, { recursive: true, force: true });
      return { path: undefined, reason: reason ?? `${waitLabel}: the build produced nothing` };
    }
    rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
    return { path: final };
  } catch (err) {
    return { path: undefined, reason: `${waitLabel}: ${err?.message ?? err}` };
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Runs a command with its output on stderr; undefined on success, else why it failed. */
export function runLogged(cmd, args, options = {}) {
  console.error(`$ ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: ['ignore', 2, 2], ...options });
  if (r.error) return `cannot run ${cmd}: ${r.error.message}`;
  if (r.status !== 0) return `${cmd} ${args[0]} exited with ${r.status ?? r.signal}`;
  return undefined;
}

/** Whether `go` runs; the reason when it does not. */
export function goMissing() {
  const r = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    return `the Go toolchain is needed to build the collector and Prometheus, and \`go version\` failed: ${r.error?.message ?? r.stderr}`;
  }
  return undefined;
}

/** Whether `file` is an executable that exits 0 with `args`. */
export function runs(file, args) {
  if (!existsSync(file)) return false;
  const r = spawnSync(file, args, { stdio: 'ignore', timeout: 60_000 });
  return r.status === 0;
}

/** `go install pkg@version...` into `bin`. */
export function goInstall(bin, packages) {
  return runLogged('go', ['install', ...packages], {
    env: { ...process.env, GOBIN: bin },
  });
}

/** The Collector Builder, installed into the cache if missing. */
export function ensureBuilder() {
  const missing = goMissing();
  if (missing) return { path: undefined, reason: missing };
  const dir = join(cacheDir(), `builder-${BUILDER_VERSION}`);
  const r = buildOnce(
    dir,
    (d) => runs(join(d, 'builder'), ['version']),
    (tmp) => goInstall(tmp, [`go.opentelemetry.io/collector/cmd/builder@${BUILDER_VERSION}`]),
    `the collector builder ${BUILDER_VERSION}`,
  );
  return r.path ? { path: join(r.path, 'builder') } : r;
}

/**
 * The collector binary built from `manifest` (default `collector-config/builder.yaml`), built
 * and cached if missing. The manifest's `output_path` is replaced by the cache's temp dir.
 */
export function ensureCollector(manifest = MANIFEST) {
  try {
    const builder = ensureBuilder();
    if (!builder.path) return builder;
    const dir = join(cacheDir(), `otelcol-${manifestHash(manifest)}`);
    const r = buildOnce(
      dir,
      (d) => runs(join(d, COLLECTOR_NAME), ['--version']),
      (tmp) => {
        const text = readFileSync(manifest, 'utf8');
        if (!/^\s+output_path:.*$/m.test(text)) return `${manifest}: no dist.output_path`;
        const copy = join(tmp, 'builder.yaml');
        writeFileSync(copy, text.replace(/^(\s+)output_path:.*$/m, `$1output_path: ${tmp}`));
        return runLogged(builder.path, ['--config', copy], { cwd: tmp });
      },
      `the collector (${manifest})`,
    );
    return r.path ? { path: join(r.path, COLLECTOR_NAME) } : r;
  } catch (err) {
    return { path: undefined, reason: `the collector: ${err?.message ?? err}` };
  }
}

/** Prometheus 3 and promtool, built and cached if missing: `{ path, promtool }` (path is the
 * prometheus binary), or `{ path: undefined, reason }`. */
export function ensurePrometheus() {
  try {
    const missing = goMissing();
    if (missing) return { path: undefined, reason: missing };
    const dir = join(cacheDir(), `prometheus-${PROMETHEUS_MODULE_VERSION}`);
    const r = buildOnce(
      dir,
      (d) => runs(join(d, 'prometheus'), ['--version']) && runs(join(d, 'promtool'), ['--version']),
      (tmp) =>
        goInstall(tmp, [
          `github.com/prometheus/prometheus/cmd/prometheus@${PROMETHEUS_MODULE_VERSION}`,
          `github.com/prometheus/prometheus/cmd/promtool@${PROMETHEUS_MODULE_VERSION}`,
        ]),
      `Prometheus ${PROMETHEUS_MODULE_VERSION}`,
    );
    return r.path ? { path: join(r.path, 'prometheus'), promtool: join(r.path, 'promtool') } : r;
  } catch (err) {
    return { path: undefined, reason: `Prometheus: ${err?.message ?? err}` };
  }
}

/** A free loopback TCP port: bind port 0, read the port the kernel chose, release it. */
/** Re-exported for the tests' typed access (test/support/collector.ts). */
export { freePort };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits for a child to exit (at once if it has). */
function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

/**
 * Polls until the child has said it is ready (`said()`) and `url` answers 200, the child exits,
 * or the deadline passes.
 */
async function waitReady(child, url, said, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    if (!said()) {
      await sleep(50);
      continue;
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return true;
    } catch {
      // Not listening yet.
    }
    await sleep(50);
  }
  return false;
}

/**
 * Starts a process and waits until it prints `readyLine` and `readyUrl` answers 200. The handle
 * can `stop()` it (SIGTERM, waiting for its exit: a collector drains its pipelines first),
 * `kill()` it (SIGKILL) and `restart()` it with the same arguments. Its output is kept (the last
 * 64 KiB) in `log()`. A failed start throws; the error has `addressInUse: true` when the process
 * could not bind a port.
 */
async function startProcess(
  label,
  binary,
  args,
  { env, cwd, readyUrl, readyLine, timeoutMs = 60_000 },
) {
  let child;
  let log = '';
  const launch = async () => {
    // This launch's own output: after a restart, the log still holds the previous process's
    // ready line (and maybe its bind error).
    let mine = '';
    let said = false;
    child = spawn(binary, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const capture = (chunk) => {
      log = (log + chunk.toString()).slice(-65_536);
      mine = (mine + chunk.toString()).slice(-65_536);
      if (!said && readyLine.test(mine)) said = true;
    };
    child.stdout.on('data', capture);
    child.stderr.on('data', capture);
    if (await waitReady(child, readyUrl, () => said, timeoutMs)) return;
    child.kill('SIGKILL');
    await exited(child);
    const error = new Error(`${label} did not become ready at ${readyUrl}:\n${log.slice(-4000)}`);
    error.addressInUse = ADDRESS_IN_USE.test(mine);
    throw error;
  };
  await launch();
  const onExit = () => child?.kill('SIGKILL');
  process.once('exit', onExit);
  const signal = async (sig) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    await exited(child);
  };
  return {
    get pid() {
      return child.pid;
    },
    log: () => log,
    /** Graceful stop (SIGTERM); resolves when the process has exited. Idempotent. */
    async stop() {
      await signal('SIGTERM');
      process.removeListener('exit', onExit);
    },
    /** Crash (SIGKILL). */
    async kill() {
      await signal('SIGKILL');
    },
    /** Stop gracefully (if running) and start again with the same arguments. */
    async restart() {
      await signal('SIGTERM');
      await launch();
      process.removeListener('exit', onExit);
      process.once('exit', onExit);
    },
  };
}

/**
 * Starts the collector with `configs` (files merged in order, later ones win) and `env` (the
 * configs read their ports and paths from `${env:...}`); resolves when it has logged that every
 * component started and its health_check extension at `healthUrl` answers.
 * @param {{ binary: string, configs: string[], env?: Record<string, string>, healthUrl: string,
 *   cwd?: string, timeoutMs?: number }} options
 */
export function startCollector(options) {
  const args = options.configs.flatMap((c) => ['--config', c]);
  return startProcess('the collector', options.binary, args, {
    env: options.env,
    cwd: options.cwd,
    readyUrl: options.healthUrl,
    readyLine: /Everything is ready/,
    timeoutMs: options.timeoutMs,
  });
}

/**
 * Starts a private Prometheus on 127.0.0.1 and a free port with `config` (YAML text), its data
 * in a temp dir, the remote-write receiver on; resolves when `/-/ready` answers. The handle has
 * `url` and `stop()` (which also removes the data). `dataDir` starts it on existing TSDB blocks
 * instead (e.g. written by `promtool tsdb create-blocks-from`); that directory is left in place.
 * @param {{ binary: string, config: string, port?: number, args?: string[], dataDir?: string }} options
 */
export function startPrometheus(options) {
  // A port it chose can be taken before Prometheus binds it: then it tries again with another.
  const start = async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanledger-prometheus-'));
    writeFileSync(join(dir, 'prometheus.yml'), options.config);
    const port = options.port ?? (await freePort());
    const url = `http://127.0.0.1:${port}`;
    let handle;
    try {
      handle = await startProcess(
        'Prometheus',
        options.binary,
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${options.dataDir ?? join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--web.enable-remote-write-receiver',
          ...(options.args ?? []),
        ],
        { cwd: dir, readyUrl: `${url}/-/ready`, readyLine: /Server is ready to receive/ },
      );
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return {
      url,
      port,
      log: handle.log,
      async stop() {
        await handle.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
  return options.port === undefined ? onFreePorts(start) : start();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const collector = ensureCollector();
  const prometheus = ensurePrometheus();
  console.log(`collector: ${collector.path ?? `unavailable (${collector.reason})`}`);
  console.log(`prometheus: ${prometheus.path ?? `unavailable (${prometheus.reason})`}`);
  if (prometheus.promtool) console.log(`promtool: ${prometheus.promtool}`);
  process.exit(collector.path && prometheus.path ? 0 : 1);
}
