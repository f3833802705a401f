/**
 * Reading what the collector wrote and what Prometheus stored: the file exporter's OTLP JSON
 * lines, the Prometheus HTTP API, and a collector's own telemetry (Prometheus text format).
 */
import { existsSync, readFileSync } from 'node:fs';
import { attrs, type Value } from '../../../examples/support-agent/otlp-sink.mjs';

export type { Value } from '../../../examples/support-agent/otlp-sink.mjs';

/** OTLP JSON attributes. */
type KeyValues = { key: string; value: unknown }[] | undefined;

/** One span of a trace file. */
export interface FileSpan {
  traceId: string;
  spanId: string;
  name: string;
  /** 0 unset, 1 ok, 2 error. */
  status: number;
  attributes: Record<string, Value>;
  resource: Record<string, Value>;
  events: { name: string; attributes: Record<string, Value> }[];
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  name: string;
  status?: { code?: number };
  attributes?: KeyValues;
  events?: { name: string; attributes?: KeyValues }[];
}
interface TracesRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValues };
    scopeSpans?: { spans?: OtlpSpan[] }[];
  }[];
}

/** The spans of OTLP JSON traces requests. */
export function spansOf(request: TracesRequest): FileSpan[] {
  const out: FileSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = attrs(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId.toLowerCase(),
          spanId: s.spanId.toLowerCase(),
          name: s.name,
          status: s.status?.code ?? 0,
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
  return out;
}

/** The spans of the file exporter's output (one OTLP JSON request per line); [] before the
 * file exists. */
export function readTraceFile(path: string): FileSpan[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => spansOf(JSON.parse(l) as TracesRequest));
}

/** One series of a Prometheus instant query. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** An instant query against the Prometheus HTTP API. */
export async function promQuery(url: string, query: string): Promise<Sample[]> {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`${query}: ${body.error}`);
  return (body.data?.result ?? []).map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
}

/** `sum by (label) (...)` results as a map from the label's value (`''` when absent). */
export function byLabel(samples: Sample[], label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) out.set(s.labels[label] ?? '', s.value);
  return out;
}

/** The sum of a metric's series in a Prometheus text exposition (a collector's own telemetry)
 * whose labels include `labels`. */
export async function telemetrySum(
  port: number,
  metric: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (m === null || m[1] !== metric) continue;
    const set = m[3] ?? '';
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) {
      sum += Number(m[4]);
    }
  }
  return sum;
}

/** Polls `check` (every 100 ms) until it returns true; fails with `what` and the last value
 * `describe` gives after `timeoutMs`. */
export async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  describe: () => Promise<string> | string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // Not reachable yet: try again.
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${await describe()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
