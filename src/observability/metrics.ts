import client from 'prom-client';
import type { Broker } from '../ports/broker.ts';

const REDUNDANT_DEFAULT_GAUGES = [
  'herald_process_nodejs_active_handles_total',
  'herald_process_nodejs_active_requests_total',
  'herald_process_nodejs_active_resources_total',
];

/** Distinct event types given their own label value; the rest share `other`. */
export const MAX_EVENT_TYPE_LABELS = 200;

/**
 * Herald's Prometheus metrics, one registry per process (tests build several processes' worth
 * in one). Names are `herald_*`; latencies are histograms in seconds.
 */
export class Metrics {
  readonly registry = new client.Registry();

  readonly eventsAccepted = new client.Counter({
    name: 'herald_events_accepted_total',
    help: 'Events accepted (durably enqueued) by the API',
    labelNames: ['topic', 'type', 'broker'] as const,
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
    labelNames: ['topic', 'type', 'broker'] as const,
    registers: [this.registry],
  });

  readonly eventsRetried = new client.Counter({
    name: 'herald_events_retried_total',
    help: 'Failed processing attempts that will be retried',
    labelNames: ['topic', 'type', 'broker', 'error_code'] as const,
    registers: [this.registry],
  });

  readonly eventsDeadLettered = new client.Counter({
    name: 'herald_events_dead_lettered_total',
    help: 'Events moved to the dead letters',
    labelNames: ['topic', 'type', 'broker', 'reason'] as const,
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

  readonly llmCalls = new client.Counter({
    name: 'herald_llm_calls_total',
    help: 'Calls to the LLM provider by outcome (ok, rate_limited, server, timeout, …)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly llmTokens = new client.Counter({
    name: 'herald_llm_tokens_total',
    help: 'Tokens the LLM provider reported using',
    registers: [this.registry],
  });

  readonly llmRateLimited = new client.Counter({
    name: 'herald_llm_rate_limited_total',
    help: 'LLM calls delayed or refused by a rate limit (the provider’s 429 or our own budget)',
    registers: [this.registry],
  });

  readonly circuitBreakerState = new client.Gauge({
    name: 'herald_circuit_breaker_state',
    help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open',
    labelNames: ['breaker'] as const,
    registers: [this.registry],
  });

  readonly agentRuns = new client.Counter({
    name: 'herald_agent_runs_total',
    help: 'Agent runs recorded, by agent and status (succeeded, cached, rejected, fallback, offline)',
    labelNames: ['agent', 'status'] as const,
    registers: [this.registry],
  });

  readonly notifications = new client.Counter({
    name: 'herald_notifications_total',
    help: 'Notification attempts and intake by channel and outcome (sent, retrying, failed, skipped)',
    labelNames: ['channel', 'outcome'] as const,
    registers: [this.registry],
  });

  // Kept by the stall detector (src/app/stall-detector.ts) each time it looks at the broker.
  readonly partitionStalled = new client.Gauge({
    name: 'herald_partition_stalled',
    help: "1 while a partition's committed offset has not moved for STALL_AFTER_MS with events waiting, else 0",
    labelNames: ['group', 'partition'] as const,
    registers: [this.registry],
  });

  readonly partitionCommitAge = new client.Gauge({
    name: 'herald_partition_commit_age_seconds',
    help: "Seconds since a partition's committed offset last moved while events wait (0 when none wait)",
    labelNames: ['group', 'partition'] as const,
    registers: [this.registry],
  });

  // Lag and depth are read from the broker when scraped (see watchBroker), not kept up to date.
  #lagSource: { broker: Pick<Broker, 'lag'>; groups: readonly string[] } | undefined;
  #lagReading: Promise<void> | undefined;

  readonly consumerLag = new client.Gauge({
    name: 'herald_consumer_lag',
    help: 'Messages published but not yet committed by a consumer group, per partition',
    labelNames: ['group', 'partition'] as const,
    registers: [this.registry],
    collect: () => this.#collectLag(),
  });

  readonly queueDepth = new client.Gauge({
    name: 'herald_queue_depth',
    help: 'Messages waiting for a consumer group (its lag summed over partitions)',
    labelNames: ['group'] as const,
    registers: [this.registry],
    collect: () => this.#collectLag(),
  });

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'herald_process_' });
    // prom-client's totals of active handles, requests and resources are gauges named
    // `_total`, which Prometheus reserves for counters (promtool check metrics fails on them).
    // Each is the sum of the labelled gauge beside it: sum(herald_process_nodejs_active_handles).
    for (const gauge of REDUNDANT_DEFAULT_GAUGES) this.registry.removeSingleMetric(gauge);
  }

  readonly #eventTypes = new Set<string>();

  /**
   * The `type` label for an event type. Types come from producers, so only the first
   * MAX_EVENT_TYPE_LABELS distinct ones get their own series; later ones count as `other`,
   * which keeps a producer inventing types from exhausting Prometheus.
   */
  eventType(type: string): string {
    if (this.#eventTypes.has(type)) return type;
    if (this.#eventTypes.size >= MAX_EVENT_TYPE_LABELS) return 'other';
    this.#eventTypes.add(type);
    return type;
  }

  /** Reports `groups`' lag per partition and queue depth from `broker` on every scrape. */
  watchBroker(broker: Pick<Broker, 'lag'>, groups: readonly string[]): void {
    this.#lagSource = { broker, groups };
  }

  /** Both gauges are collected concurrently on a scrape; they share one read of the broker. */
  #collectLag(): Promise<void> {
    this.#lagReading ??= this.#readLag().finally(() => {
      this.#lagReading = undefined;
    });
    return this.#lagReading;
  }

  async #readLag(): Promise<void> {
    const source = this.#lagSource;
    if (source === undefined) return;
    this.consumerLag.reset();
    this.queueDepth.reset();
    for (const group of source.groups) {
      // A broker that cannot be read leaves the gauges empty: absent, not a false zero.
      const lag = await source.broker.lag(group).catch(() => undefined);
      if (lag === undefined) continue;
      let depth = 0;
      for (const p of lag) {
        this.consumerLag.set({ group, partition: String(p.partition) }, p.lag);
        depth += p.lag;
      }
      this.queueDepth.set({ group }, depth);
    }
  }
}
