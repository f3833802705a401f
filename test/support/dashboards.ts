/**
 * Typed access to `scripts/dashboards.mjs` (plain JS so that `npm run dashboards` runs it without
 * a TypeScript loader): jsonnet installed into the Go tools cache, and the mixin's rendering.
 */

/** What `ensureJsonnet()` gives: the three binaries, or why there are none. */
export type JsonnetTools =
  | { path: string; jsonnetfmt: string; jsonnetLint: string; reason?: undefined }
  | { path: undefined; reason: string };

interface DashboardsScript {
  JSONNET_VERSION: string;
  MIXIN_DIR: string;
  RENDERED_DIR: string;
  ensureJsonnet(): JsonnetTools;
  renderMixin(jsonnet: string): Map<string, string>;
  staleFiles(jsonnet: string): string[];
  jsonnetFiles(dir?: string): string[];
  formatProblems(jsonnetfmt: string): string[];
  lintProblems(jsonnetLint: string): string[];
}

// A URL specifier keeps TypeScript from looking for declarations of the .mjs module.
const script = (await import(
  new URL('../../scripts/dashboards.mjs', import.meta.url).href
)) as DashboardsScript;

export const {
  JSONNET_VERSION,
  MIXIN_DIR,
  RENDERED_DIR,
  ensureJsonnet,
  renderMixin,
  staleFiles,
  jsonnetFiles,
  formatProblems,
  lintProblems,
} = script;

/** A Grafana panel as the mixin renders it (the parts the tests read). */
export interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Array<{
    datasource: { type: string; uid: string };
    expr?: string;
    query?: string;
    instant?: boolean;
  }>;
  fieldConfig?: { defaults: { unit?: string } };
}

/** A rendered dashboard (the parts the tests read). */
export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: {
    list: Array<{
      name: string;
      type: string;
      query: unknown;
      multi?: boolean;
      includeAll?: boolean;
    }>;
  };
  panels: Panel[];
}

/** The mixin's dashboards, by file name, rendered fresh. */
export function renderDashboards(jsonnet: string): Map<string, Dashboard> {
  const out = new Map<string, Dashboard>();
  for (const [path, text] of renderMixin(jsonnet)) {
    if (path.startsWith('dashboards/')) out.set(path.slice('dashboards/'.length), JSON.parse(text));
  }
  return out;
}

/** Every PromQL expression of a dashboard, with its panel. */
export function promExpressions(d: Dashboard): Array<{ panel: Panel; expr: string }> {
  return d.panels.flatMap((panel) =>
    (panel.targets ?? [])
      .filter((t) => t.datasource.type === 'prometheus' && t.expr !== undefined)
      .map((t) => ({ panel, expr: t.expr as string })),
  );
}
