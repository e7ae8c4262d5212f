import { isRetryable } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { type BatchTrace, traceBatch } from '../observability/tracing.ts';
import type { BatchOutcome, Broker, Consumer, DeliveredMessage } from '../ports/broker.ts';
import type { EventStore, FailedEvent, ProcessedEvent } from '../ports/event-store.ts';
import { type BackoffPolicy, fullJitterDelay } from './backoff.ts';
import { failureOf, type Outcome, processMessage, type Stage } from './pipeline.ts';
import { type BreakerState, CircuitBreaker } from './resilience/circuit-breaker.ts';

/** Store failures in a row that open the database circuit breaker. */
const STORE_BREAKER_FAILURES = 3;
const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

export interface WorkerOptions {
  group: string;
  consumerId: string;
  topics: readonly string[];
  batchSize: number;
  concurrency: number;
  retry: BackoffPolicy & { maxAttempts: number };
  stages: readonly Stage[];
}

/**
 * The worker pipeline over a broker: consume a batch → drop in-batch duplicates → run the
 * stages (validate, enrich …) → persist processed events and dead letters in one write → let
 * the broker commit. Persisting is an upsert on the event id, so a redelivered batch changes
 * nothing: at-least-once delivery, exactly-once outcome.
 *
 * Failures: an event that can never succeed is dead-lettered at once; a transient failure
 * stops the batch at that event (keeping its key's order), which is retried in place with
 * backoff and dead-lettered after `retry.maxAttempts` retries. A database that cannot be
 * written is waited out with backoff, never dead-lettered: the events stay in the broker.
 */
export class Worker {
  readonly #store: EventStore;
  readonly #metrics: Metrics;
  readonly #logger: Logger;
  readonly #options: WorkerOptions;
  #consumer: Consumer | undefined;
  #storeFailures = 0;
  readonly #storeBreaker: CircuitBreaker;
  /** The `broker` label of this worker's metrics. */
  #brokerName = 'unknown';

  constructor(store: EventStore, metrics: Metrics, logger: Logger, options: WorkerOptions) {
    this.#store = store;
    this.#metrics = metrics;
    this.#logger = logger;
    this.#options = options;
    // While the database is known to be down, batches go back to the broker at once (nothing
    // processed, nothing dead-lettered) and the store is left alone until the cooldown's trial
    // batch; the cooldown also bounds how long after a recovery processing resumes.
    metrics.circuitBreakerState.set({ breaker: 'database' }, 0);
    this.#storeBreaker = new CircuitBreaker({
      failureThreshold: STORE_BREAKER_FAILURES,
      cooldownMs: Math.min(options.retry.maxMs, 5000),
      onStateChange: (state) => {
        metrics.circuitBreakerState.set({ breaker: 'database' }, BREAKER_STATE_VALUE[state]);
        logger.warn({ breaker: 'database', state }, 'database circuit breaker changed state');
      },
    });
  }

  async start(broker: Broker): Promise<void> {
    const { group, consumerId, topics, batchSize, concurrency } = this.#options;
    this.#brokerName = broker.name;
    this.#consumer = await broker.consume({
      group,
      consumerId,
      topics,
      batchSize,
      concurrency,
      handler: (batch) => this.handle(batch),
      onError: (error) => this.#logger.error({ err: error }, 'consumer error'),
    });
    this.#logger.info({ group, consumerId, topics, concurrency }, 'worker started');
  }

  /** Stops consuming; the batches in flight finish and are committed first. */
  async stop(): Promise<void> {
    await this.#consumer?.stop();
    this.#consumer = undefined;
  }

  async handle(batch: readonly DeliveredMessage[]): Promise<BatchOutcome> {
    if (!this.#storeBreaker.tryAcquire()) {
      return { handled: 0, retryAfterMs: Math.max(this.#storeBreaker.retryInMs, 50) };
    }
    try {
      return await this.#handleTraced(batch);
    } catch (error) {
      this.#storeBreaker.onAbandon();
      throw error;
    }
  }

  async #handleTraced(batch: readonly DeliveredMessage[]): Promise<BatchOutcome> {
    const traced = traceBatch(batch, 'process', {
      'messaging.operation.type': 'process',
      'messaging.consumer.group.name': this.#options.group,
    });
    try {
      return await this.#handle(batch, traced);
    } finally {
      traced.end();
    }
  }

  async #handle(batch: readonly DeliveredMessage[], traced: BatchTrace): Promise<BatchOutcome> {
    const now = new Date();
    const seen = new Set<string>();
    const outcomes: (Outcome | 'duplicate')[] = [];
    for (const message of batch) {
      // The same id twice in one batch (a client retry that raced its original) is one event.
      if (seen.has(message.id)) {
        outcomes.push('duplicate');
        continue;
      }
      seen.add(message.id);
      const index = outcomes.length;
      const outcome = await traced.message(index, () =>
        processMessage(message, this.#options.stages, now),
      );
      if (outcome.kind !== 'processed') traced.fail(index, outcome.failure.error);
      outcomes.push(outcome);
      if (outcome.kind === 'retry') break;
    }

    const stoppedAt = outcomes.findIndex((o) => o !== 'duplicate' && o.kind === 'retry');
    const done = stoppedAt === -1 ? outcomes : outcomes.slice(0, stoppedAt);
    const processed: ProcessedEvent[] = [];
    const dead: FailedEvent[] = [];
    for (const o of done) {
      if (o === 'duplicate') continue;
      if (o.kind === 'processed') processed.push(o.event);
      else if (o.kind === 'dead') dead.push(o.failure);
    }

    try {
      await traced.batch('persist', () => this.#persist(processed, dead));
    } catch (error) {
      if (isRetryable(error)) return this.#storeUnavailable(error);
      try {
        await this.#persistOneByOne(batch, processed, dead, error);
      } catch (retryable) {
        return this.#storeUnavailable(retryable);
      }
    }
    this.#storeFailures = 0;
    this.#storeBreaker.onSuccess();

    if (stoppedAt === -1) return { handled: batch.length };
    const failing = outcomes[stoppedAt];
    const message = batch[stoppedAt];
    if (failing === undefined || failing === 'duplicate' || failing.kind !== 'retry' || !message) {
      return { handled: stoppedAt };
    }
    return traced.message(stoppedAt, () => this.#retryLater(message, stoppedAt, failing.failure));
  }

  async #persist(processed: ProcessedEvent[], dead: FailedEvent[]): Promise<void> {
    await this.#store.persist(processed, dead);
    const now = Date.now();
    for (const event of processed) {
      this.#metrics.eventsProcessed.inc({
        topic: event.topic,
        type: this.#metrics.eventType(event.type),
        broker: this.#brokerName,
      });
      this.#metrics.endToEndLatency.observe(
        { topic: event.topic },
        (now - event.acceptedAt.getTime()) / 1000,
      );
    }
    for (const failure of dead) {
      this.#metrics.eventsDeadLettered.inc({
        topic: failure.topic,
        type: this.#metrics.eventType(failure.type),
        broker: this.#brokerName,
        reason: failure.reason,
      });
      this.#logger.warn(
        {
          eventId: failure.id,
          correlationId: failure.headers.correlation_id,
          reason: failure.reason,
          errorCode: failure.errorCode,
          error: failure.error,
        },
        'event dead-lettered',
      );
    }
  }

  /** A transient failure of `message` (at `index`): count the attempt, back off or give up. */
  async #retryLater(
    message: DeliveredMessage,
    index: number,
    failure: FailedEvent,
  ): Promise<BatchOutcome> {
    let attempts: number;
    try {
      attempts = await this.#store.recordAttempt(failure);
    } catch (error) {
      return { handled: index, retryAfterMs: this.#storeUnavailable(error).retryAfterMs ?? 0 };
    }
    const context = {
      eventId: message.id,
      correlationId: message.headers.correlation_id,
      attempts,
    };
    // `attempts` failures so far: the first try plus attempts − 1 retries.
    if (attempts > this.#options.retry.maxAttempts) {
      try {
        await this.#persist([], [{ ...failure, reason: 'retries_exhausted' }]);
      } catch (error) {
        return { handled: index, retryAfterMs: this.#storeUnavailable(error).retryAfterMs ?? 0 };
      }
      return { handled: index + 1 };
    }
    this.#metrics.eventsRetried.inc({
      topic: message.topic,
      type: this.#metrics.eventType(message.type),
      broker: this.#brokerName,
      error_code: failure.errorCode,
    });
    const retryAfterMs = fullJitterDelay(attempts, this.#options.retry);
    this.#logger.warn(
      { ...context, retryAfterMs, error: failure.error },
      'event failed, will retry',
    );
    return { handled: index, retryAfterMs };
  }

  #storeUnavailable(error: unknown): BatchOutcome {
    this.#storeFailures++;
    this.#metrics.batchFailures.inc();
    this.#storeBreaker.onFailure();
    // Open: wait out the cooldown (not an ever-growing backoff), so recovery is noticed soon.
    const retryAfterMs =
      this.#storeBreaker.state === 'open'
        ? Math.max(this.#storeBreaker.retryInMs, 50)
        : fullJitterDelay(this.#storeFailures, this.#options.retry);
    this.#logger.warn(
      { err: error, consecutiveFailures: this.#storeFailures, retryAfterMs },
      'store unavailable, batch will be retried',
    );
    return { handled: 0, retryAfterMs };
  }

  /** The store refused the batch for good: persist event by event, dead-letter the refused. */
  async #persistOneByOne(
    batch: readonly DeliveredMessage[],
    processed: ProcessedEvent[],
    dead: FailedEvent[],
    batchError: unknown,
  ): Promise<void> {
    this.#logger.warn({ err: batchError }, 'batch refused by the store; persisting one by one');
    const byId = new Map(batch.map((m) => [m.id, m]));
    const refused: FailedEvent[] = [];
    for (const event of processed) {
      try {
        await this.#persist([event], []);
      } catch (error) {
        const message = byId.get(event.id);
        if (isRetryable(error) || message === undefined) throw error;
        refused.push(failureOf(message, 'persist_failed', error));
      }
    }
    await this.#persist([], [...dead, ...refused]);
  }
}
