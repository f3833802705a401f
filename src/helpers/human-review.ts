/** `traceHumanReview`: human-in-the-loop review time, priced at an hourly rate. */
import { SpanKind } from '@opentelemetry/api';
import * as A from '../semconv.js';
import { amount, type HelperOptions, spanHelper, text } from './run.js';

/** Options of {@link traceHumanReview}. */
export interface HumanReviewOptions extends HelperOptions {
  /** Minutes of review to charge. Default: the span's measured duration. */
  minutes?: number;
  /** The reviewer's role, for a role's rate (`humanReview.roles` in the prices file). */
  role?: string;
}

/**
 * `traceHumanReview(name, options, fn)`: run `fn` as human review, span `human_review {name}`
 * with category `human_review`, priced at the prices file's `humanReview` rate per hour (the
 * role's rate when it has one) for `minutes`, or for the time `fn` took (wall clock: the span's
 * own start and end). Active while `fn` runs. Returns what `fn` returns; errors are recorded on
 * the span and rethrown.
 */
export const traceHumanReview = spanHelper<HumanReviewOptions>(
  'traceHumanReview',
  'name',
  { minutes: amount, role: text },
  (name, o) => {
    const startMs = Date.now();
    return {
      name: `human_review ${name}`,
      kind: SpanKind.INTERNAL,
      // The category from the start, so work done inside the review inherits it.
      attributes: {
        [A.ATTR_CATEGORY]: 'human_review',
        ...(o.minutes !== undefined ? { [A.ATTR_HUMAN_REVIEW_MINUTES]: o.minutes } : {}),
        ...(o.role !== undefined ? { [A.ATTR_HUMAN_REVIEW_ROLE]: o.role } : {}),
      },
      // Measured minutes and the span's duration come from the same two instants.
      startTime: startMs,
      beforeEnd: (span) => {
        const endMs = Math.max(Date.now(), startMs);
        if (o.minutes === undefined) {
          span.setAttribute(A.ATTR_HUMAN_REVIEW_MINUTES, (endMs - startMs) / 60_000);
        }
        return endMs;
      },
    };
  },
);
