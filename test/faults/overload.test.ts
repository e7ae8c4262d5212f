/**
 * Overload: far more producers than the database behind the API can absorb (a slowed link to
 * PostgreSQL, 48 concurrent clients sending batches). The API must shed what it cannot make
 * durable soon — 503 + Retry-After once too many events wait for a commit or the event loop
 * lags — instead of queueing without bound, falling over, or acknowledging what is not
 * durable. Probes keep answering, and once clients back off and retry, every event gets in,
 * exactly once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../helpers/databases.ts';
import { assertDelivery, checkDelivery, waitForProcessed } from '../helpers/delivery-check.ts';
import { eventually } from '../helpers/eventually.ts';
import { startLoad } from '../helpers/fault-load.ts';
import { runHerald } from '../helpers/herald-process.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

const TOTAL = 9600;

test('overload: the API sheds with 503 + Retry-After, stays up and answers probes; retried events all get in once', async (t) => {
  const schema = uniqueSchema('herald_fault');
  t.after(() => dropSchema(schema));
  const proxy = await TcpProxy.start(5432);
  t.after(() => proxy.close());
  const env = {
    DATABASE_SCHEMA: schema,
    WORKER_POLL_MS: '20',
    AGENTS_ENABLED: 'false',
    OVERLOAD_PENDING_EVENTS: '500',
    OVERLOAD_EVENT_LOOP_DELAY_MS: '200',
  };
  const api = runHerald(t, ['api'], {
    ...env,
    // One commit in flight at a time (half the pool): the rest of the clients wait in line.
    DATABASE_POOL_SIZE: '2',
    DATABASE_URL: `postgresql://postgres@127.0.0.1:${proxy.port}/test`,
  });
  const url = await api.url;
  const worker = runHerald(t, ['worker'], { ...env, DATABASE_URL: POSTGRES_URL });
  await eventually(() => (worker.logs.some((l) => l.msg === 'worker started') ? true : undefined), {
    timeoutMs: 30_000,
  });

  // Each commit now costs the API ~100 ms of round trips: it cannot keep up with 48 clients.
  proxy.setFaults({ delayMs: 12 });
  const load = startLoad({
    url,
    total: TOTAL,
    runId: 'overload',
    lanes: 48,
    keysPerLane: 2,
    batchSize: 100,
  });
  // Liveness and readiness are never shed.
  const probeTimes: number[] = [];
  const probing = (async () => {
    while (probeTimes.length < 20) {
      const started = performance.now();
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      probeTimes.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  await eventually(() => ((load.stats.refused.get(503) ?? 0) >= 20 ? true : undefined), {
    timeoutMs: 60_000,
    message: 'the API shedding load',
  });
  proxy.setFaults({});
  await Promise.all([load.done, probing]);

  await waitForProcessed({ databaseUrl: POSTGRES_URL, schema, expected: TOTAL, timeoutMs: 60_000 });
  const report = await checkDelivery(load.log, { databaseUrl: POSTGRES_URL, schema });
  const refused = Object.fromEntries(load.stats.refused);
  t.diagnostic(
    `requests ${load.stats.requests}, refusals ${JSON.stringify(refused)}, ` +
      `slowest probe ${Math.round(Math.max(...probeTimes))} ms`,
  );
  assertDelivery(report, { minAcknowledged: TOTAL });
  assert.deepEqual(Object.keys(refused), ['503'], 'only 503s: no 500, no dropped connection');
  assert.equal(load.stats.retryAfterSeen, load.stats.refused.get(503), 'every 503 has Retry-After');
  assert.equal(api.child.exitCode, null, 'the API stayed up');
  assert.ok(Math.max(...probeTimes) < 5000, 'probes kept answering');
});
