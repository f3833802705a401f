/**
 * The mixin's alerts and recording rules (dashboards/alerts, dashboards/rules; docs/alerts.md):
 * rendered with go-jsonnet, they pass `promtool check rules`, and `promtool test rules` runs the
 * unit tests of dashboards/tests/*.yaml against them, which give every alert a case where it
 * fires (exact labels and annotations) and one where it does not, and every recording rule exact
 * values. Rendering fails on a run-cost bound that is not a histogram bucket, no use-case rule is
 * generated without use cases, and a changed knob makes the promtool tests fail.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ROOT } from '../support/built.js';
import { ensurePrometheus, required } from '../support/collector.js';
import { ensureJsonnet } from '../support/dashboards.js';

const MIXIN = join(ROOT, 'dashboards');
const TESTS = join(MIXIN, 'tests');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

let jsonnet: string | undefined;
let promtool: string | undefined;
let scratch: string;

/** The mixin's alerts or rules, composed as mixin.libsonnet composes them, with `extra` (a
 * jsonnet expression) last so that its `_config+::` reaches every expression. */
function render(field: 'prometheusAlerts' | 'prometheusRules', extra = '{}'): RuleFile {
  const expr = `((import 'config.libsonnet') + (import 'alerts/alerts.libsonnet') + (import 'rules/rules.libsonnet') + ${extra}).${field}`;
  const out = execFileSync(jsonnet as string, ['-J', MIXIN, '-e', expr], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return JSON.parse(out) as RuleFile;
}

/** Render alerts.yaml and rules.yaml into `dir`, with the test files beside them. */
function renderInto(dir: string, extra: string): void {
  writeFileSync(join(dir, 'alerts.yaml'), stringifyYaml(render('prometheusAlerts', extra)));
  writeFileSync(join(dir, 'rules.yaml'), stringifyYaml(render('prometheusRules', extra)));
  for (const f of testFiles()) copyFileSync(join(TESTS, f), join(dir, f));
}

const testFiles = () => readdirSync(TESTS).filter((f) => f.endsWith('.test.yaml'));

function promtoolRun(args: string[], cwd: string): { status: number | null; output: string } {
  const r = spawnSync(promtool as string, args, { encoding: 'utf8', cwd, timeout: 120_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const TEST_CONFIG = "(import 'tests/config.libsonnet')";
const rulesOf = (f: RuleFile) => f.groups.flatMap((g) => g.rules);

beforeAll(() => {
  // go-jsonnet as the project provisions it (scripts/dashboards.mjs).
  jsonnet = required('go-jsonnet', ensureJsonnet());
  const prometheus = ensurePrometheus();
  promtool = required(
    'promtool',
    prometheus.path === undefined ? prometheus : { path: prometheus.promtool ?? '' },
  );
  scratch = mkdtempSync(join(tmpdir(), 'spanledger-rules-'));
}, 1_800_000);
afterAll(() => {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

describe('the mixin alerts and recording rules', () => {
  it('pass promtool check rules, with the default knobs and with a use case', (ctx) => {
    if (jsonnet === undefined || promtool === undefined) return ctx.skip();
    for (const [name, extra, alerts] of [
      ['default', '{}', 9],
      ['use-case', TEST_CONFIG, 10],
    ] as const) {
      const dir = mkdtempSync(join(scratch, `${name}-`));
      renderInto(dir, extra);
      const r = promtoolRun(['check', 'rules', 'alerts.yaml', 'rules.yaml'], dir);
      expect(r.status, r.output).toBe(0);
      expect(r.output).toMatch(new RegExp(`alerts\\.yaml\\s+SUCCESS: ${alerts} rules found`));
      expect(r.output).toMatch(/rules\.yaml\s+SUCCESS: 19 rules found/);
    }
  });

  // The committed rendering (scripts/dashboards.mjs writes dashboards/rendered/) is the mixin's
  // rendering with the default knobs, and passes promtool check rules too.
  const RENDERED = join(MIXIN, 'rendered');
  it('match the committed dashboards/rendered/alerts.yaml and rules.yaml', (ctx) => {
    if (jsonnet === undefined || promtool === undefined) return ctx.skip();
    for (const [file, field] of [
      ['alerts.yaml', 'prometheusAlerts'],
      ['rules.yaml', 'prometheusRules'],
    ] as const) {
      expect(parseYaml(readFileSync(join(RENDERED, file), 'utf8'))).toEqual(render(field));
    }
    const r = promtoolRun(['check', 'rules', 'alerts.yaml', 'rules.yaml'], RENDERED);
    expect(r.status, r.output).toBe(0);
  });

  it('pass their promtool unit tests (dashboards/tests/*.test.yaml)', (ctx) => {
    if (jsonnet === undefined || promtool === undefined) return ctx.skip();
    const dir = mkdtempSync(join(scratch, 'unit-'));
    renderInto(dir, TEST_CONFIG);
    const files = testFiles();
    expect(files).toEqual(['alerts.test.yaml', 'anomaly.test.yaml', 'rules.test.yaml']);
    const r = promtoolRun(['test', 'rules', ...files], dir);
    expect(r.status, r.output).toBe(0);
    expect(r.output.match(/SUCCESS/g)).toHaveLength(files.length);
  }, 120_000);

  it('fail their unit tests once a knob moves (the burn-rate factor, the anomaly minimum)', (ctx) => {
    if (jsonnet === undefined || promtool === undefined) return ctx.skip();
    const dir = mkdtempSync(join(scratch, 'broken-'));
    // Factor 20: the 16x burn of the test no longer fires; a minimum of 200 USD an hour
    // silences the 180 USD anomaly.
    renderInto(
      dir,
      `${TEST_CONFIG} + { _config+:: { budgetBurnRateFast+: { factor: 20 }, spendAnomalyMinUsdPerHour: 200 } }`,
    );
    const r = promtoolRun(['test', 'rules', 'alerts.test.yaml', 'anomaly.test.yaml'], dir);
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/alertname: SpanledgerBudgetBurnRateFast, time: 1h45m/);
    expect(r.output).toMatch(/alertname: SpanledgerSpendAnomaly, time: 7d17h20m/);
  }, 120_000);

  it('test every alert firing and not firing, and every recording rule', (ctx) => {
    if (jsonnet === undefined) return ctx.skip();
    const alerts = rulesOf(render('prometheusAlerts', TEST_CONFIG));
    const records = rulesOf(render('prometheusRules', TEST_CONFIG));
    const fires = new Set<string>();
    const quiet = new Set<string>();
    const queried = new Set<string>();
    for (const f of testFiles()) {
      const doc = parseYaml(readFileSync(join(TESTS, f), 'utf8')) as {
        tests: {
          alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[];
          promql_expr_test?: { expr: string }[];
        }[];
      };
      for (const t of doc.tests) {
        for (const a of t.alert_rule_test ?? []) {
          (a.exp_alerts.length > 0 ? fires : quiet).add(a.alertname);
        }
        for (const q of t.promql_expr_test ?? []) queried.add(q.expr.replace(/\{.*$/, ''));
      }
    }
    const names = [...new Set(alerts.map((a) => a.alert as string))].sort();
    expect(names).toEqual([
      'SpanledgerApproximatePricing',
      'SpanledgerBudgetBurnRateFast',
      'SpanledgerBudgetBurnRateSlow',
      'SpanledgerBudgetExceeded',
      'SpanledgerBudgetExceededEvents',
      'SpanledgerCostTelemetryAbsent',
      'SpanledgerRunawayTrace',
      'SpanledgerSpendAnomaly',
      'SpanledgerUnpricedUsage',
      'SpanledgerUseCaseKillCriterion',
    ]);
    expect([...fires].sort()).toEqual(names);
    expect([...quiet].sort()).toEqual(names);
    expect([...queried].sort()).toEqual(records.map((r) => r.record as string).sort());
  });

  it('give every alert a severity, a summary, a description with label values and a runbook section', (ctx) => {
    if (jsonnet === undefined) return ctx.skip();
    const docs = readFileSync(join(ROOT, 'docs/alerts.md'), 'utf8');
    const headings = new Set([...docs.matchAll(/^### (\w+)$/gm)].map((m) => m[1]));
    for (const a of rulesOf(render('prometheusAlerts', TEST_CONFIG))) {
      const name = a.alert as string;
      expect(name).toMatch(/^(?:[A-Z][a-z]+)+$/);
      expect(['critical', 'warning', 'info']).toContain(a.labels?.severity);
      expect(a.annotations?.summary).toMatch(/\.$/);
      expect(a.annotations?.runbook_url).toBe(
        `https://github.com/spanledger/spanledger/blob/main/docs/alerts.md#${name.toLowerCase()}`,
      );
      expect(headings.has(name), `docs/alerts.md has no "### ${name}"`).toBe(true);
      // Per-use-case rules name their use case; the others read it from the series' labels.
      if (name !== 'SpanledgerUseCaseKillCriterion') {
        expect(a.annotations?.description).toMatch(/\{\{ \$labels\.\w+ \}\}/);
      }
    }
  });

  it('generate no use-case rule without use cases, one per configured use case', (ctx) => {
    if (jsonnet === undefined) return ctx.skip();
    const none = render('prometheusAlerts');
    expect(none.groups.map((g) => g.name)).toEqual([
      'spanledger-budget-alerts',
      'spanledger-spend-alerts',
      'spanledger-pricing-alerts',
    ]);
    const two = render(
      'prometheusAlerts',
      `{ _config+:: { useCases+: { a: { targetRoi: 3, killRatio: 0.6, killPeriod: '30d' }, b: { targetRoi: 2, killRatio: 0.5, killPeriod: '60d', fixedMonthlyUsd: { platform: 500, review: 2000 } } } } }`,
    );
    const kill = two.groups.find((g) => g.name === 'spanledger-use-case-alerts')?.rules ?? [];
    expect(kill.map((r) => [r.alert, r.for])).toEqual([
      ['SpanledgerUseCaseKillCriterion', '30d'],
      ['SpanledgerUseCaseKillCriterion', '60d'],
    ]);
    // Knobs as written (0.6, not jsonnet's 0.59999999999999998); fixed costs as USD per second.
    expect(kill[0]?.expr).toContain('{spanledger_use_case="a"}[7d]');
    expect(kill[0]?.expr).toMatch(/< 0\.6 \* 3\n$/);
    expect(kill[0]?.expr).not.toContain('2629800');
    expect(kill[1]?.expr).toContain(') + (500 + 2000) / 2629800)');
  });

  it('refuse a runaway-run bound that is not a bucket of the run-cost histogram', (ctx) => {
    if (jsonnet === undefined) return ctx.skip();
    expect(() => render('prometheusAlerts', '{ _config+:: { runawayTraceUsd: 3 } }')).toThrow(
      /runawayTraceUsd must be a bucket bound of spanledger\.trace\.cost\.usd \(0\.001, 0\.01, 0\.05, 0\.1, 0\.25, 0\.5, 1, 2\.5, 5, 10, 25, 100\), got 3/,
    );
    const runaway = rulesOf(
      render('prometheusAlerts', '{ _config+:: { runawayTraceUsd: 2.5 } }'),
    ).find((r) => r.alert === 'SpanledgerRunawayTrace');
    expect(runaway?.expr).toContain('le=~"2\\\\.5"');
  });
});
