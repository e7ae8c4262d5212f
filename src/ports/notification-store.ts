/**
 * Where notifications are kept: the delivery log (one row per event, channel and recipient,
 * with every attempt), webhook endpoints, push subscriptions and users' channel preferences.
 */
import type { Channel, PushSubscriptionTarget } from './notifier.ts';

export const DELIVERY_STATUSES = [
  'pending',
  'sending',
  'retrying',
  'sent',
  'failed',
  'skipped',
] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export type AttemptOutcome = 'started' | 'sent' | 'retryable' | 'permanent' | 'interrupted';

/** A delivery to record; (eventId, channel, recipient) is its idempotency key. */
export interface NewDelivery {
  id: string;
  eventId: string;
  eventType: string;
  channel: Channel;
  /** Email address, phone number, push subscription id or webhook endpoint id. */
  recipient: string;
  userId: string | null;
  endpointId: string | null;
  /** The rendered message (subject/text, SMS body, push payload, webhook body). */
  payload: Record<string, unknown>;
  /** `skipped` when the user opted out of the channel. */
  status: 'pending' | 'skipped';
  lastError?: string;
}

export interface DeliveryAttempt {
  attempt: number;
  startedAt: string;
  finishedAt: string | null;
  outcome: AttemptOutcome;
  statusCode: number | null;
  error: string | null;
  durationMs: number | null;
}

export interface Delivery extends Omit<NewDelivery, 'status' | 'lastError'> {
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  lastStatusCode: number | null;
  provider: string | null;
  providerMessageId: string | null;
  createdAt: string;
  updatedAt: string;
  sentAt: string | null;
}

/** A delivery claimed by a dispatcher: only the holder of `leaseToken` records its outcome. */
export interface ClaimedDelivery extends Delivery {
  leaseToken: string;
}

export interface DeliveryFilter {
  status?: DeliveryStatus;
  channel?: Channel;
  eventId?: string;
  eventType?: string;
  recipient?: string;
  userId?: string;
  /** Deliveries created before this one (keyset pagination, newest first). */
  before?: string;
  limit: number;
}

export type AttemptResult =
  | { outcome: 'sent'; provider: string; providerMessageId?: string; statusCode?: number }
  | {
      outcome: 'retry';
      nextAttemptAt: Date;
      error: string;
      statusCode?: number;
    }
  | { outcome: 'failed'; error: string; statusCode?: number };

export interface WebhookEndpoint {
  id: string;
  url: string;
  description: string | null;
  eventTypes: string[];
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: string | null;
  consecutiveFailures: number;
  failingSince: string | null;
  disabledAt: string | null;
  disabledReason: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewWebhookEndpoint {
  id: string;
  url: string;
  description: string | null;
  eventTypes: string[];
  secret: string;
}

export interface WebhookEndpointChanges {
  url?: string;
  description?: string | null;
  eventTypes?: string[];
  /** true re-enables (and forgets past failures); false disables with `disabledReason`. */
  enabled?: boolean;
  disabledReason?: string;
}

export interface StoredPushSubscription extends PushSubscriptionTarget {
  id: string;
  userId: string;
}

export interface NotificationStore {
  /** Inserts the deliveries not already recorded; returns the ids of those that were new. */
  recordDeliveries(deliveries: readonly NewDelivery[]): Promise<string[]>;
  /**
   * Claims up to `limit` due deliveries (pending or retrying and due, or sending with an
   * expired lease) for `leaseMs`, counting an attempt for each; skips rows other dispatchers
   * hold. An expired lease's open attempt is marked interrupted.
   */
  claimDue(limit: number, leaseMs: number): Promise<ClaimedDelivery[]>;
  /** Records an attempt's outcome; false when the lease was lost (someone else owns it now). */
  recordAttempt(
    delivery: ClaimedDelivery,
    result: AttemptResult,
    durationMs: number,
  ): Promise<boolean>;
  listDeliveries(
    filter: DeliveryFilter,
  ): Promise<Array<Delivery & { attemptLog: DeliveryAttempt[] }>>;
  getDelivery(id: string): Promise<(Delivery & { attemptLog: DeliveryAttempt[] }) | undefined>;

  /** Channels the user turned off. */
  disabledChannels(userIds: readonly string[]): Promise<Map<string, Set<string>>>;
  pushSubscriptions(userIds: readonly string[]): Promise<StoredPushSubscription[]>;
  /** Throws VALIDATION (field `user_id`) when the user does not exist. */
  addPushSubscription(subscription: StoredPushSubscription): Promise<void>;
  /** The push service said the subscription is gone (404/410). */
  removePushSubscription(endpoint: string): Promise<void>;

  createEndpoint(endpoint: NewWebhookEndpoint): Promise<WebhookEndpoint>;
  listEndpoints(): Promise<WebhookEndpoint[]>;
  getEndpoint(id: string): Promise<WebhookEndpoint | undefined>;
  /** Enabled endpoints, for matching events against their subscriptions. */
  activeEndpoints(): Promise<WebhookEndpoint[]>;
  updateEndpoint(id: string, changes: WebhookEndpointChanges): Promise<WebhookEndpoint | undefined>;
  rotateSecret(
    id: string,
    secret: string,
    previousValidMs: number,
  ): Promise<WebhookEndpoint | undefined>;
  deleteEndpoint(id: string): Promise<boolean>;
  /**
   * Counts a failed webhook attempt; disables the endpoint once it has failed `maxFailures`
   * times in a row and for at least `minFailingMs`. Returns whether it is now disabled.
   */
  endpointFailed(id: string, maxFailures: number, minFailingMs: number): Promise<boolean>;
  endpointSucceeded(id: string): Promise<void>;
}
