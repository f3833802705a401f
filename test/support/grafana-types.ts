/**
 * Type-checks dashboard JSON against Grafana's own types (`@grafana/schema`, the types Grafana's
 * frontend builds its dashboard model from): one TypeScript file per dashboard declares the
 * whole JSON `satisfies` the `Dashboard` type, each panel's options and field config `satisfies`
 * its panel plugin's `Options` and `FieldConfig`, and each target `satisfies` `DataQuery`; then
 * `tsc --noEmit` with strict options runs over them in a scratch directory. Object literals
 * under `satisfies` get TypeScript's excess-property check, so a misspelt or unknown field fails
 * as surely as a wrong type.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ROOT } from './built.js';
import type { Dashboard } from './dashboards.js';
import { type GrafanaPanel, panelsOf } from './grafana.js';

const require = createRequire(import.meta.url);

/** The panel plugins whose option types `@grafana/schema` ships, by panel type: the module
 * (its exported `Options`) and whether it has a `FieldConfig` of its own. */
const PANEL_TYPES: Record<string, { module: string; fieldConfig: boolean }> = {
  stat: { module: 'stat/panelcfg/x/StatPanelCfg_types.gen', fieldConfig: false },
  table: { module: 'table/panelcfg/x/TablePanelCfg_types.gen', fieldConfig: true },
  timeseries: { module: 'timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen', fieldConfig: true },
  bargauge: { module: 'bargauge/panelcfg/x/BarGaugePanelCfg_types.gen', fieldConfig: false },
  text: { module: 'text/panelcfg/x/TextPanelCfg_types.gen', fieldConfig: false },
};

/** Panel types the check knows (a row has no options). */
export const TYPED_PANELS = new Set([...Object.keys(PANEL_TYPES), 'row']);

// JSON spells an enum member by its value: `"absolute"` for `ThresholdsMode.Absolute`. `Json<T>`
// is T with every string enum widened to the union of its values (a template literal type), and
// every field optional: Grafana's generated types make a field with a schema default required,
// and Grafana fills such a field in when it loads a dashboard (a stat panel's `justifyMode`, a
// link's `icon`). Names and value types stay Grafana's.
const PRELUDE = `type Json<T> = T extends string
  ? \`\${T}\`
  : T extends ReadonlyArray<infer U>
    ? Array<Json<U>>
    : T extends object
      ? { [K in keyof T]?: Json<T[K]> }
      : T;
`;

const ident = (s: string) => s.replace(/\W/g, '_');

/** The TypeScript source that type-checks one dashboard. */
export function dashboardSource(d: Dashboard): string {
  const lines = [
    "import type { DataQuery, Dashboard } from '@grafana/schema';",
    ...Object.entries(PANEL_TYPES).map(
      ([type, t]) =>
        `import type * as ${ident(type)} from '@grafana/schema/dist/esm/raw/composable/${t.module}';`,
    ),
    PRELUDE,
    `export const dashboard = ${JSON.stringify(d, null, 2)} satisfies Json<Dashboard>;`,
  ];
  panelsOf(d).forEach((p: GrafanaPanel & { options?: unknown }, i) => {
    const t = PANEL_TYPES[p.type];
    const name = `panel${i}_${ident(p.title)}`;
    if (t !== undefined && p.options !== undefined) {
      lines.push(
        `export const ${name}_options = ${JSON.stringify(p.options)} satisfies Json<${ident(p.type)}.Options>;`,
      );
    }
    const custom = (p.fieldConfig?.defaults as { custom?: unknown } | undefined)?.custom;
    if (t?.fieldConfig && custom !== undefined) {
      lines.push(
        `export const ${name}_custom = ${JSON.stringify(custom)} satisfies Json<${ident(p.type)}.FieldConfig>;`,
      );
    }
    (p.targets ?? []).forEach((target, j) => {
      lines.push(
        `export const ${name}_target${j} = ${JSON.stringify(target)} satisfies Json<DataQuery> & Record<string, unknown>;`,
      );
    });
  });
  return `${lines.join('\n')}\n`;
}

/** Writes one file per dashboard into `dir` and runs `tsc --noEmit` over them: its exit status
 * and output (`file(line,col): error TS...` lines). */
export function typeCheck(
  dashboards: ReadonlyMap<string, Dashboard>,
  dir: string,
): { status: number | null; output: string } {
  const schema = dirname(realpathSync(require.resolve('@grafana/schema/package.json')));
  mkdirSync(join(dir, 'node_modules', '@grafana'), { recursive: true });
  symlinkSync(schema, join(dir, 'node_modules', '@grafana', 'schema'), 'dir');
  const files: string[] = [];
  for (const [file, d] of dashboards) {
    const ts = `${file.replace(/\.json$/, '')}.ts`;
    writeFileSync(join(dir, ts), dashboardSource(d));
    files.push(ts);
  }
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'ESNext',
        moduleResolution: 'Bundler',
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        noEmit: true,
        // Grafana's own declaration files are not ours to check; every use of them is.
        skipLibCheck: true,
        types: [],
      },
      files,
    }),
  );
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', dir, '--pretty', 'false'], {
    cwd: dir,
    encoding: 'utf8',
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
