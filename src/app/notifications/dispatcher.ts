import { type RetrySchedule, retryDelay } from '../../domain/notifications.ts';
import { ErrorCodes, HeraldError, isConnectionError } from '../../errors.ts';
import type { Logger } from '../../observability/logger.ts';
import type {
  AttemptResult,
  ClaimedDelivery,
  NotificationStore,
} from '../../ports/notification-store.ts';
import {
  DeliveryError,
  type Notifiers,
  type PushSubscriptionTarget,
  type SendReceipt,
} from '../../ports/notifier.ts';

/** Counts outcomes per channel: herald_notifications_total (metrics.ts) in production. */
export interface NotificationCounter {
  inc(labels: { channel: string; outcome: 'sent' | 'retrying' | 'failed' | 'skipped' }): void;
}

export interface DispatcherOptions {
  /** How often due deliveries are looked for (new ones also wake the dispatcher in-process). */
  pollMs: number;
  /** Deadline of one attempt. */
  timeoutMs: number;
  /** How long a claimed delivery stays ours; must exceed timeoutMs. */
  leaseMs: number;
  /** Deliveries claimed (and sent concurrently) per round. */
  batchSize: number;
  retry: RetrySchedule;
  maxAttempts: number;
  webhookDisable: { afterFailures: number; afterMs: number };
  /** Domain of the stable Message-IDs, e.g. herald.local. */
  messageIdDomain: string;
}

/**
 * Sends due deliveries. A round claims up to `batchSize` due rows under a lease (SKIP LOCKED,
 * so dispatchers in several processes share the work), sends each once under its deadline,
 * and records the outcome: sent, retrying (backoff with jitter, the provider's Retry-After
 * honoured) or failed (permanent error, or NOTIFY_MAX_ATTEMPTS reached).
 *
 * Delivery is at least once: a process that dies after the provider accepted a message but
 * before the outcome is recorded leaves the lease to expire, and the message is sent again.
 * The window is the time between the provider's answer and one UPDATE; repeated copies carry
 * the same Message-ID / webhook-id, so receivers that deduplicate on it see one message. A
 * process that dies before the provider accepted (mid-send) sends exactly one copy.
 */
export class NotificationDispatcher {
  readonly #store: NotificationStore;
  readonly #notifiers: Notifiers;
  readonly #counter: NotificationCounter;
  readonly #logger: Logger;
  readonly #options: DispatcherOptions;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #again = false;
  #running = false;
  #storeFailures = 0;

  constructor(
    store: NotificationStore,
    notifiers: Notifiers,
    counter: NotificationCounter,
    logger: Logger,
    options: DispatcherOptions,
  ) {
    if (options.leaseMs <= options.timeoutMs) {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `NOTIFY_LEASE_MS (${options.leaseMs}) must exceed NOTIFY_TIMEOUT_MS (${options.timeoutMs}): ` +
          'a lease shorter than an attempt lets another process send the same message',
        { details: { setting: 'NOTIFY_LEASE_MS' } },
      );
    }
    this.#store = store;
    this.#notifiers = notifiers;
    this.#counter = counter;
    this.#logger = logger;
    this.#options = options;
  }

  start(): void {
    this.#running = true;
    this.#schedule(0);
  }

  /** Looks for due deliveries now (called when new ones were recorded). */
  wake(): void {
    if (!this.#running) return;
    if (this.#round !== undefined) {
      this.#again = true;
      return;
    }
    this.#schedule(0);
  }

  /** Stops claiming; attempts in flight finish (within their deadline) and are recorded. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#round;
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#round = this.runOnce()
        .then((claimed) => {
          this.#storeFailures = 0;
          return claimed;
        })
        .catch((error: unknown) => {
          this.#storeFailures += 1;
          this.#logger.warn({ err: error }, 'notification dispatcher round failed');
          return -1;
        })
        .then((claimed) => {
          this.#round = undefined;
          if (!this.#running) return;
          const again = this.#again || claimed === this.#options.batchSize;
          this.#again = false;
          // A failing store (database down) is polled less often, up to 30 s.
          const idle =
            this.#storeFailures > 0
              ? Math.min(30_000, this.#options.pollMs * 2 ** this.#storeFailures)
              : this.#options.pollMs;
          this.#schedule(again ? 0 : idle);
        });
    }, delayMs);
  }

  /** One round: claims due deliveries, sends them concurrently, records each outcome. */
  async runOnce(): Promise<number> {
    const claimed = await this.#store.claimDue(this.#options.batchSize, this.#options.leaseMs);
    await Promise.all(claimed.map((delivery) => this.#deliver(delivery)));
    return claimed.length;
  }

  async #deliver(delivery: ClaimedDelivery): Promise<void> {
    const started = performance.now();
    let result: AttemptResult;
    let error: unknown;
    try {
      const receipt = await this.#send(delivery, AbortSignal.timeout(this.#options.timeoutMs));
      result = {
        outcome: 'sent',
        provider: receipt.provider,
        ...(receipt.providerMessageId === undefined
          ? {}
          : { providerMessageId: receipt.providerMessageId }),
        ...(receipt.statusCode === undefined ? {} : { statusCode: receipt.statusCode }),
      };
    } catch (caught) {
      error = caught;
      result = this.#failure(delivery, caught);
    }
    const durationMs = performance.now() - started;
    let recorded: boolean;
    try {
      recorded = await this.#store.recordAttempt(delivery, result, durationMs);
    } catch (storeError) {
      // The lease expires and the delivery is tried again: at least once, never lost.
      this.#logger.error(
        { err: storeError, deliveryId: delivery.id, outcome: result.outcome },
        'could not record a notification attempt; it will be retried when its lease expires',
      );
      return;
    }
    const log = {
      deliveryId: delivery.id,
      eventId: delivery.eventId,
      channel: delivery.channel,
      attempt: delivery.attempts,
      outcome: result.outcome,
      durationMs: Math.round(durationMs),
    };
    if (!recorded) {
      this.#logger.warn(log, 'notification lease lost before the outcome was recorded');
      return;
    }
    const outcome =
      result.outcome === 'sent' ? 'sent' : result.outcome === 'retry' ? 'retrying' : 'failed';
    this.#counter.inc({ channel: delivery.channel, outcome });
    if (result.outcome === 'sent') {
      this.#logger.info(log, 'notification sent');
    } else {
      this.#logger.warn({ ...log, err: error, error: result.error }, 'notification attempt failed');
    }
    await this.#afterOutcome(delivery, result, error).catch((followUpError: unknown) =>
      this.#logger.warn(
        { err: followUpError, deliveryId: delivery.id },
        'notification follow-up failed',
      ),
    );
  }

  #failure(delivery: ClaimedDelivery, error: unknown): AttemptResult {
    const message = error instanceof Error ? error.message : String(error);
    const delivered = error instanceof DeliveryError ? error : undefined;
    const retryable = delivered ? delivered.retryable : isConnectionError(error);
    const statusCode = delivered?.statusCode;
    const extra = statusCode === undefined ? {} : { statusCode };
    if (!retryable || delivery.attempts >= this.#options.maxAttempts) {
      const why = retryable ? ` (gave up after ${delivery.attempts} attempts)` : '';
      return { outcome: 'failed', error: `${message}${why}`, ...extra };
    }
    const delayMs = retryDelay(delivery.attempts, this.#options.retry, delivered?.retryAfterMs);
    return {
      outcome: 'retry',
      nextAttemptAt: new Date(Date.now() + delayMs),
      error: message,
      ...extra,
    };
  }

  /** Endpoint health and forgotten push subscriptions, once the outcome is recorded. */
  async #afterOutcome(
    delivery: ClaimedDelivery,
    result: AttemptResult,
    error: unknown,
  ): Promise<void> {
    if (delivery.channel === 'webhook' && delivery.endpointId !== null) {
      if (result.outcome === 'sent') {
        await this.#store.endpointSucceeded(delivery.endpointId);
      } else if (!(error instanceof EndpointUnavailable)) {
        const { afterFailures, afterMs } = this.#options.webhookDisable;
        if (await this.#store.endpointFailed(delivery.endpointId, afterFailures, afterMs)) {
          this.#logger.warn(
            { endpointId: delivery.endpointId },
            'webhook endpoint disabled after sustained failure',
          );
        }
      }
    }
    if (delivery.channel === 'push' && error instanceof DeliveryError && error.gone) {
      const subscription = delivery.payload.subscription as PushSubscriptionTarget | undefined;
      if (subscription) await this.#store.removePushSubscription(subscription.endpoint);
    }
  }

  async #send(delivery: ClaimedDelivery, signal: AbortSignal): Promise<SendReceipt> {
    const payload = delivery.payload;
    switch (delivery.channel) {
      case 'email':
        return this.#notifiers.email.send(
          {
            to: delivery.recipient,
            subject: String(payload.subject),
            text: String(payload.text),
            ...(typeof payload.html === 'string' ? { html: payload.html } : {}),
            messageId: `<${delivery.id}@${this.#options.messageIdDomain}>`,
            idempotencyKey: delivery.id,
          },
          signal,
        );
      case 'sms': {
        const sms = this.#notifiers.sms;
        if (sms === undefined) throw notConfigured('sms');
        return sms.send(
          { to: delivery.recipient, body: String(payload.body), idempotencyKey: delivery.id },
          signal,
        );
      }
      case 'push': {
        const push = this.#notifiers.push;
        if (push === undefined) throw notConfigured('push');
        return push.send(
          {
            subscription: payload.subscription as PushSubscriptionTarget,
            payload: JSON.stringify(payload.notification),
            ttlSeconds: Number(payload.ttlSeconds),
            topic: delivery.eventId.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32),
          },
          signal,
        );
      }
      case 'webhook': {
        const endpoint =
          delivery.endpointId === null
            ? undefined
            : await this.#store.getEndpoint(delivery.endpointId);
        if (endpoint === undefined)
          throw new EndpointUnavailable('the webhook endpoint was deleted');
        if (endpoint.disabledAt !== null) {
          throw new EndpointUnavailable(
            `the webhook endpoint is disabled${endpoint.disabledReason ? `: ${endpoint.disabledReason}` : ''}`,
          );
        }
        const secrets = [endpoint.secret];
        if (
          endpoint.previousSecret !== null &&
          endpoint.previousSecretExpiresAt !== null &&
          Date.parse(endpoint.previousSecretExpiresAt) > Date.now()
        ) {
          secrets.push(endpoint.previousSecret);
        }
        return this.#notifiers.webhook.send(
          {
            url: endpoint.url,
            id: delivery.eventId,
            body: String(payload.body),
            secrets,
          },
          signal,
        );
      }
    }
  }
}

/** The delivery's endpoint was deleted or disabled: permanent, and not the endpoint's fault. */
class EndpointUnavailable extends DeliveryError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

const notConfigured = (channel: string) =>
  new DeliveryError(`no ${channel} provider is configured`, { retryable: false });
