/** `spanledger report`, run in-process: tables whose printed rows sum to the printed totals,
 * --by/--top/--from/--to, JSON, CSV that parses back, colour rules, exit codes. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { buildReport } from '../../../src/cli/report/aggregate.js';
import type { ReportModel } from '../../../src/cli/report/model.js';
import { renderCsv, renderTables, roundToTotal } from '../../../src/cli/report/tables.js';
import { run } from '../../../src/cli/run.js';
import { cli } from '../run-cli.js';
import { sdkRuns } from './sdk-runs.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const fixture = (name: string): string =>
  fileURLToPath(new URL(`../../fixtures/report/${name}`, import.meta.url));
/** The escape character every ANSI colour code starts with. */
const ESC = '\u001b[';
const SPANS = fixture('spans.jsonl');
const DOCUMENT = fixture('export.json');
const SDK = fixture('sdk-runs.jsonl');
const dir = mkdtempSync(join(tmpdir(), 'spanledger-report-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The lines of the section headed `title`, up to the blank line. */
function section(out: string, title: string): string[] {
  const lines = out.split('\n');
  const start = lines.indexOf(title);
  expect(start, `section "${title}"`).toBeGreaterThanOrEqual(0);
  const end = lines.indexOf('', start);
  return lines.slice(start + 1, end === -1 ? undefined : end);
}

/** Micro-dollars of a printed amount (exact: no float sums). */
const micros = (s: string): number => Math.round(Number(s) * 1e6);

/** An RFC 4180 parser (quoted fields, doubled quotes, CRLF), to read `--csv` back. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  expect(field, 'CSV ends with CRLF').toBe('');
  return rows;
}

describe('spanledger report', () => {
  it('--by tenant,use_case,model: the printed rows add up to the printed total', async () => {
    const out = await cli('report', SPANS, DOCUMENT, '--by', 'tenant,use_case,model');
    expect(out.code).toBe(0);
    const table = section(out.stdout, 'Cost by tenant, use_case, model');
    expect(table[0]).toMatch(/^tenant\s+use_case\s+model\s+cost USD\s+spans\s+traces/);
    const rows = table.slice(1, -2).map((l) => l.split(/\s{2,}/));
    const total = (table.at(-1) as string).split(/\s{2,}/);
    expect(total[0]).toBe('total');
    expect(total[1]).toBe('1.137500');
    expect(rows.reduce((s, r) => s + micros(r[3] as string), 0)).toBe(micros('1.137500'));
    expect(rows.slice(0, 3)).toEqual([
      [
        'umbrella',
        'unallocated',
        'claude-sonnet-4',
        '0.500000',
        '1',
        '1',
        '2,000',
        '100',
        '0',
        '0',
      ],
      ['initech', 'billing', 'gpt-4o', '0.250000', '1', '1', '1,200', '300', '1,024', '0'],
      ['hooli', 'summarise', 'gpt-4o', '0.200000', '1', '1', '5,000', '700', '0', '0'],
    ]);
    expect(out.stdout).toMatch(
      /^total USD 1\.137500 over 9 spans in 4 traces \(5 priced, 1 unpriced\)$/m,
    );
  });

  it('rounds rows so that they sum to the printed total even when each would round up', async () => {
    const third = 1 / 3;
    expect(roundToTotal([third, third, third], 1, 2)).toEqual({
      rows: ['0.34', '0.33', '0.33'],
      total: '1.00',
    });
    const spans = [1, 2, 3].map((i) => ({
      traceId: `t${i}`,
      spanId: `s${i}`,
      name: 's',
      service: 'svc',
      startTimeUnixNano: 0n,
      endTimeUnixNano: 0n,
      statusCode: 0,
      attributes: { 'spanledger.cost.usd': 0.0000015, 'spanledger.tenant': `x${i}` },
      events: [],
      resource: {},
    }));
    const model = await buildReport(spans, { by: ['tenant'], top: 0 });
    const table = section(renderTables(model), 'Cost by tenant');
    const printed = table.slice(1, -2).map((l) => micros(l.split(/\s{2,}/)[1] as string));
    expect(printed.reduce((s, x) => s + x, 0)).toBe(
      micros((table.at(-1) as string).split(/\s{2,}/)[1] as string),
    );
    expect(printed.sort()).toEqual([1, 2, 2]); // 4.5 micro-dollars printed as 5, each row as 1.5
  });

  it('--top 3 lists the three most expensive traces, most expensive first, each with its waterfall', async () => {
    const out = await cli('report', SPANS, DOCUMENT, '--top', '3');
    const top = section(out.stdout, 'Top 3 traces by cost');
    const traces = top.slice(1, -2).map((l) => l.split(/\s{2,}/));
    expect(traces.map((t) => [t[0], t[7]])).toEqual([
      ['bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2', '0.500000'],
      ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1', '0.375000'],
      ['ddddddddddddddddddddddddddddddd4', '0.200000'],
    ]);
    const waterfall = section(
      out.stdout,
      'Waterfall of aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1 (invoke_agent billing-agent)',
    );
    expect(waterfall.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 4))).toEqual([
      ['invoke_agent billing-agent', '0.000000', '0.375000', '0.0'],
      ['', 'chat gpt-4o', 'llm', 'gpt-4o'],
      ['', 'chat gpt-4o-mini', 'llm', 'gpt-4o-mini'],
    ]);
  });

  it('--from/--to keep the spans that start in the window', async () => {
    const out = await cli(
      'report',
      SPANS,
      '--from',
      '2025-06-01T10:30:00Z',
      '--to',
      '2025-06-01T11:30:00Z',
      '--json',
    );
    const model = JSON.parse(out.stdout) as ReportModel;
    expect(model.totals).toMatchObject({ costUsd: 0.5, spans: 1, traces: 1 });
    expect(model.topTraces.map((t) => t.traceId)).toEqual(['bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2']);
  });

  it('counts malformed lines on stderr and still exits 0', async () => {
    const out = await cli('report', SPANS);
    expect(out.code).toBe(0);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).toMatch(
      /^spanledger report: skipped 4 malformed line\(s\) or record\(s\) \(first: \S+spans\.jsonl:2: not JSON/,
    );
  });

  it('reads a gzipped file', async () => {
    const gz = join(dir, 'traces.jsonl.gz');
    writeFileSync(gz, gzipSync(readFileSync(SPANS)));
    const plain = await cli('report', SPANS, '--json');
    const zipped = await cli('report', gz, '--json');
    expect(zipped.code).toBe(0);
    expect(JSON.parse(zipped.stdout)).toEqual(JSON.parse(plain.stdout));
  });

  it('shows unpriced spans and marks their trace partial', async () => {
    const out = await cli('report', SPANS, '--top', '5');
    expect(out.stdout).toContain('unpriced spans have no cost: the totals are a lower bound');
    expect(section(out.stdout, 'Unpriced spans (cost unknown, not zero)')).toEqual([
      'provider  model        reason         spans',
      'openai    mystery-llm  unknown_model      1',
    ]);
    const json = JSON.parse((await cli('report', SPANS, '--json')).stdout) as ReportModel;
    const search = json.topTraces.find((t) => t.traceId.startsWith('ccc'));
    expect(search).toMatchObject({
      status: 'partial',
      budgetsExceeded: ['acme-daily'],
      costUsd: 0.0625,
    });
  });

  it('--csv parses back (RFC 4180) to the rows, summing to the total', async () => {
    const out = await cli('report', SDK, '--csv', '--by', 'tenant,model');
    expect(out.code).toBe(0);
    const [header, ...rows] = parseCsv(out.stdout);
    expect(header?.slice(0, 4)).toEqual(['tenant', 'model', 'cost_usd', 'spans']);
    const json = JSON.parse(
      (await cli('report', SDK, '--json', '--by', 'tenant,model')).stdout,
    ) as ReportModel;
    expect(rows.map((r) => r.slice(0, 2))).toEqual(json.rows.map((r) => r.key));
    const nanos = rows.reduce((s, r) => s + BigInt((r[2] as string).replace('.', '')), 0n);
    expect(Number(nanos) / 1e9).toBeCloseTo(json.totals.costUsd, 9);
    // Values with commas, quotes and line breaks survive the trip.
    const awkward = 'Acme, "Inc"\nEU';
    const model = await buildReport(
      [
        {
          traceId: 't',
          spanId: 's',
          name: 's',
          service: 'svc',
          startTimeUnixNano: 0n,
          endTimeUnixNano: 0n,
          statusCode: 0,
          attributes: { 'spanledger.cost.usd': 0.1, 'spanledger.tenant': awkward },
          events: [],
          resource: {},
        },
      ],
      { by: ['tenant'], top: 0 },
    );
    expect(parseCsv(renderCsv(model))[1]?.slice(0, 2)).toEqual([awkward, '0.100000000']);
  });

  it('uses no escape codes without colour (non-TTY, NO_COLOR), and colour only when allowed', async () => {
    const plain = await cli('report', SPANS);
    expect(plain.stdout).not.toContain(ESC);
    let coloured = '';
    await run(['report', SPANS], { stdout: (s) => (coloured += s), stderr: () => {}, color: true });
    expect(coloured).toContain(`${ESC}1m`);
    // The entry point decides: a pipe is no TTY, and NO_COLOR is set as well.
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'report', SDK],
      {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '1' },
        encoding: 'utf8',
      },
    );
    expect(child.status).toBe(0);
    expect(child.stdout).toContain('Cost by tenant, use_case, model');
    expect(child.stdout).not.toContain(ESC);
  });

  it('exits 2 on a bad flag or dimension, with the error on the first line', async () => {
    for (const argv of [
      ['--bogus'],
      ['--by', 'tenat'],
      ['--top', 'three'],
      ['--from', '2025-13-01'],
      ['--json', '--csv'],
      [],
    ]) {
      const out = await cli('report', ...(argv.length === 0 ? [] : [SPANS, ...argv]));
      expect(out.code, argv.join(' ')).toBe(2);
      expect(out.stdout).toBe('');
      expect(out.stderr.split('\n')[0]).toMatch(/^spanledger report: \S/);
    }
    // Node's own message (its wording varies between Node versions), naming the flag.
    expect((await cli('report', SPANS, '--bogus')).stderr.split('\n')[0]).toMatch(
      /^spanledger report: Unknown option '--bogus'\./,
    );
  });

  it('exits 1 on a missing file, with one line', async () => {
    const out = await cli('report', SPANS, join(dir, 'nope.jsonl'));
    expect(out.code).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toBe(
      `spanledger report: cannot read ${join(dir, 'nope.jsonl')}: no such file\n`,
    );
  });

  it('--html writes one page, or says clearly that this build has no page', async () => {
    const page = join(dir, 'report.html');
    const out = await cli('report', SPANS, '--html', page);
    if (existsSync(join(ROOT, 'src/cli/report/html.ts'))) {
      expect(out.code).toBe(0);
      expect(readFileSync(page, 'utf8')).toMatch(/<html/i);
    } else {
      expect(out.code).toBe(1);
      expect(out.stderr).toBe(
        'spanledger report: --html is not available in this build (src/cli/report/html.ts is missing)\n',
      );
    }
  });

  it('--help prints the usage; the top-level help lists report', async () => {
    const help = await cli('report', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: spanledger report FILE\.\.\./);
    expect((await cli('--help')).stdout).toMatch(/^ {2}report +what exported spans cost/m);
  });

  it('reports runs exported from a real SDK pipeline (generated now) as the processor priced them', async () => {
    const { lines, spans } = await sdkRuns(Date.UTC(2025, 6, 1));
    const file = join(dir, 'sdk.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const model = JSON.parse((await cli('report', file, '--json')).stdout) as ReportModel;
    const expected = spans.reduce(
      (s, x) => s + ((x.attributes['spanledger.cost.usd'] as number) ?? 0),
      0,
    );
    expect(Math.abs(model.totals.costUsd - expected)).toBeLessThan(1e-9);
    expect(model.from).toBe('2025-07-01T00:00:00.000Z');
  });
});
