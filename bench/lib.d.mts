// Types of bench/lib.mjs, for the tests that import it (test/integration/bench-lib.test.ts).

/** The built package to measure: `BENCH_DIST` (path or URL) or this checkout's `dist/`. */
export declare const distUrl: string;
/** A positive numeric knob from the environment. */
export declare function num(name: string, dflt: number): number;
/** The ten attributes of scenario (a): an HTTP server span with no key spanledger reads. */
export declare const HTTP_ATTRS: Readonly<Record<string, string | number>>;
/** An exporter that accepts everything at once. */
export declare const noopExporter: {
  export(spans: unknown[], resultCallback: (result: { code: number }) => void): void;
  shutdown(): Promise<void>;
  forceFlush(): Promise<void>;
};
/** The CPU model, from /proc/cpuinfo where available. */
export declare function cpuModel(): string;
/** The 1, 5 and 15 minute load averages, rounded. */
export declare function loadAvg(): number[];
/** Median of a list of numbers. */
export declare function median(xs: readonly number[]): number;
/** The mean with its 95 % interval (Student's t), and where that interval lies against
 * `atMost`. */
export declare function meanVerdict(
  xs: readonly number[],
  atMost: number,
): { mean: number; lo: number; hi: number; verdict: 'met' | 'not met' | 'undecided' };
/** The geometric mean of ratios with its 95 % interval (Student's t on their logarithms), and
 * where that interval lies against `atLeast`. */
export declare function ratioInterval(
  ratios: readonly number[],
  atLeast: number,
): { mean: number; lo: number; hi: number; verdict: 'met' | 'not met' | 'undecided' };
/** The orders of the turns of one round of `bench:overhead`: each call returns a new random
 * permutation of `items` (seeded by `round`) that never starts with the item the previous one
 * ended with. */
export declare function turnOrders<T>(items: readonly T[], round: number): () => T[];
