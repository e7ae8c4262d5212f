/**
 * The API's own JSON Schemas (src/http/api-schemas/: what requests and answers look like, for
 * validation and the OpenAPI document at /docs), the pieces every area uses: times the store
 * can hold and the problem document of every error. Not the event contracts a client
 * registers (the schema registry: domain/schemas, app/schemas, routes/schema-registry.ts).
 */
import {
  RANGE_TIMESTAMP_PATTERN,
  RANGE_TIMESTAMP_RULE,
  TIMESTAMP_PATTERN,
  TIMESTAMP_RULE,
} from '../../domain/postgres-limits.ts';

/**
 * A time the store can hold: `format: date-time` for clients, and the limits PostgreSQL sets
 * (domain/postgres-limits.ts) as a standard `pattern`, so that the document states exactly
 * what is accepted and any client or validator can check it.
 */
export const storableDateTime = (description: string) =>
  ({
    type: 'string',
    format: 'date-time',
    pattern: TIMESTAMP_PATTERN,
    description: `${description}: ${TIMESTAMP_RULE}`,
  }) as const;

/** A time a range is computed from (analytics): storable, in the years 0002–9998. */
export const rangeDateTime = (description: string) =>
  ({
    type: 'string',
    format: 'date-time',
    pattern: RANGE_TIMESTAMP_PATTERN,
    description: `${description}: ${RANGE_TIMESTAMP_RULE}`,
  }) as const;

export const nullableString = { type: ['string', 'null'] } as const;

/** A `{field, message}` list: what is wrong with a request, place by place. */
export const fieldErrorList = {
  type: 'array',
  items: {
    type: 'object',
    properties: { field: { type: 'string' }, message: { type: 'string' } },
  },
} as const;

export const problem = {
  type: 'object',
  description: 'RFC 9457 problem details',
  // Extension members (e.g. a batch's per-event results) are part of the document.
  additionalProperties: true,
  required: ['type', 'title', 'status'],
  properties: {
    type: { type: 'string', description: 'urn:herald:problem:<slug>' },
    title: { type: 'string' },
    status: { type: 'integer', minimum: 400, maximum: 599 },
    detail: { type: 'string' },
    instance: { type: 'string' },
    errors: fieldErrorList,
  },
} as const;

/** The Problem component every error answer refers to (openapi.ts). */
export const problemSchema = { $id: 'Problem', ...problem } as const;

/** The answer of a route that answers nothing (204). */
export const noContent = (description: string) => ({ type: 'null', description }) as const;

// The vocabulary the areas' schemas are written in.
export const string = { type: 'string' } as const;
export const integer = { type: 'integer' } as const;
export const number = { type: 'number' } as const;
export const boolean = { type: 'boolean' } as const;
export const dateTime = { type: 'string', format: 'date-time' } as const;

/** An object of an answer: `properties` (and whatever `extra` says: a description …). */
export const object = <P, E extends object = object>(properties: P, extra?: E) =>
  ({ type: 'object', ...extra, properties }) as { type: 'object'; properties: P } & E;

/** A query string or body that refuses a member it does not list (422 naming it). */
export const closedObject = <P, E extends object = object>(properties: P, extra?: E) =>
  ({ type: 'object', additionalProperties: false, ...extra, properties }) as {
    type: 'object';
    additionalProperties: false;
    properties: P;
  } & E;

/** An array of `items` (and whatever `extra` says). */
export const arrayOf = <I, E extends object = object>(items: I, extra?: E) =>
  ({ type: 'array', ...extra, items }) as { type: 'array'; items: I } & E;

/** Path parameters, each a non-empty string of at most `maxLength` characters. */
export const pathParams = (maxLength: number, ...names: string[]) => ({
  type: 'object',
  required: names,
  properties: Object.fromEntries(
    names.map((name) => [name, { type: 'string', minLength: 1, maxLength }]),
  ),
});
