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
import * as analyticsSql from '../../../../src/adapters/store/postgres/analytics-sql.ts';
import { PostgresEventStore } from '../../../../src/adapters/store/postgres/event-store.ts';
import { PostgresFunnelSealer } from '../../../../src/adapters/store/postgres/funnel-sealer.ts';
import { coverRange, stepsReached } from '../../../../src/domain/analytics.ts';
import type { Database } from '../../../../src/ports/database.ts';
import type { ProcessedEvent } from '../../../../src/ports/event-store.ts';
import { describeEachDatabase } from '../../../helpers/databases.ts';
import { referenceFunnel, sorted } from '../../../helpers/reference-funnel.ts';

const t = (iso: string) => Date.parse(iso);

let offset = 0;

/** Seals every closed hour with an event that is unsealed or stale; how many it sealed. */
const sealAll = (db: Database): Promise<number> =>
  new PostgresFunnelSealer(db, { minEvents: 1, hoursPerRound: 50, resealAfterMs: 0 }).sealAll();

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

/** Shuffles a copy (Fisher-Yates) with a seeded generator, so a failure can be replayed. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const copy = [...items];
  let state = seed;
  for (let i = copy.length - 1; i > 0; i -= 1) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    const j = state % (i + 1);
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
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

  test('a long head or tail reads its whole day less the hours outside the range, to the same counts', async (t2) => {
    const db = await factory.open(t2);
    const store = new PostgresEventStore(db);
    const reader = new PostgresAnalyticsReader(db);
    // [hour, page]: one click each, 2024-03-09 .. 2024-03-11.
    const clicks: [string, string][] = [
      ['09T02:30', '/early'], // before the range, in the head's day
      ['09T03:00', '/a'], // first hour of the range (21 h head: the 9th less 00-03)
      ['09T23:59', '/a'],
      ['10T12:00', '/b'], // a whole day
      ['11T19:59', '/b'], // last hour of the range (20 h tail: the 11th less 20-24)
      ['11T20:00', '/late'], // after the range, in the tail's day
      ['11T23:00', '/late'],
    ];
    await store.persist(
      clicks.map(([at, page], i) =>
        analytics(`long${i}`, 'u', 'click', `2024-03-${at}:00Z`, { page }),
      ),
      [],
    );
    const cover = coverRange({ from: t('2024-03-09T03:00:00Z'), to: t('2024-03-11T20:00:00Z') });
    assert.equal(await reader.rangeTotal(cover), 4);
    // Pages seen only outside the range are not listed with a count of 0.
    assert.deepEqual(await reader.top('page', cover, 10), [
      { value: '/a', count: 2 },
      { value: '/b', count: 2 },
    ]);
    assert.deepEqual(await reader.top('type', cover, 10), [{ value: 'click', count: 4 }]);
    // Within one day: 21 hours are the day less 3 hours; 12 hours are read hour by hour.
    const day = coverRange({ from: t('2024-03-11T02:00:00Z'), to: t('2024-03-11T23:00:00Z') });
    assert.equal(await reader.rangeTotal(day), 2);
    assert.deepEqual(await reader.top('page', day, 10), [
      { value: '/b', count: 1 },
      { value: '/late', count: 1 },
    ]);
    const half = coverRange({ from: t('2024-03-11T08:00:00Z'), to: t('2024-03-11T20:00:00Z') });
    assert.equal(await reader.rangeTotal(half), 1);
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

  test('the funnel agrees with the domain definition (stepsReached) on random event sets', async (t2) => {
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
      { numRuns: 80, seed: 5 },
    );
  });
  test('funnel edges: window end inclusive, range end exclusive, ties, order of arrival, best entry', async (t2) => {
    const db = await factory.open(t2);
    const store = new PostgresEventStore(db);
    const reader = new PostgresAnalyticsReader(db);
    const at = (time: string) => `2024-03-10T${time}Z`;
    const entry = { from: t(at('09:00:00')), to: t(at('12:00:00')) };
    const windowMs = 3_600_000;
    // Each case is a funnel of its own (signup, cart, purchase: steps 0, 1, 2) over the same
    // range and a 1 h window, with its users' [step, time] events and the steps each completed.
    const cases: { name: string; events: [string, number, string][]; reached: number[] }[] = [
      {
        name: 'the last step exactly the window after the entry counts',
        events: [
          ['u', 0, '10:00:00'],
          ['u', 1, '10:30:00'],
          ['u', 2, '11:00:00'],
        ],
        reached: [3],
      },
      {
        name: 'one millisecond after the window it does not',
        events: [
          ['u', 0, '10:00:00'],
          ['u', 1, '10:30:00'],
          ['u', 2, '11:00:00.001'],
        ],
        reached: [2],
      },
      {
        name: 'microseconds count: exactly the window after a .000001 entry',
        events: [
          ['u', 0, '10:00:00.000001'],
          ['u', 1, '11:00:00.000001'],
        ],
        reached: [2],
      },
      {
        name: 'microseconds count: one microsecond after the window',
        events: [
          ['u', 0, '10:00:00.000001'],
          ['u', 1, '11:00:00.000002'],
        ],
        reached: [1],
      },
      {
        name: 'an entry at `from` is in the range',
        events: [
          ['u', 0, '09:00:00'],
          ['u', 1, '09:30:00'],
        ],
        reached: [2],
      },
      {
        name: 'an entry at `to` is not: the user is no one in the funnel',
        events: [
          ['u', 0, '12:00:00'],
          ['u', 1, '12:10:00'],
          ['u', 2, '12:20:00'],
        ],
        reached: [],
      },
      {
        name: 'a step after `to` but within the window counts',
        events: [
          ['u', 0, '11:59:00'],
          ['u', 1, '12:30:00'],
          ['u', 2, '12:59:00'],
        ],
        reached: [3],
      },
      {
        name: 'every step at one instant: ties go to the earlier step',
        events: [
          ['u', 2, '10:00:00'],
          ['u', 1, '10:00:00'],
          ['u', 0, '10:00:00'],
        ],
        reached: [3],
      },
      {
        name: 'a step before the entry does not count',
        events: [
          ['u', 0, '10:00:00'],
          ['u', 1, '09:59:59.999'],
          ['u', 2, '10:10:00'],
        ],
        reached: [1],
      },
      {
        name: 'a purchase before the cart does not complete the funnel',
        events: [
          ['u', 0, '10:00:00'],
          ['u', 2, '10:02:00'],
          ['u', 1, '10:03:00'],
        ],
        reached: [2],
      },
      {
        name: "the first entry's window ends before the cart; a second entry completes",
        events: [
          ['u', 0, '10:00:00'],
          ['u', 0, '10:50:00'],
          ['u', 1, '11:10:00'],
          ['u', 2, '11:20:00'],
        ],
        reached: [3],
      },
      {
        name: 'of two entries before one cart, the later leaves room for the purchase',
        events: [
          ['u', 0, '10:00:00'],
          ['u', 0, '10:20:00'],
          ['u', 1, '10:30:00'],
          ['u', 2, '11:15:00'],
        ],
        reached: [3],
      },
      {
        name: 'later steps without an entry: no one in the funnel',
        events: [
          ['u', 1, '10:00:00'],
          ['u', 2, '10:10:00'],
        ],
        reached: [],
      },
      {
        name: "users' steps never mix, even for ids holding the packed read's separator",
        events: [
          ['a\u0001b', 0, '10:00:00'],
          ['a\u0001b', 1, '10:10:00'],
          ['a\u0001b', 2, '10:20:00'],
          ['a', 0, '10:00:00'],
          ['b', 1, '10:10:00'],
          ['b', 2, '10:20:00'],
          ['ünï\u{1F600}', 0, '10:00:00'],
          ['ünï\u{1F600}', 1, '10:10:00'],
        ],
        reached: [3, 1, 2],
      },
    ];
    const typesOf = (c: number) => ['signup', 'cart', 'purchase'].map((s) => `edge${c}_${s}`);
    const events = cases.flatMap(({ events }, c) =>
      events.map(([user, step, time], i) =>
        analytics(`edge${c}-${i}`, user, typesOf(c)[step] as string, at(time)),
      ),
    );
    // Newest first, in several batches: arrival order is not event order.
    const arriving = [...events].reverse();
    for (let i = 0; i < arriving.length; i += 5) await store.persist(arriving.slice(i, i + 5), []);
    // A first-step event without a user (an EventFlow event may lack one) is no entry.
    const anonymous = { ...analytics('edge-anon', 'x', typesOf(0)[0] as string, at('10:00:00')) };
    await store.persist([{ ...anonymous, userId: null }], []);

    // From raw events, then from sealed hours (the entry range and window are whole hours).
    for (const phase of ['raw', 'sealed'])
      for (const [c, { name, reached, events: mine }] of cases.entries()) {
        if (phase === 'sealed' && c === 0) assert.ok((await sealAll(db)) > 0, 'hours were sealed');
        const expected = new Map<number, number>();
        for (const n of reached) expected.set(n, (expected.get(n) ?? 0) + 1);
        if (phase === 'raw' && !name.startsWith('microseconds')) {
          // The case itself agrees with the definition (the reference works in milliseconds).
          const reference = referenceFunnel(
            mine.map(([user, step, time]) => ({ user, step, at: t(at(time)) })),
            3,
            windowMs,
            entry,
          );
          assert.deepEqual(sorted(reference), sorted(expected), `reference: ${name}`);
        }
        const actual = await reader.funnel(typesOf(c), entry, windowMs);
        assert.deepEqual(sorted(actual), sorted(expected), `${name} (${phase})`);
      }
    // Nothing in range: an empty funnel, not an error.
    const early = { from: t(at('00:00:00')), to: t(at('01:00:00')) };
    assert.equal((await reader.funnel(typesOf(0), early, 60_000)).size, 0);
  });

  test('a late event into a sealed hour counts at once; sealing it again makes the segment current', async (t2) => {
    const db = await factory.open(t2);
    const store = new PostgresEventStore(db);
    const reader = new PostgresAnalyticsReader(db);
    const hour = { from: t('2024-03-10T10:00:00Z'), to: t('2024-03-10T11:00:00Z') };
    const steps = ['late_signup', 'late_cart'];
    const at = (minute: number) => `2024-03-10T10:${minute}:00Z`;
    const current = async () =>
      (
        await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM analytics_funnel_segments s
           WHERE s.n = (SELECT sum(c.n) FROM analytics_counts c
                        WHERE c.grain = 'hour' AND c.bucket = s.hour AND c.event_type = s.event_type)`,
        )
      )[0]?.n;
    await store.persist(
      [
        analytics('late-1', 'ann', 'late_signup', at(10)),
        analytics('late-2', 'bob', 'late_signup', at(20)),
        analytics('late-3', 'ann', 'late_cart', at(30)),
        // This hour is not over: it is not sealed.
        analytics('late-now', 'ann', 'late_signup', new Date().toISOString()),
      ],
      [],
    );
    assert.equal(await sealAll(db), 2, 'both types of the closed hour');
    assert.equal(await current(), 2);
    assert.deepEqual(sorted(await reader.funnel(steps, hour, 3_600_000)), [
      [1, 1],
      [2, 1],
    ]);

    // Bob's cart arrives late; so does Cleo, whom the sealer never numbered.
    await store.persist(
      [
        analytics('late-4', 'bob', 'late_cart', at(40)),
        analytics('late-5', 'cleo', 'late_signup', at(50)),
      ],
      [],
    );
    assert.equal(await current(), 0, 'both segments are stale');
    assert.deepEqual(sorted(await reader.funnel(steps, hour, 3_600_000)), [
      [1, 1],
      [2, 2],
    ]);
    // Only the cart hour sealed again: carts come from its segment (Ann and Bob by number),
    // signups from raw events, where Cleo, never numbered, is known by her id.
    await db.query(analyticsSql.sealHours, [['late_cart'], [new Date(hour.from).toISOString()]]);
    assert.equal(await current(), 1);
    assert.deepEqual(sorted(await reader.funnel(steps, hour, 3_600_000)), [
      [1, 1],
      [2, 2],
    ]);
    const patient = new PostgresFunnelSealer(db, {
      minEvents: 1,
      hoursPerRound: 50,
      resealAfterMs: 3_600_000,
    });
    assert.equal(await patient.sealRound(), 0, 'the stale signups were sealed a moment ago');
    assert.equal(await sealAll(db), 1);
    assert.equal(await current(), 2);
    assert.deepEqual(sorted(await reader.funnel(steps, hour, 3_600_000)), [
      [1, 1],
      [2, 2],
    ]);
  });

  test('a user numbered by a sealer while a funnel reads is still one user: the reads share a snapshot', async (t2) => {
    const db = await factory.open(t2);
    const store = new PostgresEventStore(db);
    const day = '2024-03-12';
    const at = (time: string) => `${day}T${time}Z`;
    // A sealed hour (02:00) puts the funnel on numbers; Xavier's signup (05:50) and cart
    // (06:10) are read raw, in different slices, and he has not been numbered yet.
    const sealedHour = Array.from({ length: 5 }, (_, i) =>
      analytics(`snap-s${i}`, `snap-sealed-${i}`, 'snap_signup', at(`02:1${i}:00`)),
    );
    await store.persist(sealedHour, []);
    assert.equal(await sealAll(db), 1);
    await store.persist(
      [
        analytics('snap-x1', 'xavier', 'snap_signup', at('05:50:00')),
        analytics('snap-x2', 'xavier', 'snap_cart', at('06:10:00')),
        analytics('snap-x3', 'xavier', 'snap_other', '2024-03-11T20:00:00Z'),
      ],
      [],
    );
    // The raw read of Xavier's signup runs first, then a sealer (on another connection)
    // numbers him by sealing his other hour, then the funnel's other raw reads run.
    let sealed: (() => void) | undefined;
    const sealedNow = new Promise<void>((resolve) => {
      sealed = resolve;
    });
    const holdsXavierSignup = (params: readonly unknown[] = []) => {
      const [type, from, to] = params as [string, string, string];
      return type === 'snap_signup' && from <= at('05:50:00') && at('05:50:00') < to;
    };
    let numberedReads = 0;
    const interleaving: Pick<Database, 'query' | 'transaction'> = {
      query: (text, params) => db.query(text, params),
      transaction: (work) =>
        db.transaction((tx) =>
          work({
            async query<Row>(text: string, params?: readonly unknown[]) {
              if (text !== analyticsSql.funnelStepEventsNumbered)
                return tx.query<Row>(text, params);
              numberedReads += 1;
              if (!holdsXavierSignup(params)) {
                await sealedNow;
                return tx.query<Row>(text, params);
              }
              const rows = await tx.query<Row>(text, params);
              await db.query(analyticsSql.sealHours, [['snap_other'], ['2024-03-11T20:00:00Z']]);
              sealed?.();
              return rows;
            },
          }),
        ),
    };
    const reader = new PostgresAnalyticsReader(interleaving);
    const entry = { from: t(at('00:00:00')), to: t(at('12:00:00')) };
    const reached = await reader.funnel(['snap_signup', 'snap_cart'], entry, 3_600_000);
    assert.ok(numberedReads > 1, 'the funnel read raw events beside the sealed hour');
    const xavier = (
      await db.query<{ num: number }>(
        "SELECT num FROM analytics_user_numbers WHERE user_id = 'xavier'",
      )
    )[0];
    assert.ok(xavier !== undefined, 'the sealer numbered Xavier during the funnel');
    assert.deepEqual(sorted(reached), [
      [1, 5],
      [2, 1],
    ]);
  });

  test('the funnel agrees with a one-entry-at-a-time reference on random event sets', async (t2) => {
    const db = await factory.open(t2);
    const store = new PostgresEventStore(db);
    const reader = new PostgresAnalyticsReader(db);
    const base = t('2024-03-10T10:00:00Z');
    // Few users, a coarse time grid and windows in whole ticks: ties, repeated entries and
    // events exactly at the window's end are common; a millisecond either side now and then.
    // A tick of 30 s keeps a run within one slice the reader reads at a time (6 hours); a tick
    // of 4 h spreads it over several, with events on slice edges.
    const event = fc.record({
      user: fc.integer({ min: 0, max: 4 }),
      step: fc.integer({ min: 0, max: 5 }),
      tick: fc.integer({ min: 0, max: 24 }),
      nudge: fc.constantFrom(0, 0, 0, 0, -1, 1),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { minLength: 1, maxLength: 40, size: 'max' }),
        fc.integer({ min: 2, max: 5 }),
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom(30_000, 4 * 3_600_000),
        fc.integer({ min: 0, max: 4 }),
        async (events, stepCount, entryFrom, entryTicks, windowTicks, batches, tick, sealAt) => {
          run += 1;
          // Types of their own per run (runs share one database); step 5 is never a step.
          const types = ['a', 'b', 'c', 'd', 'e', 'x'].map((name) => `q${run}_${name}`);
          const generated = events.map((e) => ({
            user: `q${run}-u${e.user}`,
            step: e.step,
            at: base + e.tick * tick + e.nudge,
          }));
          const persisted = shuffled(generated, run).map((e, i) =>
            analytics(
              `q${run}-${i}`,
              e.user,
              types[e.step] as string,
              new Date(e.at).toISOString(),
            ),
          );
          // Hours are sealed after `sealAt` batches (never, when there are fewer): the batches
          // after it make some segments stale.
          const size = Math.ceil(persisted.length / batches);
          for (let i = 0, batch = 0; i < persisted.length; i += size, batch += 1) {
            if (batch === sealAt) await sealAll(db);
            await store.persist(persisted.slice(i, i + size), []);
          }
          const entry = {
            from: base + entryFrom * tick,
            to: base + (entryFrom + entryTicks) * tick,
          };
          const windowMs = windowTicks * tick;
          const expected = referenceFunnel(
            generated.filter((e) => e.step < stepCount),
            stepCount,
            windowMs,
            entry,
          );
          const actual = await reader.funnel(types.slice(0, stepCount), entry, windowMs);
          assert.deepEqual(sorted(actual), sorted(expected));
        },
      ),
      { numRuns: 120, seed: 55 },
    );
  });
});
