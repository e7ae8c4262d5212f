import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../../src/config.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { startPlatform } from '../../../src/platform/start.ts';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../../helpers/databases.ts';
import { eventually } from '../../helpers/eventually.ts';
import { startFakeHttp } from '../../helpers/fake-http.ts';
import { getJson, postJson, startTestPlatform } from '../../helpers/platform.ts';

const ADMIN_KEY = 'test-admin-key-of-at-least-32-characters';

async function send(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : {} };
}

const purchaseV1 = {
  type: 'object',
  additionalProperties: false,
  required: ['amount'],
  properties: {
    amount: { type: 'number', minimum: 0 },
    currency: { type: 'string', pattern: '^[A-Z]{3}$' },
  },
};

test('a schema is registered in versions, read back latest or by version, listed, diffed and deprecated', async (t) => {
  const { url } = await startTestPlatform(t, {}, { database: 'postgres' });
  const created = await send('PUT', `${url}/api/v1/schemas/purchase`, {
    schema: purchaseV1,
    description: 'a completed order',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.outcome, 'created');
  assert.equal(created.body.version, 1);
  assert.equal(created.body.compatibility, 'backward', 'the default');
  assert.equal(created.body.on_violation, 'reject', 'the default');
  assert.equal(created.headers.get('location'), '/api/v1/schemas/purchase?version=1');

  const again = await send('PUT', `${url}/api/v1/schemas/purchase`, { schema: purchaseV1 });
  assert.equal(again.status, 200);
  assert.equal(again.body.outcome, 'unchanged', 'the same schema is not a new version');
  assert.equal(again.body.version, 1);

  const v2 = {
    ...purchaseV1,
    properties: { ...purchaseV1.properties, coupon: { type: 'string' } },
  };
  const preview = await send('PUT', `${url}/api/v1/schemas/purchase?dry_run=true`, { schema: v2 });
  assert.equal(preview.status, 200);
  assert.deepEqual(preview.body.changes, [
    { path: '/properties/coupon', change: 'added', to: { type: 'string' } },
  ]);
  assert.equal((await getJson(`${url}/api/v1/schemas/purchase`)).body.version, 1, 'dry run');

  const updated = await send('PUT', `${url}/api/v1/schemas/purchase`, { schema: v2 });
  assert.equal(updated.status, 200, JSON.stringify(updated.body));
  assert.equal(updated.body.outcome, 'version');
  assert.equal(updated.body.version, 2);

  assert.equal((await getJson(`${url}/api/v1/schemas/purchase`)).body.version, 2);
  const first = await getJson(`${url}/api/v1/schemas/purchase?version=1`);
  assert.deepEqual(first.body.schema, purchaseV1);
  assert.equal(first.body.latest_version, 2);
  assert.equal((await getJson(`${url}/api/v1/schemas/purchase?version=9`)).status, 404);
  assert.equal((await getJson(`${url}/api/v1/schemas/unknown`)).status, 404);

  const list = await getJson(`${url}/api/v1/schemas`);
  assert.deepEqual(
    (list.body.schemas as { event_type: string; latest_version: number }[]).map((s) => [
      s.event_type,
      s.latest_version,
    ]),
    [['purchase', 2]],
  );
  const versions = await getJson(`${url}/api/v1/schemas/purchase/versions`);
  assert.deepEqual(
    (versions.body.versions as { version: number }[]).map((v) => v.version),
    [1, 2],
  );

  const diff = await getJson(`${url}/api/v1/schemas/purchase/diff`);
  assert.equal(diff.body.from, 1);
  assert.equal(diff.body.to, 2);
  assert.deepEqual(diff.body.backward, { compatible: true, breaks: [] });
  const forward = diff.body.forward as { compatible: boolean; breaks: { field: string }[] };
  assert.equal(forward.compatible, false, 'v1 refuses the coupon v2 allows');
  assert.equal(forward.breaks[0]?.field, 'coupon');

  const deprecated = await send('PATCH', `${url}/api/v1/schemas/purchase`, {
    deprecated: true,
    deprecation_message: 'send order_completed instead',
  });
  assert.equal(deprecated.status, 200, JSON.stringify(deprecated.body));
  assert.equal(deprecated.body.deprecated, true);
  assert.equal(deprecated.body.version, 2, 'a settings change is no new version');
  // Events of a deprecated type are still accepted, with a Deprecation header (RFC 9745).
  const event = await postJson(`${url}/events`, {
    event_type: 'purchase',
    user_id: 'u1',
    properties: { amount: 3 },
  });
  assert.equal(event.status, 202);
  assert.match(event.headers.get('deprecation') ?? '', /^@\d+$/);

  const changes = await getJson(`${url}/api/v1/schemas/purchase/changes`);
  assert.deepEqual(
    (changes.body.changes as { change: string }[]).map((c) => c.change),
    ['deprecated', 'version', 'created'],
  );
});

test('an incompatible change is refused with 409 naming each break; compatibility none lets it through', async (t) => {
  const { url } = await startTestPlatform(t, {}, { database: 'postgres' });
  await send('PUT', `${url}/api/v1/schemas/purchase`, { schema: purchaseV1 });
  const breaking = {
    ...purchaseV1,
    required: ['amount', 'currency'],
    properties: { ...purchaseV1.properties, amount: { type: 'integer', minimum: 0 } },
  };
  const refused = await send('PUT', `${url}/api/v1/schemas/purchase`, { schema: breaking });
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(refused.body.type, 'urn:herald:problem:incompatible-schema');
  assert.equal(refused.body.compatibility, 'backward');
  assert.equal(refused.body.against_version, 1);
  const breaks = refused.body.breaks as { keyword: string; field: string; message: string }[];
  assert.deepEqual(
    breaks.map((b) => [b.keyword, b.field]),
    [
      ['required', 'currency'],
      ['type', 'amount'],
    ],
  );
  assert.match(String(refused.body.detail), /v2 requires "currency"/);
  assert.equal((await getJson(`${url}/api/v1/schemas/purchase`)).body.version, 1, 'nothing stored');

  const forced = await send('PUT', `${url}/api/v1/schemas/purchase`, {
    schema: breaking,
    compatibility: 'none',
  });
  assert.equal(forced.status, 200, JSON.stringify(forced.body));
  assert.equal(forced.body.version, 2);
  assert.equal(forced.body.compatibility, 'none', 'the type keeps the mode it was changed under');
});

test('changes need the admin scope and record the key that made them; reading needs analytics:read', async (t) => {
  const { url } = await startTestPlatform(
    t,
    { AUTH: 'required', ADMIN_API_KEY: ADMIN_KEY },
    { database: 'postgres' },
  );
  const admin = { authorization: `Bearer ${ADMIN_KEY}` };
  const key = async (name: string, scopes: string[]) => {
    const created = await send('POST', `${url}/api/v1/keys`, { name, scopes }, admin);
    assert.equal(created.status, 201);
    return { authorization: `Bearer ${created.body.key}`, id: String(created.body.id) };
  };
  const writer = await key('shop ingest', ['events:write']);
  const reader = await key('analyst', ['analytics:read']);
  const deployer = await key('schema deploy', ['admin']);
  const body = { schema: purchaseV1 };
  const asWriter = await send('PUT', `${url}/api/v1/schemas/purchase`, body, {
    authorization: writer.authorization,
  });
  assert.equal(asWriter.status, 403);
  assert.equal((await send('PUT', `${url}/api/v1/schemas/purchase`, body)).status, 401);
  const asAdmin = await send('PUT', `${url}/api/v1/schemas/purchase`, body, {
    authorization: deployer.authorization,
  });
  assert.equal(asAdmin.status, 201);
  assert.deepEqual(asAdmin.body.created_by, { key_id: deployer.id, name: 'schema deploy' });
  const read = await send('GET', `${url}/api/v1/schemas/purchase`, undefined, {
    authorization: reader.authorization,
  });
  assert.equal(read.status, 200);
  assert.deepEqual(read.body.updated_by, { key_id: deployer.id, name: 'schema deploy' });
  const patched = await send(
    'PATCH',
    `${url}/api/v1/schemas/purchase`,
    { on_violation: 'quarantine' },
    { authorization: reader.authorization },
  );
  assert.equal(patched.status, 403, 'analytics:read cannot change settings');
});

test('hostile schemas are refused with 422 naming the part; a remote $ref is never fetched', async (t) => {
  const { url } = await startTestPlatform(t, {}, { database: 'postgres' });
  const remote = await startFakeHttp(t);
  const put = (schema: unknown) => send('PUT', `${url}/api/v1/schemas/hostile`, { schema });
  const fieldsOf = (body: Record<string, unknown>) =>
    (body.errors as { field: string }[]).map((e) => e.field);

  const withRemote = await put({
    type: 'object',
    properties: { a: { $ref: `${remote.url}/schema.json` } },
  });
  assert.equal(withRemote.status, 422);
  assert.equal(withRemote.body.type, 'urn:herald:problem:invalid-schema');
  assert.deepEqual(fieldsOf(withRemote.body), ['schema/properties/a/$ref']);

  let deep: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i < 13; i++) deep = { type: 'object', properties: { a: deep } };
  const tooDeep = await put(deep);
  assert.equal(tooDeep.status, 422);
  assert.deepEqual(fieldsOf(tooDeep.body), [`schema${'/properties/a'.repeat(13)}`]);

  const huge = await put({
    type: 'object',
    properties: Object.fromEntries(
      Array.from({ length: 4000 }, (_, i) => [`p${i}`, { type: 'string', maxLength: 10 }]),
    ),
  });
  assert.equal(huge.status, 422);
  assert.match(String((huge.body.errors as { message: string }[])[0]?.message), /at most 65536/);

  const lookaround = await put({
    type: 'object',
    properties: { a: { type: 'string', pattern: '^(?!admin).*$' } },
  });
  assert.equal(lookaround.status, 422);
  assert.deepEqual(fieldsOf(lookaround.body), ['schema/properties/a/pattern']);

  const tricks = await put({
    type: 'object',
    properties: { a: { $dynamicRef: '#x' }, b: { minLength: 'ten' }, c: { isEven: true } },
  });
  assert.equal(tricks.status, 422);
  assert.deepEqual(fieldsOf(tricks.body), [
    'schema/properties/a/$dynamicRef',
    'schema/properties/c/isEven',
  ]);
  const badValue = await put({ type: 'object', properties: { b: { minLength: 'ten' } } });
  assert.equal(badValue.status, 422, 'the meta-schema names a wrong value');
  assert.deepEqual(fieldsOf(badValue.body), ['schema/properties/b/minLength']);

  // A catastrophic pattern is accepted: it runs on RE2, in linear time, at ingest too.
  const catastrophic = await put({
    type: 'object',
    properties: { a: { type: 'string', pattern: '^(a+)+$' } },
  });
  assert.equal(catastrophic.status, 201, JSON.stringify(catastrophic.body));
  const attack = await postJson(`${url}/events`, {
    event_type: 'hostile',
    user_id: 'u1',
    properties: { a: `${'a'.repeat(100_000)}!` },
  });
  assert.equal(attack.status, 422, 'refused, and answered');
  assert.equal(remote.requests.length, 0, 'the remote schema was never fetched');
});

test('SCHEMAS_REQUIRED refuses events of types without a schema, and keeps accepting the rest', async (t) => {
  const { url } = await startTestPlatform(
    t,
    { SCHEMAS_REQUIRED: 'true' },
    { database: 'postgres' },
  );
  await send('PUT', `${url}/api/v1/schemas/signup`, { schema: { type: 'object' } });
  const known = await postJson(`${url}/api/v1/events/analytics`, {
    event_type: 'signup',
    user_id: 'u1',
  });
  assert.equal(known.status, 202);
  const unknown = await postJson(`${url}/api/v1/events/analytics`, {
    event_type: 'page_view',
    user_id: 'u1',
  });
  assert.equal(unknown.status, 422);
  assert.deepEqual(unknown.body.errors, [
    {
      field: 'event_type',
      message: '"page_view" has no registered schema, and SCHEMAS_REQUIRED is on',
    },
  ]);
  const chemical = await postJson(`${url}/api/v1/events/chemical`, {
    molecule_id: 'm1',
    researcher: 'r',
    data: { formula: 'H2O' },
  });
  assert.equal(chemical.status, 202, 'chemical events carry no contract');
  await eventually(async () => {
    const { body } = await getJson(`${url}/api/v1/events/${known.body.event_id}`);
    return body.status === 'processed' ? true : undefined;
  });
});

test('two API processes on one database: a schema registered on one is in force on the other within SCHEMAS_POLL_MS', async (t) => {
  const schema = uniqueSchema();
  t.after(() => dropSchema(schema));
  const pollMs = 1000;
  const start = async () => {
    const config = loadConfig(
      {},
      {
        DATABASE_URL: POSTGRES_URL,
        DATABASE_SCHEMA: schema,
        PORT: '0',
        LOG_LEVEL: 'silent',
        OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
        SCHEMAS_POLL_MS: String(pollMs),
      },
    );
    const platform = await startPlatform(config, createLogger('silent'), {
      api: true,
      worker: false,
    });
    t.after(() => platform.stop());
    return platform.url ?? '';
  };
  // Started one after the other: the first migrates.
  const first = await start();
  const second = await start();
  const event = { event_type: 'purchase', user_id: 'u1', properties: { amount: 'ten' } };
  assert.equal((await postJson(`${second}/events`, event)).status, 202, 'no schema yet');

  const registered = await send('PUT', `${first}/api/v1/schemas/purchase`, { schema: purchaseV1 });
  assert.equal(registered.status, 201);
  const changedAt = Date.now();
  const refused = await eventually(
    async () => {
      const answer = await postJson(`${second}/events`, event);
      return answer.status === 422 ? answer : undefined;
    },
    { timeoutMs: 30_000, message: 'the schema in force on the second API' },
  );
  // The stated bound is SCHEMAS_POLL_MS plus one reload (notifications usually win); the slack
  // is for a loaded machine, not part of the bound.
  assert.ok(Date.now() - changedAt < pollMs + 15_000);
  assert.deepEqual(
    (refused.body.errors as { field: string }[]).map((e) => e.field),
    ['properties.amount'],
  );
  const seen = await getJson(`${second}/api/v1/schemas/purchase`);
  assert.equal(seen.body.version, 1);
});
