import type { FastifyInstance } from 'fastify';
import type { ApiKeyService } from '../../app/api-keys.ts';
import { ErrorCodes } from '../../errors.ts';
import * as api from '../api-schemas/api-keys.ts';
import { noContent, problem } from '../api-schemas/common.ts';
import { problemOf, sendProblem } from '../problem.ts';

/** API key administration (scope `admin`). A new key is shown once, in the creation answer. */
export async function apiKeyRoutes(app: FastifyInstance, options: { keys: ApiKeyService }) {
  const { keys } = options;

  app.post(
    '/api/v1/keys',
    {
      schema: {
        summary: 'Create an API key; the key itself is in this answer only',
        tags: ['api keys'],
        body: api.createBody,
        response: { 201: api.createdResponse, 422: problem },
      },
    },
    async (request, reply) => {
      const { name, scopes } = request.body as { name: string; scopes: string[] };
      const { key, record } = await keys.create(name, scopes);
      return reply.code(201).send({ ...api.apiKeyJson(record), key });
    },
  );

  app.get(
    '/api/v1/keys',
    {
      schema: {
        summary: 'API keys (never the keys themselves)',
        tags: ['api keys'],
        response: { 200: api.listResponse },
      },
    },
    async () => ({ keys: (await keys.list()).map(api.apiKeyJson) }),
  );

  app.delete(
    '/api/v1/keys/:id',
    {
      schema: {
        summary: 'Revoke an API key (takes effect within 30 s on every process)',
        tags: ['api keys'],
        params: api.keyParams,
        response: { 204: noContent('revoked'), 404: problem },
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
