import type { FastifyInstance } from 'fastify';
import type { AnalyticsService } from '../../app/analytics.ts';
import { INTERVALS, type Interval, MAX_FUNNEL_STEPS } from '../../domain/analytics.ts';
import * as schemas from '../schemas.ts';

const TAGS = ['analytics'];

const rangeProperties = {
  from: schemas.rangeDateTime('start of the range, inclusive'),
  to: schemas.rangeDateTime('end of the range, exclusive; defaults to now'),
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

const notFound = {
  ...schemas.problem,
  description: 'No event of this user / researcher was persisted (problem+json)',
};

const userSummary = {
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

const researcherSummary = {
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

/**
 * Analytics over what the workers persisted: user and researcher summaries, event-type time
 * series, top-N breakdowns, funnels and an overview. Served from rollups the worker keeps in
 * the statement that persists each batch (see analytics-sql.ts).
 */
export async function analyticsRoutes(
  app: FastifyInstance,
  options: { analytics: AnalyticsService },
) {
  const { analytics } = options;

  app.get(
    '/api/v1/analytics/user/:user_id',
    {
      schema: {
        summary: 'A user’s analytics: events by type, first/last seen, sessions, pages, revenue',
        description:
          'An unknown user (no persisted event with this user_id) is a 404 problem, not an ' +
          'empty summary.',
        tags: TAGS,
        params: {
          type: 'object',
          required: ['user_id'],
          properties: { user_id: { type: 'string', minLength: 1, maxLength: 256 } },
        },
        querystring: {
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
        },
        response: { 200: userSummary, 404: notFound, 422: schemas.problem },
      },
    },
    async (request) => {
      const { user_id: userId } = request.params as { user_id: string };
      const { recent } = request.query as { recent: number };
      return analytics.user(userId, { recent });
    },
  );

  app.get(
    '/api/v1/analytics/researcher/:name',
    {
      schema: {
        summary: 'A researcher’s summary: molecules, experiments over time, formulas, weights',
        description:
          'An unknown researcher (no persisted chemical event of theirs) is a 404 problem, ' +
          'not an empty summary.',
        tags: TAGS,
        params: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string', minLength: 1, maxLength: 256 } },
        },
        response: { 200: researcherSummary, 404: notFound },
      },
    },
    async (request) => {
      const { name } = request.params as { name: string };
      return analytics.researcher(name);
    },
  );

  app.get(
    '/api/v1/analytics/events',
    {
      // The service checks the range, interval and steps (domain/analytics.ts).
      config: { validatedPart: 'querystring' },
      schema: {
        summary: 'Events per minute, hour or day (UTC buckets), of one type or all',
        description:
          '`from` is floored and `to` ceiled to whole buckets; every bucket is listed, zeros ' +
          'included. Defaults: the last hour (minute), day (hour) or 30 days (day). At most ' +
          '2,000 buckets. An empty range answers zeros, not 404.',
        tags: TAGS,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            type: { type: 'string', minLength: 1, maxLength: 128, description: 'event type' },
            interval: { type: 'string', enum: [...INTERVALS], default: 'hour' },
            ...rangeProperties,
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              type: { type: ['string', 'null'] },
              interval: { type: 'string' },
              from: { type: 'string', format: 'date-time' },
              to: { type: 'string', format: 'date-time' },
              total: { type: 'integer' },
              buckets: { type: 'array', items: bucket },
            },
          },
          422: schemas.problem,
        },
      },
    },
    async (request) => {
      const q = request.query as { type?: string; interval: Interval; from?: string; to?: string };
      return analytics.series(q);
    },
  );

  app.get(
    '/api/v1/analytics/top',
    {
      // The service checks the range, interval and steps (domain/analytics.ts).
      config: { validatedPart: 'querystring' },
      schema: {
        summary: 'The most frequent event types, pages or sources in a time range',
        description:
          'The range is widened to whole UTC hours. Pages and sources come from ' +
          '`metadata.page`/`metadata.source` (or `properties.*`). Default range: the last day.',
        tags: TAGS,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            by: { type: 'string', enum: ['type', 'page', 'source'], default: 'type' },
            limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
            ...rangeProperties,
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              by: { type: 'string' },
              from: { type: 'string', format: 'date-time' },
              to: { type: 'string', format: 'date-time' },
              total_events: { type: 'integer', description: 'all events in the range' },
              items: { type: 'array', items: count('value') },
            },
          },
          422: schemas.problem,
        },
      },
    },
    async (request) => {
      const q = request.query as {
        by: 'type' | 'page' | 'source';
        limit: number;
        from?: string;
        to?: string;
      };
      return analytics.top(q);
    },
  );

  app.get(
    '/api/v1/analytics/funnel',
    {
      // The service checks the range, interval and steps (domain/analytics.ts).
      config: { validatedPart: 'querystring' },
      schema: {
        summary: 'Users reaching each step of an ordered list of event types within a window',
        description:
          'A user enters with a first-step event in [from, to) and reaches each next step by ' +
          'an event of that type at or after the previous step and within `window` seconds of ' +
          'the entry, by event time (events may arrive in any order). Reads the persisted events ' +
          '(closed hours packed by the workers, the rest event by event), so it is exact at ' +
          'once; the range may span at most 31 days. Default range: the last 7 days.',
        tags: TAGS,
        querystring: {
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
        },
        response: {
          200: {
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
          },
          422: schemas.problem,
        },
      },
    },
    async (request) => {
      const q = request.query as { steps: string[]; window: number; from?: string; to?: string };
      return analytics.funnel({
        steps: q.steps.flatMap((s) => s.split(',')),
        windowSeconds: q.window,
        from: q.from,
        to: q.to,
      });
    },
  );

  app.get(
    '/api/v1/analytics/overview',
    {
      schema: {
        summary: 'Totals, ingest rate and failure rate, for the dashboard',
        tags: TAGS,
        response: {
          200: {
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
          },
        },
      },
    },
    async () => analytics.overview(),
  );
}
