/**
 * The collector pipelines of collector-config/ on loopback, for the end-to-end tests: the agent
 * collector (agent.yaml) sending to the gateway (gateway.yaml), which remote-writes to a real
 * Prometheus 3; optionally the gateway's scrape endpoint (prometheus-scrape.yaml) scraped by a
 * second Prometheus, and the kept traces written to a file (traces-file.yaml). Every port is a
 * free one; the collectors' queues live under `dir`. See docs/operations.md for the pipelines.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './built.js';
import {
  freePort,
  type Started,
  type StartedPrometheus,
  startCollector,
  startPrometheus,
} from './collector.js';
import { onFreePorts } from './ports.js';

const CONFIG = join(ROOT, 'collector-config');

/** What {@link startPipeline} starts. */
export interface PipelineOptions {
  /** The collector distribution and Prometheus binaries (scripts/collector.mjs). */
  collector: string;
  prometheus: string;
  /** A scratch directory: the collectors' storage and the overlay files. */
  dir: string;
  /** Also expose the gateway's scrape endpoint and scrape it with a second Prometheus. */
  scrape?: boolean;
  /** Write the traces the gateway keeps to this file. */
  traceFile?: string;
  /** Added to (or replacing) the gateway's and the agent's environment. */
  gatewayEnv?: Record<string, string>;
  agentEnv?: Record<string, string>;
}

/** A running pipeline. */
export interface Pipeline {
  /** The Prometheus the gateway remote-writes to. */
  prw: StartedPrometheus;
  /** The Prometheus scraping the gateway (with `scrape: true`). */
  scraper: StartedPrometheus | undefined;
  agent: Started;
  gateway: Started;
  /** The agent's OTLP/HTTP port: where services export (`http://127.0.0.1:<port>`). */
  agentHttp: number;
  /** The collectors' own telemetry ports (Prometheus text exposition). */
  agentTelemetry: number;
  gatewayTelemetry: number;
  /** Stops everything that was started (collectors first, so that they drain). */
  stop(): Promise<void>;
}

/**
 * Starts the Prometheus instances, the gateway and the agent; stops what it started on failure.
 * The ports are found free before the collectors start, so another process can take one in
 * between: a start that lost a port that way is tried again with new ones (three times at most).
 */
export function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  return onFreePorts(() => startOnce(options));
}

async function startOnce(options: PipelineOptions): Promise<Pipeline> {
  const port = () => freePort();
  const [agentGrpc, agentHttp, agentHealth, agentTelemetry] = [
    await port(),
    await port(),
    await port(),
    await port(),
  ];
  const [gwGrpc, gwHttp, gwHealth, gatewayTelemetry, gwScrape] = [
    await port(),
    await port(),
    await port(),
    await port(),
    await port(),
  ];
  const started: Array<{ stop(): Promise<void> }> = [];
  const stop = async () => {
    for (const s of [...started].reverse()) await s.stop();
  };
  try {
    const prw = await startPrometheus({ binary: options.prometheus, config: 'global: {}\n' });
    started.push(prw);
    let scraper: StartedPrometheus | undefined;
    const configs = [join(CONFIG, 'gateway.yaml')];
    if (options.scrape) {
      scraper = await startPrometheus({
        binary: options.prometheus,
        config: [
          'global: { scrape_interval: 1s }',
          'scrape_configs:',
          '  - job_name: spanledger-gateway',
          '    honor_labels: true',
          `    static_configs: [{ targets: ["127.0.0.1:${gwScrape}"] }]`,
          '',
        ].join('\n'),
      });
      started.push(scraper);
      // Both Prometheus paths at once: remote write (gateway.yaml) and the scrape endpoint.
      const both = join(options.dir, 'both-prometheus.yaml');
      writeFileSync(
        both,
        'service:\n  pipelines:\n    metrics:\n      exporters: [prometheus_remote_write, prometheus]\n',
      );
      configs.push(join(CONFIG, 'prometheus-scrape.yaml'), both);
    }
    if (options.traceFile !== undefined) configs.push(join(CONFIG, 'traces-file.yaml'));
    const gateway = await startCollector({
      binary: options.collector,
      configs,
      healthUrl: `http://127.0.0.1:${gwHealth}/`,
      cwd: options.dir,
      env: {
        SPANLEDGER_GATEWAY_HEALTH_ENDPOINT: `127.0.0.1:${gwHealth}`,
        SPANLEDGER_GATEWAY_GRPC_ENDPOINT: `127.0.0.1:${gwGrpc}`,
        SPANLEDGER_GATEWAY_HTTP_ENDPOINT: `127.0.0.1:${gwHttp}`,
        SPANLEDGER_GATEWAY_TELEMETRY_HOST: '127.0.0.1',
        SPANLEDGER_GATEWAY_TELEMETRY_PORT: String(gatewayTelemetry),
        SPANLEDGER_GATEWAY_STORAGE_DIR: join(options.dir, 'gateway-storage'),
        SPANLEDGER_GATEWAY_BATCH_TIMEOUT: '200ms',
        SPANLEDGER_TAIL_DECISION_WAIT: '2s',
        SPANLEDGER_PROMETHEUS_REMOTE_WRITE_URL: `${prw.url}/api/v1/write`,
        ...(options.scrape
          ? { SPANLEDGER_PROMETHEUS_SCRAPE_ENDPOINT: `127.0.0.1:${gwScrape}` }
          : {}),
        ...(options.traceFile !== undefined ? { SPANLEDGER_TRACES_FILE: options.traceFile } : {}),
        ...options.gatewayEnv,
      },
    });
    started.push(gateway);
    const agent = await startCollector({
      binary: options.collector,
      configs: [join(CONFIG, 'agent.yaml')],
      healthUrl: `http://127.0.0.1:${agentHealth}/`,
      cwd: options.dir,
      env: {
        SPANLEDGER_AGENT_HEALTH_ENDPOINT: `127.0.0.1:${agentHealth}`,
        SPANLEDGER_AGENT_GRPC_ENDPOINT: `127.0.0.1:${agentGrpc}`,
        SPANLEDGER_AGENT_HTTP_ENDPOINT: `127.0.0.1:${agentHttp}`,
        SPANLEDGER_AGENT_TELEMETRY_PORT: String(agentTelemetry),
        SPANLEDGER_AGENT_STORAGE_DIR: join(options.dir, 'agent-storage'),
        SPANLEDGER_AGENT_BATCH_TIMEOUT: '200ms',
        SPANLEDGER_GATEWAY_ENDPOINT: `127.0.0.1:${gwGrpc}`,
        SPANLEDGER_GATEWAY_INSECURE: 'true',
        ...options.agentEnv,
      },
    });
    started.push(agent);
    return {
      prw,
      scraper,
      agent,
      gateway,
      agentHttp,
      agentTelemetry,
      gatewayTelemetry,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
