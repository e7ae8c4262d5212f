import type { FastifyInstance } from 'fastify';
import type { EventSearch, EventStore } from '../../ports/event-store.ts';
import { problem } from '../api-schemas/common.ts';
import * as api from '../api-schemas/events.ts';

/** `GET /api/v1/events?user_id=&type=&topic=&from=&to=&limit=`: find events, newest first. */
export async function eventSearchRoutes(app: FastifyInstance, options: { store: EventStore }) {
  app.get(
    '/api/v1/events',
    {
      schema: {
        summary: 'Search accepted events by user, type, topic and time; newest first',
        tags: ['events'],
        querystring: api.eventSearchQuery,
        response: { 200: api.eventSearchResponse, 422: problem },
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
      return { events: records.map(api.eventRecordJson) };
    },
  );
}
