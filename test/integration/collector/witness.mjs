/**
 * Test-only preload (`NODE_OPTIONS=--import <this file>`) for the example's services: it loads
 * `spanledger/register` itself (the command line's `--import spanledger/register` then finds it
 * loaded), then appends a span processor that writes one JSON line per ended span to
 * `WITNESS_FILE`, **sampled or not**. With head sampling, unsampled spans never leave the
 * process; the witness is how the collector test knows every dollar the services produced, to
 * compare with what reaches Prometheus.
 *
 * The NodeSDK builds its tracer provider with a fixed processor list, so the witness is added to
 * that list (the provider's `MultiSpanProcessor`), after spanledger's processor: it sees the
 * cost attributes spanledger wrote. That reaches into the SDK's internals on purpose (test code,
 * pinned SDK); if they change, the preload fails loudly rather than witnessing nothing.
 */
import { appendFileSync } from 'node:fs';
import { TraceFlags, trace } from '@opentelemetry/api';
import 'spanledger/register';

const file = process.env.WITNESS_FILE;
if (!file) throw new Error('witness.mjs: WITNESS_FILE is not set');

const provider = trace.getTracerProvider();
const sdkProvider = typeof provider.getDelegate === 'function' ? provider.getDelegate() : provider;
const processors = sdkProvider?._activeSpanProcessor?._spanProcessors;
if (!Array.isArray(processors) || processors.length === 0) {
  throw new Error('witness.mjs: cannot find the NodeSDK tracer provider span processors');
}

const KEYS = [
  'spanledger.cost.usd',
  'spanledger.cost.category',
  'spanledger.cost.status',
  'spanledger.team',
  'spanledger.cost_center',
  'spanledger.tenant',
  'spanledger.use_case',
  'spanledger.trace.cost.usd',
  'spanledger.budget.exceeded',
];

processors.push({
  onStart() {},
  onEnd(span) {
    const ctx = span.spanContext();
    const attributes = {};
    for (const k of KEYS) if (span.attributes[k] !== undefined) attributes[k] = span.attributes[k];
    const line = {
      // The resource's own attributes may still be settling (async detectors): the variable
      // register reads is the same.
      service: process.env.OTEL_SERVICE_NAME,
      traceId: ctx.traceId,
      spanId: ctx.spanId,
      name: span.name,
      sampled: (ctx.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED,
      status: span.status.code,
      events: span.events.map((e) => e.name),
      attributes,
    };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  },
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
});
