/**
 * The monitoring mixin (dashboards/, docs/dashboards.md): the committed rendered files are what
 * the jsonnet renders, and the jsonnet is formatted and lint-clean. The rules every dashboard
 * keeps (Grafana's types, the dashboard linter's rules) are checked on those committed files in
 * schema.test.ts, their queries in queries.test.ts.
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
  staleFiles,
} from '../support/dashboards.js';
import { renderedDashboards } from '../support/grafana.js';
import { isCI } from '../support/tools.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
let tools: JsonnetTools;

beforeAll(() => {
  tools = ensureJsonnet();
  if (tools.path === undefined) {
    if (isCI) throw new Error(`jsonnet is not available: ${tools.reason} (CI=true: no skip)`);
    console.warn(`jsonnet is not available (${tools.reason}): the mixin tests are skipped`);
  }
}, 300_000);

/** The tools, or skip this test (never under CI, where beforeAll has thrown). */
function need(ctx: { skip: () => void }): Extract<JsonnetTools, { path: string }> {
  if (tools.path === undefined) ctx.skip();
  return tools as Extract<JsonnetTools, { path: string }>;
}

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
      expect(Object.keys(composed).sort()).toEqual([...renderedDashboards().keys()].sort());
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
