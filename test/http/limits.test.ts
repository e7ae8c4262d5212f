/**
 * Regression tests of issue #17: what PostgreSQL cannot store is refused at the API with a 422
 * naming the field — times past its limits in every body and query that takes one, integers
 * past its integers, ids longer than a lookup can take — and the limits themselves are
 * accepted and stored.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { getJson, postJson, SEED_EXAMPLES, startTestPlatform } from '../helpers/platform.ts';

type Json = Record<string, unknown>;

/** Valid RFC 3339 or ISO 8601 times the store cannot hold, each past one limit. */
const UNSTORABLE_TIMES = [
  '2024-01-01T12:00:00+20:00',
  '2024-01-01T12:00:00-16:00',
  '294277-01-01T00:00:00Z',
  '-4714-01-01T00:00:00Z',
  '0000-01-01T00:00:00Z',
  '2016-12-31T23:59:60Z',
];

/** The limits themselves: UTC offsets of ±15:59. */
const EDGE_TIMES = ['2024-01-01T12:00:00+15:59', '2024-01-01T12:00:00-15:59'];

const ADMIN = 'admin-key-for-limits-tests-0123456789';

interface Problem {
  status: number;
  errors?: { field: string; message: string }[];
  results?: { index: number; status: string; errors?: { field: string }[] }[];
}

function names(body: Problem, field: string): boolean {
  return body.errors?.some((e) => e.field === field) === true;
}

describe('times PostgreSQL cannot store are refused on every route that takes one', () => {
  let url = '';
  let document: Json = {};
  const cleanups: (() => unknown)[] = [];
  before(async () => {
    const platform = await startTestPlatform(
      { after: (fn: () => unknown) => cleanups.push(fn) },
      { ADMIN_API_KEY: ADMIN },
      { database: 'postgres' },
    );
    url = platform.url;
    document = (await getJson(`${url}/docs/json`)).body;
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  /** Every query parameter of the document that is a date-time, by operation. */
  function timeQueries(): { path: string; param: string }[] {
    const found: { path: string; param: string }[] = [];
    for (const [path, item] of Object.entries(document.paths as Record<string, Json>)) {
      const get = item.get as { parameters?: Json[] } | undefined;
      for (const p of get?.parameters ?? []) {
        if (p.in === 'query' && (p.schema as Json).format === 'date-time') {
          found.push({ path, param: String(p.name) });
        }
      }
    }
    return found;
  }

  /** Every request body of the document with a top-level date-time field. */
  function timeBodies(): { path: string; field: string }[] {
    const found: { path: string; field: string }[] = [];
    for (const [path, item] of Object.entries(document.paths as Record<string, Json>)) {
      const post = item.post as Json | undefined;
      const content = (post?.requestBody as Json | undefined)?.content as
        | Record<string, { schema: Json }>
        | undefined;
      const properties = (content?.['application/json']?.schema.properties ?? {}) as Record<
        string,
        Json
      >;
      for (const [field, schema] of Object.entries(properties)) {
        if (schema.format === 'date-time') found.push({ path, field });
      }
    }
    return found;
  }

  const extra: Record<string, string> = { '/api/v1/analytics/funnel': 'steps=a,b&' };

  test('in query parameters: 422 naming querystring.<name>, never a 500', async () => {
    const queries = timeQueries();
    assert.ok(queries.length >= 10, `date-time query parameters: ${queries.length}`);
    for (const { path, param } of queries) {
      for (const time of UNSTORABLE_TIMES) {
        const target = `${url}${path}?${extra[path] ?? ''}${param}=${encodeURIComponent(time)}`;
        const { status, body } = await getJson(target);
        assert.equal(status, 422, `${path}?${param}=${time}: ${JSON.stringify(body)}`);
        assert.ok(
          names(body as unknown as Problem, `querystring.${param}`),
          `${path} ${param} ${time}`,
        );
      }
    }
  });

  test('in query parameters, offsets of ±15:59 are accepted', async () => {
    const [from, to] = EDGE_TIMES.map(encodeURIComponent);
    for (const path of new Set(timeQueries().map((q) => q.path))) {
      const range = path.includes('dead-letters')
        ? `since=${from}&until=${to}`
        : `from=${from}&to=${to}`;
      const { status, body } = await getJson(`${url}${path}?${extra[path] ?? ''}${range}`);
      assert.equal(status, 200, `${path}: ${JSON.stringify(body)}`);
    }
  });

  test('analytics ranges, widened to whole days and read past their end, stay within the years PostgreSQL reads: 0002–9998 (past them 422, not 500)', async () => {
    const analytics = [
      '/api/v1/analytics/events',
      '/api/v1/analytics/top',
      '/api/v1/analytics/funnel',
    ];
    const e = encodeURIComponent;
    for (const path of analytics) {
      for (const [param, time] of [
        ['to', '9999-12-31T23:59:59Z'],
        ['from', '0001-01-01T00:00:00+15:00'],
      ] as const) {
        const { status, body } = await getJson(
          `${url}${path}?${extra[path] ?? ''}${param}=${e(time)}`,
        );
        assert.equal(status, 422, `${path} ${param}=${time}: ${JSON.stringify(body)}`);
        assert.ok(names(body as unknown as Problem, `querystring.${param}`));
      }
      const range = `from=${e('9998-12-30T00:00:00Z')}&to=${e('9998-12-31T23:59:59-15:59')}`;
      const late = await getJson(`${url}${path}?${extra[path] ?? ''}${range}`);
      assert.equal(late.status, 200, `${path}: ${JSON.stringify(late.body)}`);
    }
  });

  test('in request bodies: 422 naming the field', async () => {
    const bodies = timeBodies();
    assert.deepEqual([...new Set(bodies.map((b) => b.path))].sort(), [
      '/api/v1/dead-letters/purge',
      '/api/v1/dead-letters/replay',
      '/api/v1/events/analytics',
      '/api/v1/events/chemical',
      '/api/v1/replays',
      '/events',
    ]);
    const examples: Record<string, Json> = {
      '/api/v1/events/analytics': SEED_EXAMPLES[0].body,
      '/api/v1/events/chemical': SEED_EXAMPLES[1].body,
      '/events': SEED_EXAMPLES[2].body,
      '/api/v1/replays': { target: 'pipeline', dry_run: true },
    };
    for (const { path, field } of bodies) {
      for (const time of UNSTORABLE_TIMES) {
        const sent = await postJson(`${url}${path}`, { ...examples[path], [field]: time });
        assert.equal(sent.status, 422, `${path} ${field}=${time}: ${JSON.stringify(sent.body)}`);
        assert.ok(names(sent.body as unknown as Problem, field), `${path} names ${field}`);
      }
    }
  });

  test('in a batch: the item with the time is rejected naming it, the others are accepted', async () => {
    for (const time of UNSTORABLE_TIMES) {
      const items: Json[] = SEED_EXAMPLES.map((e) => ({ ...e.body }));
      items.push({ ...SEED_EXAMPLES[0].body, timestamp: time });
      const sent = await postJson(`${url}/api/v1/events/batch`, items);
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      const results = (sent.body as unknown as Problem).results ?? [];
      assert.deepEqual(
        results.map((r) => r.status),
        ['accepted', 'accepted', 'accepted', 'rejected'],
      );
      assert.ok(
        results[3]?.errors?.some((e) => e.field === 'timestamp'),
        time,
      );
    }
  });

  test('offsets of ±15:59 are accepted and stored as the instants they name', async () => {
    const user = `edge-${Date.now()}`;
    const ids: string[] = [];
    for (const timestamp of EDGE_TIMES) {
      const sent = await postJson(`${url}/api/v1/events/analytics`, {
        user_id: user,
        event_type: 'page_view',
        timestamp,
      });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      ids.push(String(sent.body.event_id));
    }
    const batch = await postJson(`${url}/api/v1/events/batch`, [
      { user_id: user, event_type: 'click', timestamp: EDGE_TIMES[0] },
    ]);
    assert.equal(batch.body.accepted, 1);
    for (const id of ids) {
      await eventually(async () => {
        const { body } = await getJson(`${url}/api/v1/events/${id}`);
        return body.status === 'processed' ? true : undefined;
      });
    }
    const summary = await eventually(async () => {
      const { status, body } = await getJson(`${url}/api/v1/analytics/user/${user}`);
      return status === 200 && body.total_events === 3 ? body : undefined;
    });
    assert.equal(summary.first_seen, '2023-12-31T20:01:00.000Z');
    assert.equal(summary.last_seen, '2024-01-02T03:59:00.000Z');
  });
});

describe('integers, ids and headers the store or a lookup cannot take', () => {
  let url = '';
  const cleanups: (() => unknown)[] = [];
  before(async () => {
    const platform = await startTestPlatform(
      { after: (fn: () => unknown) => cleanups.push(fn) },
      { ADMIN_API_KEY: ADMIN },
      { database: 'postgres' },
    );
    url = platform.url;
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  test('GET /users/?offset= past bigint is a 422 naming the offset; the largest accepted offset answers', async () => {
    const headers = { authorization: `Bearer ${ADMIN}` };
    const huge = await fetch(`${url}/users/?offset=99999999999999999999`, { headers });
    const body = (await huge.json()) as Problem;
    assert.equal(huge.status, 422, JSON.stringify(body));
    assert.ok(names(body, 'querystring.offset'));
    const largest = await fetch(`${url}/users/?offset=2147483647`, { headers });
    assert.equal(largest.status, 200);
    assert.deepEqual(await largest.json(), []);
  });

  test('a 200-character id or Idempotency-Key is accepted and can be looked up; 201 is a 422 naming it', async () => {
    const longest = `a${'/:@+=._-'.repeat(22)}`.padEnd(200, 'z');
    assert.equal(longest.length, 200);
    const byId = await postJson(`${url}/api/v1/events/analytics`, {
      ...SEED_EXAMPLES[0].body,
      id: longest,
    });
    assert.equal(byId.status, 202, JSON.stringify(byId.body));
    const found = await fetch(`${url}/api/v1/events/${encodeURIComponent(longest)}`);
    assert.equal(found.status, 200);
    assert.equal(((await found.json()) as { id: string }).id, longest);
    const followed = await fetch(`${url}${byId.headers.get('location')}`);
    assert.equal(followed.status, 200, 'the Location of the answer can be followed');

    const key = 'k'.repeat(200);
    const byKey = await postJson(`${url}/events`, SEED_EXAMPLES[2].body, {
      'idempotency-key': key,
    });
    assert.equal(byKey.status, 202);
    assert.equal((await fetch(`${url}/api/v1/events/${key}`)).status, 200);
    assert.equal((await fetch(`${url}/api/v1/dead-letters/${key}`)).status, 404, 'not a 414');

    const tooLongId = await postJson(`${url}/api/v1/events/analytics`, {
      ...SEED_EXAMPLES[0].body,
      id: `${longest}z`,
    });
    assert.equal(tooLongId.status, 422);
    assert.ok(names(tooLongId.body as unknown as Problem, 'id'));
    const tooLongKey = await postJson(`${url}/events`, SEED_EXAMPLES[2].body, {
      'idempotency-key': `${key}k`,
    });
    assert.equal(tooLongKey.status, 422);
    assert.ok(names(tooLongKey.body as unknown as Problem, 'headers.idempotency-key'));
    const lookup = await fetch(`${url}/api/v1/events/${key}kk`);
    assert.equal(lookup.status, 422, 'a lookup longer than any id is refused, not 414');
  });

  test('a batch’s Idempotency-Key leaves room for ":<index>": every id it makes can be looked up', async () => {
    // BATCH_MAX_EVENTS is 1000: ids up to "<key>:999", so the key has at most 196 characters.
    const key = 'b'.repeat(196);
    const sent = await postJson(
      `${url}/api/v1/events/batch`,
      [SEED_EXAMPLES[0].body, SEED_EXAMPLES[2].body],
      { 'idempotency-key': key },
    );
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    for (const index of [0, 1]) {
      const id = `${key}:${index}`;
      assert.equal((await fetch(`${url}/api/v1/events/${encodeURIComponent(id)}`)).status, 200);
    }
    const tooLong = await postJson(`${url}/api/v1/events/batch`, [SEED_EXAMPLES[0].body], {
      'idempotency-key': `${key}b`,
    });
    assert.equal(tooLong.status, 422);
    assert.ok(names(tooLong.body as unknown as Problem, 'headers.idempotency-key'));
  });

  test('a NUL in a header that is stored (User-Agent of a session) is refused by the HTTP parser, problem+json', async () => {
    const { hostname, port } = new URL(url);
    const answer = await new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = connect(Number(port), hostname, () => {
        socket.write(
          'POST /users/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
            'User-Agent: evil\u0000agent\r\nContent-Length: 2\r\n\r\n{}',
        );
      });
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        text += chunk;
      });
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /content-type: application\/problem\+json/i);
    assert.equal((await fetch(`${url}/health`)).status, 200);
  });
});
