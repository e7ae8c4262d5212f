import type { FastifyInstance } from 'fastify';
import { TOPICS } from '../../domain/events.ts';
import type { EventRecord, EventSearch, EventStore } from '../../ports/event-store.ts';
import * as schemas from '../schemas.ts';

function toJson(record: EventRecord) {
  return {
    id: record.id,
    status: record.status,
    topic: record.topic,
    type: record.type,
    key: record.key,
    payload: record.payload,
    accepted_at: record.acceptedAt,
    processed_at: record.processedAt,
    enrichment: record.enrichment,
    failure: record.failure,
  };
}

/** `GET /api/v1/events?user_id=&type=&topic=&from=&to=&limit=`: find events, newest first. */
export async function eventSearchRoutes(app: FastifyInstance, options: { store: EventStore }) {
  app.get(
    '/api/v1/events',
    {
      schema: {
        summary: 'Search accepted events by user, type, topic and time; newest first',
        tags: ['events'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            user_id: { type: 'string', minLength: 1, maxLength: 256 },
            type: { type: 'string', minLength: 1, maxLength: 128 },
            topic: { type: 'string', enum: [...TOPICS] },
            from: schemas.storableDateTime('accepted at or after'),
            to: schemas.storableDateTime('accepted before'),
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { events: { type: 'array', items: schemas.eventRecord } },
          },
          422: schemas.problem,
        },
      },
    },
    async (request) => {
      const q = request.query as {
        user_id?: string;
        type?: string;
        topic?: string;
        from?: string;
        to?: string;
        limit: number;
      };
      const search: EventSearch = { limit: q.limit };
      if (q.user_id !== undefined) search.userId = q.user_id;
      if (q.type !== undefined) search.type = q.type;
      if (q.topic !== undefined) search.topic = q.topic;
      if (q.from !== undefined) search.from = q.from;
      if (q.to !== undefined) search.to = q.to;
      const records = await options.store.search(search);
      return { events: records.map(toJson) };
    },
  );
}
