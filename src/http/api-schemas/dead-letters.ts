/**
 * The API's JSON for dead letters (see common.ts): a dead letter, the filters that select
 * them, and what the bulk replay and purge take and answer.
 */
import { DEAD_LETTER_REASONS, type DeadLetter } from '../../ports/event-store.ts';
import { storableDateTime } from './common.ts';

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

/** A dead letter as `deadLetter` describes it. */
export function deadLetterJson(letter: DeadLetter) {
  return {
    id: letter.id,
    topic: letter.topic,
    type: letter.type,
    key: letter.key,
    reason: letter.reason,
    error_code: letter.errorCode,
    last_error: letter.lastError,
    attempts: letter.attempts,
    first_failed_at: letter.firstFailedAt,
    last_failed_at: letter.lastFailedAt,
    replay_count: letter.replayCount,
    accepted_at: letter.acceptedAt,
    payload: letter.payload,
    // JSON text of what was received, where jsonb could not hold it (payload is then null).
    payload_text: letter.payloadText,
    partition: letter.partition,
    offset: letter.offset,
    operator: letter.operator,
  };
}

const filterProperties = {
  type: { type: 'string', maxLength: 128 },
  reason: { type: 'string', enum: DEAD_LETTER_REASONS },
  since: storableDateTime('last failed at or after this time'),
  until: storableDateTime('last failed before this time'),
} as const;

export const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...filterProperties,
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
} as const;

export const listResponse = {
  type: 'object',
  properties: { dead_letters: { type: 'array', items: deadLetter } },
} as const;

export const replayResponse = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    generation: { type: 'integer' },
    replayed: { type: 'boolean' },
  },
} as const;

/** Body of the bulk replay and purge: which dead letters, and whether to only list them. */
export const bulkBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...filterProperties,
    ids: {
      type: 'array',
      minItems: 1,
      maxItems: 10000,
      items: { type: 'string', maxLength: 200 },
      description: 'only these event ids',
    },
    limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 },
    dry_run: {
      type: 'boolean',
      default: false,
      description: 'list what would be done; change nothing',
    },
    all: {
      type: 'boolean',
      default: false,
      description: 'required when no ids or filter narrow the set: act on every dead letter',
    },
  },
} as const;

export interface BulkBody {
  ids?: string[];
  type?: string;
  reason?: string;
  since?: string;
  until?: string;
  limit: number;
  dry_run: boolean;
  all: boolean;
}

export const bulkResponse = {
  type: 'object',
  properties: {
    dry_run: { type: 'boolean' },
    matched: { type: 'integer' },
    ids: { type: 'array', items: { type: 'string' } },
    replayed: { type: 'integer' },
    purged: { type: 'integer' },
  },
} as const;
