/**
 * The API's JSON for analytics (see common.ts): user and researcher summaries, event-type time
 * series, top-N breakdowns, funnels and the dashboard's overview, with their query parameters.
 */
import { INTERVALS, MAX_FUNNEL_STEPS } from '../../domain/analytics.ts';
import { problem, rangeDateTime } from './common.ts';

const rangeProperties = {
  from: rangeDateTime('start of the range, inclusive'),
  to: rangeDateTime('end of the range, exclusive; defaults to now'),
} as const;

const counts = { type: 'object', additionalProperties: { type: 'integer' } } as const;

const count = (key: string) =>
  ({
    type: 'object',
    properties: { [key]: { type: 'string' }, count: { type: 'integer' } },
  }) as const;

const bucket = {
  type: 'object',
  properties: {
    start: { type: 'string', format: 'date-time', description: 'bucket start, UTC' },
    count: { type: 'integer' },
  },
} as const;

export const notFound = {
  ...problem,
  description: 'No event of this user / researcher was persisted (problem+json)',
};

export const userSummary = {
  type: 'object',
  properties: {
    user_id: { type: 'string' },
    total_events: { type: 'integer' },
    events_by_type: counts,
    first_seen: { type: 'string', format: 'date-time' },
    last_seen: { type: 'string', format: 'date-time' },
    sessions: {
      type: 'integer',
      description: 'runs of events with no gap over 30 minutes between them',
    },
    pages_viewed: {
      type: 'object',
      description: 'events carrying metadata.page (or properties.page)',
      properties: {
        total: { type: 'integer' },
        distinct: { type: 'integer' },
        top: { type: 'array', items: count('page') },
      },
    },
    sources: { type: 'array', items: count('source') },
    purchases: { type: 'integer' },
    revenue: {
      type: 'number',
      description: 'sum of the purchases’ amount (or revenue, or price) where it is a number',
    },
    recent_events: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          topic: { type: 'string' },
          type: { type: 'string' },
          timestamp: { type: 'string', format: 'date-time' },
          payload: { type: 'object', additionalProperties: true },
        },
      },
    },
  },
} as const;

export const researcherSummary = {
  type: 'object',
  properties: {
    researcher: { type: 'string' },
    molecules_submitted: { type: 'integer', description: 'distinct molecule ids' },
    submissions: { type: 'integer', description: 'chemical events' },
    first_seen: { type: 'string', format: 'date-time' },
    last_seen: { type: 'string', format: 'date-time' },
    experiments_over_time: {
      type: 'array',
      description: 'submissions per UTC day, oldest first',
      items: {
        type: 'object',
        properties: { day: { type: 'string', format: 'date-time' }, count: { type: 'integer' } },
      },
    },
    distinct_formulas: { type: 'integer', description: 'distinct Hill formulas' },
    formulas: { type: 'array', items: count('formula') },
    mean_reported_weight: { type: ['number', 'null'] },
    weights_reported: { type: 'integer' },
    weight_mismatches: {
      type: 'integer',
      description: 'reported weights that disagree with the formula’s molar mass',
    },
    agent_properties: {
      type: 'object',
      description: 'properties the agents extracted, over the latest 100 molecules',
      properties: {
        molecules_sampled: { type: 'integer' },
        by_agent: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              agent: { type: 'string' },
              molecules: { type: 'integer' },
              properties: counts,
            },
          },
        },
        recent: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              molecule_id: { type: 'string' },
              agent: { type: 'string' },
              model: { type: 'string' },
              status: { type: 'string' },
              at: { type: 'string', format: 'date-time' },
              properties: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    },
  },
} as const;

export const userParams = {
  type: 'object',
  required: ['user_id'],
  properties: { user_id: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;

export const userQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    recent: {
      type: 'integer',
      minimum: 0,
      maximum: 100,
      default: 10,
      description: 'how many of the latest events to include',
    },
  },
} as const;

export const researcherParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;

export const seriesQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    type: { type: 'string', minLength: 1, maxLength: 128, description: 'event type' },
    interval: { type: 'string', enum: [...INTERVALS], default: 'hour' },
    ...rangeProperties,
  },
} as const;

export const seriesResponse = {
  type: 'object',
  properties: {
    type: { type: ['string', 'null'] },
    interval: { type: 'string' },
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    total: { type: 'integer' },
    buckets: { type: 'array', items: bucket },
  },
} as const;

export const topQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    by: { type: 'string', enum: ['type', 'page', 'source'], default: 'type' },
    limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
    ...rangeProperties,
  },
} as const;

export const topResponse = {
  type: 'object',
  properties: {
    by: { type: 'string' },
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    total_events: { type: 'integer', description: 'all events in the range' },
    items: { type: 'array', items: count('value') },
  },
} as const;

export const funnelQuery = {
  type: 'object',
  additionalProperties: false,
  required: ['steps'],
  properties: {
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
} as const;

export const funnelResponse = {
  type: 'object',
  properties: {
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    window_seconds: { type: 'integer' },
    steps: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          type: { type: 'string' },
          users: { type: 'integer' },
          conversion: { type: 'number', description: 'share of the first step' },
          from_previous: { type: 'number', description: 'share of the previous step' },
        },
      },
    },
  },
} as const;

export const overviewResponse = {
  type: 'object',
  properties: {
    generated_at: { type: 'string', format: 'date-time' },
    totals: {
      type: 'object',
      properties: {
        processed: { type: 'integer' },
        dead_lettered: { type: 'integer' },
        retrying: { type: 'integer' },
        by_topic: counts,
        by_type: counts,
        first_day: { type: ['string', 'null'], format: 'date-time' },
        last_day: { type: ['string', 'null'], format: 'date-time' },
      },
    },
    ingest_rate: {
      type: 'object',
      description: 'events persisted per second (by processing time)',
      properties: {
        per_second_1m: { type: 'number' },
        per_second_5m: { type: 'number' },
        per_second_15m: { type: 'number' },
        last_hour: { type: 'integer' },
        per_minute: { type: 'array', items: bucket },
      },
    },
    failure_rate: {
      type: 'object',
      description: 'dead-lettered / (processed + dead-lettered)',
      properties: {
        all_time: { type: 'number' },
        last_hour: { type: 'number' },
      },
    },
  },
} as const;
