import type { FastifyInstance } from 'fastify';
import type { StalledShard } from '../../app/stall-detector.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { Broker } from '../../ports/broker.ts';
import type { Database } from '../../ports/database.ts';
import type { EventStore, StoreCounts } from '../../ports/event-store.ts';
import * as api from '../api-schemas/operations.ts';
import { sendProblem } from '../problem.ts';
import { checkReadiness, dependencyProbes, notReadyProblem, stallReadiness } from '../readiness.ts';

export interface OperationsOptions {
  db: Database;
  broker: Broker;
  store: EventStore;
  metrics: Metrics;
  /** The consumer group whose lag is the queue depth. */
  workerGroup: string;
  startedAt: Date;
  /** Stalled partitions (the stall detector's), reported by readiness and the summary. */
  stalls?: () => readonly StalledShard[];
}

interface Sample {
  at: number;
  counts: StoreCounts;
}

/** Health checks, Prometheus metrics and the JSON summary humans and the dashboard read. */
export async function operationsRoutes(app: FastifyInstance, options: OperationsOptions) {
  const { db, broker, store, metrics, workerGroup, startedAt } = options;
  const stalls = () => options.stalls?.() ?? [];

  const live = async () => ({ status: 'ok', uptime_s: Math.round(process.uptime()) });
  const liveSchema = {
    summary: 'Liveness: the process answers',
    tags: ['operations'],
    response: { 200: api.liveAnswer },
  };
  app.get('/health', { schema: liveSchema }, live);
  app.get('/healthz', { schema: { ...liveSchema, summary: 'Alias of /health' } }, live);

  app.get(
    '/health/ready',
    {
      schema: {
        summary: 'Readiness: database and broker reachable',
        tags: ['operations'],
        response: { 200: api.readyAnswer, 503: api.notReady },
      },
    },
    async (_request, reply) => {
      const { ready, checks } = await checkReadiness(dependencyProbes(db, broker));
      // Stalled partitions are reported, not a reason to be unready (see stallReadiness).
      const stalled = stallReadiness(stalls());
      if (!ready) return sendProblem(reply, { ...notReadyProblem(checks), ...stalled });
      return { status: 'ready', checks, ...stalled };
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        tags: ['operations'],
        response: {
          200: api.metricsText,
        },
      },
    },
    async (_request, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );

  // Rates come from the change in the stored counts between two reads of the summary.
  let previous: Sample | undefined;
  app.get(
    '/metrics/summary',
    {
      schema: {
        summary: 'Counts, queue depth and rates as JSON',
        tags: ['operations'],
        response: { 200: api.summaryAnswer },
      },
    },
    async () => {
      const [counts, lag] = await Promise.all([store.counts(), broker.lag(workerGroup)]);
      const stalled = stallReadiness(stalls()).stalled_partitions;
      const workerStalls = stalled.filter((s) => s.group === workerGroup);
      const now = Date.now();
      const base = previous ?? { at: startedAt.getTime(), counts: zeroCounts };
      const seconds = Math.max((now - base.at) / 1000, 0.001);
      if (previous === undefined || now - previous.at >= 1000) previous = { at: now, counts };
      return {
        accepted: counts.accepted,
        processed: counts.processed,
        failed: counts.retrying,
        dead_lettered: counts.deadLettered,
        queue_depth: lag.reduce((sum, p) => sum + p.lag, 0),
        rates_per_second: {
          accepted: round((counts.accepted - base.counts.accepted) / seconds),
          processed: round((counts.processed - base.counts.processed) / seconds),
          dead_lettered: round((counts.deadLettered - base.counts.deadLettered) / seconds),
        },
        // A partition is stalled when any topic of it is (Kafka and Redis keep one per topic).
        partitions: lag.map((p) => {
          const stall = workerStalls.find((s) => s.partition === p.partition);
          return stall === undefined
            ? { ...p, stalled: false }
            : {
                ...p,
                stalled: true,
                stalled_for_s: stall.stalled_for_s,
                ...(stall.head_event_id === undefined
                  ? {}
                  : { head_event_id: stall.head_event_id }),
              };
        }),
        stalled_partitions: stalled,
        broker: broker.name,
        database: db.kind,
        started_at: startedAt.toISOString(),
      };
    },
  );
}

const zeroCounts: StoreCounts = { accepted: 0, processed: 0, retrying: 0, deadLettered: 0 };

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
