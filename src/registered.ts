/**
 * The ledger that `spanledger/register` (or `startSpanLedger`) started, for application code
 * that wants the budget API (`check`, `guard`, ...) without holding the setup's return value.
 * Kept on `globalThis` under a registered symbol so the ESM and CommonJS copies of the package
 * (an app `require`s `spanledger` while `--import spanledger/register` loaded the ESM build)
 * see the same ledger.
 */
import type { SpanLedger } from './ledger.js';

const KEY = Symbol.for('spanledger.registeredLedger');

type Holder = { [KEY]?: SpanLedger };

/** Record the process's started ledger (internal: called by `startSpanLedger`). */
export function setRegisteredLedger(ledger: SpanLedger | undefined): void {
  (globalThis as Holder)[KEY] = ledger;
}

/** The ledger `spanledger/register` or `startSpanLedger()` started in this process, if any. */
export function registeredLedger(): SpanLedger | undefined {
  return (globalThis as Holder)[KEY];
}
