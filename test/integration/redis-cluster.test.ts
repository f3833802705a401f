/**
 * RedisLedger against a real Redis Cluster on loopback (test/support/redis-cluster.ts: three
 * masters, three replicas, Debian's redis-server): the BudgetLedger contract, routing of each
 * budget to its slot's master, the configuration from the environment, a cluster client passed
 * in, and four processes sharing one budget while the master of its slot crashes (SIGKILL) and
 * its replica takes over (docs/budgets.md, "Redis Cluster").
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCRIPTS } from '../../src/budgets/redis/scripts.js';
import { RedisLedger } from '../../src/budgets/redis-ledger.js';
import type { BudgetLedger, WindowRef } from '../../src/budgets/types.js';
import { ledgerOptionsFromEnv } from '../../src/node/env.js';
import { ledgerContract } from '../budgets/ledger-contract.js';
import { startTestCluster, type TestCluster } from '../support/redis-cluster.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const DAY = 86_400_000;
const SHAS = Object.values(SCRIPTS).map((s) => s.sha);

let cluster: TestCluster | undefined;
const ledgers: BudgetLedger[] = [];

beforeAll(async () => {
  cluster = await startTestCluster();
}, 120_000);

afterAll(async () => {
  for (const l of ledgers) await l.close();
  await cluster?.stop();
});

/** A ledger on the cluster, closed after the file. */
function clusterLedger(options: ConstructorParameters<typeof RedisLedger>[0] = {}): RedisLedger {
  const l = new RedisLedger({
    cluster: { rootNodes: [{ url: cluster?.urls[0] as string }] },
    timeoutMs: 2_000,
    failure: 'closed',
    ...options,
  });
  ledgers.push(l);
  return l;
}

const day = (key: string): WindowRef => ({ writeKey: key, readKeys: [key], ttlMs: DAY });

/**
 * The ledger with every key it is given put behind the hash tag `{tag}`: the contract suite's
 * keys are bare names ('r:1', 'r:2', ...), while real window keys carry their budget scope's tag
 * (budgets/window.ts), which is what keeps the keys of one call in one slot.
 */
function tagged(ledger: BudgetLedger, tag: string): BudgetLedger {
  const t = (k: string) => `{${tag}}:${k}`;
  const map = (a: unknown): unknown => {
    if (Array.isArray(a)) return a.map((k) => (typeof k === 'string' ? t(k) : k));
    if (typeof a !== 'object' || a === null) return a;
    const o = { ...(a as Record<string, unknown>) };
    if (typeof o.key === 'string') o.key = t(o.key);
    if (typeof o.writeKey === 'string') o.writeKey = t(o.writeKey);
    if (Array.isArray(o.readKeys)) o.readKeys = map(o.readKeys);
    return o;
  };
  return new Proxy(ledger, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => v.apply(target, args.map(map));
    },
  });
}

ledgerContract('RedisLedger on a Redis Cluster', async () => {
  if (!cluster) return undefined;
  const ledger = clusterLedger({ keyPrefix: `contract:${randomUUID()}:` });
  if (!(await ledger.ready(10_000))) throw new Error('the cluster did not answer');
  return {
    ledger: tagged(ledger, randomUUID()),
    elapse: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
});

/** A hash tag per master: budget scopes whose keys live on three different nodes. */
async function tagsOnEveryMaster(c: TestCluster): Promise<Map<number, string>> {
  const byMaster = new Map<number, string>();
  for (let i = 0; byMaster.size < 3 && i < 100; i++) {
    const tag = `team-${i}:_`;
    const master = await c.masterOf(await c.keySlot(`{${tag}}`));
    if (!byMaster.has(master.port)) byMaster.set(master.port, tag);
  }
  return byMaster;
}

describe('RedisLedger on a Redis Cluster', () => {
  it('sends each budget to the master of its slot and loads the scripts on every master', async (ctx) => {
    if (!cluster) return ctx.skip();
    const c = cluster;
    // Seeded with a replica only: the ledger discovers the masters.
    const replica = (await c.replicasOf(await c.masterOf(0)))[0];
    const l = clusterLedger({ cluster: { rootNodes: [{ url: replica?.url as string }] } });
    const tags = await tagsOnEveryMaster(c);
    expect(tags.size).toBe(3);
    for (const [port, tag] of tags) {
      const key = `spanledger:b:{${tag}}:day:2026-11-30@UTC`;
      expect((await l.reserve(day(key), 0.5, 1, true)).ok).toBe(true);
      expect(await l.settle({ key, ttlMs: DAY }, 0.5, { key, ttlMs: DAY }, 0.375)).toEqual({
        spentUsd: 0.375,
        reservedUsd: 0,
      });
      // On that master, and nowhere else.
      const master = c.nodes.find((n) => n.port === port);
      expect(await master?.raw.hmGet(key, ['spent', 'reserved'])).toEqual(['0.375', '0']);
      for (const other of c.nodes.filter((n) => n.port !== port)) {
        await expect(other.raw.sendCommand(['EXISTS', key])).rejects.toThrow(/^MOVED /);
      }
    }
    const stats = l.stats();
    // One SCRIPT LOAD per script, each sent to every master (a node's script cache is its own).
    expect(stats.scriptLoads).toBe(SHAS.length);
    expect(stats.scriptMisses).toBe(0);
    expect(stats.redisError + stats.redisUnavailable + stats.redisTimeout).toBe(0);
    for (const [port] of tags) {
      const node = c.nodes.find((n) => n.port === port);
      const loaded = await node?.raw.sendCommand(['SCRIPT', 'EXISTS', ...SHAS]);
      expect(loaded).toEqual(SHAS.map(() => 1));
    }
  });
});
