/**
 * The monitoring mixin (dashboards/, docs/dashboards.md): the committed rendered files are what
 * the jsonnet renders, the jsonnet is formatted and lint-clean, and every dashboard keeps the
 * rules its users rely on: stable uids, the two data source variables, queries through them,
 * units on every figure, rates over $__rate_interval and money over the selected range.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { extractSnippets } from '../docs/extract.js';
import {
  type Dashboard,
  ensureJsonnet,
  formatProblems,
  type JsonnetTools,
  lintProblems,
  MIXIN_DIR,
  promExpressions,
  renderDashboards,
  staleFiles,
} from '../support/dashboards.js';
import { isCI } from '../support/tools.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
let tools: JsonnetTools;
let dashboards: Map<string, Dashboard>;

beforeAll(() => {
  tools = ensureJsonnet();
  if (tools.path === undefined) {
    if (isCI) throw new Error(`jsonnet is not available: ${tools.reason} (CI=true: no skip)`);
    console.warn(`jsonnet is not available (${tools.reason}): the mixin tests are skipped`);
    return;
  }
  dashboards = renderDashboards(tools.path);
}, 300_000);

/** The tools, or skip this test (never under CI, where beforeAll has thrown). */
function need(ctx: { skip: () => void }): Extract<JsonnetTools, { path: string }> {
  if (tools.path === undefined) ctx.skip();
  return tools as Extract<JsonnetTools, { path: string }>;
}

// A counter series (the _total, _bucket, _sum and _count series of the spanledger metrics).
const COUNTER = /\bspanledger_\w+_(?:total|bucket|sum|count)\b/;
// rate(...[w]) / increase(...[w]) over one selector: function, window.
const RANGE_FN = /\b(rate|irate|increase|deriv)\(\s*\w+(?:\{[^}]*\})?\[([^\]]+)\]\)/g;
/** The counter's value where its series is newer than the window (lib/promql.libsonnet
 * increaseOver): `(S unless S offset W) or increase(S[W])`, the same S and W three times. */
const NEW_SERIES = /\((\w+(?:\{[^}]*\})?) unless \1 offset (\S+)\) or increase\(\1\[\2\]\)/g;
// A money series: a USD counter, the run-cost histogram's buckets or sum, a USD gauge.
const MONEY = /\bspanledger_\w*_usd(?:_total|_sum|_bucket)?\{/;
/** A Grafana variable reference, `${name}` (built so that it does not read as a JS template). */
const variable = (name: string): string => `$\{${name}}`;
const UNITS = new Set(['currencyUSD', 'short', 'percentunit', 's']);

describe('the rendered mixin', () => {
  it('equals the committed files in dashboards/rendered', (ctx) => {
    const t = need(ctx);
    expect(
      staleFiles(t.path),
      'these rendered files are stale: run `npm run dashboards` and commit them',
    ).toEqual([]);
  });

  it('is formatted (jsonnetfmt --test on every .libsonnet and .jsonnet)', (ctx) => {
    const t = need(ctx);
    expect(formatProblems(t.jsonnetfmt), 'run jsonnetfmt -i on them').toEqual([]);
  });

  it('is clean under jsonnet-lint', (ctx) => {
    const t = need(ctx);
    expect(lintProblems(t.jsonnetLint)).toEqual([]);
  });
});

describe('every dashboard', () => {
  it('has a stable uid of its own: the prefix and its file name', (ctx) => {
    need(ctx);
    expect([...dashboards.keys()].sort()).toEqual([
      'spanledger-agent-cost.json',
      'spanledger-budgets.json',
      'spanledger-scorecard.json',
      'spanledger-showback.json',
    ]);
    const uids = [...dashboards].map(([file, d]) => {
      expect(d.uid, file).toBe(file.replace(/\.json$/, ''));
      // Grafana's limit on a uid.
      expect(d.uid.length, file).toBeLessThanOrEqual(40);
      expect(d.schemaVersion, file).toBe(39);
      return d.uid;
    });
    expect(new Set(uids).size).toBe(uids.length);
  });

  it('has both data source variables, and every query goes through them', (ctx) => {
    need(ctx);
    for (const [file, d] of dashboards) {
      const vars = new Map(d.templating.list.map((v) => [v.name, v]));
      expect(vars.get('prometheus_datasource'), file).toMatchObject({
        type: 'datasource',
        query: 'prometheus',
      });
      expect(vars.get('tempo_datasource'), file).toMatchObject({
        type: 'datasource',
        query: 'tempo',
      });
      for (const v of d.templating.list.filter((x) => x.type === 'query')) {
        expect(v, `${file} $${v.name}`).toMatchObject({ multi: true, includeAll: true });
      }
      for (const panel of d.panels) {
        for (const target of panel.targets ?? []) {
          const want =
            target.datasource.type === 'prometheus'
              ? variable('prometheus_datasource')
              : variable('tempo_datasource');
          expect(target.datasource.uid, `${file}: ${panel.title}`).toBe(want);
          expect(['prometheus', 'tempo'], `${file}: ${panel.title}`).toContain(
            target.datasource.type,
          );
        }
      }
    }
  });

  it('gives every Prometheus panel a unit (money, counts, ratios or seconds)', (ctx) => {
    need(ctx);
    for (const [file, d] of dashboards) {
      for (const { panel, expr } of promExpressions(d)) {
        expect(UNITS, `${file}: ${panel.title}`).toContain(panel.fieldConfig?.defaults.unit);
        // Money is in dollars unless the panel divides it (a share, a duration) or counts series.
        if (MONEY.test(expr) && !/ \/ /.test(expr) && !expr.startsWith('count(')) {
          expect(panel.fieldConfig?.defaults.unit, `${file}: ${panel.title}`).toBe('currencyUSD');
        }
      }
    }
  });

  it('reads counters only as rates over $__rate_interval or increases over $__range', (ctx) => {
    need(ctx);
    let rates = 0;
    let increases = 0;
    for (const [file, d] of dashboards) {
      for (const { panel, expr } of promExpressions(d)) {
        const where = `${file}: ${panel.title}: ${expr}`;
        for (const [, fn, window] of expr.matchAll(RANGE_FN)) {
          if (fn === 'rate' || fn === 'irate') {
            expect(window, where).toBe('$__rate_interval');
            rates++;
          }
          if (fn === 'increase' && window === '$__interval') {
            // Money per period (daily bars): a range query whose panel sets the period.
            expect((panel as { interval?: string }).interval, where).toMatch(/^\d+[mhdw]$/);
            expect(
              panel.targets?.every((t) => !t.instant),
              where,
            ).toBe(true);
          } else if (fn === 'increase') {
            expect(window, where).toBe('$__range');
            // Money over the range is one figure: an instant query.
            expect(
              panel.targets?.every((t) => t.instant),
              where,
            ).toBe(true);
            increases++;
          }
        }
        // A counter outside rate() or increase() would show its lifetime value; outside them it
        // may only stand for a series born inside the window, next to its increase.
        expect(expr.replace(NEW_SERIES, '').replace(RANGE_FN, ''), where).not.toMatch(COUNTER);
        // Any emitter that writes the metric names is welcome: no filter on one SDK.
        expect(expr, where).not.toMatch(/telemetry_sdk/);
      }
    }
    expect(rates).toBeGreaterThan(10);
    expect(increases).toBeGreaterThan(10);
  });
});

describe('docs/dashboards.md', () => {
  const snippet = (name: string): string => {
    const doc = readFileSync(join(ROOT, 'docs', 'dashboards.md'), 'utf8');
    const s = extractSnippets('docs/dashboards.md', doc).find((x) => x.directive.name === name);
    if (s === undefined) throw new Error(`docs/dashboards.md has no snippet ${name}`);
    return s.code;
  };

  it('composes the mixin as shown: the selector reaches every query, the uids their prefix', (ctx) => {
    const t = need(ctx);
    // The user's jsonnet path: the repository's dashboards/ as spanledger/.
    const dir = mkdtempSync(join(tmpdir(), 'spanledger-mixin-'));
    try {
      symlinkSync(MIXIN_DIR, join(dir, 'spanledger'));
      writeFileSync(join(dir, 'dashboards.jsonnet'), snippet('dashboards-compose'));
      const r = spawnSync(t.path, ['-J', dir, join(dir, 'dashboards.jsonnet')], {
        encoding: 'utf8',
      });
      expect(r.stderr).toBe('');
      const composed = JSON.parse(r.stdout) as Record<string, Dashboard>;
      expect(Object.keys(composed).sort()).toEqual([...dashboards.keys()].sort());
      for (const [file, d] of Object.entries(composed)) {
        expect(d.uid, file).toBe(`prod-${file.replace(/\.json$/, '')}`);
        // Constant queries (a figure of _config, vector(0)) read no series.
        for (const { panel, expr } of promExpressions(d).filter((e) =>
          /spanledger_/.test(e.expr),
        )) {
          expect(expr, `${file}: ${panel.title}`).toContain('cluster="prod"');
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shows a Grafana dashboard provider of type file with a path', () => {
    const provisioning = parse(snippet('dashboards-provisioning')) as {
      apiVersion: number;
      providers: Array<{ name: string; type: string; options: { path: string } }>;
    };
    expect(provisioning.apiVersion).toBe(1);
    expect(provisioning.providers).toHaveLength(1);
    expect(provisioning.providers[0]).toMatchObject({ name: 'spanledger', type: 'file' });
    expect(provisioning.providers[0]?.options.path).toMatch(/^\/\S+$/);
  });
});
