/**
 * graphile-worker doing Herald's work: each event a job (or, in batched mode, BENCH_PER_JOB
 * events per job: a batch job whose payload is an array), queued with addJobs; the task
 * inserts the job's rows. Configured as graphile-worker's performance page does: 24
 * concurrent jobs, a pool of 25, a local queue of 500, and batched job completion.
 */
import { makeWorkerUtils, run } from 'graphile-worker';
import { chunks, jobPayloads, onStop, say, settings, sinkWriter } from './common.ts';
import { GRAPHILE_SETTINGS } from './settings.ts';

const s = settings();
const schema = `${s.schema}_graphile`;

if (s.role === 'worker') {
  const sink = sinkWriter(s, GRAPHILE_SETTINGS.sink_pg_pool);
  const runner = await run({
    connectionString: s.postgresUrl,
    schema,
    noHandleSignals: true,
    preset: GRAPHILE_SETTINGS.preset,
    taskList: {
      event: async (payload) => {
        await sink.insert(Array.isArray(payload) ? payload : [payload]);
      },
    },
  });
  say({ ready: true });
  onStop(async () => {
    await runner.stop();
    await sink.pool.end();
  });
} else {
  const utils = await makeWorkerUtils({ connectionString: s.postgresUrl, schema });
  await utils.migrate();
  const started = Date.now();
  for (const part of chunks(jobPayloads(s), GRAPHILE_SETTINGS.add_jobs_chunk)) {
    await utils.addJobs(
      part.map((events) => ({
        identifier: 'event',
        payload: s.perJob === 1 ? events[0] : events,
      })),
    );
  }
  say({ ready: true, done: true, started, enqueued_ms: Date.now() - started });
  await utils.release();
  process.exit(0);
}
