import { ErrorCodes, HeraldError, sqlStateOf } from '../../../errors.ts';
import type { Database } from '../../../ports/database.ts';
import type {
  AttemptOutcome,
  AttemptResult,
  ClaimedDelivery,
  Delivery,
  DeliveryAttempt,
  DeliveryFilter,
  DeliveryStatus,
  NewDelivery,
  NewWebhookEndpoint,
  NotificationStore,
  StoredPushSubscription,
  WebhookEndpoint,
  WebhookEndpointChanges,
} from '../../../ports/notification-store.ts';
import type { Channel } from '../../../ports/notifier.ts';
import * as sql from './notifications-sql.ts';

type Timestamp = Date | string;
const iso = (value: Timestamp) => new Date(value).toISOString();
const isoOrNull = (value: Timestamp | null) => (value === null ? null : iso(value));

interface DeliveryRow {
  id: string;
  event_id: string;
  event_type: string;
  channel: Channel;
  recipient: string;
  user_id: string | null;
  endpoint_id: string | null;
  payload: Record<string, unknown>;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: Timestamp;
  last_error: string | null;
  last_status_code: number | null;
  provider: string | null;
  provider_message_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  sent_at: Timestamp | null;
}

function toDelivery(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    eventId: row.event_id,
    eventType: row.event_type,
    channel: row.channel,
    recipient: row.recipient,
    userId: row.user_id,
    endpointId: row.endpoint_id,
    payload: row.payload,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: iso(row.next_attempt_at),
    lastError: row.last_error,
    lastStatusCode: row.last_status_code,
    provider: row.provider,
    providerMessageId: row.provider_message_id,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    sentAt: isoOrNull(row.sent_at),
  };
}

interface AttemptRow {
  delivery_id: string;
  attempt: number;
  started_at: Timestamp;
  finished_at: Timestamp | null;
  outcome: AttemptOutcome;
  status_code: number | null;
  error: string | null;
  duration_ms: number | null;
}

interface EndpointRow {
  id: string;
  url: string;
  description: string | null;
  event_types: string[];
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Timestamp | null;
  consecutive_failures: number;
  failing_since: Timestamp | null;
  disabled_at: Timestamp | null;
  disabled_reason: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

function toEndpoint(row: EndpointRow): WebhookEndpoint {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: row.event_types,
    secret: row.secret,
    previousSecret: row.previous_secret,
    previousSecretExpiresAt: isoOrNull(row.previous_secret_expires_at),
    consecutiveFailures: row.consecutive_failures,
    failingSince: isoOrNull(row.failing_since),
    disabledAt: isoOrNull(row.disabled_at),
    disabledReason: row.disabled_reason,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/** Notification deliveries, attempts, webhook endpoints and push subscriptions in Postgres. */
export class PostgresNotificationStore implements NotificationStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async recordDeliveries(deliveries: readonly NewDelivery[]): Promise<string[]> {
    if (deliveries.length === 0) return [];
    const rows = await this.#db.query<{ id: string }>(sql.insertDeliveries, [
      deliveries.map((d) => d.id),
      deliveries.map((d) => d.eventId),
      deliveries.map((d) => d.eventType),
      deliveries.map((d) => d.channel),
      deliveries.map((d) => d.recipient),
      deliveries.map((d) => d.userId),
      deliveries.map((d) => d.endpointId),
      deliveries.map((d) => JSON.stringify(d.payload)),
      deliveries.map((d) => d.status),
      deliveries.map((d) => d.lastError ?? null),
    ]);
    return rows.map((r) => r.id);
  }

  async claimDue(limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const rows = await this.#db.query<DeliveryRow & { lease_token: string }>(sql.claimDue, [
      limit,
      leaseMs,
    ]);
    return rows.map((row) => ({ ...toDelivery(row), leaseToken: row.lease_token }));
  }

  async recordAttempt(
    delivery: ClaimedDelivery,
    result: AttemptResult,
    durationMs: number,
  ): Promise<boolean> {
    const duration = Math.round(durationMs);
    if (result.outcome === 'sent') {
      const rows = await this.#db.query(sql.recordSent, [
        delivery.id,
        delivery.leaseToken,
        result.provider,
        result.providerMessageId ?? null,
        result.statusCode ?? null,
        duration,
      ]);
      return rows.length > 0;
    }
    const retry = result.outcome === 'retry';
    const rows = await this.#db.query(sql.recordFailure, [
      delivery.id,
      delivery.leaseToken,
      retry ? 'retrying' : 'failed',
      retry ? result.nextAttemptAt.toISOString() : null,
      result.error.slice(0, 2000),
      result.statusCode ?? null,
      retry ? 'retryable' : 'permanent',
      duration,
    ]);
    return rows.length > 0;
  }

  async #withAttempts(deliveries: Delivery[]) {
    if (deliveries.length === 0) return [];
    const rows = await this.#db.query<AttemptRow>(sql.attemptsOf, [deliveries.map((d) => d.id)]);
    const byDelivery = new Map<string, DeliveryAttempt[]>();
    for (const row of rows) {
      const list = byDelivery.get(row.delivery_id) ?? [];
      list.push({
        attempt: row.attempt,
        startedAt: iso(row.started_at),
        finishedAt: isoOrNull(row.finished_at),
        outcome: row.outcome,
        statusCode: row.status_code,
        error: row.error,
        durationMs: row.duration_ms,
      });
      byDelivery.set(row.delivery_id, list);
    }
    return deliveries.map((d) => ({ ...d, attemptLog: byDelivery.get(d.id) ?? [] }));
  }

  async listDeliveries(filter: DeliveryFilter) {
    const rows = await this.#db.query<DeliveryRow>(sql.listDeliveries, [
      filter.status ?? null,
      filter.channel ?? null,
      filter.eventId ?? null,
      filter.eventType ?? null,
      filter.recipient ?? null,
      filter.userId ?? null,
      filter.before ?? null,
      filter.limit,
    ]);
    return this.#withAttempts(rows.map(toDelivery));
  }

  async getDelivery(id: string) {
    const rows = await this.#db.query<DeliveryRow>(sql.getDelivery, [id]);
    const [found] = await this.#withAttempts(rows.map(toDelivery));
    return found;
  }

  async disabledChannels(userIds: readonly string[]): Promise<Map<string, Set<string>>> {
    const disabled = new Map<string, Set<string>>();
    if (userIds.length === 0) return disabled;
    const rows = await this.#db.query<{ user_id: string; channel: string }>(sql.disabledChannels, [
      userIds,
    ]);
    for (const row of rows) {
      const set = disabled.get(row.user_id) ?? new Set<string>();
      set.add(row.channel);
      disabled.set(row.user_id, set);
    }
    return disabled;
  }

  async pushSubscriptions(userIds: readonly string[]): Promise<StoredPushSubscription[]> {
    if (userIds.length === 0) return [];
    const rows = await this.#db.query<{
      id: string;
      user_id: string;
      endpoint: string;
      p256dh: string;
      auth: string;
    }>(sql.pushSubscriptions, [userIds]);
    return rows.map((r) => ({
      id: r.id,
      userId: r.user_id,
      endpoint: r.endpoint,
      keys: { p256dh: r.p256dh, auth: r.auth },
    }));
  }

  async addPushSubscription(s: StoredPushSubscription): Promise<void> {
    try {
      await this.#db.query(sql.addPushSubscription, [
        s.id,
        s.userId,
        s.endpoint,
        s.keys.p256dh,
        s.keys.auth,
      ]);
    } catch (error) {
      // 23503 (foreign_key_violation): the user does not exist.
      if (sqlStateOf(error) !== '23503') throw error;
      throw new HeraldError(ErrorCodes.VALIDATION, 'no such user', {
        cause: error,
        details: { field: 'user_id' },
      });
    }
  }

  async removePushSubscription(endpoint: string): Promise<void> {
    await this.#db.query(sql.removePushSubscription, [endpoint]);
  }

  async createEndpoint(e: NewWebhookEndpoint): Promise<WebhookEndpoint> {
    const [row] = await this.#db.query<EndpointRow>(sql.insertEndpoint, [
      e.id,
      e.url,
      e.description,
      e.eventTypes,
      e.secret,
    ]);
    return toEndpoint(row as EndpointRow);
  }

  async listEndpoints(): Promise<WebhookEndpoint[]> {
    return (await this.#db.query<EndpointRow>(sql.listEndpoints)).map(toEndpoint);
  }

  async getEndpoint(id: string): Promise<WebhookEndpoint | undefined> {
    const [row] = await this.#db.query<EndpointRow>(sql.getEndpoint, [id]);
    return row === undefined ? undefined : toEndpoint(row);
  }

  async activeEndpoints(): Promise<WebhookEndpoint[]> {
    return (await this.#db.query<EndpointRow>(sql.activeEndpoints)).map(toEndpoint);
  }

  async updateEndpoint(
    id: string,
    changes: WebhookEndpointChanges,
  ): Promise<WebhookEndpoint | undefined> {
    const [row] = await this.#db.query<EndpointRow>(sql.updateEndpoint, [
      id,
      changes.url ?? null,
      changes.description !== undefined,
      changes.description ?? null,
      changes.eventTypes ?? null,
      changes.enabled ?? null,
      changes.disabledReason ?? null,
    ]);
    return row === undefined ? undefined : toEndpoint(row);
  }

  async rotateSecret(
    id: string,
    secret: string,
    previousValidMs: number,
  ): Promise<WebhookEndpoint | undefined> {
    const [row] = await this.#db.query<EndpointRow>(sql.rotateSecret, [
      id,
      secret,
      previousValidMs,
    ]);
    return row === undefined ? undefined : toEndpoint(row);
  }

  async deleteEndpoint(id: string): Promise<boolean> {
    return (await this.#db.query(sql.deleteEndpoint, [id])).length > 0;
  }

  async endpointFailed(id: string, maxFailures: number, minFailingMs: number): Promise<boolean> {
    const [row] = await this.#db.query<{ disabled: boolean }>(sql.endpointFailed, [
      id,
      maxFailures,
      minFailingMs,
    ]);
    return row?.disabled ?? false;
  }

  async endpointSucceeded(id: string): Promise<void> {
    await this.#db.query(sql.endpointSucceeded, [id]);
  }
}
