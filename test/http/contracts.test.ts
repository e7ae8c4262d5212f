/**
 * Event contracts at ingest (issue #21): every route that takes analytics or EventFlow events
 * checks them against their type's schema — reject answers 422 naming each failing place,
 * quarantine answers 202 and the worker dead-letters the event (reason schema_violation) until
 * it is replayed against a fixed schema — and the OpenAPI document shows each type's contract.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { getJson, postJson, startTestPlatform } from '../helpers/platform.ts';

async function send(method: string, url: string, body: unknown) {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** `purchase` (EventFlow `properties`) and `checkout` (analytics `metadata`). */
async function withContracts(t: Parameters<typeof startTestPlatform>[0]) {
  const platform = await startTestPlatform(t, {}, { database: 'postgres' });
  const { url } = platform;
  const purchase = {
    type: 'object',
    required: ['amount', 'currency'],
    properties: {
      amount: { type: 'number', exclusiveMinimum: 0 },
      currency: { type: 'string', pattern: '^[A-Z]{3}$' },
    },
  };
  const checkout = {
    type: 'object',
    required: ['step'],
    properties: { step: { enum: ['cart', 'address', 'payment'] } },
  };
  for (const [type, schema] of [
    ['purchase', purchase],
    ['checkout', checkout],
  ] as const) {
    const created = await send('PUT', `${url}/api/v1/schemas/${type}`, { schema });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  }
  return { ...platform, purchase, checkout };
}

const statusOf = async (url: string, id: string) =>
  (await getJson(`${url}/api/v1/events/${encodeURIComponent(id)}`)).body.status;

test('reject: each single-event route answers 422 naming every failing place; valid events are accepted', async (t) => {
  const { url } = await withContracts(t);
  const bad = await postJson(`${url}/events`, {
    event_type: 'purchase',
    user_id: 'u1',
    properties: { amount: -5, currency: 'euro' },
  });
  assert.equal(bad.status, 422);
  assert.equal(bad.body.type, 'urn:herald:problem:schema-violation');
  assert.equal(bad.body.event_type, 'purchase');
  assert.equal(bad.body.schema_version, 1);
  assert.deepEqual(bad.body.errors, [
    { field: 'properties.amount', message: 'must be > 0' },
    { field: 'properties.currency', message: 'must match pattern "^[A-Z]{3}$"' },
  ]);
  const missing = await postJson(`${url}/events`, { event_type: 'purchase', user_id: 'u1' });
  assert.equal(missing.status, 422, 'absent properties are an empty object to the contract');
  assert.deepEqual(
    (missing.body.errors as { field: string }[]).map((e) => e.field),
    ['properties.amount', 'properties.currency'],
  );
  const analytics = await postJson(`${url}/api/v1/events/analytics`, {
    event_type: 'checkout',
    user_id: 'u1',
    metadata: { step: 'shipping' },
  });
  assert.equal(analytics.status, 422);
  assert.deepEqual(analytics.body.errors, [
    { field: 'metadata.step', message: 'must be equal to one of the allowed values' },
  ]);

  const good = await postJson(`${url}/events`, {
    event_type: 'purchase',
    user_id: 'u1',
    properties: { amount: 12.5, currency: 'EUR', note: 'extra properties are fine here' },
  });
  assert.equal(good.status, 202);
  assert.equal(good.body.quarantined, undefined);
  const untyped = await postJson(`${url}/events`, { event_type: 'page_view', user_id: 'u1' });
  assert.equal(untyped.status, 202, 'a type without a schema passes as before');
  const id = String(good.body.event_id);
  await eventually(async () => ((await statusOf(url, id)) === 'processed' ? true : undefined));
});

test('reject in a batch: each item gets its own result, and the valid ones are accepted', async (t) => {
  const { url } = await withContracts(t);
  const batch = await postJson(`${url}/api/v1/events/batch`, [
    { event_type: 'purchase', user_id: 'u1', properties: { amount: 1, currency: 'USD' } },
    { event_type: 'purchase', user_id: 'u2', properties: { amount: 1, currency: 'usd' } },
    { event_type: 'checkout', user_id: 'u3', metadata: { step: 'cart' } },
    { event_type: 'checkout', user_id: 'u4', metadata: {} },
    { event_type: 'page_view', user_id: 'u5' },
  ]);
  assert.equal(batch.status, 202, JSON.stringify(batch.body));
  assert.equal(batch.body.accepted, 3);
  assert.equal(batch.body.rejected, 2);
  const results = batch.body.results as {
    status: string;
    errors?: { field: string }[];
    event_id?: string;
  }[];
  assert.deepEqual(
    results.map((r) => r.status),
    ['accepted', 'rejected', 'accepted', 'rejected', 'accepted'],
  );
  assert.deepEqual(
    results[1]?.errors?.map((e) => e.field),
    ['properties.currency'],
  );
  assert.deepEqual(
    results[3]?.errors?.map((e) => e.field),
    ['metadata.step'],
  );

  const allBad = await postJson(`${url}/api/v1/events/batch`, [
    { event_type: 'purchase', user_id: 'u1', properties: {} },
  ]);
  assert.equal(allBad.status, 422, 'no valid event in the batch');
  assert.equal((allBad.body.results as { status: string }[])[0]?.status, 'rejected');
});

test('an event names the version it was written for; an unknown version is refused', async (t) => {
  const { url, purchase } = await withContracts(t);
  // v2 drops the currency requirement (backward compatible: it accepts more).
  const v2 = await send('PUT', `${url}/api/v1/schemas/purchase`, {
    schema: { ...purchase, required: ['amount'] },
  });
  assert.equal(v2.status, 200, JSON.stringify(v2.body));
  const noCurrency = { event_type: 'purchase', user_id: 'u1', properties: { amount: 2 } };
  assert.equal((await postJson(`${url}/events`, noCurrency)).status, 202, 'latest (v2) accepts it');
  const asV1 = await postJson(`${url}/events`, { ...noCurrency, schema_version: 1 });
  assert.equal(asV1.status, 422, 'v1, which it names, does not');
  assert.equal(asV1.body.schema_version, 1);
  const unknown = await postJson(`${url}/events`, { ...noCurrency, schema_version: 7 });
  assert.equal(unknown.status, 422);
  assert.deepEqual(unknown.body.errors, [
    { field: 'schema_version', message: '"purchase" has no version 7 (the latest is 2)' },
  ]);
  const notANumber = await postJson(`${url}/events`, { ...noCurrency, schema_version: '2' });
  assert.deepEqual(notANumber.body.errors, [
    { field: 'schema_version', message: 'must be a positive integer' },
  ]);
});

test('quarantine: every route answers 202, the worker dead-letters with schema_violation and the paths, and a replay after the fix is processed', async (t) => {
  const { url, purchase, checkout } = await withContracts(t);
  for (const type of ['purchase', 'checkout']) {
    const patched = await send('PATCH', `${url}/api/v1/schemas/${type}`, {
      on_violation: 'quarantine',
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
  }
  const single = await postJson(`${url}/events`, {
    id: 'q-single',
    event_type: 'purchase',
    user_id: 'u1',
    properties: { amount: 10, currency: 'eur' },
  });
  assert.equal(single.status, 202);
  assert.equal(single.body.quarantined, true);
  assert.deepEqual(single.body.errors, [
    { field: 'properties.currency', message: 'must match pattern "^[A-Z]{3}$"' },
  ]);
  const analytics = await postJson(`${url}/api/v1/events/analytics`, {
    id: 'q-analytics',
    event_type: 'checkout',
    user_id: 'u2',
    metadata: { step: 'review' },
  });
  assert.equal(analytics.status, 202);
  assert.equal(analytics.body.quarantined, true);
  const batch = await postJson(`${url}/api/v1/events/batch`, [
    { id: 'q-batch-1', event_type: 'purchase', user_id: 'u3', properties: { amount: 0 } },
    {
      id: 'ok-batch-2',
      event_type: 'purchase',
      user_id: 'u4',
      properties: { amount: 5, currency: 'EUR' },
    },
  ]);
  assert.equal(batch.status, 202);
  const results = batch.body.results as { quarantined?: boolean; errors?: { field: string }[] }[];
  assert.equal(results[0]?.quarantined, true);
  assert.deepEqual(
    results[0]?.errors?.map((e) => e.field),
    ['properties.currency', 'properties.amount'],
  );
  assert.equal(results[1]?.quarantined, undefined);

  const quarantined = ['q-single', 'q-analytics', 'q-batch-1'];
  await eventually(async () => {
    const states = await Promise.all(quarantined.map((id) => statusOf(url, id)));
    return states.every((s) => s === 'dead_lettered') ? true : undefined;
  });
  await eventually(async () =>
    (await statusOf(url, 'ok-batch-2')) === 'processed' ? true : undefined,
  );
  const letter = await getJson(`${url}/api/v1/dead-letters/q-single`);
  assert.equal(letter.body.reason, 'schema_violation');
  assert.equal(letter.body.error_code, 'HERALD_SCHEMA_VIOLATION');
  assert.equal(
    letter.body.last_error,
    'schema_violation: purchase v1: properties.currency must match pattern "^[A-Z]{3}$"',
  );
  const listed = await getJson(`${url}/api/v1/dead-letters?reason=schema_violation`);
  assert.equal((listed.body.dead_letters as unknown[]).length, 3);

  // Replayed before the fix: checked again, dead again.
  const early = await send('POST', `${url}/api/v1/dead-letters/q-single/replay`, {});
  assert.equal(early.status, 202, JSON.stringify(early.body));
  await eventually(async () => {
    const { body } = await getJson(`${url}/api/v1/dead-letters/q-single`);
    return body.replay_count === 1 && (await statusOf(url, 'q-single')) === 'dead_lettered'
      ? true
      : undefined;
  });

  // The fix: the schemas accept what the producers send (backward compatible: they widen).
  const fixedPurchase = await send('PUT', `${url}/api/v1/schemas/purchase`, {
    schema: {
      ...purchase,
      required: ['amount'],
      properties: {
        amount: { type: 'number', minimum: 0 },
        currency: { type: 'string', pattern: '^[A-Za-z]{3}$' },
      },
    },
    compatibility: 'none',
  });
  assert.equal(fixedPurchase.status, 200, JSON.stringify(fixedPurchase.body));
  const fixedCheckout = await send('PUT', `${url}/api/v1/schemas/checkout`, {
    schema: {
      ...checkout,
      properties: { step: { enum: [...checkout.properties.step.enum, 'review'] } },
    },
  });
  assert.equal(fixedCheckout.status, 200, JSON.stringify(fixedCheckout.body));

  const replay = await send('POST', `${url}/api/v1/dead-letters/replay`, {
    reason: 'schema_violation',
  });
  assert.equal(replay.status, 202, JSON.stringify(replay.body));
  assert.equal(replay.body.replayed, 3);
  await eventually(async () => {
    const states = await Promise.all(quarantined.map((id) => statusOf(url, id)));
    return states.every((s) => s === 'processed') ? true : undefined;
  });
  const after = await getJson(`${url}/api/v1/dead-letters?reason=schema_violation`);
  assert.deepEqual(after.body.dead_letters, []);
});

test('the OpenAPI document shows each registered type with its schema, refs re-rooted', async (t) => {
  const { url } = await startTestPlatform(t, {}, { database: 'postgres' });
  await send('PUT', `${url}/api/v1/schemas/order.paid`, {
    schema: {
      type: 'object',
      properties: { total: { $ref: '#/$defs/money' } },
      $defs: { money: { type: 'number', minimum: 0 } },
    },
  });
  const { body: spec } = await getJson(`${url}/docs/json`);
  const components = (spec.components as { schemas: Record<string, Record<string, unknown>> })
    .schemas;
  const contract = components['Contract.order.paid'];
  assert.ok(contract, `components: ${Object.keys(components).join(', ')}`);
  assert.deepEqual((contract.properties as Record<string, unknown>).total, {
    $ref: '#/components/schemas/Contract.order.paid/$defs/money',
  });
  assert.equal((contract['x-herald-contract'] as { version: number }).version, 1);
  const body = (
    spec.paths as Record<string, { post: { requestBody: { content: Record<string, unknown> } } }>
  )['/events']?.post.requestBody.content['application/json'] as {
    schema: { anyOf: { title?: string; allOf?: { properties?: Record<string, unknown> }[] }[] };
  };
  const typed = body.schema.anyOf.find((s) => s.title === 'order.paid event');
  assert.deepEqual(typed?.allOf?.[1]?.properties?.properties, {
    $ref: '#/components/schemas/Contract.order.paid',
  });
  assert.equal(body.schema.anyOf.length, 2, 'the typed event, and the generic one');

  // A new version shows at once: the document is built per request.
  await send('PUT', `${url}/api/v1/schemas/order.paid`, {
    schema: {
      type: 'object',
      properties: { total: { $ref: '#/$defs/money' } },
      $defs: { money: { type: 'number', minimum: 0 } },
      title: 'paid',
    },
  });
  const { body: later } = await getJson(`${url}/docs/json`);
  const laterContract = (later.components as { schemas: Record<string, Record<string, unknown>> })
    .schemas['Contract.order.paid'];
  assert.equal(
    (laterContract?.['x-herald-contract'] as { version: number } | undefined)?.version,
    2,
  );
});
