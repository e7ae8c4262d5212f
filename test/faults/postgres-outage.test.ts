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
import pg from 'pg';
import { assertDelivery, checkDelivery, waitForProcessed } from '../helpers/delivery-check.ts';
import { eventually } from '../helpers/eventually.ts';
import { startLoad } from '../helpers/fault-load.ts';
import { runHerald } from '../helpers/herald-process.ts';
import { ThrowawayPostgres } from '../helpers/throwaway-postgres.ts';

const OUTAGE_MS = 30_000;

async function processedCount(url: string): Promise<number | undefined> {
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

test(`PostgreSQL down for ${OUTAGE_MS / 1000} s mid-run: 503s, backoff, no dead letters, resumes within seconds, nothing lost`, async (t) => {
  const cluster = await ThrowawayPostgres.start(t);
  const env = {
    DATABASE_URL: cluster.url,
    WORKER_POLL_MS: '50',
    WORKER_LEASE_MS: '2000',
    AGENTS_ENABLED: 'false',
    OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
  };
  const api = runHerald(t, ['api'], env);
  const url = await api.url;
  const workers = [runHerald(t, ['worker'], env), runHerald(t, ['worker'], env)];
  for (const worker of workers) {
    await eventually(
      () => (worker.logs.some((l) => l.msg === 'worker started') ? true : undefined),
      {
        timeoutMs: 30_000,
      },
    );
  }

  const load = startLoad({ url, total: 6000, runId: 'pgdown', lanes: 4, keysPerLane: 8 });
  await eventually(() => (load.log.acknowledged.size >= 1500 ? true : undefined), {
    timeoutMs: 60_000,
    message: 'load flowing before the outage',
  });

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
  const recoveredAt = performance.now();
  const before = await eventually(() => processedCount(cluster.url), { timeoutMs: 10_000 });

  // Processing resumes within seconds of recovery.
  await eventually(
    async () => {
      const now = await processedCount(cluster.url);
      return now !== undefined && now > before ? now : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100, message: 'processing to resume after recovery' },
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
  const refused = Object.fromEntries(load.stats.refused);
  t.diagnostic(
    `resumed ${resumedMs} ms after recovery; refusals during the run ${JSON.stringify(refused)}; ` +
      `worker log lines during the outage ${complaints.join(', ')}; acknowledged ${report.acknowledged}`,
  );

  assertDelivery(report, { minAcknowledged: 6000, deadLetters: 0 });
  assert.ok(resumedMs < 10_000, `processing resumed ${resumedMs} ms after recovery`);
  assert.equal(acknowledgedDuringOutage, 0, 'nothing is acknowledged while nothing is durable');
  for (const status of load.stats.refused.keys()) {
    assert.ok(status === 0 || status === 503, `the API refused with ${status}, not 503`);
  }
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
