/**
 * The OpenAPI document tells the truth because the rules that make it are enforced in the one
 * place every route passes through (an onRoute hook), not copied into each route:
 * - every error answer is `application/problem+json` with the Problem schema, and every status
 *   a route can return is listed — those of the edge (malformed requests, limits, auth, load
 *   shedding, shutdown) added to the ones the route declares;
 * - unknown query parameters are refused (422 naming them) on every documented route;
 * - a path parameter's schema bounds its length within what the router reads (414 past it),
 *   and every integer in a query or path has a maximum, so nothing reaches PostgreSQL that it
 *   cannot hold.
 * The answers come from the same schemas, so the document cannot drift from the code (the
 * tests check every answer they receive against the served document: test/helpers).
 */
import type { RouteOptions } from 'fastify';
import { type Access, accessFor } from './access.ts';

/** Longest path parameter the router reads; past it, 414. Routes bound theirs within it. */
export const MAX_PATH_PARAM_LENGTH = 256;

/** What decides which of the edge's refusals a route can meet. */
export interface EdgePolicy {
  /** API keys are required (AUTH): routes the access policy does not leave public answer 401/403. */
  authRequired: boolean;
  /** Requests per minute per key or address are limited (429) on routes that need a key. */
  rateLimited: boolean;
}

const PROBLEM_REF = { $ref: 'Problem#' } as const;

/** What each error status means, wherever it is listed. */
const MEANING: Record<number, string> = {
  400: 'Malformed request: a body that is not JSON (or nested too deeply), a malformed URL or HTTP',
  401: 'Not authenticated: no valid API key or session token (WWW-Authenticate says which)',
  403: 'Forbidden: the API key lacks the scope, or the role does not allow it',
  404: 'Not found',
  408: 'The request was not received within REQUEST_TIMEOUT_MS',
  409: 'Conflict with the current state',
  413: 'Request body (or batch) too large',
  414: `A path parameter is longer than ${MAX_PATH_PARAM_LENGTH} characters`,
  415: 'Unsupported Content-Type',
  422: 'Request is invalid: `errors` names each field (querystring.<name>, params.<name>, headers.<name>, or the body path)',
  429: 'Too many requests: Retry-After says when to try again',
  431: 'Request headers too large',
  503: 'Unavailable: overloaded, a dependency is down, or the server is shutting down (Retry-After)',
};

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

type Schema = Record<string, unknown>;

/** The error statuses a route can answer whatever it declares itself. */
export function edgeStatuses(method: string, url: string, policy: EdgePolicy): number[] {
  // Any request can be malformed, time out, carry too large headers, fail validation (an
  // unknown query parameter at least) or arrive while the server sheds load or shuts down.
  const statuses = [400, 408, 422, 431, 503];
  if (BODY_METHODS.has(method)) statuses.push(413, 415);
  if (pathParameters(url).length > 0) statuses.push(414);
  const access: Access = accessFor(method, url);
  if (access === 'session') {
    // The user routes authenticate themselves (a session or an admin key), whatever AUTH says.
    statuses.push(401);
    if (url !== '/users/login') statuses.push(403);
    if (url === '/users/login') statuses.push(429);
  } else if (access !== 'public' && policy.authRequired) {
    statuses.push(401, 403);
  }
  if (access !== 'public' && policy.authRequired && policy.rateLimited) statuses.push(429);
  return statuses;
}

/** `/users/:id/sessions/:session_id` → ['id', 'session_id']. */
export function pathParameters(url: string): string[] {
  return [...url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1] ?? '');
}

function problemResponse(status: number, declared: unknown): Schema {
  const description =
    typeof (declared as Schema | undefined)?.description === 'string' &&
    (declared as Schema).description !== 'RFC 9457 problem details'
      ? ((declared as Schema).description as string)
      : (MEANING[status] ?? 'Error');
  return { description, content: { 'application/problem+json': { schema: PROBLEM_REF } } };
}

/** Refuses at start-up a route whose parameters the store or the router could not take. */
function checkParameters(method: string, url: string, schema: Schema): void {
  const params = ((schema.params as Schema | undefined)?.properties ?? {}) as Record<
    string,
    Schema
  >;
  for (const name of pathParameters(url)) {
    const param = params[name];
    // A number is bounded by its maximum (checked below); text by its length.
    if (param?.type === 'integer' || param?.type === 'number') continue;
    const maxLength = param?.maxLength;
    if (typeof maxLength !== 'number' || maxLength > MAX_PATH_PARAM_LENGTH) {
      throw new Error(
        `${method} ${url}: path parameter "${name}" needs a maxLength of at most ${MAX_PATH_PARAM_LENGTH}`,
      );
    }
  }
  for (const part of ['querystring', 'params'] as const) {
    const properties = ((schema[part] as Schema | undefined)?.properties ?? {}) as Record<
      string,
      Schema
    >;
    for (const [name, property] of Object.entries(properties)) {
      const numeric = property.type === 'integer' || property.type === 'number';
      if (numeric && typeof property.maximum !== 'number') {
        throw new Error(`${method} ${url}: ${part} parameter "${name}" needs a maximum`);
      }
    }
  }
}

/**
 * The onRoute hook: completes a documented route's schema with the edge's rules (see the top
 * of this file). Route schemas are shared constants, so it builds new objects, never edits them.
 */
export function completeRouteSchema(policy: EdgePolicy) {
  return (route: RouteOptions): void => {
    const schema = (route.schema ?? {}) as Schema;
    // Hidden routes without answers of their own (the docs UI, dashboard assets) are not API
    // operations; hidden twins (/users beside /users/) and HEAD routes (GET's twins) are.
    if (schema.hide === true && schema.response === undefined) return;
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).map(String);
    const method = methods.find((m) => m !== 'HEAD') ?? 'HEAD';
    checkParameters(method, route.url, schema);
    const declared = (schema.response ?? {}) as Record<string, unknown>;
    if (!Object.keys(declared).some((status) => status.startsWith('2'))) {
      throw new Error(`${method} ${route.url}: the schema declares no success answer`);
    }
    const querystring = (schema.querystring ?? { type: 'object', properties: {} }) as Schema;
    const response: Record<string, unknown> = {};
    for (const [status, answer] of Object.entries(declared)) {
      response[status] = Number(status) >= 400 ? problemResponse(Number(status), answer) : answer;
    }
    for (const status of edgeStatuses(method, route.url, policy)) {
      response[status] ??= problemResponse(status, undefined);
    }
    // The user routes say themselves which need a session; the others need a key when AUTH is on.
    const access = accessFor(method, route.url);
    const needsKey = policy.authRequired && access !== 'public' && access !== 'session';
    const security = schema.security ?? (needsKey ? [{ bearerAuth: [] }] : undefined);
    route.schema = {
      ...schema,
      querystring: { ...querystring, additionalProperties: false },
      response,
      ...(security === undefined ? {} : { security }),
    } as RouteOptions['schema'];
  };
}
