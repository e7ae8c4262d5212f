import type { Logger } from '../../observability/logger.ts';
import type { BatchOutcome, Broker, Consumer, DeliveredMessage } from '../../ports/broker.ts';
import { fullJitterDelay } from '../backoff.ts';
import type { NotificationDispatcher } from './dispatcher.ts';
import type { NotificationIntake } from './intake.ts';

/** The consumer group of the notification service: its own offsets on the topics it reads. */
export const NOTIFICATION_GROUP = 'herald-notifications';

export interface NotificationServiceOptions {
  consumerId: string;
  topics: readonly string[];
  batchSize: number;
  /** Backoff while the store (the database) is unavailable. */
  retry: { baseMs: number; maxMs: number };
}

/**
 * The notification service: a consumer group that records each event's deliveries (then
 * commits its offset: a crash in between redelivers the event, and the deliveries'
 * idempotency keys make that harmless), and a dispatcher that sends them.
 */
export class NotificationService {
  readonly #intake: NotificationIntake;
  readonly #dispatcher: NotificationDispatcher;
  readonly #logger: Logger;
  readonly #options: NotificationServiceOptions;
  #consumer: Consumer | undefined;
  #failures = 0;

  constructor(
    intake: NotificationIntake,
    dispatcher: NotificationDispatcher,
    logger: Logger,
    options: NotificationServiceOptions,
  ) {
    this.#intake = intake;
    this.#dispatcher = dispatcher;
    this.#logger = logger;
    this.#options = options;
  }

  get dispatcher(): NotificationDispatcher {
    return this.#dispatcher;
  }

  async start(broker: Broker): Promise<void> {
    const { consumerId, topics, batchSize } = this.#options;
    this.#dispatcher.start();
    this.#consumer = await broker.consume({
      group: NOTIFICATION_GROUP,
      consumerId,
      topics,
      batchSize,
      concurrency: 1,
      handler: (batch) => this.handle(batch),
      onError: (error) => this.#logger.error({ err: error }, 'notification consumer error'),
    });
    this.#logger.info({ group: NOTIFICATION_GROUP, topics }, 'notifications started');
  }

  async handle(batch: readonly DeliveredMessage[]): Promise<BatchOutcome> {
    try {
      const added = await this.#intake.accept(batch);
      this.#failures = 0;
      if (added.length > 0) this.#dispatcher.wake();
      return { handled: batch.length };
    } catch (error) {
      this.#failures += 1;
      const retryAfterMs = fullJitterDelay(this.#failures, this.#options.retry);
      this.#logger.warn(
        { err: error, events: batch.length, retryAfterMs },
        'could not record notification deliveries; the events will be delivered again',
      );
      return { handled: 0, retryAfterMs };
    }
  }

  /** Stops consuming, then lets the dispatcher finish the attempts in flight. */
  async stop(): Promise<void> {
    await this.#consumer?.stop();
    this.#consumer = undefined;
    await this.#dispatcher.stop();
  }
}
