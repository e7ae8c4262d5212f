import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { defaultStages, type Stage } from '../../src/app/pipeline.ts';
import { loadConfig } from '../../src/config.ts';
import { ErrorCodes, HeraldError } from '../../src/errors.ts';
import { createLogger, withEventLogContext } from '../../src/observability/logger.ts';
import { startPlatform } from '../../src/platform/start.ts';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../helpers/databases.ts';
import { eventually } from '../helpers/eventually.ts';
import { startFakeOpenAi } from '../helpers/fake-openai.ts';
import { getJson, postJson } from '../helpers/platform.ts';

type Line = Record<string, unknown> & { msg?: string };

/** A logger whose lines are kept, parsed, in `lines`. */
function capturingLogger(level = 'info') {
  const lines: Line[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const text of String(chunk).split('\n')) {
        if (text.trim() !== '') lines.push(JSON.parse(text) as Line);
      }
      done();
    },
  });
  return { logger: createLogger(level, destination), lines };
}

/** pino writes asynchronously to a stream; wait for the lines to land. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

test('credentials in headers, configuration and options are redacted wherever they sit', async () => {
  const { logger, lines } = capturingLogger();
  logger.info(
    {
      req: { headers: { authorization: 'Bearer hk_abc_secret', 'x-api-key': 'k-1', host: 'h' } },
      config: { databaseUrl: 'postgres://u:pw@db/x', llmApiKey: 'sk-live-1', port: 8000 },
      provider: { apiKey: 'sk-live-2', password: 'hunter2', token: 't-1', baseUrl: 'http://x' },
      request: { headers: { authorization: 'Basic dXNlcjpwYXNz' } },
    },
    'something happened',
  );
  await settle();
  const text = JSON.stringify(lines);
  for (const secret of [
    'hk_abc_secret',
    'k-1',
    'pw@',
    'sk-live-1',
    'sk-live-2',
    'hunter2',
    't-1',
  ]) {
    assert.ok(!text.includes(secret), `${secret} must not be logged`);
  }
  const [line] = lines as [{ config: { port: number }; provider: { baseUrl: string } }];
  assert.equal(line.config.port, 8000, 'what is not a secret stays');
  assert.equal(line.provider.baseUrl, 'http://x');
});

test('lines logged inside an event context carry its eventId and correlationId, across awaits', async () => {
  const { logger, lines } = capturingLogger();
  logger.info('before');
  await withEventLogContext({ eventId: 'ev-1', correlationId: 'corr-1' }, async () => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    logger.info('inside');
    logger.info({ eventId: 'ev-explicit' }, 'explicit wins');
  });
  logger.info('after');
  await settle();
  const byMessage = Object.fromEntries(lines.map((l) => [l.msg, l]));
  assert.equal(byMessage.before?.eventId, undefined);
  assert.equal(byMessage.inside?.eventId, 'ev-1');
  assert.equal(byMessage.inside?.correlationId, 'corr-1');
  assert.equal(byMessage['explicit wins']?.eventId, 'ev-explicit');
  assert.equal(byMessage['explicit wins']?.correlationId, 'corr-1');
  assert.equal(byMessage.after?.eventId, undefined);
});

/** Dead-letters `bad-*` ids; fails `flaky-*` ids transiently once. */
function picky(): Stage {
  const failed = new Set<string>();
  return {
    name: 'picky',
    run({ message }) {
      if (message.id.startsWith('bad-')) throw new HeraldError(ErrorCodes.VALIDATION, 'refused');
      if (message.id.startsWith('flaky-') && !failed.has(message.id)) {
        failed.add(message.id);
        throw new HeraldError(ErrorCodes.TRANSIENT, 'try again', { retryable: true });
      }
    },
  };
}

test('every line the platform logs about an event carries its eventId and the request’s correlationId', async (t) => {
  const fake = await startFakeOpenAi(t);
  // A wrong molar mass: the agent rejects the answer and logs it.
  fake.setDefault({ kind: 'answer', molarMass: 1 });
  const schema = uniqueSchema();
  t.after(() => dropSchema(schema));
  const config = loadConfig(
    {},
    {
      DATABASE_URL: POSTGRES_URL,
      DATABASE_SCHEMA: schema,
      PORT: '0',
      LOG_LEVEL: 'info',
      WORKER_POLL_MS: '10',
      RETRY_BASE_MS: '1',
      RETRY_MAX_MS: '5',
      OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
      LLM_BASE_URL: fake.url,
      LLM_RETRY_BASE_MS: '5',
      AGENTS_REENRICH_INTERVAL_MS: '0',
      ADMIN_API_KEY: 'hk_adminadminad_thisIsTheAdminSecretThatMustNeverBeLogged00000',
    },
  );
  const { logger, lines } = capturingLogger();
  const platform = await startPlatform(
    config,
    logger,
    { api: true, worker: true },
    {
      stages: [...defaultStages, picky()],
    },
  );
  t.after(() => platform.stop());
  const url = platform.url ?? '';
  const send = (path: string, body: Record<string, unknown>, correlationId: string) =>
    postJson(`${url}${path}`, body, {
      'x-correlation-id': correlationId,
      authorization: `Bearer ${config.adminApiKey}`,
    });
  await send('/events', { id: 'bad-1', event_type: 'purchase', user_id: 'u' }, 'corr-bad');
  await send(
    '/api/v1/events/analytics',
    { id: 'flaky-1', event_type: 'click', user_id: 'u' },
    'corr-flaky',
  );
  await send(
    '/api/v1/events/chemical',
    { id: 'chem-1', molecule_id: 'm-1', researcher: 'r', data: { formula: 'C8H10N4O2' } },
    'corr-chem',
  );
  await eventually(async () => {
    const [flaky, chem] = await Promise.all(
      ['flaky-1', 'chem-1'].map(async (id) => (await getJson(`${url}/api/v1/events/${id}`)).body),
    );
    return flaky?.status === 'processed' &&
      chem?.status === 'processed' &&
      lines.some((l) => l.msg === 'LLM answer rejected')
      ? true
      : undefined;
  });
  await settle();

  const expected: Record<string, string> = {
    'bad-1': 'corr-bad',
    'flaky-1': 'corr-flaky',
    'chem-1': 'corr-chem',
  };
  const about = lines.filter((l) => typeof l.eventId === 'string');
  const messages = new Set(about.map((l) => l.msg));
  for (const msg of ['event dead-lettered', 'event failed, will retry', 'LLM answer rejected']) {
    assert.ok(messages.has(msg), `a "${msg}" line was logged`);
  }
  for (const line of about) {
    assert.equal(line.correlationId, expected[String(line.eventId)], JSON.stringify(line));
  }
  assert.ok(
    !JSON.stringify(lines).includes('thisIsTheAdminSecret'),
    'the admin key is never logged',
  );
});
