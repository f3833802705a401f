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
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { createSpanLedger, type SpanLedgerOptions, withAttribution } from '../../src/index.js';
import { gpt4oChat, gpt4oUsd, useContextManager } from '../support/fixtures.js';

useContextManager();

/** The context a service extracts from an inbound request's `baggage` header. */
function fromHeader(baggage: string) {
  return new W3CBaggagePropagator().extract(ROOT_CONTEXT, { baggage }, defaultTextMapGetter);
}

function service(resource: Record<string, string>, options: SpanLedgerOptions = {}) {
  const ledger = createSpanLedger(options);
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'svc', ...resource }),
    spanProcessors: [ledger.processor, new SimpleSpanProcessor({ exporter: exporter })],
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

  it('trustBaggage false ignores inbound baggage; withAttribution in this process still counts', () => {
    const closed = service({ 'spanledger.team': 'edge' }, { attribution: { trustBaggage: false } });
    const some = service({}, { attribution: { trustBaggage: ['spanledger.tenant'] } });
    const open = service({});
    const inbound = fromHeader('spanledger.tenant=acme,spanledger.team=intruder');
    context.with(inbound, () => {
      for (const s of [closed, some, open]) s.tracer.startSpan('inbound').end();
      // The edge sets the verified tenant itself: counted whatever the trust setting.
      withAttribution({ tenant: 'verified' }, () => {
        for (const s of [closed, some, open]) s.tracer.startSpan('verified').end();
      });
    });
    expect(closed.attrs('inbound')['spanledger.tenant']).toBeUndefined();
    expect(closed.attrs('inbound')['spanledger.team']).toBe('edge');
    expect(some.attrs('inbound')['spanledger.tenant']).toBe('acme');
    expect(some.attrs('inbound')['spanledger.team']).toBeUndefined();
    expect(open.attrs('inbound')['spanledger.team']).toBe('intruder');
    for (const s of [closed, some, open]) {
      expect(s.attrs('verified')['spanledger.tenant']).toBe('verified');
    }
    // The client's team stays ignored inside withAttribution where it is not trusted.
    expect(closed.attrs('verified')['spanledger.team']).toBe('edge');
    expect(some.attrs('verified')['spanledger.team']).toBeUndefined();
    // And what this process set travels on: the outgoing header carries it, for the next hop's
    // own trust setting to decide.
    const headers: Record<string, string> = {};
    context.with(inbound, () =>
      withAttribution({ tenant: 'verified' }, () =>
        new W3CBaggagePropagator().inject(context.active(), headers, defaultTextMapSetter),
      ),
    );
    expect(headers.baggage).toContain('spanledger.tenant=verified');
  });

  it('baggage can never write a non-dimension attribute onto a span', async () => {
    const s = service({ 'spanledger.tenant': 't1' });
    const inbound = fromHeader(
      'spanledger.cost.usd=999,spanledger.cost.status=unpriced,gen_ai.usage.input_tokens=9999999',
    );
    context.with(inbound, () => s.tracer.startSpan('chat', { attributes: chat }).end());
    await new Promise((r) => setImmediate(r));
    const a = s.attrs('chat');
    expect(a['spanledger.cost.usd']).toBeCloseTo(CHAT_USD, 15);
    expect(a['spanledger.cost.status']).toBe('priced');
    expect(a['gen_ai.usage.input_tokens']).toBe(1000);
    // Nor can it be configured to.
    for (const key of ['spanledger.cost.usd', 'gen_ai.usage.input_tokens', 'spanledger.regoin']) {
      expect(() => createSpanLedger({ attribution: { trustBaggage: [key] } })).toThrow(
        `spanledger: options.attribution.trustBaggage: ${JSON.stringify(key)} is not a dimension key (expected true, false or dimension keys: spanledger.team, spanledger.cost_center, spanledger.tenant, spanledger.use_case)`,
      );
    }
    // An extra dimension's key can be trusted once it is configured.
    expect(() =>
      createSpanLedger({
        attribution: {
          extraDimensions: ['spanledger.region'],
          trustBaggage: ['spanledger.region'],
        },
      }),
    ).not.toThrow();
  });

  it('attribution options are validated strictly, in the style of the files', () => {
    expect(() =>
      createSpanLedger({ attribution: { trustBagage: false } as SpanLedgerOptions['attribution'] }),
    ).toThrow(
      'spanledger: invalid attribution in options.attribution: trustBagage: unknown key (known: trustBaggage, extraDimensions, maxValueLength, maxValuesPerDimension)',
    );
    expect(() =>
      createSpanLedger({ attribution: { trustBaggage: 'false' as unknown as boolean } }),
    ).toThrow(
      'spanledger: options.attribution.trustBaggage: expected true, false or a list of dimension keys, got "false"',
    );
    expect(() => createSpanLedger({ attribution: { maxValueLength: 0 } })).toThrow(
      'spanledger: invalid attribution in options.attribution: maxValueLength: expected a positive integer, got 0',
    );
  });
});

describe('withAttribution', () => {
  it('names an unknown dimension and the known ones', () => {
    const run = (dims: Record<string, unknown>) => () =>
      withAttribution(dims as Record<string, string>, () => 1);
    expect(run({ tenent: 'acme' })).toThrow(
      new TypeError(
        `spanledger: withAttribution: unknown dimension "tenent" (known: team, costCenter, tenant, useCase; extra dimensions by attribute key, e.g. 'spanledger.region')`,
      ),
    );
    expect(run({ 'spanledger.cost.usd': '1' })).toThrow(
      'spanledger: withAttribution: "spanledger.cost.usd" cannot be a dimension: an attribute spanledger reads or writes',
    );
    expect(run({ tenant: 42 })).toThrow(
      'spanledger: withAttribution: tenant must be a string, got number',
    );
    expect(() => withAttribution({ tenant: 'a' }, undefined as unknown as () => 1)).toThrow(
      'spanledger: withAttribution: the second argument must be a function',
    );
    // In TypeScript, a misspelt name is a compile error too; an extra key is accepted.
    // @ts-expect-error tenent is not a dimension
    expect(() => withAttribution({ tenent: 'acme' }, () => 1)).toThrow(/unknown dimension/);
    expect(withAttribution({ tenant: 'a', 'spanledger.region': 'eu' }, () => 3)).toBe(3);
    // Blank and undefined values are skipped, as every dimension reader does.
    expect(withAttribution({ tenant: '', team: undefined }, () => 7)).toBe(7);
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

describe('extra dimensions', () => {
  const day = { calendar: 'day', timeZone: 'UTC' } as const;
  it('an extra dimension scopes a budget by its short name and matches at run time', async () => {
    const options: SpanLedgerOptions = {
      attribution: { extraDimensions: ['spanledger.region'] },
      budgets: [
        { name: 'eu-daily', scope: { region: 'eu' }, window: day, limitUsd: 1, action: 'block' },
        { name: 'per-region', scope: { region: '*' }, window: day, limitUsd: 2 },
      ],
    };
    const eu = service({ 'spanledger.region': 'eu' }, options);
    eu.tracer.startSpan('chat', { attributes: chat }).end();
    eu.tracer.startSpan('chat', { attributes: chat }).end();
    // The region arrives by baggage too, under its attribute key.
    withAttribution({ 'spanledger.region': 'us' }, () =>
      eu.tracer.startSpan('us chat', { attributes: chat }).end(),
    );
    await new Promise((r) => setImmediate(r));
    expect(eu.attrs('chat')['spanledger.region']).toBe('eu');
    expect(eu.attrs('us chat')['spanledger.region']).toBe('us');
    const inEu = await eu.ledger.check({ dimensions: { region: 'eu' } });
    // The tighter of eu-daily (1 - 2 calls) and per-region/eu (2 - 2 calls).
    expect(inEu.remainingUsd).toBeCloseTo(1 - 2 * CHAT_USD, 12);
    const inUs = await eu.ledger.check({ dimensions: { region: 'us' } });
    expect(inUs.remainingUsd).toBeCloseTo(2 - CHAT_USD, 12);
  });

  it('a scope naming an unconfigured dimension fails at construction, naming the options', () => {
    const budget = { name: 'r', scope: { regoin: 'eu' }, window: day, limitUsd: 1 };
    expect(() =>
      createSpanLedger({
        attribution: { extraDimensions: ['spanledger.region'] },
        budgets: [budget],
      }),
    ).toThrow(
      'spanledger: invalid budgets in options.budgets: budgets[0].scope.regoin: unknown dimension "regoin" (known: team, costCenter, tenant, useCase, agent, region; more with attribution.extraDimensions or SPANLEDGER_DIMENSIONS)',
    );
    expect(() =>
      createSpanLedger({
        attribution: { extraDimensions: ['spanledger.region'] },
        budgets: [{ ...budget, scope: { 'spanledger.region': 'eu' } }],
      }),
    ).toThrow(
      'budgets[0].scope.spanledger.region: a scope names a dimension by its name: use region',
    );
  });
});
