/**
 * Run by test/processor/attribute-writer.test.ts in a process started with
 * `--disallow-code-generation-from-strings`: one priced chat span through a ledger, and what the
 * exporter got. Prints one JSON line.
 */
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { createSpanLedger } from '../../src/index.js';
import { CHAT } from '../support/chat.js';

let codeFromStrings = true;
try {
  new Function('return 1');
} catch {
  codeFromStrings = false;
}
const ledger = createSpanLedger({});
const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({
  spanProcessors: [ledger.processor, new SimpleSpanProcessor({ exporter })],
});
provider
  .getTracer('worker')
  .startSpan('chat gpt-4o', {
    attributes: CHAT,
    startTime: new Date('2026-11-02T10:00:00Z'),
  })
  .end();
const [span] = exporter.getFinishedSpans();
process.stdout.write(
  `${JSON.stringify({
    codeFromStrings,
    attributes: span?.attributes,
    dropped: span?.droppedAttributesCount,
    problems: ledger.stats().problems,
  })}\n`,
);
