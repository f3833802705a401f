/**
 * The child-process apps of test/fixtures/apps, run as users run them: the built package
 * (`dist/`), NodeSDK set up in the app, the real `openai` client against the mock provider.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './built.js';

/** The apps' directory. */
export const APPS = join(ROOT, 'test/fixtures/apps');

const run = promisify(execFile);

/** A span as the apps print it. */
export interface ExportedSpan {
  name: string;
  scope: string;
  /** `SpanStatusCode`: 0 unset, 1 ok, 2 error. */
  status: number;
  attributes: Record<string, unknown>;
}

export interface OpenAIAppOptions {
  /** `openai-app.cjs` or `openai-app.mjs`. */
  file: string;
  /** The mock provider's OpenAI base URL. */
  baseURL: string;
  /** INSTRUMENTATIONS: `ours`, `ours,contrib` or `contrib,ours`. */
  instrumentations: string;
  /** OPENAI_CALLS (the app's default: `chat,stream`). */
  calls?: string;
  /** The directory of the `openai` package to load instead of the project's. */
  openaiModule?: string;
  /** The node binary (default: this one). */
  node?: string;
  /** Register the ESM loader hook (for `.mjs`; default true). */
  hook?: boolean;
}

/** Runs an OpenAI app; its GenAI spans (those with `gen_ai.operation.name`) and its stderr. */
export async function runOpenAIApp(
  o: OpenAIAppOptions,
): Promise<{ spans: ExportedSpan[]; stderr: string }> {
  const esm = o.file.endsWith('.mjs');
  const args = [o.file];
  // Redirects the app's `import 'openai'` (CommonJS apps require OPENAI_MODULE by path).
  if (esm && o.openaiModule !== undefined) args.unshift('--import', './openai-module-hook.mjs');
  if (esm && (o.hook ?? true)) args.unshift('--import', './register-hook.mjs');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OPENAI_BASE_URL: o.baseURL,
    INSTRUMENTATIONS: o.instrumentations,
    OTEL_TRACES_EXPORTER: 'none',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
  };
  if (o.calls !== undefined) env.OPENAI_CALLS = o.calls;
  if (o.openaiModule !== undefined) env.OPENAI_MODULE = o.openaiModule;
  const { stdout, stderr } = await run(o.node ?? process.execPath, args, { cwd: APPS, env });
  const spans = (JSON.parse(stdout) as ExportedSpan[]).filter(
    (s) => s.attributes['gen_ai.operation.name'] !== undefined,
  );
  return { spans, stderr };
}

/** How a child process ended, with everything it printed. */
export interface ProcessRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** When it closed (ms since epoch). */
  closedMs: number;
}

/** Options of {@link runProcess}. */
export interface RunProcessOptions {
  cwd?: string;
  /** The whole environment of the child (nothing is inherited unless given). */
  env: NodeJS.ProcessEnv;
  /** Killed after this long, ms. */
  timeoutMs?: number;
  /** Sees the stdout so far after each chunk (e.g. to send a signal once the app is ready). */
  onStdout?: (stdout: string, child: ChildProcess) => void;
}

/** Runs a command to its end, collecting stdout and stderr; rejects only if it cannot start. */
export function runProcess(
  file: string,
  args: readonly string[],
  o: RunProcessOptions,
): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: o.cwd ?? ROOT,
      env: o.env,
      ...(o.timeoutMs !== undefined ? { timeout: o.timeoutMs } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      o.onStdout?.(stdout, child);
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout, stderr, closedMs: Date.now() }),
    );
  });
}
