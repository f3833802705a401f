/**
 * Typed access to `scripts/redis.mjs` for the integration tests (the script is plain JS so that
 * CI and benchmarks can run it without a TypeScript loader).
 */

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
