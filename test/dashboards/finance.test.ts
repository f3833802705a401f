/**
 * The finance dashboards of the mixin (docs/dashboards.md, "AI spend showback" and "Use-case
 * scorecard"): the showback's first row gives this month's spend per tenant, its projection and
 * the unallocated share; every allocation table has its unallocated row; the scorecard's queries
 * carry a configured use case's fixed costs, outcome and value hypothesis, and render without
 * any use case; every PromQL expression of both passes `promtool check rules`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { extractSnippets } from '../docs/extract.js';
import { ROOT } from '../support/built.js';
import { ensurePrometheus, required } from '../support/collector.js';
import {
  type Dashboard,
  ensureJsonnet,
  MIXIN_DIR,
  type Panel,
  promExpressions,
  renderDashboards,
} from '../support/dashboards.js';
import { isCI } from '../support/tools.js';

/** A finance panel: the parts beyond support/dashboards.ts's Panel these tests read. */
type FinancePanel = Omit<Panel, 'targets'> & {
  timeFrom?: string;
  interval?: string;
  options?: { content?: string };
  targets?: Array<NonNullable<Panel['targets']>[number] & { refId?: string }>;
  transformations?: Array<{ id: string; options: { renameByName?: Record<string, string> } }>;
};

/** The use case of docs/dashboards.md's snippet dashboards-use-case, as a jsonnet object to add
 * to the mixin (1000 + 314.5 USD of fixed costs a month). */
function useCaseSnippet(): string {
  const doc = readFileSync(join(ROOT, 'docs', 'dashboards.md'), 'utf8');
  const s = extractSnippets('docs/dashboards.md', doc).find(
    (x) => x.directive.name === 'dashboards-use-case',
  );
  if (s === undefined) throw new Error('docs/dashboards.md has no snippet dashboards-use-case');
  const head = "(import 'spanledger/mixin.libsonnet') + ";
  if (!s.code.startsWith(head)) throw new Error(`the snippet starts otherwise: ${s.code}`);
  return s.code.slice(head.length);
}

let jsonnet: string | undefined;
let promtool: string | undefined;
let defaults: Map<string, Dashboard>;
let configured: Map<string, Dashboard>;
let scratch: string;

/** The mixin's dashboards rendered with `extra` added to it (jsonnet). */
function renderWith(extra: string): Map<string, Dashboard> {
  const r = spawnSync(
    jsonnet as string,
    ['-J', MIXIN_DIR, '-e', `((import 'mixin.libsonnet') + ${extra}).grafanaDashboards`],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return new Map(Object.entries(JSON.parse(r.stdout) as Record<string, Dashboard>));
}

beforeAll(() => {
  const tools = ensureJsonnet();
  if (tools.path === undefined) {
    if (isCI) throw new Error(`jsonnet is not available: ${tools.reason} (CI=true: no skip)`);
    console.warn(`jsonnet is not available (${tools.reason}): the finance tests are skipped`);
    return;
  }
  jsonnet = tools.path;
  defaults = renderDashboards(jsonnet);
  configured = renderWith(useCaseSnippet());
  const prometheus = ensurePrometheus();
  promtool = required(
    'promtool',
    prometheus.path === undefined ? prometheus : { path: prometheus.promtool ?? '' },
  );
  scratch = mkdtempSync(join(tmpdir(), 'spanledger-finance-'));
}, 1_800_000);
afterAll(() => {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

function need(ctx: { skip: () => void }): void {
  if (jsonnet === undefined) ctx.skip();
}

function dashboard(set: Map<string, Dashboard>, file: string): FinancePanel[] {
  const d = set.get(file);
  if (d === undefined) throw new Error(`no ${file}`);
  return d.panels as FinancePanel[];
}

function panel(panels: FinancePanel[], title: string): FinancePanel {
  const p = panels.find((x) => x.title === title);
  if (p === undefined) throw new Error(`no panel ${title}`);
  return p;
}

const exprs = (p: FinancePanel): string[] => (p.targets ?? []).map((t) => t.expr ?? '');
const renamed = (p: FinancePanel): Record<string, string> =>
  p.transformations?.find((t) => t.id === 'organize')?.options.renameByName ?? {};

describe('AI spend showback', () => {
  it('opens with this month: spend, projection, unallocated share and the tenant table', (ctx) => {
    need(ctx);
    const panels = dashboard(defaults, 'spanledger-showback.json');
    const second = panels.findIndex((p, i) => i > 0 && p.type === 'row');
    const first = panels.slice(0, second);
    expect(first[0]).toMatchObject({ type: 'row', title: 'This month (utc)' });
    expect(first.slice(1).map((p) => p.title)).toEqual([
      'Spend this month',
      'Projected month end',
      'Unallocated this month (no tenant)',
      'Unallocated this month (no team)',
      'This month by tenant',
    ]);
    // Month to date: every panel of the row reads the month so far ($__range is since now/M).
    for (const p of first.slice(1)) {
      expect(p.timeFrom, p.title).toBe('now/M');
      for (const t of p.targets ?? []) expect(t.instant, p.title).toBe(true);
    }
    // Money over the range counts a series born inside it in full (lib/promql.libsonnet
    // increaseOver): `(S unless S offset $__range) or increase(S[$__range])`.
    const total = 'sum((spanledger_cost_usd_total{';
    expect(exprs(panel(first, 'Spend this month'))[0]).toMatch(
      /^sum\(\(spanledger_cost_usd_total\{[^}]*\} unless spanledger_cost_usd_total\{[^}]*\} offset \$__range\) or increase\(spanledger_cost_usd_total\{[^}]*\}\[\$__range\]\)\)$/,
    );
    // Projection: month to date / elapsed fraction of the month.
    expect(exprs(panel(first, 'Projected month end'))[0]).toMatch(
      /^\(sum\(\(.* offset \$__range\) or increase\(.*\[\$__range\]\)\)\) \* scalar\(days_in_month\(\)\) \* 86400 \/ \$__range_s$/,
    );
    const unallocated = panel(first, 'Unallocated this month (no tenant)');
    expect(unallocated.fieldConfig?.defaults.unit).toBe('percentunit');
    expect(exprs(unallocated)[0]).toContain('spanledger_tenant=""');
    expect(exprs(unallocated)[0]).toContain(`/ ${total}`);

    const table = panel(first, 'This month by tenant');
    expect(renamed(table)).toMatchObject({
      spanledger_tenant: 'Tenant',
      'Value #A': 'Month to date',
      'Value #B': 'Projected month end',
      'Value #C': 'Share',
    });
    const [mtd, projection, share] = exprs(table);
    // Allocated tenants, and the unallocated row in the same table (0 when all is allocated).
    expect(mtd).toContain('sum by (spanledger_tenant) ((spanledger_cost_usd_total{');
    expect(mtd).toContain('spanledger_tenant!=""');
    expect(mtd).toMatch(
      /or label_replace\(sum\(\(spanledger_cost_usd_total\{[^}]*spanledger_tenant=""\} unless spanledger_cost_usd_total\{[^}]*\} offset \$__range\) or increase\(spanledger_cost_usd_total\{[^}]*spanledger_tenant=""\}\[\$__range\]\)\) or vector\(0\), "spanledger_tenant", "unallocated", "", ""\)$/,
    );
    expect(projection).toBe(`(${mtd}) * scalar(days_in_month()) * 86400 / $__range_s`);
    expect(share).toMatch(/\) \/ scalar\(sum\(\(spanledger_cost_usd_total\{/);
  });

  it('has an unallocated row in every allocation table, named by _config.unallocatedLabel', (ctx) => {
    need(ctx);
    const panels = dashboard(
      renderWith("{ _config+:: { unallocatedLabel: '(none)' } }"),
      'spanledger-showback.json',
    );
    for (const [title, label] of [
      ['Spend by tenant', 'spanledger_tenant'],
      ['Spend by team', 'spanledger_team'],
      ['Spend by cost center', 'spanledger_cost_center'],
      ['Spend by use case', 'spanledger_use_case'],
    ] as const) {
      const [spend] = exprs(panel(panels, title));
      expect(spend, title).toContain(`${label}=""`);
      expect(spend, title).toContain(`"${label}", "(none)", "", ""`);
    }
  });

  it('filters money panels by service, team, cost center, tenant, use case and model', (ctx) => {
    need(ctx);
    const d = defaults.get('spanledger-showback.json') as Dashboard;
    expect(d.templating.list.filter((v) => v.type === 'query').map((v) => v.name)).toEqual([
      'service',
      'team',
      'cost_center',
      'tenant',
      'use_case',
      'model',
    ]);
    for (const { panel: p, expr } of promExpressions(d)) {
      for (const m of expr.matchAll(/spanledger_cost_usd_total\{([^}]*)\}/g)) {
        for (const v of ['service', 'team', 'cost_center', 'tenant', 'use_case', 'model'])
          expect(m[1], p.title).toContain(`=~"$${v}"`);
      }
    }
  });

  it('shows daily spend as 1d bars and routing savings against the same usage', (ctx) => {
    need(ctx);
    const panels = dashboard(defaults, 'spanledger-showback.json');
    const daily = panel(panels, 'Daily spend by tenant');
    expect(daily.interval).toBe('1d');
    expect(exprs(daily)[0]).toContain('[$__interval]');
    const routing = exprs(panel(panels, 'What routing to the alternatives would have cost'));
    // Actual LLM cost of the same use case, provider and model, beside each alternative's.
    expect(routing[0]).toContain(
      'on (spanledger_use_case, gen_ai_provider_name, gen_ai_request_model) group_left ()',
    );
    expect(routing[0]).toContain('spanledger_cost_category="llm"');
    expect(routing[1]).toContain(
      'sum by (spanledger_use_case, gen_ai_provider_name, gen_ai_request_model, spanledger_alternative_model) ((spanledger_cost_alternative_usd_total{',
    );
  });
});

describe('Use-case scorecard', () => {
  it('renders without use cases: measured figures only, no fixed costs or hypothesis', (ctx) => {
    need(ctx);
    const panels = dashboard(defaults, 'spanledger-scorecard.json');
    const table = panel(panels, 'Scorecard');
    expect(Object.values(renamed(table))).toEqual([
      'Usage cost',
      'Total cost',
      'Outcomes',
      'Cost per outcome',
      'Value',
      'ROI',
      'Use case',
    ]);
    expect(exprs(table).join('\n')).not.toContain('vector(');
    expect(panel(panels, 'Value hypotheses').options?.content).toContain(
      'No use case is configured',
    );
  });

  it("carries a configured use case's fixed costs, outcome and value hypothesis", (ctx) => {
    need(ctx);
    const panels = dashboard(configured, 'spanledger-scorecard.json');
    const table = panel(panels, 'Scorecard');
    const columns = renamed(table);
    const byColumn = new Map(
      (table.targets ?? []).map((t) => [columns[`Value #${t.refId}`], t.expr as string]),
    );
    expect([...byColumn.keys()]).toEqual([
      'Usage cost',
      'Fixed costs',
      'Total cost',
      'Usage share',
      'Outcomes',
      'Cost per outcome',
      'Baseline per outcome',
      'Value',
      'ROI',
      'Target ROI',
      'Kill below ROI',
      'Days to review',
    ]);
    const only = (v: string) =>
      `sum by (spanledger_use_case) (label_replace(label_replace(vector(${v}), "spanledger_use_case", "support-triage", "", ""), "spanledger_keep", "1", "spanledger_use_case", "$use_case") and on (spanledger_keep) label_replace(vector(1), "spanledger_keep", "1", "", ""))`;
    // 1000 + 314.5 USD a month, pro-rated per second of a month of 365.25 / 12 days.
    expect(byColumn.get('Fixed costs')).toBe(`(${only('1314.5')}) * $__range_s / 2629800`);
    expect(byColumn.get('Total cost')).toContain(`(${only('1314.5')}) * $__range_s / 2629800`);
    expect(byColumn.get('Target ROI')).toBe(only('3'));
    // Kill criterion: killRatio x targetRoi.
    expect(byColumn.get('Kill below ROI')).toBe(only('1.5'));
    expect(byColumn.get('Baseline per outcome')).toBe(only('4'));
    // 2027-03-31T00:00:00Z.
    const review = Date.UTC(2027, 2, 31) / 1000;
    expect(byColumn.get('Days to review')).toBe(only(`(${review} - time()) / 86400`));
    // The use case counts its configured outcome; other use cases every outcome.
    const outcomes = byColumn.get('Outcomes') as string;
    expect(outcomes).toContain('spanledger_use_case!~"support-triage"');
    expect(outcomes).toContain(
      'spanledger_use_case="support-triage",spanledger_outcome_name="ticket_resolved"',
    );
    expect(panel(panels, 'Value hypotheses').options?.content).toContain(
      '| support-triage | ticket_resolved | 3 | ROI under 0.5 x target for 30d | 4 USD | 2027-03-31 | governance 314.5 USD, platform 1000 USD (1314.5 USD) |',
    );
  });

  it('filters by use case only (fixed costs are per use case)', (ctx) => {
    need(ctx);
    const d = configured.get('spanledger-scorecard.json') as Dashboard;
    expect(d.templating.list.filter((v) => v.type === 'query').map((v) => v.name)).toEqual([
      'use_case',
    ]);
  });
});

/** An expression as a rule file can hold it: Grafana's variables replaced. */
function substitute(expr: string): string {
  return expr
    .replaceAll('$__range_s', '3600')
    .replaceAll('$__range', '1h')
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__interval', '1m')
    .replace(/\$\{?\w+(?::\w+)?\}?/g, '.*');
}

describe('the finance dashboards PromQL', () => {
  it('passes promtool check rules, with the default knobs and with a use case', (ctx) => {
    need(ctx);
    if (promtool === undefined) return ctx.skip();
    for (const [name, set] of [
      ['default', defaults],
      ['use-case', configured],
    ] as const) {
      const rules = ['spanledger-showback.json', 'spanledger-scorecard.json'].flatMap((file) =>
        promExpressions(set.get(file) as Dashboard).map(({ expr }) => ({
          record: 'finance:check',
          expr: substitute(expr),
        })),
      );
      // Record names apart: promtool reports duplicate rules as a lint failure.
      rules.forEach((r, i) => {
        r.record = `finance:check_${i}`;
      });
      for (const r of rules) expect(r.expr).not.toContain('$');
      const file = join(scratch, `${name}.yaml`);
      writeFileSync(file, stringify({ groups: [{ name: 'finance', rules }] }, { lineWidth: 0 }));
      const r = spawnSync(promtool, ['check', 'rules', file], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    }
  });
});
