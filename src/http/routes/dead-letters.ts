import type { FastifyInstance } from 'fastify';
import { replayDeadLetter } from '../../app/replay.ts';
import type { Broker } from '../../ports/broker.ts';
import type { DeadLetter, EventStore } from '../../ports/event-store.ts';
import { problem, sendProblem } from '../problem.ts';
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
  };
}

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string' } },
} as const;

/** Dead letters: list with filters, inspect one, replay one. */
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
            type: { type: 'string', maxLength: 128 },
            reason: {
              type: 'string',
              enum: ['invalid', 'poison', 'retries_exhausted', 'persist_failed'],
            },
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
      const query = request.query as { type?: string; reason?: string; limit: number };
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
          problem(404, 'not-found', 'Dead letter not found', `no dead letter with id "${id}"`),
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
}
