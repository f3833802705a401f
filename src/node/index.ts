/**
 * `spanledger/node`: programmatic NodeSDK setup (what `spanledger/register` runs), kept apart
 * from `spanledger` so the library itself does not load the NodeSDK and its exporters.
 */
export { ENV } from './env.js';
export {
  INSTRUMENTATIONS,
  type StartedSpanLedger,
  type StartSpanLedgerOptions,
  startSpanLedger,
} from './start.js';
