/**
 * Secrets never reach the logs: the admin key, API keys (presented, created, refused), the
 * database password and the LLM key, at the most verbose log level, through key creation,
 * authenticated and refused requests and `herald config`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dropSchema, uniqueSchema } from '../helpers/databases.ts';
import { runHerald } from '../helpers/herald-process.ts';
import { postJson } from '../helpers/platform.ts';

const ADMIN = 'admin-secret-0123456789abcdef-0123456789';
const DB_PASSWORD = 'db-pass-9f8e7d6c5b4a';
const LLM_KEY = 'sk-llm-secret-5a4b3c2d1e';

test('no secret appears in any log line or in herald config, even at LOG_LEVEL=trace', async (t) => {
  const schema = uniqueSchema('herald_secrets');
  t.after(() => dropSchema(schema));
  // The local server trusts 127.0.0.1, so the password is carried (and must be hidden) but unused.
  const env = {
    DATABASE_URL: `postgresql://postgres:${DB_PASSWORD}@127.0.0.1:5432/test`,
    DATABASE_SCHEMA: schema,
    AUTH: 'required',
    ADMIN_API_KEY: ADMIN,
    LLM_API_KEY: LLM_KEY,
    LOG_LEVEL: 'trace',
  };
  const api = runHerald(t, ['api'], env);
  let stderr = '';
  api.child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const url = await api.url;

  const created = await postJson(
    `${url}/api/v1/keys`,
    { name: 'producer', scopes: ['events:write'] },
    { authorization: `Bearer ${ADMIN}` },
  );
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const key = created.body.key as string;
  const event = { event_type: 'click', user_id: 'u1', properties: {} };
  assert.equal(
    (await postJson(`${url}/events`, event, { authorization: `Bearer ${key}` })).status,
    202,
  );
  assert.equal((await postJson(`${url}/events`, event, { 'x-api-key': key })).status, 202);
  const guessed = `${key.slice(0, -4)}zzzz`;
  assert.equal(
    (await postJson(`${url}/events`, event, { authorization: `Bearer ${guessed}` })).status,
    401,
  );
  // A malformed body with a key: an error path that logs.
  await postJson(`${url}/events`, '{"broken', { authorization: `Bearer ${key}` });

  const config = runHerald(t, ['config'], env);
  let printed = '';
  config.child.stdout?.on('data', (chunk: string) => {
    printed += chunk;
  });
  assert.equal(await config.exited, 0);
  assert.ok(printed.length + config.logs.length > 0, 'herald config printed the configuration');
  assert.equal(await api.stop('SIGTERM'), 0);

  const logs = `${JSON.stringify(api.logs)}\n${stderr}\n${JSON.stringify(config.logs)}\n${printed}`;
  assert.ok(api.logs.length > 3, 'the API logged (so absence below means something)');
  for (const [name, secret] of Object.entries({
    ADMIN,
    DB_PASSWORD,
    LLM_KEY,
    key,
    secretOfKey: key.split('_').at(-1) ?? key,
    guessed,
  })) {
    assert.ok(!logs.includes(secret), `${name} appears in the logs`);
  }
});
