import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { isReadRoute } from '../../src/http/read-server.ts';
import { eventually } from '../helpers/eventually.ts';
import { runHerald } from '../helpers/herald-process.ts';
import { getJson, postJson, SEED_EXAMPLES } from '../helpers/platform.ts';

test('the read port passes GET and HEAD of the read routes only', () => {
  for (const url of [
    '/',
    '/health',
    '/health/ready',
    '/docs',
    '/docs/json',
    '/api/v1/analytics/user/user_12345',
    '/api/v1/schemas/purchase',
    '/api/v1/analytics/researcher/Dr.%20Jane%20Smith?x=1',
    '/api/v1/events/abc',
    '/api/v1/molecules/mol_h2o_001',
  ]) {
    assert.equal(isReadRoute('GET', url), true, url);
  }
  assert.equal(isReadRoute('HEAD', '/health'), true);
  assert.equal(isReadRoute('POST', '/api/v1/events/analytics'), false);
  assert.equal(isReadRoute('DELETE', '/api/v1/events/abc'), false);
  for (const url of [
    '/events',
    '/metrics',
    '/api/v1/keys',
    '/api/v1/notifications/deliveries',
    '/users/',
    '/dashboard/',
    '/api/v1/dead-letters',
  ]) {
    assert.equal(isReadRoute('GET', url), false, url);
  }
});

test('against a real herald start: GET / describes the service, and seed 000’s analytics GETs work on the read port', async (t) => {
  const herald = runHerald(t, ['start'], { DATA_DIR: 'memory://', READ_PORT: '0' });
  const url = await herald.url;
  const root = await getJson(`${url}/`);
  assert.equal(root.status, 200);
  assert.equal(root.body.name, 'herald');
  assert.match(String(root.body.version), /^\d+\.\d+\.\d+/);
  assert.deepEqual(root.body.links, {
    docs: '/docs',
    openapi: '/docs/json',
    dashboard: '/dashboard/',
    health: '/health',
    ready: '/health/ready',
  });
  const docs = await fetch(`${url}/docs/json`);
  assert.equal(docs.status, 200, 'the links lead somewhere');

  const listening = herald.logs.find((l) => l.msg === 'read api listening');
  const read = String(listening?.url);
  assert.match(read, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(read, url);
  assert.equal(herald.logs.find((l) => String(l.msg).startsWith('herald ready'))?.read, read);

  const ids: string[] = [];
  for (const example of SEED_EXAMPLES) {
    const response = await postJson(url + example.path, example.body);
    assert.equal(response.status, 202);
    ids.push(response.body.event_id as string);
  }
  for (const id of ids) {
    await eventually(async () =>
      (await getJson(`${read}/api/v1/events/${id}`)).body.status === 'processed' ? true : undefined,
    );
  }
  // Seed 000's client, unchanged but for the port's host.
  const user = await getJson(`${read}/api/v1/analytics/user/user_12345`);
  assert.equal(user.status, 200);
  assert.deepEqual(
    user.body,
    (await getJson(`${url}/api/v1/analytics/user/user_12345`)).body,
    'the same answer as the main port',
  );
  assert.ok(JSON.stringify(user.body).includes('page_view'), JSON.stringify(user.body));
  const researcher = await getJson(`${read}/api/v1/analytics/researcher/Dr.%20Jane%20Smith`);
  assert.equal(researcher.status, 200);
  assert.ok(
    JSON.stringify(researcher.body).includes('mol_h2o_001'),
    JSON.stringify(researcher.body),
  );
  const docsPage = await fetch(`${read}/docs`, { redirect: 'follow' });
  assert.equal(docsPage.status, 200);
  assert.equal((await getJson(`${read}/`)).body.name, 'herald');

  const write = await postJson(`${read}/api/v1/events/analytics`, SEED_EXAMPLES[0].body);
  assert.equal(write.status, 404, 'no writes on the read port');
  assert.match(String(write.body.detail), new RegExp(`is served at ${url}`));
  assert.equal(await herald.stop('SIGTERM'), 0);
});

test('a taken READ_PORT is skipped with a warning; the API starts all the same', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  const herald = runHerald(t, ['start'], { DATA_DIR: 'memory://', READ_PORT: String(port) });
  const url = await herald.url;
  const warning = herald.logs.find((l) => l.setting === 'READ_PORT');
  assert.equal(warning?.level, 40);
  assert.match(String(warning?.msg), new RegExp(`READ_PORT ${port} is taken`));
  assert.equal((await getJson(`${url}/health`)).status, 200);
  assert.equal(await herald.stop('SIGTERM'), 0);
});
