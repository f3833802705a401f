/**
 * A few agent runs through a real OTel SDK pipeline with spanledger's processor first, exported
 * as the collector's file exporter writes them: one OTLP JSON `ExportTraceServiceRequest` per
 * line, serialized by `@opentelemetry/otlp-transformer` (what the OTLP/HTTP JSON exporter sends).
 * Used by the tests at run time, and to write test/fixtures/report/sdk-runs.jsonl
 * (`node --import tsx test/cli/report/sdk-runs.ts OUT`).
 */
import { writeFileSync } from 'node:fs';
import { type Attributes, context, type Span, trace } from '@opentelemetry/api';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { createSpanLedger } from '../../../src/ledger.js';

const chat = (model: string, input: number, cached: number, output: number): Attributes => ({
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': model.startsWith('claude') ? 'anthropic' : 'openai',
  'gen_ai.request.model': model,
  'gen_ai.usage.input_tokens': input,
  'gen_ai.usage.cache_read.input_tokens': cached,
  'gen_ai.usage.output_tokens': output,
});

/** What the runs exported: the OTLP JSON lines and the SDK's own spans (the reference). */
export interface SdkRuns {
  lines: string[];
  spans: ReadableSpan[];
}

/** Three runs (two tenants, one unpriced model, a budget warning and exceedance) starting at
 * `start`, each exported batch as one line. */
export async function sdkRuns(start = Date.UTC(2025, 5, 1, 10, 0, 0)): Promise<SdkRuns> {
  const lines: string[] = [];
  const spans: ReadableSpan[] = [];
  const exporter: SpanExporter = {
    export(batch, done) {
      spans.push(...batch);
      lines.push(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(batch)));
      done({ code: 0 });
    },
    shutdown: async () => {},
  };
  const ledger = createSpanLedger({
    prices: { tools: [{ name: 'web_search', perCallUsd: 0.01 }] },
    budgets: [{ name: 'per-run', scope: 'trace', limitUsd: 0.05, warnAt: [0.5], action: 'alert' }],
  });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'support-api' }),
    spanProcessors: [ledger.processor, new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('report-fixture');
  let clock = start;
  const step = (name: string, attrs: Attributes, parent: Span, ms = 200): void => {
    const span = tracer.startSpan(
      name,
      { attributes: attrs, startTime: clock },
      trace.setSpan(context.active(), parent),
    );
    clock += ms;
    span.end(clock);
  };
  const run = (tenant: string, useCase: string, body: (root: Span) => void): void => {
    const root = tracer.startSpan('invoke_agent support-agent', {
      startTime: clock,
      attributes: {
        'gen_ai.operation.name': 'invoke_agent',
        'gen_ai.agent.name': 'support-agent',
        'spanledger.tenant': tenant,
        'spanledger.use_case': useCase,
      },
    });
    body(root);
    clock += 10;
    root.end(clock);
    clock += 60_000;
  };

  run('acme', 'support', (root) => {
    step('chat gpt-4o (plan)', chat('gpt-4o', 3200, 2048, 410), root);
    step(
      'execute_tool web_search',
      { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'web_search' },
      root,
    );
    step('chat gpt-4o (answer)', chat('gpt-4o', 5200, 4096, 780), root);
  });
  run('globex', 'triage', (root) => {
    step('chat gpt-4o-mini (classify)', chat('gpt-4o-mini', 900, 0, 40), root);
    step('chat acme-private-model', chat('acme-private-model', 500, 0, 50), root);
  });
  run('acme', 'support', (root) => {
    for (let i = 0; i < 4; i++)
      step(`chat gpt-4o (turn ${i + 1})`, chat('gpt-4o', 8000, 0, 1200), root);
  });
  await provider.forceFlush();
  await ledger.shutdown();
  await provider.shutdown();
  return { lines, spans };
}

if (process.argv[1]?.endsWith('sdk-runs.ts') && process.argv[2]) {
  const { lines } = await sdkRuns();
  writeFileSync(process.argv[2], `${lines.join('\n')}\n`);
}
