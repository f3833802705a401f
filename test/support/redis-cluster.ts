/**
 * A real Redis Cluster on loopback for the integration tests: six `redis-server` processes
 * (three masters, three replicas) from Debian's package, found or installed by
 * `scripts/redis.mjs` like the single server's (under CI=true a missing binary is a failure),
 * joined with `redis-cli --cluster create --cluster-replicas 1`.
 *
 * Cluster mode needs ports known in advance (`--port 0` cannot be announced to the other nodes),
 * so each node gets a free client port and a free cluster-bus port (`--cluster-port`, rather than
 * the default port + 10000, which nobody checked was free). The node timeout is short so that a
 * crashed master is replaced within about a second.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createClient } from 'redis';
import { ADDRESS_IN_USE, onFreePorts } from './ports.js';
import { isCI } from './tools.js';

interface RedisScript {
  ensureRedisServer(): string | undefined;
  freePort(): Promise<number>;
}

// A URL specifier keeps TypeScript from looking for declarations of the .mjs module.
const script = (await import(
  new URL('../../scripts/redis.mjs', import.meta.url).href
)) as RedisScript;

/** A raw node-redis client to one node. */
type NodeClient = ReturnType<typeof createClient>;

/** One node of the cluster. */
export interface ClusterNode {
  readonly port: number;
  readonly url: string;
  readonly pid: number | undefined;
  /** A raw client to this node only (no redirections), for assertions and admin commands. */
  readonly raw: NodeClient;
  /** SIGKILL: a crash, as clients and the other nodes see it. */
  kill(): Promise<void>;
  /** SIGSTOP (`true`) or SIGCONT (`false`): a node that hangs with its connections open. */
  pause(paused: boolean): void;
  /** Whether the process is still running. */
  alive(): boolean;
}

/** The started cluster. */
export interface TestCluster {
  readonly nodes: readonly ClusterNode[];
  /** One `redis://` URL per node (seeds for a cluster client). */
  readonly urls: readonly string[];
  /** `CLUSTER KEYSLOT key`. */
  keySlot(key: string): Promise<number>;
  /** The live node that is master of `slot` now (from `CLUSTER SHARDS` of a live node). */
  masterOf(slot: number): Promise<ClusterNode>;
  /** The replicas of `master` that are not failed (by `CLUSTER SHARDS`; Redis 7.0 reports a
   * replica as `loading` until its replication offset moves, so that is not a failure). */
  replicasOf(master: ClusterNode): Promise<ClusterNode[]>;
  /** Waits until every live node reports `cluster_state:ok` and names the same live node as
   * master of `slot` (after a master's crash: until its replica has taken over). */
  waitHealthy(timeoutMs?: number, slot?: number): Promise<void>;
  /** Kills every node and removes the data dirs. Idempotent. */
  stop(): Promise<void>;
}

const NODE_TIMEOUT_MS = 500;

/** Polls `check` every `everyMs` until it returns true; throws after `timeoutMs`. */
async function until(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ''}`);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Runs redis-cli; resolves with its output, rejects on a non-zero exit. */
function redisCli(binary: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`redis-cli ${args[0]} exited ${code}:\n${out}`)),
    );
  });
}

/** The `CLUSTER SHARDS` reply, reduced to what the tests need. */
interface Shard {
  slots: Array<[number, number]>;
  nodes: Array<{ port: number; role: string; health: string }>;
}

function parseShards(reply: unknown): Shard[] {
  // RESP2: each shard is a flat [key, value, ...] array; nodes likewise.
  const pairs = (a: unknown): Map<string, unknown> => {
    const m = new Map<string, unknown>();
    const list = a as unknown[];
    for (let i = 0; i + 1 < list.length; i += 2) m.set(String(list[i]), list[i + 1]);
    return m;
  };
  return (reply as unknown[]).map((s) => {
    const shard = pairs(s);
    const flat = (shard.get('slots') as unknown[]).map(Number);
    const slots: Array<[number, number]> = [];
    for (let i = 0; i + 1 < flat.length; i += 2)
      slots.push([flat[i] as number, flat[i + 1] as number]);
    const nodes = (shard.get('nodes') as unknown[]).map((n) => {
      const node = pairs(n);
      return {
        port: Number(node.get('port')),
        role: String(node.get('role')),
        health: String(node.get('health')),
      };
    });
    return { slots, nodes };
  });
}

/**
 * Starts a six-node cluster (3 masters + 3 replicas) on 127.0.0.1 and waits until it is healthy
 * and every replica has synced with its master. Undefined when redis-server or redis-cli is
 * unavailable (locally only: under CI=true that throws).
 */
export async function startTestCluster(): Promise<TestCluster | undefined> {
  const server = script.ensureRedisServer();
  if (!server) return undefined;
  // Debian's redis-server depends on redis-tools: redis-cli sits next to redis-server.
  const cli = join(dirname(server), 'redis-cli');
  try {
    accessSync(cli, constants.X_OK);
  } catch {
    const message = `redis-cli is not next to ${server} (Debian's redis-tools)`;
    if (isCI) throw new Error(`${message} (CI=true: Redis Cluster tests cannot be skipped)`);
    console.warn(`${message}; Redis Cluster tests are skipped`);
    return undefined;
  }
  // The ports are found free before the nodes bind them, so another process can take one in
  // between: a start that lost a port that way is tried again with new ones.
  return onFreePorts(() => startCluster(server, cli));
}

async function startCluster(server: string, cli: string): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'spanledger-cluster-'));
  const children: ChildProcess[] = [];
  const nodes: ClusterNode[] = [];
  const stoppedPorts = new Set<number>();
  /** Each node's output so far, by port. */
  const logs = new Map<number, () => string>();
  let stopped = false;
  const killAll = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  process.once('exit', killAll);

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const n of nodes) {
      try {
        n.raw.destroy();
      } catch {
        // Closed already (its node was killed).
      }
    }
    killAll();
    await Promise.all(children.map(exited));
    process.removeListener('exit', killAll);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (let i = 0; i < 6; i++) {
      const port = await script.freePort();
      let bus = await script.freePort();
      while (bus === port) bus = await script.freePort();
      const nodeDir = join(dir, String(port));
      mkdirSync(nodeDir);
      const child = spawn(
        server,
        [
          '--port',
          String(port),
          '--cluster-port',
          String(bus),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(nodeDir, 'nodes.conf'),
          '--cluster-node-timeout',
          String(NODE_TIMEOUT_MS),
          // A replica may always take over, however long since it heard from its master.
          '--cluster-replica-validity-factor',
          '0',
          '--appendonly',
          'no',
          '--save',
          '',
          '--dir',
          nodeDir,
          '--daemonize',
          'no',
        ],
        { cwd: nodeDir, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      children.push(child);
      // Its own log (redis-server logs to stdout): another process that took the port may be a
      // Redis that answers PING too.
      let log = '';
      const capture = (c: Buffer) => {
        log = (log + c.toString()).slice(-8192);
      };
      child.stdout?.on('data', capture);
      child.stderr?.on('data', capture);
      logs.set(port, () => log);
      const raw = createClient({
        url: `redis://127.0.0.1:${port}`,
        socket: { reconnectStrategy: false, connectTimeout: 1_000 },
      });
      raw.on('error', () => {});
      nodes.push({
        port,
        url: `redis://127.0.0.1:${port}`,
        get pid() {
          return child.pid;
        },
        raw,
        alive: () => child.exitCode === null && child.signalCode === null,
        async kill() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          await exited(child);
        },
        pause(paused) {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill(paused ? 'SIGSTOP' : 'SIGCONT');
            if (paused) stoppedPorts.add(port);
            else stoppedPorts.delete(port);
          }
        },
      });
    }
    // Each node has logged that it is ready and answers PING before the cluster is created.
    for (const n of nodes) {
      const log = logs.get(n.port) ?? (() => '');
      await until(
        `redis-server on ${n.port}`,
        async () => {
          if (!n.alive()) return true;
          if (!/Ready to accept connections/.test(log())) return false;
          if (!n.raw.isOpen) await n.raw.connect();
          return (await n.raw.ping()) === 'PONG';
        },
        10_000,
      );
      if (!n.alive()) {
        throw Object.assign(new Error(`redis-server on ${n.port} exited:\n${log()}`), {
          addressInUse: ADDRESS_IN_USE.test(log()),
        });
      }
    }
    await redisCli(cli, [
      '--cluster',
      'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ]);
  } catch (err) {
    await stop();
    throw err;
  }

  // A stopped node would never answer the helpers' own commands.
  const live = () => nodes.filter((n) => n.alive() && !stoppedPorts.has(n.port));
  const shards = async (): Promise<Shard[]> => {
    for (const n of live()) {
      try {
        return parseShards(await n.raw.sendCommand(['CLUSTER', 'SHARDS']));
      } catch {
        // Ask the next one.
      }
    }
    throw new Error('no live node answered CLUSTER SHARDS');
  };
  const byPort = (port: number): ClusterNode => {
    const n = nodes.find((x) => x.port === port);
    if (!n) throw new Error(`no node on port ${port}`);
    return n;
  };
  const masterPortOf = (all: Shard[], slot: number): number | undefined => {
    const shard = all.find((s) => s.slots.some(([a, b]) => slot >= a && slot <= b));
    return shard?.nodes.find((n) => n.role === 'master' && n.health === 'online')?.port;
  };

  const cluster: TestCluster = {
    nodes,
    urls: nodes.map((n) => n.url),
    async keySlot(key) {
      return Number(await (live()[0] as ClusterNode).raw.sendCommand(['CLUSTER', 'KEYSLOT', key]));
    },
    async masterOf(slot) {
      const port = masterPortOf(await shards(), slot);
      if (port === undefined) throw new Error(`no online master for slot ${slot}`);
      return byPort(port);
    },
    async replicasOf(master) {
      const shard = (await shards()).find((s) => s.nodes.some((n) => n.port === master.port));
      return (shard?.nodes ?? [])
        .filter((n) => n.role === 'replica' && n.health !== 'fail')
        .map((n) => byPort(n.port));
    },
    async waitHealthy(timeoutMs = 20_000, slot = 0) {
      await until(
        'cluster_state:ok on every live node, agreeing on the master of the slot',
        async () => {
          const masters = new Set<number | undefined>();
          for (const n of live()) {
            const info = String(await n.raw.sendCommand(['CLUSTER', 'INFO']));
            if (!info.includes('cluster_state:ok')) return false;
            masters.add(
              masterPortOf(parseShards(await n.raw.sendCommand(['CLUSTER', 'SHARDS'])), slot),
            );
          }
          const [port] = masters;
          // One answer, and a node that is really up (right after a crash the others still
          // call the dead master online, until the node timeout passes).
          return masters.size === 1 && live().some((n) => n.port === port);
        },
        timeoutMs,
      );
    },
    stop,
  };
  try {
    await cluster.waitHealthy();
    // Every replica has synced with its master (else a failover could not take place).
    await until(
      'every replica linked to its master',
      async () => {
        let linked = 0;
        for (const n of nodes) {
          const info = await n.raw.info('replication');
          if (info.includes('role:slave') && info.includes('master_link_status:up')) linked++;
        }
        return linked === 3;
      },
      20_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return cluster;
}
