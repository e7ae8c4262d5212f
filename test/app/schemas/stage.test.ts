/**
 * The worker's contract stage, with the API and the worker in separate processes: what the
 * API accepted as valid is processed even if the schema changed since; what it quarantined is
 * dead-lettered even if the type's setting changed since; replays are checked as they come.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../../src/config.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { type Roles, startPlatform } from '../../../src/platform/start.ts';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../../helpers/databases.ts';
import { eventually } from '../../helpers/eventually.ts';
import { getJson, postJson } from '../../helpers/platform.ts';

async function send(method: string, url: string, body: unknown) {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.ok(response.ok, `${method} ${url}: ${response.status} ${await response.text()}`);
}

test('the worker trusts the API’s check on first delivery, dead-letters what it quarantined, and checks replays', async (t) => {
  const schema = uniqueSchema();
  t.after(() => dropSchema(schema));
  const start = async (roles: Roles) => {
    const config = loadConfig(
      {},
      {
        DATABASE_URL: POSTGRES_URL,
        DATABASE_SCHEMA: schema,
        PORT: '0',
        OPS_PORT: '0',
        LOG_LEVEL: 'silent',
        WORKER_POLL_MS: '10',
        OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
        AGENTS_ENABLED: 'false',
      },
    );
    const platform = await startPlatform(config, createLogger('silent'), roles);
    t.after(() => platform.stop());
    return platform;
  };
  const api = await start({ api: true, worker: false });
  const url = api.url ?? '';
  const purchase = (required: string[]) => ({
    schema: { type: 'object', required, properties: { amount: { type: 'number' } } },
  });
  await send('PUT', `${url}/api/v1/schemas/purchase`, purchase(['amount']));
  const valid = await postJson(`${url}/events`, {
    id: 'checked-valid',
    event_type: 'purchase',
    user_id: 'u1',
    properties: { amount: 1 },
  });
  assert.equal(valid.status, 202);
  await send('PATCH', `${url}/api/v1/schemas/purchase`, { on_violation: 'quarantine' });
  const quarantined = await postJson(`${url}/events`, {
    id: 'quarantined',
    event_type: 'purchase',
    user_id: 'u2',
    properties: { amount: 'one' },
  });
  assert.equal(quarantined.body.quarantined, true);
  // Before any worker runs: the type goes back to reject, and v2 (compatibility none) requires
  // a field the valid event lacks.
  await send('PATCH', `${url}/api/v1/schemas/purchase`, { on_violation: 'reject' });
  await send('PUT', `${url}/api/v1/schemas/purchase`, {
    ...purchase(['amount', 'currency']),
    compatibility: 'none',
  });

  await start({ api: false, worker: true });
  const statusOf = async (id: string) => (await getJson(`${url}/api/v1/events/${id}`)).body;
  await eventually(
    async () => ((await statusOf('checked-valid')).status === 'processed' ? true : undefined),
    {
      message: 'the event the API found valid, processed',
    },
  );
  await eventually(
    async () => ((await statusOf('quarantined')).status === 'dead_lettered' ? true : undefined),
    {
      message: 'the quarantined event, dead-lettered',
    },
  );
  const letter = await getJson(`${url}/api/v1/dead-letters/quarantined`);
  assert.equal(letter.body.reason, 'schema_violation');
  assert.match(String(letter.body.last_error), /^schema_violation: purchase v2: /);

  // A replay is checked against the registry as it is: v3 accepts a string amount.
  await send('PUT', `${url}/api/v1/schemas/purchase`, {
    schema: { type: 'object', properties: { amount: { type: ['number', 'string'] } } },
  });
  await send('POST', `${url}/api/v1/dead-letters/quarantined/replay`, {});
  await eventually(
    async () => ((await statusOf('quarantined')).status === 'processed' ? true : undefined),
    {
      message: 'the replay, processed against v3',
    },
  );
});
