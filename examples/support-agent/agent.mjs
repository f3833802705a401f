/**
 * The support agent itself, without a server: one run answers one ticket. `agent-service.mjs`
 * serves it over HTTP; `spanledger demo` bundles this same module and runs it in-process
 * (src/cli/demo.ts), so the demo shows what this code costs, not what a copy of it would.
 *
 * A run is a retrieval from the knowledge base, a loop of model calls and tool calls, an
 * LLM-as-judge evaluation of the answer and, when the judge is unsure, a human review; a resolved
 * ticket is a business outcome. The client and the ledger are given: the real `openai` client,
 * traced by the OpenAI instrumentations, and the ledger whose budgets guard every model and tool
 * call, so a looping run is refused its next call before it spends (docs/budgets.md, "Per-run caps
 * and the kind of call").
 */
import { trace } from '@opentelemetry/api';
import {
  recordEvaluationResult,
  recordOutcome,
  traceEvaluation,
  traceHumanReview,
  traceRetrieval,
  traceTool,
} from 'spanledger';

const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'lookup_order',
      description: 'Order status by id',
      parameters: { type: 'object', properties: { order_id: { type: 'string' } } },
    },
  },
];
const ORDERS = { 1001: 'shipped', 1002: 'delayed', 1003: 'delivered' };
const KB = ['Refunds take 5 business days.', 'Delayed orders ship within 48 hours.'];

/**
 * The agent. `openai`: an OpenAI client; `ledger`: a spanledger ledger (its `guard`), or
 * undefined for no budgets; `model` and `judgeModel`: the default models; `maxSteps`: the most
 * model calls of the tool loop (a backstop far above what a ticket needs: the budgets stop a
 * loop first). Returns `{ run(ticket, { model, judgeModel }) }`: a run may name other models.
 */
export function createSupportAgent({
  openai,
  ledger,
  model = 'gpt-4o',
  judgeModel = 'gpt-4o-mini',
  maxSteps = 12,
}) {
  const tracer = trace.getTracer('support-agent');

  /** A model call, guarded by the budgets: refused before any money is spent once over. */
  function chat(params) {
    const call = () => openai.chat.completions.create(params);
    return ledger ? ledger.guard(call, { estimateUsd: 0.01, call: { kind: 'llm' } }) : call();
  }

  /** A tool call, guarded too: the same call repeated past `maxRepeatedToolCalls` is refused. */
  function tool(toolCall) {
    const { name, arguments: raw } = toolCall.function;
    const args = JSON.parse(raw);
    // The arguments on the span: the budgets count identical calls by name and arguments.
    const options = { toolCallId: toolCall.id, attributes: { 'gen_ai.tool.call.arguments': raw } };
    const call = () =>
      traceTool(name, options, async () => ({ status: ORDERS[args.order_id] ?? 'unknown' }));
    return ledger
      ? ledger.guard(call, { estimateUsd: 0.002, call: { kind: 'tool', name, arguments: raw } })
      : call();
  }

  async function answer(ticket, runModel, runJudgeModel) {
    const docs = await traceRetrieval('kb-support', { dbSystem: 'pgvector' }, async () =>
      KB.filter((d) => d.split(' ').some((w) => ticket.includes(w.toLowerCase()))),
    );
    const messages = [
      { role: 'system', content: `You are a support agent. Knowledge: ${docs.join(' ')}` },
      { role: 'user', content: ticket },
    ];
    let reply = '';
    for (let step = 0; step < maxSteps; step++) {
      const response = await chat({ model: runModel, messages, tools: TOOLS });
      const message = response.choices[0].message;
      messages.push(message);
      if (!message.tool_calls?.length) {
        reply = message.content ?? '';
        break;
      }
      for (const call of message.tool_calls) {
        const result = await tool(call);
        messages.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify(result) });
      }
    }
    // LLM-as-judge: the judge's model call is charged to `evaluation`.
    const score = await traceEvaluation('answer-quality', {}, async () => {
      const verdict = await chat({
        model: runJudgeModel,
        messages: [
          { role: 'system', content: 'You are a judge. Reply {"score": 0..1}.' },
          { role: 'user', content: ticket },
          { role: 'assistant', content: reply },
        ],
      });
      const value = JSON.parse(verdict.choices[0].message.content).score;
      recordEvaluationResult({
        name: 'answer-quality',
        scoreValue: value,
        scoreLabel: value >= 0.7 ? 'pass' : 'fail',
      });
      return value;
    });
    let reviewed = false;
    if (score < 0.7) {
      // A person checks the answer: 3 minutes at the prices file's $60 an hour.
      await traceHumanReview('refund-check', { minutes: 3, role: 'support' }, async () => {
        reviewed = true;
      });
    }
    recordOutcome('ticket_resolved', { valueUsd: 12.5 });
    return { reply, score, reviewed };
  }

  return {
    /**
     * One run, under an `invoke_agent` span (the run's root when nothing is active). Resolves to
     * `{ reply, score, reviewed }`, or `{ error, refused }` when the run failed (`refused`: a
     * budget refused a call, with the refusal: budget, limit, used, max).
     */
    run(ticket, { model: runModel = model, judgeModel: runJudgeModel = judgeModel } = {}) {
      return tracer.startActiveSpan(
        'invoke_agent support-agent',
        {
          attributes: {
            'gen_ai.operation.name': 'invoke_agent',
            'gen_ai.agent.name': 'support-agent',
          },
        },
        async (span) => {
          try {
            return await answer(String(ticket ?? ''), runModel, runJudgeModel);
          } catch (e) {
            span.recordException(e);
            span.setStatus({ code: 2, message: String(e?.message ?? e) });
            const refused =
              e?.name === 'BudgetExceededError'
                ? { budget: e.budget, limit: e.limit, used: e.used, max: e.max }
                : undefined;
            return { error: String(e?.message ?? e), refused };
          } finally {
            span.end();
          }
        },
      );
    },
  };
}
