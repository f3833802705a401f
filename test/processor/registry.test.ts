import { describe, expect, it } from 'vitest';
import { TraceRegistry, type TraceState } from '../../src/processor/rollup.js';

describe('TraceRegistry', () => {
  it('keeps at most maxOpenTraces, evicting the oldest first', () => {
    const registry = new TraceRegistry({ maxOpenTraces: 3, now: () => 0 });
    const states = ['a', 'b', 'c', 'd', 'e'].map((id) => registry.create(id));
    expect(registry.size).toBe(3);
    expect(registry.evictions).toBe(2);
    expect(states.map((s) => s.evicted)).toEqual([true, true, false, false, false]);
  });

  it('evicts traces older than traceTtlMs when the next one is created', () => {
    let now = 0;
    const registry = new TraceRegistry({ traceTtlMs: 1000, now: () => now });
    const old = registry.create('old');
    now = 600;
    const young = registry.create('young');
    now = 1000;
    registry.create('new');
    expect([old.evicted, young.evicted]).toEqual([true, false]);
    expect(registry.size).toBe(2);
  });

  it('closing the oldest, a middle or the newest trace keeps the order and the count', () => {
    const registry = new TraceRegistry({ maxOpenTraces: 4, now: () => 0 });
    const a = registry.create('a');
    const b = registry.create('b');
    const c = registry.create('c');
    const d = registry.create('d');
    registry.close(b); // middle
    registry.close(d); // newest
    registry.close(b); // twice: no effect
    expect(registry.size).toBe(2);
    // Two more fit under the cap; a third evicts the oldest open one, a (b was closed).
    registry.create('e');
    registry.create('f');
    expect(registry.evictions).toBe(0);
    registry.create('g');
    expect([a.evicted, c.evicted]).toEqual([true, false]);
    registry.close(a); // evicted before it closed: nothing to remove
    expect(registry.size).toBe(4);
    expect([a, b, c, d].map((s) => s.closed)).toEqual([true, true, false, true]);
  });

  it('stays consistent through a million create/close cycles (one root per request)', () => {
    const registry = new TraceRegistry({ maxOpenTraces: 10, now: () => 0 });
    const open: TraceState[] = [];
    for (let i = 0; i < 1_000_000; i++) {
      open.push(registry.create(String(i)));
      const done = open.length > 5 ? open.shift() : undefined;
      if (done !== undefined) registry.close(done);
    }
    expect(registry.size).toBe(5);
    expect(registry.evictions).toBe(0);
  });
});
