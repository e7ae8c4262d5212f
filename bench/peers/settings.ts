/** How each peer is configured for throughput; recorded in the results JSON. */

export const BULLMQ_SETTINGS = {
  worker_concurrency: 100,
  add_bulk_chunk: 1000,
  job_options: { removeOnComplete: true, removeOnFail: 1000 },
  pg_pool: 20,
};

export const PG_BOSS_SETTINGS = {
  insert_chunk: 1000,
  work: {
    batchSize: 100,
    localConcurrency: 4,
    pollingIntervalSeconds: 0.5,
    burstWhenBatchFull: true,
  },
  pg_pool: 10,
};

export const GRAPHILE_SETTINGS = {
  add_jobs_chunk: 1000,
  preset: {
    worker: {
      concurrentJobs: 24,
      maxPoolSize: 25,
      localQueue: { size: 500 },
      completeJobBatchDelay: 0,
      failJobBatchDelay: 0,
      pollInterval: 2000,
    },
  },
  sink_pg_pool: 10,
};

/** The raw @platformatic/kafka ceiling and its hand-rolled consumer (bench/peers/kafka-raw.ts). */
export const KAFKA_RAW_SETTINGS = {
  partitions: 16,
  send_batch: 1000,
  producer: 'idempotent, acks=all (as Herald’s)',
  max_wait_ms: 200,
  insert_batch: 1000,
  inserts_in_flight: 4,
};
