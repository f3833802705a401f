/**
 * Typed access to `scripts/redis.mjs` for the integration tests (the script is plain JS so that
 * CI and benchmarks can run it without a TypeScript loader).
 */
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
