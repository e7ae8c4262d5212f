/**
 * BullMQ doing Herald's work: each event a job (added with addBulk), a Worker whose processor
 * inserts the event's row into PostgreSQL. Configured for throughput as BullMQ's docs advise:
 * addBulk, a high local concurrency for an I/O-bound processor, completed jobs removed.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { chunks, jobPayloads, onStop, say, settings, sinkWriter } from './common.ts';
import { BULLMQ_SETTINGS } from './settings.ts';

const s = settings();
const connection = () => new Redis(s.redisUrl, { maxRetriesPerRequest: null });
const prefix = `bench_${s.queue}`;

if (s.role === 'worker') {
  const sink = sinkWriter(s, BULLMQ_SETTINGS.pg_pool);
  const worker = new Worker(
    s.queue,
    async (job) => {
      await sink.insert([job.data]);
    },
    { connection: connection(), prefix, concurrency: BULLMQ_SETTINGS.worker_concurrency },
  );
  await worker.waitUntilReady();
  say({ ready: true });
  onStop(async () => {
    await worker.close();
    await sink.pool.end();
  });
} else {
  const queue = new Queue(s.queue, { connection: connection(), prefix });
  await queue.waitUntilReady();
  const started = Date.now();
  for (const part of chunks(jobPayloads(s), BULLMQ_SETTINGS.add_bulk_chunk)) {
    await queue.addBulk(
      part.map((events) => ({
        name: 'event',
        data: events[0],
        opts: BULLMQ_SETTINGS.job_options,
      })),
    );
  }
  say({ ready: true, done: true, started, enqueued_ms: Date.now() - started });
  await queue.close();
  process.exit(0);
}
