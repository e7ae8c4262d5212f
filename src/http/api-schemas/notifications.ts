/**
 * The API's JSON for notifications (see common.ts): deliveries with their attempts, webhook
 * endpoints (never their secrets, save the one answer that creates or rotates one) and push
 * subscriptions.
 */
import type { PublicEndpoint } from '../../app/notifications/webhook-endpoints.ts';
import {
  DELIVERY_STATUSES,
  type Delivery,
  type DeliveryAttempt,
} from '../../ports/notification-store.ts';
import { CHANNELS } from '../../ports/notifier.ts';
import { nullableString } from './common.ts';

/** A delivery as `deliveryJson` describes it. */
export function deliveryToJson(delivery: Delivery & { attemptLog: DeliveryAttempt[] }) {
  return {
    id: delivery.id,
    event_id: delivery.eventId,
    event_type: delivery.eventType,
    channel: delivery.channel,
    recipient: delivery.recipient,
    user_id: delivery.userId,
    endpoint_id: delivery.endpointId,
    status: delivery.status,
    attempts: delivery.attempts,
    next_attempt_at: delivery.nextAttemptAt,
    last_error: delivery.lastError,
    last_status_code: delivery.lastStatusCode,
    provider: delivery.provider,
    provider_message_id: delivery.providerMessageId,
    created_at: delivery.createdAt,
    updated_at: delivery.updatedAt,
    sent_at: delivery.sentAt,
    attempt_log: delivery.attemptLog.map((a) => ({
      attempt: a.attempt,
      started_at: a.startedAt,
      finished_at: a.finishedAt,
      outcome: a.outcome,
      status_code: a.statusCode,
      error: a.error,
      duration_ms: a.durationMs,
    })),
    payload: delivery.payload,
  };
}

export const deliveryJson = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    event_id: { type: 'string' },
    event_type: { type: 'string' },
    channel: { type: 'string', enum: CHANNELS },
    recipient: {
      type: 'string',
      description: 'email address, phone number, push subscription id or webhook endpoint id',
    },
    user_id: nullableString,
    endpoint_id: nullableString,
    status: { type: 'string', enum: DELIVERY_STATUSES },
    attempts: { type: 'integer', description: 'sends started' },
    next_attempt_at: { type: 'string', format: 'date-time' },
    last_error: nullableString,
    last_status_code: { type: ['integer', 'null'] },
    provider: nullableString,
    provider_message_id: nullableString,
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
    sent_at: { type: ['string', 'null'], format: 'date-time' },
    attempt_log: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          attempt: { type: 'integer' },
          started_at: { type: 'string', format: 'date-time' },
          finished_at: { type: ['string', 'null'], format: 'date-time' },
          outcome: {
            type: 'string',
            enum: ['started', 'sent', 'retryable', 'permanent', 'interrupted'],
          },
          status_code: { type: ['integer', 'null'] },
          error: nullableString,
          duration_ms: { type: ['integer', 'null'] },
        },
      },
    },
    payload: { type: 'object', additionalProperties: true },
  },
} as const;

/** An endpoint as `endpointJson` describes it (never its secrets). */
export function endpointToJson(endpoint: PublicEndpoint) {
  return {
    id: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    event_types: endpoint.eventTypes,
    enabled: endpoint.disabledAt === null,
    disabled_at: endpoint.disabledAt,
    disabled_reason: endpoint.disabledReason,
    consecutive_failures: endpoint.consecutiveFailures,
    failing_since: endpoint.failingSince,
    previous_secret_expires_at: endpoint.previousSecretExpiresAt,
    created_at: endpoint.createdAt,
    updated_at: endpoint.updatedAt,
  };
}

export const endpointJson = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    url: { type: 'string' },
    description: nullableString,
    event_types: { type: 'array', items: { type: 'string' } },
    enabled: { type: 'boolean' },
    disabled_at: nullableString,
    disabled_reason: nullableString,
    consecutive_failures: { type: 'integer' },
    failing_since: nullableString,
    previous_secret_expires_at: {
      type: ['string', 'null'],
      description: 'until then, messages are also signed with the previous secret',
    },
    created_at: { type: 'string' },
    updated_at: { type: 'string' },
  },
} as const;

export const withSecret = {
  ...endpointJson,
  properties: {
    ...endpointJson.properties,
    secret: {
      type: 'string',
      description: 'the whsec_ signing secret; shown in this answer only',
    },
  },
} as const;

const eventTypes = {
  type: 'array',
  minItems: 1,
  maxItems: 100,
  uniqueItems: true,
  items: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_.:*-]+$' },
  description: 'event types to receive: exact names, `user.*` style prefixes, or `*`',
} as const;

const webhookUrl = { type: 'string', minLength: 1, maxLength: 2000, format: 'uri' } as const;

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 100 } },
} as const;

export const deliveriesQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: DELIVERY_STATUSES },
    channel: { type: 'string', enum: CHANNELS },
    event_id: { type: 'string', maxLength: 200 },
    event_type: { type: 'string', maxLength: 200 },
    recipient: { type: 'string', maxLength: 500 },
    user_id: { type: 'string', maxLength: 200 },
    before: {
      type: 'string',
      maxLength: 100,
      description: 'a delivery id: the page after it (next_before of the last page)',
    },
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
  },
} as const;

export const deliveriesResponse = {
  type: 'object',
  properties: {
    deliveries: { type: 'array', items: deliveryJson },
    next_before: nullableString,
  },
} as const;

export const pushSubscriptionBody = {
  type: 'object',
  additionalProperties: false,
  required: ['user_id', 'subscription'],
  properties: {
    user_id: { type: 'string', minLength: 1, maxLength: 200 },
    subscription: {
      type: 'object',
      required: ['endpoint', 'keys'],
      properties: {
        endpoint: webhookUrl,
        keys: {
          type: 'object',
          required: ['p256dh', 'auth'],
          properties: {
            p256dh: { type: 'string', minLength: 1, maxLength: 200 },
            auth: { type: 'string', minLength: 1, maxLength: 100 },
          },
        },
      },
    },
  },
} as const;

export const pushSubscriptionResponse = {
  type: 'object',
  properties: { id: { type: 'string' } },
} as const;

export const webhookBody = {
  type: 'object',
  additionalProperties: false,
  required: ['url', 'event_types'],
  properties: {
    url: webhookUrl,
    event_types: eventTypes,
    description: { type: ['string', 'null'], maxLength: 500 },
    secret: {
      type: 'string',
      maxLength: 200,
      description: 'your own whsec_ secret; one is generated when absent',
    },
  },
} as const;

export const webhooksResponse = {
  type: 'object',
  properties: { endpoints: { type: 'array', items: endpointJson } },
} as const;

export const webhookChangeBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    url: webhookUrl,
    event_types: eventTypes,
    description: { type: ['string', 'null'], maxLength: 500 },
    enabled: { type: 'boolean' },
  },
} as const;
