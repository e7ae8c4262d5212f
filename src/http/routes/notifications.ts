import type { FastifyInstance } from 'fastify';
import type {
  PublicEndpoint,
  WebhookEndpoints,
} from '../../app/notifications/webhook-endpoints.ts';
import { uuidv7 } from '../../domain/ids.ts';
import { ErrorCodes } from '../../errors.ts';
import {
  DELIVERY_STATUSES,
  type Delivery,
  type DeliveryAttempt,
  type DeliveryFilter,
  type NotificationStore,
} from '../../ports/notification-store.ts';
import { CHANNELS } from '../../ports/notifier.ts';
import { problemOf, sendProblem } from '../problem.ts';
import * as schemas from '../schemas.ts';

const TAG = ['notifications'];

function deliveryToJson(delivery: Delivery & { attemptLog: DeliveryAttempt[] }) {
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

const nullableString = { type: ['string', 'null'] } as const;

const deliveryJson = {
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

function endpointToJson(endpoint: PublicEndpoint) {
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

const endpointJson = {
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

const withSecret = {
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

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 100 } },
} as const;

/**
 * The delivery log and webhook endpoint administration (scope `admin`).
 */
export async function notificationRoutes(
  app: FastifyInstance,
  options: { store: NotificationStore; endpoints: WebhookEndpoints },
) {
  const { store, endpoints } = options;

  app.get(
    '/api/v1/notifications',
    {
      schema: {
        summary: 'Notification deliveries, newest first, with their attempts and outcome',
        tags: TAG,
        querystring: {
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
        },
        response: {
          200: {
            type: 'object',
            properties: {
              deliveries: { type: 'array', items: deliveryJson },
              next_before: nullableString,
            },
          },
          422: schemas.problem,
        },
      },
    },
    async (request) => {
      const q = request.query as Record<string, string | number | undefined>;
      const filter: DeliveryFilter = { limit: Number(q.limit ?? 50) };
      if (q.status !== undefined) filter.status = q.status as DeliveryFilter['status'];
      if (q.channel !== undefined) filter.channel = q.channel as DeliveryFilter['channel'];
      if (q.event_id !== undefined) filter.eventId = String(q.event_id);
      if (q.event_type !== undefined) filter.eventType = String(q.event_type);
      if (q.recipient !== undefined) filter.recipient = String(q.recipient);
      if (q.user_id !== undefined) filter.userId = String(q.user_id);
      if (q.before !== undefined) filter.before = String(q.before);
      const deliveries = await store.listDeliveries(filter);
      return {
        deliveries: deliveries.map(deliveryToJson),
        next_before: deliveries.length === filter.limit ? (deliveries.at(-1)?.id ?? null) : null,
      };
    },
  );

  app.get(
    '/api/v1/notifications/:id',
    {
      schema: {
        summary: 'One delivery with its attempts',
        tags: TAG,
        params: idParams,
        response: { 200: deliveryJson, 404: schemas.problem },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const delivery = await store.getDelivery(id);
      if (delivery === undefined) {
        return sendProblem(
          reply,
          problemOf(ErrorCodes.NOT_FOUND, `no delivery with id "${id}"`, 'Delivery not found'),
        );
      }
      return deliveryToJson(delivery);
    },
  );

  app.post(
    '/api/v1/notifications/push-subscriptions',
    {
      schema: {
        summary: "Register a browser's Web Push subscription for a user",
        tags: TAG,
        body: {
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
        },
        response: {
          201: { type: 'object', properties: { id: { type: 'string' } } },
          422: schemas.problem,
        },
      },
    },
    async (request, reply) => {
      const body = request.body as {
        user_id: string;
        subscription: { endpoint: string; keys: { p256dh: string; auth: string } };
      };
      const id = uuidv7();
      await store.addPushSubscription({
        id,
        userId: body.user_id,
        endpoint: body.subscription.endpoint,
        keys: body.subscription.keys,
      });
      return reply.code(201).send({ id });
    },
  );

  app.post(
    '/api/v1/notifications/webhooks',
    {
      schema: {
        summary: 'Create a webhook endpoint; its signing secret is in this answer only',
        tags: TAG,
        body: {
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
        },
        response: { 201: withSecret, 422: schemas.problem },
      },
    },
    async (request, reply) => {
      const body = request.body as {
        url: string;
        event_types: string[];
        description?: string | null;
        secret?: string;
      };
      const { endpoint, secret } = await endpoints.create({
        url: body.url,
        eventTypes: body.event_types,
        ...(body.description === undefined ? {} : { description: body.description }),
        ...(body.secret === undefined ? {} : { secret: body.secret }),
      });
      return reply.code(201).send({ ...endpointToJson(endpoint), secret });
    },
  );

  app.get(
    '/api/v1/notifications/webhooks',
    {
      schema: {
        summary: 'Webhook endpoints (never their secrets)',
        tags: TAG,
        response: {
          200: {
            type: 'object',
            properties: { endpoints: { type: 'array', items: endpointJson } },
          },
        },
      },
    },
    async () => ({ endpoints: (await endpoints.list()).map(endpointToJson) }),
  );

  app.get(
    '/api/v1/notifications/webhooks/:id',
    {
      schema: {
        summary: 'One webhook endpoint',
        tags: TAG,
        params: idParams,
        response: { 200: endpointJson, 404: schemas.problem },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      return endpointToJson(await endpoints.get(id));
    },
  );

  app.patch(
    '/api/v1/notifications/webhooks/:id',
    {
      schema: {
        summary: 'Change, disable or re-enable a webhook endpoint',
        description:
          '`enabled: true` re-enables an endpoint disabled after failures and forgets them.',
        tags: TAG,
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            url: webhookUrl,
            event_types: eventTypes,
            description: { type: ['string', 'null'], maxLength: 500 },
            enabled: { type: 'boolean' },
          },
        },
        response: { 200: endpointJson, 404: schemas.problem, 422: schemas.problem },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const body = request.body as {
        url?: string;
        event_types?: string[];
        description?: string | null;
        enabled?: boolean;
      };
      const endpoint = await endpoints.update(id, {
        ...(body.url === undefined ? {} : { url: body.url }),
        ...(body.event_types === undefined ? {} : { eventTypes: body.event_types }),
        ...(body.description === undefined ? {} : { description: body.description }),
        ...(body.enabled === undefined ? {} : { enabled: body.enabled }),
      });
      return endpointToJson(endpoint);
    },
  );

  app.post(
    '/api/v1/notifications/webhooks/:id/rotate-secret',
    {
      schema: {
        summary:
          'Replace the signing secret; the old one also signs for WEBHOOK_SECRET_ROTATION_MS',
        tags: TAG,
        params: idParams,
        response: { 200: withSecret, 404: schemas.problem },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const { endpoint, secret } = await endpoints.rotateSecret(id);
      return { ...endpointToJson(endpoint), secret };
    },
  );

  app.delete(
    '/api/v1/notifications/webhooks/:id',
    {
      schema: {
        summary: 'Delete a webhook endpoint (its pending deliveries fail)',
        tags: TAG,
        params: idParams,
        response: { 204: { type: 'null', description: 'deleted' }, 404: schemas.problem },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      await endpoints.delete(id);
      return reply.code(204).send();
    },
  );
}
