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
 * Spans and metrics are flushed, and the ledger shut down, when the process ends: when its event
 * loop empties, or on SIGTERM/SIGINT when the app has no handler of its own for the signal (an
 * app that handles it drains with a working ledger). See docs/setup.md.
 */
import { register as registerLoader } from 'node:module';
import { diag } from '@opentelemetry/api';
import { ConfigError } from './config-file.js';
import {
  disabledByEnv,
  type FlushOutcome,
  PATCHED_MODULES,
  type StartedSpanLedger,
  shutdownForExit,
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
  const flushThen = (after: (outcome: FlushOutcome) => void) => {
    if (exiting) return;
    exiting = true;
    void shutdownForExit(running).then(after);
  };
  // The event loop is empty: the app is done (after draining, when it handled a signal itself).
  // Flush after the app's own 'beforeExit' listeners (they run in this same emit), then let the
  // process end. A listener that started more work (an async one awaiting a timer or a socket)
  // keeps the loop alive: the ledger keeps answering, and the flush waits for the loop to empty
  // again. A flush that timed out must not hold the exit for the exporters' retries.
  const onBeforeExit = () => {
    // This listener was added before the app's: what keeps the loop alive now is not theirs.
    const before = process.getActiveResourcesInfo();
    setImmediate(() => {
      if (startedMoreWork(before, process.getActiveResourcesInfo())) {
        process.prependOnceListener('beforeExit', onBeforeExit);
        return;
      }
      flushThen((outcome) => {
        if (outcome === 'timed_out') process.exit();
      });
    });
  };
  process.prependOnceListener('beforeExit', onBeforeExit);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      // The app handles this signal itself: it drains and ends when it chooses, and the ledger
      // keeps answering meanwhile. The flush waits for its loop to empty ('beforeExit').
      if (process.listenerCount(signal) > 0) return;
      // No one else: the default action would have ended the process. Flush, then re-raise.
      flushThen(() => process.kill(process.pid, signal));
    });
  }
}

/** Whether the app's 'beforeExit' listeners started work that keeps the loop alive (a timer, a
 * socket): some kind of resource is more numerous than before them. spanledger's own timers and
 * sockets are unref'd, and a handle that stays open (a piped stdout) is in both lists. */
function startedMoreWork(before: string[], after: string[]): boolean {
  const counts = new Map<string, number>();
  for (const r of before) counts.set(r, (counts.get(r) ?? 0) + 1);
  for (const r of after) {
    const left = (counts.get(r) ?? 0) - 1;
    if (left < 0) return true;
    counts.set(r, left);
  }
  return false;
}
