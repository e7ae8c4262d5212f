import type { FastifyInstance } from 'fastify';
import { replayDeadLetter, replayDeadLetters } from '../../app/replay.ts';
import { ErrorCodes } from '../../errors.ts';
import type { Broker } from '../../ports/broker.ts';
import {
  DEAD_LETTER_REASONS,
  type DeadLetter,
  type DeadLetterFilter,
  type EventStore,
} from '../../ports/event-store.ts';
import { problemOf, sendProblem } from '../problem.ts';
import * as schemas from '../schemas.ts';

function toJson(letter: DeadLetter) {
  return {
    id: letter.id,
    topic: letter.topic,
    type: letter.type,
    key: letter.key,
    reason: letter.reason,
    error_code: letter.errorCode,
    last_error: letter.lastError,
    attempts: letter.attempts,
    first_failed_at: letter.firstFailedAt,
    last_failed_at: letter.lastFailedAt,
    replay_count: letter.replayCount,
    accepted_at: letter.acceptedAt,
    payload: letter.payload,
    // JSON text of what was received, where jsonb could not hold it (payload is then null).
    payload_text: letter.payloadText,
    partition: letter.partition,
    offset: letter.offset,
    operator: letter.operator,
  };
}

const idParams = schemas.eventIdParams;

const REASONS = DEAD_LETTER_REASONS;

const filterProperties = {
  type: { type: 'string', maxLength: 128 },
  reason: { type: 'string', enum: REASONS },
  since: schemas.storableDateTime('last failed at or after this time'),
  until: schemas.storableDateTime('last failed before this time'),
} as const;

/** Body of the bulk replay and purge: which dead letters, and whether to only list them. */
const bulkBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...filterProperties,
    ids: {
      type: 'array',
      minItems: 1,
      maxItems: 10000,
      items: { type: 'string', maxLength: 200 },
      description: 'only these event ids',
    },
    limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 },
    dry_run: {
      type: 'boolean',
      default: false,
      description: 'list what would be done; change nothing',
    },
    all: {
      type: 'boolean',
      default: false,
      description: 'required when no ids or filter narrow the set: act on every dead letter',
    },
  },
} as const;

interface BulkBody {
  ids?: string[];
  type?: string;
  reason?: string;
  since?: string;
  until?: string;
  limit: number;
  dry_run: boolean;
  all: boolean;
}

function bulkFilter(body: BulkBody): DeadLetterFilter | undefined {
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

const bulkResponse = {
  type: 'object',
  properties: {
    dry_run: { type: 'boolean' },
    matched: { type: 'integer' },
    ids: { type: 'array', items: { type: 'string' } },
    replayed: { type: 'integer' },
    purged: { type: 'integer' },
  },
} as const;

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
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...filterProperties,
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { dead_letters: { type: 'array', items: schemas.deadLetter } },
          },
          422: schemas.problem,
        },
      },
    },
    async (request) => {
      const query = request.query as DeadLetterFilter;
      const letters = await store.listDeadLetters(query);
      return { dead_letters: letters.map(toJson) };
    },
  );

  app.get(
    '/api/v1/dead-letters/:id',
    {
      schema: {
        summary: 'One dead letter',
        tags: ['dead letters'],
        params: idParams,
        response: { 200: schemas.deadLetter, 404: schemas.problem },
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
      return toJson(letter);
    },
  );

  app.post(
    '/api/v1/dead-letters/:id/replay',
    {
      schema: {
        summary: 'Send a dead letter through the pipeline again',
        tags: ['dead letters'],
        params: idParams,
        response: {
          202: {
            type: 'object',
            properties: {
              id: { type: 'string' },
              generation: { type: 'integer' },
              replayed: { type: 'boolean' },
            },
          },
          404: schemas.problem,
        },
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
        body: bulkBody,
        response: { 200: bulkResponse, 202: bulkResponse, 422: schemas.problem },
      },
    },
    async (request, reply) => {
      const body = request.body as BulkBody;
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
        body: bulkBody,
        response: { 200: bulkResponse, 422: schemas.problem },
      },
    },
    async (request, reply) => {
      const body = request.body as BulkBody;
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
