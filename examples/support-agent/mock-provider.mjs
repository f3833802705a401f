/**
 * A scripted stand-in for the OpenAI API (`POST /v1/chat/completions`, plain and streamed) that
 * plays a support agent, so the example runs with no network and no API key:
 * - a ticket conversation with no tool result yet gets a `lookup_order` tool call;
 * - once the tool result is in, the final answer; but a result of `unknown` (an order that does
 *   not exist) makes it look the same order up again, and again: a runaway agent, which only a
 *   per-run budget stops (docs/budgets.md, "Repeated tool calls");
 * - a judge prompt ("You are a judge") gets `{"score": ...}`: 0.4 for refund requests (which
 *   then go to human review), 0.9 otherwise.
 * Usage blocks are what OpenAI bills: `prompt_tokens` include the cached prefix
 * (`prompt_tokens_details.cached_tokens`): the first 1024-token block of a system prompt this
 * mock has seen before is a cache hit, as OpenAI's prompt caching does for a repeated prefix.
 */
import { createServer } from 'node:http';

/** Prompt tokens of a request: a fixed system prompt plus about 4 characters per token. */
function promptTokens(messages) {
  return 1100 + Math.ceil(JSON.stringify(messages).length / 4);
}

function reply(body) {
  const messages = body.messages ?? [];
  const first = String(messages[0]?.content ?? '');
  const ticket = String(messages.find((m) => m.role === 'user')?.content ?? '');
  if (first.startsWith('You are a judge')) {
    const score = /refund/i.test(ticket) ? 0.4 : 0.9;
    return { message: { role: 'assistant', content: JSON.stringify({ score }) }, output: 12 };
  }
  const toolResult = messages.findLast((m) => m.role === 'tool');
  const status = toolResult ? JSON.parse(toolResult.content).status : undefined;
  const tools = Array.isArray(body.tools) && body.tools.length > 0;
  if (tools && (toolResult === undefined || status === 'unknown')) {
    const order = /#(\d+)/.exec(ticket)?.[1] ?? '0';
    return {
      message: {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: `call_${order}`,
            type: 'function',
            function: { name: 'lookup_order', arguments: JSON.stringify({ order_id: order }) },
          },
        ],
      },
      output: 24,
      finish: 'tool_calls',
    };
  }
  return {
    message: {
      role: 'assistant',
      content: `Your order is ${status ?? 'unknown'}. We will keep you posted by email.`,
    },
    output: 160,
  };
}

function usage(body, output, cached) {
  const prompt = promptTokens(body.messages ?? []);
  return {
    prompt_tokens: prompt,
    completion_tokens: output,
    total_tokens: prompt + output,
    prompt_tokens_details: { cached_tokens: cached && prompt >= 1024 ? 1024 : 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
  };
}

/** Start the mock on 127.0.0.1 (port 0 by default); resolves to `{ url, close }`. */
export async function startMockProvider(port = 0) {
  let n = 0;
  // System prompts seen: their prefix is in the (simulated) prompt cache.
  const prefixes = new Set();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `no route ${req.url}`, type: 'not_found' } }));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const { message, output, finish = 'stop' } = reply(body);
      const prefix = String(body.messages?.[0]?.content ?? '');
      const cached = prefixes.has(prefix);
      prefixes.add(prefix);
      const id = `chatcmpl-mock-${++n}`;
      const created = Math.floor(Date.now() / 1000);
      const model = `${body.model}-2024-08-06`;
      if (body.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const chunk = (delta, extra = {}) =>
          res.write(
            `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`,
          );
        chunk({ role: 'assistant', content: '' });
        chunk({ content: message.content ?? '' });
        res.write(
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta: {}, finish_reason: finish }] })}\n\n`,
        );
        if (body.stream_options?.include_usage) {
          res.write(
            `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: usage(body, output, cached) })}\n\n`,
          );
        }
        res.end('data: [DONE]\n\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [{ index: 0, message, finish_reason: finish, logprobs: null }],
          usage: usage(body, output, cached),
          service_tier: 'default',
        }),
      );
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/v1`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
