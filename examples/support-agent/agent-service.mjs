/**
 * The support agent: `POST /answer` with `{ "ticket": "...", "judgeModel"?: "..." }`. One run is a
 * retrieval from the knowledge base, a loop of model calls and tool calls, an LLM-as-judge
 * evaluation of the answer (on `gpt-4o-mini` unless the request names another judge model) and,
 * when the judge is unsure, a human review; a resolved ticket is a business outcome.
 *
 * It has no telemetry setup of its own: start it with `node --import spanledger/register`. The
 * real `openai` client is traced by the OpenAI instrumentations that register enables; the
 * work no instrumentation covers goes through spanledger's helpers. The tenant, team and use
 * case arrive in W3C Baggage from the edge service.
 */
import { createServer } from 'node:http';
import { trace } from '@opentelemetry/api';
import OpenAI from 'openai';
import {
  recordEvaluationResult,
  recordOutcome,
  registeredLedger,
  traceEvaluation,
  traceHumanReview,
  traceRetrieval,
  traceTool,
} from 'spanledger';

const openai = new OpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: 'mock-key' });
const tracer = trace.getTracer('support-agent');
const ledger = registeredLedger();

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

/** A model call, guarded by the budgets: refused before any money is spent once over. */
function chat(params) {
  const call = () => openai.chat.completions.create(params);
  return ledger ? ledger.guard(call, { estimateUsd: 0.01, call: { kind: 'llm' } }) : call();
}

async function answer(ticket, judgeModel = 'gpt-4o-mini') {
  const docs = await traceRetrieval('kb-support', { dbSystem: 'pgvector' }, async () =>
    KB.filter((d) => d.split(' ').some((w) => ticket.includes(w.toLowerCase()))),
  );
  const messages = [
    { role: 'system', content: `You are a support agent. Knowledge: ${docs.join(' ')}` },
    { role: 'user', content: ticket },
  ];
  let reply = '';
  for (let step = 0; step < 4; step++) {
    const response = await chat({ model: 'gpt-4o', messages, tools: TOOLS });
    const message = response.choices[0].message;
    messages.push(message);
    if (!message.tool_calls?.length) {
      reply = message.content ?? '';
      break;
    }
    for (const call of message.tool_calls) {
      const args = JSON.parse(call.function.arguments);
      const result = await traceTool(call.function.name, { toolCallId: call.id }, async () => ({
        status: ORDERS[args.order_id] ?? 'unknown',
      }));
      messages.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify(result) });
    }
  }
  // LLM-as-judge: the judge's model call is charged to `evaluation`.
  const score = await traceEvaluation('answer-quality', {}, async () => {
    const verdict = await chat({
      model: judgeModel,
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

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const { ticket, judgeModel } = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    tracer.startActiveSpan(
      'invoke_agent support-agent',
      {
        attributes: {
          'gen_ai.operation.name': 'invoke_agent',
          'gen_ai.agent.name': 'support-agent',
        },
      },
      async (span) => {
        try {
          const out = await answer(String(ticket ?? ''), judgeModel ?? undefined);
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
        } catch (e) {
          span.recordException(e);
          const status = e?.name === 'BudgetExceededError' ? 429 : 500;
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: String(e?.message ?? e) }));
        } finally {
          span.end();
        }
      },
    );
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ service: 'agent', port: server.address().port }));
});
