/**
 * Typed access to `scripts/redis.mjs` for the integration tests (the script is plain JS so that
 * CI and benchmarks can run it without a TypeScript loader).
 */
import { connect, createServer, type Socket } from 'node:net';
import { createClient } from 'redis';

/** A private redis-server started by `startRedis()`. */
export interface RedisServer {
  url: string;
  port: number;
  readonly pid: number | undefined;
  /** SIGTERM, removes the data dir; idempotent. */
  stop(): Promise<void>;
  /** SIGKILL: a crash, as clients see it. */
  kill(): Promise<void>;
  /** Starts again on the same port, empty. */
  restart(): Promise<void>;
}

interface RedisScript {
  ensureRedisServer(): string | undefined;
  startRedis(options?: { binary?: string; port?: number }): Promise<RedisServer>;
}

// A URL specifier keeps TypeScript from looking for declarations of the .mjs module.
const script = (await import(
  new URL('../../scripts/redis.mjs', import.meta.url).href
)) as RedisScript;

/** Finds or installs redis-server (throws under CI=true; undefined locally if impossible). */
export const ensureRedisServer = (): string | undefined => script.ensureRedisServer();

/** Starts a private redis-server on a free loopback port. */
export const startRedis = (options?: { binary?: string }): Promise<RedisServer> =>
  script.startRedis(options);

/** Polls `check` every `everyMs` until it returns true; throws after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
  everyMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A raw node-redis client, for assertions on what Redis really holds. */
export type RawRedis = ReturnType<typeof createClient>;

/** A test file's Redis: the binary, a private server and a connected raw client. */
export interface TestRedis {
  binary: string;
  server: RedisServer;
  raw: RawRedis;
}

/** Provision redis-server, start a private one and connect a raw client to it (for a file's
 * `beforeAll`). Undefined when redis-server is unavailable (locally only: under CI=true
 * `ensureRedisServer` throws). */
export async function startTestRedis(): Promise<TestRedis | undefined> {
  const binary = ensureRedisServer();
  if (!binary) return undefined;
  const server = await startRedis({ binary });
  const raw = createClient({ url: server.url });
  raw.on('error', () => {});
  await raw.connect();
  return { binary, server, raw };
}

/** Close the raw client and stop the server (for `afterAll`); tolerates a failed start. */
export async function stopTestRedis(redis: Partial<TestRedis> | undefined): Promise<void> {
  await redis?.raw?.close();
  await redis?.server?.stop();
}

/** What a {@link FaultProxy} does with the bytes it carries. */
export type ProxyMode =
  /** Both directions pass. */
  | 'pass'
  /** Commands reach Redis, its replies are swallowed: a write lands, its caller never hears. */
  | 'drop-replies'
  /** Commands are swallowed before Redis: a write never lands, its caller never hears. */
  | 'blackhole';

/** A TCP proxy in front of a redis-server that loses bytes on demand (see {@link ProxyMode}). */
export interface FaultProxy {
  url: string;
  mode: ProxyMode;
  /** Destroys every open connection (both sides), as a network failure would. New connections
   * are accepted and proxied as before. */
  cut(): void;
  /** The open connections go silent for good (bytes dropped both ways, no reset: a peer gone
   * without a word); new connections are proxied as before. */
  freeze(): void;
  close(): Promise<void>;
}

/** Starts a {@link FaultProxy} on a free loopback port in front of `targetPort`. */
export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  const frozen = new WeakSet<Socket>();
  const proxy: FaultProxy = {
    url: '',
    mode: 'pass',
    cut() {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    freeze() {
      for (const s of sockets) frozen.add(s);
    },
    close: () =>
      new Promise<void>((resolve) => {
        proxy.cut();
        server.close(() => resolve());
      }),
  };
  const server = createServer((client) => {
    const upstream = connect({ port: targetPort, host: '127.0.0.1' });
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.on('data', (chunk: Buffer) => {
      if (proxy.mode !== 'blackhole' && !frozen.has(client)) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (proxy.mode === 'pass' && !frozen.has(client)) client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  proxy.url = `redis://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return proxy;
}

/** Calls per command from `INFO commandstats` (`eval`, `evalsha`, `script|load`, ...). */
export async function commandCalls(raw: RawRedis): Promise<Record<string, number>> {
  const info = await raw.info('commandstats');
  const calls: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls[m[1] as string] = Number(m[2]);
  }
  return calls;
}
