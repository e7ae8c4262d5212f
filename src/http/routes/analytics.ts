import type { FastifyInstance } from 'fastify';
import type { AnalyticsService } from '../../app/analytics.ts';
import type { Interval } from '../../domain/analytics.ts';
import * as api from '../api-schemas/analytics.ts';
import { problem } from '../api-schemas/common.ts';

const TAGS = ['analytics'];

/**
 * A route whose query the service checks beyond its schema (ranges, intervals and steps:
 * domain/analytics.ts): its VALIDATION errors answer as the schema's would (problem.ts).
 */
function checkedQuery(route: {
  summary: string;
  description: string;
  querystring: object;
  answer: object;
}) {
  const { summary, description, querystring, answer } = route;
  return {
    config: { validatedPart: 'querystring' as const },
    schema: {
      summary,
      description,
      tags: TAGS,
      querystring,
      response: { 200: answer, 422: problem },
    },
  };
}

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
        params: api.userParams,
        querystring: api.userQuery,
        response: { 200: api.userSummary, 404: api.notFound, 422: problem },
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
        params: api.researcherParams,
        response: { 200: api.researcherSummary, 404: api.notFound },
      },
    },
    async (request) => {
      const { name } = request.params as { name: string };
      return analytics.researcher(name);
    },
  );

  app.get(
    '/api/v1/analytics/events',
    checkedQuery({
      summary: 'Events per minute, hour or day (UTC buckets), of one type or all',
      description:
        '`from` is floored and `to` ceiled to whole buckets; every bucket is listed, zeros ' +
        'included. Defaults: the last hour (minute), day (hour) or 30 days (day). At most ' +
        '2,000 buckets. An empty range answers zeros, not 404.',
      querystring: api.seriesQuery,
      answer: api.seriesResponse,
    }),
    async (request) => {
      const q = request.query as { type?: string; interval: Interval; from?: string; to?: string };
      return analytics.series(q);
    },
  );

  app.get(
    '/api/v1/analytics/top',
    checkedQuery({
      summary: 'The most frequent event types, pages or sources in a time range',
      description:
        'The range is widened to whole UTC hours. Pages and sources come from ' +
        '`metadata.page`/`metadata.source` (or `properties.*`). Default range: the last day.',
      querystring: api.topQuery,
      answer: api.topResponse,
    }),
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
    checkedQuery({
      summary: 'Users reaching each step of an ordered list of event types within a window',
      description:
        'A user enters with a first-step event in [from, to) and reaches each next step by ' +
        'an event of that type at or after the previous step and within `window` seconds of ' +
        'the entry, by event time (events may arrive in any order). Reads the persisted events ' +
        '(closed hours packed by the workers, the rest event by event), so it is exact at ' +
        'once; the range may span at most 31 days. Default range: the last 7 days.',
      querystring: api.funnelQuery,
      answer: api.funnelResponse,
    }),
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
        response: { 200: api.overviewResponse },
      },
    },
    async () => analytics.overview(),
  );
}
