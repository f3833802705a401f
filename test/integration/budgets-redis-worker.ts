/**
 * One replica of the shared-budget test (test/integration/budgets-redis.test.ts): a real
 * `createSpanLedger` (cost processor in a TracerProvider, AsyncLocalStorage context manager)
 * whose daily team budget lives in Redis through `RedisLedger`. Its loops make `guard()`ed calls;
 * each call ends one priced span (a manual cost or a gpt-4o chat span).
 *
 * Run with `node --import tsx test/integration/budgets-redis-worker.ts <url> <keyPrefix> <mode>
 * <limitUsd> <loops> <nowMs> <failure> <timeoutMs>`. It prints `ready` once Redis answers and starts
 * on a `go` line on stdin.
 * - mode `exhaust`: every loop calls until its first refusal.
 * - mode `outage`: loops call without end; after 10 calls per loop the worker prints `warm`;
 *   on a `killed` line (Redis was killed) each loop makes 5 more attempts, then stops.
 * Prints one JSON line at the end (see `Result`).
 */
import {
  type Attributes,
  context,
  type DiagLogger,
  DiagLogLevel,
  diag,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { RedisLedger } from '../../src/budgets/redis-ledger.js';
import { type BudgetEvent, BudgetExceededError, createSpanLedger } from '../../src/index.js';
import { CHAT, CHAT_USD } from '../support/chat.js';

const [url, keyPrefix, mode, limitArg, loopsArg, nowArg, failureArg, timeoutArg] =
  process.argv.slice(2);
const limitUsd = Number(limitArg);
const loops = Number(loopsArg);
const now = Number(nowArg);
const ESTIMATE = 0.01;

/** The spans a call may end, with the cost each must be priced at (all <= the estimate). */
const KINDS: { name: string; attrs: Attributes; usd: number }[] = [
  { name: 'chat gpt-4o', attrs: CHAT, usd: CHAT_USD },
  { name: 'review', attrs: { 'spanledger.manual.cost.usd': 0.008 }, usd: 0.008 },
  { name: 'review', attrs: { 'spanledger.manual.cost.usd': 0.0095 }, usd: 0.0095 },
  { name: 'review', attrs: { 'spanledger.manual.cost.usd': 0.01 }, usd: 0.01 },
];

const diagWarnings: string[] = [];
diag.setLogger(
  {
    error: (m: string) => diagWarnings.push(m),
    warn: (m: string) => diagWarnings.push(m),
    info: () => {},
    debug: () => {},
    verbose: () => {},
  } as DiagLogger,
  DiagLogLevel.WARN,
);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

const budgetLedger = new RedisLedger({
  url,
  keyPrefix,
  failure: failureArg === 'open' ? 'open' : 'closed',
  timeoutMs: Number(timeoutArg),
});
const events: BudgetEvent[] = [];
const ledger = createSpanLedger({
  now: () => now,
  onBudgetEvent: (e) => events.push(e),
  budgetLedger,
  budgets: [
    {
      name: 'team-daily',
      scope: { team: 'payments' },
      window: { calendar: 'day', timeZone: 'UTC' },
      limitUsd,
      action: 'block',
    },
  ],
});
const provider = new TracerProvider({ spanProcessors: [ledger.processor] });
const tracer = provider.getTracer('budgets-redis-worker');

/** A guarded call the worker saw refused (read by budgets-redis.test.ts). */
export interface Refusal {
  name: string;
  budget?: string;
  limit?: string;
  limitUsd?: number;
  spentUsd?: number;
  reservedUsd?: number;
  /** Whether the guarded function had started when guard() threw. */
  ran: boolean;
  /** Whether the attempt started after the worker heard that Redis was killed. */
  afterKill: boolean;
  message: string;
}

const result = {
  pid: process.pid,
  /** Calls whose function ran (and ended its span). */
  calls: 0,
  /** Sum of the costs the callers observed (the `spanledger.cost.usd` of the spans they ended). */
  spentUsd: 0,
  /** Calls whose span cost differed from the cost expected for its kind. */
  mispriced: 0,
  refusals: [] as Refusal[],
  /** Functions that ran in attempts started after the kill notice (must be 0 under fail-closed). */
  callsAfterKill: 0,
  /** `check()` during the outage, before the first attempt after the kill. */
  checkDuringOutage: undefined as unknown,
  ledgerStats: undefined as unknown,
  problems: undefined as unknown,
  diagWarnings,
  /** Budget events this replica signalled (warnings at 50 % and 80 % by default). */
  events,
};

let killed = false;
let warmLoops = 0;
let warmSent = false;

async function attempt(afterKill: boolean): Promise<boolean> {
  const root = tracer.startSpan('invoke_agent billing', {
    attributes: { 'spanledger.team': 'payments' },
  });
  const ctx = trace.setSpan(context.active(), root);
  let ran = false;
  try {
    await context.with(ctx, () =>
      ledger.guard(
        async () => {
          ran = true;
          // The call's latency: a random 0-2 ms.
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 2));
          const kind = KINDS[Math.floor(Math.random() * KINDS.length)] ?? KINDS[0];
          if (!kind) return;
          const span = tracer.startSpan(kind.name, { attributes: kind.attrs });
          span.end();
          const cost = (span as unknown as { attributes: Record<string, unknown> }).attributes[
            'spanledger.cost.usd'
          ];
          if (cost !== kind.usd) result.mispriced++;
          result.spentUsd += typeof cost === 'number' ? cost : Number.NaN;
          result.calls++;
          if (afterKill) result.callsAfterKill++;
        },
        { estimateUsd: ESTIMATE },
      ),
    );
    return true;
  } catch (e) {
    const err = e as Partial<BudgetExceededError> & Error;
    result.refusals.push({
      name: e instanceof BudgetExceededError ? 'BudgetExceededError' : err.name,
      ...(err.budget !== undefined ? { budget: err.budget } : {}),
      ...(err.limit !== undefined ? { limit: err.limit } : {}),
      ...(err.limitUsd !== undefined ? { limitUsd: err.limitUsd } : {}),
      ...(err.spentUsd !== undefined ? { spentUsd: err.spentUsd } : {}),
      ...(err.reservedUsd !== undefined ? { reservedUsd: err.reservedUsd } : {}),
      ran,
      afterKill,
      message: err.message,
    });
    return false;
  } finally {
    root.end();
  }
}

async function exhaust(): Promise<void> {
  while (await attempt(false)) {}
}

async function outage(): Promise<void> {
  let made = 0;
  let warm = false;
  while (!killed) {
    await attempt(false);
    made++;
    // Yield to I/O between calls. Without Redis a fail-closed refusal settles in microtasks
    // alone, so a loop without this never lets the `killed` line (or any timer) in.
    await new Promise((resolve) => setImmediate(resolve));
    if (made >= 10 && !warm) {
      warm = true;
      warmLoops++;
      if (warmLoops === loops && !warmSent) {
        warmSent = true;
        process.stdout.write('warm\n');
      }
    }
  }
  for (let i = 0; i < 5; i++) await attempt(true);
}

if (!(await budgetLedger.ready(10_000))) throw new Error(`worker ${process.pid}: Redis not ready`);
process.stdout.write('ready\n');
process.stdin.setEncoding('utf8');
let input = '';
let onGo: () => void = () => {};
const go = new Promise<void>((resolve) => {
  onGo = resolve;
});
let onKilled: () => void = () => {};
const killNotice = new Promise<void>((resolve) => {
  onKilled = resolve;
});
process.stdin.on('data', (chunk: string) => {
  input += chunk;
  if (input.includes('go\n')) onGo();
  if (input.includes('killed\n')) onKilled();
});
await go;
if (mode === 'outage') {
  void killNotice.then(async () => {
    // What check() says while Redis is down, before any attempt after the kill.
    const root = tracer.startSpan('probe', { attributes: { 'spanledger.team': 'payments' } });
    result.checkDuringOutage = await context.with(trace.setSpan(context.active(), root), () =>
      ledger.check({ estimateUsd: ESTIMATE }),
    );
    root.end();
    killed = true;
  });
  await Promise.all(Array.from({ length: loops }, outage));
} else {
  await Promise.all(Array.from({ length: loops }, exhaust));
}
process.stdin.pause();
result.ledgerStats = budgetLedger.stats();
result.problems = ledger.stats().problems;
process.stdout.write(`${JSON.stringify(result)}\n`);
// Do not wait for a dead Redis: the ledger's sockets and timers are unref'd.
if (mode === 'exhaust') await ledger.shutdown();
