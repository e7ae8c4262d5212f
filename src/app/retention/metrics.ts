import client from 'prom-client';

/**
 * The log's metrics over time, registered on a process's registry (Metrics.registry) by the
 * process that maintains the log: set after every maintenance pass, not on scrape.
 */
export class RetentionMetrics {
  readonly blocked: client.Gauge<'group'>;
  readonly oldestAge: client.Gauge;
  readonly segments: client.Gauge;
  readonly removed: client.Counter<'what'>;

  constructor(registry: client.Registry) {
    this.blocked = new client.Gauge({
      name: 'herald_log_retention_blocked',
      help: 'A consumer group holds back events older than LOG_RETENTION that it has not committed (1) or not (0)',
      labelNames: ['group'] as const,
      registers: [registry],
    });
    this.oldestAge = new client.Gauge({
      name: 'herald_log_oldest_event_age_seconds',
      help: 'Age of the oldest event still in the broker’s log',
      registers: [registry],
    });
    this.segments = new client.Gauge({
      name: 'herald_log_segments',
      help: 'Segments of the Postgres event log still kept',
      registers: [registry],
    });
    this.removed = new client.Counter({
      name: 'herald_retention_removed_total',
      help: 'What retention removed: log events (or offsets), dedupe ids and history rows',
      labelNames: ['what'] as const,
      registers: [registry],
    });
  }
}
