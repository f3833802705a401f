/**
 * Typed access to `scripts/collector.mjs` (plain JS so that scripts and benchmarks run it without
 * a TypeScript loader): the collector distribution and Prometheus 3, built once and cached
 * outside the clone, and helpers to start them on loopback.
 */
import { isCI } from './tools.js';

/** What an `ensure*` call gives: the binary, or why there is none. */
export type Provisioned =
  | { path: string; reason?: undefined; promtool?: string }
  | { path: undefined; reason: string };

/** A started process (collector or Prometheus). */
export interface Started {
  readonly pid: number | undefined;
  /** The last 64 KiB of its output. */
  log(): string;
  /** SIGTERM, then wait for the exit (a collector drains its pipelines first). */
  stop(): Promise<void>;
  /** SIGKILL. */
  kill(): Promise<void>;
  /** Stop gracefully, start again with the same arguments, wait until ready. */
  restart(): Promise<void>;
}

/** A started Prometheus. */
export interface StartedPrometheus {
  readonly url: string;
  readonly port: number;
  log(): string;
  stop(): Promise<void>;
}

interface CollectorScript {
  ROOT: string;
  MANIFEST: string;
  BUILDER_VERSION: string;
  PROMETHEUS_MODULE_VERSION: string;
  cacheDir(): string;
  manifestHash(manifest?: string): string;
  ensureCollector(manifest?: string): Provisioned;
  ensurePrometheus(): Provisioned;
  freePort(): Promise<number>;
  startCollector(options: {
    binary: string;
    configs: string[];
    env?: Record<string, string>;
    healthUrl: string;
    cwd?: string;
    timeoutMs?: number;
  }): Promise<Started>;
  startPrometheus(options: {
    binary: string;
    config: string;
    port?: number;
    args?: string[];
    /** Existing TSDB blocks to serve (left in place on stop). */
    dataDir?: string;
  }): Promise<StartedPrometheus>;
}

// A URL specifier keeps TypeScript from looking for declarations of the .mjs module.
const script = (await import(
  new URL('../../scripts/collector.mjs', import.meta.url).href
)) as CollectorScript;

export const {
  MANIFEST,
  BUILDER_VERSION,
  PROMETHEUS_MODULE_VERSION,
  cacheDir,
  manifestHash,
  ensureCollector,
  ensurePrometheus,
  freePort,
  startCollector,
  startPrometheus,
} = script;

/**
 * The binary `ensure` provides. Under CI=true a missing one throws (a failure, never a skip);
 * locally it returns undefined after a warning, and the caller skips.
 */
export function required(what: string, provisioned: Provisioned): string | undefined {
  if (provisioned.path !== undefined) return provisioned.path;
  const message = `${what} is not available: ${provisioned.reason}`;
  if (isCI) throw new Error(`${message} (CI=true: the collector tests cannot be skipped)`);
  console.warn(`${message}; the collector tests are skipped`);
  return undefined;
}
