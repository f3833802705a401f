/** An OTLP attribute value, decoded. */
export type Value = string | number | boolean | Value[] | undefined;

/** OTLP JSON attributes (`[{ key, value: AnyValue }]`) as a plain object of decoded values. */
export function attrs(
  list: readonly { key: string; value: unknown }[] | undefined,
): Record<string, Value>;

/** One exported span. */
export interface ReceivedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  scope: string;
  attributes: Record<string, Value>;
  resource: Record<string, Value>;
  events: { name: string; attributes: Record<string, Value> }[];
}

/** One exported metric data point (sums and gauges: `value`; histograms: `sum` and `count`). */
export interface ReceivedPoint {
  metric: string;
  attributes: Record<string, Value>;
  resource: Record<string, Value>;
  value?: number;
  sum?: number;
  count?: number;
}

/** The receiver: collected telemetry and its endpoint. */
export interface OtlpReceiver {
  readonly endpoint: string;
  readonly spans: ReceivedSpan[];
  /** The last point of each series (exports are cumulative). */
  readonly points: ReceivedPoint[];
  /** Sum over a metric's series (histograms: their sums), optionally filtered by attributes. */
  total(metric: string, where?: (attributes: Record<string, Value>) => boolean): number;
  close(): Promise<void>;
}

/** Start a receiver on 127.0.0.1 (port 0: a free one). */
export function startOtlpReceiver(port?: number): Promise<OtlpReceiver>;
