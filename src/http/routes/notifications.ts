import type { FastifyInstance } from 'fastify';
import type { WebhookEndpoints } from '../../app/notifications/webhook-endpoints.ts';
import { uuidv7 } from '../../domain/ids.ts';
import { ErrorCodes } from '../../errors.ts';
import type { DeliveryFilter, NotificationStore } from '../../ports/notification-store.ts';
import { noContent, problem } from '../api-schemas/common.ts';
import * as api from '../api-schemas/notifications.ts';
import { problemOf, sendProblem } from '../problem.ts';

const TAG = ['notifications'];

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
        querystring: api.deliveriesQuery,
        response: { 200: api.deliveriesResponse, 422: problem },
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
        deliveries: deliveries.map(api.deliveryToJson),
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
        params: api.idParams,
        response: { 200: api.deliveryJson, 404: problem },
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
      return api.deliveryToJson(delivery);
    },
  );

  app.post(
    '/api/v1/notifications/push-subscriptions',
    {
      schema: {
        summary: "Register a browser's Web Push subscription for a user",
        tags: TAG,
        body: api.pushSubscriptionBody,
        response: { 201: api.pushSubscriptionResponse, 422: problem },
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
        body: api.webhookBody,
        response: { 201: api.withSecret, 422: problem },
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
      return reply.code(201).send({ ...api.endpointToJson(endpoint), secret });
    },
  );

  app.get(
    '/api/v1/notifications/webhooks',
    {
      schema: {
        summary: 'Webhook endpoints (never their secrets)',
        tags: TAG,
        response: { 200: api.webhooksResponse },
      },
    },
    async () => ({ endpoints: (await endpoints.list()).map(api.endpointToJson) }),
  );

  app.get(
    '/api/v1/notifications/webhooks/:id',
    {
      schema: {
        summary: 'One webhook endpoint',
        tags: TAG,
        params: api.idParams,
        response: { 200: api.endpointJson, 404: problem },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      return api.endpointToJson(await endpoints.get(id));
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
        params: api.idParams,
        body: api.webhookChangeBody,
        response: { 200: api.endpointJson, 404: problem, 422: problem },
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
      return api.endpointToJson(endpoint);
    },
  );

  app.post(
    '/api/v1/notifications/webhooks/:id/rotate-secret',
    {
      schema: {
        summary:
          'Replace the signing secret; the old one also signs for WEBHOOK_SECRET_ROTATION_MS',
        tags: TAG,
        params: api.idParams,
        response: { 200: api.withSecret, 404: problem },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const { endpoint, secret } = await endpoints.rotateSecret(id);
      return { ...api.endpointToJson(endpoint), secret };
    },
  );

  app.delete(
    '/api/v1/notifications/webhooks/:id',
    {
      schema: {
        summary: 'Delete a webhook endpoint (its pending deliveries fail)',
        tags: TAG,
        params: api.idParams,
        response: { 204: noContent('deleted'), 404: problem },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      await endpoints.delete(id);
      return reply.code(204).send();
    },
  );
}
