/**
 * Pieces the benchmarks share: which build to load, numeric knobs, machine facts, statistics
 * and a no-op exporter (so exporting costs nothing but the SDK's own bookkeeping).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** The built package to measure: `BENCH_DIST` (path or URL) or this checkout's `dist/`. */
export const distUrl = process.env.BENCH_DIST
  ? new URL(process.env.BENCH_DIST, `file://${process.cwd()}/`).href
  : new URL('../dist/index.js', import.meta.url).href;

/** A positive numeric knob from the environment. */
export const num = (name, dflt) => {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
};

/** An exporter that accepts everything at once. */
export const noopExporter = {
  export(_spans, resultCallback) {
    resultCallback({ code: 0 });
  },
  shutdown: () => Promise.resolve(),
  forceFlush: () => Promise.resolve(),
};

/** The CPU model, from /proc/cpuinfo where available. */
export function cpuModel() {
  try {
    const m = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m);
    if (m) return m[1].trim();
  } catch {}
  return os.cpus()[0]?.model ?? 'unknown';
}

/** The 1, 5 and 15 minute load averages, rounded. */
export const loadAvg = () => os.loadavg().map((x) => Number(x.toFixed(2)));

/** Median of a list of numbers. */
export const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
