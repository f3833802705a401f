/**
 * Every query of the committed dashboards parses as its data source will parse it, once Grafana
 * has replaced its variables (test/support/grafana.ts: `$__range`, `$__rate_interval`,
 * `$__interval`, template variables at All and at chosen values):
 * - PromQL: every expression of every panel, and the selector of every template variable's
 *   `label_values()`, become the recording rules of one generated file that must pass
 *   `promtool check rules` (Prometheus 3's own parser; scripts/collector.mjs builds it);
 * - TraceQL: every Tempo target parses with `@grafana/lezer-traceql`, the grammar of Grafana's
 *   TraceQL editor, without an error node.
 * The TraceQL panels are not run against data (no Tempo here): docs/dashboards.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parser as traceql } from '@grafana/lezer-traceql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ensurePrometheus, required } from '../support/collector.js';
import type { Dashboard } from '../support/dashboards.js';
import {
  interpolate,
  type QueryContext,
  renderedDashboards,
  targetsOf,
} from '../support/grafana.js';

const dashboards = renderedDashboards();
let promtool: string | undefined;
let scratch: string;

beforeAll(() => {
  const prometheus = ensurePrometheus();
  promtool = required(
    'promtool',
    prometheus.path === undefined ? prometheus : { path: prometheus.promtool ?? '' },
  );
  scratch = mkdtempSync(join(tmpdir(), 'spanledger-queries-'));
}, 1_800_000);
afterAll(() => {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

/** The variable settings each query is checked under: every filter at All; every filter at one
 * value; every filter at two values, one with regex metacharacters (Grafana escapes them). */
function contexts(d: Dashboard): Array<{ name: string; ctx: QueryContext }> {
  const names = d.templating.list.filter((v) => v.type === 'query').map((v) => v.name);
  const at = (values: string[]) => Object.fromEntries(names.map((n) => [n, values]));
  const base = { rangeSeconds: 86_400, intervalSeconds: 60 };
  return [
    { name: 'all', ctx: base },
    { name: 'one', ctx: { ...base, values: at(['support-agent']) } },
    { name: 'two', ctx: { ...base, values: at(['acme', 'gpt-4o (2024.08)']) } },
  ];
}

/** A generated recording rule: one expression, told apart by its labels. */
interface Rule {
  record: string;
  expr: string;
  labels?: Record<string, string>;
}

/** Runs promtool check rules on one generated file; its exit status and output. */
function checkRules(
  groups: Array<{ name: string; rules: Array<{ record: string; expr: string }> }>,
) {
  const file = join(mkdtempSync(join(scratch, 'rules-')), 'dashboards.rules.yaml');
  writeFileSync(file, stringify({ groups }, { lineWidth: 0 }));
  const r = spawnSync(promtool as string, ['check', 'rules', file], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Error nodes of a TraceQL query as the editor's grammar parses it: the text at each. */
function traceqlErrors(query: string): string[] {
  const errors: string[] = [];
  traceql.parse(query).iterate({
    enter: (n) => {
      if (n.type.isError) errors.push(`at ${n.from}: ${query.slice(n.from, n.from + 24)}`);
    },
  });
  return errors;
}

describe('the dashboards PromQL', () => {
  it('passes promtool check rules: every expression under every variable setting, every variable query', (ctx) => {
    if (promtool === undefined) return ctx.skip();
    const groups = [...dashboards].map(([file, d]) => {
      const rules: Rule[] = [];
      for (const t of targetsOf(d).filter((x) => x.language === 'promql')) {
        for (const { name, ctx: c } of contexts(d)) {
          const expr = interpolate(t.query, d, c);
          // Grafana replaces every variable: none may be left for Prometheus to choke on.
          expect(expr, `${file}: ${t.panel.title} (${name})`).not.toMatch(/\$|\[\[/);
          rules.push({
            record: 'dashboard_check:expr',
            expr,
            labels: { dashboard: d.uid, panel: t.panel.title, ref: t.refId, variables: name },
          });
        }
      }
      for (const v of d.templating.list.filter((x) => x.type === 'query')) {
        const q = (v.query as { query: string }).query;
        const selector = /^label_values\((.+), \w+\)$/.exec(q)?.[1];
        expect(selector, `${file}: $${v.name}`).toBeDefined();
        rules.push({
          record: 'dashboard_check:variable',
          expr: selector as string,
          labels: { dashboard: d.uid, variable: v.name },
        });
      }
      return { name: file, rules };
    });
    const count = groups.reduce((n, g) => n + g.rules.length, 0);
    expect(count).toBeGreaterThan(100);
    const r = checkRules(groups);
    expect(r.output).toContain(`SUCCESS: ${count} rules found`);
    expect(r.status, r.output).toBe(0);
  }, 120_000);

  it('fails promtool check rules on a broken expression (the check can fail)', (ctx) => {
    if (promtool === undefined) return ctx.skip();
    const r = checkRules([
      {
        name: 'broken',
        rules: [
          { record: 'dashboard_check:broken', expr: 'sum(rate(spanledger_cost_usd_total[5m])' },
        ],
      },
    ]);
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/unclosed left parenthesis/);
  });
});

describe('the dashboards TraceQL', () => {
  it('parses with @grafana/lezer-traceql, every Tempo target, with no error node', () => {
    let n = 0;
    for (const [file, d] of dashboards) {
      for (const t of targetsOf(d).filter((x) => x.language === 'traceql')) {
        for (const { name, ctx } of contexts(d)) {
          const q = interpolate(t.query, d, ctx);
          expect(q, `${file}: ${t.panel.title} (${name})`).not.toContain('$');
          expect(traceqlErrors(q), `${file}: ${t.panel.title} (${name}): ${q}`).toEqual([]);
          n++;
        }
      }
    }
    expect(n).toBeGreaterThanOrEqual(3 * 3);
  });

  it('finds the error node of a broken query, and of an unquoted attribute name starting with "span"', () => {
    expect(traceqlErrors('{ span.spanledger.trace.cost.usd > }')).not.toEqual([]);
    // Why the dashboards quote spanledger's attribute names: the grammar reads `span` there.
    expect(traceqlErrors('{ span.spanledger.trace.cost.usd > 1 }')).not.toEqual([]);
    expect(traceqlErrors('{ span."spanledger.trace.cost.usd" > 1 }')).toEqual([]);
  });
});
