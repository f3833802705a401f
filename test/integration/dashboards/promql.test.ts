/**
 * Every PromQL expression of the mixin's dashboards is one Prometheus 3 accepts: each is sent,
 * with Grafana's variables replaced as Grafana would (`$__rate_interval`, `$__range`, filters
 * at All), to a real Prometheus (scripts/collector.mjs) and must evaluate without an error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensurePrometheus,
  required,
  type StartedPrometheus,
  startPrometheus,
} from '../../support/collector.js';
import { ensureJsonnet, promExpressions, renderDashboards } from '../../support/dashboards.js';
import { isCI } from '../../support/tools.js';

let prometheus: StartedPrometheus | undefined;
const expressions: Array<{ where: string; expr: string }> = [];

beforeAll(async () => {
  const jsonnet = ensureJsonnet();
  if (jsonnet.path === undefined) {
    if (isCI) throw new Error(`jsonnet is not available: ${jsonnet.reason} (CI=true: no skip)`);
    return;
  }
  const binary = required('Prometheus', ensurePrometheus());
  if (binary === undefined) return;
  for (const [file, d] of renderDashboards(jsonnet.path)) {
    for (const { panel, expr } of promExpressions(d))
      expressions.push({ where: `${file}: ${panel.title}`, expr });
  }
  prometheus = await startPrometheus({ binary, config: 'global: {}\n' });
});

afterAll(async () => {
  await prometheus?.stop();
});

/** The expression as Grafana sends it: a range of 1 day (86400 s), a rate interval of 4 minutes,
 * an interval of 1 day (the daily bars), every filter variable at All (`.*`). */
function interpolate(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '4m')
    .replaceAll('$__interval', '1d')
    .replaceAll('$__range_s', '86400')
    .replaceAll('$__range', '1d')
    .replace(/\$\{?\w+(?::\w+)?\}?/g, '.*');
}

describe('the dashboards PromQL', () => {
  it('evaluates on Prometheus 3, every expression', async (ctx) => {
    if (prometheus === undefined) ctx.skip();
    const url = prometheus?.url as string;
    expect(expressions.length).toBeGreaterThan(20);
    for (const { where, expr } of expressions) {
      const q = interpolate(expr);
      expect(q, where).not.toContain('$');
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(q)}`);
      const body = (await res.json()) as { status: string; error?: string };
      expect({ where, status: body.status, error: body.error }).toEqual({
        where,
        status: 'success',
        error: undefined,
      });
    }
  });
});
