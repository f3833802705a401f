/**
 * The monitoring mixin (dashboards/, docs/dashboards.md): the committed rendered files are what
 * the jsonnet renders, and the jsonnet is formatted and lint-clean. The rules every dashboard
 * keeps (Grafana's types, the dashboard linter's rules) are checked on those committed files in
 * schema.test.ts, their queries in queries.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ensureJsonnet,
  formatProblems,
  type JsonnetTools,
  lintProblems,
  staleFiles,
} from '../support/dashboards.js';
import { isCI } from '../support/tools.js';

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
