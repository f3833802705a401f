/**
 * Hand-made cost, tokens and cache savings samples served by a real Prometheus 3: written as
 * OpenMetrics, turned into TSDB blocks by `promtool tsdb create-blocks-from openmetrics`, then
 * served with a retention long enough to keep them. test/finance/prometheus.test.ts computes
 * every figure of readEstimates from them by hand; test/cli/showback.test.ts runs the commands
 * of docs/finance.md against them. The samples fall around the end of summer time in Paris
 * (2025-10-26 is 25 hours long there).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePrometheus, required, startPrometheus } from './collector.js';

const t = (iso: string) => Date.parse(iso) / 1000;

const common = 'job="svc",cluster="prod"';
const A = `${common},spanledger_team="alpha",spanledger_tenant="acme",gen_ai_provider_name="openai",gen_ai_request_model="gpt-4o"`;
/** The series and their samples, by series selector. */
export const SERIES: Record<string, Array<[string, number]>> = {
  // Baseline 12 an hour before the range (Paris); a sample exactly at local midnight (the
  // range's start, so in it); the last minute of 25 October; 02:30 twice on the 26th (summer
  // time, then winter time); a reset (16 → 2); local midnight of the 27th; a sample exactly at
  // the range's end (not in it).
  [`spanledger_cost_usd_total{${A},spanledger_cost_category="llm"}`]: [
    ['2025-10-24T21:00:00Z', 12],
    ['2025-10-24T22:00:00Z', 12.5],
    ['2025-10-25T21:59:00Z', 13.5],
    ['2025-10-25T22:00:00Z', 14],
    ['2025-10-26T00:30:00Z', 15],
    ['2025-10-26T01:30:00Z', 16],
    ['2025-10-26T22:30:00Z', 2],
    ['2025-10-26T23:00:00Z', 3],
    ['2025-10-27T23:00:00Z', 100],
  ],
  // Born in the range with no tenant: its first value counts, and it is unallocated.
  [`spanledger_cost_usd_total{${common},spanledger_team="beta",gen_ai_provider_name="openai",gen_ai_request_model="gpt-4o",spanledger_cost_category="llm"}`]:
    [
      ['2025-10-26T12:00:00Z', 0.25],
      ['2025-10-27T12:00:00Z', 0.75],
    ],
  // A tool's cost: no provider, no model.
  [`spanledger_cost_usd_total{${common},spanledger_team="alpha",spanledger_tenant="acme",spanledger_cost_category="tool"}`]:
    [['2025-10-25T10:00:00Z', 2]],
  // Its baseline is six days before the range: found by walking back a day at a time.
  [`spanledger_cost_usd_total{${common},spanledger_team="gamma",spanledger_tenant="initech",gen_ai_provider_name="anthropic",gen_ai_request_model="claude-sonnet-4",spanledger_cost_category="llm"}`]:
    [
      ['2025-10-19T12:00:00Z', 5],
      ['2025-10-25T12:00:00Z', 7.5],
    ],
  // Only before the range: nothing.
  [`spanledger_cost_usd_total{${common},spanledger_team="delta",spanledger_cost_category="llm"}`]: [
    ['2025-10-23T00:00:00Z', 50],
  ],
  // Another cluster: left out by --selector cluster="prod".
  'spanledger_cost_usd_total{job="svc",cluster="dev",spanledger_team="alpha",spanledger_cost_category="llm"}':
    [['2025-10-25T12:00:00Z', 1000]],
  [`spanledger_tokens_total{${A},gen_ai_token_type="input"}`]: [
    ['2025-10-24T21:00:00Z', 100],
    ['2025-10-25T12:00:00Z', 1100],
  ],
  [`spanledger_tokens_total{${A},gen_ai_token_type="output"}`]: [['2025-10-25T12:00:00Z', 50]],
  [`spanledger_cache_savings_usd_total{${A}}`]: [['2025-10-25T12:00:00Z', 0.125]],
};

/** The samples as OpenMetrics text: one family per counter, each series' samples in order. */
function openMetrics(): string {
  const families = new Map<string, string[]>();
  for (const [series, samples] of Object.entries(SERIES)) {
    const name = series.slice(0, series.indexOf('{'));
    const lines = families.get(name) ?? [];
    for (const [at, v] of samples) lines.push(`${series} ${v} ${t(at)}`);
    families.set(name, lines);
  }
  const out: string[] = [];
  for (const [name, lines] of families) {
    out.push(`# TYPE ${name.replace(/_total$/, '')} counter`, ...lines);
  }
  return `${out.join('\n')}\n# EOF\n`;
}

/** A Prometheus serving {@link SERIES}; undefined where Prometheus is not available (a skip
 * locally, a failure under CI=true). */
export async function startSamplePrometheus(): Promise<
  { url: string; stop(): Promise<void> } | undefined
> {
  const provisioned = ensurePrometheus();
  const binary = required('Prometheus', provisioned);
  if (binary === undefined || provisioned.path === undefined) return undefined;
  const tmp = mkdtempSync(join(tmpdir(), 'spanledger-showback-samples-'));
  try {
    const file = join(tmp, 'samples.om');
    writeFileSync(file, openMetrics());
    const data = join(tmp, 'data');
    execFileSync(
      provisioned.promtool as string,
      ['tsdb', 'create-blocks-from', 'openmetrics', file, data],
      { stdio: 'pipe' },
    );
    const prom = await startPrometheus({
      binary,
      config: 'global: {}\n',
      dataDir: data,
      args: ['--storage.tsdb.retention.time=100y'],
    });
    return {
      url: prom.url,
      async stop() {
        await prom.stop();
        rmSync(tmp, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
