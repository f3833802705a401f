/**
 * A minimal OTLP/HTTP JSON receiver on loopback (port 0) for tests of exported telemetry: it
 * accepts `/v1/traces`, `/v1/metrics` and `/v1/logs` (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`)
 * and keeps spans and metric data points, with their attributes decoded to plain values. The
 * example uses it as a stand-in for a collector; the tests use it to read what was exported.
 * Types: otlp-sink.d.mts.
 */
import { createServer } from 'node:http';

function decode(v) {
  if (v === undefined) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(decode);
  return undefined;
}

/** OTLP JSON attributes (`[{ key, value: AnyValue }]`) as a plain object of decoded values. */
export function attrs(list) {
  const out = {};
  for (const kv of list ?? []) out[kv.key] = decode(kv.value);
  return out;
}

/** Start a receiver on 127.0.0.1 (port 0: a free one). */
export async function startOtlpReceiver(port = 0) {
  const spans = [];
  // Cumulative temporality: each export repeats every series; keep the last point per series.
  const latest = new Map();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
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
                  events: (s.events ?? []).map((e) => ({
                    name: e.name,
                    attributes: attrs(e.attributes),
                  })),
                });
              }
            }
          }
        } else if (req.url === '/v1/metrics') {
          for (const rm of body.resourceMetrics ?? []) {
            const resource = attrs(rm.resource?.attributes);
            for (const sm of rm.scopeMetrics ?? []) {
              for (const m of sm.metrics ?? []) {
                const data =
                  m.sum?.dataPoints ?? m.gauge?.dataPoints ?? m.histogram?.dataPoints ?? [];
                for (const p of data) {
                  const point = {
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
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
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
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
