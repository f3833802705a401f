/**
 * Mock model providers on a real `node:http` server (loopback, port 0), for driving the real
 * `openai` and `@anthropic-ai/sdk` clients:
 *
 * - OpenAI at `${url}/v1`: `POST /chat/completions` (SSE when `stream`, usage in a last chunk with
 *   no choices when `stream_options.include_usage`), `POST /responses` (SSE events up to
 *   `response.completed`), `POST /embeddings` (base64 or float vectors); non-streamed calls
 *   answer with a tool call when `toolCall` is set and the request has tools but no result;
 * - Anthropic at `url`: `POST /v1/messages` (SSE: usage in `message_start`, final totals in
 *   `message_delta`).
 *
 * Usage blocks are the providers' own shapes: OpenAI `prompt_tokens_details.cached_tokens` and
 * `completion_tokens_details.reasoning_tokens` (inside the prompt and completion counts);
 * Anthropic `cache_read_input_tokens`, `cache_creation_input_tokens` and `cache_creation.
 * ephemeral_{5m,1h}_input_tokens` (outside `input_tokens`). Set `openai`/`anthropic` per test.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OpenAIMockConfig {
  model: string;
  prompt: number;
  cached: number;
  completion: number;
  reasoning: number;
  serviceTier?: string;
  /** Answer every call with this HTTP status and an error body instead. */
  failWith?: number;
  /** Answer a request that offers tools and carries no tool result yet with a call to this
   * tool (Chat Completions `tool_calls`, Responses `function_call`), not plain text. */
  toolCall?: { name: string; arguments: string };
}

export interface AnthropicMockConfig {
  model: string;
  /** Uncached input tokens, as Anthropic counts them. */
  input: number;
  cacheRead: number;
  write5m: number;
  write1h: number;
  output: number;
}

export interface RecordedRequest {
  path: string;
  body: Record<string, unknown>;
}

export interface MockProviders {
  /** OpenAI base URL (ends in `/v1`). */
  openaiURL: string;
  /** Anthropic base URL. */
  anthropicURL: string;
  openai: OpenAIMockConfig;
  anthropic: AnthropicMockConfig;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** The OpenAI mock's answers unless a test sets others, the reference call: gpt-4o, 1200 input
 * of which 1024 cached, 300 output ($0.00472). */
export const OPENAI_DEFAULTS: Readonly<OpenAIMockConfig> = {
  model: 'gpt-4o-2024-08-06',
  prompt: 1200,
  cached: 1024,
  completion: 300,
  reasoning: 0,
};
/** A reasoning call: o3-mini, 2000 input of which 1024 cached, 500 output of which 384
 * reasoning ($0.0038368). */
export const O3_MINI_REASONING: OpenAIMockConfig = {
  model: 'o3-mini-2025-01-31',
  prompt: 2000,
  cached: 1024,
  completion: 500,
  reasoning: 384,
};
const ANTHROPIC_DEFAULTS: AnthropicMockConfig = {
  model: 'claude-sonnet-4-5-20250929',
  input: 3000,
  cacheRead: 4000,
  write5m: 2000,
  write1h: 1000,
  output: 200,
};

/** Start the mock providers; `close()` them in `afterAll`. */
export async function startMockProviders(): Promise<MockProviders> {
  const requests: RecordedRequest[] = [];
  const mock = {
    openai: { ...OPENAI_DEFAULTS },
    anthropic: { ...ANTHROPIC_DEFAULTS },
  };
  const server = createServer((req, res) => {
    readJson(req).then(
      (body) => {
        const path = req.url ?? '';
        requests.push({ path, body });
        route(path, body, res, mock);
      },
      () => send(res, 400, { error: { message: 'bad json' } }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    openaiURL: `${url}/v1`,
    anthropicURL: url,
    get openai() {
      return mock.openai;
    },
    set openai(c: OpenAIMockConfig) {
      mock.openai = c;
    },
    get anthropic() {
      return mock.anthropic;
    },
    set anthropic(c: AnthropicMockConfig) {
      mock.anthropic = c;
    },
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** OpenAI's usage block for a Chat Completions (or Completions) response. */
export function openAIChatUsage(c: OpenAIMockConfig) {
  return {
    prompt_tokens: c.prompt,
    completion_tokens: c.completion,
    total_tokens: c.prompt + c.completion,
    prompt_tokens_details: { cached_tokens: c.cached, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: c.reasoning,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function route(
  path: string,
  body: Record<string, unknown>,
  res: ServerResponse,
  mock: { openai: OpenAIMockConfig; anthropic: AnthropicMockConfig },
): void {
  const o = mock.openai;
  if (path.startsWith('/v1/') && path !== '/v1/messages' && o.failWith !== undefined) {
    send(res, o.failWith, {
      error: { message: 'mock failure', type: 'invalid_request_error', code: null },
    });
    return;
  }
  const stream = body.stream === true;
  if (path === '/v1/chat/completions') {
    if (stream) chatStream(res, o, body);
    else send(res, 200, chatCompletion(o, wantsToolCall(o, body, 'messages', 'role', 'tool')));
  } else if (path === '/v1/responses') {
    if (stream) responsesStream(res, o);
    else {
      const call = wantsToolCall(o, body, 'input', 'type', 'function_call_output');
      send(res, 200, response(o, 'completed', call));
    }
  } else if (path === '/v1/embeddings') {
    send(res, 200, embeddings(o, body));
  } else if (path === '/v1/messages') {
    if (stream) messageStream(res, mock.anthropic);
    else send(res, 200, message(mock.anthropic));
  } else {
    send(res, 404, { error: { message: `no route ${path}` } });
  }
}

/** The tool to call, when the request offers tools and none of its `list` items (messages or
 * input items) is a tool result yet (`item[key] === result`). */
function wantsToolCall(
  c: OpenAIMockConfig,
  body: Record<string, unknown>,
  list: string,
  key: string,
  result: string,
): OpenAIMockConfig['toolCall'] {
  if (c.toolCall === undefined || !Array.isArray(body.tools)) return undefined;
  const items = Array.isArray(body[list]) ? (body[list] as Record<string, unknown>[]) : [];
  return items.some((m) => m[key] === result) ? undefined : c.toolCall;
}

function chatCompletion(c: OpenAIMockConfig, call?: OpenAIMockConfig['toolCall']) {
  const tool_calls = call && [
    { id: 'call_mock', type: 'function', function: { name: call.name, arguments: call.arguments } },
  ];
  return {
    id: 'chatcmpl-mock',
    object: 'chat.completion',
    created: 1_767_225_600,
    model: c.model,
    choices: [
      {
        index: 0,
        message: tool_calls
          ? { role: 'assistant', content: null, tool_calls, refusal: null }
          : { role: 'assistant', content: 'Hello.', refusal: null },
        finish_reason: tool_calls ? 'tool_calls' : 'stop',
        logprobs: null,
      },
    ],
    usage: openAIChatUsage(c),
    service_tier: c.serviceTier ?? 'default',
    system_fingerprint: 'fp_mock',
  };
}

function chatStream(res: ServerResponse, c: OpenAIMockConfig, body: Record<string, unknown>) {
  const options = body.stream_options as { include_usage?: boolean } | undefined;
  const chunk = (delta: object, finish: string | null) => ({
    id: 'chatcmpl-mock',
    object: 'chat.completion.chunk',
    created: 1_767_225_600,
    model: c.model,
    service_tier: c.serviceTier ?? 'default',
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
  });
  const events: object[] = [
    chunk({ role: 'assistant', content: '' }, null),
    chunk({ content: 'Hel' }, null),
    chunk({ content: 'lo.' }, null),
    chunk({}, 'stop'),
  ];
  if (options?.include_usage) {
    events.push({ ...chunk({}, null), choices: [], usage: openAIChatUsage(c) });
  }
  sse(
    res,
    events.map((data) => ({ data })),
    true,
  );
}

function responsesUsage(c: OpenAIMockConfig) {
  return {
    input_tokens: c.prompt,
    input_tokens_details: { cached_tokens: c.cached },
    output_tokens: c.completion,
    output_tokens_details: { reasoning_tokens: c.reasoning },
    total_tokens: c.prompt + c.completion,
  };
}

function response(c: OpenAIMockConfig, status = 'completed', call?: OpenAIMockConfig['toolCall']) {
  const text = {
    id: 'msg_mock',
    type: 'message',
    role: 'assistant',
    status: 'completed',
    content: [{ type: 'output_text', text: 'Hello.', annotations: [] }],
  };
  const functionCall = call && {
    id: 'fc_mock',
    type: 'function_call',
    call_id: 'call_mock',
    name: call.name,
    arguments: call.arguments,
    status: 'completed',
  };
  return {
    id: 'resp_mock',
    object: 'response',
    created_at: 1_767_225_600,
    status,
    model: c.model,
    output: [functionCall ?? text],
    usage: status === 'completed' ? responsesUsage(c) : null,
    service_tier: c.serviceTier ?? 'default',
  };
}

function responsesStream(res: ServerResponse, c: OpenAIMockConfig) {
  const item = response(c).output[0];
  const events = [
    { type: 'response.created', response: response(c, 'in_progress') },
    {
      type: 'response.output_item.added',
      output_index: 0,
      item: { ...item, status: 'in_progress', content: [] },
    },
    { type: 'response.output_text.delta', item_id: 'msg_mock', delta: 'Hello.' },
    { type: 'response.output_item.done', output_index: 0, item },
    { type: 'response.completed', response: response(c) },
  ];
  sse(
    res,
    events.map((data, i) => ({ event: data.type, data: { ...data, sequence_number: i } })),
    false,
  );
}

function embeddings(c: OpenAIMockConfig, body: Record<string, unknown>) {
  const vector = [0.25, -0.5, 0.75];
  const embedding =
    body.encoding_format === 'base64'
      ? Buffer.from(new Float32Array(vector).buffer).toString('base64')
      : vector;
  return {
    object: 'list',
    data: [{ object: 'embedding', index: 0, embedding }],
    model: c.model,
    usage: { prompt_tokens: c.prompt, total_tokens: c.prompt },
  };
}

function anthropicUsage(c: AnthropicMockConfig, output: number) {
  return {
    input_tokens: c.input,
    cache_read_input_tokens: c.cacheRead,
    cache_creation_input_tokens: c.write5m + c.write1h,
    cache_creation: {
      ephemeral_5m_input_tokens: c.write5m,
      ephemeral_1h_input_tokens: c.write1h,
    },
    output_tokens: output,
    service_tier: 'standard',
  };
}

function message(c: AnthropicMockConfig) {
  return {
    id: 'msg_mock',
    type: 'message',
    role: 'assistant',
    model: c.model,
    content: [{ type: 'text', text: 'Hello.' }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: anthropicUsage(c, c.output),
  };
}

function messageStream(res: ServerResponse, c: AnthropicMockConfig) {
  const start = { ...message(c), content: [], stop_reason: null, usage: anthropicUsage(c, 1) };
  const events: { event: string; data: object }[] = [
    { event: 'message_start', data: { type: 'message_start', message: start } },
    {
      event: 'content_block_start',
      data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    },
    {
      event: 'content_block_delta',
      data: {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: 'Hello.' },
      },
    },
    { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
    {
      event: 'message_delta',
      data: {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: {
          output_tokens: c.output,
          input_tokens: c.input,
          cache_read_input_tokens: c.cacheRead,
          cache_creation_input_tokens: c.write5m + c.write1h,
        },
      },
    },
    { event: 'message_stop', data: { type: 'message_stop' } },
  ];
  sse(res, events, false);
}

function sse(res: ServerResponse, events: { event?: string; data: object }[], done: boolean) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const e of events) {
    res.write(`${e.event ? `event: ${e.event}\n` : ''}data: ${JSON.stringify(e.data)}\n\n`);
  }
  if (done) res.write('data: [DONE]\n\n');
  res.end();
}

function send(res: ServerResponse, status: number, body: object) {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req_mock' });
  res.end(json);
}

function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      raw += c;
    });
    req.on('end', () => {
      try {
        resolve(raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>));
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}
