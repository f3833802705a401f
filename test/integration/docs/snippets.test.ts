import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { transform } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { allSnippets, docFiles, importsOf, label, type Snippet } from '../../docs/extract.js';
import { installArgs } from '../../docs/matrix.js';
import { runProcess } from '../../support/apps.js';
import { ensureBuilt, ROOT } from '../../support/built.js';
import { type MockProviders, startMockProviders } from '../../support/mock-providers.js';
import {
  type OtlpReceiver,
  type ReceivedSpan,
  startOtlpReceiver,
} from '../../support/otlp-receiver.js';
import { startTestCluster, type TestCluster } from '../../support/redis-cluster.js';
import { ensureRedisServer, type RedisServer, startRedis } from '../redis-server.js';

/** One process the harness ran for a block. */
interface Run {
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
  /** `OTEL_SERVICE_NAME` of the run: its telemetry in the receiver. */
  service: string;
}

/** What a run exported to the OTLP receiver. */
interface Telemetry {
  spans: ReceivedSpan[];
  /** Sum of a metric's series (histograms: their sums). */
  total(metric: string): number;
}

/** How the harness runs one named block. */
interface Harness {
  /** Load test/fixtures/docs/globals.mjs first: the block uses the application's own names
   * (`openai`, `request`, `search`, ...) without defining them. */
  globals?: boolean;
  /** Code appended after the block: the application's work, `await sdk.shutdown()`, a print. */
  after?: string;
  /** Files of test/fixtures/docs/ copied into the project (e.g. the app a command runs), with
   * their names there. */
  fixtures?: Record<string, string>;
  /** Node arguments before the file. */
  nodeArgs?: string[];
  /** Environment variables the block's process gets on top of the harness's own. */
  env?: Record<string, string>;
  /** A bug in src/ makes the block fail today: the reason. The test is `it.fails` until fixed. */
  fails?: string;
  /** What stderr may say (default: nothing). */
  stderr?: RegExp;
  /** The block's Redis URL (`redis://redis.internal:6379`) is pointed at a private redis-server the test
   * starts on loopback: the block runs against a real Redis, and nothing leaves the machine. */
  redis?: boolean;
  /** The block's cluster seed URLs (`redis://redis-0.internal:6379`, `-1`, ...) are pointed at
   * the nodes of a private Redis Cluster (test/support/redis-cluster.ts), started on loopback
   * for the first such block. */
  cluster?: boolean;
  /** For a block that shows output: the ES module program whose output it is, run instead. */
  program?: string;
  /** The figures the block states, asserted (exit code 0 and empty stderr are always checked). */
  check?(runs: Run[], telemetry: (run: Run) => Telemetry, snippet: Snippet): void;
}

// The mock provider's reference call: gpt-4o, 1200 input of which 1024 cached, 300 output.
const REFERENCE = { input: 1200, cached: 1024, output: 300 };
// gpt-4o list price: $2.50 input, $1.25 cache read, $10 output per MTok.
const LIST_USD =
  ((REFERENCE.input - REFERENCE.cached) * 2.5 + REFERENCE.cached * 1.25 + REFERENCE.output * 10) /
  1e6;

/** One chat call through the `openai` client the app imports after its SDK started. */
const CHAT_CALL = `
{
  const { OpenAI } = await import('openai');
  await new OpenAI({ maxRetries: 0 }).chat.completions.create({
    model: 'gpt-4o',
    messages: [{ role: 'user', content: 'Where is my order?' }],
  });
}
`;

/** Every line of the output block after the block `name` shows (but lines with `...`, which
 * stand for what varies or is left out) is a line of what the run printed. */
function expectShownOutput(run: Run | undefined, name: string): void {
  const i = SNIPPETS.findIndex((x) => x.directive.name === name);
  const shown = SNIPPETS[i + 1] as Snippet;
  const printed = new Set((run?.stdout ?? '').replaceAll('\r\n', '\n').split('\n'));
  const lines = shown.code.split('\n').filter((l) => l !== '' && !l.includes('...'));
  expect(lines.length).toBeGreaterThan(1);
  expect(lines.filter((l) => !printed.has(l))).toEqual([]);
}

const chatSpans = (t: Telemetry): ReceivedSpan[] =>
  t.spans.filter((s) => s.attributes['gen_ai.operation.name'] === 'chat');

const HARNESS: Record<string, Harness> = {
  'readme-zero-code': {
    fixtures: { 'zero-code/app.js': 'app.js', 'zero-code/app.cjs': 'app.cjs' },
    check(runs, telemetry) {
      // Both apps (ESM through `--import`, CommonJS through `--require`): one priced chat span.
      expect(runs).toHaveLength(2);
      for (const run of runs) {
        const chats = chatSpans(telemetry(run));
        expect(chats, run.command).toHaveLength(1);
        expect(chats[0]?.attributes['spanledger.cost.usd']).toBeCloseTo(LIST_USD, 12);
      }
    },
  },
  'readme-nodesdk-install': {
    // Nothing to run (the project's node_modules stands for the install): the command names
    // every package the NodeSDK setup below imports that npm does not install with spanledger
    // (its peers). test/docs/matrix.test.ts checks the versions.
    check(_runs, _telemetry, snippet) {
      const named = new Set(installArgs(snippet.code.trim()).keys());
      const setup = SNIPPETS.find((x) => x.directive.name === 'readme-nodesdk') as Snippet;
      const hooks = [...setup.code.matchAll(/register\(\s*'([^']+)'/g)].map((m) => m[1] as string);
      const imported = [...importsOf(setup.code).map((i) => i.from), ...hooks]
        .filter((from) => !from.startsWith('node:') && !from.startsWith('.'))
        .map((from) =>
          from
            .split('/')
            .slice(0, from.startsWith('@') ? 2 : 1)
            .join('/'),
        );
      const peers = Object.keys(PACKAGE.peerDependencies);
      expect(imported).toContain('@opentelemetry/exporter-trace-otlp-http');
      expect(
        [...new Set(imported)].filter(
          (name) => name !== 'spanledger' && !named.has(name) && !peers.includes(name),
        ),
      ).toEqual([]);
    },
  },
  'readme-nodesdk': {
    // The app's work after the setup, as an ES module app; the snippet flushes at exit.
    after: `${CHAT_CALL}\nconsole.log(JSON.stringify(ledger.stats().spans));\n`,
    check([run], telemetry) {
      // prices.yaml (the block before it): $2 input, $1 cache read, $8 output per MTok.
      const contract = ((1200 - 1024) * 2 + 1024 * 1 + 300 * 8) / 1e6;
      expect(JSON.parse(run?.stdout ?? '')).toMatchObject({ priced: 1, unpriced: 0 });
      // The sampler exports 1 trace in 10; the cost metric counts every span, flushed at exit.
      expect(telemetry(run as Run).total('spanledger.cost.usd')).toBeCloseTo(contract, 12);
    },
  },
  'readme-price-usage': {
    after: 'console.log(JSON.stringify(result));\n',
    check([run]) {
      expect(JSON.parse(run?.stdout ?? '')).toMatchObject({
        status: 'priced',
        costUsd: 12.5,
        source: 'catalog',
      });
    },
  },
  'readme-price-cli': {
    check([run]) {
      // The same $12.50 as priceUsage above: $2.50 + $10 per MTok.
      expect(run?.stdout).toMatch(/^\s*input \(uncached\)\s+1,000,000\s+2\.500000$/m);
      expect(run?.stdout).toMatch(/^\s*output\s+1,000,000\s+10\.000000$/m);
      expect(run?.stdout).toMatch(/^\s*total\s+2,000,000\s+12\.500000$/m);
    },
  },
  'readme-budgets': { globals: true, after: 'await ledger.shutdown();\n' },
  'readme-helpers': { globals: true },
  'attribution-edge': { globals: true },
  'budgets-file': {},
  'budgets-error': {
    // The budgets file above with its time zone misspelt, loaded as the text says.
    program: `import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createSpanLedger } from 'spanledger';
const file = readFileSync('spanledger.yaml', 'utf8');
mkdirSync('typo', { recursive: true });
writeFileSync('typo/spanledger.yaml', file.replace('America/New_York', 'America/New_Yrok'));
process.chdir('typo');
try {
  createSpanLedger({ prices: 'spanledger.yaml' });
} catch (e) {
  console.log(e.message);
}
`,
    check([run], _telemetry, snippet) {
      expect(run?.stdout).toBe(snippet.code);
    },
  },
  'budgets-refusal': {
    // The message of a refusal on a day budget with $0.032 spent, for a call estimated at $0.02.
    program: `import { createSpanLedger } from 'spanledger';
const ledger = createSpanLedger({
  budgets: [{ name: 'payments-day', scope: { team: 'payments' }, window: { calendar: 'day', timeZone: 'UTC' }, limitUsd: 0.05, action: 'block' }],
});
const dimensions = { team: 'payments' };
const spent = await ledger.reserve(0.032, { dimensions });
await spent.settle(0.032);
try {
  await ledger.reserve(0.02, { dimensions });
} catch (e) {
  console.log(e.message);
}
await ledger.shutdown();
`,
    check([run], _telemetry, snippet) {
      expect(run?.stdout).toBe(snippet.code);
    },
  },
  'budgets-decision': { globals: true, after: 'await ledger.shutdown();\n' },
  'budgets-limits': {
    check([run], _telemetry, snippet) {
      // The output block after it on the page.
      const output = SNIPPETS[SNIPPETS.indexOf(snippet) + 1] as Snippet;
      expect(run?.stdout).toBe(output.code);
    },
  },
  'budgets-pause': {
    check([run], _telemetry, snippet) {
      // The output block after it on the page.
      const output = SNIPPETS[SNIPPETS.indexOf(snippet) + 1] as Snippet;
      expect(run?.stdout).toBe(output.code);
    },
  },
  'budgets-cli': {
    // Against a real Redis: the pause is stored, status lists it, resume lifts it.
    redis: true,
    check([pause, status, resume]) {
      expect(pause?.stdout).toContain(
        'paused budget "tenant-monthly" (tenant=acme) for every process sharing',
      );
      expect(pause?.stdout).toContain('until   2099-01-01T00:00:00.000Z');
      expect(status?.stdout).toMatch(
        /^tenant-monthly \(tenant=acme\) \[PAUSED\] +month:\d{4}-\d{2}@America\/New_York +USD +250\.0000 +0\.0000 +0\.0000 +250\.0000 +0\.0000 +-$/m,
      );
      expect(status?.stdout).toMatch(
        /^ {2}budget "tenant-monthly" \(tenant=acme\): runaway loop \(by \S+ at \S+Z, until 2099-01-01T00:00:00\.000Z\)$/m,
      );
      expect(resume?.stdout).toBe('resumed budget "tenant-monthly" (tenant=acme)\n');
    },
  },
  'budgets-redis': {
    redis: true,
    after:
      "await budgetLedger.ready();\nconsole.log(JSON.stringify(await budgetLedger.get(['docs:check'])));\nconsole.log(JSON.stringify(budgetLedger.stats()));\nawait ledger.shutdown();\nawait budgetLedger.close();\n",
    check([run]) {
      // A real round trip: an empty window read from Redis, not a fail-open answer.
      const [totals, stats] = (run?.stdout ?? '')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(totals).toEqual({ spentUsd: 0, reservedUsd: 0 });
      expect(stats).toMatchObject({ redisUnavailable: 0, redisTimeout: 0 });
      expect(stats.operations).toBeGreaterThanOrEqual(1);
    },
  },
  'budgets-redis-cluster': {
    cluster: true,
    after:
      // A read that misses the deadline is answered by the policy (`unavailable`), and six nodes
      // on two loaded cores can miss it several times in a row (five in one CI run): up to 40
      // reads 25 ms apart, the first that answers is printed.
      "await budgetLedger.ready(10_000);\nlet read;\nfor (let i = 0; i < 40 && !(read && !read.unavailable); i++) {\n  if (i > 0) await new Promise((r) => setTimeout(r, 25));\n  read = await budgetLedger.get(['docs:check']);\n}\nconsole.log(JSON.stringify(read));\nconsole.log(JSON.stringify(budgetLedger.stats()));\nawait ledger.shutdown();\nawait budgetLedger.close();\n",
    check([run]) {
      // A real round trip to the cluster: an empty window read, not a fail-closed refusal.
      const [totals, stats] = (run?.stdout ?? '')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(totals).toEqual({ spentUsd: 0, reservedUsd: 0 });
      // Not `redisTimeout`: six nodes on two loaded cores can miss the 50 ms deadline once
      // (answered by the policy); the read above is the round trip that proves the setup.
      expect(stats).toMatchObject({ redisUnavailable: 0, redisError: 0 });
      expect(stats.scriptLoads).toBeGreaterThanOrEqual(1);
    },
  },
  'clients-openai': {
    // register-hook.mjs is the ES modules block further down the page.
    nodeArgs: ['--import', './register-hook.mjs'],
    after: `${CHAT_CALL}\nconsole.log(JSON.stringify(ledger.stats().spans));\nawait sdk.shutdown();\n`,
    check([run]) {
      expect(JSON.parse(run?.stdout ?? '')).toMatchObject({ priced: 1, unpriced: 0 });
    },
  },
  'clients-stream': { globals: true },
  'clients-vercel': {
    // Under spanledger/register, which exports what the page says is priced.
    globals: true,
    nodeArgs: ['--import', 'spanledger/register'],
    check([run], telemetry) {
      // "one priced span at $0.00472, and $0.00472 on the root and in spanledger.cost.usd"
      const t = telemetry(run as Run);
      const priced = t.spans.filter((s) => s.attributes['spanledger.cost.status'] === 'priced');
      expect(priced).toHaveLength(1);
      expect(priced[0]?.name).toBe('ai.generateText.doGenerate');
      expect(priced[0]?.attributes['spanledger.cost.usd']).toBeCloseTo(LIST_USD, 12);
      const root = t.spans.find((s) => s.name === 'ai.generateText');
      expect(root?.attributes['spanledger.trace.cost.usd']).toBeCloseTo(LIST_USD, 12);
      expect(t.total('spanledger.cost.usd')).toBeCloseTo(LIST_USD, 12);
    },
  },
  'helpers-tool': {
    globals: true,
    nodeArgs: ['--import', 'spanledger/register'],
    check([run], telemetry) {
      // "a cost the service reported wins": create_issue at $0.002, from the provider.
      const issue = telemetry(run as Run).spans.find((s) => s.name === 'execute_tool create_issue');
      expect(issue?.attributes['spanledger.cost.usd']).toBe(0.002);
      expect(issue?.attributes['spanledger.cost.source']).toBe('provider');
      expect(issue?.attributes['mcp.server.name']).toBe('github');
    },
  },
  'helpers-retrieval': {
    globals: true,
    nodeArgs: ['--import', 'spanledger/register'],
    check([run], telemetry) {
      const span = telemetry(run as Run).spans.find((s) => s.name === 'retrieval kb-main');
      expect(span?.attributes).toMatchObject({
        'gen_ai.operation.name': 'retrieval',
        'gen_ai.data_source.id': 'kb-main',
        'db.system.name': 'pinecone',
        'spanledger.usage.quantity': 250,
      });
    },
  },
  'helpers-evaluation': {
    globals: true,
    nodeArgs: ['--import', 'spanledger/register'],
    check([run], telemetry) {
      // The judge's verdict (globals.mjs: 0.9, "on topic") as a gen_ai.evaluation.result event.
      const span = telemetry(run as Run).spans.find((s) => s.name === 'evaluation relevance');
      expect(span?.attributes['gen_ai.evaluation.name']).toBe('relevance');
      const event = span?.events.find((e) => e.name === 'gen_ai.evaluation.result');
      expect(event?.attributes).toMatchObject({
        'gen_ai.evaluation.name': 'relevance',
        'gen_ai.evaluation.score.value': 0.9,
        'gen_ai.evaluation.score.label': 'pass',
        'gen_ai.evaluation.explanation': 'on topic',
        'gen_ai.response.id': 'resp_1',
      });
    },
  },
  'helpers-review': {
    globals: true,
    nodeArgs: ['--import', 'spanledger/register'],
    // "Priced at humanReview.ratePerHourUsd ...: 3 minutes at $60/h is $3".
    fixtures: { 'review-prices.yaml': 'review-prices.yaml' },
    env: { SPANLEDGER_PRICES_FILE: 'review-prices.yaml' },
    check([run], telemetry) {
      const spans = telemetry(run as Run).spans;
      const spot = spans.find((s) => s.name === 'human_review spot check');
      expect(spot?.attributes['spanledger.human_review.minutes']).toBe(3); // "// 3 min"
      expect(spot?.attributes['spanledger.cost.usd']).toBeCloseTo(3, 12);
      const legal = spans.find((s) => s.name === 'human_review refund approval');
      expect(legal?.attributes['spanledger.human_review.role']).toBe('legal');
      expect(legal?.attributes['spanledger.cost.category']).toBe('human_review');
    },
  },
  'helpers-external': {
    globals: true,
    nodeArgs: ['--import', 'spanledger/register'],
    check([run], telemetry) {
      // ocr at the stated $0.25 for 5 pages; enrichment at what enrich() reported (globals.mjs:
      // $0.01), set on the span after the call.
      const spans = telemetry(run as Run).spans;
      const ocr = spans.find((s) => s.name === 'external ocr');
      expect(ocr?.attributes).toMatchObject({
        'spanledger.cost.usd': 0.25,
        'spanledger.cost.category': 'external',
        'spanledger.usage.quantity': 5,
        'spanledger.usage.unit': 'page',
      });
      const enrichment = spans.find((s) => s.name === 'external enrichment');
      expect(enrichment?.attributes['spanledger.cost.usd']).toBe(0.01);
    },
  },
  'helpers-outcome': {
    globals: true,
    nodeArgs: ['--import', 'spanledger/register'],
    check([run], telemetry) {
      // One ticket_resolved outcome worth $12.50, for tenant acme, and no cost.
      const t = telemetry(run as Run);
      expect(t.total('spanledger.outcomes')).toBe(1);
      expect(t.total('spanledger.outcome.value.usd')).toBe(12.5);
      const outcome = t.spans.find((s) => s.name === 'outcome ticket_resolved');
      expect(outcome?.attributes['spanledger.tenant']).toBe('acme');
      expect(t.total('spanledger.cost.usd')).toBe(0);
    },
  },
  'pricing-routing-code': { after: 'await ledger.shutdown();\n' },
  'report-basic': {
    // Three runs exported through the SDK with the processor (test/cli/report/sdk-runs.ts).
    fixtures: { '../report/sdk-runs.jsonl': 'spanledger-traces.jsonl' },
    check([run]) {
      expectShownOutput(run, 'report-basic');
      // The printed rows add up to the printed total.
      expect(run?.stdout).toMatch(/^acme {4}support {3}0\.163220 /m);
      expect(run?.stdout).toMatch(/^globex {2}triage {4}0\.000159 /m);
      expect(run?.stdout).toMatch(/^total {13}0\.163379 /m);
    },
  },
  'report-csv': {
    fixtures: { '../report/sdk-runs.jsonl': 'spanledger-traces.jsonl' },
    check([run]) {
      expectShownOutput(run, 'report-csv');
    },
  },
  'pricing-prices-show': {
    check([run]) {
      // The alias before its switch: the 2024-05-13 snapshot at $5 / $15 per million.
      expect(run?.stdout).toContain('openai / gpt-4o-2024-05-13 (exact)');
      expect(run?.stdout).toMatch(/^\s*input\s+5$/m);
      expect(run?.stdout).toMatch(/^\s*output\s+15$/m);
    },
  },
  'pricing-prices-check': {
    check([run]) {
      // routing.yaml, the block above: every alternative resolves exactly.
      expect(run?.stdout).toMatch(/^routing\.yaml: valid /);
      expect(run?.stdout).toMatch(
        /routing\.models\.gpt-4o\[1\] claude-haiku-4-5\s+anthropic\/claude-haiku-4-5 \(catalog, exact\)/,
      );
      expect(run?.stdout).toMatch(
        /routing\.useCases\.triage\[0\] gemini-2\.5-flash\s+google\/gemini-2\.5-flash \(catalog, exact\)/,
      );
    },
  },
  'pricing-contract': {
    check(_runs, _telemetry, snippet) {
      // The text calls it the complete example of test/fixtures/prices/contract.yaml: the same
      // entries (its comments differ).
      const fixture = readFileSync(join(ROOT, 'test/fixtures/prices/contract.yaml'), 'utf8');
      expect(parseYaml(snippet.code)).toEqual(parseYaml(fixture));
    },
  },
  'setup-start': { after: 'await shutdown();\n' },
  'setup-esm': {
    // telemetry.mjs is the block before it; the app imports `openai` and makes one call.
    fixtures: { 'zero-code/app.js': 'app.mjs' },
    check([run], telemetry) {
      const chats = chatSpans(telemetry(run as Run));
      expect(chats).toHaveLength(1);
      expect(chats[0]?.attributes['spanledger.cost.usd']).toBeCloseTo(LIST_USD, 12);
      expect(telemetry(run as Run).total('spanledger.cost.usd')).toBeCloseTo(LIST_USD, 12);
    },
  },
};

const RUNNABLE_CODE = new Set(['ts', 'typescript', 'js', 'mjs', 'cjs']);
const CONFIG = new Set(['yaml', 'yml', 'json']);
const SHELL = new Set(['sh', 'bash', 'shell']);
/** Shell lines the harness runs; `npm install spanledger ...` is what the project's link and
 * node_modules stand for (test/integration/package/install-matrix.test.ts installs for real). */
const RUNS_LINE = /^(node|spanledger|npx spanledger)\s/;
const INSTALL_LINE = /^npm (install|i) spanledger(\s+\S+)*$/;

/** Why a block cannot be run, or `undefined` when it can. */
function notRunnable(s: Snippet): string | undefined {
  if (s.directive.skip !== undefined) {
    return s.directive.skip.trim() === '' || s.directive.skip === 'true'
      ? 'skip without a reason'
      : undefined;
  }
  if (s.directive.file !== undefined) return undefined;
  if (s.directive.name === undefined) return 'no `<!-- snippet: name=... -->` directive';
  if (HARNESS[s.directive.name] === undefined) return `no HARNESS entry "${s.directive.name}"`;
  if (RUNNABLE_CODE.has(s.lang) || CONFIG.has(s.lang)) return undefined;
  if (HARNESS[s.directive.name]?.program !== undefined) return undefined;
  if (SHELL.has(s.lang)) {
    const bad = shellLines(s).filter((l) => !RUNS_LINE.test(l) && !INSTALL_LINE.test(l));
    return bad.length === 0 ? undefined : `shell lines the harness does not run: ${bad.join('; ')}`;
  }
  return `a "${s.lang || 'no language'}" block is neither run nor skipped`;
}

const shellLines = (s: Snippet): string[] =>
  s.code
    .split('\n')
    .map((l) => l.replace(/\s#.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

const SNIPPETS = allSnippets(ROOT);
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  peerDependencies: Record<string, string>;
};
let mock: MockProviders;
let redis: RedisServer;
/** The Redis URL the docs show; the harness points it at a private redis-server. */
const DOC_REDIS_URL = 'redis://redis.internal:6379';
/** The Redis Cluster seeds the docs show; the harness points them at a private cluster. */
const DOC_CLUSTER_URL = /redis:\/\/redis-(\d)\.internal:6379/g;
let cluster: Promise<TestCluster | undefined> | undefined;
let receiver: OtlpReceiver;
const projects = new Map<string, string>();
const tempDirs: string[] = [];

/** A user's project: `spanledger` is this package (its `dist/` through `exports`), the other
 * packages are the repository's, and `node_modules/.bin/spanledger` is the built CLI. */
function makeProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'spanledger-docs-'));
  tempDirs.push(dir);
  writeFileSync(
    join(dir, 'package.json'),
    '{ "name": "docs-app", "private": true, "type": "module" }\n',
  );
  const modules = join(dir, 'node_modules');
  mkdirSync(join(modules, '.bin'), { recursive: true });
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (entry === '.bin' || entry === 'spanledger') continue;
    symlinkSync(join(ROOT, 'node_modules', entry), join(modules, entry));
  }
  symlinkSync(ROOT, join(modules, 'spanledger'));
  symlinkSync(join(ROOT, 'dist/cli/main.js'), join(modules, '.bin/spanledger'));
  copyFileSync(join(ROOT, 'test/fixtures/docs/globals.mjs'), join(dir, 'globals.mjs'));
  return dir;
}

/** The document's project, with every `file=` block of the document written into it. */
function projectOf(doc: string): string {
  let dir = projects.get(doc);
  if (dir === undefined) {
    dir = makeProject();
    for (const s of SNIPPETS) {
      if (s.doc === doc && s.directive.file !== undefined) {
        writeFileSync(join(dir, s.directive.file), s.code);
      }
    }
    projects.set(doc, dir);
  }
  return dir;
}

// Child processes at once: the snippets load the whole NodeSDK, and CI machines have few cores.
const MAX_CHILDREN = 3;
let children = 0;
const waiting: (() => void)[] = [];

/** Run `fn` when fewer than MAX_CHILDREN children are running. */
async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (children >= MAX_CHILDREN) await new Promise<void>((resolve) => waiting.push(resolve));
  children++;
  try {
    return await fn();
  } finally {
    children--;
    waiting.shift()?.();
  }
}

let serial = 0;
/** Run a command line in a project, with the mock providers and the OTLP receiver. */
function run(
  cwd: string,
  file: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Run> {
  return limited(() => spawnRun(cwd, file, args, env));
}

async function spawnRun(
  cwd: string,
  file: string,
  args: string[],
  extraEnv: Record<string, string>,
): Promise<Run> {
  const service = `docs-${++serial}`;
  const command = [file, ...args].join(' ');
  const { code, stdout, stderr } = await runProcess(file, args, {
    cwd,
    env: {
      PATH: `${join(cwd, 'node_modules/.bin')}:${process.env.PATH}`,
      HOME: process.env.HOME,
      OPENAI_API_KEY: 'sk-docs',
      OPENAI_BASE_URL: mock.openaiURL,
      ANTHROPIC_API_KEY: 'sk-ant-docs',
      ANTHROPIC_BASE_URL: mock.anthropicURL,
      OTEL_SERVICE_NAME: service,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_LOGS_EXPORTER: 'none',
      npm_config_update_notifier: 'false',
      ...extraEnv,
    },
    timeoutMs: 40_000,
  });
  return { command, code, stdout, stderr, service };
}

const telemetry = (r: Run): Telemetry => {
  const mine = (resource: Record<string, unknown>) => resource['service.name'] === r.service;
  return {
    spans: receiver.spans.filter((s) => mine(s.resource)),
    total: (metric) =>
      receiver.points
        .filter((p) => p.metric === metric && mine(p.resource))
        .reduce((sum, p) => sum + (p.value ?? p.sum ?? 0), 0),
  };
};

let files = 0;
/** Run one block as its document's project would. */
async function runSnippet(s: Snippet, h: Harness): Promise<Run[]> {
  const dir = projectOf(s.doc);
  for (const [from, to] of Object.entries(h.fixtures ?? {})) {
    copyFileSync(join(ROOT, 'test/fixtures/docs', from), join(dir, to));
  }
  // Unique: a block may run more than once at the same time (the loader hook test).
  const base = `snippet-${s.line}-${++files}`;
  if (h.program !== undefined) {
    writeFileSync(join(dir, `${base}.mjs`), h.program);
    return [await run(dir, process.execPath, [`${base}.mjs`])];
  }
  if (CONFIG.has(s.lang)) {
    const file = join(dir, `${base}.${s.lang}`);
    writeFileSync(file, s.code);
    const check = join(dir, `${base}-load.mjs`);
    writeFileSync(
      check,
      `import { createSpanLedger } from 'spanledger';\nawait createSpanLedger({ prices: ${JSON.stringify(file)} }).shutdown();\n`,
    );
    return [await run(dir, process.execPath, [check])];
  }
  if (SHELL.has(s.lang)) {
    const runs: Run[] = [];
    for (const line of shellLines(s)) {
      if (INSTALL_LINE.test(line)) continue; // the project's node_modules/spanledger link
      const command = h.redis === true ? line.replaceAll(DOC_REDIS_URL, redis.url) : line;
      runs.push(await run(dir, 'sh', ['-c', command], h.env));
    }
    return runs;
  }
  let code0 = h.redis === true ? s.code.replaceAll(DOC_REDIS_URL, redis.url) : s.code;
  if (h.cluster === true) {
    cluster ??= startTestCluster();
    const c = await cluster;
    if (!c) throw new Error('redis-server is not available for the Redis Cluster');
    code0 = code0.replace(DOC_CLUSTER_URL, (_, i: string) => c.urls[Number(i)] as string);
  }
  const source = code0 + (h.after ?? '');
  const ext = s.lang === 'cjs' ? 'cjs' : 'mjs';
  const code =
    s.lang === 'ts' || s.lang === 'typescript'
      ? (await transform(source, { loader: 'ts', format: 'esm', target: 'node20' })).code
      : source;
  const file = `${base}.${ext}`;
  writeFileSync(join(dir, file), code);
  const pre = h.globals === true ? ['--import', './globals.mjs'] : [];
  return [await run(dir, process.execPath, [...pre, ...(h.nodeArgs ?? []), file], h.env)];
}

beforeAll(async () => {
  ensureBuilt();
  [mock, receiver, redis] = await Promise.all([
    startMockProviders(),
    startOtlpReceiver(),
    startRedis({ binary: ensureRedisServer() ?? 'redis-server' }),
  ]);
});

afterAll(async () => {
  await Promise.all([
    mock?.close(),
    receiver?.close(),
    redis?.stop(),
    cluster?.then((c) => c?.stop()),
  ]);
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

describe('docs snippets', () => {
  it('every block of README.md and docs/*.md is run, written as a file, or skipped with a reason', () => {
    const problems = SNIPPETS.flatMap((s) => {
      const why = notRunnable(s);
      return why === undefined ? [] : [`${label(s)}: ${why}`];
    });
    expect(problems).toEqual([]);
    const named = new Set(SNIPPETS.map((s) => s.directive.name).filter((n) => n !== undefined));
    expect(Object.keys(HARNESS).filter((n) => !named.has(n))).toEqual([]);
  });

  it('every import from spanledger in the docs names a public export of spanledger, spanledger/node or spanledger/register', async () => {
    const entries: Record<string, string> = {
      spanledger: 'dist/index',
      'spanledger/node': 'dist/node',
      'spanledger/register': 'dist/register',
    };
    const problems: string[] = [];
    for (const s of SNIPPETS.filter((x) => RUNNABLE_CODE.has(x.lang))) {
      for (const imp of importsOf(s.code)) {
        if (!imp.from.startsWith('spanledger') && !imp.from.startsWith('.')) continue;
        const entry = entries[imp.from];
        if (entry === undefined) {
          problems.push(`${label(s)}: imports "${imp.from}", not a public entry point`);
          continue;
        }
        const mod = (await import(join(ROOT, `${entry}.js`))) as Record<string, unknown>;
        const types = readFileSync(join(ROOT, `${entry}.d.ts`), 'utf8');
        for (const name of imp.names) {
          const isType = new RegExp(`\\b${name}\\b`).test(types);
          if (!(name in mod) && !(imp.typeOnly && isType)) {
            problems.push(`${label(s)}: "${name}" is not exported by ${imp.from}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('every function the prose of README.md and docs/*.md calls by name is public API', () => {
    // `name(` in inline code: a public export, a method of a public type, or one of these, which
    // are not spanledger's. docs/performance.md names internals on purpose: it is about them.
    const others = new Set([
      'require',
      'import',
      'ceil',
      'openai',
      'start',
      'withResponse',
      'asResponse',
      'traceX',
    ]);
    const types = readdirSync(join(ROOT, 'dist'))
      .filter((f) => f.endsWith('.d.ts'))
      .map((f) => readFileSync(join(ROOT, 'dist', f), 'utf8'))
      .join('\n');
    const problems: string[] = [];
    for (const doc of docFiles(ROOT).filter((f) => !f.endsWith('performance.md'))) {
      const text = readFileSync(doc, 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const m of text.matchAll(/`([a-z][A-Za-z0-9]*)\(/g)) {
        const name = m[1] as string;
        if (others.has(name) || new RegExp(`\\b${name}\\b`).test(types)) continue;
        problems.push(`${relative(ROOT, doc)}: \`${name}(\` is not public API`);
      }
    }
    expect(problems).toEqual([]);
  });

  it.concurrent('without the loader hook, the README NodeSDK setup in an ES module app records no LLM span', async () => {
    // The README says the hook is not optional under ESM: the same snippet, its register() line
    // left out, runs the same call and prices nothing.
    const s = SNIPPETS.find((x) => x.directive.name === 'readme-nodesdk') as Snippet;
    const code = s.code
      .split('\n')
      .filter((l) => !/^register\(/.test(l))
      .join('\n');
    expect(code).not.toBe(s.code);
    const [run] = await runSnippet({ ...s, code }, HARNESS['readme-nodesdk'] as Harness);
    expect(run?.code).toBe(0);
    expect(JSON.parse(run?.stdout ?? '')).toMatchObject({ priced: 0, unpriced: 0 });
    expect(chatSpans(telemetry(run as Run))).toHaveLength(0);
    expect(telemetry(run as Run).total('spanledger.cost.usd')).toBe(0);
  }, 90_000);

  for (const s of SNIPPETS) {
    if (s.directive.skip !== undefined || s.directive.name === undefined) continue;
    const h = HARNESS[s.directive.name];
    if (h === undefined) continue;
    const test = h.fails === undefined ? it.concurrent : it.fails;
    test(label(s), { timeout: 90_000 }, async () => {
      const runs = await runSnippet(s, h);
      for (const r of runs) {
        const stderr = r.stderr === '' || h.stderr?.test(r.stderr) ? '' : r.stderr;
        expect({ command: r.command, code: r.code, stderr }).toEqual({
          command: r.command,
          code: 0,
          stderr: '',
        });
      }
      h.check?.(runs, telemetry, s);
    });
  }
});
