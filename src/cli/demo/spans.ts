/**
 * The demo's finished SDK spans as the report reads exported ones (src/cli/report/model.ts), so
 * the demo's tables come from the same model as `spanledger report`'s.
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { ReportSpan } from '../report/model.js';

const ns = (t: readonly [number, number]): bigint => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);

/** One finished span as a {@link ReportSpan}. */
export function toReportSpan(span: ReadableSpan): ReportSpan {
  const context = span.spanContext();
  const parent = span.parentSpanContext?.spanId;
  const resource = span.resource.attributes;
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    ...(parent === undefined ? {} : { parentSpanId: parent }),
    name: span.name,
    service: String(resource['service.name'] ?? 'unknown_service'),
    startTimeUnixNano: ns(span.startTime),
    endTimeUnixNano: ns(span.endTime),
    statusCode: span.status.code,
    attributes: span.attributes,
    events: span.events.map((e) => ({
      name: e.name,
      timeUnixNano: ns(e.time),
      attributes: e.attributes ?? {},
    })),
    resource,
  };
}
