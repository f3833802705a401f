import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalArguments,
  RepeatCounter,
  toolCallFingerprint,
} from '../../src/budgets/fingerprint.js';

describe('canonicalArguments', () => {
  it('sorts keys at every level and drops whitespace', () => {
    expect(canonicalArguments({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x y' } })).toBe(
      '{"a":{"c":"x y","d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('parses JSON strings, so key order and whitespace in the text do not matter', () => {
    const a = canonicalArguments('{"query": "weather in Paris", "units": "metric"}');
    const b = canonicalArguments('{\n  "units":"metric",\n  "query":"weather in Paris"\n}');
    const c = canonicalArguments({ units: 'metric', query: 'weather in Paris' });
    expect(a).toBe('{"query":"weather in Paris","units":"metric"}');
    expect(b).toBe(a);
    expect(c).toBe(a);
    // Whitespace inside string values is data.
    expect(canonicalArguments('{"query":"weather  in Paris"}')).not.toBe(
      canonicalArguments('{"query":"weather in Paris"}'),
    );
  });

  it('keeps non-JSON text as it is; array order matters', () => {
    expect(canonicalArguments('ls -la /tmp')).toBe('"ls -la /tmp"');
    expect(canonicalArguments('ls -la  /tmp')).not.toBe(canonicalArguments('ls -la /tmp'));
    expect(canonicalArguments([1, 2])).not.toBe(canonicalArguments([2, 1]));
  });

  it('handles values JSON cannot, without throwing', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(canonicalArguments(cyclic)).toBe('{"a":1,"self":"[circular]"}');
    expect(canonicalArguments({ n: 10n, u: undefined, f: () => 1 })).toBe('{"n":"10n"}');
    expect(canonicalArguments({ x: Number.NaN, y: Infinity, z: null })).toBe(
      '{"x":"NaN","y":"Infinity","z":null}',
    );
    expect(canonicalArguments({ at: new Date('2026-11-01T00:00:00Z') })).toBe(
      '{"at":"2026-11-01T00:00:00.000Z"}',
    );
    expect(
      canonicalArguments(
        new Map([
          ['b', 1],
          ['a', 2],
        ]),
      ),
    ).toBe('{"a":2,"b":1}');
    expect(canonicalArguments(undefined)).toBe('null');
    let deep: unknown = 'leaf';
    for (let i = 0; i < 10_000; i++) deep = [deep];
    expect(canonicalArguments(deep)).toContain('"[deep]"');
  });

  it('a repeated (non-cyclic) shared object is not mistaken for a cycle', () => {
    const shared = { k: 1 };
    expect(canonicalArguments({ a: shared, b: shared })).toBe('{"a":{"k":1},"b":{"k":1}}');
  });
});

describe('toolCallFingerprint', () => {
  it('is 16 hex digits of SHA-256 over the JSON tool name, a newline and the canonical arguments', () => {
    const fp = toolCallFingerprint('search', '{"q":"x"}');
    const expected = createHash('sha256').update('"search"\n{"q":"x"}').digest('hex').slice(0, 16);
    expect(fp).toBe(expected);
    expect(fp).toMatch(/^[0-9a-f]{16}$/);
  });

  it('identical calls agree whatever the key order or whitespace; different calls differ', () => {
    const a = toolCallFingerprint('get_weather', '{"city":"Paris","units":"metric"}');
    expect(toolCallFingerprint('get_weather', '{ "units": "metric", "city": "Paris" }')).toBe(a);
    expect(toolCallFingerprint('get_weather', { units: 'metric', city: 'Paris' })).toBe(a);
    expect(toolCallFingerprint('get_weather', '{"city":"Lyon","units":"metric"}')).not.toBe(a);
    expect(toolCallFingerprint('get_forecast', '{"city":"Paris","units":"metric"}')).not.toBe(a);
    // The name and the arguments cannot be shifted into each other.
    expect(toolCallFingerprint('a', '"b"')).not.toBe(toolCallFingerprint('a"', 'b'));
  });
});

describe('RepeatCounter', () => {
  it('counts identical calls: the fourth identical call reads 4', () => {
    const c = new RepeatCounter();
    const fp = toolCallFingerprint('search', { q: 'same' });
    expect([1, 2, 3, 4].map(() => c.record(fp))).toEqual([1, 2, 3, 4]);
    expect(c.record(toolCallFingerprint('search', { q: 'other' }))).toBe(1);
    expect(c.count(fp)).toBe(4);
    expect(c.size).toBe(2);
  });

  it('is capped per trace; the least recently seen fingerprint is forgotten first', () => {
    const c = new RepeatCounter({ maxDistinct: 1000 });
    c.record('loop');
    for (let i = 0; i < 5000; i++) {
      c.record(`call-${i}`);
      // The loop keeps coming back: it is never the least recently seen.
      if (i % 100 === 0) c.record('loop');
    }
    expect(c.size).toBe(1000);
    expect(c.evictions).toBe(5001 - 1000);
    expect(c.count('loop')).toBe(51);
    expect(c.count('call-0')).toBe(0); // forgotten
    expect(c.count('call-4999')).toBe(1);
    expect(c.record('call-0')).toBe(1); // starts again
  });

  it('validates maxDistinct', () => {
    expect(() => new RepeatCounter({ maxDistinct: 0 })).toThrow(RangeError);
  });
});
