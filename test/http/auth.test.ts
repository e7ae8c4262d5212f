import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { accessFor, authRequired } from '../../src/http/access.ts';
import { overloadGuard } from '../../src/http/overload.ts';
import { getJson, postJson, SEED_EXAMPLES, startTestPlatform } from '../helpers/platform.ts';

const ADMIN = 'admin-key-for-tests-0123456789abcdef';
const analytics = SEED_EXAMPLES[0];

test('AUTH=auto requires keys exactly when the API listens beyond loopback', () => {
  assert.equal(authRequired('auto', '127.0.0.1'), false);
  assert.equal(authRequired('auto', '::1'), false);
  assert.equal(authRequired('auto', 'localhost'), false);
  assert.equal(authRequired('auto', '0.0.0.0'), true);
  assert.equal(authRequired('auto', '10.1.2.3'), true);
  assert.equal(authRequired('required', '127.0.0.1'), true);
  assert.equal(authRequired('disabled', '0.0.0.0'), false);
});

test('the access policy: writes need events:write, reads analytics:read, probes and docs are open, the rest is admin', () => {
  assert.equal(accessFor('POST', '/api/v1/events/analytics'), 'events:write');
  assert.equal(accessFor('POST', '/events'), 'events:write');
  assert.equal(accessFor('GET', '/api/v1/events/:id'), 'analytics:read');
  assert.equal(accessFor('GET', '/api/v1/analytics/user/:user_id'), 'analytics:read');
  assert.equal(accessFor('GET', '/metrics'), 'metrics:read');
  assert.equal(accessFor('GET', '/health/ready'), 'public');
  assert.equal(accessFor('GET', '/docs/json'), 'public');
  assert.equal(accessFor('POST', '/api/v1/dead-letters/:id/replay'), 'admin');
  assert.equal(accessFor('POST', '/api/v1/keys'), 'admin');
  assert.equal(accessFor('DELETE', '/api/v1/something-new'), 'admin', 'unknown routes are closed');
});

test('with auth on, requests need a valid key with the right scope; keys are shown once and stored hashed', async (t) => {
  const { url, db } = await startTestPlatform(t, { AUTH: 'required', ADMIN_API_KEY: ADMIN });
  const admin = { authorization: `Bearer ${ADMIN}` };

  const anonymous = await postJson(url + analytics.path, analytics.body);
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer/);
  assert.equal(
    (await postJson(url + analytics.path, analytics.body, { authorization: 'Bearer hk_nope' }))
      .status,
    401,
  );
  assert.equal((await fetch(`${url}/health`)).status, 200, 'liveness stays open');

  const created = await postJson(
    `${url}/api/v1/keys`,
    { name: 'shop', scopes: ['events:write'] },
    admin,
  );
  assert.equal(created.status, 201);
  const key = created.body.key as string;
  assert.match(key, /^hk_[A-Za-z0-9]{12}_/);
  const rows = await db.query<{ key_hash: string }>('SELECT key_hash FROM api_keys');
  assert.ok(rows.every((r) => !r.key_hash.includes(key) && r.key_hash.length === 64));
  const listed = await fetch(`${url}/api/v1/keys`, { headers: admin });
  assert.ok(!(await listed.text()).includes(key), 'a key is never shown again');

  const sent = await postJson(url + analytics.path, analytics.body, { 'x-api-key': key });
  assert.equal(sent.status, 202);
  const read = await fetch(`${url}/api/v1/events/${sent.body.event_id}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  assert.equal(read.status, 403, 'events:write does not grant reading');
  const dlq = await fetch(`${url}/api/v1/dead-letters`, {
    headers: { authorization: `Bearer ${key}` },
  });
  assert.equal(dlq.status, 403);

  const revoked = await fetch(`${url}/api/v1/keys/${created.body.id}`, {
    method: 'DELETE',
    headers: admin,
  });
  assert.equal(revoked.status, 204);
  assert.equal(
    (await postJson(url + analytics.path, analytics.body, { 'x-api-key': key })).status,
    401,
  );
});

test('with auth on, each key is rate limited and told when to retry', async (t) => {
  const { url } = await startTestPlatform(t, {
    AUTH: 'required',
    ADMIN_API_KEY: ADMIN,
    RATE_LIMIT_PER_MINUTE: '3',
  });
  const statuses: number[] = [];
  let limited: Awaited<ReturnType<typeof postJson>> | undefined;
  for (let i = 0; i < 4; i++) {
    const answer = await postJson(url + analytics.path, analytics.body, {
      authorization: `Bearer ${ADMIN}`,
    });
    statuses.push(answer.status);
    if (answer.status === 429) limited = answer;
  }
  assert.deepEqual(statuses, [202, 202, 202, 429]);
  assert.match(limited?.headers.get('content-type') ?? '', /problem\+json/);
  assert.ok(Number(limited?.headers.get('retry-after')) > 0);
});

test('a body nested deeper than MAX_JSON_DEPTH is refused with 400', async (t) => {
  const { url } = await startTestPlatform(t, { MAX_JSON_DEPTH: '8' });
  let nested: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < 10; i++) nested = { nested };
  const answer = await postJson(url + analytics.path, { ...analytics.body, metadata: nested });
  assert.equal(answer.status, 400);
  assert.equal(answer.body.type, 'urn:herald:problem:json-too-deep');
  assert.equal((await postJson(url + analytics.path, analytics.body)).status, 202);
  const { status } = await getJson(`${url}/health`);
  assert.equal(status, 200);
});

test('ingestion sheds load with 503 + Retry-After when too many events wait for a commit; reads are not shed', async (t) => {
  let pending = 0;
  const app = Fastify();
  await app.register(overloadGuard, {
    maxEventLoopDelayMs: 0,
    maxPendingEvents: 100,
    pendingEvents: () => pending,
  });
  app.post('/api/v1/events/analytics', async () => 'accepted');
  app.get('/api/v1/events/:id', async () => 'read');
  t.after(() => app.close());
  assert.equal(
    (await app.inject({ method: 'POST', url: '/api/v1/events/analytics' })).statusCode,
    200,
  );
  pending = 101;
  const shed = await app.inject({ method: 'POST', url: '/api/v1/events/analytics' });
  assert.equal(shed.statusCode, 503);
  assert.equal(shed.headers['retry-after'], '1');
  assert.match(String(shed.headers['content-type']), /problem\+json/);
  assert.equal((await app.inject({ method: 'GET', url: '/api/v1/events/x' })).statusCode, 200);
});

test('a stall before the server listens (starting up) is not taken for overload', async (t) => {
  const app = Fastify();
  await app.register(overloadGuard, {
    maxEventLoopDelayMs: 500,
    maxPendingEvents: 0,
    pendingEvents: () => 0,
  });
  app.post('/api/v1/events/analytics', async () => 'accepted');
  t.after(() => app.close());
  // Longer than a sampling second and the threshold: what a slow start (modules, migrations)
  // does to the loop before the first request can arrive. After a few ticks, so that a delay
  // monitor running since the plugin was registered would see it.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const until = Date.now() + 1100;
  while (Date.now() < until) {
    // busy: the event loop is blocked
  }
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const answer = await fetch(`${url}/api/v1/events/analytics`, { method: 'POST' });
  assert.equal(answer.status, 200, await answer.text());
});

test('with REDIS_URL set, API processes share one rate budget per key (counted in Redis)', async (t) => {
  // Two API processes on one database and one Redis: 3 requests a minute for the key in all.
  const namespace = `herald_rl_${Math.random().toString(36).slice(2, 10)}`;
  const settings = {
    AUTH: 'required',
    ADMIN_API_KEY: ADMIN,
    RATE_LIMIT_PER_MINUTE: '3',
    REDIS_URL: 'redis://127.0.0.1:6379',
    BROKER_NAMESPACE: namespace,
  };
  const first = await startTestPlatform(t, settings, {
    roles: { api: true, worker: false },
    database: 'postgres',
  });
  const second = await startTestPlatform(t, settings, {
    roles: { api: true, worker: false },
    database: 'postgres',
  });
  const statuses: number[] = [];
  for (const url of [first.url, second.url, first.url, second.url]) {
    const answer = await postJson(url + analytics.path, analytics.body, {
      authorization: `Bearer ${ADMIN}`,
    });
    statuses.push(answer.status);
  }
  assert.deepEqual(
    statuses,
    [202, 202, 202, 429],
    'the fourth request, on either process, is limited',
  );
});
