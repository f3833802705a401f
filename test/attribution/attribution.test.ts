import {
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  ROOT_CONTEXT,
  trace,
} from '@opentelemetry/api';
import { W3CBaggagePropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { createSpanLedger, type SpanLedgerOptions, withAttribution } from '../../src/index.js';
import { gpt4oChat, gpt4oUsd, useContextManager } from '../support/fixtures.js';

useContextManager();

function service(resource: Record<string, string>, options: SpanLedgerOptions = {}) {
  const ledger = createSpanLedger(options);
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'svc', ...resource }),
    spanProcessors: [ledger.processor, new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('attribution-test');
  const attrs = (name: string) =>
    exporter.getFinishedSpans().find((s) => s.name === name)?.attributes ?? {};
  return { ledger, tracer, attrs };
}

const chat = gpt4oChat(1000, 0, 100);
const CHAT_USD = gpt4oUsd(1000, 0, 100);

describe('attribution onto spans', () => {
  it('copies resource ownership and request baggage onto every span; the span and baggage win', () => {
    const s = service({ 'spanledger.team': 'platform', 'spanledger.cost_center': 'cc-42' });
    withAttribution({ tenant: 'acme', useCase: 'support' }, () => {
      s.tracer.startSpan('in request').end();
      withAttribution({ team: 'payments' }, () => s.tracer.startSpan('caller team').end());
      s.tracer.startSpan('explicit', { attributes: { 'spanledger.tenant': 'globex' } }).end();
    });
    s.tracer.startSpan('outside').end();
    expect(s.attrs('in request')).toMatchObject({
      'spanledger.team': 'platform',
      'spanledger.cost_center': 'cc-42',
      'spanledger.tenant': 'acme',
      'spanledger.use_case': 'support',
    });
    expect(s.attrs('caller team')['spanledger.team']).toBe('payments');
    expect(s.attrs('explicit')['spanledger.tenant']).toBe('globex');
    expect(s.attrs('outside')).toMatchObject({ 'spanledger.team': 'platform' });
    expect(s.attrs('outside')['spanledger.tenant']).toBeUndefined();
  });

  it('sanitises hostile baggage: length, control characters, empty values', () => {
    const s = service({});
    const hostile = propagation.setBaggage(
      ROOT_CONTEXT,
      propagation.createBaggage({
        'spanledger.tenant': { value: 'x'.repeat(10_000) },
        'spanledger.team': { value: 'pay\u0000ments\r\n<script>' },
        'spanledger.use_case': { value: '\u0001\u0002\u0003' },
      }),
    );
    s.tracer.startSpan('hostile', {}, hostile).end();
    const a = s.attrs('hostile');
    expect(a['spanledger.tenant']).toBe('x'.repeat(64));
    expect(a['spanledger.team']).toBe('pay_ments___script_');
    expect(a['spanledger.use_case']).toBeUndefined();
  });

  it('caps each dimension: thousands of distinct tenants collapse into __other__', () => {
    const s = service({}, { attribution: { maxValuesPerDimension: 100 } });
    for (let i = 0; i < 5000; i++) {
      withAttribution({ tenant: `tenant-${i}` }, () => s.tracer.startSpan(`t${i}`).end());
    }
    expect(s.attrs('t99')['spanledger.tenant']).toBe('tenant-99');
    expect(s.attrs('t100')['spanledger.tenant']).toBe('__other__');
    expect(s.attrs('t4999')['spanledger.tenant']).toBe('__other__');
    // Known values keep their name after the cap is reached.
    withAttribution({ tenant: 'tenant-7' }, () => s.tracer.startSpan('known').end());
    expect(s.attrs('known')['spanledger.tenant']).toBe('tenant-7');
  });

  it('ignores inbound baggage at a trust boundary, or keeps only allowed keys', () => {
    const closed = service({ 'spanledger.team': 'edge' }, { attribution: { trustBaggage: false } });
    const some = service({}, { attribution: { trustBaggage: ['spanledger.tenant'] } });
    withAttribution({ tenant: 'acme', team: 'intruder' }, () => {
      closed.tracer.startSpan('closed').end();
      some.tracer.startSpan('some').end();
    });
    expect(closed.attrs('closed')['spanledger.tenant']).toBeUndefined();
    expect(closed.attrs('closed')['spanledger.team']).toBe('edge');
    expect(some.attrs('some')['spanledger.tenant']).toBe('acme');
    expect(some.attrs('some')['spanledger.team']).toBeUndefined();
  });
});

describe('attribution across a service hop', () => {
  it('the tenant set at the edge lands on the downstream spans and its per-tenant budget', async () => {
    const edge = service({ 'spanledger.team': 'web' });
    const downstream = service(
      { 'spanledger.team': 'ml' },
      {
        budgets: [
          {
            name: 'tenant-daily',
            scope: { tenant: '*' },
            window: { calendar: 'day', timeZone: 'UTC' },
            limitUsd: 1,
            action: 'block',
          },
        ],
      },
    );
    const w3c = new W3CBaggagePropagator();
    const headers: Record<string, string> = {};
    withAttribution({ tenant: 'acme' }, () => {
      const span = edge.tracer.startSpan('edge request');
      w3c.inject(trace.setSpan(context.active(), span), headers, defaultTextMapSetter);
      span.end();
    });
    expect(headers.baggage).toContain('spanledger.tenant=acme');
    // The downstream service extracts the request's baggage from the incoming headers.
    const inbound = w3c.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    await context.with(inbound, async () => {
      downstream.tracer.startSpan('chat', { attributes: chat }).end();
      await new Promise((r) => setImmediate(r));
      const d = await downstream.ledger.check({});
      expect(d.remainingUsd).toBeCloseTo(1 - CHAT_USD, 12);
    });
    expect(edge.attrs('edge request')['spanledger.tenant']).toBe('acme');
    const a = downstream.attrs('chat');
    expect(a['spanledger.tenant']).toBe('acme');
    // Ownership stays the downstream service's own.
    expect(a['spanledger.team']).toBe('ml');
    expect(a['spanledger.cost.usd']).toBeCloseTo(CHAT_USD, 15);
    // Another tenant's window is untouched.
    const other = await downstream.ledger.check({ dimensions: { tenant: 'globex' } });
    expect(other.remainingUsd).toBe(1);
  });
});
