import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { StalledShard } from '../../app/stall-detector.ts';
import { ErrorCodes } from '../../errors.ts';
import type { Broker, ShardPosition } from '../../ports/broker.ts';
import type { EventStore } from '../../ports/event-store.ts';
import { problem } from '../api-schemas/common.ts';
import * as api from '../api-schemas/partitions.ts';
import { problemOf, sendProblem } from '../problem.ts';

export interface PartitionRoutesOptions {
  broker: Broker;
  store: EventStore;
  /** The processing workers' group: the one whose partitions these routes show and unblock. */
  workerGroup: string;
  stalls: () => readonly StalledShard[];
}

/** Who an operator action is recorded as: the API key's name and id. */
function operatorOf(request: FastifyRequest): string {
  const principal = request.principal;
  return principal === undefined
    ? `no API key (${request.ip})`
    : `${principal.name} (${principal.keyId})`;
}

/**
 * The processing workers' partitions, and the operator's way out of a stalled one: dead-letter
 * the event at its head by hand. The request names the event it expects there, so an action
 * based on a stale view does nothing; the worker holding the event applies it at its next
 * attempt (within its retry backoff), and it is recorded as reason `operator` with who asked.
 */
export async function partitionRoutes(app: FastifyInstance, options: PartitionRoutesOptions) {
  const { broker, store, workerGroup } = options;

  const view = async () => {
    const positions = await broker.positions(workerGroup);
    const stalls = options.stalls().filter((s) => s.group === workerGroup);
    return positions.map((p) => {
      const stall = stalls.find((s) => s.partition === p.partition && s.topic === p.topic);
      return { position: p, stall };
    });
  };

  app.get(
    '/api/v1/partitions',
    {
      schema: {
        summary: "The processing workers' partitions: committed offset, lag, head, stalls",
        tags: ['operations'],
        response: { 200: api.listResponse },
      },
    },
    async () => ({
      group: workerGroup,
      partitions: (await view()).map(({ position, stall }) => ({
        partition: position.partition,
        ...(position.topic === undefined ? {} : { topic: position.topic }),
        committed_offset: position.committed,
        lag: position.lag,
        ...(position.head === undefined ? {} : { head_event_id: position.head.id }),
        stalled: stall !== undefined,
        ...(stall === undefined
          ? {}
          : { stalled_for_s: Math.round(stall.stalledForMs / 100) / 10 }),
      })),
    }),
  );

  app.post(
    '/api/v1/partitions/:partition/dead-letter-head',
    {
      schema: {
        summary: 'Dead-letter the event at the head of a partition by hand (dry_run says what)',
        description:
          'For a partition that does not move. The event must be the one at the head ' +
          '(409 otherwise). The worker holding it dead-letters it at its next attempt, as ' +
          'reason "operator" with the API key that asked; it can be replayed like any dead letter.',
        tags: ['operations'],
        params: api.partitionParams,
        body: api.unblockBody,
        response: {
          200: api.unblockResponse,
          202: api.unblockResponse,
          404: problem,
          409: problem,
          422: problem,
        },
      },
    },
    async (request, reply) => {
      const { partition } = request.params as { partition: number };
      const body = request.body as api.UnblockBody;
      const shards = (await view()).filter(
        ({ position }) =>
          position.partition === partition &&
          (body.topic === undefined || position.topic === body.topic),
      );
      if (shards.length === 0) {
        const what = body.topic === undefined ? '' : ` of topic "${body.topic}"`;
        return sendProblem(
          reply,
          problemOf(ErrorCodes.NOT_FOUND, `no partition ${partition}${what}`, 'No such partition'),
        );
      }
      const waiting = shards.filter(({ position }) => position.lag > 0);
      const atHead = waiting.find(({ position }) => position.head?.id === body.event_id);
      const unknownHead = waiting.filter(({ position }) => position.head === undefined);
      const target = atHead ?? (unknownHead.length === 1 ? unknownHead[0] : undefined);
      if (target === undefined) {
        return sendProblem(
          reply,
          conflict(
            partition,
            body.event_id,
            waiting.map((s) => s.position),
          ),
        );
      }
      const { position, stall } = target;
      const generation = position.head?.generation ?? 0;
      const summary = {
        partition,
        ...(position.topic === undefined ? {} : { topic: position.topic }),
        event_id: body.event_id,
        generation,
        lag: position.lag,
        stalled: stall !== undefined,
      };
      const record = await store.get(body.event_id);
      if (record?.status === 'processed' || record?.status === 'dead_lettered') {
        return sendProblem(
          reply,
          problemOf(
            ErrorCodes.CONFLICT,
            `event "${body.event_id}" is ${record.status}`,
            'Event already done',
          ),
        );
      }
      const known =
        position.head !== undefined
          ? ''
          : ' (the broker cannot tell this process which event is at the head; it is checked by the worker that holds it)';
      if (body.dry_run) {
        return reply.code(200).send({
          dry_run: true,
          ...summary,
          detail: `would ask the worker holding partition ${partition} to dead-letter "${body.event_id}"${known}`,
        });
      }
      const requested = await store.requestDeadLetter({
        eventId: body.event_id,
        generation,
        partition,
        topic: position.topic,
        requestedBy: operatorOf(request),
        note: body.note,
      });
      request.log.warn(
        { eventId: body.event_id, partition, operator: requested.requestedBy },
        'an operator asked to dead-letter the event at the head of a partition',
      );
      return reply.code(202).send({
        dry_run: false,
        ...summary,
        requested_by: requested.requestedBy,
        requested_at: requested.requestedAt,
        detail: `the worker holding partition ${partition} dead-letters "${body.event_id}" at its next attempt${known}`,
      });
    },
  );
}

function conflict(partition: number, expected: string, waiting: readonly ShardPosition[]) {
  const heads = waiting.flatMap((p) => (p.head === undefined ? [] : [p.head.id]));
  const detail =
    waiting.length === 0
      ? `partition ${partition} has no event waiting`
      : heads.length > 0
        ? `the event at the head of partition ${partition} is ${heads.map((h) => `"${h}"`).join(', ')}, not "${expected}"`
        : `several topics of partition ${partition} wait; name the topic`;
  return problemOf(ErrorCodes.CONFLICT, detail, 'Not the event at the head');
}
