/**
 * pg-boss doing Herald's work: each event a job (queued with insert() in chunks), work() whose
 * handler inserts the rows of the jobs it was handed. Configured for throughput as pg-boss's
 * docs describe: bulk insert, batchSize (one handler call per batch, one INSERT for it),
 * burstWhenBatchFull (fetch again at once while batches come back full), the shortest polling
 * interval, and a few local workers.
 */
import { PgBoss } from 'pg-boss';
import { chunks, jobPayloads, onStop, say, settings, sinkWriter } from './common.ts';
import { PG_BOSS_SETTINGS } from './settings.ts';

const s = settings();
const boss = new PgBoss({
  connectionString: s.postgresUrl,
  schema: `${s.schema}_pgboss`,
  max: PG_BOSS_SETTINGS.pg_pool,
});
boss.on('error', (error) => process.stderr.write(`pg-boss: ${String(error)}\n`));
await boss.start();

if (s.role === 'worker') {
  await boss.createQueue(s.queue);
  const sink = sinkWriter(s, PG_BOSS_SETTINGS.pg_pool);
  await boss.work<Record<string, unknown>>(s.queue, PG_BOSS_SETTINGS.work, async (jobs) => {
    await sink.insert(jobs.map((job) => job.data));
  });
  say({ ready: true });
  onStop(async () => {
    await boss.stop({ graceful: true, timeout: 10_000 });
    await sink.pool.end();
  });
} else {
  const started = Date.now();
  for (const part of chunks(jobPayloads(s), PG_BOSS_SETTINGS.insert_chunk)) {
    await boss.insert(
      s.queue,
      part.map((events) => ({ data: events[0] as object })),
    );
  }
  say({ ready: true, done: true, started, enqueued_ms: Date.now() - started });
  await boss.stop({ graceful: false });
  process.exit(0);
}
