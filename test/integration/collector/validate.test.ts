/**
 * Every collector config of `collector-config/`, alone and with each overlay combination users
 * are told to run, passes `otelcol validate` with the distribution built from
 * `collector-config/builder.yaml` (components, OTTL statements and conditions, the pipeline
 * graph), with the defaults of every `${env:...}` knob. The distribution has exactly the
 * components the configs use.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { extractSnippets } from '../../docs/extract.js';
import { ROOT } from '../../support/built.js';
import { ensureCollector, required } from '../../support/collector.js';

const dir = join(ROOT, 'collector-config');
const file = (name: string) => join(dir, name);

/** The combinations docs/operations.md tells users to run. */
const COMBINATIONS: string[][] = [
  ['agent.yaml'],
  ['gateway.yaml'],
  ['gateway.yaml', 'prometheus-scrape.yaml'],
  ['gateway.yaml', 'traces-file.yaml'],
  ['gateway.yaml', 'prometheus-scrape.yaml', 'traces-file.yaml'],
  ['agent.yaml', 'gateway.yaml', 'standalone.yaml'],
  ['agent.yaml', 'gateway.yaml', 'standalone.yaml', 'prometheus-scrape.yaml'],
  ['agent.yaml', 'gateway.yaml', 'standalone.yaml', 'traces-file.yaml'],
];

let binary: string | undefined;
let scratch: string;

/** `validate` with no SPANLEDGER_* variable set: the configs' defaults. */
function validate(configs: string[]): { status: number | null; output: string } {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SPANLEDGER_')) env[k] = v;
  const r = spawnSync(binary as string, ['validate', ...configs.flatMap((c) => ['--config', c])], {
    encoding: 'utf8',
    env,
    cwd: scratch,
    timeout: 60_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const yamlOf = (name: string) =>
  parseYaml(readFileSync(file(name), 'utf8')) as Record<string, Record<string, unknown>>;

beforeAll(() => {
  binary = required('the collector', ensureCollector());
  scratch = mkdtempSync(join(tmpdir(), 'spanledger-validate-'));
}, 1_800_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('collector-config', () => {
  for (const configs of COMBINATIONS) {
    it(`${configs.join(' + ')} passes validate`, (ctx) => {
      if (!binary) return ctx.skip();
      const r = validate(configs.map(file));
      expect(r.output).not.toMatch(/error/i);
      expect(r.status).toBe(0);
    });
  }

  it('validate does reject a broken statement, naming it', (ctx) => {
    if (!binary) return ctx.skip();
    // A misspelt OTTL function in the normalisation: the kind of mistake an edit makes.
    const broken = join(scratch, 'broken.yaml');
    writeFileSync(
      broken,
      readFileSync(file('agent.yaml'), 'utf8').replace(
        'set(span.attributes["spanledger.cost.status"], "priced")',
        'sett(span.attributes["spanledger.cost.status"], "priced")',
      ),
    );
    const r = validate([broken]);
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/transform\/normalize/);
    expect(r.output).toMatch(/sett/);
  });

  it('docs/operations.md: the statements that add an emitter fit into agent.yaml', (ctx) => {
    if (!binary) return ctx.skip();
    const doc = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
    const snippet = extractSnippets('docs/operations.md', doc).find(
      (s) => s.directive.name === 'operations-add-emitter',
    );
    expect(snippet).toBeDefined();
    const agent = readFileSync(file('agent.yaml'), 'utf8');
    const marker = '          # Token counts';
    expect(agent).toContain(marker);
    const indented = (snippet?.code ?? '')
      .trimEnd()
      .split('\n')
      .map((l) => `          ${l}`)
      .join('\n');
    const withEmitter = join(scratch, 'agent-with-emitter.yaml');
    writeFileSync(withEmitter, agent.replace(marker, `${indented}\n${marker}`));
    expect(readFileSync(withEmitter, 'utf8')).toContain('acme.llm.cost_usd');
    const r = validate([withEmitter]);
    expect(r.output).not.toMatch(/error/i);
    expect(r.status).toBe(0);
  });

  it('the distribution has exactly the components the configs use', (ctx) => {
    if (!binary) return ctx.skip();
    const r = spawnSync(binary, ['components'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const built = parseYaml(r.stdout) as Record<string, { name: string }[] | unknown>;
    const kinds = ['receivers', 'processors', 'exporters', 'connectors', 'extensions'] as const;
    const inBuild = new Set<string>();
    for (const kind of kinds) {
      for (const c of (built[kind] as { name: string }[] | undefined) ?? []) {
        inBuild.add(`${kind}:${c.name}`);
      }
    }
    const used = new Set<string>();
    for (const name of [
      'agent.yaml',
      'gateway.yaml',
      'prometheus-scrape.yaml',
      'traces-file.yaml',
      'standalone.yaml',
    ]) {
      const config = yamlOf(name);
      for (const kind of kinds) {
        for (const id of Object.keys(config[kind] ?? {})) {
          used.add(`${kind}:${id.split('/')[0]}`);
        }
      }
    }
    expect([...inBuild].sort()).toEqual([...used].sort());
  });

  it('the standalone intake runs the agent’s processors, in the agent’s order', () => {
    type Pipelines = Record<string, { processors: string[] } | undefined>;
    const pipelines = (name: string) =>
      (yamlOf(name).service as { pipelines: Pipelines }).pipelines;
    const agent = pipelines('agent.yaml');
    const standalone = pipelines('standalone.yaml');
    expect(standalone['traces/intake']?.processors).toEqual(agent.traces?.processors);
    expect(standalone.metrics?.processors).toEqual(agent.metrics?.processors);
  });
});
