import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../../helpers/eventually.ts';
import { getJson, postJson, SEED_EXAMPLES, startTestPlatform } from '../../helpers/platform.ts';

test('each seed example is accepted with 202, an event id and a Location to follow it', async (t) => {
  const { url } = await startTestPlatform(t);
  for (const example of SEED_EXAMPLES) {
    const response = await postJson(url + example.path, example.body, {
      'x-correlation-id': 'corr-1',
    });
    assert.equal(response.status, 202, example.path);
    assert.equal(response.body.status, 'accepted');
    assert.equal(typeof response.body.event_id, 'string');
    assert.equal(response.body.duplicate, false);
    assert.equal(response.headers.get('x-correlation-id'), 'corr-1');
    assert.equal(response.headers.get('location'), `/api/v1/events/${response.body.event_id}`);
    const record = await eventually(async () => {
      const { body } = await getJson(`${url}/api/v1/events/${response.body.event_id}`);
      return body.status === 'processed' ? body : undefined;
    });
    assert.deepEqual(record.payload, example.body);
  }
});

test('a chemical event is enriched with the computed molar mass and a weight mismatch flag', async (t) => {
  const { url } = await startTestPlatform(t);
  const sent = await postJson(`${url}/api/v1/events/chemical`, {
    molecule_id: 'm1',
    researcher: 'Dr. A',
    data: { formula: 'CuSO4·5H2O', weight: 159.6 },
  });
  const record = await eventually(async () => {
    const { body } = await getJson(`${url}/api/v1/events/${sent.body.event_id}`);
    return body.status === 'processed' ? body : undefined;
  });
  const chemistry = (record.enrichment as { chemistry: Record<string, unknown> }).chemistry;
  assert.equal(chemistry.molar_mass, 249.677);
  assert.equal(chemistry.hill_formula, 'CuH10O9S');
  assert.equal(chemistry.weight_matches, false);
});

test('a retried request with the same id or Idempotency-Key returns the same id and stores one event', async (t) => {
  const { url, db } = await startTestPlatform(t);
  const body = { user_id: 'u1', event_type: 'click' };
  const first = await postJson(`${url}/api/v1/events/analytics`, body, {
    'idempotency-key': 'order-42',
  });
  const again = await postJson(`${url}/api/v1/events/analytics`, body, {
    'idempotency-key': 'order-42',
  });
  assert.equal(first.body.event_id, 'order-42');
  assert.equal(again.body.event_id, 'order-42');
  assert.equal(first.body.duplicate, false);
  assert.equal(again.body.duplicate, true);

  const withId = { ...body, id: 'evt-1' };
  const a = await postJson(`${url}/api/v1/events/analytics`, withId);
  const b = await postJson(`${url}/api/v1/events/analytics`, withId);
  assert.equal(a.body.event_id, 'evt-1');
  assert.equal(b.body.duplicate, true);

  await eventually(async () => {
    const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM processed_events');
    return row?.n === 2 ? true : undefined;
  });
  const [raw] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM raw_events');
  assert.equal(raw?.n, 2);
});

test('concurrent requests are made durable together in few commits (group commit)', async (t) => {
  const platform = await startTestPlatform(t, {}, { database: 'postgres' });
  const responses = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      postJson(`${platform.url}/events`, { event_type: 'signup', user_id: `u${i}` }),
    ),
  );
  assert.ok(responses.every((r) => r.status === 202));
  const metric = await platform.metrics.publishBatchSize.get();
  const count =
    metric.values.find((v) => v.metricName === 'herald_publish_batch_events_count')?.value ?? 0;
  assert.ok(count < 200, `200 requests took ${count} commits`);
});

test('a batch accepts its valid items and reports each invalid one by index', async (t) => {
  const { url } = await startTestPlatform(t);
  const response = await postJson(`${url}/api/v1/events/batch`, [
    SEED_EXAMPLES[0].body,
    { user_id: 'u1' },
    SEED_EXAMPLES[1].body,
    { topic: 'nope', user_id: 'u' },
    SEED_EXAMPLES[2].body,
  ]);
  assert.equal(response.status, 202);
  assert.equal(response.body.accepted, 3);
  assert.equal(response.body.rejected, 2);
  const results = response.body.results as {
    index: number;
    status: string;
    topic?: string;
    errors?: { field: string }[];
  }[];
  assert.deepEqual(
    results.map((r) => [r.index, r.status, r.topic]),
    [
      [0, 'accepted', 'analytics'],
      [1, 'rejected', undefined],
      [2, 'accepted', 'chemical'],
      [3, 'rejected', undefined],
      [4, 'accepted', 'events'],
    ],
  );
  assert.equal(results[1]?.errors?.[0]?.field, 'event_type');
  assert.equal(results[3]?.errors?.[0]?.field, 'topic');
});

test('a batch can be sent as NDJSON and as {"events": [...]}', async (t) => {
  const { url } = await startTestPlatform(t);
  const ndjson = `${SEED_EXAMPLES.map((e) => JSON.stringify(e.body)).join('\n')}\n`;
  const response = await fetch(`${url}/api/v1/events/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: ndjson,
  });
  assert.equal(response.status, 202);
  assert.equal(((await response.json()) as { accepted: number }).accepted, 3);
  const wrapped = await postJson(`${url}/api/v1/events/batch`, { events: [SEED_EXAMPLES[0].body] });
  assert.equal(wrapped.status, 202);
  assert.equal(wrapped.body.accepted, 1);
});

test('batch items without ids get "<Idempotency-Key>:<index>" so a retried batch stores nothing new', async (t) => {
  const { url } = await startTestPlatform(t);
  const items = [SEED_EXAMPLES[0].body, SEED_EXAMPLES[2].body];
  const first = await postJson(`${url}/api/v1/events/batch`, items, { 'idempotency-key': 'b-7' });
  const again = await postJson(`${url}/api/v1/events/batch`, items, { 'idempotency-key': 'b-7' });
  assert.deepEqual(
    (first.body.results as { event_id: string }[]).map((r) => r.event_id),
    ['b-7:0', 'b-7:1'],
  );
  assert.equal(again.body.duplicates, 2);
});

test('an unknown event id is a 404 problem', async (t) => {
  const { url } = await startTestPlatform(t);
  const response = await fetch(`${url}/api/v1/events/does-not-exist`);
  assert.equal(response.status, 404);
  assert.equal(response.headers.get('content-type'), 'application/problem+json; charset=utf-8');
});
