/**
 * Run the support agent example: the mock provider, the agent and the edge service (both under
 * `node --import spanledger/register`), six tickets from three tenants, then what each tenant's
 * tickets cost, read from the telemetry the services exported.
 *
 *     npm run example
 *
 * Telemetry goes to an in-process OTLP sink, or to your collector when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set (then OTLP/HTTP JSON to that endpoint, nothing printed).
 */
import { startOtlpReceiver } from './otlp-sink.mjs';
import { sendTicket, startStack, TICKETS } from './stack.mjs';

const external = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
const sink = external ? undefined : await startOtlpReceiver();
const stack = await startStack({ otlpEndpoint: external ?? sink.endpoint });
try {
  for (const [tenant, ticket] of TICKETS) {
    const { status, body } = await sendTicket(stack.edgeUrl, tenant, ticket);
    const note = body.reviewed ? ' (human review)' : '';
    console.log(`${tenant.padEnd(8)} ${status} ${body.reply ?? body.error}${note}`);
  }
} finally {
  await stack.stop();
}

if (sink) {
  const usd = (n) => `$${n.toFixed(6)}`;
  const runs = sink.spans.filter((s) => s.name === 'invoke_agent support-agent');
  console.log('\ntenant    runs  cost        resolved  cost/resolved  value');
  for (const tenant of ['acme', 'globex', 'initech']) {
    const mine = (a) => a['spanledger.tenant'] === tenant;
    const cost = sink.total('spanledger.cost.usd', mine);
    const outcomes = sink.total('spanledger.outcomes', mine);
    const value = sink.total('spanledger.outcome.value.usd', mine);
    const n = runs.filter((s) => mine(s.attributes)).length;
    console.log(
      `${tenant.padEnd(9)} ${String(n).padEnd(5)} ${usd(cost).padEnd(11)} ${String(outcomes).padEnd(9)} ${usd(cost / outcomes).padEnd(14)} $${value}`,
    );
  }
  const byCategory = {};
  for (const p of sink.points.filter((p) => p.metric === 'spanledger.cost.usd')) {
    const c = p.attributes['spanledger.cost.category'];
    byCategory[c] = (byCategory[c] ?? 0) + p.value;
  }
  console.log(
    `\nby category: ${Object.entries(byCategory)
      .map(([c, v]) => `${c} ${usd(v)}`)
      .join(', ')}`,
  );
  await sink.close();
}
