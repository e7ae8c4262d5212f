/**
 * Workers are killed with SIGKILL again and again while thousands of events flow over the
 * Postgres event log; replacements take the partitions over when the dead workers' leases
 * expire. Nothing acknowledged may be lost, nothing may take effect twice, and each key's
 * events are processed in order. (The same run on Redis and Kafka: redis-broker.test.ts,
 * kafka-broker.test.ts.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../helpers/databases.ts';
import {
  finishAndCheck,
  killWorkersWhileLoading,
  startCluster,
} from '../helpers/fault-scenarios.ts';

const TOTAL = 12_000;

test('SIGKILL of workers, again and again under load, loses nothing, duplicates nothing, keeps per-key order [postgres]', async (t) => {
  const schema = uniqueSchema('herald_fault');
  t.after(() => dropSchema(schema));
  const env = {
    DATABASE_URL: POSTGRES_URL,
    DATABASE_SCHEMA: schema,
    WORKER_POLL_MS: '10',
    WORKER_LEASE_MS: '1000',
    WORKER_BATCH_SIZE: '200',
    WORKER_CONCURRENCY: '4',
    AGENTS_ENABLED: 'false',
    OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
  };
  const run = await startCluster(t, env, { total: TOTAL, runId: 'k' });
  const kills = await killWorkersWhileLoading(t, env, run);
  await finishAndCheck(
    t,
    run,
    { databaseUrl: POSTGRES_URL, schema },
    {
      minAcknowledged: TOTAL,
      note: `${kills} workers killed`,
    },
  );
  assert.ok(kills >= 3, `workers were killed mid-run (${kills} kills)`);
});
