/**
 * The committed dashboards (dashboards/rendered/dashboards/*.json; render.test.ts holds them equal
 * to the mixin's rendering) are dashboards Grafana accepts and that keep the rules their users
 * rely on:
 * - Grafana's own types (`@grafana/schema`): the whole JSON, each panel's options and field
 *   config, each target, checked by `tsc --noEmit` under strict options (test/support/grafana-types.ts);
 * - the rules of Grafana's dashboard linter, written here since it cannot be built on this
 *   machine: data source variables and every query through them, template variables with a data
 *   source and reloaded on a time change, stable and unique uids, unique panel titles and ids,
 *   a description and a unit on every panel, rates over `$__rate_interval`, money over
 *   `$__range`, no filter on one SDK, and a grid that fits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Dashboard } from '../support/dashboards.js';
import { panelsOf, renderedDashboards, targetsOf } from '../support/grafana.js';
import { TYPED_PANELS, typeCheck } from '../support/grafana-types.js';

const dashboards = renderedDashboards();
const scratch = mkdtempSync(join(tmpdir(), 'spanledger-grafana-types-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// A counter series (the _total, _bucket, _sum and _count series of the spanledger metrics).
const COUNTER = /\bspanledger_\w+_(?:total|bucket|sum|count)\b/;
// rate(...[w]) / increase(...[w]) over one selector: function, window.
const RANGE_FN = /\b(rate|irate|increase|deriv)\(\s*\w+(?:\{[^}]*\})?\[([^\]]+)\]\)/g;
/** The counter's value where its series is newer than the window (lib/promql.libsonnet
 * increaseOver): `(S unless S offset W) or increase(S[W])`, the same S and W three times. */
const NEW_SERIES = /\((\w+(?:\{[^}]*\})?) unless \1 offset (\S+)\) or increase\(\1\[\2\]\)/g;
// A money series: a USD counter, the run-cost histogram's buckets or sum, a USD gauge.
const MONEY = /\bspanledger_\w*_usd(?:_total|_sum|_bucket)?\{/;
// Units of the Prometheus panels: dollars, counts, ratios, seconds.
const UNITS = new Set(['currencyUSD', 'short', 'percentunit', 's']);

const promTargets = (d: Dashboard) => targetsOf(d).filter((t) => t.language === 'promql');

describe("the dashboards against Grafana's types (@grafana/schema)", () => {
  it('type-check, every dashboard, panel option, field config and target', () => {
    expect([...dashboards.keys()].length).toBeGreaterThanOrEqual(4);
    for (const d of dashboards.values()) {
      for (const p of panelsOf(d)) expect(TYPED_PANELS, `${d.uid}: ${p.title}`).toContain(p.type);
    }
    const r = typeCheck(dashboards, mkdtempSync(join(scratch, 'ok-')));
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  }, 120_000);

  it('fail on a wrong field: an unknown key, an enum value Grafana does not have, a wrong type', () => {
    const [file, d] = [...dashboards][0] as [string, Dashboard];
    const stat = panelsOf(d).find((p) => p.type === 'stat');
    const timeseries = panelsOf(d).find((p) => p.type === 'timeseries');
    expect(stat).toBeDefined();
    expect(timeseries).toBeDefined();
    const broken = structuredClone(d) as Dashboard & Record<string, unknown>;
    broken.graphTooltip = 'shared';
    const panels = panelsOf(broken) as unknown as Array<Record<string, unknown>>;
    const bStat = panels.find((p) => p.type === 'stat') as { options: Record<string, unknown> };
    bStat.options.colorMode = 'rainbow';
    const bSeries = panels.find((p) => p.type === 'timeseries') as { gridPos: { w: unknown } };
    bSeries.gridPos.w = 'half';
    const bOther = panels.find((p) => p.type === 'table') as {
      fieldConfig: { defaults: Record<string, unknown> };
    };
    bOther.fieldConfig.defaults.units = 'short';
    const r = typeCheck(new Map([[file, broken]]), mkdtempSync(join(scratch, 'broken-')));
    expect(r.status).toBe(2);
    expect(r.output).toMatch(/Type 'string' is not assignable to type 'DashboardCursorSync'/);
    expect(r.output).toMatch(/'"units"' does not exist in type/);
    expect(r.output).toMatch(
      /'"rainbow"' is not assignable to type '"none" \| "value" \| "background" \| "background_solid"'/,
    );
    expect(r.output).toMatch(/'string' is not assignable to type 'number'/);
  }, 120_000);
});

describe('every dashboard (the dashboard linter’s rules)', () => {
  it('has a stable uid of its own (the file name) and a title of its own', () => {
    expect([...dashboards.keys()]).toEqual(
      expect.arrayContaining(['spanledger-agent-cost.json', 'spanledger-budgets.json']),
    );
    const uids = [...dashboards].map(([file, d]) => {
      expect(d.uid, file).toBe(file.replace(/\.json$/, ''));
      expect(d.uid, file).toMatch(/^spanledger-[a-z0-9-]+$/);
      // Grafana's limit on a uid.
      expect(d.uid.length, file).toBeLessThanOrEqual(40);
      expect(d.schemaVersion, file).toBe(39);
      return d.uid;
    });
    expect(new Set(uids).size).toBe(uids.length);
    const titles = [...dashboards.values()].map((d) => d.title);
    expect(new Set(titles).size).toBe(titles.length);
  });

  it('has both data source variables, and every panel and query goes through them', () => {
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
      for (const p of panelsOf(d)) {
        const where = `${file}: ${p.title}`;
        if (p.datasource !== undefined) {
          expect(p.datasource.uid, where).toBe(`\${${p.datasource.type}_datasource}`);
        }
        for (const t of p.targets ?? []) {
          expect(['prometheus', 'tempo'], where).toContain(t.datasource.type);
          expect(t.datasource.uid, where).toBe(`\${${t.datasource.type}_datasource}`);
        }
      }
    }
  });

  it('gives every template variable a data source, All and several values, and a reload on a time change', () => {
    let queried = 0;
    for (const [file, d] of dashboards) {
      for (const v of d.templating.list.filter((x) => x.type === 'query')) {
        const where = `${file}: $${v.name}`;
        expect(v, where).toMatchObject({
          datasource: { type: 'prometheus', uid: `\${prometheus_datasource}` },
          multi: true,
          includeAll: true,
          allValue: '.*',
          // 2: on a time range change, so a new team or model shows up without a reload.
          refresh: 2,
          query: { query: expect.stringMatching(/^label_values\(spanledger_\w+\{[^}]*\}, \w+\)$/) },
        });
        queried++;
      }
    }
    expect(queried).toBeGreaterThanOrEqual(7);
  });

  it('titles every panel uniquely within its dashboard, gives it an id of its own and a description', () => {
    for (const [file, d] of dashboards) {
      const panels = panelsOf(d);
      const titles = panels.map((p) => p.title);
      expect(
        titles.filter((t, i) => titles.indexOf(t) !== i),
        `${file}: repeated titles`,
      ).toEqual([]);
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size, `${file}: panel ids`).toBe(ids.length);
      for (const p of panels.filter((x) => x.type !== 'row')) {
        expect(p.title.trim(), file).not.toBe('');
        // A text panel's content is its own description.
        if (p.type === 'text') continue;
        expect((p as { description?: string }).description, `${file}: ${p.title}`).toMatch(/\S/);
      }
    }
  });

  it('gives every query panel targets with distinct refIds, and every panel a unit', () => {
    for (const [file, d] of dashboards) {
      for (const p of panelsOf(d).filter((x) => x.type !== 'row' && x.type !== 'text')) {
        const where = `${file}: ${p.title}`;
        const refIds = (p.targets ?? []).map((t) => (t as { refId?: string }).refId);
        expect(refIds.length, where).toBeGreaterThan(0);
        expect(new Set(refIds).size, where).toBe(refIds.length);
        const unit = p.fieldConfig?.defaults.unit;
        expect(unit, where).toMatch(/\S/);
        const prom = (p.targets ?? []).filter((t) => t.datasource.type === 'prometheus');
        if (prom.length > 0) expect(UNITS, where).toContain(unit);
        // Money is in dollars unless the panel divides it (a share, a duration) or counts series.
        for (const t of prom) {
          const expr = t.expr ?? '';
          if (MONEY.test(expr) && !/ \/ /.test(expr) && !expr.startsWith('count(')) {
            expect(unit, `${where}: ${expr}`).toBe('currencyUSD');
          }
        }
      }
    }
  });

  it('reads counters only as rates over $__rate_interval or increases over $__range, and never filters on one SDK', () => {
    let rates = 0;
    let increases = 0;
    for (const [file, d] of dashboards) {
      for (const { panel, query: expr, instant } of promTargets(d)) {
        const where = `${file}: ${panel.title}: ${expr}`;
        for (const [, fn, window] of expr.matchAll(RANGE_FN)) {
          if (fn === 'rate' || fn === 'irate') {
            expect(window, where).toBe('$__rate_interval');
            rates++;
          }
          if (fn === 'increase' && window === '$__interval') {
            // Money per period (daily bars): a range query whose panel sets the period.
            expect((panel as { interval?: string }).interval, where).toMatch(/^\d+[mhdw]$/);
            expect(instant, where).toBe(false);
          } else if (fn === 'increase') {
            expect(window, where).toBe('$__range');
            // Money over the range is one figure: an instant query.
            expect(instant, where).toBe(true);
            increases++;
          }
        }
        // A counter outside rate() or increase() would show its lifetime value; outside them it
        // may only stand for a series born inside the window, next to its increase.
        expect(expr.replace(NEW_SERIES, '').replace(RANGE_FN, ''), where).not.toMatch(COUNTER);
        // Any emitter that writes the metric names is welcome: no filter on one SDK.
        expect(expr, where).not.toMatch(/telemetry_sdk/);
      }
      for (const { panel, query } of targetsOf(d).filter((t) => t.language === 'traceql')) {
        expect(query, `${file}: ${panel.title}`).not.toMatch(/telemetry\.sdk/);
      }
      for (const v of d.templating.list)
        expect(JSON.stringify(v.query ?? ''), file).not.toMatch(/telemetry_sdk/);
    }
    expect(rates).toBeGreaterThan(10);
    expect(increases).toBeGreaterThan(10);
  });

  it('lays its panels out on the 24-column grid without overlaps', () => {
    for (const [file, d] of dashboards) {
      const cells = new Set<string>();
      for (const p of panelsOf(d) as Array<{
        title: string;
        gridPos?: Record<'x' | 'y' | 'w' | 'h', number>;
      }>) {
        const g = p.gridPos;
        expect(g, `${file}: ${p.title}`).toBeDefined();
        if (g === undefined) continue;
        expect(g.x + g.w, `${file}: ${p.title}`).toBeLessThanOrEqual(24);
        for (let x = g.x; x < g.x + g.w; x++) {
          for (let y = g.y; y < g.y + g.h; y++) {
            expect(cells.has(`${x},${y}`), `${file}: ${p.title} overlaps at ${x},${y}`).toBe(false);
            cells.add(`${x},${y}`);
          }
        }
      }
    }
  });
});
