import type { Stage } from '../app/pipeline.ts';
import { Worker } from '../app/worker.ts';
import type { Config } from '../config.ts';
import { TOPICS } from '../domain/events.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Broker } from '../ports/broker.ts';
import type { EventStore } from '../ports/event-store.ts';
import { consumerId, WORKER_GROUP } from './consumer-groups.ts';
import type { Stops } from './stops.ts';

/** The processing worker (worker role), running the pipeline's `stages` over each batch. */
export async function startWorker(
  config: Config,
  deps: {
    store: EventStore;
    broker: Broker;
    metrics: Metrics;
    logger: Logger;
    stages: readonly Stage[];
  },
  stops: Stops,
): Promise<Worker> {
  const worker = new Worker(deps.store, deps.metrics, deps.logger, {
    group: WORKER_GROUP,
    consumerId: consumerId(),
    topics: TOPICS,
    batchSize: config.workerBatchSize,
    concurrency: config.workerConcurrency,
    retry: {
      baseMs: config.retryBaseMs,
      maxMs: config.retryMaxMs,
      maxAttempts: config.retryMaxAttempts,
    },
    stages: deps.stages,
  });
  await worker.start(deps.broker);
  stops.add('worker', () => worker.stop());
  return worker;
}
