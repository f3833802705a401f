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
      'timeout: unknown key (known: url, client, keyPrefix, timeoutMs, failure, now)',
    ],
  ])('%o: one TypeError line naming the option', (options, why) => {
    expect(() => new RedisLedger(options as never)).toThrow(
      new TypeError(`spanledger: new RedisLedger: invalid options: ${why}`),
    );
  });
});
