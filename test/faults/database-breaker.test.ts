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
import {
  acknowledgedAtLeast,
  finishAndCheck,
  resumedAfterRecovery,
  startCluster,
} from '../helpers/fault-scenarios.ts';
import { OwnRedis } from '../helpers/own-redis.ts';
import { ThrowawayPostgres } from '../helpers/throwaway-postgres.ts';

const OUTAGE_MS = 8000;

const breakerStates = (logs: Record<string, unknown>[]) =>
  logs.filter((l) => l.breaker === 'database').map((l) => l.state);

const failedBatches = (logs: Record<string, unknown>[]) =>
  logs.filter((l) => l.msg === 'store unavailable, batch will be retried').length;

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
  const run = await startCluster(t, env, { total: 4000, runId: 'breaker', keysPerLane: 8 });
  const { workers } = run;
  await acknowledgedAtLeast(run.load, 1000, 'load flowing before the outage');
  const complaintsBefore = workers.map((w) => failedBatches(w.logs));

  await cluster.stopServer('immediate');
  await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
  const opened = workers.map((w) => breakerStates(w.logs).includes('open'));
  const complaints = workers.map((w, i) => failedBatches(w.logs) - (complaintsBefore[i] ?? 0));
  await cluster.startServer();
  const resumedMs = await resumedAfterRecovery(cluster.url, 20_000);

  await finishAndCheck(
    t,
    run,
    { databaseUrl: cluster.url, schema: 'public' },
    {
      minAcknowledged: 4000,
      deadLetters: 0,
      note:
        `breaker opened ${JSON.stringify(opened)}; failed batches during the outage ${complaints.join(', ')}; ` +
        `resumed ${resumedMs} ms after recovery`,
    },
  );
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
