/**
 * The log over time (issue #20). In the worker role: the log maintenance (segments,
 * retention, the dedupe window's expired slot, history retention) and the replay runner with
 * the targets this process can serve. In the API role: what its routes need (the dedupe fields
 * of events, replays, the log's status).
 */
import { PostgresNotificationStore } from '../adapters/store/postgres/notifications.ts';
import { PostgresReplayStore } from '../adapters/store/postgres/replays.ts';
import { PostgresRetentionStore } from '../adapters/store/postgres/retention.ts';
import type { AgentRunner } from '../app/agents/runner.ts';
import type { NotificationService } from '../app/notifications/service.ts';
import type { Stage } from '../app/pipeline.ts';
import { ReplayRunner } from '../app/replay/runner.ts';
import {
  AgentTarget,
  PipelineTarget,
  type ReplayTargetHandler,
  WebhookTarget,
} from '../app/replay/targets.ts';
import { LogMaintenance } from '../app/retention/maintenance.ts';
import { RetentionMetrics } from '../app/retention/metrics.ts';
import type { Config } from '../config.ts';
import type { ReplayTarget } from '../domain/replays.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Broker } from '../ports/broker.ts';
import type { Database } from '../ports/database.ts';
import type { HistoryKind } from '../ports/retention-store.ts';
import { consumerId } from './consumer-groups.ts';
import type { Stops } from './stops.ts';

export interface LogOverTime {
  maintenance: LogMaintenance;
  replays: ReplayRunner;
  stop(): Promise<void>;
}

/** Starts log maintenance and the replay runner (worker role). */
export function startLogOverTime(
  config: Config,
  deps: { db: Database; broker: Broker; metrics: Metrics; logger: Logger },
  parts: {
    stages: readonly Stage[];
    agents: AgentRunner | undefined;
    notifications: NotificationService | undefined;
  },
  stops: Stops,
): LogOverTime {
  const { db, broker, metrics, logger } = deps;
  const holder = consumerId('log');
  const history: Partial<Record<HistoryKind, number>> = {};
  if (config.historyRetentionMs !== undefined) {
    history.attempts = config.historyRetentionMs;
    history.deliveries = config.historyRetentionMs;
  }
  if (config.deadLetterRetentionMs !== undefined)
    history.dead_letters = config.deadLetterRetentionMs;
  if (config.processedRetentionMs !== undefined) history.processed = config.processedRetentionMs;
  const maintenance = new LogMaintenance(
    broker.log,
    new PostgresRetentionStore(db),
    new RetentionMetrics(metrics.registry),
    logger.child({ component: 'log' }),
    {
      holder,
      intervalMs: config.retentionIntervalMs,
      segmentMs: config.logSegmentMs,
      dedupeWindowMs: config.dedupeWindowMs,
      logRetentionMs: config.logRetentionMs,
      history,
    },
  );

  const store = new PostgresReplayStore(db);
  const notificationStore = new PostgresNotificationStore(db);
  const targets: Partial<Record<ReplayTarget, ReplayTargetHandler>> = {
    pipeline: new PipelineTarget(store, parts.stages),
    webhook: new WebhookTarget(store, (id) => notificationStore.getEndpoint(id)),
  };
  if (parts.agents !== undefined) {
    targets.agent = new AgentTarget(store, parts.agents, { concurrency: config.llmConcurrency });
  }
  const replays = new ReplayRunner(
    store,
    broker.log,
    targets,
    logger.child({ component: 'replays' }),
    {
      owner: holder,
      pollMs: config.replayPollMs,
      onDeliveries: () => parts.notifications?.dispatcher.wake(),
    },
  );
  maintenance.start();
  replays.start();
  const running = {
    maintenance,
    replays,
    async stop() {
      await replays.stop();
      await maintenance.stop();
    },
  };
  stops.add('log over time', () => running.stop());
  return running;
}

/** The API's part of the log over time: the dedupe fields of events, replays, log status. */
export async function logOverTimeRoutes(
  config: Config,
  db: Database,
  broker: Broker,
  logOverTime: LogOverTime | undefined,
) {
  const [{ PostgresDedupeStore }, { ReplayService }] = await Promise.all([
    import('../adapters/store/postgres/dedupe.ts'),
    import('../app/replay/service.ts'),
  ]);
  const endpoints = new PostgresNotificationStore(db);
  return {
    dedupe: { store: new PostgresDedupeStore(db), windowMs: config.dedupeWindowMs },
    replays: new ReplayService(
      new PostgresReplayStore(db),
      broker.log,
      (id) => endpoints.getEndpoint(id),
      {
        agentsEnabled: config.agentsEnabled,
        onRunnable: () => logOverTime?.replays.wake(),
      },
    ),
    log: {
      log: broker.log,
      retentionMs: config.logRetentionMs,
      segmentMs: config.logSegmentMs,
      dedupeWindowMs: config.dedupeWindowMs,
    },
  };
}
