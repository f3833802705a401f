/** The report model from spans: exact totals, dimension fallbacks, top traces and their
 * waterfalls under bounded memory, time filters, unpriced work. */
import { describe, expect, it } from 'vitest';
import { buildReport, parseBy, REPORT_DIMENSIONS } from '../../../src/cli/report/aggregate.js';
import type { ReportModel, ReportRow, ReportSpan } from '../../../src/cli/report/model.js';
import { newReadStats, readSpans } from '../../../src/cli/report/read.js';
import { sdkRuns } from './sdk-runs.js';

const T0 = 1748772000_000000000n;

/** A span with a cost (or unpriced when `cost` is undefined). */
function span(
  traceId: string,
  spanId: string,
  opts: {
    parent?: string;
    cost?: number;
    startS?: number;
    attrs?: Record<string, unknown>;
    resource?: Record<string, unknown>;
  } = {},
): ReportSpan {
  const start = T0 + BigInt(Math.round((opts.startS ?? 0) * 1e9));
  return {
    traceId,
    spanId,
    ...(opts.parent === undefined ? {} : { parentSpanId: opts.parent }),
    name: spanId,
    service: 'svc',
    startTimeUnixNano: start,
    endTimeUnixNano: start + 1_000_000n,
    statusCode: 0,
    attributes: {
      ...(opts.cost === undefined
        ? {
            'spanledger.cost.status': 'unpriced',
            'spanledger.cost.unpriced_reason': 'unknown_model',
          }
        : { 'spanledger.cost.status': 'priced', 'spanledger.cost.usd': opts.cost }),
      ...opts.attrs,
    },
    events: [],
    resource: opts.resource ?? {},
  };
}

const sum = (rows: readonly ReportRow[]): number => rows.reduce((s, r) => s + r.costUsd, 0);
const OPTS = { by: ['tenant', 'use_case', 'model'], top: 3 };

/** Spans one at a time, never re-iterable: what a stream gives. */
async function* stream(spans: ReportSpan[]): AsyncGenerator<ReportSpan> {
  yield* spans;
}

describe('buildReport', () => {
  it('on runs exported from a real SDK pipeline: totals, trace costs and statuses equal what the processor wrote', async () => {
    const { lines, spans } = await sdkRuns();
    const reportSpans: ReportSpan[] = [];
    const { spansOfRequest } = await import('../../../src/cli/report/read.js');
    for (const line of lines) {
      for (const s of spansOfRequest(JSON.parse(line), () => expect.fail('malformed'))) {
        reportSpans.push(s);
      }
    }
    const model = await buildReport(stream(reportSpans), OPTS);
    const costs = spans.map((s) => s.attributes['spanledger.cost.usd']);
    const expected = costs.reduce<number>((t, c) => t + (typeof c === 'number' ? c : 0), 0);
    expect(expected).toBeGreaterThan(0.1);
    expect(Math.abs(model.totals.costUsd - expected)).toBeLessThan(1e-9);
    expect(Math.abs(sum(model.rows) - expected)).toBeLessThan(1e-9);
    for (const rows of Object.values(model.breakdowns)) {
      expect(Math.abs(sum(rows) - expected)).toBeLessThan(1e-9);
    }
    expect(model.totals).toMatchObject({ spans: spans.length, traces: 3, unpricedSpans: 1 });
    // Each trace's cost and status are the rollup the processor wrote on its root.
    const roots = spans.filter((s) => s.parentSpanContext === undefined);
    expect(model.topTraces).toHaveLength(3);
    for (const t of model.topTraces) {
      const root = roots.find((r) => r.spanContext().traceId === t.traceId);
      expect(t.costUsd).toBeCloseTo(root?.attributes['spanledger.trace.cost.usd'] as number, 12);
      expect(t.status).toBe(root?.attributes['spanledger.trace.cost.status']);
      expect(t.waterfall?.[0]?.subtreeCostUsd).toBeCloseTo(t.costUsd, 12);
    }
    expect(model.topTraces.map((t) => t.costUsd)).toEqual(
      [...model.topTraces.map((t) => t.costUsd)].sort((a, b) => b - a),
    );
    // The tenant is on the roots only: children get it from their root.
    expect(model.breakdowns.tenant?.map((r) => [r.key[0], r.traces])).toEqual([
      ['acme', 2],
      ['globex', 1],
    ]);
    expect(model.unpriced).toEqual([
      { provider: 'openai', model: 'acme-private-model', reason: 'unknown_model', spans: 1 },
    ]);
    expect(model.budgetEvents.map((e) => e.kind).sort()).toEqual([
      'exceeded',
      'warning',
      'warning',
    ]);
    expect(model.topTraces[0]?.budgetsExceeded).toEqual(['per-run']);
  });

  it('reports SDK spans from memory (reportSpanOf) exactly as their OTLP JSON export', async () => {
    const { lines, spans } = await sdkRuns();
    const { reportSpanOf, spansOfRequest } = await import('../../../src/cli/report/read.js');
    const exported = lines.flatMap((l) => [...spansOfRequest(JSON.parse(l), () => {})]);
    const key = (s: ReportSpan) => s.spanId;
    expect(spans.map(reportSpanOf).sort((a, b) => key(a).localeCompare(key(b)))).toEqual(
      exported.sort((a, b) => key(a).localeCompare(key(b))),
    );
  });

  it('reads dimensions from the span, else its trace root (even when the root comes last), else the resource, else unallocated', async () => {
    const model = await buildReport(
      [
        span('t1', 'child', { parent: 'root', cost: 1, resource: { 'spanledger.tenant': 'res' } }),
        span('t1', 'own', {
          parent: 'root',
          cost: 2,
          attrs: { 'spanledger.tenant': 'own' },
          resource: { 'spanledger.tenant': 'res' },
        }),
        span('t1', 'root', { attrs: { 'spanledger.use_case': 'uc' }, cost: 0 }),
        span('t2', 'orphan', { parent: 'gone', cost: 4 }),
      ],
      { by: ['tenant', 'use_case'], top: 5 },
    );
    expect(model.rows.map((r) => [r.key, r.costUsd])).toEqual([
      [['unallocated', 'unallocated'], 4],
      [['own', 'uc'], 2],
      [['res', 'uc'], 1],
      // The root itself: no tenant anywhere.
      [['unallocated', 'uc'], 0],
    ]);
  });

  it('accepts the names of src/dimensions.ts and attribute keys, and refuses unknown dimensions', () => {
    expect(REPORT_DIMENSIONS).toEqual(
      expect.arrayContaining([
        'tenant',
        'team',
        'use_case',
        'cost_center',
        'agent',
        'model',
        'category',
      ]),
    );
    expect(parseBy(['useCase'])).toMatchObject({ dims: [{ name: 'use_case' }] });
    expect(parseBy(['deployment.environment'])).toMatchObject({
      dims: [{ name: 'deployment.environment', key: 'deployment.environment' }],
    });
    expect(parseBy(['tenat'])).toMatchObject({
      error: expect.stringContaining("unknown dimension 'tenat'"),
    });
  });

  it('keeps totals exact to 1e-9 over many small costs in any order', async () => {
    const spans: ReportSpan[] = [];
    let expected = 0n; // in 1e-12 dollars
    for (let i = 0; i < 20_000; i++) {
      const pico = 1 + ((i * 7919) % 999_983);
      expected += BigInt(pico);
      spans.push(
        span(`t${i % 500}`, `s${i}`, {
          cost: pico / 1e12,
          attrs: { 'spanledger.tenant': `x${i % 7}` },
        }),
      );
    }
    const model = await buildReport(spans.reverse(), { by: ['tenant'], top: 1 });
    expect(Math.abs(model.totals.costUsd - Number(expected) / 1e12)).toBeLessThan(1e-12);
    expect(Math.abs(sum(model.rows) - model.totals.costUsd)).toBeLessThan(1e-12);
  });

  it('filters by span start: --from inclusive, --to exclusive', async () => {
    const spans = [0, 10, 20, 30].map((s) => span(`t${s}`, `s${s}`, { startS: s, cost: s + 1 }));
    const from = new Date(Number((T0 + 10_000_000_000n) / 1_000_000n));
    const to = new Date(Number((T0 + 30_000_000_000n) / 1_000_000n));
    const model = await buildReport(spans, { by: ['tenant'], top: 10, from, to });
    expect(model.totals.costUsd).toBe(11 + 21);
    expect(model.topTraces.map((t) => t.traceId)).toEqual(['t20', 't10']);
    expect(model.from).toBe('2025-06-01T10:00:10.000Z');
  });

  it('counts unpriced spans (never as $0) and marks their trace partial', async () => {
    const model = await buildReport(
      [
        span('t', 'a', { cost: 1, parent: 'r' }),
        span('t', 'b', { parent: 'r' }),
        span('t', 'r', { cost: 0 }),
      ],
      OPTS,
    );
    expect(model.totals).toMatchObject({ costUsd: 1, pricedSpans: 2, unpricedSpans: 1 });
    expect(model.topTraces[0]).toMatchObject({ status: 'partial', costUsd: 1 });
    expect(model.topTraces[0]?.waterfall?.map((w) => [w.spanId, w.unpriced, w.depth])).toEqual([
      ['r', false, 0],
      ['a', false, 1],
      ['b', true, 1],
    ]);
    expect(model.rows[0]?.unpricedSpans).toBe(1);
  });

  describe('bounded memory', () => {
    // 300 cheap traces first, then the expensive one whose first span is cheap: the first pass
    // cannot hold its spans (64 traces held at most), so its waterfall needs the second pass.
    const spans: ReportSpan[] = [];
    for (let i = 0; i < 300; i++) spans.push(span(`cheap${i}`, `c${i}`, { cost: 0.001 }));
    spans.push(span('big', 'b1', { parent: 'broot', cost: 0 }));
    for (let i = 0; i < 300; i++) spans.push(span(`late${i}`, `l${i}`, { cost: 0.002 }));
    spans.push(span('big', 'b2', { parent: 'broot', cost: 5 }));
    spans.push(span('big', 'broot', { cost: 0 }));

    it('gets the top traces complete waterfalls from a second pass when the first could not hold them', async () => {
      const model = await buildReport(stream(spans), { ...OPTS, top: 1, reread: () => spans });
      expect(model.topTraces[0]?.traceId).toBe('big');
      expect(model.topTraces[0]?.waterfall?.map((w) => w.spanId)).toEqual(['broot', 'b1', 'b2']);
    });

    it('leaves the waterfall out rather than showing part of it when the input cannot be read again', async () => {
      const model = await buildReport(stream(spans), { ...OPTS, top: 1 });
      expect(model.topTraces[0]).toMatchObject({ traceId: 'big', costUsd: 5 });
      expect(model.topTraces[0]?.waterfall).toBeUndefined();
    });

    it('past the cap on trace summaries, spans still count in every total and row', async () => {
      const model: ReportModel = await buildReport(spans, { ...OPTS, maxTraces: 100 });
      expect(model.totals.traces).toBe(100);
      expect(model.totals.untrackedSpans).toBe(spans.length - 100);
      expect(model.totals.costUsd).toBeCloseTo(300 * 0.001 + 300 * 0.002 + 5, 12);
      expect(sum(model.rows)).toBeCloseTo(model.totals.costUsd, 12);
    });
  });

  it('reads the files twice when the top traces need it (readSpans as reread)', async () => {
    const file = new URL('../../fixtures/report/spans.jsonl', import.meta.url).pathname;
    const stats = newReadStats();
    const model = await buildReport(readSpans([file], stats), {
      ...OPTS,
      readStats: stats,
      reread: (traceIds) => readSpans([file], newReadStats(), { traceIds }),
    });
    expect(model.totals).toMatchObject({ malformed: 4, spans: 7, traces: 3 });
    expect(model.totals.costUsd).toBeCloseTo(0.25 + 0.125 + 0.5 + 0.0625, 15);
  });
});
