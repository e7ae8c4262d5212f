import { ErrorCodes, isConnectionError, isRetryable } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { type BatchTrace, traceBatch } from '../observability/tracing.ts';
import type { BatchOutcome, Broker, Consumer, DeliveredMessage } from '../ports/broker.ts';
import type {
  AttemptRecord,
  DeadLetterForm,
  EventStore,
  FailedEvent,
  OperatorRequest,
  ProcessedEvent,
} from '../ports/event-store.ts';
import { type BackoffPolicy, fullJitterDelay } from './backoff.ts';
import { describeError, failureOf, type Outcome, processMessage, type Stage } from './pipeline.ts';
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
 * Failures are classified by cause. An event that can never succeed is dead-lettered at once;
 * a transient failure stops the batch at that event (keeping its key's order), which is
 * retried in place with backoff and dead-lettered after `retry.maxAttempts` retries. A
 * database that cannot be reached is waited out with backoff behind a circuit breaker, never
 * dead-lettered: the events stay in the broker. A database that refuses an event's content
 * fails that event alone: the batch is split to find it, it is dead-lettered with the
 * database's reason, the rest is persisted, and the partition moves on.
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

  /**
   * The consumer's handler: one batch, in one trace, unless the database breaker is open
   * (then the batch goes back to the broker at once, to be delivered again later).
   */
  async handle(batch: readonly DeliveredMessage[]): Promise<BatchOutcome> {
    if (!this.#storeBreaker.tryAcquire()) {
      return { handled: 0, retryAfterMs: Math.max(this.#storeBreaker.retryInMs, 50) };
    }
    const traced = traceBatch(batch, 'process', {
      'messaging.operation.type': 'process',
      'messaging.consumer.group.name': this.#options.group,
    });
    try {
      return await this.#processBatch(batch, traced);
    } catch (error) {
      this.#storeBreaker.onAbandon();
      throw error;
    } finally {
      traced.end();
    }
  }

  /**
   * Runs the stages over each message (stopping at the first that must be retried), persists
   * what is done, and says how far the batch got.
   */
  async #processBatch(
    batch: readonly DeliveredMessage[],
    traced: BatchTrace,
  ): Promise<BatchOutcome> {
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
    const items: Item[] = [];
    done.forEach((outcome, index) => {
      const message = batch[index];
      if (outcome === 'duplicate' || message === undefined) return;
      if (outcome.kind === 'processed') items.push({ index, message, processed: outcome.event });
      else if (outcome.kind === 'dead') items.push({ index, message, dead: outcome.failure });
    });

    try {
      await traced.batch('persist', () => this.#persistItems(items));
    } catch (error) {
      if (isRetryable(error)) return this.#storeFailed(error, batch, 0);
      // The database refused something in the batch (an event's content): find what by
      // halves, dead-letter it with the database's reason, and persist the rest.
      this.#logger.warn(
        { err: error, events: items.length },
        'batch refused by the store; isolating the refused events',
      );
      const progress = { done: 0 };
      try {
        await traced.batch('isolate', () => this.#isolate(items, error, now, progress));
      } catch (unavailable) {
        const from = items[progress.done]?.index ?? 0;
        return this.#storeFailed(unavailable, batch, from);
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

  #persistItems(items: readonly Item[]): Promise<void> {
    const processed: ProcessedEvent[] = [];
    const dead: FailedEvent[] = [];
    for (const item of items) {
      if (item.processed !== undefined) processed.push(item.processed);
      if (item.dead !== undefined) dead.push(item.dead);
    }
    return this.#persistAndCount(processed, dead);
  }

  /**
   * `items` were refused together (with `refusal`): persists them half by half, in batch
   * order, down to the single events the database refuses, which are dead-lettered. One bad
   * event in n costs about 2·log2(n) statements; earlier events reach their terminal state
   * before later ones (a key's order holds). `progress.done` counts the items done so far;
   * throws a retryable error when the store becomes unavailable meanwhile.
   */
  async #isolate(
    items: readonly Item[],
    refusal: unknown,
    now: Date,
    progress: { done: number },
  ): Promise<void> {
    const [only] = items;
    if (items.length === 1 && only !== undefined) {
      await this.#deadLetterRefused(only, refusal, now);
      progress.done++;
      return;
    }
    const middle = Math.ceil(items.length / 2);
    for (const half of [items.slice(0, middle), items.slice(middle)]) {
      if (half.length === 0) continue;
      try {
        await this.#persistItems(half);
        progress.done += half.length;
      } catch (error) {
        if (isRetryable(error)) throw error;
        await this.#isolate(half, error, now, progress);
      }
    }
  }

  /** A single event the database refused: its dead letter, stored in whatever form stores. */
  async #deadLetterRefused(item: Item, refusal: unknown, now: Date): Promise<void> {
    const failure =
      item.dead ??
      Object.assign(failureOf(item.message, 'persist_failed', refusal, now), {
        errorCode: ErrorCodes.STORE_REFUSED,
      });
    await this.#storeDeadLetter(failure);
  }

  /**
   * Stores one dead letter, falling back to its payload's text or a minimal record (see
   * EventStore.persistDeadLetter). Where even that is refused, the event is given up on with an
   * error log line: a partition never waits for a dead letter that cannot be written.
   */
  async #storeDeadLetter(failure: FailedEvent): Promise<void> {
    let form: DeadLetterForm;
    try {
      form = await this.#store.persistDeadLetter(failure);
    } catch (error) {
      if (isRetryable(error)) throw error;
      this.#logger.error(
        { err: error, eventId: failure.id, partition: failure.partition, offset: failure.offset },
        'dead letter could not be stored; the event is skipped',
      );
      return;
    }
    this.#deadLettered(failure, form);
  }

  /** Persists processed events and dead letters in one write, then counts them. */
  async #persistAndCount(processed: ProcessedEvent[], dead: FailedEvent[]): Promise<void> {
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
    for (const failure of dead) this.#deadLettered(failure);
  }

  /** Counts and logs a stored dead letter; `form` when it was stored on its own. */
  #deadLettered(failure: FailedEvent, form?: DeadLetterForm): void {
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
        partition: failure.partition,
        offset: failure.offset,
        ...(form === undefined || form === 'jsonb' ? {} : { storedAs: form }),
      },
      'event dead-lettered',
    );
  }

  /** A transient failure of `message` (at `index`): count the attempt, back off or give up. */
  async #retryLater(
    message: DeliveredMessage,
    index: number,
    failure: FailedEvent,
  ): Promise<BatchOutcome> {
    let record: AttemptRecord;
    try {
      record = await this.#store.recordAttempt(failure);
    } catch (error) {
      if (isRetryable(error)) return this.#storeFailed(error, [message], 0, index);
      // Even the attempt cannot be recorded (the store refuses what it holds): it would be
      // refused the same way on every try, so it is dead-lettered now.
      try {
        await this.#storeDeadLetter({
          ...failure,
          reason: 'persist_failed',
          errorCode: ErrorCodes.STORE_REFUSED,
          error: `${failure.error}; its retry could not be recorded: ${describeError(error)}`,
        });
      } catch (unavailable) {
        return this.#storeFailed(unavailable, [message], 0, index);
      }
      return { handled: index + 1 };
    }
    if (record.operatorRequest !== undefined) {
      return this.#applyOperatorRequest(message, index, failure, record.operatorRequest);
    }
    const { attempts } = record;
    const context = {
      eventId: message.id,
      correlationId: message.headers.correlation_id,
      attempts,
    };
    // `attempts` failures so far: the first try plus attempts − 1 retries.
    if (attempts > this.#options.retry.maxAttempts) {
      try {
        await this.#storeDeadLetter({ ...failure, reason: 'retries_exhausted' });
      } catch (error) {
        return this.#storeFailed(error, [message], 0, index);
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

  /**
   * An operator asked to dead-letter `message`, which holds its partition (see
   * OperatorRequest): it is dead-lettered as `operator`, with who asked and its last error,
   * and the partition moves on.
   */
  async #applyOperatorRequest(
    message: DeliveredMessage,
    index: number,
    failure: FailedEvent,
    request: OperatorRequest,
  ): Promise<BatchOutcome> {
    const note = request.note === undefined ? '' : ` (${request.note})`;
    const letter: FailedEvent = {
      ...failure,
      reason: 'operator',
      operator: request.requestedBy,
      error: `dead-lettered by ${request.requestedBy} at ${request.requestedAt}${note}; last error: ${failure.error}`,
    };
    try {
      await this.#storeDeadLetter(letter);
      await this.#store.completeOperatorRequest(request.eventId, request.generation);
    } catch (error) {
      // Not #storeFailed: that would look for this same request again.
      return { ...this.#storeUnavailable(error), handled: index };
    }
    this.#logger.warn(
      { eventId: message.id, partition: message.partition, operator: request.requestedBy },
      'event dead-lettered by an operator; its partition moves on',
    );
    return { handled: index + 1 };
  }

  /**
   * The store failed transiently while handling `batch` from `from` on (the first `handled`
   * of the whole batch, `handledBefore`, are done): back off, and count it towards the
   * database breaker. Where the database still answers (a lock or statement timeout on this
   * batch, not a lost connection), an operator may have asked to dead-letter the message that
   * holds the partition: that is done instead.
   */
  async #storeFailed(
    error: unknown,
    batch: readonly DeliveredMessage[],
    from: number,
    handledBefore = from,
  ): Promise<BatchOutcome> {
    const outcome = { ...this.#storeUnavailable(error), handled: handledBefore };
    const head = batch[from];
    if (head === undefined || isConnectionError(error)) return outcome;
    const request = await this.#store
      .operatorRequest(head.id, head.generation)
      .catch(() => undefined);
    if (request === undefined) return outcome;
    const failure = failureOf(head, 'transient', error);
    return this.#applyOperatorRequest(head, handledBefore, failure, request);
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
}

/** One event of a batch on its way to the store: processed, or dead-lettered by a stage. */
interface Item {
  /** Its index in the batch. */
  index: number;
  message: DeliveredMessage;
  processed?: ProcessedEvent;
  dead?: FailedEvent;
}
