/**
 * The support-agent example end to end: two services, each under `node --import
 * spanledger/register`, the real `openai` client against the scripted mock provider, telemetry
 * exported over OTLP. The tenant set at the edge must land on the downstream agent's spans and
 * metrics, and every dollar must be the same in spans, rollups and metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendTicket, startStack, TICKETS } from '../../examples/support-agent/stack.mjs';
import { ensureBuilt } from '../support/built.js';
import {
  type OtlpReceiver,
  type ReceivedSpan,
  startOtlpReceiver,
} from '../support/otlp-receiver.js';

const TENANTS = ['acme', 'globex', 'initech'];

let sink: OtlpReceiver;
const replies: { status: number; body: { reply?: string; reviewed?: boolean; score?: number } }[] =
  [];

beforeAll(async () => {
  ensureBuilt();
  sink = await startOtlpReceiver();
  const stack = await startStack({ otlpEndpoint: sink.endpoint });
  try {
    for (const [tenant, ticket] of TICKETS)
      replies.push(await sendTicket(stack.edgeUrl, tenant, ticket));
  } finally {
    await stack.stop();
  }
}, 120_000);
afterAll(() => sink?.close());

const cost = (s: ReceivedSpan) => (s.attributes['spanledger.cost.usd'] as number | undefined) ?? 0;
const agentSpans = () => sink.spans.filter((s) => s.resource['service.name'] === 'support-agent');

describe('examples/support-agent across two services', () => {
  it('answers every ticket; refund tickets go to human review', () => {
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(replies.map((r) => r.body.reviewed)).toEqual([false, true, false, false, true, false]);
    expect(replies[0]?.body.reply).toBe('Your order is shipped. We will keep you posted by email.');
  });

  it('the tenant set at the edge is on the downstream spans, in the same trace', () => {
    const runs = agentSpans().filter((s) => s.name === 'invoke_agent support-agent');
    expect(runs).toHaveLength(TICKETS.length);
    expect(runs.map((r) => r.attributes['spanledger.tenant']).sort()).toEqual(
      TICKETS.map(([t]) => t).sort(),
    );
    const edgeTraces = new Set(
      sink.spans.filter((s) => s.resource['service.name'] === 'support-edge').map((s) => s.traceId),
    );
    for (const run of runs) {
      expect(edgeTraces.has(run.traceId)).toBe(true);
      expect(run.attributes['spanledger.team']).toBe('customer-care');
      expect(run.attributes['spanledger.cost_center']).toBe('cc-4100');
      expect(run.attributes['spanledger.use_case']).toBe('support-ticket');
    }
    // Every priced span of the agent carries its run's tenant.
    for (const s of agentSpans().filter((x) => cost(x) > 0)) {
      const run = runs.find((r) => r.traceId === s.traceId);
      expect(s.attributes['spanledger.tenant']).toBe(run?.attributes['spanledger.tenant']);
    }
  });

  it('prices each model call once, with its cached tokens', () => {
    const calls = agentSpans().filter((s) => s.attributes['gen_ai.operation.name'] === 'chat');
    // Two agent calls (tool call, answer) and one judge call per ticket: one span each.
    expect(calls).toHaveLength(3 * TICKETS.length);
    const hits = calls.filter((c) => c.attributes['gen_ai.usage.cache_read.input_tokens'] === 1024);
    for (const c of calls) {
      expect(c.attributes['spanledger.cost.status']).toBe('priced');
      expect(c.attributes['gen_ai.usage.cache_read.input_tokens']).toBe(
        hits.includes(c) ? 1024 : 0,
      );
      if (hits.includes(c))
        expect(c.attributes['spanledger.cost.cache_savings_usd']).toBeGreaterThan(0);
    }
    // The mock caches a system prompt once seen: only the first call with each prompt (the
    // judge's, and the agent's per knowledge-base excerpt) misses.
    const prompts = new Set(
      calls.map(
        (c) =>
          `${c.attributes['gen_ai.request.model']}:${c.attributes['spanledger.cost.category']}`,
      ),
    );
    expect(calls.length - hits.length).toBeGreaterThanOrEqual(prompts.size);
    expect(calls.length - hits.length).toBeLessThanOrEqual(4);
    const judge = calls.filter((c) => c.attributes['spanledger.cost.category'] === 'evaluation');
    expect(judge).toHaveLength(TICKETS.length);
  });

  it('prices tools, retrievals and human review by the example prices file', () => {
    const byCategory = (category: string) =>
      agentSpans()
        .filter((s) => s.attributes['spanledger.cost.category'] === category)
        .reduce((sum, s) => sum + cost(s), 0);
    expect(byCategory('tool')).toBeCloseTo(TICKETS.length * 0.002, 12);
    expect(byCategory('retrieval')).toBeCloseTo(TICKETS.length * 0.0004, 12);
    expect(byCategory('human_review')).toBeCloseTo(2 * 3, 12); // 3 min at $60/h, twice
  });

  it('spans, rollups and metrics agree per tenant, to the last cent', () => {
    const spanTotal = agentSpans().reduce((sum, s) => sum + cost(s), 0);
    const rollups = agentSpans().reduce(
      (sum, s) => sum + ((s.attributes['spanledger.trace.cost.usd'] as number | undefined) ?? 0),
      0,
    );
    const agentMetric = (tenant?: string) =>
      sink.total(
        'spanledger.cost.usd',
        (a) => tenant === undefined || a['spanledger.tenant'] === tenant,
      );
    expect(spanTotal).toBeGreaterThan(6);
    expect(rollups).toBeCloseTo(spanTotal, 12);
    expect(agentMetric()).toBeCloseTo(spanTotal, 12);
    for (const tenant of TENANTS) {
      const tenantSpans = agentSpans().filter((s) => s.attributes['spanledger.tenant'] === tenant);
      expect(agentMetric(tenant)).toBeCloseTo(
        tenantSpans.reduce((sum, s) => sum + cost(s), 0),
        12,
      );
    }
    // The edge does no priced work: all metric points come from the agent.
    const points = sink.points.filter((p) => p.metric === 'spanledger.cost.usd');
    expect(new Set(points.map((p) => p.resource['service.name']))).toEqual(
      new Set(['support-agent']),
    );
  });

  it('counts outcomes and their value per tenant, apart from cost', () => {
    for (const tenant of TENANTS) {
      const mine = (a: Record<string, unknown>) => a['spanledger.tenant'] === tenant;
      expect(sink.total('spanledger.outcomes', mine)).toBe(2);
      expect(sink.total('spanledger.outcome.value.usd', mine)).toBe(25);
    }
  });
});
