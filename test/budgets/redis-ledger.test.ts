/** RedisLedger's options, checked at construction before any connection (the ledger itself is
 * tested against a real redis-server in test/integration/redis-ledger*.test.ts). */
import { describe, expect, it } from 'vitest';
import { RedisLedger } from '../../src/index.js';

describe('new RedisLedger(options)', () => {
  it.each([
    [{ timeoutMs: 0 }, 'timeoutMs: must be a positive number of milliseconds, got 0'],
    [{ url: 'localhost:6379' }, 'url: must be a redis:// or rediss:// URL, got "localhost:6379"'],
    [{ keyPrefix: 'a{b}' }, 'keyPrefix: must be a string without braces, got "a{b}"'],
    [{ failure: 'maybe' }, "failure: must be 'open' or 'closed', got \"maybe\""],
    [
      { timeout: 50 },
      'timeout: unknown key (known: url, client, cluster, keyPrefix, timeoutMs, failure, now)',
    ],
    [
      { cluster: { rootNodes: [] } },
      'cluster: must be { rootNodes: [{ url: "redis://host:port" }, ...] }, got object',
    ],
    [
      { cluster: ['redis://10.0.0.1:6379'] },
      'cluster: must be { rootNodes: [{ url: "redis://host:port" }, ...] }, got an array',
    ],
    [
      { cluster: { rootNodes: [{ url: 'http://10.0.0.1:6379' }] } },
      'cluster: must be { rootNodes: [{ url: "redis://host:port" }, ...] }; 10.0.0.1:6379 is not a redis:// or rediss:// URL, got object',
    ],
    [
      {
        cluster: {
          rootNodes: [{ url: 'rediss://10.0.0.1:6379' }, { url: 'redis://10.0.0.2:6379' }],
        },
      },
      'cluster: every root node must have the same scheme and credentials (they are used for every node), got object',
    ],
    [
      { cluster: { rootNodes: [{ url: 'redis://10.0.0.1:6379/1' }] } },
      'cluster: a Redis Cluster has database 0 only, got object',
    ],
    [
      { url: 'redis://10.0.0.1:6379', cluster: { rootNodes: [{ url: 'redis://10.0.0.2:6379' }] } },
      'cluster: give cluster, url or client, not several',
    ],
  ])('%o: one TypeError line naming the option', (options, why) => {
    expect(() => new RedisLedger(options as never)).toThrow(
      new TypeError(`spanledger: new RedisLedger: invalid options: ${why}`),
    );
  });
});
