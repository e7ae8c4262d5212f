import type { FastifyInstance, FastifyRequest } from 'fastify';
import { OutsideRetention, type ReplayService } from '../../app/replay/service.ts';
import { REPLAY_TARGETS, type Replay } from '../../domain/replays.ts';
import * as schemas from '../api-schemas/common.ts';
import { problem, sendProblem } from '../problem.ts';

/** Who a request acts as: its API key, or anonymous when keys are off (loopback). */
export function actorOf(request: FastifyRequest): string {
  const principal = request.principal;
  return principal === undefined ? 'anonymous' : `${principal.name} (key ${principal.keyId})`;
}

const counts = {
  type: 'object',
  properties: { sent: { type: 'integer' }, skipped: { type: 'integer' } },
} as const;

export const replaySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    target: { type: 'string', enum: [...REPLAY_TARGETS] },
    endpoint_id: { type: ['string', 'null'] },
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    topics: { type: 'array', items: { type: 'string' } },
    types: { type: ['array', 'null'], items: { type: 'string' } },
    keys: { type: ['array', 'null'], items: { type: 'string' } },
    rate_per_second: { type: 'integer' },
    dry_run: { type: 'boolean' },
    status: { type: 'string' },
    created_by: { type: 'string' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
    started_at: { type: ['string', 'null'], format: 'date-time' },
    finished_at: { type: ['string', 'null'], format: 'date-time' },
    progress: {
      type: 'object',
      properties: {
        read: { type: 'integer' },
        sent: { type: 'integer' },
        skipped: { type: 'integer' },
        by_type: { type: 'object', additionalProperties: counts },
        outcomes: { type: 'object', additionalProperties: { type: 'integer' } },
      },
    },
    samples: {
      type: 'array',
      description: 'The first changes a pipeline replay made (or would make): before and after',
      items: {
        type: 'object',
        properties: {
          event_id: { type: 'string' },
          before: { type: 'object', additionalProperties: true },
          after: { type: 'object', additionalProperties: true },
        },
      },
    },
    last_error: { type: ['string', 'null'] },
    actions: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          at: { type: 'string', format: 'date-time' },
          action: { type: 'string' },
          actor: { type: 'string' },
        },
      },
    },
  },
} as const;

export function replayJson(r: Replay) {
  return {
    id: r.id,
    target: r.target,
    endpoint_id: r.endpointId,
    from: r.selection.from,
    to: r.selection.to,
    topics: r.selection.topics,
    types: r.selection.types,
    keys: r.selection.keys,
    rate_per_second: r.ratePerSecond,
    dry_run: r.dryRun,
    status: r.status,
    created_by: r.createdBy,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
    started_at: r.startedAt,
    finished_at: r.finishedAt,
    progress: {
      read: r.progress.read,
      sent: r.progress.sent,
      skipped: r.progress.skipped,
      by_type: r.progress.byType,
      outcomes: r.progress.outcomes,
    },
    samples: r.samples.map((s) => ({ event_id: s.eventId, before: s.before, after: s.after })),
    last_error: r.lastError,
    actions: r.actions,
  };
}

const names = {
  type: 'array',
  minItems: 1,
  maxItems: 1000,
  items: { type: 'string', maxLength: 200 },
};

const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['target', 'from'],
  properties: {
    target: {
      type: 'string',
      enum: [...REPLAY_TARGETS],
      description:
        'agent: run the chemistry agent again on chemical events; webhook: backfill one endpoint (endpoint_id) with the original webhook-id; pipeline: re-derive processed events’ enrichment in place (analytics unchanged)',
    },
    endpoint_id: { type: 'string', maxLength: 200 },
    from: schemas.storableDateTime('accepted at or after'),
    to: schemas.storableDateTime('accepted before (default: now; not in the future)'),
    topics: { ...names, description: 'default: every topic the target takes' },
    types: { ...names, description: 'event types (default: all)' },
    keys: { ...names, description: 'ordering keys: user or molecule ids (default: all)' },
    rate: {
      type: 'integer',
      minimum: 0,
      maximum: 1_000_000,
      default: 0,
      description: 'events per second at most; 0 = as fast as the target takes them',
    },
    dry_run: {
      type: 'boolean',
      default: false,
      description: 'count what would go and what would change, per type; change nothing',
    },
  },
} as const;

interface CreateBody {
  target: Replay['target'];
  endpoint_id?: string;
  from: string;
  to?: string;
  topics?: string[];
  types?: string[];
  keys?: string[];
  rate: number;
  dry_run: boolean;
}

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 200 } },
} as const;

/**
 * Replays of a range of the log (admin): create (or dry-run), list, follow, pause, resume,
 * cancel. A worker runs them; the record says who asked, what, when and how far it got.
 */
export async function replayRoutes(app: FastifyInstance, options: { replays: ReplayService }) {
  const { replays } = options;
  const refusal = (error: unknown) => {
    if (error instanceof OutsideRetention) {
      const body = problem(422, 'outside-retention', 'Outside the log’s retention', error.message);
      body.retained_since = error.retainedSince.toISOString();
      body.errors = [{ field: 'from', message: error.message }];
      return body;
    }
    // Anything else (a VALIDATION error naming its field, …) is answered by the error table.
    return undefined;
  };

  app.post(
    '/api/v1/replays',
    {
      schema: {
        summary: 'Replay a range of the log to the agent, a webhook endpoint or the pipeline',
        description:
          'Events accepted in [from, to) on the topics, of the types and keys given, are sent to the target by a worker, at the rate given, from a cursor kept with the replay (a replay interrupted resumes without sending anything twice). A range reaching before what the log still holds is refused (422, retained_since names the bound). With dry_run the replay counts, per type, what would go and what would change.',
        tags: ['replays'],
        body: createBody,
        response: { 201: replaySchema, 404: schemas.problem, 422: schemas.problem },
      },
    },
    async (request, reply) => {
      const body = request.body as CreateBody;
      try {
        const replay = await replays.create(
          {
            target: body.target,
            from: body.from,
            to: body.to ?? new Date().toISOString(),
            ratePerSecond: body.rate,
            dryRun: body.dry_run,
            ...(body.endpoint_id === undefined ? {} : { endpointId: body.endpoint_id }),
            ...(body.topics === undefined ? {} : { topics: body.topics }),
            ...(body.types === undefined ? {} : { types: body.types }),
            ...(body.keys === undefined ? {} : { keys: body.keys }),
          },
          actorOf(request),
        );
        request.log.info(
          {
            replayId: replay.id,
            target: replay.target,
            dryRun: replay.dryRun,
            by: replay.createdBy,
          },
          'replay created',
        );
        reply.header('location', `/api/v1/replays/${replay.id}`);
        return reply.code(201).send(replayJson(replay));
      } catch (error) {
        const body = refusal(error);
        if (body === undefined) throw error;
        return sendProblem(reply, body);
      }
    },
  );

  app.get(
    '/api/v1/replays',
    {
      schema: {
        summary: 'Replays, newest first',
        tags: ['replays'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
        },
        response: {
          200: { type: 'object', properties: { replays: { type: 'array', items: replaySchema } } },
        },
      },
    },
    async (request) => {
      const { limit } = request.query as { limit: number };
      return { replays: (await replays.list(limit)).map(replayJson) };
    },
  );

  app.get(
    '/api/v1/replays/:id',
    {
      schema: {
        summary: 'One replay: its selection, status, progress per type and history',
        tags: ['replays'],
        params: idParams,
        response: { 200: replaySchema, 404: schemas.problem },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      return replayJson(await replays.get(id));
    },
  );

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.post(
      `/api/v1/replays/:id/${action}`,
      {
        schema: {
          summary: `${action[0]?.toUpperCase()}${action.slice(1)} a replay`,
          description:
            action === 'pause'
              ? 'Takes effect after the batch in flight; resume goes on from the cursor.'
              : action === 'cancel'
                ? 'Stops for good after the batch in flight; what was sent stays sent.'
                : 'Goes on from where the replay was paused.',
          tags: ['replays'],
          params: idParams,
          response: { 200: replaySchema, 404: schemas.problem, 422: schemas.problem },
        },
      },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        try {
          const replay = await replays.act(id, action, actorOf(request));
          request.log.info({ replayId: id, action, by: actorOf(request) }, `replay ${action}`);
          return replayJson(replay);
        } catch (error) {
          const body = refusal(error);
          if (body === undefined) throw error;
          return sendProblem(reply, body);
        }
      },
    );
  }
}
