import type { ErrorObject } from 'ajv';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  RANGE_TIMESTAMP_PATTERN,
  RANGE_TIMESTAMP_RULE,
  TIMESTAMP_PATTERN,
  TIMESTAMP_RULE,
} from '../domain/postgres-limits.ts';
import { type ErrorCode, ErrorCodes, HeraldError, isRetryable } from '../errors.ts';

export interface FieldError {
  field: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** A problem document; `slug` names the problem type (`urn:herald:problem:<slug>`). */
export function problem(status: number, slug: string, title: string, detail?: string): Problem {
  const body: Problem = { type: `urn:herald:problem:${slug}`, title, status };
  if (detail !== undefined) body.detail = detail;
  return body;
}

export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

/**
 * `/data/formula` → `data.formula`; a missing property, or one that may not be sent (an
 * unknown query parameter or field of a closed body), is named itself.
 */
export function fieldErrors(errors: readonly ErrorObject[], prefix = ''): FieldError[] {
  return errors.map((e) => {
    const path = e.instancePath.split('/').filter(Boolean).join('.');
    const params = e.params as { missingProperty?: string; additionalProperty?: string };
    const named = params.missingProperty ?? params.additionalProperty;
    const field = [prefix, path, named].filter((p) => p !== undefined && p !== '').join('.');
    return { field: field === '' ? '(body)' : field, message: messageOf(e) };
  });
}

function messageOf(e: ErrorObject): string {
  const params = e.params as { pattern?: string; additionalProperty?: string };
  // The storable-time pattern is a rule in words, not a regular expression to decipher.
  if (e.keyword === 'pattern' && params.pattern === TIMESTAMP_PATTERN) {
    return `must be ${TIMESTAMP_RULE}`;
  }
  if (e.keyword === 'pattern' && params.pattern === RANGE_TIMESTAMP_PATTERN) {
    return `must be ${RANGE_TIMESTAMP_RULE}`;
  }
  if (e.keyword === 'additionalProperties') return 'is not a known parameter or field';
  return e.message ?? 'is invalid';
}

/** The HTTP answer of an error code: status, problem type (`urn:herald:problem:<slug>`), title. */
interface ProblemType {
  status: number;
  slug: string;
  title: string;
  /** The detail to show instead of the error's message (which may name internals). */
  detail?: string;
  /** Members beyond type, title, status and detail, from the error (default: fieldsOf). */
  members?: (error: HeraldError) => Partial<Problem>;
  /** Headers the answer carries. */
  headers?: (error: HeraldError) => Record<string, string>;
}

const UNAVAILABLE: ProblemType = {
  status: 503,
  slug: 'unavailable',
  title: 'Service unavailable',
  detail: 'A dependency is unavailable; retry later',
  members: () => ({}),
};

/**
 * Every code of the closed list (src/errors.ts) and what it answers over HTTP, in one table
 * (Fastify's lib/errors.js habit): a route throws a HeraldError, or answers `problemOf(code)`,
 * and never writes a status and problem type itself. `undefined`: not a client's problem,
 * answered as any other error (503 when retryable, else 500 with nothing leaked).
 */
const PROBLEM_TYPES: Record<ErrorCode, ProblemType | undefined> = {
  [ErrorCodes.VALIDATION]: { status: 422, slug: 'validation', title: 'Request is invalid' },
  [ErrorCodes.NOT_FOUND]: { status: 404, slug: 'not-found', title: 'Not found' },
  [ErrorCodes.CONFLICT]: { status: 409, slug: 'conflict', title: 'Conflict' },
  [ErrorCodes.UNAUTHENTICATED]: {
    status: 401,
    slug: 'unauthenticated',
    title: 'Not authenticated',
    // Only sessions (the /users routes) throw it; a missing API key is auth.ts's own answer.
    headers: () => ({ 'www-authenticate': 'Bearer realm="herald-users"' }),
  },
  [ErrorCodes.FORBIDDEN]: { status: 403, slug: 'forbidden', title: 'Forbidden' },
  [ErrorCodes.RATE_LIMITED]: {
    status: 429,
    slug: 'rate-limited',
    title: 'Too many requests',
    headers: (error) => {
      const retryAfterMs = Number(error.details.retryAfterMs ?? 1000);
      return { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) };
    },
  },
  [ErrorCodes.OVERLOADED]: { status: 503, slug: 'overloaded', title: 'Overloaded' },
  [ErrorCodes.SHUTTING_DOWN]: { status: 503, slug: 'shutting-down', title: 'Shutting down' },
  [ErrorCodes.SCHEMA_VIOLATION]: {
    status: 422,
    slug: 'schema-violation',
    title: 'The event does not match its schema',
  },
  [ErrorCodes.SCHEMA_INVALID]: {
    status: 422,
    slug: 'invalid-schema',
    title: 'The schema is not a usable contract',
    // Each part of the schema that is wrong, as a field of the request's `schema`.
    members: (error) => {
      const found = error.details.errors as { path: string; message: string }[] | undefined;
      if (found === undefined) return {};
      return { errors: found.map((p) => ({ field: `schema${p.path}`, message: p.message })) };
    },
  },
  [ErrorCodes.SCHEMA_INCOMPATIBLE]: {
    status: 409,
    slug: 'incompatible-schema',
    title: 'Incompatible schema change',
    members: (error) => ({
      compatibility: error.details.compatibility,
      against_version: error.details.against,
      breaks: error.details.breaks,
    }),
  },
  [ErrorCodes.DATABASE_UNAVAILABLE]: UNAVAILABLE,
  [ErrorCodes.BROKER_UNAVAILABLE]: UNAVAILABLE,
  [ErrorCodes.TRANSIENT]: UNAVAILABLE,
  // Met by the worker, the start or a sender, not by a request.
  [ErrorCodes.CONFIG_INVALID]: undefined,
  [ErrorCodes.POISON_MESSAGE]: undefined,
  [ErrorCodes.STORE_REFUSED]: undefined,
  [ErrorCodes.DELIVERY_FAILED]: undefined,
  [ErrorCodes.TARGET_REFUSED]: undefined,
  [ErrorCodes.LLM_FAILED]: undefined,
};

/**
 * The problem a route answers without throwing: `code`'s status, type and title (a title of
 * its own where it says more, e.g. "Dead letter not found"), with `detail`.
 *
 * @example
 * return sendProblem(reply, problemOf(ErrorCodes.NOT_FOUND, `no event with id "${id}"`, 'Event not found'));
 */
export function problemOf(code: ErrorCode, detail?: string, title?: string): Problem {
  const type = PROBLEM_TYPES[code];
  if (type === undefined) throw new Error(`${code} is not an HTTP answer`);
  return problem(type.status, type.slug, title ?? type.title, detail);
}

/**
 * The fields an error names: `details.errors` (each a field and message), or the one field of
 * `details.field` with the error's message.
 */
function fieldsOf(error: HeraldError): Partial<Problem> {
  const listed = error.details.errors as FieldError[] | undefined;
  if (listed !== undefined) return { errors: listed };
  const field = error.details.field;
  return typeof field === 'string' ? { errors: [{ field, message: error.message }] } : {};
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The part of the request that the route's service checks itself (analytics: the
     * querystring): its VALIDATION errors answer as the schema's would, `invalid <part>` with
     * the field `<part>.<field>`.
     */
    validatedPart?: 'querystring' | 'body' | 'params';
  }
}

function heraldProblem(error: HeraldError, type: ProblemType, request: FastifyRequest): Problem {
  const part = request.routeOptions.config?.validatedPart;
  if (error.code === ErrorCodes.VALIDATION && part !== undefined) {
    const body = problem(type.status, type.slug, type.title, `invalid ${part}`);
    const field = typeof error.details.field === 'string' ? error.details.field : undefined;
    body.errors = [
      { field: field === undefined ? part : `${part}.${field}`, message: error.message },
    ];
    return body;
  }
  const body = problem(type.status, type.slug, type.title, type.detail ?? error.message);
  return Object.assign(body, (type.members ?? fieldsOf)(error));
}

// Fastify's own error codes, mapped to what a client should be told.
const FRAMEWORK_PROBLEMS: Record<string, [number, string, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'payload-too-large', 'Request body too large'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported-media-type', 'Unsupported content type'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'malformed-request', 'Invalid Content-Length'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'malformed-json', 'Empty JSON body'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'malformed-json', 'Body is not valid JSON'],
  FST_ERR_CTP_EMPTY_TYPE: [415, 'unsupported-media-type', 'Content-Type is empty'],
  FST_ERR_CTP_INVALID_TYPE: [415, 'unsupported-media-type', 'Invalid Content-Type'],
  FST_ERR_BAD_URL: [400, 'malformed-request', 'Malformed URL'],
  FST_ERR_ASYNC_CONSTRAINT: [400, 'malformed-request', 'Malformed request'],
};

/** One place mapping every error to its HTTP answer; the server never leaks a stack. */
export function errorToProblem(error: FastifyError | Error, request: FastifyRequest): Problem {
  // Plugins (the rate limiter) attach the problem they mean.
  const attached = (error as { problem?: Problem }).problem;
  if (attached !== undefined) return attached;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const part = fastifyError.validationContext ?? 'body';
    const body = problem(422, 'validation', 'Request is invalid', `invalid ${part}`);
    body.errors = fieldErrors(
      fastifyError.validation as ErrorObject[],
      part === 'body' ? '' : part,
    );
    return body;
  }
  const mapped = fastifyError.code ? FRAMEWORK_PROBLEMS[fastifyError.code] : undefined;
  if (mapped) return problem(mapped[0], mapped[1], mapped[2], error.message);
  if (error instanceof SyntaxError || fastifyError.statusCode === 400) {
    // Malformed JSON and secure-json-parse's prototype-poisoning refusal land here.
    return problem(400, 'malformed-json', 'Body is not valid JSON', error.message);
  }
  const type = error instanceof HeraldError ? PROBLEM_TYPES[error.code] : undefined;
  if (type !== undefined) return heraldProblem(error as HeraldError, type, request);
  if (isRetryable(error)) {
    return problem(UNAVAILABLE.status, UNAVAILABLE.slug, UNAVAILABLE.title, UNAVAILABLE.detail);
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return problem(status, 'bad-request', 'Bad request', error.message);
  }
  request.log.error({ err: error }, 'unhandled error');
  return problem(500, 'internal', 'Internal server error');
}

/**
 * The error handler of every route: the error's problem, with the headers its code asks for
 * (Retry-After on every 503, so a client backs off instead of hammering).
 */
export function sendError(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  const body = errorToProblem(error, request);
  const type = error instanceof HeraldError ? PROBLEM_TYPES[error.code] : undefined;
  if (type?.headers !== undefined) reply.headers(type.headers(error as HeraldError));
  if (body.status === 503) reply.header('retry-after', '1');
  return sendProblem(reply, body);
}
