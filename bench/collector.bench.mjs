/**
 * Throughput of the collector pipelines (docs/performance.md, "Collector"): a load generator
 * sends OTLP/HTTP protobuf spans to the agent (collector-config/agent.yaml), which forwards to
 * the gateway (gateway.yaml with prometheus-scrape.yaml and traces-file.yaml), all on loopback.
 * Reports spans per second per core of each collector, from the CPU time the kernel charged to
 * it (/proc/<pid>/stat), its peak memory (VmHWM), and the wall-clock rate.
 *
 * The load is AI-agent traces of 4 spans: an agent root, two LLM calls of another emitter with
 * a cost, tokens and prompt text (OpenLIT's attributes), and a tool call. Every span goes through
 * content removal and normalisation; the LLM spans (half of them) are metered by
 * signal_to_metrics. The payloads are serialised before the clock starts, so the generator costs
 * little CPU while measuring. The run is checked: the gateway's scrape endpoint must show the
 * cost of every LLM span sent.
 *
 *   npm run bench:collector
 *   BENCH_SPANS=400000 BENCH_CONCURRENCY=4 node bench/collector.bench.mjs
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { ensureCollector, freePort, ROOT, startCollector } from '../scripts/collector.mjs';
import { cpuModel, loadAvg, num } from './lib.mjs';

const SPANS = num('BENCH_SPANS', 400_000);
const WARMUP_SPANS = num('BENCH_WARMUP_SPANS', 40_000);
const SPANS_PER_REQUEST = num('BENCH_BATCH', 1000);
const CONCURRENCY = num('BENCH_CONCURRENCY', 4);
const SPANS_PER_TRACE = 4;
const COST_PER_LLM_SPAN = 0.00125;

const built = ensureCollector();
if (!built.path) {
  console.error(`the collector is not available: ${built.reason}`);
  process.exit(1);
}

const hex = (n, width) => n.toString(16).padStart(width, '0');
const resource = {
  attributes: {
    'service.name': 'bench-python-agent',
    'telemetry.sdk.language': 'python',
    'spanledger.team': 'bench',
  },
};
const scope = { name: 'openlit.otel.tracing', version: '1.0.0' };
const unset = { code: 0 };

/** A minimal ReadableSpan for the serializer. */
function span(traceId, spanId, parentId, name, kind, attributes, startMs) {
  return {
    name,
    kind,
    spanContext: () => ({ traceId, spanId, traceFlags: 1 }),
    parentSpanContext: parentId ? { traceId, spanId: parentId, traceFlags: 1 } : undefined,
    startTime: [Math.floor(startMs / 1000), (startMs % 1000) * 1e6],
    endTime: [Math.floor(startMs / 1000), ((startMs % 1000) + 1) * 1e6],
    status: unset,
    attributes,
    links: [],
    events: [],
    duration: [0, 1e6],
    ended: true,
    resource,
    instrumentationScope: scope,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** Requests of `SPANS_PER_REQUEST` spans, trace ids from `firstTrace` on. */
function requests(spanCount, firstTrace) {
  const out = [];
  const now = Date.now();
  let trace = firstTrace;
  for (let sent = 0; sent < spanCount; ) {
    const spans = [];
    while (spans.length < SPANS_PER_REQUEST && sent < spanCount) {
      const t = hex(trace, 32);
      const root = hex(trace * 4 + 1, 16);
      const tenant = ['acme', 'globex', 'initech'][trace % 3];
      spans.push(
        span(t, root, undefined, 'invoke_agent rag', 1, { 'spanledger.tenant': tenant }, now),
      );
      for (let k = 0; k < 2; k++) {
        spans.push(
          span(
            t,
            hex(trace * 4 + 2 + k, 16),
            root,
            'chat gpt-4o-mini',
            3,
            {
              'gen_ai.provider.name': 'openai',
              'gen_ai.operation.name': 'chat',
              'gen_ai.request.model': 'gpt-4o-mini',
              'gen_ai.usage.input_tokens': 1200,
              'gen_ai.usage.output_tokens': 300,
              'gen_ai.usage.cost': COST_PER_LLM_SPAN,
              'spanledger.tenant': tenant,
              'gen_ai.prompt': `Summarise the ticket ${trace}: the customer asks where order ${trace % 997} is.`,
              'gen_ai.completion': 'The order shipped yesterday and arrives on Friday.',
            },
            now,
          ),
        );
      }
      spans.push(
        span(
          t,
          hex(trace * 4 + 4, 16),
          root,
          'execute_tool lookup_order',
          1,
          {
            'gen_ai.tool.name': 'lookup_order',
            'spanledger.tenant': tenant,
          },
          now,
        ),
      );
      sent += SPANS_PER_TRACE;
      trace++;
    }
    out.push(ProtobufTraceSerializer.serializeRequest(spans));
  }
  return { payloads: out, nextTrace: trace };
}

/** User + system CPU seconds the kernel charged to `pid`. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after the command; clock ticks.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Peak resident memory of `pid`, MiB. */
function peakMiB(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** Sum of a metric in a Prometheus text exposition at `url`. */
async function scrapeSum(url, metric, labels = {}) {
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (m === null || m[1] !== metric) continue;
    if (Object.entries(labels).every(([k, v]) => (m[3] ?? '').includes(`${k}="${v}"`))) {
      sum += Number(m[4]);
    }
  }
  return sum;
}

async function waitFor(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function send(url, payloads) {
  let next = 0;
  const worker = async () => {
    while (next < payloads.length) {
      const body = payloads[next++];
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf' },
        body,
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`the agent answered ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

const tmp = mkdtempSync(join(tmpdir(), 'spanledger-bench-collector-'));
const port = {};
for (const k of [
  'agentGrpc',
  'agentHttp',
  'agentHealth',
  'agentTel',
  'gwGrpc',
  'gwHttp',
  'gwHealth',
  'gwTel',
  'gwScrape',
]) {
  port[k] = await freePort();
}
const config = (f) => join(ROOT, 'collector-config', f);
const gateway = await startCollector({
  binary: built.path,
  configs: [config('gateway.yaml'), config('prometheus-scrape.yaml'), config('traces-file.yaml')],
  healthUrl: `http://127.0.0.1:${port.gwHealth}/`,
  cwd: tmp,
  env: {
    SPANLEDGER_GATEWAY_HEALTH_ENDPOINT: `127.0.0.1:${port.gwHealth}`,
    SPANLEDGER_GATEWAY_GRPC_ENDPOINT: `127.0.0.1:${port.gwGrpc}`,
    SPANLEDGER_GATEWAY_HTTP_ENDPOINT: `127.0.0.1:${port.gwHttp}`,
    SPANLEDGER_GATEWAY_TELEMETRY_HOST: '127.0.0.1',
    SPANLEDGER_GATEWAY_TELEMETRY_PORT: String(port.gwTel),
    SPANLEDGER_GATEWAY_STORAGE_DIR: join(tmp, 'gateway-storage'),
    SPANLEDGER_PROMETHEUS_SCRAPE_ENDPOINT: `127.0.0.1:${port.gwScrape}`,
    SPANLEDGER_TRACES_FILE: join(tmp, 'traces.jsonl'),
    SPANLEDGER_TAIL_DECISION_WAIT: '5s',
  },
});
const agent = await startCollector({
  binary: built.path,
  configs: [config('agent.yaml')],
  healthUrl: `http://127.0.0.1:${port.agentHealth}/`,
  cwd: tmp,
  env: {
    SPANLEDGER_AGENT_HEALTH_ENDPOINT: `127.0.0.1:${port.agentHealth}`,
    SPANLEDGER_AGENT_GRPC_ENDPOINT: `127.0.0.1:${port.agentGrpc}`,
    SPANLEDGER_AGENT_HTTP_ENDPOINT: `127.0.0.1:${port.agentHttp}`,
    SPANLEDGER_AGENT_TELEMETRY_PORT: String(port.agentTel),
    SPANLEDGER_AGENT_STORAGE_DIR: join(tmp, 'agent-storage'),
    SPANLEDGER_GATEWAY_ENDPOINT: `127.0.0.1:${port.gwGrpc}`,
    SPANLEDGER_GATEWAY_INSECURE: 'true',
  },
});

const agentUrl = `http://127.0.0.1:${port.agentHttp}/v1/traces`;
const gatewayAccepted = () =>
  scrapeSum(`http://127.0.0.1:${port.gwTel}/metrics`, 'otelcol_receiver_accepted_spans', {
    receiver: 'otlp',
  });
const costSeen = () =>
  scrapeSum(`http://127.0.0.1:${port.gwScrape}/metrics`, 'spanledger_cost_usd_total');

try {
  const warm = requests(WARMUP_SPANS, 1);
  const measured = requests(SPANS, warm.nextTrace);
  await send(agentUrl, warm.payloads);
  await waitFor('the warm-up', async () => (await gatewayAccepted()) >= WARMUP_SPANS, 120_000);

  const load0 = loadAvg();
  const cpu0 = { agent: cpuSeconds(agent.pid), gateway: cpuSeconds(gateway.pid) };
  const t0 = process.hrtime.bigint();
  await send(agentUrl, measured.payloads);
  await waitFor(
    'the gateway to receive every span',
    async () => (await gatewayAccepted()) >= WARMUP_SPANS + SPANS,
    600_000,
  );
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = {
    agent: cpuSeconds(agent.pid) - cpu0.agent,
    gateway: cpuSeconds(gateway.pid) - cpu0.gateway,
  };
  // Every LLM span's cost reached the gateway's Prometheus endpoint.
  const expected = ((WARMUP_SPANS + SPANS) / SPANS_PER_TRACE) * 2 * COST_PER_LLM_SPAN;
  await waitFor(
    'the cost metric to count every LLM span',
    async () => Math.abs((await costSeen()) - expected) <= 1e-9 * expected,
    60_000,
  );
  const perCore = (seconds) => Math.round(SPANS / seconds);
  console.log(
    JSON.stringify(
      {
        spans: SPANS,
        spansPerRequest: SPANS_PER_REQUEST,
        concurrency: CONCURRENCY,
        wallSeconds: Number(wall.toFixed(2)),
        spansPerSecondWall: Math.round(SPANS / wall),
        agent: {
          cpuSeconds: Number(cpu.agent.toFixed(2)),
          spansPerCoreSecond: perCore(cpu.agent),
          peakRssMiB: Math.round(peakMiB(agent.pid)),
        },
        gateway: {
          cpuSeconds: Number(cpu.gateway.toFixed(2)),
          spansPerCoreSecond: perCore(cpu.gateway),
          peakRssMiB: Math.round(peakMiB(gateway.pid)),
        },
        costCheckedUsd: Number(expected.toFixed(6)),
        cpu: cpuModel(),
        loadAverageBefore: load0,
        loadAverageAfter: loadAvg(),
      },
      null,
      2,
    ),
  );
} finally {
  await agent.stop();
  await gateway.stop();
  rmSync(tmp, { recursive: true, force: true });
}
