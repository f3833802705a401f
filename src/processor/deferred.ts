/**
 * The cost processor and the exporting processors after it, with the cost accounting of ended
 * spans run in batches rather than one span at a time.
 *
 * Why: in an application, between two model calls the client, the HTTP stack and the exporters
 * run, and the processor's code and data are out of the CPU's caches by the next call. Measured
 * in the real app (docs/performance.md, "2026-12-01: the processor in the app"), the accounting
 * of a model-call span takes several times longer run once per call than run on a few dozen
 * spans in a row, and the cache misses it causes slow the rest of the application too.
 *
 * How: `onStart` runs the processor's (attribution, parent links) and then the downstream
 * processors' at once. At the span's end the processor only marks it; `onEnd` queues it. The
 * queue is drained, in the order the spans ended, when it holds `maxQueuedSpans`, after
 * `maxDelayMs`, before any read of what the processor counted (metrics collection, `stats()`),
 * and on `forceFlush` and `shutdown`: each span is accounted exactly as `onEnding` would (its
 * attributes written, its run rolled up, its metrics recorded), then handed to the downstream
 * processors' `onEnd`. No exporter after it sees a span before its cost is on it.
 *
 * What changes for the application: spans reach the exporting processors up to `maxDelayMs`
 * later. It is used only where that cannot be seen (src/node/start.ts): exporters built from the
 * environment, no budgets (a budget decision needs every cost accounted at once), and no
 * downstream processor with an `onEnding` of its own.
 */
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { CostProcessor } from './processor.js';

/** Options of {@link DeferredPipeline}. */
export interface DeferredPipelineOptions {
  /** The ledger's cost processor. */
  processor: CostProcessor;
  /** The processors after it (the exporters), in order. None may have `onEnding`. */
  downstream: readonly SpanProcessor[];
  /** Drain when this many ended spans wait. Default 256: the first model-call span of a batch
   * costs about ten times what the others do (its code and data are cold), so fewer, longer
   * batches pay it less often (docs/performance.md, "2026-12-01: where in a batch the time
   * goes"). */
  maxQueuedSpans?: number;
  /** Drain at most this long after a span ended. Default 500 (the batch span processor after
   * it waits up to 5000 by default). */
  maxDelayMs?: number;
}

/** See the module's comment. Never throws into the application. */
export class DeferredPipeline implements SpanProcessor {
  private readonly processor: CostProcessor;
  private readonly downstream: readonly SpanProcessor[];
  private readonly maxQueued: number;
  private readonly maxDelayMs: number;
  private queue: Span[] = [];
  private timer: NodeJS.Timeout | undefined;
  private draining = false;
  private stopped: Promise<void> | undefined;

  constructor(options: DeferredPipelineOptions) {
    this.processor = options.processor;
    this.downstream = options.downstream;
    this.maxQueued = options.maxQueuedSpans ?? 256;
    this.maxDelayMs = options.maxDelayMs ?? 500;
    if (!Number.isInteger(this.maxQueued) || this.maxQueued < 1) {
      throw new RangeError(
        `spanledger: maxQueuedSpans must be a positive integer, got ${this.maxQueued}`,
      );
    }
    if (!Number.isFinite(this.maxDelayMs) || this.maxDelayMs < 0) {
      throw new RangeError(
        `spanledger: maxDelayMs must be a finite number >= 0, got ${this.maxDelayMs}`,
      );
    }
    for (const p of this.downstream) {
      if (typeof (p as { onEnding?: unknown }).onEnding === 'function') {
        throw new TypeError(
          'spanledger: a DeferredPipeline cannot hold a processor with onEnding (it would see the span before its cost)',
        );
      }
    }
    this.processor.attachDeferral(() => this.drain());
  }

  onStart(span: Span, parentContext: Context): void {
    this.processor.onStart(span, parentContext);
    for (const p of this.downstream) {
      try {
        p.onStart(span, parentContext);
      } catch (e) {
        this.processor.countInternalError(e);
      }
    }
  }

  onEnding(span: Span): void {
    try {
      this.processor.defer(span);
    } catch (e) {
      this.processor.countInternalError(e);
    }
  }

  onEnd(span: ReadableSpan): void {
    if (this.stopped !== undefined) {
      // After shutdown: accounted and passed on at once, as a plain pipeline would.
      this.queue.push(span as Span);
      this.drain();
      return;
    }
    this.queue.push(span as Span);
    if (this.queue.length >= this.maxQueued) this.drain();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.drain(), this.maxDelayMs);
      this.timer.unref();
    }
  }

  /** Account for every queued span, in the order they ended, then pass them on. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      if (this.timer !== undefined) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
      // Spans that end while this drain runs (an exporter's own work) are taken by it too.
      while (this.queue.length > 0) {
        const spans = this.queue;
        this.queue = [];
        // All the accounting first, with the code warm, then the exports. A span whose
        // accounting failed (counted) is still passed on.
        for (const span of spans) {
          try {
            this.processor.accountDeferred(span);
          } catch (e) {
            this.processor.countInternalError(e);
          }
        }
        for (const span of spans) {
          for (const p of this.downstream) {
            try {
              p.onEnd(span);
            } catch (e) {
              this.processor.countInternalError(e);
            }
          }
        }
      }
    } catch (e) {
      this.processor.countInternalError(e);
    } finally {
      this.draining = false;
    }
  }

  /** Drain, then flush the downstream processors. Never rejects. */
  async forceFlush(): Promise<void> {
    this.drain();
    try {
      await Promise.all(this.downstream.map((p) => p.forceFlush()));
    } catch (e) {
      this.processor.countInternalError(e);
    }
  }

  /** Drain, shut the downstream processors down, then the cost processor (its budget engine,
   * its problem counts). Idempotent; never rejects. */
  shutdown(): Promise<void> {
    this.stopped ??= (async () => {
      this.drain();
      try {
        await Promise.all(this.downstream.map((p) => p.shutdown()));
      } catch (e) {
        this.processor.countInternalError(e);
      }
      await this.processor.shutdown();
    })();
    return this.stopped;
  }
}
