import { type Attributes, DiagLogLevel, diag } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { createSpanLedger, MemoryLedger } from '../../src/index.js';
import { CHAT, CHAT_USD } from '../support/fixtures.js';
import { harness } from './harness.js';

const AT = new Date('2026-11-02T10:00:00Z');

/** A contrib-style OpenAI chat span (the reference call, with its response model). */
const openaiChat: Attributes = { ...CHAT, 'gen_ai.response.model': 'gpt-4o-2024-08-06' };
const OPENAI_CHAT_USD = CHAT_USD;

const prices = {
  tools: [
    { name: 'web_search', perCallUsd: 0.01 },
    { mcpServer: 'github', perCallUsd: 0.002 },
    { name: 'ocr', perUnitUsd: 0.0015, unit: 'page' },
  ],
  retrievals: [
    { dataSource: 'kb-main', perQueryUsd: 0.0004 },
    { dbSystem: 'pinecone', perUnitUsd: 0.000016, unit: 'read_unit' },
  ],
  humanReview: { ratePerHourUsd: 48, roles: { legal: 120 } },
  models: [
    {
      provider: 'openai',
      model: 'gpt-4o',
      prices: [
        { effectiveFrom: '2026-11-15', inputPerMTok: 2, cacheReadPerMTok: 1, outputPerMTok: 8 },
      ],
    },
  ],
};

describe('cost processor: LLM spans', () => {
  it('writes the SPEC section 2 attributes with exact figures', () => {
    const h = harness();
    h.run('chat gpt-4o', openaiChat, undefined, undefined, AT);
    const a = h.span('chat gpt-4o').attributes;
    expect(a['spanledger.cost.usd']).toBeCloseTo(OPENAI_CHAT_USD, 15);
    expect(a['spanledger.cost.category']).toBe('llm');
    expect(a['spanledger.cost.status']).toBe('priced');
    expect(a['spanledger.cost.source']).toBe('catalog');
    expect(a['spanledger.cost.input_usd']).toBeCloseTo(0.00044, 15);
    expect(a['spanledger.cost.cache_read_usd']).toBeCloseTo(0.00128, 15);
    expect(a['spanledger.cost.cache_write_usd']).toBe(0);
    expect(a['spanledger.cost.output_usd']).toBeCloseTo(0.003, 15);
    expect(a['spanledger.cost.cache_savings_usd']).toBeCloseTo(0.00128, 15);
    expect(a['spanledger.pricing.provider']).toBe('openai');
    expect(a['spanledger.pricing.model']).toBe('gpt-4o');
    expect(a['spanledger.pricing.catalog']).toBe('genai-prices@0.1.8+errata.2');
    expect(a['gen_ai.usage.cost.amount']).toBe(a['spanledger.cost.usd']);
    expect(a['gen_ai.usage.cost.currency']).toBe('USD');
    expect(a['gen_ai.usage.cost.source']).toBe('catalog');
  });

  it('can leave the proposed semconv cost attributes off', () => {
    const h = harness({ semconvCostAttributes: false });
    h.run('chat', openaiChat, undefined, undefined, AT);
    expect(h.span('chat').attributes['gen_ai.usage.cost.amount']).toBeUndefined();
    expect(h.span('chat').attributes['spanledger.cost.usd']).toBeCloseTo(OPENAI_CHAT_USD, 15);
  });

  it('prices at the span start time: a contract price from Nov 15 applies to later calls only', () => {
    const h = harness({ prices });
    h.run('before', openaiChat, undefined, undefined, new Date('2026-11-14T23:59:59Z'));
    h.run('after', openaiChat, undefined, undefined, new Date('2026-11-15T00:00:00Z'));
    expect(h.span('before').attributes['spanledger.cost.usd']).toBeCloseTo(OPENAI_CHAT_USD, 15);
    expect(h.span('before').attributes['spanledger.cost.source']).toBe('catalog');
    expect(h.span('after').attributes['spanledger.cost.usd']).toBeCloseTo(
      (176 * 2 + 1024 * 1 + 300 * 8) / 1e6,
      15,
    );
    expect(h.span('after').attributes['spanledger.cost.source']).toBe('override');
  });

  it('corrects Anthropic-style exclusive counts (OpenLLMetry 0.27) before pricing', () => {
    const h = harness();
    const tracer = h.provider.getTracer('@traceloop/instrumentation-anthropic', '0.27.0');
    const span = tracer.startSpan('chat claude-sonnet-4-5', {
      startTime: AT,
      attributes: {
        'gen_ai.provider.name': 'anthropic',
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'claude-sonnet-4-5',
        'gen_ai.response.model': 'claude-sonnet-4-5-20250929',
        'gen_ai.usage.input_tokens': 5000,
        'gen_ai.usage.cache_read.input_tokens': 2000,
        'gen_ai.usage.cache_creation.input_tokens': 500,
        'gen_ai.usage.output_tokens': 400,
      },
    });
    span.end();
    const a = h.span('chat claude-sonnet-4-5').attributes;
    // 5000 uncached at $3, 2000 read at $0.30, 500 written at $3.75, 400 out at $15 per MTok.
    expect(a['spanledger.cost.usd']).toBeCloseTo(
      (5000 * 3 + 2000 * 0.3 + 500 * 3.75 + 400 * 15) / 1e6,
      15,
    );
  });

  it('applies a service tier multiplier (batch is half price)', () => {
    const h = harness();
    h.run(
      'batch',
      { ...openaiChat, 'openai.request.service_tier': 'batch' },
      undefined,
      undefined,
      AT,
    );
    expect(h.span('batch').attributes['spanledger.cost.usd']).toBeCloseTo(OPENAI_CHAT_USD / 2, 15);
    expect(h.span('batch').attributes['spanledger.pricing.service_tier']).toBe('batch');
  });

  it('prefers provider-reported cost and keeps the local estimate beside it', () => {
    const h = harness();
    h.run('openlit', { ...openaiChat, 'gen_ai.usage.cost': 0.0051 }, undefined, undefined, AT);
    const a = h.span('openlit').attributes;
    expect(a['spanledger.cost.usd']).toBe(0.0051);
    expect(a['spanledger.cost.source']).toBe('provider');
    expect(a['spanledger.cost.estimated_usd']).toBeCloseTo(OPENAI_CHAT_USD, 15);
    expect(a['spanledger.cost.input_usd']).toBeUndefined();
    expect(a['gen_ai.usage.cost.amount']).toBe(0.0051);
    expect(a['gen_ai.usage.cost.source']).toBe('provider');
  });

  it('never prices unknown usage at zero', () => {
    const h = harness();
    h.run('unknown model', {
      ...openaiChat,
      'gen_ai.request.model': 'gpt-9-ultra',
      'gen_ai.response.model': 'gpt-9-ultra',
    });
    h.run('unknown provider', {
      ...openaiChat,
      'gen_ai.provider.name': 'acme-llm',
      'gen_ai.response.model': 'x',
    });
    h.run('no usage', {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
    });
    // Anthropic SDK span whose 1-hour part exceeds all its cache writes: which count is wrong is
    // unknown, so neither rate is guessed.
    h.run('garbled cache split', {
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'claude-sonnet-4-5',
      'gen_ai.usage.input_tokens': 8000,
      'gen_ai.usage.output_tokens': 200,
      'gen_ai.usage.cache_write.input_tokens': 10,
      'anthropic.usage.cache_creation.ephemeral_1h_input_tokens': 1000,
    });
    for (const [name, reason] of [
      ['unknown model', 'unknown_model'],
      ['unknown provider', 'unknown_provider'],
      ['no usage', 'no_usage'],
      ['garbled cache split', 'invalid_usage'],
    ] as const) {
      const a = h.span(name).attributes;
      expect(a['spanledger.cost.status'], name).toBe('unpriced');
      expect(a['spanledger.cost.unpriced_reason'], name).toBe(reason);
      expect(a['spanledger.cost.usd'], name).toBeUndefined();
      expect(a['gen_ai.usage.cost.amount'], name).toBeUndefined();
    }
    expect(h.ledger.stats().spans).toEqual({
      priced: 0,
      partial: 0,
      unpriced: 4,
      late: 0,
      costAttributesDropped: 0,
    });
    expect(h.ledger.stats().problems).toMatchObject({
      'unpriced.unknown_model': 1,
      'unpriced.unknown_provider': 1,
      'unpriced.no_usage': 1,
      'unpriced.invalid_usage': 1,
    });
  });

  it('falls back to the request model when the response model is unknown (Azure deployments)', () => {
    const h = harness({
      prices: {
        deployments: [{ name: 'prod-chat', priceAs: { provider: 'openai', model: 'gpt-4o' } }],
      },
    });
    h.run(
      'azure',
      {
        ...openaiChat,
        'gen_ai.provider.name': 'azure.ai.openai',
        'gen_ai.request.model': 'prod-chat',
        'gen_ai.response.model': 'prod-chat',
      },
      undefined,
      undefined,
      AT,
    );
    expect(h.span('azure').attributes['spanledger.cost.usd']).toBeCloseTo(OPENAI_CHAT_USD, 15);
  });
});

describe('cost processor: keys set last on a model-call span', () => {
  // The processor reads a span's keys in one pass and skips the steps whose keys are absent
  // (docs/performance.md, "per-call cuts on real spans"): a key of each skipped group, set after
  // the usage, must still decide.
  const cases: [string, Attributes, Record<string, unknown>][] = [
    [
      'an explicit category',
      { 'spanledger.cost.category': 'evaluation' },
      { 'spanledger.cost.category': 'evaluation' },
    ],
    [
      'an OpenInference kind',
      { 'openinference.span.kind': 'TOOL' },
      { 'spanledger.cost.category': 'tool' },
    ],
    ['a vector database', { 'db.system': 'pinecone' }, { 'spanledger.cost.category': 'retrieval' }],
    [
      'a manual cost',
      { 'spanledger.manual.cost.usd': 0.5 },
      { 'spanledger.cost.usd': 0.5, 'spanledger.cost.source': 'manual' },
    ],
    [
      'a reported cost',
      { 'gen_ai.usage.cost': 0.25 },
      { 'spanledger.cost.usd': 0.25, 'spanledger.cost.source': 'provider' },
    ],
  ];
  for (const [what, extra, expected] of cases) {
    it(`sees ${what}`, () => {
      const h = harness();
      h.run('chat gpt-4o', openaiChat, (span) => span.setAttributes(extra), undefined, AT);
      expect(h.span('chat gpt-4o').attributes).toMatchObject(expected);
    });
  }
  it('prices the same span without them as the catalog does', () => {
    const h = harness();
    h.run('chat gpt-4o', openaiChat, undefined, undefined, AT);
    const a = h.span('chat gpt-4o').attributes;
    expect(a['spanledger.cost.category']).toBe('llm');
    expect(a['spanledger.cost.source']).toBe('catalog');
    expect(a['spanledger.cost.usd']).toBeCloseTo(OPENAI_CHAT_USD, 12);
  });
});

describe('cost processor: leaf-only pricing (SPEC rule 2)', () => {
  it('prices the inner SDK span, not an instrumentation span around it with the same usage', () => {
    const h = harness();
    h.run(
      'anthropic.chat (outer)',
      openaiChat,
      (outer) => {
        h.run('chat (inner)', openaiChat, undefined, outer, AT);
      },
      undefined,
      AT,
    );
    expect(h.span('chat (inner)').attributes['spanledger.cost.usd']).toBeCloseTo(
      OPENAI_CHAT_USD,
      15,
    );
    expect(h.span('anthropic.chat (outer)').attributes['spanledger.cost.usd']).toBeUndefined();
    expect(h.ledger.stats().spans.priced).toBe(1);
  });

  it('never prices agent or SDK wrapper spans that repeat their children', () => {
    const h = harness();
    h.run(
      'invoke_agent support',
      { ...openaiChat, 'gen_ai.operation.name': 'invoke_agent' },
      (agent) => {
        h.run(
          'ai.generateText',
          {
            'ai.model.id': 'gpt-4o',
            'ai.model.provider': 'openai.chat',
            'ai.usage.inputTokens': 1200,
            'ai.usage.outputTokens': 300,
          },
          (outer) => {
            h.run('ai.generateText.doGenerate', openaiChat, undefined, outer, AT);
          },
          agent,
          AT,
        );
      },
      undefined,
      AT,
    );
    expect(h.span('ai.generateText.doGenerate').attributes['spanledger.cost.usd']).toBeCloseTo(
      OPENAI_CHAT_USD,
      15,
    );
    expect(h.span('ai.generateText').attributes['spanledger.cost.usd']).toBeUndefined();
    expect(h.span('invoke_agent support').attributes['spanledger.cost.usd']).toBeUndefined();
  });
});

describe('cost processor: categories (SPEC rule 3)', () => {
  it('charges an LLM-as-judge call to evaluation and a query embedding to retrieval', () => {
    const h = harness();
    h.run('evaluate faithfulness', { 'gen_ai.evaluation.name': 'faithfulness' }, (ev) => {
      h.run('judge', openaiChat, undefined, ev, AT);
    });
    h.run(
      'retrieve',
      { 'gen_ai.operation.name': 'retrieval', 'gen_ai.data_source.id': 'kb-other' },
      (r) => {
        h.run(
          'embed',
          {
            'gen_ai.operation.name': 'embeddings',
            'gen_ai.provider.name': 'openai',
            'gen_ai.request.model': 'text-embedding-3-small',
            'gen_ai.usage.input_tokens': 1000,
          },
          undefined,
          r,
          AT,
        );
      },
    );
    expect(h.span('judge').attributes['spanledger.cost.category']).toBe('evaluation');
    expect(h.span('judge').attributes['spanledger.cost.usd']).toBeCloseTo(OPENAI_CHAT_USD, 15);
    expect(h.span('embed').attributes['spanledger.cost.category']).toBe('retrieval');
    expect(h.span('embed').attributes['spanledger.cost.usd']).toBeCloseTo((1000 * 0.02) / 1e6, 15);
    expect(h.span('evaluate faithfulness').attributes['spanledger.cost.category']).toBe(
      'evaluation',
    );
  });

  it('takes the nearest categorised ancestor, through plain spans', () => {
    const h = harness();
    h.run('eval', { 'spanledger.cost.category': 'evaluation' }, (ev) => {
      h.run(
        'execute_tool lookup',
        { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'lookup' },
        (tool) => {
          h.run(
            'plain step',
            { 'http.method': 'GET' },
            (plain) => {
              h.run('llm inside tool', openaiChat, undefined, plain, AT);
            },
            tool,
          );
        },
        ev,
      );
    });
    expect(h.span('llm inside tool').attributes['spanledger.cost.category']).toBe('tool');
    expect(h.span('plain step').attributes['spanledger.cost.category']).toBeUndefined();
  });
});

describe('cost processor: unit-price rules', () => {
  it('prices tools, MCP calls, retrievals, human review and external SaaS', () => {
    const h = harness({ prices });
    h.run('execute_tool web_search', {
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'web_search',
    });
    h.run('execute_tool create_issue', {
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'create_issue',
      'mcp.server.name': 'github',
    });
    h.run('execute_tool ocr', {
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'ocr',
      'spanledger.usage.quantity': 12,
    });
    h.run('execute_tool ocr no quantity', {
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'ocr',
    });
    h.run('execute_tool local_fn', {
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'local_fn',
    });
    h.run('retrieval kb', {
      'gen_ai.operation.name': 'retrieval',
      'gen_ai.data_source.id': 'kb-main',
    });
    h.run('pinecone query', { 'db.system.name': 'pinecone', 'spanledger.usage.quantity': 250 });
    h.run('review', { 'spanledger.human_review.minutes': 7.5 });
    h.run('legal review', {
      'spanledger.human_review.minutes': 30,
      'spanledger.human_review.role': 'legal',
    });
    h.run('send sms', {
      'spanledger.cost.category': 'external',
      'spanledger.reported.cost.usd': 0.0079,
    });
    h.run('send fax', { 'spanledger.cost.category': 'external' });
    const cost = (n: string) => h.span(n).attributes['spanledger.cost.usd'];
    expect(cost('execute_tool web_search')).toBe(0.01);
    expect(cost('execute_tool create_issue')).toBe(0.002);
    expect(cost('execute_tool ocr')).toBeCloseTo(0.018, 15);
    expect(h.span('execute_tool ocr').attributes['spanledger.usage.unit']).toBe('page');
    expect(
      h.span('execute_tool ocr no quantity').attributes['spanledger.cost.unpriced_reason'],
    ).toBe('missing_quantity');
    // No rule: the category is written, no price is claimed either way.
    expect(h.span('execute_tool local_fn').attributes['spanledger.cost.category']).toBe('tool');
    expect(h.span('execute_tool local_fn').attributes['spanledger.cost.status']).toBeUndefined();
    expect(cost('retrieval kb')).toBe(0.0004);
    expect(cost('pinecone query')).toBeCloseTo(0.004, 15);
    expect(h.span('pinecone query').attributes['spanledger.cost.category']).toBe('retrieval');
    expect(cost('review')).toBeCloseTo(6, 12);
    expect(h.span('review').attributes['spanledger.usage.unit']).toBe('minute');
    expect(cost('legal review')).toBeCloseTo(60, 12);
    expect(cost('send sms')).toBe(0.0079);
    expect(h.span('send sms').attributes['spanledger.cost.source']).toBe('provider');
    expect(h.span('send fax').attributes['spanledger.cost.status']).toBe('unpriced');
    expect(h.span('send fax').attributes['spanledger.cost.unpriced_reason']).toBe(
      'no_cost_reported',
    );
  });

  it('reports human review with no rate configured as unpriced', () => {
    const h = harness();
    h.run('review', { 'spanledger.human_review.minutes': 10 });
    expect(h.span('review').attributes['spanledger.cost.status']).toBe('unpriced');
    expect(h.span('review').attributes['spanledger.cost.unpriced_reason']).toBe('no_rate');
  });

  it('fails at construction on a bad prices object, naming the entry', () => {
    expect(() => harness({ prices: { tools: [{ name: 'x', perCallUsd: -1 }] } as never })).toThrow(
      /options\.prices: tools\[0\]\.perCallUsd/,
    );
  });
});

describe('cost processor: a resource whose async attributes have not settled', () => {
  it('copies its dimensions without reading it early (no SDK error logged)', async () => {
    const logged: string[] = [];
    const log = (m: string) => logged.push(m);
    diag.setLogger(
      { error: log, warn: log, info: () => {}, debug: () => {}, verbose: () => {} },
      DiagLogLevel.WARN,
    );
    try {
      // As NodeSDK's resource is until the first export: host.id is still a promise.
      let settle: (v: string) => void = () => {};
      const resource = resourceFromAttributes({
        'spanledger.team': 'payments',
        'host.id': new Promise<string>((r) => {
          settle = r;
        }),
      });
      const ledger = createSpanLedger();
      const exporter = new InMemorySpanExporter();
      const provider = new TracerProvider({
        resource,
        spanProcessors: [ledger.processor, new SimpleSpanProcessor({ exporter: exporter })],
      });
      expect(resource.asyncAttributesPending).toBe(true);
      provider.getTracer('t').startSpan('chat', { attributes: CHAT }).end();
      expect(logged).toEqual([]);
      settle('host-1'); // the exporter waits for it
      await provider.forceFlush();
      const [span] = exporter.getFinishedSpans();
      expect(span?.attributes['spanledger.team']).toBe('payments');
      expect(span?.attributes['spanledger.cost.usd']).toBe(CHAT_USD);
      expect(logged).toEqual([]);
    } finally {
      diag.disable();
    }
  });
});

describe('cost processor: shutdown', () => {
  it('closes the budget ledger it owns when the tracer provider shuts down, summary logged once', async () => {
    const logged: string[] = [];
    const log = (m: string) => logged.push(m);
    diag.setLogger(
      { error: log, warn: log, info: log, debug: () => {}, verbose: () => {} },
      DiagLogLevel.INFO,
    );
    try {
      let closes = 0;
      class ClosingLedger extends MemoryLedger {
        override async close(): Promise<void> {
          closes++;
          await super.close();
        }
      }
      // No budgets: the ledger (a Redis one from the environment, say) is still owned and closed.
      const ledger = createSpanLedger({ budgetLedger: new ClosingLedger() });
      const provider = new TracerProvider({ spanProcessors: [ledger.processor] });
      provider.getTracer('t').startSpan('chat', { attributes: CHAT }).end();
      provider
        .getTracer('t')
        .startSpan('bad', { attributes: { 'spanledger.manual.cost.usd': -1 } })
        .end();
      await provider.shutdown(); // what NodeSDK.shutdown() does: the ledger is never named
      expect(closes).toBe(1);
      await ledger.shutdown(); // idempotent with it
      await ledger.processor.shutdown();
      expect(closes).toBeLessThanOrEqual(2); // a second close of a ledger is a no-op
      expect(logged.filter((m) => m.includes('run-time problems counted'))).toHaveLength(1);
    } finally {
      diag.disable();
    }
  });
});
