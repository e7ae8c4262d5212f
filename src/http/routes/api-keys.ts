import type { FastifyInstance } from 'fastify';
import type { ApiKeyService } from '../../app/api-keys.ts';
import { SCOPES } from '../../domain/api-keys.ts';
import { ErrorCodes } from '../../errors.ts';
import type { StoredApiKey } from '../../ports/api-key-store.ts';
import { problemOf, sendProblem } from '../problem.ts';
import * as schemas from '../schemas.ts';

const keyJson = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    prefix: { type: 'string' },
    name: { type: 'string' },
    scopes: { type: 'array', items: { type: 'string' } },
    created_at: { type: 'string' },
    last_used_at: { type: ['string', 'null'] },
    revoked_at: { type: ['string', 'null'] },
  },
} as const;

function toJson(key: StoredApiKey) {
  return {
    id: key.id,
    prefix: key.prefix,
    name: key.name,
    scopes: key.scopes,
    created_at: key.createdAt,
    last_used_at: key.lastUsedAt,
    revoked_at: key.revokedAt,
  };
}

/** API key administration (scope `admin`). A new key is shown once, in the creation answer. */
export async function apiKeyRoutes(app: FastifyInstance, options: { keys: ApiKeyService }) {
  const { keys } = options;

  app.post(
    '/api/v1/keys',
    {
      schema: {
        summary: 'Create an API key; the key itself is in this answer only',
        tags: ['api keys'],
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'scopes'],
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 200 },
            scopes: {
              type: 'array',
              minItems: 1,
              uniqueItems: true,
              items: { type: 'string', enum: [...SCOPES] },
            },
          },
        },
        response: {
          201: { ...keyJson, properties: { ...keyJson.properties, key: { type: 'string' } } },
          422: schemas.problem,
        },
      },
    },
    async (request, reply) => {
      const { name, scopes } = request.body as { name: string; scopes: string[] };
      const { key, record } = await keys.create(name, scopes);
      return reply.code(201).send({ ...toJson(record), key });
    },
  );

  app.get(
    '/api/v1/keys',
    {
      schema: {
        summary: 'API keys (never the keys themselves)',
        tags: ['api keys'],
        response: {
          200: { type: 'object', properties: { keys: { type: 'array', items: keyJson } } },
        },
      },
    },
    async () => ({ keys: (await keys.list()).map(toJson) }),
  );

  app.delete(
    '/api/v1/keys/:id',
    {
      schema: {
        summary: 'Revoke an API key (takes effect within 30 s on every process)',
        tags: ['api keys'],
        params: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
        },
        response: { 204: { type: 'null', description: 'revoked' }, 404: schemas.problem },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      if (!(await keys.revoke(id))) {
        return sendProblem(
          reply,
          problemOf(ErrorCodes.NOT_FOUND, `no active key with id "${id}"`, 'API key not found'),
        );
      }
      return reply.code(204).send();
    },
  );
}
