import type { FastifyInstance } from 'fastify';
import type { BrokerLog } from '../../ports/broker-log.ts';
import * as schemas from '../api-schemas/common.ts';
import { problem, sendProblem } from '../problem.ts';
import { actorOf } from './replays.ts';

export interface LogRouteOptions {
  log: BrokerLog;
  /** LOG_RETENTION (undefined: kept), LOG_SEGMENT and DEDUPE_WINDOW, in ms. */
  retentionMs: number | undefined;
  segmentMs: number;
  dedupeWindowMs: number;
}

const logStatus = {
  type: 'object',
  properties: {
    broker: { type: 'string' },
    retention_ms: { type: ['integer', 'null'], description: 'LOG_RETENTION; null: kept' },
    segment_ms: { type: 'integer' },
    dedupe_window_ms: { type: 'integer' },
    retained_since: {
      type: ['string', 'null'],
      format: 'date-time',
      description:
        'the log is complete from then on (replays may start there); null: from the start',
    },
    oldest_at: { type: ['string', 'null'], format: 'date-time' },
    oldest_age_seconds: { type: ['number', 'null'] },
    segments: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          segment: { type: 'integer' },
          opened_at: { type: 'string', format: 'date-time' },
          closed_at: { type: ['string', 'null'], format: 'date-time' },
        },
      },
    },
    groups: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          group: { type: 'string' },
          blocking: {
            type: 'boolean',
            description: 'holds back events older than LOG_RETENTION it has not committed',
          },
        },
      },
    },
  },
} as const;

/** The log over time (admin): retention, extent, which consumer groups hold retention back. */
export async function logRoutes(app: FastifyInstance, options: LogRouteOptions) {
  const { log } = options;

  app.get(
    '/api/v1/log',
    {
      schema: {
        summary: 'The event log’s retention: its extent, segments and the groups holding it back',
        tags: ['operations'],
        response: { 200: logStatus },
      },
    },
    async () => {
      const cutoff =
        options.retentionMs === undefined ? undefined : new Date(Date.now() - options.retentionMs);
      const status = await log.status(cutoff);
      return {
        broker: status.broker,
        retention_ms: options.retentionMs ?? null,
        segment_ms: options.segmentMs,
        dedupe_window_ms: options.dedupeWindowMs,
        retained_since: status.retainedSince?.toISOString() ?? null,
        oldest_at: status.oldestAt?.toISOString() ?? null,
        oldest_age_seconds:
          status.oldestAt === null
            ? null
            : Math.max(0, (Date.now() - status.oldestAt.getTime()) / 1000),
        segments: status.segments.map((s) => ({
          segment: s.segment,
          opened_at: s.openedAt.toISOString(),
          closed_at: s.closedAt?.toISOString() ?? null,
        })),
        groups: status.groups,
      };
    },
  );

  app.delete(
    '/api/v1/log/groups/:group',
    {
      schema: {
        summary: 'Forget a consumer group, so that it no longer holds retention back',
        description:
          'For a group that is gone for good (its consumers stopped). Its committed positions are deleted; a consumer of that name that starts again reads the log from its start.',
        tags: ['operations'],
        params: {
          type: 'object',
          required: ['group'],
          properties: { group: { type: 'string', maxLength: 200 } },
        },
        response: { 204: { type: 'null' }, 404: schemas.problem },
      },
    },
    async (request, reply) => {
      const { group } = request.params as { group: string };
      if (!(await log.forgetGroup(group))) {
        return sendProblem(
          reply,
          problem(404, 'not-found', 'Not found', `no consumer group "${group}"`),
        );
      }
      request.log.warn({ group, by: actorOf(request) }, 'consumer group forgotten');
      return reply.code(204).send();
    },
  );
}
