/**
 * PostgreSQL (a throwaway cluster of this test's own) frozen with SIGSTOP for PAUSE_MS mid-run:
 * unlike a crash, nothing fails — connections just stop answering, the nastiest kind of outage.
 * Nothing may be acknowledged that is not durable, no process may die or dead-letter anything,
 * and once the database thaws, every acknowledged event is processed once, in order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acknowledgedAtLeast, finishAndCheck, startCluster } from '../helpers/fault-scenarios.ts';
import { ThrowawayPostgres } from '../helpers/throwaway-postgres.ts';

const PAUSE_MS = 8000;

test(`PostgreSQL frozen (SIGSTOP) for ${PAUSE_MS / 1000} s mid-run: nothing acknowledged meanwhile, nothing lost or doubled after`, async (t) => {
  const cluster = await ThrowawayPostgres.start(t);
  const env = {
    DATABASE_URL: cluster.url,
    WORKER_POLL_MS: '50',
    WORKER_LEASE_MS: '2000',
    AGENTS_ENABLED: 'false',
    OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
  };
  const run = await startCluster(t, env, {
    total: 5000,
    runId: 'pgpause',
    keysPerLane: 8,
    timeoutMs: 4000,
  });
  const { api, load, workers } = run;
  await acknowledgedAtLeast(load, 1200, 'load flowing before the pause');

  await cluster.pause();
  // Requests already past the database may still be answered; after that, nothing.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const acknowledgedFrozen = load.log.acknowledged.size;
  await new Promise((resolve) => setTimeout(resolve, PAUSE_MS - 1000));
  const acknowledgedDuringPause = load.log.acknowledged.size - acknowledgedFrozen;
  await cluster.resume();

  await finishAndCheck(
    t,
    run,
    { databaseUrl: cluster.url, schema: 'public' },
    {
      minAcknowledged: 5000,
      deadLetters: 0,
      note: `requests without an answer or refused ${JSON.stringify(Object.fromEntries(load.stats.refused))}`,
    },
  );
  assert.equal(acknowledgedDuringPause, 0, 'nothing acknowledged while the database is frozen');
  for (const process of [api, ...workers]) {
    assert.equal(process.child.exitCode, null, 'no process died of the frozen database');
  }
});
