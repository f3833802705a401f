import { describe, expect, it } from 'vitest';
import type { CalendarWindow } from '../../src/budgets/config.js';
import {
  bucketId,
  calendarWindow,
  DEFAULT_GRACE_MS,
  escapeKeyPart,
  ledgerKey,
  remainingMs,
  rollingBuckets,
  scopeKeyPart,
  WindowRefCache,
  windowRef,
  writeRef,
} from '../../src/budgets/window.js';

const at = (iso: string): number => {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`bad instant ${iso}`);
  return ms;
};
const iso = (ms: number): string => new Date(ms).toISOString();
const HOUR = 3_600_000;
const NY = 'America/New_York';

function span(def: CalendarWindow, instant: string) {
  const s = calendarWindow(def, at(instant));
  return {
    id: s.id,
    start: iso(s.startMs),
    end: iso(s.endMs),
    hours: (s.endMs - s.startMs) / HOUR,
  };
}

describe('calendar month windows', () => {
  const month: CalendarWindow = { calendar: 'month', timeZone: NY };

  it('rolls over at local midnight on the 1st in America/New_York (EST)', () => {
    const before = span(month, '2026-11-30T23:59:59-05:00');
    const after = span(month, '2026-12-01T00:00:00-05:00');
    expect(before).toEqual({
      id: 'month:2026-11@America/New_York',
      // November starts in EDT (UTC-4) and ends in EST (UTC-5): 30 days and one hour.
      start: '2026-11-01T04:00:00.000Z',
      end: '2026-12-01T05:00:00.000Z',
      hours: 721,
    });
    expect(after).toEqual({
      id: 'month:2026-12@America/New_York',
      start: '2026-12-01T05:00:00.000Z',
      end: '2027-01-01T05:00:00.000Z',
      hours: 744,
    });
    // The last millisecond of November is still November.
    expect(calendarWindow(month, at('2026-12-01T04:59:59.999Z')).id).toBe(before.id);
  });

  it('is UTC-agnostic: 2026-12-01T03:00Z is still November in New York', () => {
    expect(span(month, '2026-12-01T03:00:00Z').id).toBe('month:2026-11@America/New_York');
  });

  it('March 2026 (DST starts on the 8th) starts at 05:00Z and ends at 04:00Z', () => {
    expect(span(month, '2026-03-15T12:00:00Z')).toEqual({
      id: 'month:2026-03@America/New_York',
      start: '2026-03-01T05:00:00.000Z',
      end: '2026-04-01T04:00:00.000Z',
      hours: 31 * 24 - 1,
    });
    expect(span(month, '2026-04-01T03:59:59Z').id).toBe('month:2026-03@America/New_York');
    expect(span(month, '2026-04-01T04:00:00Z').id).toBe('month:2026-04@America/New_York');
  });

  it('remainingMs counts to the end of the window', () => {
    expect(remainingMs(month, at('2026-11-30T23:59:59-05:00'))).toBe(1000);
    expect(remainingMs(month, at('2026-12-01T00:00:00-05:00'))).toBe(31 * 24 * HOUR);
  });

  it('other zones: Asia/Kolkata (+05:30), UTC, Australia/Sydney (southern DST)', () => {
    expect(span({ calendar: 'month', timeZone: 'Asia/Kolkata' }, '2026-11-15T00:00:00Z')).toEqual({
      id: 'month:2026-11@Asia/Kolkata',
      start: '2026-10-31T18:30:00.000Z',
      end: '2026-11-30T18:30:00.000Z',
      hours: 720,
    });
    expect(span({ calendar: 'month', timeZone: 'UTC' }, '2026-02-10T00:00:00Z')).toEqual({
      id: 'month:2026-02@UTC',
      start: '2026-02-01T00:00:00.000Z',
      end: '2026-03-01T00:00:00.000Z',
      hours: 28 * 24,
    });
    // Sydney leaves DST (UTC+11 -> UTC+10) on 2026-04-05.
    expect(
      span({ calendar: 'month', timeZone: 'Australia/Sydney' }, '2026-04-10T00:00:00Z'),
    ).toEqual({
      id: 'month:2026-04@Australia/Sydney',
      start: '2026-03-31T13:00:00.000Z',
      end: '2026-04-30T14:00:00.000Z',
      hours: 30 * 24 + 1,
    });
  });
});

describe('calendar day windows across DST', () => {
  const day: CalendarWindow = { calendar: 'day', timeZone: NY };

  it('the spring-forward day (2026-03-08) is 23 hours', () => {
    expect(span(day, '2026-03-08T12:00:00Z')).toEqual({
      id: 'day:2026-03-08@America/New_York',
      start: '2026-03-08T05:00:00.000Z',
      end: '2026-03-09T04:00:00.000Z',
      hours: 23,
    });
  });

  it('the fall-back day (2026-11-01) is 25 hours', () => {
    expect(span(day, '2026-11-01T05:30:00Z')).toEqual({
      id: 'day:2026-11-01@America/New_York',
      start: '2026-11-01T04:00:00.000Z',
      end: '2026-11-02T05:00:00.000Z',
      hours: 25,
    });
    // 01:30 local happens twice (05:30Z in EDT, 06:30Z in EST): same day either way.
    expect(span(day, '2026-11-01T06:30:00Z').id).toBe('day:2026-11-01@America/New_York');
  });

  it('a zone whose midnight does not exist starts the day at the end of the gap', () => {
    // Chile skips from 24:00 to 01:00 on 2026-09-06: the day starts at 01:00 -03 (04:00Z).
    expect(span({ calendar: 'day', timeZone: 'America/Santiago' }, '2026-09-06T12:00:00Z')).toEqual(
      {
        id: 'day:2026-09-06@America/Santiago',
        start: '2026-09-06T04:00:00.000Z',
        end: '2026-09-07T03:00:00.000Z',
        hours: 23,
      },
    );
  });

  it('a zone that falls back to a repeated midnight starts at its first occurrence', () => {
    // Cuba falls back from 01:00 to 00:00 on 2026-11-01.
    expect(span({ calendar: 'day', timeZone: 'America/Havana' }, '2026-11-01T12:00:00Z')).toEqual({
      id: 'day:2026-11-01@America/Havana',
      start: '2026-11-01T04:00:00.000Z',
      end: '2026-11-02T05:00:00.000Z',
      hours: 25,
    });
  });

  it('a skipped calendar day (Samoa, 2011-12-30) leaves no gap between windows', () => {
    const apia: CalendarWindow = { calendar: 'day', timeZone: 'Pacific/Apia' };
    const d29 = calendarWindow(apia, at('2011-12-29T12:00:00Z'));
    const d31 = calendarWindow(apia, at('2011-12-30T12:00:00Z'));
    expect(d29.id).toBe('day:2011-12-29@Pacific/Apia');
    expect(d31.id).toBe('day:2011-12-31@Pacific/Apia');
    expect(d29.endMs).toBe(d31.startMs);
  });

  it('consecutive days tile time with no gap or overlap for a whole year', () => {
    for (const timeZone of [NY, 'Europe/London', 'Australia/Lord_Howe', 'Asia/Kathmandu']) {
      const def: CalendarWindow = { calendar: 'day', timeZone };
      let w = calendarWindow(def, at('2026-01-01T12:00:00Z'));
      for (let i = 0; i < 365; i++) {
        const next = calendarWindow(def, w.endMs);
        expect(next.startMs).toBe(w.endMs);
        expect(next.id).not.toBe(w.id);
        expect(calendarWindow(def, w.endMs - 1).id).toBe(w.id);
        w = next;
      }
    }
  });
});

describe('calendar week windows', () => {
  // Wednesday 2026-11-04, in the week after the fall-back Sunday (2026-11-01).
  const wed = '2026-11-04T12:00:00Z';

  it('start on Monday by default (ISO)', () => {
    expect(span({ calendar: 'week', timeZone: NY }, wed)).toEqual({
      id: 'week:2026-11-02@America/New_York',
      start: '2026-11-02T05:00:00.000Z',
      end: '2026-11-09T05:00:00.000Z',
      hours: 168,
    });
  });

  it('start on Sunday with weekStartsOn: sunday (this one holds the extra DST hour)', () => {
    expect(span({ calendar: 'week', timeZone: NY, weekStartsOn: 'sunday' }, wed)).toEqual({
      id: 'week:2026-11-01@America/New_York',
      start: '2026-11-01T04:00:00.000Z',
      end: '2026-11-08T05:00:00.000Z',
      hours: 169,
    });
  });

  it('roll over at local midnight between Sunday and Monday', () => {
    const mon: CalendarWindow = { calendar: 'week', timeZone: NY, weekStartsOn: 'monday' };
    expect(span(mon, '2026-11-08T23:59:59-05:00').id).toBe('week:2026-11-02@America/New_York');
    expect(span(mon, '2026-11-09T00:00:00-05:00').id).toBe('week:2026-11-09@America/New_York');
    const sun: CalendarWindow = { calendar: 'week', timeZone: NY, weekStartsOn: 'sunday' };
    expect(span(sun, '2026-11-07T23:59:59-05:00').id).toBe('week:2026-11-01@America/New_York');
    expect(span(sun, '2026-11-08T00:00:00-05:00').id).toBe('week:2026-11-08@America/New_York');
  });

  it('cross month and year boundaries', () => {
    // Thursday 2026-01-01: its Monday week started on Monday 2025-12-29.
    expect(span({ calendar: 'week', timeZone: 'UTC' }, '2026-01-01T00:00:00Z')).toEqual({
      id: 'week:2025-12-29@UTC',
      start: '2025-12-29T00:00:00.000Z',
      end: '2026-01-05T00:00:00.000Z',
      hours: 168,
    });
  });
});

describe('calendar quarter and year windows', () => {
  const PARIS = 'Europe/Paris';
  const fiscalQuarter: CalendarWindow = {
    calendar: 'quarter',
    timeZone: PARIS,
    fiscalYearStartMonth: 4,
  };

  it('a quarter of a fiscal year starting in April rolls over at local midnight on 1 July', () => {
    // 2026-07-01T00:00 in Paris is 22:00Z the day before (CEST, UTC+2): not UTC midnight.
    expect(span(fiscalQuarter, '2026-06-30T21:59:59.999Z')).toEqual({
      id: 'quarter:2026-04@Europe/Paris',
      start: '2026-03-31T22:00:00.000Z',
      end: '2026-06-30T22:00:00.000Z',
      hours: 91 * 24,
    });
    expect(span(fiscalQuarter, '2026-06-30T22:00:00Z')).toEqual({
      id: 'quarter:2026-07@Europe/Paris',
      start: '2026-06-30T22:00:00.000Z',
      end: '2026-09-30T22:00:00.000Z',
      hours: 92 * 24,
    });
    // At UTC midnight the new quarter is two hours old.
    expect(span(fiscalQuarter, '2026-07-01T00:00:00Z').id).toBe('quarter:2026-07@Europe/Paris');
  });

  it('quarters across DST: the autumn one holds the extra hour, the winter one loses one', () => {
    // DST ends on 2026-10-25 and starts on 2027-03-28 in Paris.
    expect(span(fiscalQuarter, '2026-11-15T12:00:00Z')).toEqual({
      id: 'quarter:2026-10@Europe/Paris',
      start: '2026-09-30T22:00:00.000Z',
      end: '2026-12-31T23:00:00.000Z',
      hours: 92 * 24 + 1,
    });
    expect(span(fiscalQuarter, '2027-02-01T12:00:00Z')).toEqual({
      id: 'quarter:2027-01@Europe/Paris',
      start: '2026-12-31T23:00:00.000Z',
      end: '2027-03-31T22:00:00.000Z',
      hours: 90 * 24 - 1,
    });
    // The last quarter of the fiscal year ends at local midnight on 1 April, in summer time.
    expect(span(fiscalQuarter, '2027-03-31T21:59:59Z').id).toBe('quarter:2027-01@Europe/Paris');
    expect(span(fiscalQuarter, '2027-03-31T22:00:00Z').id).toBe('quarter:2027-04@Europe/Paris');
  });

  it('calendar quarters by default; a fiscal start late in the year reaches into the last one', () => {
    expect(span({ calendar: 'quarter', timeZone: 'UTC' }, '2026-02-15T00:00:00Z')).toEqual({
      id: 'quarter:2026-01@UTC',
      start: '2026-01-01T00:00:00.000Z',
      end: '2026-04-01T00:00:00.000Z',
      hours: 90 * 24,
    });
    // Fiscal year from November: January 2026 is in the quarter November 2025 - January 2026.
    const nov: CalendarWindow = { calendar: 'quarter', timeZone: 'UTC', fiscalYearStartMonth: 11 };
    expect(span(nov, '2026-01-31T23:59:59Z')).toEqual({
      id: 'quarter:2025-11@UTC',
      start: '2025-11-01T00:00:00.000Z',
      end: '2026-02-01T00:00:00.000Z',
      hours: 92 * 24,
    });
    expect(span(nov, '2026-02-01T00:00:00Z').id).toBe('quarter:2026-02@UTC');
  });

  it('the same quarter keys the same window whatever the fiscal year it belongs to', () => {
    const jan = span({ calendar: 'quarter', timeZone: PARIS }, '2026-08-01T00:00:00Z');
    expect(jan).toEqual(span(fiscalQuarter, '2026-08-01T00:00:00Z'));
  });

  it('a fiscal year from April in Paris: local midnight to local midnight, both in summer time', () => {
    const year: CalendarWindow = { calendar: 'year', timeZone: PARIS, fiscalYearStartMonth: 4 };
    expect(span(year, '2027-01-15T00:00:00Z')).toEqual({
      id: 'year:2026-04@Europe/Paris',
      start: '2026-03-31T22:00:00.000Z',
      end: '2027-03-31T22:00:00.000Z',
      hours: 365 * 24,
    });
    expect(span(year, '2026-03-31T21:59:59.999Z').id).toBe('year:2025-04@Europe/Paris');
  });

  it('a calendar year in New York starts at local midnight on 1 January (EST)', () => {
    expect(span({ calendar: 'year', timeZone: NY }, '2027-01-01T04:59:59Z')).toEqual({
      id: 'year:2026-01@America/New_York',
      start: '2026-01-01T05:00:00.000Z',
      end: '2027-01-01T05:00:00.000Z',
      hours: 365 * 24,
    });
    expect(span({ calendar: 'year', timeZone: NY }, '2027-01-01T05:00:00Z').id).toBe(
      'year:2027-01@America/New_York',
    );
  });

  it('consecutive quarters and years tile time for a decade in several zones', () => {
    for (const timeZone of [PARIS, NY, 'Australia/Sydney', 'America/Santiago']) {
      for (const def of [
        { calendar: 'quarter', timeZone, fiscalYearStartMonth: 4 },
        { calendar: 'quarter', timeZone },
        { calendar: 'year', timeZone, fiscalYearStartMonth: 7 },
      ] as CalendarWindow[]) {
        let w = calendarWindow(def, at('2026-01-01T12:00:00Z'));
        const n = def.calendar === 'year' ? 10 : 40;
        for (let i = 0; i < n; i++) {
          const next = calendarWindow(def, w.endMs);
          expect(next.startMs).toBe(w.endMs);
          expect(next.id).not.toBe(w.id);
          expect(calendarWindow(def, w.endMs - 1).id).toBe(w.id);
          w = next;
        }
      }
    }
  });

  it('ledger keys expire by themselves: TTL to the end of the quarter plus grace', () => {
    const ref = windowRef('q', {}, fiscalQuarter, at('2026-06-30T21:00:00Z'));
    expect(ref.writeKey).toBe('spanledger:b:{q:_}:quarter:2026-04@Europe/Paris');
    expect(ref.ttlMs).toBe(HOUR + DEFAULT_GRACE_MS);
    const next = windowRef('q', {}, fiscalQuarter, at('2026-06-30T22:00:00Z'));
    expect(next.writeKey).toBe('spanledger:b:{q:_}:quarter:2026-07@Europe/Paris');
    expect(next.ttlMs).toBe(92 * 24 * HOUR + DEFAULT_GRACE_MS);
  });
});

describe('rolling windows', () => {
  it('one hour in 60 buckets of one minute: write the current one, read the 61 overlapping', () => {
    const now = at('2026-11-01T12:00:30Z');
    const b = rollingBuckets({ rollingMs: HOUR }, now);
    expect(b.bucketMs).toBe(60_000);
    expect(b.current).toBe(Math.floor(now / 60_000));
    // 11:00:30 lies in the bucket [11:00, 11:01), partly inside the window: counted.
    expect(b.first).toBe(b.current - 60);
    expect(b.first * b.bucketMs).toBe(at('2026-11-01T11:00:00Z'));
  });

  it('exactly on a bucket boundary the window still reaches back 60 buckets', () => {
    const now = at('2026-11-01T12:00:00Z');
    const b = rollingBuckets({ rollingMs: HOUR }, now);
    expect(b.current - b.first).toBe(60);
  });

  it('a window not divisible by 60 rounds the bucket up (7 s -> 117 ms buckets)', () => {
    const b = rollingBuckets({ rollingMs: 7000 }, 1_000_000);
    expect(b.bucketMs).toBe(117);
    expect(b.current).toBe(8547); // floor(1,000,000 / 117)
    expect(b.first).toBe(8487); // floor(993,000 / 117)
  });

  it('custom bucket counts', () => {
    const b = rollingBuckets({ rollingMs: 24 * HOUR }, at('2026-11-01T12:34:00Z'), 24);
    expect(b.bucketMs).toBe(HOUR);
    expect(b.current - b.first).toBe(24);
  });

  it('windowRef: keys oldest first, write key last, TTL until the bucket leaves the window', () => {
    const now = at('2026-11-01T12:00:30Z');
    const ref = windowRef('burst', {}, { rollingMs: HOUR }, now);
    expect(ref.readKeys.length).toBe(61);
    expect(ref.readKeys.at(-1)).toBe(ref.writeKey);
    const current = Math.floor(now / 60_000);
    expect(ref.writeKey).toBe(`spanledger:b:{burst:_}:rolling:60000ms:${current}`);
    expect(ref.readKeys[0]).toBe(`spanledger:b:{burst:_}:rolling:60000ms:${current - 60}`);
    // Bucket ends 12:01:00, leaves the window at 13:01:00: 60.5 minutes, plus one hour grace.
    expect(ref.ttlMs).toBe(30_000 + HOUR + DEFAULT_GRACE_MS);
    expect(writeRef(ref)).toEqual({ key: ref.writeKey, ttlMs: ref.ttlMs });
  });
});

describe('ledger keys', () => {
  it('calendar windowRef: one key, TTL to the end of the window plus grace', () => {
    const ref = windowRef(
      'tenant-monthly',
      { tenant: 'acme' },
      { calendar: 'month', timeZone: NY },
      at('2026-11-30T23:00:00-05:00'),
      { graceMs: 0 },
    );
    expect(ref).toEqual({
      writeKey: 'spanledger:b:{tenant-monthly:tenant=acme}:month:2026-11@America/New_York',
      readKeys: ['spanledger:b:{tenant-monthly:tenant=acme}:month:2026-11@America/New_York'],
      ttlMs: HOUR,
    });
  });

  it('trace windowRef: one key per trace id', () => {
    const ref = windowRef('per-run', {}, 'trace', 0, {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      traceTtlMs: 1000,
    });
    expect(ref.writeKey).toBe('spanledger:b:{per-run:_}:trace:4bf92f3577b34da6a3ce929d0e0e4736');
    expect(ref.ttlMs).toBe(1000);
    expect(() => windowRef('per-run', {}, 'trace', 0)).toThrow(/traceId/);
  });

  it('escape user values: no separators, braces, globs, spaces or control characters', () => {
    expect(escapeKeyPart('a:b{c}*d e\n%')).toBe('a%3Ab%7Bc%7D%2Ad%20e%0A%25');
    const key = ledgerKey('my budget', { tenant: '}{evil:*' }, 'day:2026-11-01@UTC');
    expect(key).toBe('spanledger:b:{my%20budget:tenant=%7D%7Bevil%3A%2A}:day:2026-11-01@UTC');
    // Exactly one hash tag: the first `{` ... first `}` span is the budget and scope.
    expect(key.match(/[{}]/g)).toEqual(['{', '}']);
  });

  it('scope part: `_` for one window, sorted readable pairs, a hash when long', () => {
    expect(scopeKeyPart({})).toBe('_');
    expect(scopeKeyPart({ tenant: 'acme', team: 'payments' })).toBe('team=payments,tenant=acme');
    const long = scopeKeyPart({ tenant: 'x'.repeat(200) });
    expect(long).toMatch(/^#[0-9a-f]{32}$/);
    expect(scopeKeyPart({ tenant: 'x'.repeat(200) })).toBe(long);
    expect(scopeKeyPart({ tenant: `${'x'.repeat(199)}y` })).not.toBe(long);
    // A value spelling "=" or "," cannot forge another scope.
    expect(scopeKeyPart({ a: 'b,c=d' })).not.toBe(scopeKeyPart({ a: 'b', c: 'd' }));
  });

  it('custom prefix and bucket ids', () => {
    expect(ledgerKey('b', {}, bucketId(500, 7), 'app1:')).toBe('app1:{b:_}:rolling:500ms:7');
  });
});

describe('WindowRefCache', () => {
  it('returns exactly what windowRef computes, at every instant, while building keys rarely', () => {
    const cache = new WindowRefCache();
    const budgets = [
      { name: 'rolling-7s', window: { rollingMs: 7000 } },
      { name: 'rolling-1h', window: { rollingMs: 3_600_000 } },
      { name: 'month-ny', window: { calendar: 'month' as const, timeZone: 'America/New_York' } },
      {
        name: 'quarter-paris',
        window: { calendar: 'quarter' as const, timeZone: 'Europe/Paris', fiscalYearStartMonth: 4 },
      },
    ];
    let seed = 11;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let now = Date.parse('2026-11-30T23:00:00-05:00');
    for (let i = 0; i < 5000; i++) {
      // Mostly forward in small steps, sometimes backwards (clock skew between callers).
      now += Math.floor((rand() - 0.1) * 400);
      for (const b of budgets) {
        const scope = { tenant: rand() < 0.5 ? 'acme' : 'globex' };
        expect(cache.get(b, scope, now)).toEqual(windowRef(b.name, scope, b.window, now));
      }
    }
  });
});
