import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accessFor } from '../../../src/http/access.ts';
import { postJson, startTestPlatform } from '../../helpers/platform.ts';

const ADMIN = 'admin-key-for-tests-0123456789abcdef';
const hourAgo = () => new Date(Date.now() - 3_600_000).toISOString();

test('replays and the log’s status are admin routes; a replay records the key that asked', async (t) => {
  for (const [method, route] of [
    ['POST', '/api/v1/replays'],
    ['GET', '/api/v1/replays'],
    ['GET', '/api/v1/replays/:id'],
    ['POST', '/api/v1/replays/:id/pause'],
    ['GET', '/api/v1/log'],
    ['DELETE', '/api/v1/log/groups/:group'],
  ] as const) {
    assert.equal(accessFor(method, route), 'admin', `${method} ${route}`);
  }
  const { url } = await startTestPlatform(t, {
    AUTH: 'required',
    ADMIN_API_KEY: ADMIN,
    AGENTS_ENABLED: 'false',
  });
  const admin = { authorization: `Bearer ${ADMIN}` };
  const reader = await postJson(
    `${url}/api/v1/keys`,
    { name: 'dashboards', scopes: ['analytics:read', 'events:write'] },
    admin,
  );
  const ops = await postJson(`${url}/api/v1/keys`, { name: 'ops', scopes: ['admin'] }, admin);
  const body = { target: 'pipeline', from: hourAgo() };
  const refused = await postJson(`${url}/api/v1/replays`, body, {
    authorization: `Bearer ${reader.body.key}`,
  });
  assert.equal(refused.status, 403);
  assert.equal((await fetch(`${url}/api/v1/log`)).status, 401);
  const created = await postJson(`${url}/api/v1/replays`, body, {
    authorization: `Bearer ${ops.body.key}`,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.created_by, `ops (key ${ops.body.id})`);
  assert.equal(created.headers.get('location'), `/api/v1/replays/${created.body.id}`);
});

test('a replay that cannot be run is refused with the field that is wrong', async (t) => {
  const { url } = await startTestPlatform(t, { AGENTS_ENABLED: 'false' });
  const refusal = async (body: Record<string, unknown>, status = 422) => {
    const response = await postJson(`${url}/api/v1/replays`, body);
    assert.equal(response.status, status, JSON.stringify(response.body));
    return response.body;
  };
  const future = new Date(Date.now() + 3_600_000).toISOString();
  const errors = (b: Record<string, unknown>) =>
    (b.errors as { field: string }[] | undefined)?.map((e) => e.field);
  assert.deepEqual(errors(await refusal({ target: 'pipeline', from: hourAgo(), to: future })), [
    'to',
  ]);
  assert.deepEqual(
    errors(
      await refusal({
        target: 'pipeline',
        from: hourAgo(),
        to: new Date(Date.now() - 7_200_000).toISOString(),
      }),
    ),
    ['to'],
  );
  assert.deepEqual(errors(await refusal({ target: 'agent', from: hourAgo() })), ['target']);
  assert.deepEqual(errors(await refusal({ target: 'webhook', from: hourAgo() })), ['endpoint_id']);
  assert.deepEqual(
    errors(await refusal({ target: 'pipeline', from: hourAgo(), topics: ['users'] })),
    ['topics'],
  );
  const unknown = await refusal({ target: 'webhook', from: hourAgo(), endpoint_id: 'nope' }, 404);
  assert.match(String(unknown.detail), /no webhook endpoint with id "nope"/);
  await refusal({ target: 'elsewhere', from: hourAgo() });
  await refusal({ target: 'pipeline' });
  assert.equal((await fetch(`${url}/api/v1/replays/nope`)).status, 404);
  const openapi = (await (await fetch(`${url}/docs/json`)).json()) as {
    paths: Record<string, unknown>;
  };
  for (const path of ['/api/v1/replays', '/api/v1/replays/{id}/cancel', '/api/v1/log']) {
    assert.ok(path in openapi.paths, `${path} is documented`);
  }
});
