/**
 * The served OpenAPI document tells the truth: it is valid OpenAPI, every error answer is
 * problem+json with the Problem schema, every status the edge can answer is listed, unknown
 * query parameters are refused everywhere, and a known path with another method is 405. The
 * checker every test's answers pass through (helpers/openapi-responses.ts) is tested here too.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { violationsDuring } from '../helpers/check-responses.ts';
import { eventually } from '../helpers/eventually.ts';
import { OpenApiDocument, uncheckedFetch } from '../helpers/openapi-responses.ts';
import { startTestPlatform } from '../helpers/platform.ts';

type Json = Record<string, unknown>;

interface Op {
  method: string;
  path: string;
  operation: Json;
}

function operations(document: Json): Op[] {
  return Object.entries(document.paths as Record<string, Record<string, Json>>).flatMap(
    ([path, item]) =>
      Object.entries(item).map(([method, operation]) => ({
        method: method.toUpperCase(),
        path,
        operation,
      })),
  );
}

const responsesOf = (op: Op) => op.operation.responses as Record<string, Json>;

async function servedDocument(url: string): Promise<Json> {
  const response = await fetch(`${url}/docs/json`);
  assert.equal(response.status, 200);
  return (await response.json()) as Json;
}

const ADMIN = 'admin-key-for-openapi-tests-0123456789';

for (const auth of ['disabled', 'required'] as const) {
  test(`with AUTH=${auth}, the served document is valid OpenAPI 3.1 (swagger-parser) and its errors are problem+json`, async (t) => {
    const { url } = await startTestPlatform(t, { AUTH: auth, ADMIN_API_KEY: ADMIN });
    const document = await servedDocument(url);
    // validate() dereferences in place: give it a copy.
    await SwaggerParser.validate(structuredClone(document) as never);
    const ops = operations(document);
    assert.ok(ops.length >= 45, `${ops.length} operations`);
    for (const op of ops) {
      const name = `${op.method} ${op.path}`;
      const responses = responsesOf(op);
      assert.ok(
        Object.keys(responses).some((s) => s.startsWith('2')),
        `${name} lists its success`,
      );
      for (const [status, response] of Object.entries(responses)) {
        if (Number(status) < 400) continue;
        assert.deepEqual(
          Object.keys((response.content ?? {}) as Json),
          ['application/problem+json'],
          `${name} ${status} is problem+json only`,
        );
        assert.deepEqual(
          (response.content as Record<string, Json>)['application/problem+json']?.schema,
          { $ref: '#/components/schemas/Problem' },
          `${name} ${status} is a Problem`,
        );
      }
      for (const status of ['400', '408', '422', '431', '503']) {
        assert.ok(status in responses, `${name} lists ${status}`);
      }
      if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(op.method)) {
        assert.ok('413' in responses && '415' in responses, `${name} lists 413 and 415`);
      }
      if (op.path.includes('{')) assert.ok('414' in responses, `${name} lists 414`);
      // Public: the service description, health; the user service has its own sessions.
      const needsKey =
        auth === 'required' &&
        op.path !== '/' &&
        !op.path.startsWith('/health') &&
        !op.path.startsWith('/users');
      if (needsKey) {
        for (const status of ['401', '403', '429']) {
          assert.ok(status in responses, `${name} lists ${status} with auth on`);
        }
        assert.deepEqual(
          op.operation.security,
          [{ bearerAuth: [] }],
          `${name} says it needs a key`,
        );
      }
    }
    const byName = new Map(ops.map((op) => [`${op.method} ${op.path}`, responsesOf(op)]));
    assert.ok('400' in (byName.get('POST /api/v1/keys') ?? {}), 'malformed JSON on the keys');
    assert.ok('400' in (byName.get('POST /users/') ?? {}), 'malformed JSON on sign-up');
    assert.ok('422' in (byName.get('GET /users/{id}') ?? {}), 'a too long user id');
    assert.ok('429' in (byName.get('POST /users/login') ?? {}), 'login throttling');
    const problem = (document.components as { schemas: Record<string, Json> }).schemas.Problem;
    assert.deepEqual(problem?.required, ['type', 'title', 'status']);
  });
}

test('every documented operation refuses an unknown query parameter with a 422 naming it', async (t) => {
  const { url } = await startTestPlatform(t);
  const document = await servedDocument(url);
  const refused: string[] = [];
  for (const op of operations(document)) {
    const path = op.path.replace(/\{[^}]+\}/g, 'some-id');
    const withBody = op.operation.requestBody !== undefined;
    const response = await fetch(`${url}${path}?x_unknown=1`, {
      method: op.method,
      ...(withBody ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}),
    });
    const body = (await response.json()) as { errors?: { field: string }[] };
    const named = body.errors?.some((e) => e.field === 'querystring.x_unknown') === true;
    // A body is validated before the query: those with one may name the body first.
    if (response.status !== 422 || (!named && !withBody)) {
      refused.push(`${op.method} ${op.path}: ${response.status} ${JSON.stringify(body)}`);
    }
  }
  assert.deepEqual(refused, []);
  for (const path of ['/users/', '/users']) {
    const users = await fetch(`${url}${path}?limit=5&colour=red`);
    assert.equal(users.status, 422, `GET ${path} refuses them like every other route`);
  }
  const head = await fetch(`${url}/health?colour=red`, { method: 'HEAD' });
  assert.equal(head.status, 422, 'HEAD routes too');
});

test('a known path with a method it does not answer is 405 with Allow; an unknown path is 404', async (t) => {
  const { url } = await startTestPlatform(t);
  for (const [method, path, allow] of [
    ['DELETE', '/api/v1/events/batch', 'GET, HEAD, POST'], // GET: the event with id "batch"
    ['PUT', '/api/v1/events/some-id', 'GET, HEAD'],
    ['POST', '/health', 'GET, HEAD'],
    ['PATCH', '/users/some-id', 'DELETE, GET, HEAD, PUT'],
    ['OPTIONS', '/api/v1/dead-letters', 'GET, HEAD'],
  ] as const) {
    const response = await fetch(`${url}${path}`, { method });
    assert.equal(response.status, 405, `${method} ${path}`);
    assert.equal(response.headers.get('allow'), allow, `${method} ${path}`);
    assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(((await response.json()) as { status: number }).status, 405);
  }
  const unknown = await fetch(`${url}/api/v1/nowhere`, { method: 'DELETE' });
  assert.equal(unknown.status, 404);
  const missingAsset = await fetch(`${url}/dashboard/no-such-file.js`);
  assert.equal(missingAsset.status, 404, 'a GET route that finds nothing stays a 404');
});

test('the answer checker names what drifts: an unlisted status, a content type, a body, a 404 for a known path', async (t) => {
  const { url } = await startTestPlatform(t);
  const document = new OpenApiDocument(await servedDocument(url));
  const answer = (method: string, path: string, status: number, type: string, body: unknown) => ({
    method,
    url: path,
    status,
    headers: new Headers({ 'content-type': type }),
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const problem = (status: number) => ({ type: 'urn:herald:problem:x', title: 'X', status });
  const json = 'application/json; charset=utf-8';
  const problemJson = 'application/problem+json; charset=utf-8';

  assert.deepEqual(
    document.violations(answer('GET', '/health', 200, json, { status: 'ok', uptime_s: 1 })),
    [],
  );
  assert.deepEqual(document.violations(answer('HEAD', '/health', 200, json, '')), []);
  assert.deepEqual(
    document.violations(answer('GET', '/api/v1/events/x', 404, problemJson, problem(404))),
    [],
  );
  const cases: [ReturnType<typeof answer>, RegExp][] = [
    [answer('GET', '/health', 418, problemJson, problem(418)), /does not list 418/],
    [
      answer('GET', '/api/v1/events/x', 404, json, problem(404)),
      /problem\+json, not "application\/json"/,
    ],
    [
      answer('GET', '/health', 200, json, { status: 'fine', uptime_s: 1 }),
      /does not match GET \/health 200/,
    ],
    [answer('GET', '/api/v1/events/x', 404, problemJson, problem(400)), /problem says status 400/],
    [answer('GET', '/api/v1/events/x', 404, problemJson, { title: 'no type' }), /does not match/],
    [answer('DELETE', '/api/v1/events/batch', 404, problemJson, problem(404)), /expected 405/],
    [answer('DELETE', '/api/v1/events/batch', 405, problemJson, problem(405)), /without an Allow/],
    [answer('GET', '/nowhere', 404, 'text/html', '<h1>no</h1>'), /not application\/problem\+json/],
  ];
  for (const [bad, reason] of cases) {
    const found = document.violations(bad);
    assert.ok(
      found.some((v) => reason.test(v)),
      `${bad.method} ${bad.url} ${bad.status}: ${found.join(' | ')}`,
    );
  }
});

test('the global check turns an answer outside the document into a rejected fetch that names it; uncheckedFetch lets it through', async (t) => {
  // A server that says it is Herald (x-correlation-id) and answers what its document does not.
  const document = {
    openapi: '3.1.0',
    info: { title: 'fake', version: '1' },
    paths: {
      '/thing': {
        get: {
          responses: {
            200: {
              description: 'ok',
              content: { 'application/json': { schema: { type: 'object' } } },
            },
          },
        },
      },
    },
  };
  const server = createServer((request, response) => {
    response.setHeader('x-correlation-id', 'c-1');
    response.setHeader('content-type', 'application/json');
    if (request.url === '/docs/json') response.end(JSON.stringify(document));
    else response.writeHead(500).end('{"oops":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const found = await violationsDuring(async () => {
    await assert.rejects(fetch(`${url}/thing`), /GET \/thing → 500: GET \/thing does not list 500/);
  });
  assert.equal(found.length, 1);
  assert.equal((await uncheckedFetch(`${url}/thing`)).status, 500);
});

/** Whether a new connection to `port` is refused: the server no longer listens. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(port, '127.0.0.1');
    probe.once('connect', () => {
      probe.destroy();
      resolve(false);
    });
    probe.once('error', () => resolve(true));
  });
}

test('a request arriving while the server shuts down is a 503 problem with Connection: close, not Fastify’s plain JSON', async (t) => {
  const platform = await startTestPlatform(t);
  const port = Number(new URL(platform.url).port);
  const body = JSON.stringify({ user_id: 'u', event_type: 'e' });
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
  });
  const closed = new Promise((resolve) => socket.once('close', resolve));
  // A request in flight (its body not all sent) keeps the connection open into the close.
  socket.write(
    'POST /api/v1/events/analytics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
  );
  const stopping = platform.stop();
  await eventually(async () => ((await refused(port)) ? true : undefined));
  // The rest of the body, and a second request behind it on the same connection.
  socket.write(`${body.slice(5)}GET /health HTTP/1.1\r\nHost: x\r\n\r\n`);
  await closed;
  await stopping;
  // The request in flight is finished (202) if it got in before the close began, else it is
  // refused like the one behind it; the last answer is always the refusal.
  const answers = text.split(/(?=HTTP\/1\.1 )/);
  const last = answers.at(-1) ?? '';
  assert.ok(answers.length <= 2, text);
  if (answers.length === 2) assert.match(answers[0] ?? '', /^HTTP\/1\.1 202 /);
  assert.match(last, /^HTTP\/1\.1 503 /);
  assert.match(last, /content-type: application\/problem\+json/i);
  assert.match(last, /connection: close/i);
  assert.match(last, /"type":"urn:herald:problem:shutting-down"/);
});
