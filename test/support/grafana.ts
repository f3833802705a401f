/**
 * The committed dashboards (dashboards/rendered/dashboards/*.json, docs/dashboards.md) as Grafana
 * reads them: their panels (rows flattened), every query target, Grafana's variables replaced as
 * Grafana replaces them before a query reaches Prometheus or Tempo, and the Prometheus HTTP API
 * queries a panel makes (instant for a table or stat target, range for a time series).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dashboard, Panel } from './dashboards.js';
import { RENDERED_DIR } from './dashboards.js';

/** Where the rendered dashboards are committed. */
export const RENDERED_DASHBOARDS = join(RENDERED_DIR, 'dashboards');

/** A panel as the tests read it: a row may hold collapsed panels of its own. */
export type GrafanaPanel = Panel & { id?: number; panels?: GrafanaPanel[] };

/** A query target of a panel, in its language. */
export interface Target {
  panel: GrafanaPanel;
  refId: string;
  language: 'promql' | 'traceql';
  /** The query as written in the dashboard (variables not replaced). */
  query: string;
  /** Grafana sends it as an instant query (a stat or a table), else as a range query. */
  instant: boolean;
}

/** The committed rendered dashboards, by file name. */
export function renderedDashboards(): Map<string, Dashboard> {
  const out = new Map<string, Dashboard>();
  for (const f of readdirSync(RENDERED_DASHBOARDS)
    .filter((x) => x.endsWith('.json'))
    .sort()) {
    out.set(f, JSON.parse(readFileSync(join(RENDERED_DASHBOARDS, f), 'utf8')) as Dashboard);
  }
  return out;
}

/** Every panel of a dashboard, the panels of collapsed rows included; rows themselves too. */
export function panelsOf(d: Dashboard): GrafanaPanel[] {
  return (d.panels as GrafanaPanel[]).flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Every query target of a dashboard. */
export function targetsOf(d: Dashboard): Target[] {
  return panelsOf(d).flatMap((panel) =>
    (panel.targets ?? []).map((t) => {
      const raw = t as typeof t & { refId?: string };
      const promql = t.datasource.type === 'prometheus';
      return {
        panel,
        refId: raw.refId ?? '',
        language: promql ? ('promql' as const) : ('traceql' as const),
        query: (promql ? t.expr : t.query) ?? '',
        instant: t.instant === true,
      };
    }),
  );
}

/** What Grafana knows when it replaces the variables of a query. */
export interface QueryContext {
  /** The dashboard's time range, in seconds (`$__range`). */
  rangeSeconds: number;
  /** `$__interval` in seconds: the range over the panel's data points, at least the scrape
   * interval. */
  intervalSeconds: number;
  /** The Prometheus data source's scrape interval (Grafana's default: 15 s). */
  scrapeSeconds?: number;
  /** Chosen values of the template variables; a variable not named here is at All. */
  values?: Record<string, string[]>;
}

/** Grafana's `$__rate_interval`: max(`$__interval` + scrape interval, 4 × scrape interval). */
export function rateIntervalSeconds(ctx: QueryContext): number {
  const scrape = ctx.scrapeSeconds ?? 15;
  return Math.max(ctx.intervalSeconds + scrape, 4 * scrape);
}

const REGEX_SPECIAL = /[\\^$*+?.()|{}[\]]/g;

/** A variable's value for a `=~` matcher or a TraceQL `=~`: All is the variable's `allValue`
 * (`.*`), one value is itself regex-escaped, several are `(a|b)`. A metacharacter is escaped
 * with a backslash that is itself escaped in the query's string literal (`\\.`), as the
 * Prometheus data source does: PromQL and TraceQL strings both take `\\` for a backslash. */
function regexValue(values: string[] | undefined, allValue: string): string {
  if (values === undefined) return allValue;
  const escaped = values.map((v) => v.replace(REGEX_SPECIAL, '\\\\$&'));
  return escaped.length === 1 ? (escaped[0] as string) : `(${escaped.join('|')})`;
}

/**
 * The query as Grafana sends it: `$__range`, `$__rate_interval` and `$__interval` as durations in
 * seconds, and every `$var`, `${var}`, `${var:format}` and `[[var]]` of the dashboard's template
 * variables at the chosen values (All: the variable's `allValue`, `.*` in the mixin). A variable
 * the dashboard does not define is left as it is, so a check on `$` finds it.
 */
export function interpolate(query: string, d: Dashboard, ctx: QueryContext): string {
  const vars = new Map(
    d.templating.list.map((v) => [v.name, v as typeof v & { allValue?: string }]),
  );
  const builtins: Record<string, string> = {
    __range: `${Math.round(ctx.rangeSeconds)}s`,
    __range_s: String(Math.round(ctx.rangeSeconds)),
    __rate_interval: `${rateIntervalSeconds(ctx)}s`,
    __interval: `${ctx.intervalSeconds}s`,
  };
  return query.replace(
    /\$\{(\w+)(?::\w+)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)/g,
    (whole, a: string | undefined, b: string | undefined, c: string | undefined) => {
      const name = (a ?? b ?? c) as string;
      const builtin = builtins[name];
      if (builtin !== undefined) return builtin;
      const v = vars.get(name);
      if (v === undefined || v.type === 'datasource') return whole;
      return regexValue(ctx.values?.[name], v.allValue ?? '.*');
    },
  );
}

/** One series of a Prometheus answer: its labels and its values (a range query has many). */
export interface Series {
  labels: Record<string, string>;
  values: number[];
}

interface PromAnswer {
  status: string;
  error?: string;
  data?: {
    resultType: 'vector' | 'matrix' | 'scalar';
    result: Array<{
      metric?: Record<string, string>;
      value?: [number, string];
      values?: [number, string][];
    }>;
  };
}

/** An instant query (at `time`, seconds since the epoch) or a range query (`start` to `time`,
 * every `step` seconds) against the Prometheus HTTP API; throws on an error answer. */
export async function promSeries(
  url: string,
  query: string,
  at: { time: number; start?: number; step?: number },
): Promise<Series[]> {
  const params = new URLSearchParams({ query });
  let path = '/api/v1/query';
  if (at.start === undefined) {
    params.set('time', String(at.time));
  } else {
    path = '/api/v1/query_range';
    params.set('start', String(at.start));
    params.set('end', String(at.time));
    params.set('step', String(at.step ?? 15));
  }
  const res = await fetch(`${url}${path}?${params}`);
  const body = (await res.json()) as PromAnswer;
  if (body.status !== 'success' || body.data === undefined) {
    throw new Error(`${query}: ${body.error ?? body.status}`);
  }
  return body.data.result.map((r) => ({
    labels: r.metric ?? {},
    values: (r.values ?? (r.value ? [r.value] : [])).map(([, v]) => Number(v)),
  }));
}
