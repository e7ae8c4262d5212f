/**
 * The one table from error code to HTTP problem (src/http/problem.ts): what a route that throws
 * a HeraldError answers, with the headers its code asks for, whatever route threw it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { ErrorCodes, HeraldError } from '../../src/errors.ts';
import { problemOf, sendError } from '../../src/http/problem.ts';

/** A server whose routes throw what they are given, with the API's error handler. */
async function throwing(errors: Record<string, () => unknown>): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.setErrorHandler((error: Error, request, reply) => sendError(error, request, reply));
  for (const [path, fail] of Object.entries(errors)) {
    app.get(path, async () => {
      throw fail();
    });
  }
  app.get('/range', { config: { validatedPart: 'querystring' } }, async () => {
    throw new HeraldError(ErrorCodes.VALIDATION, 'from must be before to', {
      details: { field: 'from' },
    });
  });
  await app.ready();
  return app;
}

test('each code answers its own status and problem type, with the error message as detail', async (t) => {
  const app = await throwing({
    '/validation': () => new HeraldError(ErrorCodes.VALIDATION, 'bad input'),
    '/not-found': () => new HeraldError(ErrorCodes.NOT_FOUND, 'no such thing'),
    '/conflict': () => new HeraldError(ErrorCodes.CONFLICT, 'taken'),
    '/forbidden': () => new HeraldError(ErrorCodes.FORBIDDEN, 'not yours'),
    '/invalid-schema': () => new HeraldError(ErrorCodes.SCHEMA_INVALID, 'not a contract'),
  });
  t.after(() => app.close());
  const expected: [string, number, string][] = [
    ['/validation', 422, 'validation'],
    ['/not-found', 404, 'not-found'],
    ['/conflict', 409, 'conflict'],
    ['/forbidden', 403, 'forbidden'],
    ['/invalid-schema', 422, 'invalid-schema'],
  ];
  for (const [path, status, slug] of expected) {
    const response = await app.inject({ url: path });
    assert.equal(response.statusCode, status, path);
    assert.match(String(response.headers['content-type']), /^application\/problem\+json/, path);
    const body = response.json();
    assert.equal(body.type, `urn:herald:problem:${slug}`, path);
    assert.equal(body.status, status, path);
    assert.ok(typeof body.detail === 'string' && body.detail.length > 0, path);
  }
});

test('the fields an error names become the problem’s errors: one field, or a list', async (t) => {
  const app = await throwing({
    '/one': () =>
      new HeraldError(ErrorCodes.CONFLICT, 'a user with this email already exists', {
        details: { field: 'email' },
      }),
    '/many': () =>
      new HeraldError(ErrorCodes.VALIDATION, 'invalid username, age', {
        details: {
          errors: [
            { field: 'username', message: 'too short' },
            { field: 'age', message: 'too old' },
          ],
        },
      }),
  });
  t.after(() => app.close());
  const one = (await app.inject({ url: '/one' })).json();
  assert.deepEqual(one.errors, [
    { field: 'email', message: 'a user with this email already exists' },
  ]);
  const many = (await app.inject({ url: '/many' })).json();
  assert.deepEqual(
    many.errors.map((e: { field: string }) => e.field),
    ['username', 'age'],
  );
});

test('a route whose service checks the query answers its VALIDATION errors as the schema would', async (t) => {
  const app = await throwing({});
  t.after(() => app.close());
  const body = (await app.inject({ url: '/range' })).json();
  assert.equal(body.status, 422);
  assert.equal(body.detail, 'invalid querystring');
  assert.deepEqual(body.errors, [{ field: 'querystring.from', message: 'from must be before to' }]);
});

test('a schema change that breaks compatibility names the breaks; an unusable schema names its parts', async (t) => {
  const breaks = [{ kind: 'incompatible', keyword: 'required', path: '/required', message: 'x' }];
  const app = await throwing({
    '/incompatible': () =>
      new HeraldError(ErrorCodes.SCHEMA_INCOMPATIBLE, 'v2 breaks v1', {
        details: { compatibility: 'backward', against: 1, breaks },
      }),
    '/unusable': () =>
      new HeraldError(ErrorCodes.SCHEMA_INVALID, 'not a contract', {
        details: { errors: [{ path: '/properties/a', message: 'unknown keyword' }] },
      }),
  });
  t.after(() => app.close());
  const incompatible = (await app.inject({ url: '/incompatible' })).json();
  assert.equal(incompatible.status, 409);
  assert.equal(incompatible.compatibility, 'backward');
  assert.equal(incompatible.against_version, 1);
  assert.deepEqual(incompatible.breaks, breaks);
  const unusable = (await app.inject({ url: '/unusable' })).json();
  assert.deepEqual(unusable.errors, [{ field: 'schema/properties/a', message: 'unknown keyword' }]);
});

test('codes carry their headers: a session challenge on 401, Retry-After on 429 and on every 503', async (t) => {
  const app = await throwing({
    '/unauthenticated': () => new HeraldError(ErrorCodes.UNAUTHENTICATED, 'log in'),
    '/throttled': () =>
      new HeraldError(ErrorCodes.RATE_LIMITED, 'wait', { details: { retryAfterMs: 2500 } }),
    '/database-down': () =>
      new HeraldError(ErrorCodes.DATABASE_UNAVAILABLE, 'connect ECONNREFUSED 10.0.0.5:5432', {
        retryable: true,
      }),
    '/connection-lost': () => Object.assign(new Error('Connection terminated'), {}),
  });
  t.after(() => app.close());
  const unauthenticated = await app.inject({ url: '/unauthenticated' });
  assert.equal(unauthenticated.statusCode, 401);
  assert.equal(unauthenticated.headers['www-authenticate'], 'Bearer realm="herald-users"');
  const throttled = await app.inject({ url: '/throttled' });
  assert.equal(throttled.statusCode, 429);
  assert.equal(throttled.headers['retry-after'], '3');
  for (const path of ['/database-down', '/connection-lost']) {
    const down = await app.inject({ url: path });
    assert.equal(down.statusCode, 503, path);
    assert.equal(down.headers['retry-after'], '1', path);
    // What is down, and where, is not the client's to know.
    assert.equal(down.json().detail, 'A dependency is unavailable; retry later', path);
  }
});

test('an error outside the table is a 500 that leaks nothing', async (t) => {
  const app = await throwing({
    '/bug': () => new TypeError('cannot read properties of undefined (reading "secret")'),
    '/config': () => new HeraldError(ErrorCodes.CONFIG_INVALID, 'PORT: must be a number'),
  });
  t.after(() => app.close());
  for (const path of ['/bug', '/config']) {
    const response = await app.inject({ url: path });
    assert.equal(response.statusCode, 500, path);
    assert.deepEqual(response.json(), {
      type: 'urn:herald:problem:internal',
      title: 'Internal server error',
      status: 500,
    });
  }
});

test('problemOf builds an answer from the table, with a title of its own where given', () => {
  assert.deepEqual(problemOf(ErrorCodes.NOT_FOUND, 'no event with id "e1"', 'Event not found'), {
    type: 'urn:herald:problem:not-found',
    title: 'Event not found',
    status: 404,
    detail: 'no event with id "e1"',
  });
  assert.throws(() => problemOf(ErrorCodes.POISON_MESSAGE, 'x'), /not an HTTP answer/);
});
