/**
 * The store's circuit breaker, where only the worker touches the database: events flow over
 * Redis Streams while PostgreSQL (a throwaway cluster of this test's own) crashes for
 * OUTAGE_MS. The workers' database breaker must open after a few failed batches — then the
 * store is left alone, batches go back to Redis untouched, nothing is dead-lettered — and
 * close again soon after the database is back (within its cooldown, not after an ever-growing
 * backoff), with every acknowledged event processed once, in order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { assertDelivery, checkDelivery, waitForProcessed } from '../helpers/delivery-check.ts';
import { eventually } from '../helpers/eventually.ts';
import { startLoad } from '../helpers/fault-load.ts';
import { startWorker } from '../helpers/fault-scenarios.ts';
import { runHerald } from '../helpers/herald-process.ts';
import { OwnRedis } from '../helpers/own-redis.ts';
import { ThrowawayPostgres } from '../helpers/throwaway-postgres.ts';

const OUTAGE_MS = 8000;

async function processed(url: string): Promise<number | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM processed_events',
    );
    return rows[0]?.n;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

const breakerStates = (logs: Record<string, unknown>[]) =>
  logs.filter((l) => l.breaker === 'database').map((l) => l.state);

test(`database down for ${OUTAGE_MS / 1000} s under a Redis transport: the breaker opens, nothing is dead-lettered, it closes soon after recovery`, async (t) => {
  const [cluster, redis] = await Promise.all([ThrowawayPostgres.start(t), OwnRedis.start(t)]);
  const env = {
    BROKER: 'redis',
    REDIS_URL: redis.url,
    DATABASE_URL: cluster.url,
    WORKER_POLL_MS: '20',
    WORKER_LEASE_MS: '2000',
    AGENTS_ENABLED: 'false',
    OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
  };
  const api = runHerald(t, ['api'], env);
  const url = await api.url;
  const workers = [await startWorker(t, env), await startWorker(t, env)];
  const load = startLoad({ url, total: 4000, runId: 'breaker', lanes: 4, keysPerLane: 8 });
  await eventually(() => (load.log.acknowledged.size >= 1000 ? true : undefined), {
    timeoutMs: 60_000,
    message: 'load flowing before the outage',
  });
  const complaintsBefore = workers.map(
    (w) => w.logs.filter((l) => l.msg === 'store unavailable, batch will be retried').length,
  );

  await cluster.stopServer('immediate');
  await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
  const opened = workers.map((w) => breakerStates(w.logs).includes('open'));
  const complaints = workers.map(
    (w, i) =>
      w.logs.filter((l) => l.msg === 'store unavailable, batch will be retried').length -
      (complaintsBefore[i] ?? 0),
  );
  await cluster.startServer();
  const recoveredAt = performance.now();
  const before = await eventually(() => processed(cluster.url), { timeoutMs: 10_000 });
  await eventually(
    async () => {
      const now = await processed(cluster.url);
      return now !== undefined && now > before ? true : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 100, message: 'processing to resume' },
  );
  const resumedMs = Math.round(performance.now() - recoveredAt);

  await load.done;
  await waitForProcessed({
    databaseUrl: cluster.url,
    schema: 'public',
    expected: load.log.acknowledged.size,
    timeoutMs: 60_000,
  });
  const report = await checkDelivery(load.log, { databaseUrl: cluster.url, schema: 'public' });
  t.diagnostic(
    `breaker opened ${JSON.stringify(opened)}; failed batches during the outage ${complaints.join(', ')}; ` +
      `resumed ${resumedMs} ms after recovery; acknowledged ${report.acknowledged}`,
  );
  assertDelivery(report, { minAcknowledged: 4000, deadLetters: 0 });
  assert.ok(opened.some(Boolean), 'a worker opened its database breaker during the outage');
  for (const [i, worker] of workers.entries()) {
    if (opened[i]) {
      assert.equal(breakerStates(worker.logs).at(-1), 'closed', 'and closed it after recovery');
    }
  }
  // Open means left alone: a few failed batches per cooldown, not one per poll.
  for (const n of complaints) assert.ok(n <= 20, `${n} failed batches in the outage`);
  assert.ok(resumedMs < 10_000, `processing resumed ${resumedMs} ms after recovery`);
});
