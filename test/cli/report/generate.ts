/**
 * A large exported-spans file for the report's performance test: `traces` agent runs of five
 * spans (a root and four priced calls), in OTLP JSON lines of `perLine` spans each, each run's
 * spans one after another with its root last (as runs end and are exported). Costs are whole
 * micro-dollars, so the exact total is known.
 */

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

const T0 = 1748772000_000000000n;
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4', 'gemini-2.5-flash'];
const kv = (key: string, value: unknown) => ({ key, value });

/** Write the file; resolves to its span count and exact total in micro-dollars. */
export async function generateSpans(
  path: string,
  traces: number,
  perLine = 500,
): Promise<{ spans: number; totalMicros: number }> {
  const out = createWriteStream(path);
  let batch: unknown[] = [];
  let spans = 0;
  let totalMicros = 0;
  const flush = async () => {
    const line = JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [kv('service.name', { stringValue: 'support-api' })] },
          scopeSpans: [{ scope: { name: 'bench' }, spans: batch }],
        },
      ],
    });
    batch = [];
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  };
  for (let t = 0; t < traces; t++) {
    const traceId = t.toString(16).padStart(32, '0');
    const rootId = `${(t * 8).toString(16).padStart(15, '0')}f`;
    const start = T0 + BigInt(t) * 50_000_000n;
    for (let c = 0; c < 5; c++) {
      const isRoot = c === 4; // roots end, and are exported, last
      const micros = isRoot ? 0 : 1 + ((t * 31 + c * 7) % 997);
      totalMicros += micros;
      const model = MODELS[(t + c) % MODELS.length] as string;
      batch.push({
        traceId,
        spanId: isRoot ? rootId : `${(t * 8 + c).toString(16).padStart(15, '0')}a`,
        ...(isRoot ? {} : { parentSpanId: rootId }),
        name: isRoot ? 'invoke_agent support-agent' : `chat ${model}`,
        kind: 1,
        startTimeUnixNano: String(start + BigInt(c) * 5_000_000n),
        endTimeUnixNano: String(start + BigInt(c + 1) * 5_000_000n),
        attributes: isRoot
          ? [
              kv('spanledger.tenant', { stringValue: `tenant-${t % 50}` }),
              kv('spanledger.use_case', { stringValue: `use-case-${t % 7}` }),
            ]
          : [
              kv('gen_ai.operation.name', { stringValue: 'chat' }),
              kv('gen_ai.request.model', { stringValue: model }),
              kv('gen_ai.usage.input_tokens', { intValue: 1000 + c }),
              kv('gen_ai.usage.output_tokens', { intValue: 100 + c }),
              kv('spanledger.cost.category', { stringValue: 'llm' }),
              kv('spanledger.cost.status', { stringValue: 'priced' }),
              kv('spanledger.cost.usd', { doubleValue: micros / 1e6 }),
            ],
        status: {},
      });
      spans++;
      if (batch.length === perLine) await flush();
    }
  }
  if (batch.length > 0) await flush();
  out.end();
  await once(out, 'finish');
  return { spans, totalMicros };
}

if (process.argv[1]?.endsWith('generate.ts') && process.argv[2]) {
  console.log(
    JSON.stringify(await generateSpans(process.argv[2], Number(process.argv[3] ?? 20_000))),
  );
}
