import type { FastifyInstance } from 'fastify';
import { replayDeadLetter, replayDeadLetters } from '../../app/replay.ts';
import { ErrorCodes } from '../../errors.ts';
import type { Broker } from '../../ports/broker.ts';
import type { DeadLetterFilter, EventStore } from '../../ports/event-store.ts';
import { problem } from '../api-schemas/common.ts';
import * as api from '../api-schemas/dead-letters.ts';
import { eventIdParams } from '../api-schemas/events.ts';
import { problemOf, sendProblem } from '../problem.ts';

function bulkFilter(body: api.BulkBody): DeadLetterFilter | undefined {
  const { ids, type, reason, since, until, limit } = body;
  const filter: DeadLetterFilter = { limit };
  if (ids !== undefined) filter.ids = ids;
  if (type !== undefined) filter.type = type;
  if (reason !== undefined) filter.reason = reason;
  if (since !== undefined) filter.since = since;
  if (until !== undefined) filter.until = until;
  const narrowed = Object.keys(filter).length > 1;
  return narrowed || body.all ? filter : undefined;
}

const unfiltered = problemOf(
  ErrorCodes.VALIDATION,
  'give ids, a filter (type, reason, since, until) or "all": true',
);

/** Dead letters: list with filters, inspect one, replay one or a filtered set, purge. */
export async function deadLetterRoutes(
  app: FastifyInstance,
  options: { store: EventStore; broker: Broker },
) {
  const { store, broker } = options;

  app.get(
    '/api/v1/dead-letters',
    {
      schema: {
        summary: 'Dead letters, newest failure first',
        tags: ['dead letters'],
        querystring: api.listQuery,
        response: { 200: api.listResponse, 422: problem },
      },
    },
    async (request) => {
      const query = request.query as DeadLetterFilter;
      const letters = await store.listDeadLetters(query);
      return { dead_letters: letters.map(api.deadLetterJson) };
    },
  );

  app.get(
    '/api/v1/dead-letters/:id',
    {
      schema: {
        summary: 'One dead letter',
        tags: ['dead letters'],
        params: eventIdParams,
        response: { 200: api.deadLetter, 404: problem },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const letter = await store.getDeadLetter(id);
      if (letter === undefined) {
        return sendProblem(
          reply,
          problemOf(
            ErrorCodes.NOT_FOUND,
            `no dead letter with id "${id}"`,
            'Dead letter not found',
          ),
        );
      }
      return api.deadLetterJson(letter);
    },
  );

  app.post(
    '/api/v1/dead-letters/:id/replay',
    {
      schema: {
        summary: 'Send a dead letter through the pipeline again',
        tags: ['dead letters'],
        params: eventIdParams,
        response: { 202: api.replayResponse, 404: problem },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const result = await replayDeadLetter(store, broker, id, request.id);
      return reply.code(202).send(result);
    },
  );

  app.post(
    '/api/v1/dead-letters/replay',
    {
      schema: {
        summary: 'Replay every dead letter matching ids or filters (dry_run lists them)',
        tags: ['dead letters'],
        body: api.bulkBody,
        response: { 200: api.bulkResponse, 202: api.bulkResponse, 422: problem },
      },
    },
    async (request, reply) => {
      const body = request.body as api.BulkBody;
      const filter = bulkFilter(body);
      if (filter === undefined) return sendProblem(reply, unfiltered);
      const result = await replayDeadLetters(store, broker, filter, request.id, body.dry_run);
      return reply.code(body.dry_run ? 200 : 202).send({
        dry_run: result.dryRun,
        matched: result.ids.length,
        ids: result.ids,
        replayed: result.replayed,
      });
    },
  );

  app.post(
    '/api/v1/dead-letters/purge',
    {
      schema: {
        summary: 'Delete the dead letters matching ids or filters for good (dry_run lists them)',
        description:
          'Purging deletes the dead letter; the accepted event stays in the event log (audit).',
        tags: ['dead letters'],
        body: api.bulkBody,
        response: { 200: api.bulkResponse, 422: problem },
      },
    },
    async (request, reply) => {
      const body = request.body as api.BulkBody;
      const filter = bulkFilter(body);
      if (filter === undefined) return sendProblem(reply, unfiltered);
      if (body.dry_run) {
        const ids = (await store.listDeadLetters(filter)).map((l) => l.id);
        return { dry_run: true, matched: ids.length, ids, purged: 0 };
      }
      const ids = await store.purgeDeadLetters(filter);
      request.log.warn({ purged: ids.length, filter }, 'dead letters purged');
      return { dry_run: false, matched: ids.length, ids, purged: ids.length };
    },
  );
}
