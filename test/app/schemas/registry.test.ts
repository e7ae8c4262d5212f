import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { eventually } from '../../helpers/eventually.ts';
import { startFakeHttp, status } from '../../helpers/fake-http.ts';
import { postJson, startTestPlatform } from '../../helpers/platform.ts';

const ADMIN_KEY = 'test-admin-key-of-at-least-32-characters';

test('webhook subscribers receive schema.created and schema.updated, signed, naming the key that made each change', async (t) => {
  const receiver = await startFakeHttp(t, status(204));
  const { url } = await startTestPlatform(
    t,
    {
      AUTH: 'required',
      ADMIN_API_KEY: ADMIN_KEY,
      WEBHOOK_ALLOW_PRIVATE_TARGETS: '127.0.0.1',
      NOTIFY_POLL_MS: '20',
      OUTBOX_POLL_MS: '20',
      AGENTS_ENABLED: 'false',
    },
    { database: 'postgres' },
  );
  const admin = { authorization: `Bearer ${ADMIN_KEY}` };
  const endpoint = await postJson(
    `${url}/api/v1/notifications/webhooks`,
    { url: `${receiver.url}/herald`, event_types: ['schema.*'] },
    admin,
  );
  assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
  const put = async (schema: unknown) => {
    const response = await fetch(`${url}/api/v1/schemas/purchase`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...admin },
      body: JSON.stringify({ schema }),
    });
    assert.ok(response.status === 201 || response.status === 200, await response.text());
  };
  await put({ type: 'object', properties: { amount: { type: 'number' } } });
  await put({ type: 'object', properties: { amount: { type: 'number' } }, title: 'purchase' });
  await put({ type: 'object', properties: { amount: { type: 'number' } }, title: 'purchase' });

  const requests = await eventually(
    () => (receiver.requests.length >= 2 ? receiver.requests : undefined),
    { message: 'two webhooks' },
  );
  const verifier = new Webhook(endpoint.body.secret as string);
  const payloads = requests.map((request) => {
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([k, v]) => [k, String(v)]),
    );
    return verifier.verify(request.text, headers) as {
      type: string;
      data: {
        change: string;
        schema: { event_type: string; version: number; schema: { title?: string } };
        actor: { key_id: string; name: string };
      };
    };
  });
  payloads.sort((a, b) => a.data.schema.version - b.data.schema.version);
  assert.deepEqual(
    payloads.map((p) => [p.type, p.data.change, p.data.schema.version]),
    [
      ['schema.created', 'created', 1],
      ['schema.updated', 'version', 2],
    ],
  );
  assert.equal(payloads[1]?.data.schema.schema.title, 'purchase');
  assert.deepEqual(payloads[0]?.data.actor, { key_id: 'admin-api-key', name: 'ADMIN_API_KEY' });
  // The third PUT changed nothing: no change recorded, so no event to announce it.
  const changes = await fetch(`${url}/api/v1/schemas/purchase/changes`, { headers: admin });
  const logged = (await changes.json()) as { changes: { change: string }[] };
  assert.deepEqual(
    logged.changes.map((c) => c.change),
    ['version', 'created'],
  );
});
