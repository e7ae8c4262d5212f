/**
 * Faults on the Redis Streams transport, with a redis-server of the test's own run as
 * production should run it (AOF, `appendfsync always`): workers killed with SIGKILL again and
 * again, and Redis itself crashed (SIGKILL) and restarted mid-run. The API answers 202 only
 * once Redis has the event in its fsynced AOF, so a crash loses nothing acknowledged.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../helpers/databases.ts';
import {
  acknowledgedAtLeast,
  assertRefusalsAre503,
  finishAndCheck,
  killWorkersWhileLoading,
  startCluster,
} from '../helpers/fault-scenarios.ts';
import { OwnRedis } from '../helpers/own-redis.ts';

async function setUp(t: test.TestContext) {
  const redis = await OwnRedis.start(t);
  const schema = uniqueSchema('herald_fault');
  t.after(() => dropSchema(schema));
  const env = {
    BROKER: 'redis',
    REDIS_URL: redis.url,
    BROKER_NAMESPACE: schema,
    DATABASE_URL: POSTGRES_URL,
    DATABASE_SCHEMA: schema,
    WORKER_POLL_MS: '10',
    WORKER_LEASE_MS: '1000',
    WORKER_BATCH_SIZE: '200',
    WORKER_CONCURRENCY: '4',
    AGENTS_ENABLED: 'false',
    OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
  };
  return { redis, schema, env };
}

test('SIGKILL of workers under load on Redis Streams: nothing lost, nothing twice, per-key order kept', async (t) => {
  const { schema, env } = await setUp(t);
  const total = 10_000;
  const run = await startCluster(t, env, { total, runId: 'rk' });
  const kills = await killWorkersWhileLoading(t, env, run);
  await finishAndCheck(
    t,
    run,
    { databaseUrl: POSTGRES_URL, schema },
    {
      minAcknowledged: total,
      note: `${kills} workers killed`,
    },
  );
  assert.ok(kills >= 3);
});

test('Redis crashed (SIGKILL) and restarted mid-run with appendfsync always: every acknowledged event is processed once', async (t) => {
  const { redis, schema, env } = await setUp(t);
  const total = 8000;
  const run = await startCluster(t, env, { total, runId: 'rr' });
  await acknowledgedAtLeast(run.load, 2000, 'load flowing before the crash');
  await redis.kill('SIGKILL');
  // Appends Redis fsynced just before it died are acknowledged a moment later: let those
  // answers arrive, then nothing more may be acknowledged while it is down.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const acknowledgedAtCrash = run.load.log.acknowledged.size;
  await new Promise((resolve) => setTimeout(resolve, 3000));
  assert.equal(
    run.load.log.acknowledged.size,
    acknowledgedAtCrash,
    'nothing acknowledged while Redis is down',
  );
  await redis.startServer();
  const report = await finishAndCheck(
    t,
    run,
    { databaseUrl: POSTGRES_URL, schema },
    {
      minAcknowledged: total,
      note: `refusals ${JSON.stringify(Object.fromEntries(run.load.stats.refused))}`,
    },
  );
  assert.ok(report.acknowledged >= total);
  assertRefusalsAre503(run.load);
  for (const worker of run.workers) assert.equal(worker.child.exitCode, null, 'workers survive');
});
