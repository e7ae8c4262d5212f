/**
 * The event shapes Herald accepts, exactly as the systems it replaces send them, and how each
 * maps onto a topic, an event type and an ordering key.
 */

/** Topics, one per event family; each family has its own ordering key. */
export const Topics = {
  analytics: 'analytics',
  chemical: 'chemical',
  events: 'events',
} as const;
export type Topic = (typeof Topics)[keyof typeof Topics];

export const TOPICS: readonly Topic[] = Object.values(Topics);

/** `POST /api/v1/events/analytics` (seed 000). */
export interface AnalyticsEvent {
  id?: string;
  user_id: string;
  event_type: string;
  timestamp?: string;
  metadata?: Record<string, unknown>;
}

/** `POST /api/v1/events/chemical` (seed 000). */
export interface ChemicalEvent {
  id?: string;
  molecule_id: string;
  researcher: string;
  event_type?: string;
  data: { formula: string; weight?: number; smiles?: string; [extra: string]: unknown };
  timestamp?: string;
}

/** `POST /events` (seed 003, EventFlow). */
export interface GenericEvent {
  id?: string;
  event_type: string;
  user_id: string;
  properties?: Record<string, unknown>;
  timestamp?: string;
}

/** Where an accepted event goes and what orders it. */
export interface Routing {
  topic: Topic;
  type: string;
  key: string;
}

export const DEFAULT_CHEMICAL_EVENT_TYPE = 'molecule_submitted';

export function routeEvent(topic: Topic, body: Record<string, unknown>): Routing {
  switch (topic) {
    case 'analytics':
      return { topic, type: String(body.event_type), key: String(body.user_id) };
    case 'chemical':
      return {
        topic,
        type: typeof body.event_type === 'string' ? body.event_type : DEFAULT_CHEMICAL_EVENT_TYPE,
        key: String(body.molecule_id),
      };
    case 'events':
      return { topic, type: String(body.event_type), key: String(body.user_id) };
  }
}

/**
 * Which family a batch item belongs to: an explicit `topic` wins; otherwise a `molecule_id`
 * means chemical, `properties` means an EventFlow event, and anything else is analytics.
 */
export function inferTopic(item: Record<string, unknown>): Topic | undefined {
  const explicit = item.topic;
  if (explicit !== undefined) {
    return TOPICS.includes(explicit as Topic) ? (explicit as Topic) : undefined;
  }
  if ('molecule_id' in item) return 'chemical';
  if ('properties' in item) return 'events';
  return 'analytics';
}

/**
 * The longest event id. Every id is at most this long, those derived from a batch's
 * Idempotency-Key (`<key>:<index>`) included, and every id can be looked up by
 * `GET /api/v1/events/{id}` (the router reads path parameters of up to 256 characters).
 */
export const EVENT_ID_MAX_LENGTH = 200;

/** Event ids: what clients may send as `id` or `Idempotency-Key`. */
export const EVENT_ID_PATTERN = `^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,${EVENT_ID_MAX_LENGTH - 1}}$`;
export const EVENT_ID_REGEX = new RegExp(EVENT_ID_PATTERN);

/** The id of item `index` of a batch sent with an Idempotency-Key. */
export function batchItemId(idempotencyKey: string, index: number): string {
  return `${idempotencyKey}:${index}`;
}

/** The longest Idempotency-Key a batch of up to `maxEvents` events may carry. */
export function batchIdempotencyKeyMaxLength(maxEvents: number): number {
  return EVENT_ID_MAX_LENGTH - 1 - String(Math.max(0, maxEvents - 1)).length;
}
