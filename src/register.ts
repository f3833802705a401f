/**
 * `spanledger/register`: zero-code setup.
 *
 *     node --import spanledger/register app.js      (ESM or CommonJS app)
 *     node --require spanledger/register app.cjs    (CommonJS app)
 *
 * Starts the NodeSDK with spanledger's processor first, the sampler wrapped for exact metrics,
 * the OTLP exporters and the instrumentations, all from `OTEL_*` and `SPANLEDGER_*` variables
 * (see `startSpanLedger`). Bad configuration stops the process at startup with a message that
 * names the variable or file and why; anything else that fails leaves the app running untraced.
 * Spans and metrics are flushed when the process ends (SIGTERM, SIGINT or an empty event loop).
 */
import { register as registerLoader } from 'node:module';
import { diag } from '@opentelemetry/api';
import { ConfigError } from './config-file.js';
import {
  disabledByEnv,
  PATCHED_MODULES,
  type StartedSpanLedger,
  startSpanLedger,
} from './node/start.js';

/** `true` in the ESM build, `false` in the CommonJS one (defined by tsup.config.ts). */
declare const __SPANLEDGER_ESM__: boolean;

// ESM applications need the import-in-the-middle loader for instrumentations to patch modules
// that are `import`ed; CommonJS (`--require`, this file's CJS build) is patched without it.
// Only the modules register's instrumentations patch are intercepted (import-in-the-middle's
// `include`): wrapping every module an app imports costs startup time and can break modules
// that do not survive being wrapped. `fetch` is traced through diagnostics channels, unpatched.
if (__SPANLEDGER_ESM__) {
  registerLoader('@opentelemetry/instrumentation/hook.mjs', import.meta.url, {
    data: { include: [...PATCHED_MODULES] },
  });
}

let started: StartedSpanLedger | undefined;
try {
  if (!disabledByEnv(process.env)) started = startSpanLedger();
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
  diag.error('spanledger/register: could not start; the application runs untraced', e);
}

if (started !== undefined) {
  const running = started;
  let exiting = false;
  const flushThen = (after: () => void) => {
    if (exiting) return;
    exiting = true;
    running.shutdown().finally(after);
  };
  // An empty event loop: flush (which keeps the loop alive until done), then let it end.
  process.once('beforeExit', () => flushThen(() => {}));
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      // Someone else handles this signal: flush, and leave exiting to them.
      if (process.listenerCount(signal) > 0) flushThen(() => {});
      else flushThen(() => process.kill(process.pid, signal));
    });
  }
}
