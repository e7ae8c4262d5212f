/**
 * The ops endpoints of a process without the API (`herald worker`): liveness, readiness and
 * the process's Prometheus metrics on OPS_PORT, so Kubernetes can probe a worker and
 * Prometheus can scrape it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AGENT_GROUP } from '../../src/app/agents/runner.ts';
import { NOTIFICATION_GROUP } from '../../src/app/notifications/service.ts';
import { ErrorCodes, HeraldError } from '../../src/errors.ts';
import { WORKER_GROUP } from '../../src/platform/consumer-groups.ts';
import type { RunningPlatform } from '../../src/platform/start.ts';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../helpers/databases.ts';
import { eventually } from '../helpers/eventually.ts';
import { type Cleanup, startTestPlatform, startTestWorker } from '../helpers/platform.ts';
import { ThrowawayPostgres } from '../helpers/throwaway-postgres.ts';

// The agents' and notifications' consumers only where a test is about them.
const PROCESSING_ONLY = { AGENTS_ENABLED: 'false', NOTIFICATIONS_ENABLED: 'false' };

/** `herald worker` in this process, its ops endpoints on a free port; stopped after the test. */
async function startWorker(
  t: Cleanup,
  settings: Record<string, string> = {},
): Promise<RunningPlatform & { opsUrl: string }> {
  const worker = await startTestWorker(t, { ...PROCESSING_ONLY, ...settings });
  assert.equal(worker.url, undefined, 'a worker serves no API');
  return worker;
}

async function get(url: string): Promise<{ status: number; type: string; text: string }> {
  const response = await fetch(url);
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    text: await response.text(),
  };
}

/** The label sets of `name`'s samples in a Prometheus exposition. */
function series(text: string, name: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`))
    .map((line) => line.slice(name.length, line.indexOf('}') + 1));
}

test('a worker-only process answers /health/live and /health/ready on OPS_PORT once its consumer runs', async (t) => {
  const { opsUrl } = await startWorker(t);

  const live = await get(`${opsUrl}/health/live`);
  assert.equal(live.status, 200);
  assert.equal(JSON.parse(live.text).status, 'ok');

  const ready = await get(`${opsUrl}/health/ready`);
  assert.equal(ready.status, 200, ready.text);
  assert.deepEqual(JSON.parse(ready.text), {
    status: 'ready',
    checks: { database: 'ok', broker: 'ok', consumer: 'ok' },
    stalled_partitions: [],
  });
});

test("a worker's /metrics is its own Prometheus registry: processing metrics and its group's lag", async (t) => {
  const { opsUrl } = await startWorker(t, { QUEUE_PARTITIONS: '2' });
  const metrics = await get(`${opsUrl}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(metrics.type, /^text\/plain; version=0\.0\.4/);
  // Set by the worker itself (the API process never has it), so this is the worker's registry.
  assert.deepEqual(series(metrics.text, 'herald_circuit_breaker_state'), ['{breaker="database"}']);
  assert.deepEqual(series(metrics.text, 'herald_queue_depth'), [`{group="${WORKER_GROUP}"}`]);
  assert.match(metrics.text, /^herald_process_process_resident_memory_bytes \d+/m);
});

test('the ops server answers other paths 404 and other methods 405, as problem+json', async (t) => {
  const { opsUrl } = await startWorker(t);
  const missing = await get(`${opsUrl}/api/v1/events`);
  assert.equal(missing.status, 404);
  assert.equal(missing.type, 'application/problem+json');
  assert.equal(JSON.parse(missing.text).type, 'urn:herald:problem:not-found');
  const post = await fetch(`${opsUrl}/metrics`, { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  await post.body?.cancel();
});

test('readiness is 503 problem+json naming the database while it is down, and 200 again once it is back', async (t) => {
  const cluster = await ThrowawayPostgres.start(t);
  const worker = await startWorker(t, { DATABASE_URL: cluster.url });
  const { opsUrl } = worker;
  assert.equal((await get(`${opsUrl}/health/ready`)).status, 200);

  await cluster.stopServer('immediate');
  const down = await get(`${opsUrl}/health/ready`);
  assert.equal(down.status, 503, down.text);
  assert.equal(down.type, 'application/problem+json');
  const problem = JSON.parse(down.text);
  assert.equal(problem.type, 'urn:herald:problem:not-ready');
  assert.equal(problem.status, 503);
  assert.match(problem.checks.database, /^unavailable: /);
  assert.equal(problem.checks.consumer, 'ok', 'the consumer still runs; the database is the cause');
  assert.match(problem.detail, /database: unavailable/);
  // Liveness never depends on a dependency: restarting the worker would not bring it back.
  assert.equal((await get(`${opsUrl}/health/live`)).status, 200);

  await cluster.startServer();
  await eventually(
    async () => ((await get(`${opsUrl}/health/ready`)).status === 200 ? true : undefined),
    { timeoutMs: 20_000, message: 'ready again once PostgreSQL is back' },
  );
  // Before the cluster is removed (cleanups run in the order registered).
  await worker.stop();
});

test("a stalled partition is reported by the worker's readiness with the event at its head, which stays 200", async (t) => {
  const worker = await startWorker(t, { STALL_AFTER_MS: '300', QUEUE_PARTITIONS: '2' });
  const { opsUrl, db, broker } = worker;
  const [published] = await broker.publish([
    {
      id: 'behind-a-hung-consumer',
      topic: 'events',
      key: 'k',
      type: 'click',
      value: { event_type: 'click', user_id: 'k' },
      headers: {},
    },
  ]);
  assert.equal(published?.status, 'appended');
  // A consumer that took the partition and hangs: its lease keeps every other one away.
  const [row] = await db.query<{ partition: number }>(
    `UPDATE consumer_leases SET owner = 'hung', lease_expires_at = now() + interval '1 hour'
     WHERE group_id = $1 AND partition = (SELECT partition FROM raw_events WHERE event_id = $2)
     RETURNING partition`,
    [WORKER_GROUP, 'behind-a-hung-consumer'],
  );
  const ready = await eventually(async () => {
    const answer = await get(`${opsUrl}/health/ready`);
    const body = JSON.parse(answer.text);
    return body.stalled_partitions?.length > 0 ? { answer, body } : undefined;
  });
  assert.equal(ready.answer.status, 200, 'a stall is reported, not a reason to be unready');
  assert.deepEqual(
    ready.body.stalled_partitions.map(
      (s: { group: string; partition: number; head_event_id: string; lag: number }) => [
        s.group,
        s.partition,
        s.head_event_id,
        s.lag,
      ],
    ),
    [[WORKER_GROUP, row?.partition, 'behind-a-hung-consumer', 1]],
  );
  const metrics = (await get(`${opsUrl}/metrics`)).text;
  assert.ok(
    metrics.includes(
      `herald_partition_stalled{group="${WORKER_GROUP}",partition="${row?.partition}"} 1`,
    ),
  );
  // The hung consumer's lease runs out: the partition moves, the stall is gone.
  await db.query(
    `UPDATE consumer_leases SET owner = NULL, lease_expires_at = NULL WHERE owner = 'hung'`,
  );
  await eventually(async () => {
    const body = JSON.parse((await get(`${opsUrl}/health/ready`)).text);
    return body.stalled_partitions.length === 0 ? true : undefined;
  });
});

test('stop() closes the ops server', async (t) => {
  const platform = await startWorker(t);
  await platform.stop();
  await assert.rejects(fetch(`${platform.opsUrl}/health/live`), /fetch failed/);
});

test('an OPS_PORT already in use stops the start with a configuration error naming it', async (t) => {
  const schema = uniqueSchema();
  const shared = { DATABASE_URL: POSTGRES_URL, DATABASE_SCHEMA: schema };
  const first = await startWorker(t, shared);
  t.after(() => dropSchema(schema));
  const taken = new URL(first.opsUrl).port;
  await assert.rejects(
    startWorker(t, { ...shared, OPS_PORT: taken }),
    (error: unknown) =>
      error instanceof HeraldError &&
      error.code === ErrorCodes.CONFIG_INVALID &&
      error.message === `OPS_PORT: cannot listen on 127.0.0.1:${taken} (EADDRINUSE)`,
  );
});

test('a process with the API serves no ops port: the API has its own /health and /metrics', async (t) => {
  const platform = await startTestPlatform(t, { OPS_PORT: '0' });
  assert.equal(platform.opsUrl, undefined);
});

test('herald_consumer_lag covers the agents and notifications groups when they are enabled', async (t) => {
  const enabled = await startWorker(t, {
    QUEUE_PARTITIONS: '2',
    AGENTS_ENABLED: 'true',
    NOTIFICATIONS_ENABLED: 'true',
  });
  const text = (await get(`${enabled.opsUrl}/metrics`)).text;
  assert.deepEqual(series(text, 'herald_queue_depth').sort(), [
    `{group="${AGENT_GROUP}"}`,
    `{group="${NOTIFICATION_GROUP}"}`,
    `{group="${WORKER_GROUP}"}`,
  ]);
  for (const group of [WORKER_GROUP, AGENT_GROUP, NOTIFICATION_GROUP]) {
    const partitions = series(text, 'herald_consumer_lag').filter((s) =>
      s.includes(`group="${group}"`),
    );
    assert.equal(partitions.length, 2, `${group}: one series per partition`);
  }

  const disabled = await startWorker(t, { QUEUE_PARTITIONS: '2' });
  const groups = series((await get(`${disabled.opsUrl}/metrics`)).text, 'herald_queue_depth');
  assert.deepEqual(groups, [`{group="${WORKER_GROUP}"}`], 'disabled consumers are not watched');
});
