/**
 * Pieces the benchmarks share: which build to load, numeric knobs, machine facts, statistics
 * and a no-op exporter (so exporting costs nothing but the SDK's own bookkeeping).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import jstat from 'jstat';

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

/** The ten attributes of scenario (a): an HTTP server span with no key spanledger reads. */
export const HTTP_ATTRS = {
  'http.request.method': 'GET',
  'url.path': '/api/v1/orders/12345',
  'url.scheme': 'https',
  'server.address': 'api.example.com',
  'server.port': 443,
  'http.route': '/api/v1/orders/:id',
  'http.response.status_code': 200,
  'network.protocol.version': '1.1',
  'user_agent.original': 'Mozilla/5.0 (X11; Linux x86_64)',
  'client.address': '10.0.0.17',
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

/**
 * The mean of a list of numbers with its 95 % interval (Student's t on the standard error), and
 * whether the interval lies under a bound: `met` when all of it is at or below `atMost`,
 * `not met` when all of it is above, else `undecided` (too few or too scattered figures to say).
 * For targets measured over rounds that differ by more than the effect itself.
 */
export function meanVerdict(xs, atMost) {
  const n = xs.length;
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  const half =
    n < 2
      ? Number.POSITIVE_INFINITY
      : jstat.jStat.studentt.inv(0.975, n - 1) *
        Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1) / n);
  const lo = mean - half;
  const hi = mean + half;
  const verdict = hi <= atMost ? 'met' : lo > atMost ? 'not met' : 'undecided';
  return { mean, lo, hi, verdict };
}

/**
 * The geometric mean of ratios with its 95 % interval (Student's t on their logarithms), and a
 * verdict against a floor: `met` only when the whole interval is at or above `atLeast`, `not
 * met` when all of it is below. For throughput ratios of processes that differ by up to a third
 * (the compilers' choices differ from one process to the next), where a median or a minimum of
 * five cannot tell 0.92 from 0.97 (docs/performance.md, "2026-12-02: two runs in the fair
 * order, and (a) again").
 */
export function ratioInterval(ratios, atLeast) {
  // A ratio at least `atLeast` is a negated logarithm at most -log(atLeast): meanVerdict's form.
  const r = meanVerdict(
    ratios.map((x) => -Math.log(x)),
    -Math.log(atLeast),
  );
  return { mean: Math.exp(-r.mean), lo: Math.exp(-r.hi), hi: Math.exp(-r.lo), verdict: r.verdict };
}

/**
 * The orders of the turns of one round: a random permutation of `items` per turn (a PRNG seeded
 * by the round, so a run can be repeated), never starting with the item that ended the turn
 * before. Why: a process that runs two turns back to back finds its code and data still in the
 * core's caches; with the order reversed turn by turn, the variants at either end did so every
 * other turn and came out faster than the others (docs/performance.md, "2026-12-01: one
 * record per span, and the order of the turns"). Here every variant follows each other variant, and itself never, alike on average.
 */
export function turnOrders(items, round) {
  let state = (round + 1) * 0x9e3779b9;
  // mulberry32: small, fast, and good enough for shuffling a handful of variants.
  const random = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let last;
  return () => {
    let order;
    do {
      order = [...items];
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
    } while (order.length > 1 && order[0] === last);
    last = order[order.length - 1];
    return order;
  };
}
