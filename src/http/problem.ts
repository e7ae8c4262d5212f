import type { ErrorObject } from 'ajv';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  RANGE_TIMESTAMP_PATTERN,
  RANGE_TIMESTAMP_RULE,
  TIMESTAMP_PATTERN,
  TIMESTAMP_RULE,
} from '../domain/postgres-limits.ts';
import { ErrorCodes, HeraldError, isRetryable } from '../errors.ts';

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
  if (error instanceof HeraldError) {
    if (error.code === ErrorCodes.VALIDATION)
      return problem(422, 'validation', 'Request is invalid', error.message);
    if (error.code === ErrorCodes.NOT_FOUND)
      return problem(404, 'not-found', 'Not found', error.message);
    if (error.code === ErrorCodes.OVERLOADED)
      return problem(503, 'overloaded', 'Overloaded', error.message);
  }
  if (isRetryable(error)) {
    return problem(
      503,
      'unavailable',
      'Service unavailable',
      'A dependency is unavailable; retry later',
    );
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return problem(status, 'bad-request', 'Bad request', error.message);
  }
  request.log.error({ err: error }, 'unhandled error');
  return problem(500, 'internal', 'Internal server error');
}
