/**
 * The edge: `POST /tickets` with `{ "tenant": "...", "ticket": "...", "judgeModel"?: "..." }`, as an API gateway would
 * receive it after authenticating the tenant. It attributes the request (tenant, team, cost
 * center, use case) with `withAttribution`, which puts them in W3C Baggage, and calls the agent
 * service over HTTP; the agent's spans and cost metrics carry the same dimensions.
 */
import { createServer } from 'node:http';
import { withAttribution } from 'spanledger';

const agentUrl = process.env.AGENT_URL;

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const { tenant, ticket, judgeModel } = JSON.parse(
      Buffer.concat(chunks).toString('utf8') || '{}',
    );
    // A ticket from the public web form has no tenant: its spend is unallocated.
    const dimensions = {
      ...(tenant ? { tenant: String(tenant) } : {}),
      team: 'customer-care',
      costCenter: 'cc-4100',
      useCase: 'support-ticket',
    };
    try {
      const upstream = await withAttribution(dimensions, () =>
        fetch(`${agentUrl}/answer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ticket, judgeModel }),
        }),
      );
      res.writeHead(upstream.status, { 'content-type': 'application/json' });
      res.end(await upstream.text());
    } catch (e) {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: String(e?.message ?? e) }));
    }
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ service: 'edge', port: server.address().port }));
});
