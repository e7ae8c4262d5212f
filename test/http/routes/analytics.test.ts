/**
 * The analytics API end to end: events sent over HTTP, processed by the worker, read back.
 * Counts equal what was sent, after duplicate submissions and after the worker re-reads the
 * whole log (a redelivery); buckets are UTC; funnels go by event time; bad parameters are 422s
 * naming the parameter.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WORKER_GROUP } from '../../../src/platform/consumer-groups.ts';
import type { Database } from '../../../src/ports/database.ts';
import { eventually } from '../../helpers/eventually.ts';
import { getJson, postJson, startTestPlatform } from '../../helpers/platform.ts';

const DAY = 'from=2024-03-10T00:00:00Z&to=2024-03-11T00:00:00Z';

// A loaded test machine must not shed the events these tests count.
const NO_SHEDDING = { OVERLOAD_EVENT_LOOP_DELAY_MS: '0' };

const ANALYTICS = [
  { id: 'a1', user_id: 'ann', event_type: 'page_view', timestamp: '2024-03-10T10:00:00Z' },
  { id: 'a2', user_id: 'ann', event_type: 'page_view', timestamp: '2024-03-10T10:59:59.999Z' },
  // 13:30 at +02:00 is 11:30 UTC.
  { id: 'a3', user_id: 'ann', event_type: 'page_view', timestamp: '2024-03-10T13:30:00+02:00' },
  { id: 'a4', user_id: 'ann', event_type: 'purchase', timestamp: '2024-03-10T11:45:00Z' },
].map((e, i) => ({
  ...e,
  metadata: {
    page: ['/home', '/pricing', '/home', '/checkout'][i],
    source: ['web', 'web', 'ios', 'web'][i],
    ...(e.event_type === 'purchase' ? { amount: 30 } : {}),
  },
}));

// Users' funnel events, each user's sent newest first: arrival order is not event order.
const FUNNEL = [
  ['fu1', 'purchase', '10:10'],
  ['fu1', 'add_to_cart', '10:05'],
  ['fu1', 'signup', '10:00'],
  ['fu2', 'add_to_cart', '10:03'],
  ['fu2', 'purchase', '10:02'],
  ['fu2', 'signup', '10:00'],
  ['fu3', 'signup', '10:00'],
  ['fu4', 'add_to_cart', '12:00'],
  ['fu4', 'signup', '10:00'],
].map(([user, type, time], i) => ({
  id: `f${i}`,
  user_id: user,
  event_type: type,
  timestamp: `2024-03-10T${time}:00Z`,
}));

const CHEMICAL = [
  {
    id: 'c1',
    molecule_id: 'mol_h2o_001',
    researcher: 'Dr. Jane Smith',
    data: { formula: 'H2O', weight: 18.015 },
    timestamp: '2024-03-09T12:00:00Z',
  },
  {
    id: 'c2',
    molecule_id: 'mol_ch4_001',
    researcher: 'Dr. Jane Smith',
    data: { formula: 'CH4', weight: 20 },
    timestamp: '2024-03-10T12:00:00Z',
  },
];

/** Every event sent, once; the EventFlow one has no timestamp (it happened when accepted). */
const DISTINCT_EVENTS = ANALYTICS.length + FUNNEL.length + CHEMICAL.length + 1;

async function send(url: string) {
  for (const event of ANALYTICS) {
    const answer = await postJson(`${url}/api/v1/events/analytics`, event);
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
  }
  const flow = await postJson(
    `${url}/events`,
    { event_type: 'purchase', user_id: 'ben', properties: { amount: 99.99, page: '/checkout' } },
    { 'idempotency-key': 'ben-purchase' },
  );
  assert.equal(flow.status, 202);
  for (const event of CHEMICAL) {
    assert.equal((await postJson(`${url}/api/v1/events/chemical`, event)).status, 202);
  }
  assert.equal((await postJson(`${url}/api/v1/events/batch`, FUNNEL)).status, 202);
}

async function processedCount(url: string): Promise<number> {
  const { body } = await getJson(`${url}/api/v1/analytics/overview`);
  return (body.totals as { processed: number }).processed;
}

async function caughtUp(db: Database) {
  await eventually(
    async () => {
      const [row] = await db.query<{ lag: number }>(
        `SELECT coalesce(sum(p.next_offset - 1 - c.committed_offset), 0)::int AS lag
         FROM log_partitions p JOIN consumer_leases c USING (partition) WHERE c.group_id = $1`,
        [WORKER_GROUP],
      );
      return row?.lag === 0 ? true : undefined;
    },
    { message: 'the workers to catch up' },
  );
}

async function readAll(url: string) {
  const paths = [
    '/api/v1/analytics/user/ann?recent=3',
    '/api/v1/analytics/user/ben',
    `/api/v1/analytics/events?interval=hour&${DAY}`,
    `/api/v1/analytics/events?interval=day&type=purchase&${DAY}`,
    `/api/v1/analytics/top?by=type&${DAY}`,
    `/api/v1/analytics/top?by=page&${DAY}`,
    `/api/v1/analytics/top?by=source&${DAY}`,
    `/api/v1/analytics/funnel?steps=signup,add_to_cart,purchase&window=3600&${DAY}`,
  ];
  const answers: Record<string, Record<string, unknown>> = {};
  for (const path of paths) {
    const { status, body } = await getJson(url + path);
    assert.equal(status, 200, `${path}: ${JSON.stringify(body)}`);
    answers[path] = body;
  }
  const researcher = await getJson(`${url}/api/v1/analytics/researcher/Dr.%20Jane%20Smith`);
  assert.equal(researcher.status, 200);
  // Agent answers arrive on their own schedule; the rollup part must not move.
  const { agent_properties: _, ...rollup } = researcher.body;
  answers.researcher = rollup;
  return answers;
}

for (const database of ['embedded', 'postgres'] as const) {
  test(`analytics count every event once, after duplicates and a redelivery of the whole log [${database}]`, async (t) => {
    const { url, db } = await startTestPlatform(t, NO_SHEDDING, { database });
    await send(url);
    await send(url); // every id again: duplicates, answered 202 and stored once
    await eventually(
      async () => ((await processedCount(url)) === DISTINCT_EVENTS ? true : undefined),
      {
        message: `${DISTINCT_EVENTS} events processed`,
      },
    );
    const first = await readAll(url);

    const ann = first['/api/v1/analytics/user/ann?recent=3'] as Record<string, unknown>;
    assert.equal(ann.total_events, 4);
    assert.deepEqual(ann.events_by_type, { page_view: 3, purchase: 1 });
    assert.equal(ann.first_seen, '2024-03-10T10:00:00.000Z');
    assert.equal(ann.last_seen, '2024-03-10T11:45:00.000Z');
    // A gap over 30 minutes starts a visit: 10:00 | 10:59:59.999 | 11:30 (30 min 1 ms later), 11:45.
    assert.equal(ann.sessions, 3);
    assert.deepEqual(ann.pages_viewed, {
      total: 4,
      distinct: 3,
      top: [
        { page: '/home', count: 2 },
        { page: '/checkout', count: 1 },
        { page: '/pricing', count: 1 },
      ],
    });
    assert.deepEqual(ann.sources, [
      { source: 'web', count: 3 },
      { source: 'ios', count: 1 },
    ]);
    assert.equal(ann.purchases, 1);
    assert.equal(ann.revenue, 30);
    assert.deepEqual(
      (ann.recent_events as { id: string; timestamp: string }[]).map((e) => [e.id, e.timestamp]),
      [
        ['a4', '2024-03-10T11:45:00.000Z'],
        ['a3', '2024-03-10T11:30:00.000Z'],
        ['a2', '2024-03-10T10:59:59.999Z'],
      ],
    );
    const ben = first['/api/v1/analytics/user/ben'] as Record<string, unknown>;
    assert.deepEqual([ben.total_events, ben.purchases, ben.revenue], [1, 1, 99.99]);

    const hourly = first[`/api/v1/analytics/events?interval=hour&${DAY}`] as {
      from: string;
      to: string;
      total: number;
      buckets: { start: string; count: number }[];
    };
    assert.equal(hourly.from, '2024-03-10T00:00:00.000Z');
    assert.equal(hourly.to, '2024-03-11T00:00:00.000Z');
    assert.equal(hourly.buckets.length, 24, 'every hour, zeros included');
    const hour = (h: number) => hourly.buckets[h]?.count;
    // 10h: a1, a2 (10:59:59.999) and eight funnel events; 11h: a3 (13:30+02:00) and a4;
    // 12h: fu4's add_to_cart and the molecule c2.
    assert.deepEqual([hour(9), hour(10), hour(11), hour(12), hour(13)], [0, 10, 2, 2, 0]);
    assert.equal(hourly.total, 14);
    const daily = first[`/api/v1/analytics/events?interval=day&type=purchase&${DAY}`] as {
      buckets: { start: string; count: number }[];
    };
    assert.deepEqual(daily.buckets, [{ start: '2024-03-10T00:00:00.000Z', count: 3 }]);

    const types = first[`/api/v1/analytics/top?by=type&${DAY}`] as Record<string, unknown>;
    assert.equal(types.total_events, 14);
    assert.deepEqual(types.items, [
      { value: 'signup', count: 4 },
      { value: 'add_to_cart', count: 3 },
      { value: 'page_view', count: 3 },
      { value: 'purchase', count: 3 },
      { value: 'molecule_submitted', count: 1 },
    ]);
    assert.deepEqual((first[`/api/v1/analytics/top?by=page&${DAY}`] as { items: unknown }).items, [
      { value: '/home', count: 2 },
      { value: '/checkout', count: 1 },
      { value: '/pricing', count: 1 },
    ]);

    const funnel = first[
      `/api/v1/analytics/funnel?steps=signup,add_to_cart,purchase&window=3600&${DAY}`
    ] as { steps: { type: string; users: number; conversion: number }[] };
    assert.deepEqual(
      funnel.steps.map((s) => [s.type, s.users, s.conversion]),
      [
        ['signup', 4, 1],
        ['add_to_cart', 2, 0.5],
        ['purchase', 1, 0.25],
      ],
    );

    const jane = first.researcher as Record<string, unknown>;
    assert.equal(jane.molecules_submitted, 2);
    assert.equal(jane.submissions, 2);
    assert.equal(jane.distinct_formulas, 2);
    assert.equal(jane.weights_reported, 2);
    assert.equal(jane.weight_mismatches, 1, 'CH4 is not 20 g/mol');
    assert.equal(jane.mean_reported_weight, (18.015 + 20) / 2);
    assert.deepEqual(jane.experiments_over_time, [
      { day: '2024-03-09T00:00:00.000Z', count: 1 },
      { day: '2024-03-10T00:00:00.000Z', count: 1 },
    ]);

    // The worker reads the whole log again, as after a crash before committing its offsets.
    await db.query('UPDATE consumer_leases SET committed_offset = -1 WHERE group_id = $1', [
      WORKER_GROUP,
    ]);
    await caughtUp(db);
    assert.equal(await processedCount(url), DISTINCT_EVENTS);
    assert.deepEqual(await readAll(url), first, 'a redelivery changes no figure');
  });
}

test('an unknown user or researcher is a 404 problem (as documented); an empty range is zeros, not an error', async (t) => {
  const { url } = await startTestPlatform(t);
  for (const path of ['/api/v1/analytics/user/nobody', '/api/v1/analytics/researcher/Dr.%20No']) {
    const response = await fetch(url + path);
    assert.equal(response.status, 404, path);
    assert.equal(response.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  }
  const series = await getJson(
    `${url}/api/v1/analytics/events?interval=minute&from=2020-01-01T00:00:00Z&to=2020-01-01T00:05:00Z`,
  );
  assert.equal(series.status, 200);
  assert.equal(series.body.total, 0);
  assert.deepEqual(
    (series.body.buckets as { count: number }[]).map((b) => b.count),
    [0, 0, 0, 0, 0],
  );
  const top = await getJson(`${url}/api/v1/analytics/top?by=page`);
  assert.deepEqual([top.status, top.body.total_events, top.body.items], [200, 0, []]);
  const funnel = await getJson(`${url}/api/v1/analytics/funnel?steps=a&steps=b`);
  assert.equal(funnel.status, 200);
  assert.deepEqual(
    (funnel.body.steps as { type: string; users: number }[]).map((s) => [s.type, s.users]),
    [
      ['a', 0],
      ['b', 0],
    ],
  );
  const overview = await getJson(`${url}/api/v1/analytics/overview`);
  assert.equal(overview.status, 200);
  const docs = await getJson(`${url}/docs/json`);
  const paths = docs.body.paths as Record<string, { get: { tags: string[]; responses: object } }>;
  for (const path of [
    'user/{user_id}',
    'researcher/{name}',
    'events',
    'top',
    'funnel',
    'overview',
  ]) {
    assert.deepEqual(paths[`/api/v1/analytics/${path}`]?.get.tags, ['analytics'], path);
  }
  assert.ok('404' in (paths['/api/v1/analytics/user/{user_id}']?.get.responses ?? {}));
  assert.deepEqual(overview.body.totals, {
    processed: 0,
    dead_lettered: 0,
    retrying: 0,
    by_topic: {},
    by_type: {},
    first_day: null,
    last_day: null,
  });
  assert.deepEqual(overview.body.failure_rate, { all_time: 0, last_hour: 0 });
});

test('every bad query parameter is a 422 problem naming it', async (t) => {
  const { url } = await startTestPlatform(t);
  const cases: [string, string][] = [
    ['/events?interval=week', 'querystring.interval'],
    ['/events?from=yesterday', 'querystring.from'],
    ['/events?to=2024-03-10T12:00:00', 'querystring.to'], // no UTC offset
    ['/events?from=2024-03-10T12:00:00Z&to=2024-03-10T11:00:00Z', 'querystring.from'],
    ['/events?from=2024-03-10T12:00:00Z&to=2024-03-10T12:00:00Z', 'querystring.from'],
    [
      '/events?interval=minute&from=2024-01-01T00:00:00Z&to=2024-02-01T00:00:00Z',
      'querystring.interval',
    ],
    ['/events?colour=red', 'querystring.colour'],
    ['/top?by=colour', 'querystring.by'],
    ['/top?limit=0', 'querystring.limit'],
    ['/top?limit=ten', 'querystring.limit'],
    ['/funnel', 'querystring.steps'],
    ['/funnel?steps=signup', 'querystring.steps'],
    ['/funnel?steps=signup,signup', 'querystring.steps'],
    ['/funnel?steps=a,b&window=0', 'querystring.window'],
    ['/funnel?steps=a,b&from=2024-01-01T00:00:00Z&to=2024-03-01T00:00:00Z', 'querystring.to'],
    ['/user/ann?recent=1000', 'querystring.recent'],
  ];
  for (const [path, field] of cases) {
    const response = await fetch(`${url}/api/v1/analytics${path}`);
    const body = (await response.json()) as { status: number; errors?: { field: string }[] };
    assert.equal(response.status, 422, `${path}: ${JSON.stringify(body)}`);
    assert.equal(response.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.ok(
      body.errors?.some((e) => e.field === field),
      `${path} names ${field}: ${JSON.stringify(body.errors)}`,
    );
  }
});

test('with auth on, analytics need a key with analytics:read', async (t) => {
  const admin = 'admin-key-for-tests-0123456789abcdef';
  const { url } = await startTestPlatform(t, { AUTH: 'required', ADMIN_API_KEY: admin });
  const key = async (scope: string) => {
    const created = await postJson(
      `${url}/api/v1/keys`,
      { name: scope, scopes: [scope] },
      { authorization: `Bearer ${admin}` },
    );
    return created.body.key as string;
  };
  const overview = (token?: string) =>
    fetch(`${url}/api/v1/analytics/overview`, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
  assert.equal((await overview()).status, 401);
  assert.equal((await overview(await key('events:write'))).status, 403);
  assert.equal((await overview(await key('analytics:read'))).status, 200);
});
