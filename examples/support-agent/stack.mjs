/**
 * Starts the example's two services, each as `node --import spanledger/register <service>`,
 * against the scripted mock provider, and waits until both listen. Used by `run.mjs` and by the
 * end-to-end test.
 */
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMockProvider } from './mock-provider.mjs';

const here = dirname(fileURLToPath(import.meta.url));
/** The package root: `spanledger/register` resolves from here (a package's self-reference). */
const root = resolve(here, '..', '..');

function startService(file, env) {
  const child = spawn(process.execPath, ['--import', 'spanledger/register', join(here, file)], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolveReady, reject) => {
    let out = '';
    const onData = (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line === undefined) return;
      child.stdout.off('data', onData);
      child.stdout.resume();
      resolveReady({ child, url: `http://127.0.0.1:${JSON.parse(line).port}` });
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code} before listening`)));
    child.once('error', reject);
  });
}

/** Stop a child with SIGTERM (register flushes its telemetry first) and wait for its exit. */
function stopService(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    child.once('exit', () => done());
    child.kill('SIGTERM');
  });
}

/**
 * Start the mock provider, the agent and the edge. `otlpEndpoint` is where both services export
 * (OTLP/HTTP JSON); `env` is added to both services' environment (e.g. a sampler).
 * Resolves to `{ edgeUrl, agentUrl, stop }`; `stop()` flushes and stops everything.
 */
export async function startStack({ otlpEndpoint, env = {} }) {
  const provider = await startMockProvider();
  const common = {
    OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_LOGS_EXPORTER: 'none',
    OTEL_METRIC_EXPORT_INTERVAL: '60000',
    ...env,
  };
  const agent = await startService('agent-service.mjs', {
    ...common,
    OTEL_SERVICE_NAME: 'support-agent',
    OPENAI_BASE_URL: provider.url,
    SPANLEDGER_PRICES_FILE: join(here, 'spanledger.yaml'),
  });
  let edge;
  try {
    edge = await startService('edge-service.mjs', {
      ...common,
      OTEL_SERVICE_NAME: 'support-edge',
      AGENT_URL: agent.url,
    });
  } catch (e) {
    await stopService(agent.child);
    await provider.close();
    throw e;
  }
  return {
    edgeUrl: edge.url,
    agentUrl: agent.url,
    async stop() {
      // The edge first: its spans end before the agent's are flushed.
      await stopService(edge.child);
      await stopService(agent.child);
      await provider.close();
    },
  };
}

/** The example's tickets: [tenant, text]. Refund requests go to human review. */
export const TICKETS = [
  ['acme', 'Where is my order #1001?'],
  ['acme', 'Order #1002 has not arrived, I want a refund.'],
  ['globex', 'Status of order #1003 please'],
  ['globex', 'Is order #1001 shipped?'],
  ['initech', 'I need a refund for order #1002'],
  ['initech', 'Track order #1003'],
];

/**
 * Tickets that reach the corners the dashboards and alerts watch: [tenant, text, judge model?].
 * Two are judged on another model: a fine-tune id the catalog prices only approximately by its
 * base model, and a model no catalog knows (the span is unpriced; docs/pricing.md). The trial
 * tenant's budget (1 cent a day, `action: pause`) pauses its scope, and its later calls are
 * refused (docs/budgets.md). The last one runs away and its per-run budget stops it.
 */
export const EXTRA_TICKETS = [
  ['acme', 'Where is my order #1003?', 'ft:gpt-4o-mini-2024-07-18:acme::judge'],
  ['globex', 'Track order #1001', 'acme-judge-1'],
  // From the public web form: no tenant, so its spend shows as unallocated.
  ['', 'Is order #1003 delivered?'],
  ['trial', 'Is order #1002 delayed?'],
  // An order the tool cannot find: the agent looks it up again and again, and the per-run budget
  // refuses its third identical lookup (a runaway stopped; HTTP 429).
  ['initech', 'Where is order #4040?'],
];

/** Send one ticket through the edge (optionally naming the judge model); resolves to
 * `{ status, body }`. */
export async function sendTicket(edgeUrl, tenant, ticket, judgeModel) {
  const response = await fetch(`${edgeUrl}/tickets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tenant, ticket, judgeModel }),
  });
  return { status: response.status, body: await response.json() };
}
