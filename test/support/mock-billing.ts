/**
 * Mock provider billing APIs on a real `node:http` server (loopback, port 0), speaking the
 * documented formats:
 *
 * - OpenAI at `${url}/v1`: `GET /v1/organization/costs` with `Authorization: Bearer KEY`;
 *   pages `{object: "page", data: [buckets], has_more, next_page}`, errors
 *   `{error: {message, type}}` (401 quotes the key masked, as OpenAI does);
 * - Anthropic at `url`: `GET /v1/organizations/cost_report` with `x-api-key` and
 *   `anthropic-version`; pages `{data: [buckets], has_more, next_page}`, errors
 *   `{type: "error", error: {type, message}}`.
 *
 * Each test sets the buckets of every page; the mock chains them with `next_page` tokens and
 * records each request's URL, so tests check the query the client sent.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The mock's state; tests set pages and keys before calling. */
export interface MockBilling {
  /** Base URL (no `/v1`). */
  url: string;
  /** OpenAI API root (`${url}/v1`). */
  openaiURL: string;
  openaiKey: string;
  anthropicKey: string;
  /** The buckets of each page, in order. */
  openaiPages: unknown[][];
  anthropicPages: unknown[][];
  /** Every request's path and query, in order. */
  requests: URL[];
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Which page a `page` token asks for: tokens are `page_<n>` (the first page has none). */
function pageIndex(u: URL): number {
  const token = u.searchParams.get('page');
  if (token === null) return 0;
  const m = /^page_(\d+)$/.exec(token);
  return m ? Number(m[1]) : -1;
}

/** Starts the mock. */
export async function startMockBilling(): Promise<MockBilling> {
  const state: MockBilling = {
    url: '',
    openaiURL: '',
    openaiKey: 'sk-admin-openai-test-0123456789',
    anthropicKey: 'sk-ant-admin01-test-0123456789',
    openaiPages: [[]],
    anthropicPages: [[]],
    requests: [],
    close: async () => {},
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? '/', 'http://mock');
    state.requests.push(u);
    if (req.method === 'GET' && u.pathname === '/v1/organization/costs') {
      const auth = req.headers.authorization ?? '';
      if (auth !== `Bearer ${state.openaiKey}`) {
        const given = auth.replace(/^Bearer /, '');
        send(res, 401, {
          error: {
            message: `Incorrect API key provided: ${given.slice(0, 8)}****${given.slice(-4)}.`,
            type: 'invalid_request_error',
            code: 'invalid_api_key',
          },
        });
        return;
      }
      const i = pageIndex(u);
      const data = state.openaiPages[i];
      if (data === undefined) {
        send(res, 400, { error: { message: 'invalid page', type: 'invalid_request_error' } });
        return;
      }
      const more = i + 1 < state.openaiPages.length;
      send(res, 200, {
        object: 'page',
        data,
        has_more: more,
        next_page: more ? `page_${i + 1}` : null,
      });
      return;
    }
    if (req.method === 'GET' && u.pathname === '/v1/organizations/cost_report') {
      if (req.headers['x-api-key'] !== state.anthropicKey || !req.headers['anthropic-version']) {
        send(res, 401, {
          type: 'error',
          error: { type: 'authentication_error', message: 'invalid x-api-key' },
        });
        return;
      }
      const i = pageIndex(u);
      const data = state.anthropicPages[i];
      if (data === undefined) {
        send(res, 400, {
          type: 'error',
          error: { type: 'invalid_request_error', message: 'invalid page' },
        });
        return;
      }
      const more = i + 1 < state.anthropicPages.length;
      send(res, 200, { data, has_more: more, next_page: more ? `page_${i + 1}` : null });
      return;
    }
    send(res, 404, { error: { message: `no route ${u.pathname}`, type: 'not_found' } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  state.url = `http://127.0.0.1:${port}`;
  state.openaiURL = `${state.url}/v1`;
  state.close = () =>
    new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
  return state;
}

/** An OpenAI cost bucket of one UTC day (`YYYY-MM-DD`): `[line_item, dollars]` pairs (dollars
 * as a number, or as the decimal string some answers carry). */
export function openaiBucket(day: string, items: [string | null, number | string][]): unknown {
  const start = Date.parse(`${day}T00:00:00Z`) / 1000;
  return {
    object: 'bucket',
    start_time: start,
    end_time: start + 86_400,
    results: items.map(([line_item, value]) => ({
      object: 'organization.costs.result',
      amount: { value, currency: 'usd' },
      line_item,
      project_id: null,
    })),
  };
}

/** An Anthropic cost bucket of one UTC day: `[model, token_type, cents as a decimal string]`. */
export function anthropicBucket(
  day: string,
  items: [string | null, string | null, string][],
): unknown {
  const next = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000)
    .toISOString()
    .replace('.000', '');
  return {
    starting_at: `${day}T00:00:00Z`,
    ending_at: next,
    results: items.map(([model, token_type, amount]) => ({
      currency: 'USD',
      amount,
      workspace_id: null,
      description: model === null ? 'Web Search' : `${model} Usage - ${token_type}`,
      cost_type: model === null ? 'web_search' : 'tokens',
      context_window: model === null ? null : '0-200k',
      model,
      service_tier: model === null ? null : 'standard',
      token_type,
    })),
  };
}
