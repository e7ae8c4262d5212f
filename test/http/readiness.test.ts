/**
 * Readiness answers in bounded time with the reason: a dependency that hangs instead of
 * refusing (a full pool, a partitioned network) makes `/health/ready` a 503 problem naming it,
 * not a request the kubelet gives up on without a reason.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkReadiness, notReadyProblem } from '../../src/http/readiness.ts';
import { dropSchema, uniqueSchema } from '../helpers/databases.ts';
import { eventually } from '../helpers/eventually.ts';
import { startTestPlatform } from '../helpers/platform.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

test('a probe that never answers is unavailable once the timeout passes; the others are still reported', async () => {
  const started = performance.now();
  const { ready, checks } = await checkReadiness(
    {
      database: () => new Promise(() => {}),
      broker: () => undefined,
      cache: () => {
        throw new Error('connection refused');
      },
    },
    50,
  );
  const elapsed = performance.now() - started;
  assert.equal(ready, false);
  assert.deepEqual(checks, {
    database: 'unavailable: no answer within 50 ms',
    broker: 'ok',
    cache: 'unavailable: connection refused',
  });
  assert.ok(elapsed < 1000, `answered after ${elapsed} ms`);
});

test('the not-ready problem names only the failing checks in its detail and carries them all', () => {
  const body = notReadyProblem({ database: 'unavailable: timeout', broker: 'ok' });
  assert.equal(body.status, 503);
  assert.equal(body.type, 'urn:herald:problem:not-ready');
  assert.equal(body.detail, 'database: unavailable: timeout');
  assert.deepEqual(body.checks, { database: 'unavailable: timeout', broker: 'ok' });
});

test("the API's readiness is 503 problem+json within the probe timeout while PostgreSQL hangs, and 200 once it answers again", async (t) => {
  const schema = uniqueSchema('herald_ready');
  t.after(() => dropSchema(schema));
  const proxy = await TcpProxy.start(5432);
  t.after(() => proxy.close());
  const platform = await startTestPlatform(t, {
    DATABASE_URL: `postgresql://postgres@127.0.0.1:${proxy.port}/test`,
    DATABASE_SCHEMA: schema,
    AGENTS_ENABLED: 'false',
    NOTIFICATIONS_ENABLED: 'false',
  });
  assert.equal((await fetch(`${platform.url}/health/ready`)).status, 200);

  // Every chunk to and from PostgreSQL now takes 3 s: a query answers after the probe's 2 s
  // timeout; nothing is refused.
  proxy.setFaults({ delayMs: 3000 });
  const started = performance.now();
  const answer = await fetch(`${platform.url}/health/ready`);
  const elapsed = performance.now() - started;
  assert.equal(answer.status, 503);
  assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const body = (await answer.json()) as { type: string; checks: Record<string, string> };
  assert.equal(body.type, 'urn:herald:problem:not-ready');
  assert.match(body.checks.database ?? '', /^unavailable: no answer within 2000 ms/);
  assert.ok(elapsed < 3000, `readiness answered after ${Math.round(elapsed)} ms`);
  // Liveness never waits on a dependency.
  assert.equal((await fetch(`${platform.url}/health`)).status, 200);

  // Connections that were stuck behind the delay are dropped; new ones are clean.
  proxy.setFaults({});
  proxy.sever();
  await eventually(
    async () => ((await fetch(`${platform.url}/health/ready`)).status === 200 ? true : undefined),
    { timeoutMs: 20_000, message: 'ready again once PostgreSQL answers' },
  );
});
