/**
 * JSON Schemas of the API: they validate requests and document them in OpenAPI (/docs).
 * Bodies are validated strictly (no type coercion); extra fields are kept, as the seeds'
 * clients may send more than Herald reads.
 */
import { EVENT_ID_MAX_LENGTH, EVENT_ID_PATTERN } from '../domain/events.ts';
import {
  RANGE_TIMESTAMP_PATTERN,
  RANGE_TIMESTAMP_RULE,
  TIMESTAMP_PATTERN,
  TIMESTAMP_RULE,
} from '../domain/postgres-limits.ts';

const eventId = {
  type: 'string',
  pattern: EVENT_ID_PATTERN,
  maxLength: EVENT_ID_MAX_LENGTH,
  description:
    'Client-chosen event id; sending it again returns the same id and stores nothing new.',
} as const;

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

const timestamp = storableDateTime('When the event happened (defaults to acceptance time)');

/** A path parameter naming an event (or its dead letter): an id the API could have accepted. */
export const eventIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: EVENT_ID_MAX_LENGTH } },
} as const;

const name = (description: string, maxLength = 256) =>
  ({ type: 'string', minLength: 1, maxLength, description }) as const;

export const analyticsEvent = {
  $id: 'AnalyticsEvent',
  type: 'object',
  required: ['user_id', 'event_type'],
  properties: {
    id: eventId,
    user_id: name('The user the event is about; events of one user are processed in order.'),
    event_type: name('e.g. page_view, click, purchase', 128),
    timestamp,
    metadata: { type: 'object', description: 'Free-form: page, source, amount, …' },
  },
  examples: [
    {
      user_id: 'user_12345',
      event_type: 'page_view',
      timestamp: '2024-01-01T12:00:00Z',
      metadata: { page: '/dashboard', source: 'web' },
    },
  ],
} as const;

export const chemicalEvent = {
  $id: 'ChemicalEvent',
  type: 'object',
  required: ['molecule_id', 'researcher', 'data'],
  properties: {
    id: eventId,
    molecule_id: name('The molecule; events of one molecule are processed in order.'),
    researcher: name('Who submitted it'),
    event_type: name('Defaults to molecule_submitted', 128),
    data: {
      type: 'object',
      required: ['formula'],
      properties: {
        formula: name('Molecular formula, e.g. H2O, Ca(OH)2, CuSO4·5H2O', 200),
        weight: { type: 'number', exclusiveMinimum: 0, description: 'Reported molar mass, g/mol' },
        smiles: name('Structure as SMILES (optional)', 2000),
      },
    },
    timestamp,
  },
  examples: [
    {
      molecule_id: 'mol_h2o_001',
      researcher: 'Dr. Jane Smith',
      data: { formula: 'H2O', weight: 18.015 },
      timestamp: '2024-01-01T12:00:00Z',
    },
  ],
} as const;

export const genericEvent = {
  $id: 'GenericEvent',
  type: 'object',
  required: ['event_type', 'user_id'],
  properties: {
    id: eventId,
    event_type: name('e.g. purchase, signup', 128),
    user_id: name('The user the event is about; events of one user are processed in order.'),
    properties: { type: 'object', description: 'Free-form event properties' },
    timestamp,
  },
  examples: [{ event_type: 'purchase', user_id: 'user123', properties: { amount: 99.99 } }],
} as const;

export const acceptedResponse = {
  type: 'object',
  required: ['status', 'event_id'],
  properties: {
    status: { type: 'string', enum: ['accepted'] },
    event_id: { type: 'string' },
    topic: { type: 'string' },
    duplicate: {
      type: 'boolean',
      description: 'true when this id was accepted before; nothing new was stored',
    },
    correlation_id: { type: 'string' },
    quarantined: {
      type: 'boolean',
      description:
        'the event breaks its schema and its type quarantines: it will be dead-lettered (reason schema_violation), to be replayed once fixed',
    },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        properties: { field: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
} as const;

export const batchResponse = {
  type: 'object',
  properties: {
    accepted: { type: 'integer' },
    rejected: { type: 'integer' },
    duplicates: { type: 'integer' },
    correlation_id: { type: 'string' },
    results: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          index: { type: 'integer' },
          status: { type: 'string', enum: ['accepted', 'rejected'] },
          event_id: { type: 'string' },
          topic: { type: 'string' },
          duplicate: { type: 'boolean' },
          quarantined: { type: 'boolean' },
          errors: {
            type: 'array',
            items: {
              type: 'object',
              properties: { field: { type: 'string' }, message: { type: 'string' } },
            },
          },
        },
      },
    },
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
    errors: {
      type: 'array',
      items: {
        type: 'object',
        properties: { field: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
} as const;

/** The Problem component every error answer refers to (openapi.ts). */
export const problemSchema = { $id: 'Problem', ...problem } as const;

export const eventRecord = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    status: {
      type: 'string',
      enum: ['accepted', 'processed', 'failed', 'dead_lettered', 'purged'],
    },
    topic: { type: 'string' },
    type: { type: 'string' },
    key: { type: 'string' },
    payload: { type: 'object', additionalProperties: true },
    accepted_at: { type: 'string', format: 'date-time' },
    processed_at: { type: ['string', 'null'], format: 'date-time' },
    enrichment: { type: ['object', 'null'], additionalProperties: true },
    failure: { type: ['object', 'null'], additionalProperties: true },
  },
} as const;

export const deadLetter = {
  type: 'object',
  additionalProperties: true,
  properties: {
    id: { type: 'string' },
    topic: { type: 'string' },
    type: { type: 'string' },
    key: { type: 'string' },
    reason: { type: 'string' },
    error_code: { type: 'string' },
    last_error: { type: 'string' },
    attempts: { type: 'integer' },
    first_failed_at: { type: 'string' },
    last_failed_at: { type: 'string' },
    replay_count: { type: 'integer' },
    accepted_at: { type: 'string' },
    payload: { type: ['object', 'null'], additionalProperties: true },
    payload_text: {
      type: ['string', 'null'],
      description: 'JSON text of what was received, where jsonb could not hold it (payload null)',
    },
    partition: { type: ['integer', 'null'] },
    offset: { type: ['integer', 'null'] },
    operator: { type: ['string', 'null'], description: 'who dead-lettered it by hand' },
  },
} as const;
