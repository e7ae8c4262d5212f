import client from 'prom-client';

/**
 * Herald's Prometheus metrics, one registry per process (tests build several processes' worth
 * in one). Names are `herald_*`; latencies are histograms in seconds.
 */
export class Metrics {
  readonly registry = new client.Registry();

  readonly eventsAccepted = new client.Counter({
    name: 'herald_events_accepted_total',
    help: 'Events accepted (durably enqueued) by the API',
    labelNames: ['topic', 'broker'] as const,
    registers: [this.registry],
  });

  readonly eventsDuplicate = new client.Counter({
    name: 'herald_events_duplicate_total',
    help: 'Events submitted again with an id already accepted',
    labelNames: ['topic'] as const,
    registers: [this.registry],
  });

  readonly eventsRejected = new client.Counter({
    name: 'herald_events_rejected_total',
    help: 'Events refused by the API as invalid',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly eventsProcessed = new client.Counter({
    name: 'herald_events_processed_total',
    help: 'Events processed and persisted by workers',
    labelNames: ['topic', 'type'] as const,
    registers: [this.registry],
  });

  readonly eventsRetried = new client.Counter({
    name: 'herald_events_retried_total',
    help: 'Failed processing attempts that will be retried',
    labelNames: ['topic', 'error_code'] as const,
    registers: [this.registry],
  });

  readonly eventsDeadLettered = new client.Counter({
    name: 'herald_events_dead_lettered_total',
    help: 'Events moved to the dead letters',
    labelNames: ['topic', 'reason'] as const,
    registers: [this.registry],
  });

  readonly batchFailures = new client.Counter({
    name: 'herald_worker_batch_failures_total',
    help: 'Batches whose persistence failed transiently and will be retried',
    registers: [this.registry],
  });

  readonly endToEndLatency = new client.Histogram({
    name: 'herald_event_end_to_end_seconds',
    help: 'From accepted by the API to persisted by a worker',
    labelNames: ['topic'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly httpDuration = new client.Histogram({
    name: 'herald_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly publishBatchSize = new client.Histogram({
    name: 'herald_publish_batch_events',
    help: 'Events per group commit to the broker',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
    registers: [this.registry],
  });

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'herald_process_' });
  }
}
