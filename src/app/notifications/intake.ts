import { uuidv7 } from '../../domain/ids.ts';
import {
  subscribes,
  USER_TEMPLATES,
  type UserFacts,
  userFacts,
  webhookBody,
} from '../../domain/notifications.ts';
import { USERS_TOPIC } from '../../domain/users.ts';
import type { DeliveredMessage } from '../../ports/broker.ts';
import type {
  NewDelivery,
  NotificationStore,
  StoredPushSubscription,
} from '../../ports/notification-store.ts';
import type { NotificationCounter } from './dispatcher.ts';

export interface IntakeOptions {
  /** Channels with a sender configured; email always has one (the log, at worst). */
  sms: boolean;
  push: boolean;
  /** How long a push service keeps an undelivered notification. */
  pushTtlSeconds?: number;
}

const DAY_SECONDS = 86400;

/**
 * Turns events into deliveries: user events into email, SMS and push from the templates (a
 * channel the user turned off is recorded as skipped), and every event into a webhook
 * delivery per enabled endpoint subscribed to its type. Each delivery's idempotency key is
 * (event, channel, recipient): an event delivered again by the broker adds nothing.
 */
export class NotificationIntake {
  readonly #store: NotificationStore;
  readonly #counter: NotificationCounter;
  readonly #options: IntakeOptions;

  constructor(store: NotificationStore, counter: NotificationCounter, options: IntakeOptions) {
    this.#store = store;
    this.#counter = counter;
    this.#options = options;
  }

  /** The deliveries `batch` calls for, recorded; resolves with the ids of the new ones. */
  async accept(batch: readonly DeliveredMessage[]): Promise<string[]> {
    const users = new Map<string, UserFacts>();
    for (const message of batch) {
      if (message.topic !== USERS_TOPIC || USER_TEMPLATES[message.type] === undefined) continue;
      const facts = userFacts(message.value);
      if (facts !== undefined) users.set(message.id, facts);
    }
    const userIds = [...new Set([...users.values()].map((u) => u.id))];
    const [disabled, subscriptions, endpoints] = await Promise.all([
      this.#store.disabledChannels(userIds),
      this.#options.push ? this.#store.pushSubscriptions(userIds) : Promise.resolve([]),
      this.#store.activeEndpoints(),
    ]);
    const pushByUser = new Map<string, StoredPushSubscription[]>();
    for (const s of subscriptions)
      pushByUser.set(s.userId, [...(pushByUser.get(s.userId) ?? []), s]);

    const deliveries: NewDelivery[] = [];
    for (const message of batch) {
      const user = users.get(message.id);
      if (user !== undefined) {
        deliveries.push(
          ...this.#userDeliveries(message, user, disabled.get(user.id), pushByUser.get(user.id)),
        );
      }
      const body = webhookBody(message.type, message.acceptedAt.toISOString(), message.value);
      for (const endpoint of endpoints) {
        if (!subscribes(endpoint.eventTypes, message.type)) continue;
        deliveries.push({
          id: uuidv7(),
          eventId: message.id,
          eventType: message.type,
          channel: 'webhook',
          recipient: endpoint.id,
          userId: user?.id ?? null,
          endpointId: endpoint.id,
          payload: { body },
          status: 'pending',
        });
      }
    }
    const added = await this.#store.recordDeliveries(deliveries);
    const isNew = new Set(added);
    for (const d of deliveries) {
      if (d.status === 'skipped' && isNew.has(d.id)) {
        this.#counter.inc({ channel: d.channel, outcome: 'skipped' });
      }
    }
    return added;
  }

  #userDeliveries(
    message: DeliveredMessage,
    user: UserFacts,
    optedOut: ReadonlySet<string> | undefined,
    pushSubscriptions: readonly StoredPushSubscription[] | undefined,
  ): NewDelivery[] {
    const templates = USER_TEMPLATES[message.type] ?? {};
    const out: NewDelivery[] = [];
    const add = (channel: 'email' | 'sms' | 'push', recipient: string, payload: object) => {
      const off = optedOut?.has(channel) ?? false;
      out.push({
        id: uuidv7(),
        eventId: message.id,
        eventType: message.type,
        channel,
        recipient,
        userId: user.id,
        endpointId: null,
        payload: payload as Record<string, unknown>,
        status: off ? 'skipped' : 'pending',
        ...(off ? { lastError: `the user turned ${channel} notifications off` } : {}),
      });
    };
    if (templates.email) add('email', user.email, templates.email(user));
    if (templates.sms && this.#options.sms && user.phone !== null) {
      add('sms', user.phone, { body: templates.sms(user) });
    }
    if (templates.push && this.#options.push) {
      const notification = templates.push(user);
      for (const s of pushSubscriptions ?? []) {
        add('push', s.id, {
          subscription: { endpoint: s.endpoint, keys: s.keys },
          notification,
          ttlSeconds: this.#options.pushTtlSeconds ?? DAY_SECONDS,
        });
      }
    }
    return out;
  }
}
