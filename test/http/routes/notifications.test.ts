import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accessFor } from '../../../src/http/access.ts';
import { startFakeHttp, status } from '../../helpers/fake-http.ts';
import { startTestPlatform } from '../../helpers/platform.ts';

const ADMIN = 'admin-key-for-notification-tests-0123456789';
const admin = { authorization: `Bearer ${ADMIN}` };

async function call(
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = admin,
) {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {}, text };
}

test('every notification route needs the admin scope', async (t) => {
  for (const [method, route] of [
    ['GET', '/api/v1/notifications'],
    ['GET', '/api/v1/notifications/:id'],
    ['POST', '/api/v1/notifications/webhooks'],
    ['PATCH', '/api/v1/notifications/webhooks/:id'],
    ['POST', '/api/v1/notifications/webhooks/:id/rotate-secret'],
    ['DELETE', '/api/v1/notifications/webhooks/:id'],
    ['POST', '/api/v1/notifications/push-subscriptions'],
  ] as const) {
    assert.equal(accessFor(method, route), 'admin', `${method} ${route}`);
  }
  const { url } = await startTestPlatform(
    t,
    { AUTH: 'required', ADMIN_API_KEY: ADMIN, NOTIFICATIONS_ENABLED: 'false' },
    { database: 'postgres' },
  );
  const reader = await call(`${url}/api/v1/keys`, 'POST', {
    name: 'r',
    scopes: ['analytics:read'],
  });
  const readerHeaders = { authorization: `Bearer ${reader.body.key}` };
  assert.equal((await call(`${url}/api/v1/notifications`, 'GET', undefined, {})).status, 401);
  assert.equal(
    (await call(`${url}/api/v1/notifications`, 'GET', undefined, readerHeaders)).status,
    403,
  );
  assert.equal(
    (await call(`${url}/api/v1/notifications/webhooks`, 'GET', undefined, readerHeaders)).status,
    403,
  );
  assert.equal((await call(`${url}/api/v1/notifications`, 'GET')).status, 200);
  const openapi = (await call(`${url}/docs/json`, 'GET', undefined, {})).body;
  for (const path of [
    '/api/v1/notifications',
    '/api/v1/notifications/{id}',
    '/api/v1/notifications/webhooks',
    '/api/v1/notifications/webhooks/{id}/rotate-secret',
  ]) {
    const operations = Object.values(openapi.paths[path] ?? {}) as Array<{ tags?: string[] }>;
    assert.ok(operations.length > 0, `${path} is documented`);
    assert.ok(
      operations.every((o) => o.tags?.includes('notifications')),
      path,
    );
  }
});

test('webhook endpoints: created with a secret shown once, listed without it, rotated, disabled, re-enabled, deleted', async (t) => {
  const receiver = await startFakeHttp(t, status(200));
  const { url } = await startTestPlatform(
    t,
    {
      AUTH: 'required',
      ADMIN_API_KEY: ADMIN,
      NOTIFICATIONS_ENABLED: 'false',
      WEBHOOK_ALLOW_PRIVATE_TARGETS: '127.0.0.1',
    },
    { database: 'postgres' },
  );
  const base = `${url}/api/v1/notifications/webhooks`;
  const created = await call(base, 'POST', {
    url: `${receiver.url}/hook`,
    event_types: ['user.*'],
    description: 'CRM sync',
  });
  assert.equal(created.status, 201, created.text);
  assert.match(created.body.secret, /^whsec_/);
  assert.equal(created.body.enabled, true);
  const id = created.body.id as string;

  const listed = await call(base, 'GET');
  assert.equal(listed.body.endpoints.length, 1);
  assert.ok(!listed.text.includes(created.body.secret), 'the secret is never shown again');
  assert.ok(!(await call(`${base}/${id}`, 'GET')).text.includes('whsec_'));

  const rotated = await call(`${base}/${id}/rotate-secret`, 'POST');
  assert.equal(rotated.status, 200);
  assert.match(rotated.body.secret, /^whsec_/);
  assert.notEqual(rotated.body.secret, created.body.secret);
  assert.ok(Date.parse(rotated.body.previous_secret_expires_at) > Date.now());

  const disabled = await call(`${base}/${id}`, 'PATCH', { enabled: false });
  assert.equal(disabled.body.enabled, false);
  assert.equal(disabled.body.disabled_reason, 'disabled by an admin');
  const enabled = await call(`${base}/${id}`, 'PATCH', { enabled: true, event_types: ['*'] });
  assert.equal(enabled.body.enabled, true);
  assert.deepEqual(enabled.body.event_types, ['*']);

  assert.equal((await call(`${base}/${id}`, 'DELETE')).status, 204);
  assert.equal((await call(`${base}/${id}`, 'DELETE')).status, 404);
  assert.equal((await call(`${base}/${id}/rotate-secret`, 'POST')).status, 404);
});

test('bad webhook input is a 422 naming the field: private targets, bad URLs, no event types, bad secrets', async (t) => {
  const { url } = await startTestPlatform(
    t,
    { AUTH: 'required', ADMIN_API_KEY: ADMIN, NOTIFICATIONS_ENABLED: 'false' },
    { database: 'postgres' },
  );
  const base = `${url}/api/v1/notifications/webhooks`;
  for (const target of [
    'http://127.0.0.1:9/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://10.0.0.8/hook',
    'http://[::1]/hook',
    'http://localhost/hook',
  ]) {
    const refused = await call(base, 'POST', { url: target, event_types: ['*'] });
    assert.equal(refused.status, 422, target);
    assert.equal(refused.body.errors?.[0]?.field, 'url', target);
  }
  const notUrl = await call(base, 'POST', { url: 'not a url', event_types: ['*'] });
  assert.equal(notUrl.status, 422);
  assert.ok(notUrl.body.errors.some((e: { field: string }) => e.field === 'url'));
  const noTypes = await call(base, 'POST', { url: 'https://hooks.example/x', event_types: [] });
  assert.equal(noTypes.status, 422);
  assert.ok(noTypes.body.errors.some((e: { field: string }) => e.field === 'event_types'));
  const badSecret = await call(base, 'POST', {
    url: 'http://127.0.0.1:9/hook',
    event_types: ['*'],
    secret: 'hunter2',
  });
  assert.equal(badSecret.status, 422, 'the url is refused first');
  assert.equal((await call(`${url}/api/v1/notifications?status=bogus`, 'GET')).status, 422);
  assert.equal((await call(`${url}/api/v1/notifications/nope`, 'GET')).status, 404);
});
