/**
 * The demo's run: the example support agent (examples/support-agent/agent.mjs, bundled here) with
 * the real `openai` client against the example's mock OpenAI API, under the NodeSDK that
 * `startSpanLedger` starts (spanledger's processor first, the OpenAI instrumentations), one run
 * per planned ticket, each attributed to its tenant, team and use case. Built as its own bundle
 * (dist/cli/demo.js, see tsup.config.ts) so that other commands never load the SDK.
 */
import { createRequire } from 'node:module';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import type { MetricReader } from '@opentelemetry/sdk-metrics';
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  type IdGenerator,
  InMemorySpanExporter,
  ParentBasedSampler,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { createSupportAgent, type RunResult } from '../../../examples/support-agent/agent.mjs';
import { startMockProvider } from '../../../examples/support-agent/mock-provider.mjs';
import { withAttribution } from '../../attribution/attribution.js';
import type { BudgetInput } from '../../budgets/config.js';
import type { BudgetEvent } from '../../budgets/signals.js';
import { OpenAIUsageInstrumentation } from '../../instrumentation/openai.js';
import { startSpanLedger } from '../../node/start.js';
import type { PricesConfigInput } from '../../pricing/config.js';
import { type PlannedRun, random } from './workload.js';

/**
 * The example's prices (examples/support-agent/spanledger.yaml): the unit prices of the work no
 * catalog knows, and the routing alternative each gpt-4o call is also priced on. Model prices
 * come from the catalog.
 */
export const DEMO_PRICES = {
  tools: [{ name: 'lookup_order', perCallUsd: 0.002 }],
  retrievals: [{ dataSource: 'kb-support', perQueryUsd: 0.0004 }],
  humanReview: { ratePerHourUsd: 60 },
  routing: { models: { 'gpt-4o': ['gpt-4o-mini'] } },
} satisfies PricesConfigInput;

/** The example's budgets (spanledger.yaml): a per-run cap that stops a looping agent, a monthly
 * budget per tenant that warns, and a trial tenant's daily cent that pauses it. */
export const DEMO_BUDGETS: BudgetInput[] = [
  {
    name: 'per-run',
    scope: 'trace',
    limitUsd: 5,
    maxLlmCalls: 6,
    maxRepeatedToolCalls: 2,
    action: 'block',
  },
  {
    name: 'tenant-monthly',
    scope: { tenant: '*' },
    window: { calendar: 'month', timeZone: 'UTC' },
    limitUsd: 10,
    action: 'alert',
  },
  {
    name: 'trial-daily',
    scope: { tenant: 'trial' },
    window: { calendar: 'day', timeZone: 'UTC' },
    limitUsd: 0.01,
    action: 'pause',
  },
];

/** What the demo's run needs besides the workload. */
export interface DemoRunOptions {
  seed: number;
  /** Base URL of an OTLP/HTTP collector that also gets the traces and metrics. */
  otlp?: string;
  /** Serve the cost metrics for Prometheus on this port (127.0.0.1). */
  prometheusPort?: number;
  /** Called after each run (the progress bar). */
  onRun?: (done: number) => void;
}

/** One run as it went. */
export interface RunOutcome extends PlannedRun {
  traceId: string;
  result: RunResult;
}

/** A budget warning or exceeded event, with the run it happened in. Events of calendar windows
 * (the tenant budget) are not span events: the ledger's callback is where all of them are. */
export interface DemoBudgetEvent extends BudgetEvent {
  run: number;
}

/** What the runs produced. */
export interface DemoRun {
  runs: RunOutcome[];
  spans: ReadableSpan[];
  budgetEvents: DemoBudgetEvent[];
  /** Where Prometheus can scrape, while {@link DemoRun.stop} has not been called. */
  metricsUrl?: string;
  /** Flush the telemetry (to the collector, when given), stop the SDK and the mock. */
  stop(): Promise<void>;
}

/** Trace and span ids from the seed, so the same seed gives the same ids. */
function seededIds(seed: number): IdGenerator {
  const next = random(seed ^ 0x5eed);
  const hex = (bytes: number): string => {
    let out = '';
    while (out.length < bytes * 2) {
      out += Math.floor(next() * 0x100000000)
        .toString(16)
        .padStart(8, '0');
    }
    return out.slice(0, bytes * 2);
  };
  return { generateTraceId: () => hex(16), generateSpanId: () => hex(8) };
}

async function metricReaders(options: DemoRunOptions): Promise<MetricReader[]> {
  const readers: MetricReader[] = [];
  if (options.otlp !== undefined) {
    // Loaded only when asked for: both come with the NodeSDK (its dependencies).
    const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-http');
    const { PeriodicExportingMetricReader } = await import('@opentelemetry/sdk-metrics');
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${options.otlp}/v1/metrics` }),
        exportIntervalMillis: 60_000,
      }),
    );
  }
  if (options.prometheusPort !== undefined) {
    const { PrometheusExporter } = await import('@opentelemetry/exporter-prometheus');
    const port = options.prometheusPort;
    const exporter = await new Promise<MetricReader>((resolve, reject) => {
      // Cast: on the 2.x line the exporter may bring its own copy of sdk-metrics, whose
      // MetricReader type differs from the one imported here (the reader works the same).
      const e = new PrometheusExporter(
        { host: '127.0.0.1', port, preventServerStart: true },
        () => {},
      ) as unknown as MetricReader;
      (e as unknown as { startServer(): Promise<void> }).startServer().then(
        () => resolve(e),
        (err: Error) => reject(new Error(`cannot serve metrics on port ${port}: ${err.message}`)),
      );
    });
    readers.push(exporter);
  }
  return readers;
}

type LogsApi = { logs?: { disable(): void } };

/** Unregister the global logger provider the NodeSDK registered: `logs` of
 * `@opentelemetry/api` >= 1.10 (the 3.x line), of `@opentelemetry/api-logs` on the 2.x line. */
async function disableLogsApi(): Promise<void> {
  const api = (await import('@opentelemetry/api')) as LogsApi;
  if (api.logs !== undefined) return api.logs.disable();
  try {
    // A specifier the bundler and the type checker do not follow: only the 2.x line has it.
    const name = '@opentelemetry/api-logs';
    ((await import(name)) as LogsApi).logs?.disable();
  } catch {}
}

let made: Instrumentation[] | undefined;

/**
 * The two OpenAI instrumentations that `spanledger/register` enables, made once per process:
 * `openai` is patched when it is first required, so a second demo in the same process (a test)
 * re-enables the same instances, which patch it again, rather than new ones, which would not.
 */
function openAIInstrumentations(): Instrumentation[] {
  made ??= [new OpenAIInstrumentation(), new OpenAIUsageInstrumentation()];
  return made;
}

/** Run the planned tickets through the agent; `stop()` the result when done with it. */
export async function runWorkload(plan: PlannedRun[], options: DemoRunOptions): Promise<DemoRun> {
  const mock = await startMockProvider();
  const memory = new InMemorySpanExporter();
  const processors: SpanProcessor[] = [new SimpleSpanProcessor({ exporter: memory })];
  if (options.otlp !== undefined) {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    processors.push(
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: `${options.otlp}/v1/traces` }),
      }),
    );
  }
  let readers: MetricReader[];
  try {
    readers = await metricReaders(options);
  } catch (e) {
    await mock.close();
    throw e;
  }
  const instrumentations = openAIInstrumentations();
  const budgetEvents: DemoBudgetEvent[] = [];
  let current = 0;
  const started = startSpanLedger({
    // None of the environment's SPANLEDGER_* settings: the demo's prices and budgets are its own.
    env: { SPANLEDGER_INSTRUMENTATIONS: 'none', OTEL_LOG_LEVEL: process.env.OTEL_LOG_LEVEL },
    ledger: {
      prices: DEMO_PRICES,
      budgets: DEMO_BUDGETS,
      onBudgetEvent: (e) => budgetEvents.push({ run: current, ...e }),
    },
    sdk: {
      serviceName: 'support-agent',
      autoDetectResources: false,
      sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
      idGenerator: seededIds(options.seed),
      spanProcessors: processors,
      metricReaders: readers,
      // The contrib instrumentation's GenAI events are logs: kept in the process, not exported.
      logRecordProcessors: [],
      instrumentations,
    },
  });
  // The NodeSDK enables only instrumentations whose config says disabled; after a previous
  // demo's disable() the config still says enabled.
  for (const i of instrumentations) i.enable();
  const stop = async () => {
    await started.shutdown();
    for (const i of instrumentations) i.disable();
    // The demo registered the API's globals for its run only.
    trace.disable();
    context.disable();
    propagation.disable();
    metrics.disable();
    await disableLogsApi();
    await mock.close();
  };
  try {
    // Required after the SDK started, so the instrumentations patch it; the real client, as
    // installed (a devDependency of this repository, a dependency of your app).
    const { OpenAI } = createRequire(import.meta.url)('openai') as {
      OpenAI: new (o: { baseURL: string; apiKey: string }) => unknown;
    };
    const agent = createSupportAgent({
      openai: new OpenAI({ baseURL: mock.url, apiKey: 'mock-key' }),
      ledger: started.ledger,
    });
    const runs: RunOutcome[] = [];
    for (const planned of plan) {
      const dimensions = {
        tenant: planned.tenant,
        team: planned.team,
        costCenter: planned.costCenter,
        useCase: planned.useCase,
      };
      const before = memory.getFinishedSpans().length;
      current = planned.run;
      const result = await withAttribution(dimensions, () =>
        agent.run(planned.ticket, { model: planned.model }),
      );
      const root = memory
        .getFinishedSpans()
        .slice(before)
        .find((s) => s.parentSpanContext === undefined);
      runs.push({ ...planned, traceId: root?.spanContext().traceId ?? '', result });
      options.onRun?.(runs.length);
    }
    return {
      runs,
      spans: memory.getFinishedSpans(),
      budgetEvents,
      ...(options.prometheusPort === undefined
        ? {}
        : { metricsUrl: `http://127.0.0.1:${options.prometheusPort}/metrics` }),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
