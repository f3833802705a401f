/**
 * `spanledger demo`: an embedded agent run (model calls, tools, a retrieval, an LLM-as-judge
 * evaluation, a human review) through a real OTel SDK pipeline with spanledger's processor
 * first, then a cost-per-span and per-category report. No external service is needed.
 * Rollups and budgets join it as they land.
 */
import { type Attributes, context, type Span, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { createSpanLedger } from '../ledger.js';
import type { CliIO } from './args.js';
import { EXIT } from './args.js';

/** The prices the demo's organisation negotiated and its unit prices. */
const DEMO_PRICES = {
  tools: [{ name: 'web_search', perCallUsd: 0.01 }],
  retrievals: [{ dataSource: 'support-kb', perQueryUsd: 0.0004 }],
  humanReview: { ratePerHourUsd: 48 },
};

const chat = (model: string, input: number, cached: number, output: number): Attributes => ({
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': model.startsWith('claude') ? 'anthropic' : 'openai',
  'gen_ai.request.model': model,
  'gen_ai.usage.input_tokens': input,
  'gen_ai.usage.cache_read.input_tokens': cached,
  'gen_ai.usage.output_tokens': output,
});

/** Usage line for `spanledger demo --help`. */
export const DEMO_USAGE = 'Usage: spanledger demo\n';

/** Run the embedded workload and print what each span cost. */
export async function runDemo(_argv: string[], io: CliIO): Promise<number> {
  const ledger = createSpanLedger({ prices: DEMO_PRICES });
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [ledger.processor, new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('spanledger-demo');
  const step = (name: string, attrs: Attributes, parent: Span, fn?: (s: Span) => void): void => {
    const span = tracer.startSpan(
      name,
      { attributes: attrs },
      trace.setSpan(context.active(), parent),
    );
    fn?.(span);
    span.end();
  };

  const root = tracer.startSpan('invoke_agent support-agent', {
    attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'support-agent' },
  });
  step('chat gpt-4o (plan)', chat('gpt-4o', 3200, 2048, 410), root);
  step(
    'retrieval support-kb',
    { 'gen_ai.operation.name': 'retrieval', 'gen_ai.data_source.id': 'support-kb' },
    root,
    (r) =>
      step(
        'embeddings text-embedding-3-small',
        {
          'gen_ai.operation.name': 'embeddings',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'text-embedding-3-small',
          'gen_ai.usage.input_tokens': 42,
        },
        r,
      ),
  );
  step(
    'execute_tool web_search',
    { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'web_search' },
    root,
  );
  step('chat claude-sonnet-4 (answer)', chat('claude-sonnet-4-20250514', 9100, 8000, 780), root);
  step('evaluate faithfulness', { 'gen_ai.evaluation.name': 'faithfulness' }, root, (e) =>
    step('chat gpt-4o-mini (judge)', chat('gpt-4o-mini', 2600, 0, 60), e),
  );
  step('human review', { 'spanledger.human_review.minutes': 4 }, root);
  step('chat acme-private-model', chat('acme-private-model', 500, 0, 50), root);
  root.end();
  await provider.forceFlush();

  const rows = exporter
    .getFinishedSpans()
    .filter((s) => s.attributes['spanledger.cost.status'] !== undefined)
    .sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
  const byCategory = new Map<string, number>();
  let total = 0;
  io.stdout('spanledger demo: one support-agent run, priced span by span\n\n');
  io.stdout(
    `${'span'.padEnd(36)}${'category'.padEnd(14)}${'status'.padEnd(10)}${'cost USD'.padStart(12)}\n`,
  );
  for (const s of rows) {
    const a = s.attributes;
    const cost = a['spanledger.cost.usd'];
    const category = String(a['spanledger.cost.category']);
    const shown =
      typeof cost === 'number'
        ? cost.toFixed(6)
        : `(${String(a['spanledger.cost.unpriced_reason'])})`;
    io.stdout(
      `${s.name.padEnd(36)}${category.padEnd(14)}${String(a['spanledger.cost.status']).padEnd(10)}${shown.padStart(12)}\n`,
    );
    if (typeof cost === 'number') {
      total += cost;
      byCategory.set(category, (byCategory.get(category) ?? 0) + cost);
    }
  }
  io.stdout('\nby category:\n');
  for (const [c, v] of [...byCategory].sort((x, y) => y[1] - x[1])) {
    io.stdout(`  ${c.padEnd(14)}${v.toFixed(6).padStart(12)}\n`);
  }
  const stats = ledger.stats();
  io.stdout(
    `\nrun total: $${total.toFixed(6)} priced; ${stats.spans.unpriced} span(s) unpriced (never counted as $0)\n`,
  );
  await ledger.shutdown();
  await provider.shutdown();
  return EXIT.ok;
}
