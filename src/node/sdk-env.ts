/**
 * The NodeSDK's own readers of the `OTEL_*` variables for the sampler and the span exporters.
 * `startSpanLedger` passes its own sampler (wrapped) and span processors (spanledger's first), and
 * a NodeSDK given those reads neither variable itself; these helpers read them exactly as it
 * would. Neither SDK line exports them, so they are loaded from the installed `sdk-node`'s own
 * files, next to its entry point (2.x: `build/src/*.js`, 3.x: `dist/*.mjs` or `dist/*.cjs`), which
 * the peer range pins (docs/setup.md, "Two OpenTelemetry lines").
 *
 * They come from the same build of sdk-node the app's NodeSDK was loaded from: in an ES module
 * the `.mjs` siblings of the `import` entry (loaded with `require`, which Node >= 22.12 does for
 * ES modules; 3.x needs 22.15), in CommonJS the `.cjs` ones. The other build would load a second
 * copy of sdk-node's whole dependency graph (every exporter, gRPC, protobuf): measured at about
 * +0.6 s of startup on Node 24 (docs/performance.md).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import type { Sampler, SpanProcessor } from '@opentelemetry/sdk-trace';

interface SdkEnvHelpers {
  createSamplerFromEnv(): Sampler | undefined;
  getSpanProcessorsFromEnv(selfObsMeterProvider?: unknown): SpanProcessor[];
}

let helpers: SdkEnvHelpers | undefined;

// Which build of spanledger this is (tsup defines it; absent when the sources run as ES modules
// under a test runner).
declare const __SPANLEDGER_ESM__: boolean | undefined;
const ESM = typeof __SPANLEDGER_ESM__ === 'undefined' || __SPANLEDGER_ESM__;

/** The file of sdk-node that start.ts's own `import` of it loaded: 3.x ships both builds side by
 * side (`dist/index.cjs`, `dist/index.mjs`); 2.x has one (CommonJS) entry for both. */
function entryFile(require: NodeJS.Require): string {
  const cjs = require.resolve('@opentelemetry/sdk-node');
  const esm = cjs.replace(/\.cjs$/, '.mjs');
  return ESM && esm !== cjs && existsSync(esm) ? esm : cjs;
}

function load(): SdkEnvHelpers {
  if (helpers !== undefined) return helpers;
  const require = createRequire(import.meta.url);
  const main = entryFile(require);
  const sibling = (name: string) => require(join(dirname(main), `${name}${extname(main)}`));
  const fromEnv = sibling('create-from-env') as Pick<SdkEnvHelpers, 'createSamplerFromEnv'>;
  const utils = sibling('utils') as Pick<SdkEnvHelpers, 'getSpanProcessorsFromEnv'>;
  if (
    typeof fromEnv.createSamplerFromEnv !== 'function' ||
    typeof utils.getSpanProcessorsFromEnv !== 'function'
  ) {
    throw new Error(
      `spanledger: @opentelemetry/sdk-node at ${dirname(main)} has no createSamplerFromEnv/getSpanProcessorsFromEnv; install a release in spanledger's peer range (^0.223.0 || ^0.301.0)`,
    );
  }
  helpers = {
    createSamplerFromEnv: fromEnv.createSamplerFromEnv,
    getSpanProcessorsFromEnv: utils.getSpanProcessorsFromEnv,
  };
  return helpers;
}

/** The sampler `OTEL_TRACES_SAMPLER(_ARG)` names, or undefined when it names none. */
export function samplerFromEnv(): Sampler | undefined {
  return load().createSamplerFromEnv();
}

/** The span processors (batching exporters) `OTEL_TRACES_EXPORTER` names, as NodeSDK builds them. */
export function spanProcessorsFromEnv(): SpanProcessor[] {
  return load().getSpanProcessorsFromEnv(undefined);
}
