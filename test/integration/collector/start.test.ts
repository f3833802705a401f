/**
 * The test harness's start of a collector and of Prometheus (scripts/collector.mjs) when a port
 * found free was taken by another process before the child bound it, as happens now and then in
 * a parallel suite: the start fails, says the address was in use, and is never taken for ready
 * because the other process answers the URL; `onFreePorts` (scripts/ports.mjs) then starts it
 * again on new ports.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../support/built.js';
import {
  ensureCollector,
  ensurePrometheus,
  freePort,
  required,
  startCollector,
  startPrometheus,
} from '../../support/collector.js';
import { onFreePorts } from '../../support/ports.js';

let collector: string | undefined;
let prometheus: string | undefined;
let scratch: string;

beforeAll(() => {
  collector = required('the collector', ensureCollector());
  prometheus = required('Prometheus', ensurePrometheus());
  scratch = mkdtempSync(join(tmpdir(), 'spanledger-start-'));
}, 1_800_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A server on `port` that answers 200 to everything, as another test's server would. */
async function squat(port: number): Promise<Server> {
  const server = createServer((_req, res) => res.end('{"status":"Server available"}'));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return server;
}

async function agentWith(taken: 'health' | 'http'): Promise<unknown> {
  const [grpc, http, health, telemetry] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const server = await squat(taken === 'health' ? health : http);
  try {
    const started = await startCollector({
      binary: collector as string,
      configs: [join(ROOT, 'collector-config', 'agent.yaml')],
      healthUrl: `http://127.0.0.1:${health}/`,
      cwd: scratch,
      timeoutMs: 30_000,
      env: {
        SPANLEDGER_AGENT_HEALTH_ENDPOINT: `127.0.0.1:${health}`,
        SPANLEDGER_AGENT_GRPC_ENDPOINT: `127.0.0.1:${grpc}`,
        SPANLEDGER_AGENT_HTTP_ENDPOINT: `127.0.0.1:${http}`,
        SPANLEDGER_AGENT_TELEMETRY_PORT: String(telemetry),
        SPANLEDGER_AGENT_STORAGE_DIR: join(scratch, `storage-${taken}`),
        SPANLEDGER_GATEWAY_ENDPOINT: `127.0.0.1:${grpc}`,
        SPANLEDGER_GATEWAY_INSECURE: 'true',
      },
    });
    await started.stop();
    return undefined;
  } catch (e) {
    return e;
  } finally {
    server.close();
  }
}

describe('starting a collector or Prometheus on a port another process took', () => {
  for (const taken of ['health', 'http'] as const) {
    it(`the agent with its ${taken} port taken fails to start, saying the address was in use`, async (ctx) => {
      if (!collector) return ctx.skip();
      const error = (await agentWith(taken)) as { message: string; addressInUse?: boolean };
      expect(error).toBeInstanceOf(Error);
      expect(error.addressInUse).toBe(true);
      expect(error.message).toMatch(/address already in use/);
    });
  }

  it('Prometheus on a given port that is taken fails to start, saying so', async (ctx) => {
    if (!prometheus) return ctx.skip();
    const port = await freePort();
    const server = await squat(port);
    try {
      const error = await startPrometheus({
        binary: prometheus,
        config: 'global: {}\n',
        port,
      }).then(
        async (p) => {
          await p.stop();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      expect((error as { addressInUse?: boolean }).addressInUse).toBe(true);
    } finally {
      server.close();
    }
  });

  it('a start that lost a port runs again on new ones, three times at most; other errors at once', async () => {
    const lost = () =>
      Object.assign(new Error('bind: address already in use'), { addressInUse: true });
    let calls = 0;
    // Lost twice, then started.
    expect(await onFreePorts(async () => (++calls < 3 ? Promise.reject(lost()) : 'started'))).toBe(
      'started',
    );
    expect(calls).toBe(3);
    calls = 0;
    await expect(
      onFreePorts(async () => {
        calls++;
        throw lost();
      }),
    ).rejects.toThrow(/in use/);
    expect(calls).toBe(3);
    calls = 0;
    await expect(
      onFreePorts(async () => {
        calls++;
        throw new Error('bad config');
      }),
    ).rejects.toThrow('bad config');
    expect(calls).toBe(1);
  });
});
