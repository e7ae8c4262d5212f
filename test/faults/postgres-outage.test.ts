/**
 * PostgreSQL (a throwaway cluster of this test's own) crashes mid-run — `pg_ctl stop -m
 * immediate`, no clean shutdown — and stays down for OUTAGE_MS, then comes back and recovers
 * from its WAL, 30 s later: long past the workers' leases and every backoff step in play.
 *
 * While it is down the API refuses with 503 + Retry-After (never accepts what it cannot make
 * durable, never 500s), the workers back off instead of spinning, nothing is dead-lettered (an
 * outage is not the events' fault), and processing resumes within seconds of recovery. Every
 * event acknowledged before, during or after the outage is persisted exactly once, in order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  acknowledgedAtLeast,
  assertRefusalsAre503,
  finishAndCheck,
  resumedAfterRecovery,
  startCluster,
} from '../helpers/fault-scenarios.ts';
import { ThrowawayPostgres } from '../helpers/throwaway-postgres.ts';

const OUTAGE_MS = 30_000;

test(`PostgreSQL down for ${OUTAGE_MS / 1000} s mid-run: 503s, backoff, no dead letters, resumes within seconds, nothing lost`, async (t) => {
  const cluster = await ThrowawayPostgres.start(t);
  const env = {
    DATABASE_URL: cluster.url,
    WORKER_POLL_MS: '50',
    WORKER_LEASE_MS: '2000',
    AGENTS_ENABLED: 'false',
    OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
  };
  const run = await startCluster(t, env, { total: 6000, runId: 'pgdown', keysPerLane: 8 });
  const { load, workers } = run;
  await acknowledgedAtLeast(load, 1500, 'load flowing before the outage');

  const logsBefore = workers.map((w) => w.logs.length);
  await cluster.stopServer('immediate');
  // Commits that made it before the stop are acknowledged a moment later: let those answers
  // arrive, then nothing more may be acknowledged while the database is down.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const acknowledgedAtCrash = load.log.acknowledged.size;
  await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
  const acknowledgedDuringOutage = load.log.acknowledged.size - acknowledgedAtCrash;
  const complaints = workers.map((w, i) => w.logs.length - (logsBefore[i] ?? 0));
  await cluster.startServer();

  // Processing resumes within seconds of recovery.
  const resumedMs = await resumedAfterRecovery(cluster.url, 15_000);
  await finishAndCheck(
    t,
    run,
    { databaseUrl: cluster.url, schema: 'public' },
    {
      minAcknowledged: 6000,
      deadLetters: 0,
      note:
        `resumed ${resumedMs} ms after recovery; refusals during the run ${JSON.stringify(Object.fromEntries(load.stats.refused))}; ` +
        `worker log lines during the outage ${complaints.join(', ')}`,
    },
  );
  assert.ok(resumedMs < 10_000, `processing resumed ${resumedMs} ms after recovery`);
  assert.equal(acknowledgedDuringOutage, 0, 'nothing is acknowledged while nothing is durable');
  assertRefusalsAre503(load);
  assert.ok(
    (load.stats.refused.get(503) ?? 0) > 0,
    'the API answered 503 while the database was down',
  );
  assert.ok(load.stats.retryAfterSeen > 0, '503s carry Retry-After');
  // Backing off, not spinning: a few complaints per second per worker at most.
  for (const lines of complaints) {
    assert.ok(lines < (OUTAGE_MS / 1000) * 5, `${lines} log lines from a worker in the outage`);
  }
});
