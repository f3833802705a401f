/**
 * `startSpanLedger()`: the NodeSDK with spanledger's processor first, the sampler wrapped so cost
 * metrics stay exact under sampling, OTLP exporters and the GenAI (and HTTP, for baggage across
 * service hops) instrumentations. `spanledger/register` calls it with the environment alone.
 *
 * The exporters, sampler and resource follow the standard `OTEL_*` variables exactly as the
 * NodeSDK reads them (its own env helpers are used, pinned with the SDK version), so
 * `OTEL_TRACES_EXPORTER`, `OTEL_EXPORTER_OTLP_*`, `OTEL_TRACES_SAMPLER(_ARG)`,
 * `OTEL_METRICS_EXPORTER`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` work as documented.
 */

import { randomUUID } from 'node:crypto';
import { DiagConsoleLogger, DiagLogLevel, diag } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import {
  defaultResource,
  detectResources,
  envDetector,
  type Resource,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import { NodeSDK, type NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import { AlwaysOnSampler, ParentBasedSampler, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { ConfigError } from '../config-file.js';
import { OpenAIUsageInstrumentation } from '../instrumentation/openai.js';
import { createSpanLedger, type SpanLedger, type SpanLedgerOptions } from '../ledger.js';
import { DeferredPipeline } from '../processor/deferred.js';
import { CostProcessor } from '../processor/processor.js';
import { registeredLedger, setRegisteredLedger } from '../registered.js';
import { ATTR_SERVICE_INSTANCE_ID } from '../semconv.js';
import { ENV, type Env, envBoolean, envList, ledgerOptionsFromEnv } from './env.js';
import { samplerFromEnv, spanProcessorsFromEnv } from './sdk-env.js';

/** The instrumentations `startSpanLedger` can enable, by the name `SPANLEDGER_INSTRUMENTATIONS`
 * uses. The Anthropic SDK (>= 0.134) traces itself once a tracer provider is registered. */
export const INSTRUMENTATIONS: Readonly<Record<string, () => Instrumentation>> = {
  // The contrib instrumentation makes the spans for openai 4 to 6; ours adds the usage it drops
  // (cached input, reasoning) to them, and makes the span itself where the contrib does not.
  openai: () => new OpenAIInstrumentation(),
  'openai-usage': () => new OpenAIUsageInstrumentation(),
  http: () => new HttpInstrumentation(),
  undici: () => new UndiciInstrumentation(),
};

/** The modules the instrumentations above patch (for the ESM loader hook's `include` list). */
export const PATCHED_MODULES: readonly string[] = ['openai', 'http', 'https'];

/** Options of {@link startSpanLedger}. */
export interface StartSpanLedgerOptions {
  /** Ledger options, over those the `SPANLEDGER_*` variables give. */
  ledger?: SpanLedgerOptions;
  /** NodeSDK configuration. `spanProcessors` given here run after spanledger's (default: the
   * exporters `OTEL_TRACES_EXPORTER` names); `sampler` is wrapped (default: from
   * `OTEL_TRACES_SAMPLER`, else parent-based always-on); `instrumentations` are added to
   * spanledger's. */
  sdk?: Partial<NodeSDKConfiguration>;
  /** Environment to read. Default `process.env`. */
  env?: Env;
  /** How long `shutdown()` waits for the SDK to flush spans and metrics before it gives up,
   * says so once at warn level, and closes the ledger anyway. Default 5000. */
  shutdownTimeoutMs?: number;
}

/** What {@link startSpanLedger} started. */
export interface StartedSpanLedger {
  /** The ledger: budgets, checks, stats. */
  readonly ledger: SpanLedger;
  /** The started NodeSDK. */
  readonly sdk: NodeSDK;
  /** Flush and stop the SDK and the ledger; idempotent. */
  shutdown(): Promise<void>;
}

/** The makers of the instrumentations `SPANLEDGER_INSTRUMENTATIONS` names (default: all),
 * validated; nothing is constructed (a constructed instrumentation patches at once). */
function instrumentationMakers(env: Env): (() => Instrumentation)[] {
  const names = envList(env, ENV.instrumentations);
  if (names === undefined) return Object.values(INSTRUMENTATIONS);
  if (names.length === 1 && names[0]?.toLowerCase() === 'none') return [];
  return names.map((name) => {
    const make = INSTRUMENTATIONS[name.toLowerCase()];
    if (make === undefined) {
      throw new ConfigError(
        `spanledger: ${ENV.instrumentations}: unknown instrumentation ${JSON.stringify(name)} ` +
          `(known: ${Object.keys(INSTRUMENTATIONS).join(', ')}, or none)`,
      );
    }
    return make;
  });
}

/** The instrumentations named by `SPANLEDGER_INSTRUMENTATIONS` (default: all). */
export function instrumentationsFromEnv(env: Env): Instrumentation[] {
  return instrumentationMakers(env).map((make) => make());
}

/**
 * Create the ledger and start the NodeSDK around it. Throws `ConfigError` on bad configuration
 * (a `SPANLEDGER_*` variable, a prices or budgets file) before anything is started.
 */
export function startSpanLedger(options: StartSpanLedgerOptions = {}): StartedSpanLedger {
  const env = options.env ?? process.env;
  const timeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new ConfigError(
      `spanledger: startSpanLedger: shutdownTimeoutMs must be a positive number of ms, got ${timeoutMs}`,
    );
  }
  // First: a Redis ledger unreachable at startup, and any other trouble, must be heard.
  installDefaultDiagLogger(env);
  // Everything is validated before anything takes effect: no module is patched and no Redis
  // connection is left open by a configuration that then fails.
  const makers = instrumentationMakers(env);
  const fromEnv = ledgerOptionsFromEnv(env);
  // Prices given in code replace the prices file of the environment, whichever form they take.
  if (options.ledger?.prices !== undefined || options.ledger?.priceBook !== undefined) {
    delete fromEnv.priceBook;
  }
  // A budget ledger given in code replaces the environment's Redis one, which is closed unused.
  if (options.ledger?.budgetLedger !== undefined && fromEnv.budgetLedger !== undefined) {
    void fromEnv.budgetLedger.close();
    delete fromEnv.budgetLedger;
  }
  let ledger: SpanLedger;
  try {
    // The NodeSDK's own resource, when given, counts for decisions made before any span exists,
    // over what OTEL_RESOURCE_ATTRIBUTES says (the ledger's default), as it does on spans.
    const sdkResource = options.sdk?.resource;
    ledger = createSpanLedger({
      ...fromEnv,
      ...(sdkResource !== undefined
        ? { resource: detectResources({ detectors: [envDetector] }).merge(sdkResource) }
        : {}),
      ...options.ledger,
    });
  } catch (e) {
    void fromEnv.budgetLedger?.close();
    throw e;
  }
  const given = options.sdk ?? {};
  // The sampler and exporters before the instrumentations: constructing those installs their
  // require hooks, through which every later require (the NodeSDK's env readers among them)
  // costs several times more (docs/performance.md, "2026-11-30: startup").
  const delegate =
    given.sampler ?? samplerFromEnv() ?? new ParentBasedSampler({ root: new AlwaysOnSampler() });
  const spanProcessors = pipeline(ledger, given.spanProcessors, env);
  const instrumentations = makers.map((make) => make());
  const sdk = new NodeSDK({
    ...given,
    resource: withInstanceId(given.resource),
    spanLimits: { ...given.spanLimits, attributeCountLimit: attributeCountLimit(env, given) },
    sampler: ledger.sampler(delegate),
    spanProcessors,
    instrumentations: [...instrumentations, ...(given.instrumentations ?? [])],
  });
  sdk.start();
  setRegisteredLedger(ledger);
  const target = exportTarget(env, given);
  let stopped: Promise<FlushOutcome> | undefined;
  const stop = (): Promise<FlushOutcome> => {
    stopped ??= flushWithin(sdk, timeoutMs, target)
      .then(async (outcome) => {
        await ledger.shutdown();
        return outcome;
      })
      .finally(() => {
        if (registeredLedger() === ledger) setRegisteredLedger(undefined);
      });
    return stopped;
  };
  const started: StartedSpanLedger = {
    ledger,
    sdk,
    shutdown: () => stop().then(() => undefined),
  };
  stoppers.set(started, stop);
  return started;
}

/**
 * The span processors: spanledger's first, then the exporters. With the exporters the
 * environment names, no budgets and no exporter with an `onEnding`, the cost accounting runs in
 * batches before the exporters see the spans (src/processor/deferred.ts; measured in
 * docs/performance.md). Processors given in code get every span at its end, as they would from
 * a plain NodeSDK, and budgets need every cost accounted at once.
 */
function pipeline(
  ledger: SpanLedger,
  given: SpanProcessor[] | undefined,
  env: Env,
): SpanProcessor[] {
  const exporters = given ?? exportersFromEnv(env);
  const cost = ledger.processor;
  if (
    given !== undefined ||
    ledger.budgets.length > 0 ||
    !(cost instanceof CostProcessor) ||
    exporters.some((p) => typeof (p as { onEnding?: unknown }).onEnding === 'function')
  ) {
    return [cost, ...exporters];
  }
  return [new DeferredPipeline({ processor: cost, downstream: exporters })];
}

let instanceId: string | undefined;

/**
 * The resource the NodeSDK starts from, with a random `service.instance.id` under it: the 3.x
 * NodeSDK's default detectors add one, the 2.x NodeSDK's do not. Without one, two runs of a
 * service in a row export the same counter series, and a restart whose first export already
 * exceeds the last value before it reads as growth, not a reset: showback and the dashboards'
 * increases would undercount (docs/finance.md). One in `OTEL_RESOURCE_ATTRIBUTES` wins (the
 * NodeSDK's detected attributes override its resource), and on 2.x so does one in the resource
 * given in code (3.x's own detector puts its id over that one).
 */
function withInstanceId(given: Resource | undefined): Resource {
  // One id per process, as the 3.x detector's: a process started twice is still one instance.
  instanceId ??= randomUUID();
  const instance = resourceFromAttributes({ [ATTR_SERVICE_INSTANCE_ID]: instanceId });
  return given === undefined ? defaultResource().merge(instance) : instance.merge(given);
}

/** How long `shutdown()` waits for the SDK's flush by default (the OTLP exporters' own timeout
 * is 10 s, with retries: an unreachable collector would hold the exit that long). */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5000;

/** How the flush at shutdown went. */
export type FlushOutcome = 'flushed' | 'failed' | 'timed_out';

const stoppers = new WeakMap<StartedSpanLedger, () => Promise<FlushOutcome>>();

/** Shut `started` down and tell how its flush went (for `spanledger/register`'s exit). */
export function shutdownForExit(started: StartedSpanLedger): Promise<FlushOutcome> {
  return stoppers.get(started)?.() ?? started.shutdown().then(() => 'flushed' as const);
}

/** Shut the SDK down (flushing spans and metrics) within `timeoutMs`; a failure or timeout is
 * said once, at warn level, with where the telemetry was going. Never rejects. */
async function flushWithin(sdk: NodeSDK, timeoutMs: number, target: string): Promise<FlushOutcome> {
  const startMs = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timed_out'>((resolve) => {
    timer = setTimeout(() => resolve('timed_out'), timeoutMs);
  });
  const flushed = sdk.shutdown().then(
    () => 'flushed' as const,
    (e: unknown) => e as Error,
  );
  const outcome = await Promise.race([flushed, timeout]);
  clearTimeout(timer);
  if (outcome === 'flushed') return outcome;
  const after = `after ${Date.now() - startMs} ms`;
  if (outcome === 'timed_out') {
    diag.warn(`spanledger: flushing telemetry (${target}) timed out ${after}; exiting without it`);
    return outcome;
  }
  diag.warn(`spanledger: flushing telemetry (${target}) failed ${after}: ${outcome?.message}`);
  return 'failed';
}

/** Where the SDK sends telemetry, per signal, for messages: the exporters the `OTEL_*`
 * variables name (OTLP with its endpoint), or what was given in code. Logs count too: the
 * contrib OpenAI instrumentation emits its GenAI events as logs, to OTLP by default. */
function exportTarget(env: Env, given: Partial<NodeSDKConfiguration>): string {
  const signal = (name: 'traces' | 'metrics' | 'logs', inCode: boolean): string => {
    if (inCode) return `${name}: as configured in code`;
    const key = name.toUpperCase() as 'TRACES' | 'METRICS' | 'LOGS';
    const exporters = (env[`OTEL_${key}_EXPORTER`] ?? 'otlp').split(',').map((e) => e.trim());
    const grpc =
      (env[`OTEL_EXPORTER_OTLP_${key}_PROTOCOL`] ?? env.OTEL_EXPORTER_OTLP_PROTOCOL) === 'grpc';
    const endpoint =
      env[`OTEL_EXPORTER_OTLP_${key}_ENDPOINT`] ??
      env.OTEL_EXPORTER_OTLP_ENDPOINT ??
      (grpc ? 'http://localhost:4317' : 'http://localhost:4318');
    return `${name}: ${exporters.map((e) => (e === 'otlp' ? `otlp ${endpoint}` : e)).join(', ')}`;
  };
  return [
    signal('traces', given.spanProcessors !== undefined || given.traceExporter !== undefined),
    signal(
      'metrics',
      given.metricReaders !== undefined ||
        // 2.x's NodeSDK also takes a single (deprecated) `metricReader`.
        (given as { metricReader?: unknown }).metricReader !== undefined,
    ),
    signal('logs', given.logRecordProcessors !== undefined),
  ].join('; ');
}

// The API keeps its global diag logger here (its major version is part of the key).
const API_GLOBAL = Symbol.for('opentelemetry.js.api.1');

/** With no diag logger and no `OTEL_LOG_LEVEL` (with which NodeSDK installs its own), important
 * trouble (a ledger down, a flush that failed) would go unsaid: log warnings and errors to
 * stderr. `OTEL_LOG_LEVEL=none` silences them; a logger set before keeps its place. */
function installDefaultDiagLogger(env: Env): void {
  if ((env.OTEL_LOG_LEVEL ?? '').trim() !== '') return;
  const api = (globalThis as { [API_GLOBAL]?: { diag?: unknown } })[API_GLOBAL];
  if (api?.diag !== undefined) return;
  diag.setLogger(new DiagConsoleLogger(), {
    logLevel: DiagLogLevel.WARN,
    suppressOverrideMessage: true,
  });
}

/** The span exporters `OTEL_TRACES_EXPORTER` names. With `none` (metrics only), none: the
 * NodeSDK helper would warn "SDK will not be initialized", which is not so here (spanledger's
 * processor still prices every span for the metrics). */
function exportersFromEnv(env: Env): SpanProcessor[] {
  const first = (env.OTEL_TRACES_EXPORTER ?? '').split(',')[0]?.trim();
  return first === 'none' ? [] : spanProcessorsFromEnv();
}

/** Span attribute count limit when the user set none (the SDK's default is 128). Instrumentations
 * that flatten messages into attributes (OpenInference) reach 128, and the SDK then silently
 * drops every attribute set later, spanledger's cost attributes among them. */
export const DEFAULT_ATTRIBUTE_COUNT_LIMIT = 1024;

/** The span attribute count limit: the user's (`sdk.spanLimits`, `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`,
 * `OTEL_ATTRIBUTE_COUNT_LIMIT`, in the SDK's order), else {@link DEFAULT_ATTRIBUTE_COUNT_LIMIT}.
 * Read from `env` (which may not be `process.env`) and always passed on, so the SDK sees it. */
function attributeCountLimit(env: Env, given: Partial<NodeSDKConfiguration>): number {
  const fromEnv = (name: string): number | undefined => {
    const raw = env[name]?.trim();
    const n = raw ? Number(raw) : Number.NaN;
    return Number.isInteger(n) && n >= 0 ? n : undefined;
  };
  return (
    given.spanLimits?.attributeCountLimit ??
    fromEnv('OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT') ??
    fromEnv('OTEL_ATTRIBUTE_COUNT_LIMIT') ??
    DEFAULT_ATTRIBUTE_COUNT_LIMIT
  );
}

/** Whether the environment turns spanledger off (`SPANLEDGER_DISABLED` or `OTEL_SDK_DISABLED`). */
export function disabledByEnv(env: Env): boolean {
  return envBoolean(env, ENV.disabled, false) || envBoolean(env, 'OTEL_SDK_DISABLED', false);
}
