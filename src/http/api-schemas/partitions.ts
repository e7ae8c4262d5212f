/**
 * The API's JSON for the processing workers' partitions (see common.ts): each partition's
 * position and stall, and the operator's request to dead-letter the event at a head.
 */

const partitionJson = {
  type: 'object',
  properties: {
    partition: { type: 'integer' },
    topic: { type: 'string', description: 'Kafka and Redis: the topic of this shard' },
    committed_offset: { type: 'integer' },
    lag: { type: 'integer' },
    head_event_id: {
      type: 'string',
      description: 'the event at the head, where the broker can tell',
    },
    stalled: { type: 'boolean' },
    stalled_for_s: { type: 'number' },
  },
} as const;

export const unblockBody = {
  type: 'object',
  additionalProperties: false,
  required: ['event_id'],
  properties: {
    event_id: {
      type: 'string',
      minLength: 1,
      maxLength: 1024,
      description: 'the event expected at the head: nothing is done if another one is there',
    },
    topic: { type: 'string', maxLength: 256, description: 'Kafka and Redis: the shard’s topic' },
    note: { type: 'string', maxLength: 1000, description: 'why, kept with the dead letter' },
    dry_run: {
      type: 'boolean',
      default: false,
      description: 'say what would be done; change nothing',
    },
  },
} as const;

export interface UnblockBody {
  event_id: string;
  topic?: string;
  note?: string;
  dry_run: boolean;
}

export const unblockResponse = {
  type: 'object',
  properties: {
    dry_run: { type: 'boolean' },
    partition: { type: 'integer' },
    topic: { type: 'string' },
    event_id: { type: 'string' },
    generation: { type: 'integer' },
    lag: { type: 'integer' },
    stalled: { type: 'boolean' },
    requested_by: { type: 'string' },
    requested_at: { type: 'string' },
    detail: { type: 'string' },
  },
} as const;

export const listResponse = {
  type: 'object',
  properties: {
    group: { type: 'string' },
    partitions: { type: 'array', items: partitionJson },
  },
} as const;

export const partitionParams = {
  type: 'object',
  required: ['partition'],
  properties: { partition: { type: 'integer', minimum: 0, maximum: 65535 } },
} as const;
