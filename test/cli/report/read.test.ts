/** The report's reader: OTLP JSON lines (gzipped by magic bytes or not), one OTLP JSON
 * document, malformed lines counted with their places, AnyValue and int64 decoding. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type { ReportSpan } from '../../../src/cli/report/model.js';
import { anyValue, int64, newReadStats, readSpans } from '../../../src/cli/report/read.js';

const fixture = (name: string): string =>
  fileURLToPath(new URL(`../../fixtures/report/${name}`, import.meta.url));
const SPANS = fixture('spans.jsonl');
const DOCUMENT = fixture('export.json');
const dir = mkdtempSync(join(tmpdir(), 'spanledger-report-read-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function read(...paths: string[]) {
  const stats = newReadStats();
  const spans: ReportSpan[] = [];
  for await (const s of readSpans(paths, stats)) spans.push(s);
  return { spans, stats };
}

describe('readSpans', () => {
  it('reads OTLP JSON lines, counting the malformed lines and records with their line numbers', async () => {
    const { spans, stats } = await read(SPANS);
    expect(spans.map((s) => s.spanId)).toEqual([
      'a000000000000002',
      'a000000000000003',
      'a000000000000001',
      'b000000000000002',
      'c000000000000001',
      'c000000000000002',
      'c000000000000003',
    ]);
    expect(stats.malformed).toBe(4);
    expect(stats.examples.map((e) => [e.line, e.reason])).toEqual([
      [2, 'not JSON (cut or corrupt line)'],
      [3, 'not JSON (cut or corrupt line)'],
      [4, 'not an OTLP traces request (no resourceSpans)'],
      [5, 'span without traceId or spanId'],
    ]);
  });

  it('decodes int64 strings and numbers, AnyValue arrays, status names and the resource service.name', async () => {
    const { spans } = await read(SPANS);
    const chat = spans[0] as ReportSpan;
    // This span's times are JSON numbers, the next one's strings: the same instants either way.
    expect(chat.startTimeUnixNano).toBe(1748772000_000000000n);
    expect(chat.endTimeUnixNano - chat.startTimeUnixNano).toBe(300_000_000n);
    expect(spans[1]?.startTimeUnixNano).toBe(1748772001_000000000n);
    expect(chat.attributes['gen_ai.usage.input_tokens']).toBe(1200); // intValue "1200"
    expect(chat.attributes.tags).toEqual(['x', 'y']);
    expect(chat.attributes['spanledger.cost.usd']).toBe(0.25);
    expect(chat.service).toBe('checkout');
    expect(chat.resource['spanledger.tenant']).toBe('initech');
    expect(chat.parentSpanId).toBe('a000000000000001');
    expect(spans.find((s) => s.spanId === 'b000000000000002')?.statusCode).toBe(2);
    const root = spans.find((s) => s.spanId === 'c000000000000001') as ReportSpan;
    expect(root.statusCode).toBe(2); // "STATUS_CODE_ERROR"
    expect(root.events[0]).toMatchObject({
      name: 'spanledger.budget.exceeded',
      timeUnixNano: 1748779200_500000000n,
      attributes: {
        'spanledger.budget.name': 'acme-daily',
        'spanledger.budget.spent_usd': 10.0625,
      },
    });
  });

  it('reads a gzipped file by its magic bytes, whatever its name', async () => {
    const gz = join(dir, 'traces.jsonl'); // no .gz suffix
    writeFileSync(gz, gzipSync(readFileSync(SPANS)));
    const plain = await read(SPANS);
    const zipped = await read(gz);
    expect(zipped.spans).toEqual(plain.spans);
    expect(zipped.stats.malformed).toBe(4);
  });

  it('reads one pretty-printed OTLP JSON document', async () => {
    const { spans, stats } = await read(DOCUMENT);
    expect(stats).toMatchObject({ malformed: 0, spans: 2 });
    expect(spans.map((s) => s.name)).toEqual(['invoke_agent doc-agent', 'chat gpt-4o']);
    expect(spans[1]?.resource['spanledger.tenant']).toBe('hooli');
  });

  it('counts a document that is not JSON as one malformed record, and a corrupt gzip stream throws', async () => {
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{\n  "resourceSpans": [\n');
    expect((await read(broken)).stats.malformed).toBe(1);
    const corrupt = join(dir, 'corrupt.gz');
    writeFileSync(
      corrupt,
      Buffer.concat([gzipSync('{}\n').subarray(0, 12), Buffer.from('garbage')]),
    );
    await expect(read(corrupt)).rejects.toThrow();
  });

  it('decodes int64 and AnyValue forms', () => {
    expect(int64('1748772000000000001')).toBe(1748772000000000001n);
    expect(int64(42)).toBe(42n);
    expect(int64({ low: 1, high: 1 })).toBe(2n ** 32n + 1n);
    expect(int64('x')).toBeUndefined();
    expect(anyValue({ intValue: '9007199254740993' })).toBe('9007199254740993');
    expect(anyValue({ doubleValue: '0.5' })).toBe(0.5);
    expect(anyValue({ boolValue: false })).toBe(false);
    expect(
      anyValue({
        kvlistValue: {
          values: [{ key: 'a', value: { arrayValue: { values: [{ intValue: 1 }] } } }],
        },
      }),
    ).toEqual({ a: [1] });
  });
});
