/**
 * Reading exported spans for `spanledger report`, streaming: the collector's file exporter
 * output (OTLP JSON lines, one `ExportTraceServiceRequest` per line), gzipped or not (told by
 * the file's magic bytes, not its name), or one OTLP JSON document (what an OTLP JSON export or
 * `JSON.stringify` of a request writes, pretty-printed or not). See docs/report.md, "Input".
 *
 * A line or span that cannot be read is counted and skipped, never fatal: a file the collector
 * was still writing ends in a cut line, and one bad record must not hide the rest.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { HrTime } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { ReportSpan } from './model.js';

/** How many malformed lines or records are described (file, line, reason); the rest are only
 * counted. */
const EXAMPLES = 5;

/** What reading found besides spans: malformed input, counted with the first few places. */
export interface ReadStats {
  /** Lines (or documents) read. */
  lines: number;
  /** Spans yielded. */
  spans: number;
  /** Lines, documents or span records that could not be read. */
  malformed: number;
  /** The first few malformed places, for the message on stderr. */
  examples: { file: string; line: number; reason: string }[];
}

/** Options of {@link readSpans}. */
export interface ReadOptions {
  /** Only these traces are wanted (lower-case hex ids): the report's second pass. Other spans
   * may still be yielded; lines that cannot hold them are not parsed. */
  traceIds?: ReadonlySet<string>;
}

/** Fresh, empty read statistics. */
export function newReadStats(): ReadStats {
  return { lines: 0, spans: 0, malformed: 0, examples: [] };
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null;

/**
 * An OTLP JSON int64 as a bigint: the protobuf JSON mapping writes 64-bit integers as strings,
 * but some writers emit numbers (exact only up to 2^53, which nanosecond timestamps exceed) and
 * older `@opentelemetry/otlp-transformer` versions emitted `{ low, high }` pairs.
 */
export function int64(v: unknown): bigint | undefined {
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.trunc(v));
  if (isObject(v) && typeof v.low === 'number' && typeof v.high === 'number') {
    return (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  }
  return undefined;
}

/** An OTLP `AnyValue` as a plain value: arrays and key-value lists recursively, `intValue`
 * as a number (a string past 2^53 would lose digits: it stays a bigint-sized string). */
export function anyValue(v: unknown): unknown {
  if (!isObject(v)) return undefined;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('doubleValue' in v)
    return typeof v.doubleValue === 'string' ? Number(v.doubleValue) : v.doubleValue;
  if ('intValue' in v) {
    const n = int64(v.intValue);
    if (n === undefined) return undefined;
    return n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(n)
      : n.toString();
  }
  if ('arrayValue' in v) {
    const values = isObject(v.arrayValue) ? v.arrayValue.values : undefined;
    return Array.isArray(values) ? values.map(anyValue) : [];
  }
  if ('kvlistValue' in v) {
    return attributes(isObject(v.kvlistValue) ? v.kvlistValue.values : undefined);
  }
  if ('bytesValue' in v) return v.bytesValue;
  return undefined;
}

/** OTLP `KeyValue[]` as a record. */
export function attributes(list: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list) {
    if (isObject(kv) && typeof kv.key === 'string') out[kv.key] = anyValue(kv.value);
  }
  return out;
}

/** A trace or span id: OTLP JSON writes hex; lower-cased so ids from different writers match. */
function id(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v.toLowerCase() : undefined;
}

/** OTLP status code: a number, or its enum name in the protobuf JSON mapping. */
function statusCode(status: unknown): number {
  if (!isObject(status)) return 0;
  const c = status.code;
  if (typeof c === 'number') return c;
  if (c === 'STATUS_CODE_ERROR') return 2;
  if (c === 'STATUS_CODE_OK') return 1;
  return 0;
}

/** One malformed place. */
type Malformed = (reason: string) => void;

/** The spans of one `ExportTraceServiceRequest`, calling `bad` for each record it skips. */
export function* spansOfRequest(request: unknown, bad: Malformed): Generator<ReportSpan> {
  if (!isObject(request) || !Array.isArray(request.resourceSpans)) {
    bad('not an OTLP traces request (no resourceSpans)');
    return;
  }
  for (const rs of request.resourceSpans) {
    if (!isObject(rs)) {
      bad('resourceSpans entry is not an object');
      continue;
    }
    const resource = attributes(isObject(rs.resource) ? rs.resource.attributes : undefined);
    const service = typeof resource['service.name'] === 'string' ? resource['service.name'] : '';
    // `instrumentationLibrarySpans` is the pre-1.0 name of `scopeSpans`.
    const scopes = rs.scopeSpans ?? rs.instrumentationLibrarySpans;
    if (!Array.isArray(scopes)) continue;
    for (const ss of scopes) {
      const spans = isObject(ss) ? ss.spans : undefined;
      if (!Array.isArray(spans)) continue;
      for (const s of spans) {
        const span = toReportSpan(s, resource, service);
        if (typeof span === 'string') bad(span);
        else yield span;
      }
    }
  }
}

/** A span record as a `ReportSpan`, or why it cannot be one. */
function toReportSpan(
  s: unknown,
  resource: Record<string, unknown>,
  service: string,
): ReportSpan | string {
  if (!isObject(s)) return 'span is not an object';
  const traceId = id(s.traceId);
  const spanId = id(s.spanId);
  if (traceId === undefined || spanId === undefined) return 'span without traceId or spanId';
  const start = int64(s.startTimeUnixNano);
  const end = int64(s.endTimeUnixNano) ?? start;
  if (start === undefined || end === undefined) return `span ${spanId}: no startTimeUnixNano`;
  const events: ReportSpan['events'][number][] = [];
  if (Array.isArray(s.events)) {
    for (const e of s.events) {
      if (!isObject(e) || typeof e.name !== 'string') continue;
      events.push({
        name: e.name,
        timeUnixNano: int64(e.timeUnixNano) ?? start,
        attributes: attributes(e.attributes),
      });
    }
  }
  return {
    traceId,
    spanId,
    parentSpanId: id(s.parentSpanId),
    name: typeof s.name === 'string' ? s.name : '',
    service,
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    statusCode: statusCode(s.status),
    attributes: attributes(s.attributes),
    events,
    resource,
  };
}

/** The first bytes of a file (fewer when it is shorter). */
async function head(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The file's text stream, gunzipped when it starts with gzip's magic bytes (1f 8b). */
async function textStream(path: string): Promise<Readable> {
  const magic = await head(path, 2);
  const raw = createReadStream(path);
  if (magic.length === 2 && magic[0] === 0x1f && magic[1] === 0x8b) {
    const gunzip = createGunzip();
    raw.on('error', (e) => gunzip.destroy(e));
    return raw.pipe(gunzip);
  }
  return raw;
}

/**
 * The spans of the files, in file order, streaming. A file is read as JSON lines; when its
 * first line is not JSON on its own but the file starts with `{` or `[`, the file is one JSON
 * document (pretty-printed), parsed whole: the one case held in memory (docs/report.md). A
 * document may be a request or an array of requests. Throws only when a file cannot be opened
 * or read (missing, unreadable, a corrupt gzip stream); malformed content goes to `stats`.
 */
export async function* readSpans(
  paths: readonly string[],
  stats: ReadStats,
  options: ReadOptions = {},
): AsyncGenerator<ReportSpan> {
  const ids = options.traceIds === undefined ? undefined : [...options.traceIds];
  // A line that names none of the wanted traces is skipped without parsing it (OTLP JSON
  // writes ids in hex, in either case).
  const wanted =
    ids === undefined
      ? undefined
      : (line: string): boolean =>
          ids.some((id) => line.includes(id) || line.includes(id.toUpperCase()));
  for (const path of paths) {
    const input = await textStream(path);
    const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    let lineNo = 0;
    let contentLines = 0;
    let document: string[] | undefined;
    const bad =
      (line: number): Malformed =>
      (reason) => {
        stats.malformed++;
        if (stats.examples.length < EXAMPLES) stats.examples.push({ file: path, line, reason });
      };
    for await (const line of lines) {
      lineNo++;
      if (document !== undefined) {
        document.push(line);
        continue;
      }
      const text = line.trim();
      if (text === '') continue;
      contentLines++;
      if (wanted !== undefined && contentLines > 1 && !wanted(text)) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        if (contentLines === 1 && /^[{[]/.test(text)) {
          // Not a line of JSON lines: the start of one pretty-printed document.
          document = [line];
          continue;
        }
        stats.lines++;
        bad(lineNo)('not JSON (cut or corrupt line)');
        continue;
      }
      stats.lines++;
      for (const req of Array.isArray(parsed) ? parsed : [parsed]) {
        for (const span of spansOfRequest(req, bad(lineNo))) {
          stats.spans++;
          yield span;
        }
      }
    }
    if (document !== undefined) {
      stats.lines++;
      let parsed: unknown;
      try {
        parsed = JSON.parse(document.join('\n'));
      } catch (e) {
        bad(1)(`not JSON lines and not one JSON document (${(e as Error).message})`);
        continue;
      }
      for (const req of Array.isArray(parsed) ? parsed : [parsed]) {
        for (const span of spansOfRequest(req, bad(1))) {
          stats.spans++;
          yield span;
        }
      }
    }
  }
}

const hrToNs = (t: HrTime): bigint => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);

/** An SDK span as the report reads it (what `spanledger demo` reports from memory): the same
 * fields an OTLP export of it carries. */
export function reportSpanOf(span: ReadableSpan): ReportSpan {
  const ctx = span.spanContext();
  const resource = { ...span.resource.attributes };
  const service = resource['service.name'];
  const parent = span.parentSpanContext?.spanId;
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    ...(parent === undefined ? {} : { parentSpanId: parent }),
    name: span.name,
    service: typeof service === 'string' ? service : '',
    startTimeUnixNano: hrToNs(span.startTime),
    endTimeUnixNano: hrToNs(span.endTime),
    statusCode: span.status.code,
    attributes: { ...span.attributes },
    events: span.events.map((e) => ({
      name: e.name,
      timeUnixNano: hrToNs(e.time),
      attributes: { ...(e.attributes ?? {}) },
    })),
    resource,
  };
}
