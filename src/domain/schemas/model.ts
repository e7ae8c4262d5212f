/**
 * Event contracts (issue #21): the words of the schema registry. A contract is a JSON Schema
 * (draft 2020-12) for the payload object of an event type — `properties` of an EventFlow event
 * (`POST /events`), `metadata` of an analytics event — registered in versions that only ever
 * grow, each change checked for compatibility with the one before.
 */
import type { Topic } from '../events.ts';

/**
 * What a new version must keep of the previous one: `backward` (the default) accepts every
 * event the previous version accepted; `forward` is accepted by it (old consumers read new
 * events); `full` both; `none` checks nothing.
 */
export const COMPATIBILITY_MODES = ['backward', 'forward', 'full', 'none'] as const;
export type Compatibility = (typeof COMPATIBILITY_MODES)[number];

/** What an event that breaks its contract gets: a 422 (`reject`), or a 202 and a dead letter. */
export const VIOLATION_ACTIONS = ['reject', 'quarantine'] as const;
export type ViolationAction = (typeof VIOLATION_ACTIONS)[number];

/** The only dialect accepted in `$schema`. */
export const JSON_SCHEMA_2020_12 = 'https://json-schema.org/draft/2020-12/schema';

/**
 * Bounds on a registered schema. The depth keeps a schema well inside the API's JSON depth
 * limit (MAX_JSON_DEPTH, 32 by default), so that a too-deep schema is answered by name here.
 */
export const SCHEMA_LIMITS = {
  /** Bytes of the schema as compact JSON. */
  maxBytes: 65_536,
  /** Nesting of subschemas (properties → items → …), the root being 0. */
  maxDepth: 12,
  /** Characters of one `pattern` (or `patternProperties` key). */
  maxPatternLength: 1000,
  /** `uniqueItems` compares items pairwise: it needs `maxItems` at most this. */
  maxUniqueItems: 1000,
} as const;

/** The event field each topic's contract describes; other topics carry no contract. */
export const CONTRACT_FIELD: Partial<Record<Topic, 'properties' | 'metadata'>> = {
  events: 'properties',
  analytics: 'metadata',
};

/** Registry changes, published to webhook subscribers like user events are. */
export const SCHEMA_EVENTS = {
  created: 'schema.created',
  updated: 'schema.updated',
} as const;

/**
 * The message header the API sets on an event it checked and found valid: the schema version.
 * The worker trusts it on first delivery — the producer was told 202 — and checks everything
 * else: quarantined events, replays, events of other producers on a shared broker.
 */
export const SCHEMA_CHECKED_HEADER = 'schema_checked';

/** The broker topic registry events are published on (ordering key: the event type). */
export const SCHEMAS_TOPIC = 'schemas';

/** A problem with a schema, at a JSON Pointer into it (`/properties/amount/pattern`). */
export interface SchemaProblem {
  path: string;
  message: string;
}
