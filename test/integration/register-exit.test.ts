import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ProcessRun, type RunProcessOptions, runProcess } from '../support/apps.js';
import { ensureBuilt, ROOT } from '../support/built.js';
import { type OtlpReceiver, startOtlpReceiver } from '../support/otlp-receiver.js';

/** Run a fixture app under `node --import spanledger/register`; `onStdout` sees each chunk. */
function runApp(
  app: string,
  env: Record<string, string>,
  onStdout?: RunProcessOptions['onStdout'],
): Promise<ProcessRun> {
  return runProcess(
    process.execPath,
    ['--import', 'spanledger/register', join('test', 'fixtures', 'apps', app)],
    {
      env: {
        PATH: process.env.PATH,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_LOGS_EXPORTER: 'none',
        OTEL_SERVICE_NAME: 'register-exit-test',
        ...env,
      },
      ...(onStdout ? { onStdout } : {}),
    },
  );
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

let receiver: OtlpReceiver | undefined;
beforeAll(() => ensureBuilt());
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

const CALL_USD = (1000 * 2.5 + 500 * 10) / 1e6; // $0.0075

describe('an app that drains in its own handler keeps a working ledger', () => {
  it.each([
    ['after SIGTERM, in its own SIGTERM handler', 'SIGTERM'],
    ['in its own async beforeExit listener', 'beforeExit'],
  ])('guarded calls %s are enforced, and their spend is exported at exit', async (_, drainOn) => {
    receiver = await startOtlpReceiver();
    const dir = mkdtempSync(join(tmpdir(), 'spanledger-drain-'));
    const budgets = join(dir, 'budgets.yaml');
    // Four calls of $0.0075 fit in $0.035; the fifth's estimate does not.
    writeFileSync(
      budgets,
      [
        'budgets:',
        '  - name: drain-daily',
        '    scope: { team: drain }',
        '    window: { calendar: day, timeZone: UTC }',
        '    limitUsd: 0.035',
        '    action: block',
        '',
      ].join('\n'),
    );
    let signalled = false;
    const run = await runApp(
      'drain-app.mjs',
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        SPANLEDGER_BUDGETS_FILE: budgets,
        CALLS: '10',
        DRAIN_ON: drainOn,
      },
      (out, child) => {
        if (drainOn === 'SIGTERM' && !signalled && out.includes('ready\n')) {
          signalled = true;
          child.kill('SIGTERM');
        }
      },
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout.trim().split('\n').pop() as string);
    expect(result.errors).toEqual([]);
    expect(result.registered).toEqual(Array(10).fill(true));
    expect(result.allowed).toBe(4);
    expect(result.blocked).toBe(6);
    expect(result.decisions.slice(0, 4)).toEqual(['allow', 'allow', 'allow', 'allow']);
    expect(result.decisions.slice(4)).toEqual(Array(6).fill('block'));
    // The spend of the drain reached the collector: spans and the cost counter.
    const chats = receiver.spans.filter((s) => s.name === 'chat gpt-4o');
    expect(chats).toHaveLength(4);
    expect(receiver.total('spanledger.cost.usd')).toBeCloseTo(4 * CALL_USD, 12);
  });
});

describe('an unreachable OTLP endpoint at exit', () => {
  it('is said once at warn level with no OTEL_LOG_LEVEL, and the exit wait is bounded', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const run = await runApp('timed-app.mjs', { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, RUNS: '3' });
    expect(run.code).toBe(0);
    const workEndedMs = Number(run.stdout.trim());
    // The default bound is 5 s (the exporters alone would retry for about 10 s).
    const exitWaitMs = run.closedMs - workEndedMs;
    expect(exitWaitMs).toBeLessThan(7_000);
    const said = run.stderr
      .split('\n')
      .filter((l) => l.startsWith('spanledger: flushing telemetry ('));
    expect(said).toHaveLength(1);
    // Every signal is named with where it goes, so the reader knows which export hung.
    expect(said[0]).toContain(`traces: otlp ${endpoint}; metrics: otlp ${endpoint}; logs: none`);
    expect(said[0]).toMatch(/ (failed|timed out) after \d+ ms/);
  });
});

describe('important trouble is said at warn level by default', () => {
  it('a Redis ledger unreachable at startup, and nothing misleading from the SDK', async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`;
    const run = await runApp('timed-app.mjs', {
      OTEL_TRACES_EXPORTER: 'none', // metrics only: spanledger still prices every span
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_RESOURCE_ATTRIBUTES: 'spanledger.team=payments',
      SPANLEDGER_REDIS_URL: url,
      SPANLEDGER_BUDGETS_FILE: join(ROOT, 'test', 'fixtures', 'budgets', 'team-daily.yaml'),
      RUNS: '2',
    });
    expect(run.code).toBe(0);
    const lines = run.stderr.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.some((l) => /redis/i.test(l))).toBe(true);
    // Every line is spanledger's own, once per kind (no "SDK will not be initialized").
    for (const l of lines) expect(l).toMatch(/^spanledger: /);
    expect(new Set(lines).size).toBe(lines.length);
  });
});
