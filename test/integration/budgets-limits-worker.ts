/**
 * One replica of the shared token and call budget tests (test/integration/budgets-limits.test.ts):
 * a real `createSpanLedger` (cost processor in a TracerProvider, AsyncLocalStorage context
 * manager) whose monthly budget lives in Redis through `RedisLedger`. Its loops make `guard()`ed
 * LLM calls until the first refusal; each call ends one gpt-4o chat span with a random number of
 * tokens (1000-20000 input, 100-2000 output: at most 22000 tokens).
 *
 * Run with `node --import tsx test/integration/budgets-limits-worker.ts <url> <keyPrefix>
 * <budgetJson> <loops> <nowMs> <estimateTokens|none>`. It prints `ready` once Redis answers and
 * starts on a `go` line on stdin; at the end it prints one JSON line (see `Result`).
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { RedisLedger } from '../../src/budgets/redis-ledger.js';
import { BudgetExceededError, type BudgetInput, createSpanLedger } from '../../src/index.js';

const [url, keyPrefix, budgetJson, loopsArg, nowArg, estimateArg] = process.argv.slice(2);
const loops = Number(loopsArg);
const now = Number(nowArg);
const estimateTokens = estimateArg === 'none' ? undefined : Number(estimateArg);

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const budgetLedger = new RedisLedger({ url, keyPrefix, failure: 'closed', timeoutMs: 2000 });
const ledger = createSpanLedger({
  now: () => now,
  budgetLedger,
  budgets: [JSON.parse(budgetJson as string) as BudgetInput],
});
const provider = new TracerProvider({ spanProcessors: [ledger.processor] });
const tracer = provider.getTracer('budgets-limits-worker');

const result = {
  /** Guarded calls whose function ran (each ended one LLM span). */
  calls: 0,
  /** Tokens (input plus output) of those calls. */
  tokens: 0,
  /** Refusals: the limit that decided and its figures. */
  refusals: [] as { limit: string; unit?: string; used?: number; max?: number; ran: boolean }[],
  /** Other errors (must be none). */
  errors: [] as string[],
  degradedReserves: 0,
};

const randomInt = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));

async function attempt(): Promise<boolean> {
  const root = tracer.startSpan('invoke_agent', { attributes: { 'spanledger.team': 'payments' } });
  let ran = false;
  try {
    await context.with(trace.setSpan(context.active(), root), () =>
      ledger.guard(
        async () => {
          ran = true;
          // The call's latency: a random 0-2 ms.
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 2));
          const input = randomInt(1000, 20_000);
          const output = randomInt(100, 2000);
          tracer
            .startSpan('chat gpt-4o', {
              attributes: {
                'gen_ai.operation.name': 'chat',
                'gen_ai.provider.name': 'openai',
                'gen_ai.request.model': 'gpt-4o',
                'gen_ai.usage.input_tokens': input,
                'gen_ai.usage.output_tokens': output,
              },
            })
            .end();
          result.calls++;
          result.tokens += input + output;
        },
        { call: { kind: 'llm' }, ...(estimateTokens !== undefined ? { estimateTokens } : {}) },
      ),
    );
    return true;
  } catch (e) {
    if (e instanceof BudgetExceededError) {
      result.refusals.push({
        limit: e.limit,
        ...(e.unit !== undefined ? { unit: e.unit } : {}),
        ...(e.used !== undefined ? { used: e.used } : {}),
        ...(e.max !== undefined ? { max: e.max } : {}),
        ran,
      });
    } else {
      result.errors.push(String(e));
    }
    return false;
  } finally {
    root.end();
  }
}

if (!(await budgetLedger.ready(10_000))) throw new Error(`worker ${process.pid}: Redis not ready`);
process.stdout.write('ready\n');
process.stdin.setEncoding('utf8');
let input = '';
await new Promise<void>((resolve) => {
  process.stdin.on('data', (chunk: string) => {
    input += chunk;
    if (input.includes('go\n')) resolve();
  });
});
await Promise.all(
  Array.from({ length: loops }, async () => {
    while (await attempt()) {}
  }),
);
process.stdin.pause();
result.degradedReserves = budgetLedger.stats().degradedReserves;
process.stdout.write(`${JSON.stringify(result)}\n`);
await ledger.shutdown();
