#!/usr/bin/env node
/**
 * Real `redis-server` for the integration tests and benchmarks.
 *
 * - `ensureRedisServer()`: finds `redis-server` (PATH, then the Debian locations) and, when it is
 *   missing, installs Debian's package (`apt-get install -y redis-server`, with an
 *   `apt-get update` first if the package lists are missing or stale). Idempotent: a second call
 *   finds the binary. Under `CI=true` a missing binary or a failed install is an error, never a
 *   skip; locally it returns `undefined` with a warning so the tests that need Redis skip.
 * - `startRedis()`: starts a private, throw-away server on a free loopback port in a temp dir
 *   (no RDB, no AOF) and waits until it logs that it is ready and answers `PING`. The handle can
 *   `stop()` (SIGTERM), `kill()` (SIGKILL, to simulate a crash) and `restart()` it on the same
 *   port, so clients can reconnect.
 *
 * Command line: `node scripts/redis.mjs` provisions and prints the binary and its version.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.mjs';

const ci = /^(1|true|yes)$/i.test(process.env.CI ?? '');

/** Path of an executable `redis-server`, or undefined. */
export function findRedisServer() {
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/bin',
    '/usr/local/bin',
    '/usr/sbin',
  ];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** Runs apt-get (directly as root, else through passwordless sudo); true on success. */
function aptGet(args) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  // Wait for a concurrent apt/dpkg (another test run provisioning at the same time) rather than
  // failing on its lock.
  const full = ['-o', 'DPkg::Lock::Timeout=300', ...args];
  const [cmd, argv] = isRoot ? ['apt-get', full] : ['sudo', ['-n', 'apt-get', ...full]];
  console.error(`$ ${[cmd, ...argv].join(' ')}`);
  const r = spawnSync(cmd, argv, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.error) console.error(`cannot run ${cmd}: ${r.error.message}`);
  return r.status === 0;
}

/**
 * Finds or installs `redis-server`. Returns its path; locally returns undefined (with a warning)
 * when it cannot be installed; under CI=true throws instead.
 */
export function ensureRedisServer() {
  let path = findRedisServer();
  if (path) return path;
  const install = ['install', '-y', '--no-install-recommends', 'redis-server'];
  // A fresh container has no package lists: the first install fails, `update` then fixes it.
  if (!aptGet(install)) {
    if (aptGet(['update'])) aptGet(install);
  }
  path = findRedisServer();
  if (path) return path;
  const message = 'redis-server is not installed and `apt-get install -y redis-server` failed';
  if (ci) throw new Error(`${message} (CI=true: Redis tests cannot be skipped)`);
  console.warn(`${message}; tests that need Redis are skipped`);
  return undefined;
}

/** Re-exported for the tests' typed access (test/support/redis-cluster.ts). */
export { freePort };

/** One PING over a raw socket; resolves true on `+PONG`. */
function ping(port, timeoutMs = 500) {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let reply = '';
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for a child to exit (resolves at once if it already has). */
function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts a private redis-server on 127.0.0.1 and a free port; resolves when it has logged that it
 * is ready and answers PING.
 * @param {{ binary?: string, port?: number, startTimeoutMs?: number }} [options]
 * @returns {Promise<{ url: string, port: number, readonly pid: number | undefined,
 *   stop(): Promise<void>, kill(): Promise<void>, restart(): Promise<void> }>}
 */
export async function startRedis(options = {}) {
  const binary = options.binary ?? ensureRedisServer();
  if (!binary) throw new Error('redis-server is not available');
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const dir = mkdtempSync(join(tmpdir(), 'spanledger-redis-'));
  let port = options.port ?? (await freePort());
  let child;
  let log = '';

  const launch = async () => {
    log = '';
    mkdirSync(dir, { recursive: true });
    child = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--daemonize',
        'no',
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const capture = (chunk) => {
      log = (log + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', capture);
    child.stderr.on('data', capture);
    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) break;
      // Its own log first: another process that took the port may be a Redis that answers PING.
      if (/Ready to accept connections/.test(log) && (await ping(port))) return true;
      await sleep(20);
    }
    child.kill('SIGKILL');
    await exited(child);
    return false;
  };

  // The free port can be taken between probing and binding: retry on a new port (first start
  // only; a restart must keep its port so clients can reconnect).
  let started = false;
  for (let attempt = 0; attempt < 3 && !started; attempt++) {
    if (attempt > 0 && options.port === undefined) port = await freePort();
    started = await launch();
  }
  if (!started) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`redis-server did not answer PING on port ${port}:\n${log}`);
  }

  // Never leave a server behind when the test process exits.
  const onExit = () => child?.kill('SIGKILL');
  process.once('exit', onExit);

  const signal = async (sig) => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(sig);
    if (child) await exited(child);
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid;
    },
    /** Graceful stop (SIGTERM); removes the data dir. Idempotent. */
    async stop() {
      await signal('SIGTERM');
      process.removeListener('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
    },
    /** Crash (SIGKILL): clients see the connection drop without a goodbye. */
    async kill() {
      await signal('SIGKILL');
    },
    /** Starts the server again on the same port (after kill() or stop()); empty data. */
    async restart() {
      await signal('SIGKILL');
      if (!(await launch())) throw new Error(`redis-server did not restart on ${port}:\n${log}`);
    },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const path = ensureRedisServer();
  if (!path) process.exit(ci ? 1 : 0);
  const version = spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`${path}: ${version}`);
}
