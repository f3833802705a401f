import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AggregationTemporality } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
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
afterEach(async () => {
  await started?.shutdown();
  started = undefined;
  trace.disable();
  metrics.disable();
  context.disable();
  propagation.disable();
});

describe('startSpanLedger (spanledger/node)', () => {
  it('starts the NodeSDK with the ledger first; registeredLedger() is it until shutdown', async () => {
    const exporter = new InMemorySpanExporter();
    const processor = new SimpleSpanProcessor(exporter);
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

  it('a bad variable throws ConfigError before anything is registered', () => {
    expect(() =>
      startSpanLedger({ env: { ...QUIET, SPANLEDGER_PRICES_FILE: '/nonexistent.yaml' } }),
    ).toThrow(ConfigError);
    expect(registeredLedger()).toBeUndefined();
    // No tracer provider was registered: the API still hands out non-recording spans.
    expect(trace.getTracer('t').startSpan('x').isRecording()).toBe(false);
  });
});
