/**
 * The rollups the worker's persist statement keeps (and the user summaries read from the
 * events), read back through the analytics reader: counts equal the distinct events persisted
 * (duplicates and redeliveries count once), buckets are UTC, and they agree with a count over
 * the raw events.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PostgresAnalyticsReader } from '../../../../src/adapters/store/postgres/analytics-reader.ts';
import { PostgresEventStore } from '../../../../src/adapters/store/postgres/event-store.ts';
import { coverRange, stepsReached } from '../../../../src/domain/analytics.ts';
import type { ProcessedEvent } from '../../../../src/ports/event-store.ts';
import { describeEachDatabase } from '../../../helpers/databases.ts';

const t = (iso: string) => Date.parse(iso);

let offset = 0;

function analytics(
  id: string,
  user: string,
  type: string,
  timestamp: string | null,
  metadata: Record<string, unknown> = {},
): ProcessedEvent {
  return {
    id,
    topic: 'analytics',
    type,
    key: user,
    userId: user,
    payload: { user_id: user, event_type: type, metadata },
    enrichment: {},
    occurredAt: timestamp,
    acceptedAt: new Date('2024-03-10T12:00:00Z'),
    processedAt: new Date('2024-03-10T12:00:01Z'),
    correlationId: null,
    partition: 0,
    offset: offset++,
  };
}

function chemical(
  id: string,
  researcher: string,
  molecule: string,
  timestamp: string,
  chemistry: Record<string, unknown>,
): ProcessedEvent {
  return {
    id,
    topic: 'chemical',
    type: 'molecule_submitted',
    key: molecule,
    userId: null,
    payload: { molecule_id: molecule, researcher, data: { formula: 'H2O' } },
    enrichment: { chemistry },
    occurredAt: timestamp,
    acceptedAt: new Date('2024-03-10T12:00:00Z'),
    processedAt: new Date('2024-03-10T12:00:01Z'),
    correlationId: null,
    partition: 1,
    offset: offset++,
  };
}

describeEachDatabase('analytics rollups', (factory) => {
  test('counts equal the distinct events persisted, however often a batch is redelivered', async (t2) => {
    const db = await factory.open(t2);
    const store = new PostgresEventStore(db);
    const reader = new PostgresAnalyticsReader(db);
    const batch = [
      analytics('e1', 'ann', 'page_view', '2024-03-10T10:00:00Z', { page: '/a', source: 'web' }),
      analytics('e2', 'ann', 'page_view', '2024-03-10T10:20:00Z', { page: '/b', source: 'web' }),
      analytics('e3', 'ann', 'purchase', '2024-03-10T10:30:00Z', { amount: 12.5, page: '/b' }),
      analytics('e4', 'ben', 'page_view', '2024-03-10T11:00:00Z', { page: '/a', source: 'ios' }),
    ];
    await store.persist(batch, []);
    // A redelivered batch, a batch repeating an event inside itself, and one new event.
    await store.persist(batch, []);
    const again = batch[2] as ProcessedEvent;
    const fresh = analytics('e5', 'ann', 'purchase', '2024-03-10T13:00:00Z', { amount: 7 });
    await store.persist([again, again, fresh, fresh], []);

    const ann = await reader.user('ann', 30 * 60_000);
    assert.ok(ann);
    assert.equal(ann.events, 4);
    assert.deepEqual(ann.byType, { page_view: 2, purchase: 2 });
    assert.deepEqual(ann.pages, { '/a': 1, '/b': 2 });
    assert.deepEqual(ann.sources, { web: 2 });
    assert.equal(ann.purchases, 2);
    assert.equal(ann.revenue, 19.5);
    assert.equal(ann.firstSeen, t('2024-03-10T10:00:00Z'));
    assert.equal(ann.lastSeen, t('2024-03-10T13:00:00Z'));
    // 10:00, 10:20, 10:30 are one visit; 13:00 (2.5 h later) another.
    assert.equal(ann.sessions, 2);
    const recent = await reader.recentEvents('ann', 2);
    assert.deepEqual(
      recent.map((e) => e.id),
      ['e5', 'e3'],
    );
    assert.equal(await reader.user('nobody', 30 * 60_000), undefined);

    const day = { from: t('2024-03-10T00:00:00Z'), to: t('2024-03-11T00:00:00Z') };
    const hours = await reader.series('hour', day, undefined);
    assert.deepEqual(
      [...hours].sort(([a], [b]) => a - b),
      [
        [t('2024-03-10T10:00:00Z'), 3],
        [t('2024-03-10T11:00:00Z'), 1],
        [t('2024-03-10T13:00:00Z'), 1],
      ],
    );
    const days = await reader.series('day', day, 'purchase');
    assert.deepEqual([...days], [[t('2024-03-10T00:00:00Z'), 2]]);

    const cover = coverRange(day);
    assert.equal(await reader.rangeTotal(cover), 5);
    assert.deepEqual(await reader.top('type', cover, 10), [
      { value: 'page_view', count: 3 },
      { value: 'purchase', count: 2 },
    ]);
    assert.deepEqual(await reader.top('page', cover, 1), [{ value: '/a', count: 2 }]);
    assert.deepEqual(await reader.top('source', cover, 10), [
      { value: 'web', count: 2 },
      { value: 'ios', count: 1 },
    ]);

    // The rollups agree with the raw events they were built from.
    const [raw] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM processed_events');
    const totals = await reader.totals();
    assert.equal(raw?.n, 5);
    assert.equal(
      totals.reduce((sum, row) => sum + row.count, 0),
      5,
    );
  });

  test('buckets are UTC: an offset timestamp lands in the bucket of the instant it names', async (t2) => {
    const db = await factory.open(t2);
    const store = new PostgresEventStore(db);
    const reader = new PostgresAnalyticsReader(db);
    await store.persist(
      [
        // 01:30 at +02:00 is 23:30 UTC on the 9th.
        analytics('z1', 'zoe', 'click', '2024-03-10T01:30:00+02:00'),
        // The last millisecond of an hour, and the first of the next.
        analytics('z2', 'zoe', 'click', '2024-03-10T10:59:59.999Z'),
        analytics('z3', 'zoe', 'click', '2024-03-10T11:00:00.000Z'),
        // No timestamp: it happened when it was accepted (12:00 UTC).
        analytics('z4', 'zoe', 'click', null),
      ],
      [],
    );
    const range = { from: t('2024-03-09T00:00:00Z'), to: t('2024-03-11T00:00:00Z') };
    const days = await reader.series('day', range, 'click');
    assert.deepEqual(
      [...days].sort(([a], [b]) => a - b),
      [
        [t('2024-03-09T00:00:00Z'), 1],
        [t('2024-03-10T00:00:00Z'), 3],
      ],
    );
    const hours = await reader.series('hour', range, 'click');
    assert.deepEqual(
      [...hours].sort(([a], [b]) => a - b),
      [
        [t('2024-03-09T23:00:00Z'), 1],
        [t('2024-03-10T10:00:00Z'), 1],
        [t('2024-03-10T11:00:00Z'), 1],
        [t('2024-03-10T12:00:00Z'), 1],
      ],
    );
    const minutes = await reader.series(
      'minute',
      { from: t('2024-03-10T10:59:00Z'), to: t('2024-03-10T11:01:00Z') },
      undefined,
    );
    assert.deepEqual(
      [...minutes].sort(([a], [b]) => a - b),
      [
        [t('2024-03-10T10:59:00Z'), 1],
        [t('2024-03-10T11:00:00Z'), 1],
      ],
    );
    // A range holding no event reads nothing, not an error.
    const empty = await reader.series(
      'hour',
      { from: t('2020-01-01T00:00:00Z'), to: t('2020-01-02T00:00:00Z') },
      undefined,
    );
    assert.equal(empty.size, 0);
    assert.equal(
      await reader.rangeTotal(
        coverRange({ from: t('2020-01-01T00:00:00Z'), to: t('2020-01-02T00:00:00Z') }),
      ),
      0,
    );
  });

  test('a range over several days reads head hours, whole days and tail hours once each', async (t2) => {
    const db = await factory.open(t2);
    const store = new PostgresEventStore(db);
    const reader = new PostgresAnalyticsReader(db);
    await store.persist(
      [
        analytics('c1', 'u', 'a', '2024-03-09T22:30:00Z'), // head hour
        analytics('c2', 'u', 'a', '2024-03-09T21:59:00Z'), // before the range
        analytics('c3', 'u', 'a', '2024-03-10T12:00:00Z'), // a whole day
        analytics('c4', 'u', 'a', '2024-03-11T00:10:00Z'), // tail hour
        analytics('c5', 'u', 'a', '2024-03-11T01:00:00Z'), // after the range
      ],
      [],
    );
    const cover = coverRange({ from: t('2024-03-09T22:00:00Z'), to: t('2024-03-11T01:00:00Z') });
    assert.equal(await reader.rangeTotal(cover), 3);
  });

  test('researcher rollups: molecules, days, formulas, mean weight and mismatches', async (t2) => {
    const db = await factory.open(t2);
    const store = new PostgresEventStore(db);
    const reader = new PostgresAnalyticsReader(db);
    const events = [
      chemical('m1', 'Dr. Jane Smith', 'mol_1', '2024-03-09T10:00:00Z', {
        hill_formula: 'H2O',
        reported_weight: 18,
        weight_matches: true,
      }),
      chemical('m2', 'Dr. Jane Smith', 'mol_1', '2024-03-10T10:00:00Z', {
        hill_formula: 'H2O',
        reported_weight: 20,
        weight_matches: false,
      }),
      chemical('m3', 'Dr. Jane Smith', 'mol_2', '2024-03-10T11:00:00Z', { hill_formula: 'CH4' }),
      chemical('m4', 'Dr. Who', 'mol_3', '2024-03-10T11:00:00Z', { hill_formula: 'CO2' }),
    ];
    await store.persist(events, []);
    await store.persist(events.slice(1), []);
    const jane = await reader.researcher('Dr. Jane Smith');
    assert.ok(jane);
    assert.equal(jane.submissions, 3);
    assert.equal(jane.molecules, 2);
    assert.deepEqual(jane.formulas, { H2O: 2, CH4: 1 });
    assert.equal(jane.weighed, 2);
    assert.equal(jane.weightSum, 38);
    assert.equal(jane.mismatches, 1);
    assert.deepEqual(jane.days, [
      { day: t('2024-03-09T00:00:00Z'), count: 1 },
      { day: t('2024-03-10T00:00:00Z'), count: 2 },
    ]);
    assert.equal(await reader.researcher('Dr. Nobody'), undefined);
  });

  test('the funnel computed in SQL agrees with the domain definition on random event sets', async (t2) => {
    const db = await factory.open(t2);
    const store = new PostgresEventStore(db);
    const reader = new PostgresAnalyticsReader(db);
    const base = t('2024-03-10T10:00:00Z');
    const minute = 60_000;
    // Few users, few minutes, few types: ties, window edges and out-of-order steps are common.
    const event = fc.record({
      user: fc.integer({ min: 0, max: 2 }),
      step: fc.integer({ min: 0, max: 3 }),
      minute: fc.integer({ min: 0, max: 6 }),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { minLength: 6, maxLength: 25 }),
        fc.integer({ min: 2, max: 3 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        async (events, stepCount, entryFrom, entryMinutes) => {
          run += 1;
          // Types of their own per run: runs share one database.
          const types = ['signup', 'cart', 'buy', 'other'].map((name) => `r${run}_${name}`);
          await store.persist(
            events.map((e, i) =>
              analytics(
                `r${run}-${i}`,
                `r${run}-u${e.user}`,
                types[e.step] as string,
                new Date(base + e.minute * minute).toISOString(),
              ),
            ),
            [],
          );
          const steps = types.slice(0, stepCount);
          const entry = {
            from: base + entryFrom * minute,
            to: base + (entryFrom + entryMinutes) * minute,
          };
          const windowMs = 3 * minute;
          const expected = new Map<number, number>();
          for (let user = 0; user <= 2; user += 1) {
            const mine = events
              .filter((e) => e.user === user && e.step < stepCount)
              .map((e) => ({ step: e.step, at: base + e.minute * minute }));
            const reached = stepsReached(mine, stepCount, windowMs, entry);
            if (reached > 0) expected.set(reached, (expected.get(reached) ?? 0) + 1);
          }
          const actual = await reader.funnel(steps, entry, windowMs);
          assert.deepEqual(
            [...actual].sort(([a], [b]) => a - b),
            [...expected].sort(([a], [b]) => a - b),
          );
        },
      ),
      { numRuns: factory.kind === 'pglite' ? 40 : 80, seed: 5 },
    );
  });
});
