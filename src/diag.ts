/**
 * Run-time problems are reported through the OTel diag logger once per kind, then only counted:
 * a hot path that logs every bad span would flood the host's logs. `snapshot()` exposes the
 * counts, and `summary()` logs them once at shutdown.
 */
import { diag } from '@opentelemetry/api';

/** Counts of run-time problems by kind (`internal_error`, `invalid_attribute`, ...). */
export type ProblemCounts = Record<string, number>;

export class Reporter {
  private readonly counts = new Map<string, number>();

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

  /** Log all counts once (at shutdown). */
  summary(): void {
    if (this.counts.size === 0) return;
    const parts = [...this.counts].map(([k, v]) => `${k}=${v}`).join(', ');
    diag.info(`spanledger: run-time problems counted: ${parts}`);
  }
}
