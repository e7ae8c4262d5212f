import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { ErrorCodes } from '../errors.ts';
import { problem, problemOf, sendProblem } from './problem.ts';

/** A route pattern (`/users/:id`, `/dashboard/*`) as a matcher of concrete paths. */
function matcher(url: string): RegExp {
  const pattern = url
    .split('/')
    .map((segment) => {
      if (segment === '*') return '.*';
      if (segment.startsWith(':')) return '[^/]+';
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${pattern}$`);
}

/**
 * The methods each path answers, so that a request for a known path with another method gets
 * 405 with `Allow` (RFC 9110 §15.5.6) instead of a 404 saying there is no such path.
 *
 * @example
 * const allowed = methodsByPath(app); // before the routes are registered
 * app.setNotFoundHandler((request, reply) => notFoundOrNotAllowed(allowed, request, reply));
 */
export function methodsByPath(app: FastifyInstance): (path: string) => string[] {
  const routes: { matches: RegExp; methods: string[] }[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    routes.push({ matches: matcher(route.url), methods: methods.map(String) });
  });
  return (path) => {
    const allowed = new Set<string>();
    for (const route of routes) {
      if (route.matches.test(path)) for (const method of route.methods) allowed.add(method);
    }
    return [...allowed].sort();
  };
}

/** The not-found handler: 405 + Allow for a known path, else 404; both problem+json. */
export function notFoundOrNotAllowed(
  allowedMethods: (path: string) => string[],
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const path = request.url.split('?')[0] ?? '/';
  const allowed = allowedMethods(path);
  // A route of this method that found nothing (a static file that is not there) is a 404.
  if (allowed.length > 0 && !allowed.includes(request.method)) {
    reply.header('allow', allowed.join(', '));
    return sendProblem(
      reply,
      problem(
        405,
        'method-not-allowed',
        'Method not allowed',
        `${path} answers ${allowed.join(', ')}, not ${request.method}`,
      ),
    );
  }
  return sendProblem(
    reply,
    problemOf(ErrorCodes.NOT_FOUND, `no route ${request.method} ${request.url}`),
  );
}
