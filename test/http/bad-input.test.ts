import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SEED_EXAMPLES, startTestPlatform } from '../helpers/platform.ts';

interface Answer {
  status: number;
  contentType: string | null;
  body: {
    type?: string;
    title?: string;
    status?: number;
    detail?: string;
    errors?: { field: string; message: string }[];
  };
}

async function send(
  url: string,
  body: string | Uint8Array,
  contentType = 'application/json',
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': contentType, ...headers },
    body,
  });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: text ? JSON.parse(text) : {},
  };
}

function assertProblem(answer: Answer, status: number, field?: string) {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.match(answer.contentType ?? '', /^application\/problem\+json/);
  assert.equal(answer.body.status, status);
  assert.match(answer.body.type ?? '', /^urn:herald:problem:/);
  if (field !== undefined) {
    assert.ok(
      answer.body.errors?.some((e) => e.field === field),
      `expected an error naming ${field}, got ${JSON.stringify(answer.body.errors)}`,
    );
  }
}

describe('bad input gets a 4xx problem+json and the server stays up', () => {
  let url = '';
  const cleanups: (() => unknown)[] = [];
  before(async () => {
    // One platform for the suite: every bad request below must leave it serving.
    const platform = await startTestPlatform(
      { after: (fn: () => unknown) => cleanups.push(fn) },
      { MAX_BODY_BYTES: '4096', BATCH_MAX_EVENTS: '5' },
    );
    url = platform.url;
  });
  after(() => Promise.all(cleanups.map((fn) => fn())));

  const analytics = () => `${url}/api/v1/events/analytics`;

  test('malformed JSON is 400', async () => {
    assertProblem(await send(analytics(), '{"user_id": "u1", '), 400);
  });

  test('an empty JSON body is 400', async () => {
    assertProblem(await send(analytics(), ''), 400);
  });

  test('a field of the wrong type is 422 naming it, and is not coerced', async () => {
    assertProblem(
      await send(analytics(), JSON.stringify({ user_id: 123, event_type: 'x' })),
      422,
      'user_id',
    );
  });

  test('a missing required field is 422 naming it', async () => {
    assertProblem(await send(analytics(), JSON.stringify({ user_id: 'u1' })), 422, 'event_type');
    assertProblem(
      await send(
        `${url}/api/v1/events/chemical`,
        JSON.stringify({ molecule_id: 'm', researcher: 'r', data: {} }),
      ),
      422,
      'data.formula',
    );
  });

  test('a timestamp that is not ISO 8601 is 422 naming it', async () => {
    const body = { ...SEED_EXAMPLES[0].body, timestamp: 'yesterday' };
    assertProblem(await send(analytics(), JSON.stringify(body)), 422, 'timestamp');
  });

  test('a non-positive weight is 422 naming it', async () => {
    const body = { ...SEED_EXAMPLES[1].body, data: { formula: 'H2O', weight: -1 } };
    assertProblem(
      await send(`${url}/api/v1/events/chemical`, JSON.stringify(body)),
      422,
      'data.weight',
    );
  });

  test('a body that is not an object is 422', async () => {
    assertProblem(await send(analytics(), '[1,2,3]'), 422);
    assertProblem(await send(analytics(), '"text"'), 422);
  });

  test('an oversized body is 413', async () => {
    const body = { ...SEED_EXAMPLES[0].body, metadata: { blob: 'x'.repeat(5000) } };
    assertProblem(await send(analytics(), JSON.stringify(body)), 413);
  });

  test('a wrong content type is 415', async () => {
    assertProblem(await send(analytics(), 'user_id=u1', 'application/x-www-form-urlencoded'), 415);
    assertProblem(
      await send(analytics(), JSON.stringify(SEED_EXAMPLES[0].body), 'text/plain'),
      415,
    );
  });

  test('prototype-pollution keys are refused with 400', async () => {
    assertProblem(
      await send(analytics(), '{"user_id":"u","event_type":"x","__proto__":{"admin":true}}'),
      400,
    );
    assertProblem(
      await send(
        analytics(),
        '{"user_id":"u","event_type":"x","constructor":{"prototype":{"admin":true}}}',
      ),
      400,
    );
    assert.equal(({} as Record<string, unknown>).admin, undefined);
  });

  test('invalid UTF-8 is refused with 4xx', async () => {
    const bytes = new Uint8Array([0x7b, 0x22, 0x75, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    const answer = await send(analytics(), bytes);
    assert.ok(answer.status >= 400 && answer.status < 500, `status ${answer.status}`);
  });

  test('deeply nested JSON within the size limit is refused with 4xx, not a crash', async () => {
    const deep = `${'['.repeat(2000)}${']'.repeat(2000)}`;
    const answer = await send(analytics(), deep);
    assert.ok(answer.status >= 400 && answer.status < 500, `status ${answer.status}`);
  });

  test('a batch over the event limit is 413 and an empty batch is 422', async () => {
    const six = Array.from({ length: 6 }, () => SEED_EXAMPLES[0].body);
    assertProblem(await send(`${url}/api/v1/events/batch`, JSON.stringify(six)), 413);
    assertProblem(await send(`${url}/api/v1/events/batch`, '[]'), 422);
  });

  test('a batch with only invalid events is 422 with a result per event', async () => {
    const answer = await send(`${url}/api/v1/events/batch`, JSON.stringify([{ user_id: 'u' }, 5]));
    assertProblem(answer, 422);
    assert.equal((answer.body as { results?: unknown[] }).results?.length, 2);
  });

  test('an NDJSON batch with a broken line is 400 naming the line', async () => {
    const answer = await send(
      `${url}/api/v1/events/batch`,
      '{"user_id":"u","event_type":"x"}\n{oops\n',
      'application/x-ndjson',
    );
    assertProblem(answer, 400);
    assert.match(answer.body.detail ?? '', /line 2/);
  });

  test('an invalid Idempotency-Key is 422 naming the header', async () => {
    const answer = await send(
      analytics(),
      JSON.stringify(SEED_EXAMPLES[0].body),
      'application/json',
      {
        'idempotency-key': ' spaces not allowed ',
      },
    );
    assertProblem(answer, 422, 'headers.idempotency-key');
  });

  test('an unknown route is a 404 problem', async () => {
    assertProblem(await send(`${url}/api/v1/nowhere`, '{}'), 404);
  });

  test('after all of the above the server still answers', async () => {
    const health = await fetch(`${url}/health`);
    assert.equal(health.status, 200);
    const ok = await send(analytics(), JSON.stringify(SEED_EXAMPLES[0].body));
    assert.equal(ok.status, 202);
  });
});
