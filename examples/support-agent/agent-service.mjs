/**
 * The support agent as a service: `POST /answer` with `{ "ticket": "...", "judgeModel"?: "..." }`
 * (the judge's model when not `gpt-4o-mini`) runs the agent of
 * `agent.mjs` once (a retrieval, model and tool calls, an LLM-as-judge evaluation, a human review
 * when the judge is unsure) and replies with its answer; 429 when a budget refused a call.
 *
 * It has no telemetry setup of its own: start it with `node --import spanledger/register`. The
 * real `openai` client is traced by the OpenAI instrumentations that register enables; the
 * work no instrumentation covers goes through spanledger's helpers. The tenant, team and use
 * case arrive in W3C Baggage from the edge service.
 */
import { createServer } from 'node:http';
import OpenAI from 'openai';
import { registeredLedger } from 'spanledger';
import { createSupportAgent } from './agent.mjs';

const agent = createSupportAgent({
  openai: new OpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: 'mock-key' }),
  ledger: registeredLedger(),
});

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const { ticket, judgeModel } = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    const out = await agent.run(String(ticket ?? ''), judgeModel ? { judgeModel } : {});
    const status = out.error === undefined ? 200 : out.refused ? 429 : 500;
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(out));
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ service: 'agent', port: server.address().port }));
});
