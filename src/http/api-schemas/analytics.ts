/**
 * The API's JSON for analytics (see common.ts): user and researcher summaries, event-type time
 * series, top-N breakdowns, funnels and the dashboard's overview, with their query parameters.
 */
import { INTERVALS, MAX_FUNNEL_STEPS } from '../../domain/analytics.ts';
import {
  arrayOf,
  closedObject,
  dateTime,
  integer,
  number,
  object,
  pathParams,
  problem,
  rangeDateTime,
  string,
} from './common.ts';

const rangeProperties = {
  from: rangeDateTime('start of the range, inclusive'),
  to: rangeDateTime('end of the range, exclusive; defaults to now'),
} as const;

const counts = { type: 'object', additionalProperties: integer } as const;

const count = (key: string) => object({ [key]: string, count: integer });

const bucket = object({
  start: { ...dateTime, description: 'bucket start, UTC' },
  count: integer,
});

export const notFound = {
  ...problem,
  description: 'No event of this user / researcher was persisted (problem+json)',
};

export const userSummary = object({
  user_id: string,
  total_events: integer,
  events_by_type: counts,
  first_seen: dateTime,
  last_seen: dateTime,
  sessions: {
    type: 'integer',
    description: 'runs of events with no gap over 30 minutes between them',
  },
  pages_viewed: object(
    { total: integer, distinct: integer, top: arrayOf(count('page')) },
    { description: 'events carrying metadata.page (or properties.page)' },
  ),
  sources: arrayOf(count('source')),
  purchases: integer,
  revenue: {
    type: 'number',
    description: 'sum of the purchases’ amount (or revenue, or price) where it is a number',
  },
  recent_events: arrayOf(
    object({
      id: string,
      topic: string,
      type: string,
      timestamp: dateTime,
      payload: { type: 'object', additionalProperties: true },
    }),
  ),
});

export const researcherSummary = object({
  researcher: string,
  molecules_submitted: { type: 'integer', description: 'distinct molecule ids' },
  submissions: { type: 'integer', description: 'chemical events' },
  first_seen: dateTime,
  last_seen: dateTime,
  experiments_over_time: arrayOf(object({ day: dateTime, count: integer }), {
    description: 'submissions per UTC day, oldest first',
  }),
  distinct_formulas: { type: 'integer', description: 'distinct Hill formulas' },
  formulas: arrayOf(count('formula')),
  mean_reported_weight: { type: ['number', 'null'] },
  weights_reported: integer,
  weight_mismatches: {
    type: 'integer',
    description: 'reported weights that disagree with the formula’s molar mass',
  },
  agent_properties: object(
    {
      molecules_sampled: integer,
      by_agent: arrayOf(object({ agent: string, molecules: integer, properties: counts })),
      recent: arrayOf(
        object({
          molecule_id: string,
          agent: string,
          model: string,
          status: string,
          at: dateTime,
          properties: arrayOf(string),
        }),
      ),
    },
    { description: 'properties the agents extracted, over the latest 100 molecules' },
  ),
});

export const userParams = pathParams(256, 'user_id');

export const userQuery = closedObject({
  recent: {
    type: 'integer',
    minimum: 0,
    maximum: 100,
    default: 10,
    description: 'how many of the latest events to include',
  },
});

export const researcherParams = pathParams(256, 'name');

export const seriesQuery = closedObject({
  type: { type: 'string', minLength: 1, maxLength: 128, description: 'event type' },
  interval: { type: 'string', enum: [...INTERVALS], default: 'hour' },
  ...rangeProperties,
});

export const seriesResponse = object({
  type: { type: ['string', 'null'] },
  interval: string,
  from: dateTime,
  to: dateTime,
  total: integer,
  buckets: arrayOf(bucket),
});

export const topQuery = closedObject({
  by: { type: 'string', enum: ['type', 'page', 'source'], default: 'type' },
  limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
  ...rangeProperties,
});

export const topResponse = object({
  by: string,
  from: dateTime,
  to: dateTime,
  total_events: { type: 'integer', description: 'all events in the range' },
  items: arrayOf(count('value')),
});

export const funnelQuery = closedObject(
  {
    steps: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_FUNNEL_STEPS,
      items: { type: 'string', minLength: 1, maxLength: 1400 },
      description: `2 to ${MAX_FUNNEL_STEPS} distinct event types, comma-separated or repeated`,
    },
    window: {
      type: 'integer',
      minimum: 1,
      maximum: 31 * 86_400,
      default: 86_400,
      description: 'seconds from a user’s first step to their last',
    },
    ...rangeProperties,
  },
  { required: ['steps'] },
);

export const funnelResponse = object({
  from: dateTime,
  to: dateTime,
  window_seconds: integer,
  steps: arrayOf(
    object({
      type: string,
      users: integer,
      conversion: { type: 'number', description: 'share of the first step' },
      from_previous: { type: 'number', description: 'share of the previous step' },
    }),
  ),
});

export const overviewResponse = object({
  generated_at: dateTime,
  totals: object({
    processed: integer,
    dead_lettered: integer,
    retrying: integer,
    by_topic: counts,
    by_type: counts,
    first_day: { type: ['string', 'null'], format: 'date-time' },
    last_day: { type: ['string', 'null'], format: 'date-time' },
  }),
  ingest_rate: object(
    {
      per_second_1m: number,
      per_second_5m: number,
      per_second_15m: number,
      last_hour: integer,
      per_minute: arrayOf(bucket),
    },
    { description: 'events persisted per second (by processing time)' },
  ),
  failure_rate: object(
    { all_time: number, last_hour: number },
    { description: 'dead-lettered / (processed + dead-lettered)' },
  ),
});
