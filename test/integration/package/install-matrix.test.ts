/**
 * The install matrix, as a user meets it: the packed package (`npm pack` of the built repo) is
 * installed with real `npm install` commands into fresh projects, on each OpenTelemetry JS line
 * and Node version the README names, and then runs there.
 *
 * Rows (each install also names `openai@6.30.1`, the client the apps call, which runs on both
 * Node lines):
 * - Node 24, 3.x line: the README's command, `<tgz> @opentelemetry/api@1.10.0
 *   @opentelemetry/sdk-node@0.301.0`; npm installs the peers it does not name at versions whose
 *   `engines` fit the running Node;
 * - Node 20, 2.x line: `<tgz> @opentelemetry/api@1.9.1 @opentelemetry/sdk-node@0.223.0`;
 * - Node 24, 2.x line: the same with every 2.x peer named, as the README tells;
 * - Node 24, 2.x line, peers not named: npm refuses with ERESOLVE, picking the 3.x
 *   `@opentelemetry/instrumentation` whose peer `@opentelemetry/api` range excludes 1.9.1. This is
 *   the conflict the README explains; the row keeps that explanation from going stale.
 *
 * Each installed project must have installed cleanly (no ERESOLVE, no `npm error`), hold only its
 * row's line (`npm ls --all`: one `@opentelemetry/api`, every other OTel package of the line), and
 * run two apps priced exactly, exported over OTLP to a local receiver, against the mock OpenAI
 * provider: the README's "With your own NodeSDK" setup (test/fixtures/install/telemetry.mjs) and
 * `node --import spanledger/register`, both around the same app (test/fixtures/install/app.mjs:
 * one `agent run` span around two chat calls). `telemetry.sdk.version` on what they export shows
 * which line actually ran.
 *
 * Under CI=true a Node that cannot be had (Node 24 from .tools/node24, a Node 20 on PATH) fails
 * the test; locally its rows are skipped with the reason.
 */
import { execFileSync } from 'node:child_process';
import {
  accessSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ProcessRun, runProcess } from '../../support/apps.js';
import { ensureBuilt, ROOT } from '../../support/built.js';
import {
  type MockProviders,
  OPENAI_DEFAULTS,
  startMockProviders,
} from '../../support/mock-providers.js';
import {
  type OtlpReceiver,
  type ReceivedSpan,
  startOtlpReceiver,
} from '../../support/otlp-receiver.js';
import { ensureNode24, isCI } from '../../support/tools.js';

/** The `openai` client the apps call; installed in the same command as spanledger. */
const OPENAI = 'openai@6.30.1';

/** The 2.x peers to name on Node >= 22, where npm otherwise picks the 3.x ones (their `engines`
 * fit): the README's 2.x command on a current Node. */
const PEERS_2X = [
  '@opentelemetry/sdk-trace@2.12.1',
  '@opentelemetry/resources@2.12.1',
  '@opentelemetry/instrumentation@0.223.0',
  '@opentelemetry/instrumentation-openai@0.21.0',
  '@opentelemetry/instrumentation-http@0.223.0',
  '@opentelemetry/instrumentation-undici@0.33.0',
];

/** What every OTel package of one line looks like in `npm ls`. */
interface Line {
  /** The major of the stable packages (core, sdk-trace, resources, sdk-metrics, ...), which
   * is also `telemetry.sdk.version`'s. */
  major: string;
  /** The versions of the experimental packages (sdk-node, instrumentation, the exporters). */
  experimental: RegExp;
  /** The contrib packages, versioned on their own. */
  contrib: Record<string, RegExp>;
}

const LINES: Record<'2.x' | '3.x', Line> = {
  '3.x': {
    major: '3',
    experimental: /^0\.30\d\./,
    contrib: {
      '@opentelemetry/instrumentation-openai': /^0\.22\./,
      '@opentelemetry/instrumentation-undici': /^0\.34\./,
    },
  },
  '2.x': {
    major: '2',
    experimental: /^0\.2\d\d\./,
    contrib: {
      '@opentelemetry/instrumentation-openai': /^0\.21\./,
      '@opentelemetry/instrumentation-undici': /^0\.33\./,
    },
  },
};

interface Row {
  title: string;
  node: 'node20' | 'node24';
  line: keyof typeof LINES;
  /** The one `@opentelemetry/api` version the project must hold. */
  api: string;
  /** What `npm install <tgz>` is given after the tarball. */
  packages: string[];
}

const ROWS: Row[] = [
  {
    title: 'Node 24, 3.x line',
    node: 'node24',
    line: '3.x',
    api: '1.10.0',
    packages: ['@opentelemetry/api@1.10.0', '@opentelemetry/sdk-node@0.301.0', OPENAI],
  },
  {
    title: 'Node 20, 2.x line',
    node: 'node20',
    line: '2.x',
    api: '1.9.1',
    packages: ['@opentelemetry/api@1.9.1', '@opentelemetry/sdk-node@0.223.0', OPENAI],
  },
  {
    title: 'Node 24, 2.x line, every 2.x peer named',
    node: 'node24',
    line: '2.x',
    api: '1.9.1',
    packages: ['@opentelemetry/api@1.9.1', '@opentelemetry/sdk-node@0.223.0', ...PEERS_2X, OPENAI],
  },
];

// app.mjs makes CALLS chat calls; the mock answers each with OPENAI_DEFAULTS' usage (gpt-4o,
// 1200 input of which 1024 cached, 300 output), priced at OpenAI's list price for gpt-4o:
// $2.50 input, $1.25 cached input, $10 output per MTok.
const CALLS = 2;
const CALL_USD =
  ((OPENAI_DEFAULTS.prompt - OPENAI_DEFAULTS.cached) * 2.5 +
    OPENAI_DEFAULTS.cached * 1.25 +
    OPENAI_DEFAULTS.completion * 10) /
  1e6;

/** The Node binaries by row kind; a missing one is the reason instead. */
const nodes: Partial<Record<Row['node'], string>> = {};
const missingNode: Partial<Record<Row['node'], string>> = {};
let work = '';
let tarball = '';
let mock: MockProviders;

/** The 2.x install on Node 24 without the 2.x peers named: npm must refuse it. */
const UNNAMED_2X = ['@opentelemetry/api@1.9.1', '@opentelemetry/sdk-node@0.223.0', OPENAI];

/** One project's `npm install`, with the Node that npm ran on. */
interface Installed {
  node: string;
  project: string;
  install: NpmRun;
  /** `node --version` of the first node on npm's PATH. */
  nodeVersion: string;
}

/** The installs, started together once the package is packed (npm spends most of an install
 * waiting on the disk and the registry), each awaited by its row. */
const installs = new Map<string, Promise<Installed>>();

/** Where the projects go: memory (/dev/shm) where there is one. Each install writes some 17,000
 * files, and deleting them from a disk mounted with `discard` takes longer than the installs. */
function scratchRoot(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

/** This process's Node if it is Node 20, else the first Node 20 on PATH (`npm test` puts Node 24
 * first on PATH for its Node 24 run; the machine's own Node 20 comes later). */
function findNode20(): string | undefined {
  if (process.versions.node.startsWith('20.')) return process.execPath;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const node = join(dir, 'node');
    try {
      const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
      if (version.startsWith('v20.')) return node;
    } catch {
      // not there, or not runnable
    }
  }
  return undefined;
}

/** The environment npm runs in: the row's Node first on PATH, and none of the `npm_*`
 * variables an outer `npm test` sets for its own scripts (its prefix, its package). */
function npmEnv(node: string): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_registry', 'npm_config_cache', 'npm_config_userconfig']);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) || keep.has(key.toLowerCase())) env[key] = value;
  }
  env.PATH = `${dirname(node)}${delimiter}${process.env.PATH ?? ''}`;
  env.npm_config_audit = 'false';
  env.npm_config_fund = 'false';
  env.npm_config_update_notifier = 'false';
  return env;
}

/** An npm run, with everything it printed in one string. */
type NpmRun = ProcessRun & { output: string };

/** Runs npm with the row's Node; everything it printed in one string. */
async function npm(node: string, cwd: string, args: string[]): Promise<NpmRun> {
  const run = await runProcess('npm', args, { cwd, env: npmEnv(node), timeoutMs: 240_000 });
  return { ...run, output: `${run.stdout}\n${run.stderr}` };
}

/** A fresh project (`npm init -y`) in the work directory, named after `title`. */
async function newProject(node: string, title: string): Promise<string> {
  const dir = join(work, title.toLowerCase().replace(/[^a-z0-9.]+/g, '-'));
  mkdirSync(dir);
  const init = await npm(node, dir, ['init', '-y']);
  if (init.code !== 0) throw new Error(`npm init -y failed:\n${init.output}`);
  return dir;
}

/** A fresh project, `npm install <tgz> ...packages` in it, and the apps copied in. */
async function installIn(node: string, name: string, packages: string[]): Promise<Installed> {
  const project = await newProject(node, name);
  const install = await npm(node, project, ['install', tarball, ...packages]);
  // The Node that npm ran on: the one first on its PATH.
  const version = await runProcess('node', ['--version'], { env: npmEnv(node) });
  for (const f of ['telemetry.mjs', 'app.mjs']) {
    copyFileSync(join(ROOT, 'test/fixtures/install', f), join(project, f));
  }
  return { node, project, install, nodeVersion: version.stdout.trim() };
}

/** Every installed package's versions, from `npm ls --all --json`. */
function versionsOf(tree: NpmTree, into = new Map<string, Set<string>>()) {
  for (const [name, dep] of Object.entries(tree.dependencies ?? {})) {
    if (dep.version !== undefined) {
      const set = into.get(name) ?? new Set<string>();
      set.add(dep.version);
      into.set(name, set);
    }
    versionsOf(dep, into);
  }
  return into;
}

interface NpmTree {
  version?: string;
  dependencies?: Record<string, NpmTree>;
}

/** The OTel packages (`name@version`) that are not of `line`; semantic-conventions is versioned
 * on its own and shared by both lines, and the API is checked apart. */
function offLine(versions: Map<string, Set<string>>, line: Line): string[] {
  const off: string[] = [];
  for (const [name, set] of versions) {
    if (!name.startsWith('@opentelemetry/')) continue;
    if (name === '@opentelemetry/semantic-conventions' || name === '@opentelemetry/api') continue;
    for (const v of set) {
      const contrib = line.contrib[name];
      const ok = contrib
        ? contrib.test(v)
        : v.startsWith(`${line.major}.`) || line.experimental.test(v);
      if (!ok) off.push(`${name}@${v}`);
    }
  }
  return off.sort();
}

/** Runs app.mjs in the project with `nodeArgs` before it, exporting to a fresh receiver. */
async function runApp(
  node: string,
  project: string,
  nodeArgs: string[],
): Promise<{ run: ProcessRun; receiver: OtlpReceiver }> {
  const receiver = await startOtlpReceiver();
  try {
    const run = await runProcess(node, [...nodeArgs, 'app.mjs'], {
      cwd: project,
      env: {
        PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}`,
        HOME: process.env.HOME,
        OPENAI_API_KEY: 'sk-install-matrix',
        OPENAI_BASE_URL: mock.openaiURL,
        OTEL_SERVICE_NAME: 'install-matrix',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_LOGS_EXPORTER: 'none',
      },
      timeoutMs: 60_000,
    });
    return { run, receiver };
  } finally {
    // Everything was exported before the app exited (the flush at exit): nothing more comes.
    await receiver.close();
  }
}

/** The app's run, priced exactly on the row's line: each chat span, the root's rollup and the
 * cost metric. */
function expectPricedRun(run: ProcessRun, receiver: OtlpReceiver, line: Line): void {
  expect({ code: run.code, signal: run.signal, stderr: run.stderr }).toEqual({
    code: 0,
    signal: null,
    stderr: '',
  });
  const roots = receiver.spans.filter((s) => s.parentSpanId === '');
  expect(roots.map((s) => s.name)).toEqual(['agent run']);
  const root = roots[0] as ReceivedSpan;
  const chats = receiver.spans.filter((s) => s.attributes['gen_ai.operation.name'] === 'chat');
  expect(chats).toHaveLength(CALLS);
  for (const chat of chats) {
    expect(chat.traceId).toBe(root.traceId);
    expect(chat.parentSpanId).toBe(root.spanId);
    expect(chat.attributes['gen_ai.usage.cache_read.input_tokens']).toBe(OPENAI_DEFAULTS.cached);
    expect(chat.attributes['spanledger.cost.status']).toBe('priced');
    expect(chat.attributes['spanledger.cost.usd']).toBeCloseTo(CALL_USD, 12);
  }
  const children = chats.reduce(
    (sum, s) => sum + (s.attributes['spanledger.cost.usd'] as number),
    0,
  );
  expect(root.attributes['spanledger.trace.cost.usd']).toBeCloseTo(children, 12);
  expect(root.attributes['spanledger.trace.cost.usd']).toBeCloseTo(CALLS * CALL_USD, 12);
  expect(receiver.total('spanledger.cost.usd')).toBeCloseTo(children, 12);
  // The SDK that ran is the line's: every span and metric point says so.
  const majors = new Set(
    [...receiver.spans, ...receiver.points].map(
      (t) => String(t.resource['telemetry.sdk.version']).split('.')[0],
    ),
  );
  expect([...majors]).toEqual([line.major]);
}

beforeAll(async () => {
  ensureBuilt();
  const node24 = ensureNode24();
  const node20 = findNode20();
  if (node24) nodes.node24 = node24;
  else missingNode.node24 = 'Node 24 could not be installed into .tools/node24';
  if (node20) nodes.node20 = node20;
  else missingNode.node20 = 'no Node 20 (neither this process nor `node` on PATH)';
  const missing = Object.values(missingNode).join('; ');
  if (missing && isCI) throw new Error(`${missing} (a failure under CI=true)`);
  if (missing) console.warn(`SKIPPED install matrix rows: ${missing}`);

  work = mkdtempSync(join(scratchRoot(), 'spanledger-install-'));
  const pack = await npm(process.execPath, work, [
    'pack',
    ROOT,
    '--pack-destination',
    work,
    '--ignore-scripts',
    '--json',
  ]);
  if (pack.code !== 0) throw new Error(`npm pack failed:\n${pack.output}`);
  const [packed] = JSON.parse(pack.stdout) as { filename: string }[];
  tarball = join(work, packed?.filename ?? '');
  if (!existsSync(tarball)) throw new Error(`npm pack wrote no ${tarball}:\n${pack.output}`);
  mock = await startMockProviders();

  const start = (key: string, node: string | undefined, packages: string[]) => {
    if (node === undefined) return;
    const installing = installIn(node, key, packages);
    installing.catch(() => {}); // awaited (and reported) by its row
    installs.set(key, installing);
  };
  for (const row of ROWS) start(row.title, nodes[row.node], row.packages);
  start('unnamed', nodes.node24, UNNAMED_2X);
}, 900_000);

afterAll(async () => {
  await mock?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.each(ROWS)('$title', (row) => {
  const line = LINES[row.line];
  let node = '';
  let project = '';
  let install: NpmRun;
  let nodeVersion = '';

  beforeAll(async () => {
    const installing = installs.get(row.title);
    if (installing === undefined) return;
    ({ node, project, install, nodeVersion } = await installing);
  }, 600_000);

  beforeEach((ctx) => {
    if (node === '') ctx.skip(missingNode[row.node]);
  });

  it(`npm install <tgz> ${row.packages.join(' ')}: no ERESOLVE, no npm error`, () => {
    expect(nodeVersion).toMatch(row.node === 'node24' ? /^v24\./ : /^v20\./);
    expect(install.output).not.toContain('ERESOLVE');
    expect(install.output).not.toMatch(/npm error/i);
    expect(install.code, install.output).toBe(0);
  });

  it(`npm ls --all shows the ${row.line} line only, and one @opentelemetry/api`, async () => {
    const ls = await npm(node, project, ['ls', '--all', '--json']);
    expect(ls.code, ls.output).toBe(0);
    const versions = versionsOf(JSON.parse(ls.stdout) as NpmTree);
    expect([...(versions.get('@opentelemetry/api') ?? [])]).toEqual([row.api]);
    expect(offLine(versions, line)).toEqual([]);
    // The packages spanledger imports are there, on the line.
    for (const name of ['sdk-trace', 'resources', 'sdk-node', 'instrumentation-openai']) {
      expect(versions.has(`@opentelemetry/${name}`), name).toBe(true);
    }
  }, 60_000);

  it('the README NodeSDK setup prices each chat call, rolls it up and counts it', async () => {
    const { run, receiver } = await runApp(node, project, ['--import', './telemetry.mjs']);
    expectPricedRun(run, receiver, line);
  }, 90_000);

  it('node --import spanledger/register prices each chat call, rolls it up and counts it', async () => {
    const { run, receiver } = await runApp(node, project, ['--import', 'spanledger/register']);
    expectPricedRun(run, receiver, line);
  }, 90_000);
});

describe('Node 24, 2.x line, the 2.x peers not named', () => {
  it(`npm install <tgz> ${UNNAMED_2X.join(' ')}: the ERESOLVE on @opentelemetry/api that the README explains`, async (ctx) => {
    const installing = installs.get('unnamed');
    if (installing === undefined) return ctx.skip(missingNode.node24);
    const { project, install, nodeVersion } = await installing;
    expect(nodeVersion).toMatch(/^v24\./);
    expect(install.code).not.toBe(0);
    expect(install.output).toContain('npm error code ERESOLVE');
    expect(install.output).toMatch(/Found: @opentelemetry\/api@1\.9\.1/);
    // npm picked the 3.x instrumentation (its engines fit Node 24), whose API range excludes 1.9.1.
    expect(install.output).toMatch(
      /Could not resolve dependency:\s+npm error peer @opentelemetry\/api@">=1\.10\.0 <1\.11\.0" from @opentelemetry\/instrumentation@0\.30\d\.\d+/,
    );
    expect(existsSync(join(project, 'node_modules', 'spanledger'))).toBe(false);
  }, 600_000);
});
