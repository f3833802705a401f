import * as api from '@opentelemetry/api';
import { context, DiagLogLevel, diag, metrics, propagation, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, registeredLedger } from '../../src/index.js';
import { type StartedSpanLedger, startSpanLedger } from '../../src/node/start.js';
import { CHAT, CHAT_USD } from '../support/fixtures.js';
import { sumOf, TestReader } from '../support/metrics.js';

const QUIET = {
  OTEL_TRACES_EXPORTER: 'none',
  OTEL_METRICS_EXPORTER: 'none',
  OTEL_LOGS_EXPORTER: 'none',
  SPANLEDGER_INSTRUMENTATIONS: 'none',
};

let started: StartedSpanLedger | undefined;

/** Shut the started ledger down and clear the API's globals, for the next start. */
async function stop(): Promise<void> {
  await started?.shutdown();
  started = undefined;
  trace.disable();
  metrics.disable();
  context.disable();
  propagation.disable();
  // The 3.x NodeSDK registers a logger provider even with no log exporter (API 1.10 has logs).
  (api as { logs?: { disable(): void } }).logs?.disable();
  diag.disable(); // startSpanLedger installs a WARN logger when none is set
}

afterEach(stop);

describe('startSpanLedger (spanledger/node)', () => {
  it('starts the NodeSDK with the ledger first; registeredLedger() is it until shutdown', async () => {
    const exporter = new InMemorySpanExporter();
    const processor = new SimpleSpanProcessor({ exporter: exporter });
    const reader = new TestReader({
      aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE,
    });
    started = startSpanLedger({
      env: QUIET,
      sdk: {
        spanProcessors: [processor],
        metricReaders: [reader],
        serviceName: 'start-test',
      },
    });
    expect(registeredLedger()).toBe(started.ledger);
    trace.getTracer('t').startSpan('chat gpt-4o', { attributes: CHAT }).end();
    await processor.forceFlush(); // the SDK holds exports until resource detection is done
    const [span] = exporter.getFinishedSpans();
    expect(span?.attributes['spanledger.cost.usd']).toBeCloseTo(CHAT_USD, 12);
    expect(span?.resource.attributes['service.name']).toBe('start-test');
    const { resourceMetrics } = await reader.collect();
    expect(sumOf(resourceMetrics, 'spanledger.cost.usd')).toBeCloseTo(CHAT_USD, 12);
    await started.shutdown();
    await started.shutdown(); // idempotent
    expect(registeredLedger()).toBeUndefined();
    started = undefined;
  });

  /** The resource of the first span a started ledger exports. */
  async function exportedResource(
    sdk: NonNullable<Parameters<typeof startSpanLedger>[0]>['sdk'] = {},
  ): Promise<Record<string, unknown>> {
    const exporter = new InMemorySpanExporter();
    const processor = new SimpleSpanProcessor({ exporter: exporter });
    started = startSpanLedger({ env: QUIET, sdk: { ...sdk, spanProcessors: [processor] } });
    trace.getTracer('t').startSpan('work').end();
    await processor.forceFlush(); // after resource detection
    const attributes = { ...exporter.getFinishedSpans()[0]?.resource.attributes };
    await stop();
    return attributes;
  }

  it('gives the process a random service.instance.id (on both lines), under the environment and code', async () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const first = await exportedResource({ serviceName: 'instance-test' });
    const second = await exportedResource({ serviceName: 'instance-test' });
    expect(first['service.instance.id']).toMatch(uuid);
    expect(second['service.instance.id']).toMatch(uuid);
    // One process is one instance, as the 3.x NodeSDK's own detector has it.
    expect(second['service.instance.id']).toBe(first['service.instance.id']);
    expect(first['service.name']).toBe('instance-test');
    expect(first['telemetry.sdk.language']).toBe('nodejs'); // the default resource is kept

    // A resource given in code keeps its attributes and, on 2.x, its id. The 3.x NodeSDK's
    // own detector puts its process id over the resource given in code (the line is told by
    // API 1.10's logs, which only 3.x has).
    const given = await exportedResource({
      resource: resourceFromAttributes({ 'service.instance.id': 'pod-3', 'spanledger.team': 'x' }),
    });
    const line3 = 'logs' in api;
    expect(given['service.instance.id']).toBe(line3 ? first['service.instance.id'] : 'pod-3');
    expect(given['spanledger.team']).toBe('x');

    // OTEL_RESOURCE_ATTRIBUTES wins (the NodeSDK's env detector reads the process' environment).
    const before = process.env.OTEL_RESOURCE_ATTRIBUTES;
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'service.instance.id=pod-7';
    try {
      expect((await exportedResource())['service.instance.id']).toBe('pod-7');
    } finally {
      if (before === undefined) delete process.env.OTEL_RESOURCE_ATTRIBUTES;
      else process.env.OTEL_RESOURCE_ATTRIBUTES = before;
    }
  });

  it('accounts in batches before exporters from the environment, at each span end with budgets', async () => {
    // OTEL_TRACES_EXPORTER=console: the NodeSDK's own reader builds a SimpleSpanProcessor that
    // prints each span it gets (console.dir), once the resource is detected.
    // The NodeSDK reads the exporters from the process' environment, not from `env`.
    const keys = ['OTEL_TRACES_EXPORTER', 'OTEL_METRICS_EXPORTER', 'OTEL_LOGS_EXPORTER'] as const;
    const before = keys.map((k) => process.env[k]);
    process.env.OTEL_TRACES_EXPORTER = 'console';
    process.env.OTEL_METRICS_EXPORTER = 'none';
    process.env.OTEL_LOGS_EXPORTER = 'none';
    const printed: { name: string; attributes: Record<string, unknown> }[] = [];
    const dir = vi.spyOn(console, 'dir').mockImplementation((info) => {
      printed.push(info as (typeof printed)[number]);
    });
    const env = { ...QUIET, OTEL_TRACES_EXPORTER: 'console' };
    const flush = () =>
      (trace.getTracerProvider() as unknown as { getDelegate(): { forceFlush(): Promise<void> } })
        .getDelegate()
        .forceFlush();
    const cost = (span: unknown) =>
      (span as { attributes: Record<string, unknown> }).attributes['spanledger.cost.usd'];
    try {
      started = startSpanLedger({ env });
      const span = trace.getTracer('t').startSpan('chat gpt-4o', { attributes: CHAT });
      span.end();
      expect(cost(span)).toBeUndefined(); // waiting in the batch, for at most 500 ms
      // stats() accounts for the waiting spans first.
      expect(started.ledger.stats().spans.priced).toBe(1);
      expect(cost(span)).toBeCloseTo(CHAT_USD, 12);
      await flush();
      expect(printed.map((p) => p.attributes['spanledger.cost.usd'])).toEqual([cost(span)]);
      await stop();

      started = startSpanLedger({
        env,
        ledger: { budgets: [{ name: 'run', scope: 'trace', maxLlmCalls: 5, action: 'block' }] },
      });
      const withBudgets = trace.getTracer('t').startSpan('chat gpt-4o', { attributes: CHAT });
      withBudgets.end();
      expect(cost(withBudgets)).toBeCloseTo(CHAT_USD, 12); // accounted at the span's end
    } finally {
      dir.mockRestore();
      keys.forEach((k, i) => {
        if (before[i] === undefined) delete process.env[k];
        else process.env[k] = before[i];
      });
    }
  });

  it("the NodeSDK's resource counts for a budget decision made before any span exists", async () => {
    started = startSpanLedger({
      env: QUIET,
      sdk: { resource: resourceFromAttributes({ 'spanledger.team': 'payments' }) },
      ledger: {
        budgets: [
          {
            name: 'payments-day',
            scope: { team: 'payments' },
            window: { calendar: 'day', timeZone: 'UTC' },
            limitUsd: 0.01,
            action: 'block',
          },
        ],
      },
    });
    // No active span: the team comes from the resource given to the NodeSDK.
    const allowed = await started.ledger.check({ estimateUsd: 0.004 });
    expect(allowed).toMatchObject({ action: 'allow' });
    expect(allowed.remainingUsd).toBeCloseTo(0.01, 12);
    const refused = await started.ledger.check({ estimateUsd: 0.02 });
    expect(refused).toMatchObject({ action: 'block', budget: 'payments-day', limit: 'limit_usd' });
  });

  it('a bad variable throws ConfigError before anything is registered', () => {
    expect(() =>
      startSpanLedger({ env: { ...QUIET, SPANLEDGER_PRICES_FILE: '/nonexistent.yaml' } }),
    ).toThrow(ConfigError);
    expect(registeredLedger()).toBeUndefined();
    // No tracer provider was registered: the API still hands out non-recording spans.
    expect(trace.getTracer('t').startSpan('x').isRecording()).toBe(false);
  });

  it.each([
    ['no limit set: spanledger raises it to 1024', {}, 1024],
    [
      "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT=150 is the user's",
      { OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '150' },
      150,
    ],
    ["OTEL_ATTRIBUTE_COUNT_LIMIT=140 is the user's", { OTEL_ATTRIBUTE_COUNT_LIMIT: '140' }, 140],
  ])('span attribute count limit: %s', async (_name, vars, limit) => {
    const exporter = new InMemorySpanExporter();
    const processor = new SimpleSpanProcessor({ exporter: exporter });
    started = startSpanLedger({
      env: { ...QUIET, ...vars },
      // A metric reader of its own: NodeSDK reads process.env, not `env`, for its exporters.
      sdk: { spanProcessors: [processor], metricReaders: [new TestReader()] },
    });
    // A chat span with 200 attributes (OpenInference flattens messages into attributes).
    const attributes: Record<string, string | number> = { ...CHAT } as Record<string, number>;
    for (let i = 0; Object.keys(attributes).length < 200; i++) {
      attributes[`llm.input_messages.${i}.message.content`] = `message ${i}`;
    }
    trace.getTracer('t').startSpan('chat gpt-4o', { attributes }).end();
    await processor.forceFlush();
    const [span] = exporter.getFinishedSpans();
    const kept = Object.keys(span?.attributes ?? {}).length;
    if (limit > 200) {
      expect(span?.attributes['spanledger.cost.usd']).toBeCloseTo(CHAT_USD, 12);
      expect(started.ledger.stats().spans.costAttributesDropped).toBe(0);
      expect(kept).toBeGreaterThan(200);
    } else {
      // The user's own limit is kept; the loss is counted, not silent.
      expect(kept).toBe(limit);
      expect(span?.attributes['spanledger.cost.usd']).toBeUndefined();
      expect(started.ledger.stats().spans.costAttributesDropped).toBe(1);
    }
  });

  // That the default logger writes to stderr is checked in a child process
  // (test/integration/register-exit.test.ts): DiagConsoleLogger keeps the console methods of
  // its load time, out of a spy's reach here.
  it.each([
    ['no logger and no OTEL_LOG_LEVEL: one is installed', undefined, {}, true],
    ["the app's own logger keeps its place", 'app', {}, false],
    [
      'OTEL_LOG_LEVEL=none: NodeSDK decides (nothing)',
      undefined,
      { OTEL_LOG_LEVEL: 'none' },
      false,
    ],
  ])('default diag logger: %s', (_name, appLogger, vars, installed) => {
    const appLines: string[] = [];
    if (appLogger !== undefined) {
      const log = (m: string) => appLines.push(m);
      diag.setLogger(
        { error: log, warn: log, info: log, debug: log, verbose: log },
        DiagLogLevel.WARN,
      );
    }
    const before = apiGlobal().diag;
    started = startSpanLedger({
      env: { ...QUIET, ...vars },
      sdk: { spanProcessors: [], metricReaders: [new TestReader()] },
    });
    diag.warn('spanledger: a ledger is down');
    expect(apiGlobal().diag !== before).toBe(installed);
    expect(apiGlobal().diag !== undefined).toBe(installed || appLogger !== undefined);
    expect(appLines).toEqual(appLogger !== undefined ? ['spanledger: a ledger is down'] : []);
  });
});

/** Where the OTel API keeps its globals (the diag logger among them). */
function apiGlobal(): { diag?: unknown } {
  return (
    (globalThis as Record<symbol, { diag?: unknown } | undefined>)[
      Symbol.for('opentelemetry.js.api.1')
    ] ?? {}
  );
}
