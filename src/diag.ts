/**
 * Run-time problems are reported through the OTel diag logger once per kind, then only counted:
 * a hot path that logs every bad span would flood the host's logs. `snapshot()` exposes the
 * counts, and `summary()` logs them once at shutdown.
 */
import { diag } from '@opentelemetry/api';

/** Counts of run-time problems by kind (`internal_error`, `invalid_attribute`, ...). */
export type ProblemCounts = Record<string, number>;

/** Counts run-time problems by kind and logs the first of each kind once (see the module doc). */
export class Reporter {
  private readonly counts = new Map<string, number>();
  /** The total count at the last summary. */
  private summarised = 0;

  /** Count one occurrence; the first of each kind is logged with its detail. `kind` must come
   * from a fixed vocabulary (it keys a map); user data goes in `detail` only. */
  count(kind: string, detail?: string): void {
    const n = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, n);
    if (n === 1) {
      diag.warn(
        `spanledger: ${kind}${detail ? ` (${detail})` : ''}; further occurrences are counted, not logged`,
      );
    }
  }

  /** Current counts. */
  snapshot(): ProblemCounts {
    return Object.fromEntries(this.counts);
  }

  /** Log all counts (at shutdown); a second call with nothing counted since logs nothing (the
   * processor and the ledger that holds it both end with a summary). */
  summary(): void {
    let total = 0;
    for (const n of this.counts.values()) total += n;
    if (total === this.summarised) return;
    this.summarised = total;
    const parts = [...this.counts].map(([k, v]) => `${k}=${v}`).join(', ');
    diag.info(`spanledger: run-time problems counted: ${parts}`);
  }
}

const PROCESS_REPORTER = Symbol.for('spanledger.processReporter');

/**
 * The reporter of process-wide parts: instrumentations patch a module for the whole process, so
 * their problems belong to no one ledger, and every ledger's `stats()` includes them. Kept on
 * `globalThis` under a registered symbol: the ESM and CommonJS copies of the package share it.
 */
export function processReporter(): Reporter {
  const holder = globalThis as { [PROCESS_REPORTER]?: Reporter };
  holder[PROCESS_REPORTER] ??= new Reporter();
  return holder[PROCESS_REPORTER];
}

/** Problem counts of several reporters summed by kind (absent parts are skipped). */
export function mergeProblems(...parts: (ProblemCounts | undefined)[]): ProblemCounts {
  const out: ProblemCounts = {};
  for (const part of parts) {
    if (part === undefined) continue;
    for (const [kind, n] of Object.entries(part)) out[kind] = (out[kind] ?? 0) + n;
  }
  return out;
}
