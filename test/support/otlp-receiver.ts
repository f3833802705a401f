/**
 * A minimal OTLP/HTTP JSON receiver on loopback (port 0) for tests of exported telemetry: it
 * accepts `/v1/traces`, `/v1/metrics` and `/v1/logs` (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`)
 * and keeps spans and metric data points, with their attributes decoded to plain values.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An OTLP attribute value, decoded. */
export type Value = string | number | boolean | Value[] | undefined;

interface OtlpAnyValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpAnyValue[] };
}
interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

function decode(v: OtlpAnyValue | undefined): Value {
  if (v === undefined) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(decode);
  return undefined;
}

function attrs(list: OtlpKeyValue[] | undefined): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const kv of list ?? []) out[kv.key] = decode(kv.value);
  return out;
}

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

/** One exported metric data point (sums: `value`; histograms: `sum` and `count`). */
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
  readonly points: ReceivedPoint[];
  /** Sum of a counter's points (all exports are cumulative: only each series' last point). */
  total(metric: string, where?: (attributes: Record<string, Value>) => boolean): number;
  close(): Promise<void>;
}

interface OtlpDataPoint {
  attributes?: OtlpKeyValue[];
  asDouble?: number;
  asInt?: number | string;
  sum?: number;
  count?: number | string;
}

/** Start a receiver on 127.0.0.1, port 0. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  // Cumulative temporality: each export repeats every series; keep the last point per series.
  const latest = new Map<string, ReceivedPoint>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
        if (req.url === '/v1/traces') {
          for (const rs of body.resourceSpans ?? []) {
            const resource = attrs(rs.resource?.attributes);
            for (const ss of rs.scopeSpans ?? []) {
              for (const s of ss.spans ?? []) {
                spans.push({
                  name: s.name,
                  traceId: s.traceId,
                  spanId: s.spanId,
                  parentSpanId: s.parentSpanId ?? '',
                  scope: ss.scope?.name ?? '',
                  attributes: attrs(s.attributes),
                  resource,
                  events: (s.events ?? []).map(
                    (e: { name: string; attributes?: OtlpKeyValue[] }) => ({
                      name: e.name,
                      attributes: attrs(e.attributes),
                    }),
                  ),
                });
              }
            }
          }
        } else if (req.url === '/v1/metrics') {
          for (const rm of body.resourceMetrics ?? []) {
            const resource = attrs(rm.resource?.attributes);
            for (const sm of rm.scopeMetrics ?? []) {
              for (const m of sm.metrics ?? []) {
                const data: OtlpDataPoint[] =
                  m.sum?.dataPoints ?? m.gauge?.dataPoints ?? m.histogram?.dataPoints ?? [];
                for (const p of data) {
                  const point: ReceivedPoint = {
                    metric: m.name,
                    attributes: attrs(p.attributes),
                    resource,
                  };
                  if (p.asDouble !== undefined) point.value = p.asDouble;
                  if (p.asInt !== undefined) point.value = Number(p.asInt);
                  if (p.sum !== undefined) point.sum = p.sum;
                  if (p.count !== undefined) point.count = Number(p.count);
                  const series = JSON.stringify([m.name, resource, point.attributes]);
                  latest.set(series, point);
                }
              }
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    get points() {
      return [...latest.values()];
    },
    total(metric, where) {
      let sum = 0;
      for (const p of latest.values()) {
        if (p.metric === metric && (where === undefined || where(p.attributes))) {
          sum += p.value ?? p.sum ?? 0;
        }
      }
      return sum;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
