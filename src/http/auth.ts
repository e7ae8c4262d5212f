import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiKeyService, Principal } from '../app/api-keys.ts';
import { grants } from '../domain/api-keys.ts';
import { ErrorCodes } from '../errors.ts';
import { accessFor } from './access.ts';
import { problem, problemOf, sendProblem } from './problem.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}

export interface AuthOptions {
  keys: ApiKeyService;
  /** Requests per minute per key (or address); 0 = no limit. */
  rateLimitPerMinute: number;
  /**
   * Redis to count in (REDIS_URL), so that every API process shares one budget per key;
   * in-memory per process when absent. `namespace` prefixes the counters' keys.
   */
  redis?: { url: string; namespace: string };
}

/**
 * The token of `Authorization: Bearer <token>` (the scheme in any case, RFC 7235), if the
 * request sends one: an API key, or on the /users routes a session token.
 */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
}

function presentedKey(request: FastifyRequest): string | undefined {
  const bearer = bearerToken(request);
  if (bearer !== undefined) return bearer;
  const apiKey = request.headers['x-api-key'];
  return typeof apiKey === 'string' ? apiKey : undefined;
}

/**
 * API-key authentication and per-key rate limits for every route the access policy does not
 * leave public. Keys come as `Authorization: Bearer <key>` or `X-API-Key: <key>`.
 */
export const apiKeyAuth = fp(
  async (app: FastifyInstance, options: AuthOptions) => {
    app.decorateRequest('principal', undefined);
    app.addHook('onRequest', async (request, reply) => {
      const access = accessFor(request.method, request.routeOptions.url ?? '');
      if (access === 'public' || access === 'session') return;
      const key = presentedKey(request);
      const principal = key === undefined ? undefined : await options.keys.verify(key);
      if (principal === undefined) {
        // Its own problem type and realm: a missing API key, not a session (see problem.ts).
        reply.header('www-authenticate', 'Bearer realm="herald"');
        return sendProblem(
          reply,
          problem(
            401,
            'unauthorized',
            'API key required',
            key === undefined ? 'send Authorization: Bearer <key>' : 'the API key is not valid',
          ),
        );
      }
      if (!grants(principal.scopes, access)) {
        return sendProblem(
          reply,
          problemOf(ErrorCodes.FORBIDDEN, `this API key lacks the "${access}" scope`),
        );
      }
      request.principal = principal;
    });
    if (options.rateLimitPerMinute > 0) {
      // Fail fast and open: a Redis outage must not turn into an API outage (skipOnError).
      // The Redis client is loaded only when REDIS_URL asks for it.
      const redis =
        options.redis === undefined
          ? undefined
          : new (await import('ioredis')).Redis(options.redis.url, {
              connectTimeout: 500,
              maxRetriesPerRequest: 1,
              enableOfflineQueue: false,
            });
      redis?.on('error', (error) => app.log.debug({ err: error }, 'rate-limit store error'));
      if (redis !== undefined) app.addHook('onClose', async () => redis.disconnect());
      await app.register(rateLimit, {
        ...(redis === undefined
          ? {}
          : { redis, nameSpace: `${options.redis?.namespace}:rate-limit:`, skipOnError: true }),
        max: options.rateLimitPerMinute,
        timeWindow: 60_000,
        keyGenerator: (request) => request.principal?.keyId ?? request.ip,
        allowList: (request) =>
          request.principal === undefined &&
          accessFor(request.method, request.routeOptions.url ?? '') === 'public',
        errorResponseBuilder: (_request, context) => {
          const body = problemOf(
            ErrorCodes.RATE_LIMITED,
            `limit ${context.max} per minute; retry in ${context.after}`,
          );
          return Object.assign(new Error(body.detail), { statusCode: 429, problem: body });
        },
      });
    }
  },
  { name: 'herald-api-key-auth' },
);
