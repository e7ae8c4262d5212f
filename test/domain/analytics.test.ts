import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ceilTo,
  coverRange,
  denseSeries,
  extractedProperties,
  type FunnelEvent,
  floorTo,
  funnelSteps,
  MAX_SERIES_POINTS,
  parseFunnelSteps,
  parseRange,
  ratePerSecond,
  seriesRange,
  stepsReached,
  topCounts,
} from '../../src/domain/analytics.ts';
import { ErrorCodes, HeraldError } from '../../src/errors.ts';

const t = (iso: string) => Date.parse(iso);
const H = 3_600_000;

function invalidField(fn: () => unknown, field: string) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof HeraldError);
    assert.equal(error.code, ErrorCodes.VALIDATION);
    assert.equal(error.details.field, field);
    return true;
  });
}

describe('UTC buckets', () => {
  test('a bucket holds its start and excludes its end', () => {
    assert.equal(floorTo(t('2024-03-10T11:59:59.999Z'), 'hour'), t('2024-03-10T11:00:00Z'));
    assert.equal(floorTo(t('2024-03-10T12:00:00.000Z'), 'hour'), t('2024-03-10T12:00:00Z'));
    assert.equal(floorTo(t('2024-03-10T23:59:59.999Z'), 'day'), t('2024-03-10T00:00:00Z'));
    assert.equal(floorTo(t('2024-03-10T12:34:56Z'), 'minute'), t('2024-03-10T12:34:00Z'));
    assert.equal(ceilTo(t('2024-03-10T12:00:00Z'), 'hour'), t('2024-03-10T12:00:00Z'));
    assert.equal(ceilTo(t('2024-03-10T12:00:00.001Z'), 'hour'), t('2024-03-10T13:00:00Z'));
  });

  test('an offset timestamp falls in the UTC bucket of the instant it names', () => {
    // 01:30 at +02:00 is 23:30 UTC the day before.
    assert.equal(floorTo(t('2024-03-11T01:30:00+02:00'), 'day'), t('2024-03-10T00:00:00Z'));
    assert.equal(floorTo(t('2024-03-11T01:30:00+02:00'), 'hour'), t('2024-03-10T23:00:00Z'));
  });

  test('days are whole UTC days across a daylight-saving change elsewhere', () => {
    // Europe and the US change clocks on these dates; UTC days stay 24 h.
    const start = t('2024-03-31T00:00:00Z');
    assert.equal(floorTo(start + 24 * H - 1, 'day'), start);
    assert.equal(floorTo(start + 24 * H, 'day'), start + 24 * H);
  });
});

describe('parseRange', () => {
  const now = t('2024-03-10T12:00:00Z');

  test('defaults: to is now, from is the default span before it', () => {
    assert.deepEqual(parseRange({}, { now, defaultSpanMs: H }), { from: now - H, to: now });
  });

  test('reads offsets as instants', () => {
    const range = parseRange(
      { from: '2024-03-10T10:00:00+02:00', to: '2024-03-10T09:00:00Z' },
      { now, defaultSpanMs: H },
    );
    assert.deepEqual(range, { from: t('2024-03-10T08:00:00Z'), to: t('2024-03-10T09:00:00Z') });
  });

  test('refuses a range whose from is not before to, naming from', () => {
    invalidField(
      () =>
        parseRange(
          { from: '2024-03-10T10:00:00Z', to: '2024-03-10T10:00:00Z' },
          { now, defaultSpanMs: H },
        ),
      'from',
    );
    invalidField(
      () =>
        parseRange(
          { from: '2024-03-11T00:00:00Z', to: '2024-03-10T00:00:00Z' },
          { now, defaultSpanMs: H },
        ),
      'from',
    );
  });

  test('refuses unparsable times and ranges longer than allowed', () => {
    invalidField(() => parseRange({ to: 'soon' }, { now, defaultSpanMs: H }), 'to');
    invalidField(
      () => parseRange({ from: '2024-01-01T00:00:00Z' }, { now, defaultSpanMs: H, maxSpanMs: H }),
      'to',
    );
  });
});

describe('series', () => {
  test('widens a range to whole buckets and lists every bucket, zeros included', () => {
    const range = seriesRange(
      { from: t('2024-03-10T10:15:00Z'), to: t('2024-03-10T12:00:00Z') },
      'hour',
    );
    assert.deepEqual(range, {
      from: t('2024-03-10T10:00:00Z'),
      to: t('2024-03-10T12:00:00Z'),
      points: 2,
    });
    const points = denseSeries(new Map([[t('2024-03-10T11:00:00Z'), 4]]), range, 'hour');
    assert.deepEqual(points, [
      { start: '2024-03-10T10:00:00.000Z', count: 0 },
      { start: '2024-03-10T11:00:00.000Z', count: 4 },
    ]);
  });

  test('refuses more buckets than MAX_SERIES_POINTS, naming interval', () => {
    const from = t('2024-01-01T00:00:00Z');
    assert.equal(
      seriesRange({ from, to: from + MAX_SERIES_POINTS * 60_000 }, 'minute').points,
      MAX_SERIES_POINTS,
    );
    invalidField(
      () => seriesRange({ from, to: from + (MAX_SERIES_POINTS + 1) * 60_000 }, 'minute'),
      'interval',
    );
  });
});

describe('coverRange', () => {
  test('a range within one day is hours only', () => {
    const cover = coverRange({ from: t('2024-03-10T10:30:00Z'), to: t('2024-03-10T12:10:00Z') });
    assert.deepEqual(cover.range, {
      from: t('2024-03-10T10:00:00Z'),
      to: t('2024-03-10T13:00:00Z'),
    });
    assert.deepEqual(cover.headHours, cover.range);
    assert.equal(cover.days.from, cover.days.to);
    assert.equal(cover.tailHours.from, cover.tailHours.to);
  });

  test('a range over days is head hours, whole days, tail hours, without gaps or overlap', () => {
    const cover = coverRange({ from: t('2024-03-10T22:00:00Z'), to: t('2024-03-13T02:30:00Z') });
    assert.deepEqual(cover.headHours, {
      from: t('2024-03-10T22:00:00Z'),
      to: t('2024-03-11T00:00:00Z'),
    });
    assert.deepEqual(cover.days, {
      from: t('2024-03-11T00:00:00Z'),
      to: t('2024-03-13T00:00:00Z'),
    });
    assert.deepEqual(cover.tailHours, {
      from: t('2024-03-13T00:00:00Z'),
      to: t('2024-03-13T03:00:00Z'),
    });
  });

  test('whole days exactly have no hour pieces', () => {
    const cover = coverRange({ from: t('2024-03-10T00:00:00Z'), to: t('2024-03-12T00:00:00Z') });
    assert.equal(cover.headHours.from, cover.headHours.to);
    assert.deepEqual(cover.days, {
      from: t('2024-03-10T00:00:00Z'),
      to: t('2024-03-12T00:00:00Z'),
    });
    assert.equal(cover.tailHours.from, cover.tailHours.to);
  });
});

describe('funnel', () => {
  const entry = { from: 0, to: 10_000 };
  /** Users by steps reached (as the database answers), then the funnel's figures. */
  const funnelOf = (
    steps: string[],
    byUser: Map<string, FunnelEvent[]>,
    windowMs: number,
    range: { from: number; to: number },
  ) => {
    const reachedBy = new Map<number, number>();
    for (const events of byUser.values()) {
      const n = stepsReached(events, steps.length, windowMs, range);
      if (n > 0) reachedBy.set(n, (reachedBy.get(n) ?? 0) + 1);
    }
    return funnelSteps(steps, reachedBy);
  };
  const ev = (step: number, at: number): FunnelEvent => ({ step, at });

  test('steps count by event time, whatever order the events come in', () => {
    const shuffled = [ev(2, 300), ev(0, 100), ev(1, 200)];
    assert.equal(stepsReached(shuffled, 3, 1000, entry), 3);
  });

  test('a later step before the earlier one does not count', () => {
    assert.equal(stepsReached([ev(1, 50), ev(0, 100), ev(2, 300)], 3, 1000, entry), 1);
  });

  test('a step after the window does not count; a later entry may still complete it', () => {
    assert.equal(stepsReached([ev(0, 100), ev(1, 1200)], 2, 1000, entry), 1);
    assert.equal(stepsReached([ev(0, 100), ev(0, 900), ev(1, 1200)], 2, 1000, entry), 2);
  });

  test('the window end is inclusive; the entry range end is exclusive', () => {
    assert.equal(stepsReached([ev(0, 100), ev(1, 1100)], 2, 1000, entry), 2);
    assert.equal(stepsReached([ev(0, 10_000), ev(1, 10_001)], 2, 1000, entry), 0);
  });

  test('a tie in time goes to the earlier step', () => {
    assert.equal(stepsReached([ev(1, 100), ev(0, 100)], 2, 1000, entry), 2);
  });

  test('conversion is per first step and per previous step; nobody entering is 0, not NaN', () => {
    const byUser = new Map<string, FunnelEvent[]>([
      ['a', [ev(0, 1), ev(1, 2), ev(2, 3)]],
      ['b', [ev(0, 1), ev(1, 2)]],
      ['c', [ev(0, 1)]],
      ['d', [ev(0, 1)]],
      ['e', [ev(1, 1)]],
    ]);
    const steps = funnelOf(['signup', 'cart', 'purchase'], byUser, 1000, entry);
    assert.deepEqual(
      steps.map((s) => [s.type, s.users, s.conversion, s.fromPrevious]),
      [
        ['signup', 4, 1, 1],
        ['cart', 2, 0.5, 0.5],
        ['purchase', 1, 0.25, 0.5],
      ],
    );
    const empty = funnelOf(['a', 'b'], new Map(), 1000, entry);
    assert.deepEqual(
      empty.map((s) => [s.users, s.conversion, s.fromPrevious]),
      [
        [0, 0, 0],
        [0, 0, 0],
      ],
    );
  });

  test('steps are 2 to 10 distinct, non-empty event types', () => {
    assert.deepEqual(parseFunnelSteps([' a', 'b ']), ['a', 'b']);
    invalidField(() => parseFunnelSteps(['a']), 'steps');
    invalidField(() => parseFunnelSteps(['a', 'a']), 'steps');
    invalidField(() => parseFunnelSteps(['a', ' ']), 'steps');
    invalidField(() => parseFunnelSteps(Array.from({ length: 11 }, (_, i) => `s${i}`)), 'steps');
  });
});

describe('small helpers', () => {
  test('topCounts: largest first, ties by value, at most limit', () => {
    assert.deepEqual(topCounts({ b: 2, a: 2, c: 5, d: 1 }, 3), [
      { value: 'c', count: 5 },
      { value: 'a', count: 2 },
      { value: 'b', count: 2 },
    ]);
  });

  test('ratePerSecond counts the current partial minute by its elapsed seconds', () => {
    const now = t('2024-03-10T12:00:30Z');
    const perMinute = new Map([
      [t('2024-03-10T12:00:00Z'), 60],
      [t('2024-03-10T11:59:00Z'), 120],
      [t('2024-03-10T11:50:00Z'), 999],
    ]);
    assert.equal(ratePerSecond(perMinute, now, 1), 2);
    assert.equal(ratePerSecond(perMinute, now, 2), 180 / 90);
    assert.equal(ratePerSecond(new Map(), now, 5), 0);
  });

  test('extractedProperties keeps answered properties only', () => {
    assert.deepEqual(
      extractedProperties({
        melting_point: { value: 0, confidence: 0.9 },
        boiling_point: { value: 'unknown', confidence: 0 },
        hazards: [],
        uses: ['solvent'],
        notes: null,
        name: 'water',
      }),
      ['melting_point', 'name', 'uses'],
    );
  });
});
