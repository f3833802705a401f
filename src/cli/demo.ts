/**
 * `spanledger demo`: an embedded agent run (model calls, tools, a retrieval, an LLM-as-judge
 * evaluation, a human review) through a real OTel SDK pipeline with spanledger's processor
 * first, then a cost-per-span and per-category report. No external service is needed.
 * Rollups and budgets join it as they land.
 */
import { type Attributes, context, type Span, trace } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
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
  const events: string[] = [];
  const ledger = createSpanLedger({
    prices: DEMO_PRICES,
    budgets: [{ name: 'per-run', scope: 'trace', limitUsd: 1, warnAt: [0.5], action: 'alert' }],
    onBudgetEvent: (e) =>
      events.push(`${e.kind} ${e.budget}: $${e.spentUsd?.toFixed(6)} of $${e.limitUsd}`),
  });
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    spanProcessors: [ledger.processor, new SimpleSpanProcessor({ exporter: exporter })],
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
  }
  // The rollup the processor wrote on the run's root span.
  const r = exporter.getFinishedSpans().find((s) => s.name === 'invoke_agent support-agent');
  const t = r?.attributes ?? {};
  const num = (k: string) => (typeof t[k] === 'number' ? (t[k] as number) : 0);
  io.stdout('\nrun rollup (on the root span):\n');
  for (const c of ['llm', 'tool', 'retrieval', 'evaluation', 'human_review', 'external']) {
    const v = t[`spanledger.trace.cost.${c}.usd`];
    if (typeof v === 'number') io.stdout(`  ${c.padEnd(14)}${v.toFixed(6).padStart(12)}\n`);
  }
  io.stdout(
    `  ${num('spanledger.trace.llm_calls')} LLM calls, ${num('spanledger.trace.tool_calls')} tool call, ${num('spanledger.trace.retrievals')} retrieval, ${num('spanledger.trace.evaluations')} evaluation, ${num('spanledger.trace.input_tokens')} input tokens\n`,
  );
  io.stdout(
    `\nrun total: $${num('spanledger.trace.cost.usd').toFixed(6)} priced; ${num('spanledger.trace.unpriced_spans')} span(s) unpriced (never counted as $0)\n`,
  );
  io.stdout(`budget events: ${events.length > 0 ? events.join('; ') : 'none'}\n`);
  const exceeded = t['spanledger.budget.exceeded'];
  io.stdout(
    `budgets exceeded by this run: ${Array.isArray(exceeded) ? exceeded.join(', ') : 'none'}\n`,
  );
  await ledger.shutdown();
  await provider.shutdown();
  return EXIT.ok;
}
