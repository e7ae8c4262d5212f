/**
 * The API's JSON for events (see common.ts): the seeds' three event shapes, what ingestion
 * answers, and an event's record as the status and search routes show it. Bodies are
 * validated strictly (no type coercion); extra fields are kept, as the seeds' clients may send
 * more than Herald reads.
 */
import { EVENT_ID_MAX_LENGTH, EVENT_ID_PATTERN, TOPICS } from '../../domain/events.ts';
import type { DedupeRecord } from '../../ports/dedupe.ts';
import type { EventRecord } from '../../ports/event-store.ts';
import { fieldErrorList, storableDateTime } from './common.ts';

const eventId = {
  type: 'string',
  pattern: EVENT_ID_PATTERN,
  maxLength: EVENT_ID_MAX_LENGTH,
  description:
    'Client-chosen event id; sending it again returns the same id and stores nothing new.',
} as const;

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

/** The Idempotency-Key header, no longer than the ids it makes may be (see domain/events.ts). */
export function idempotencyKeyHeader(maxLength: number, description: string) {
  return {
    type: 'object',
    properties: {
      'idempotency-key': { type: 'string', pattern: EVENT_ID_PATTERN, maxLength, description },
    },
  } as const;
}

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
    errors: fieldErrorList,
  },
} as const;

/** A batch: a JSON array, `{"events": [...]}` or NDJSON; items are checked one by one. */
export const batchBody = {
  // Items are checked one by one in the handler, so each gets its own result.
  oneOf: [
    { type: 'array', items: {} },
    {
      type: 'object',
      required: ['events'],
      properties: { events: { type: 'array', items: {} } },
    },
  ],
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
          errors: fieldErrorList,
        },
      },
    },
  },
} as const;

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

/** An event's record as `eventRecord` describes it. */
export function eventRecordJson(record: EventRecord) {
  return {
    id: record.id,
    status: record.status,
    topic: record.topic,
    type: record.type,
    key: record.key,
    payload: record.payload,
    accepted_at: record.acceptedAt,
    processed_at: record.processedAt,
    enrichment: record.enrichment,
    failure: record.failure,
  };
}

/** An event as GET /api/v1/events/{id} shows it: with what its dedupe window refused. */
export const eventWithDedupe = {
  ...eventRecord,
  properties: {
    ...eventRecord.properties,
    deduplicated: {
      type: ['object', 'null'],
      description:
        'null unless the id was sent again within DEDUPE_WINDOW of its acceptance: then the acceptance it was deduplicated against, how many times and when last',
      properties: {
        times: { type: 'integer' },
        last_at: { type: ['string', 'null'], format: 'date-time' },
        original: {
          type: 'object',
          properties: {
            accepted_at: { type: 'string', format: 'date-time' },
            partition: { type: ['integer', 'null'] },
            offset: { type: ['integer', 'null'] },
          },
        },
        window_ends_at: { type: 'string', format: 'date-time' },
      },
    },
  },
} as const;

/** `eventWithDedupe`'s `deduplicated`: null unless the id was refused as a duplicate. */
export function deduplicatedJson(seen: DedupeRecord | undefined) {
  if (seen === undefined || seen.duplicates === 0) return null;
  return {
    times: seen.duplicates,
    last_at: seen.lastDuplicateAt,
    original: { accepted_at: seen.acceptedAt, partition: seen.partition, offset: seen.offset },
    window_ends_at: seen.windowEndsAt,
  };
}

export const eventSearchQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    user_id: { type: 'string', minLength: 1, maxLength: 256 },
    type: { type: 'string', minLength: 1, maxLength: 128 },
    topic: { type: 'string', enum: [...TOPICS] },
    from: storableDateTime('accepted at or after'),
    to: storableDateTime('accepted before'),
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
  },
} as const;

export const eventSearchResponse = {
  type: 'object',
  properties: { events: { type: 'array', items: eventRecord } },
} as const;
