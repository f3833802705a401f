/**
 * The OTLP/HTTP JSON receiver of the support-agent example, shared by the tests that read what
 * a process exported (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`).
 */
export {
  type OtlpReceiver,
  type ReceivedPoint,
  type ReceivedSpan,
  startOtlpReceiver,
  type Value,
} from '../../examples/support-agent/otlp-sink.mjs';
