/**
 * The start of a Herald process (the composition root): `herald start` runs the API and the
 * worker roles in one process; `herald api` and `herald worker` run one each and share a
 * PostgreSQL server. Each part (database, broker, contracts, stall detection, ops server,
 * worker, agents, notifications, users, API, read server, funnel sealing) is started by its
 * own module here, in order, and registers its stop with `Stops` as it starts: stopping runs
 * them in reverse.
 *
 * What only some configurations or roles use is imported where it is used, not above: each
 * costs a process that does not use it memory for as long as it runs (issue #9). The Kafka
 * client alone is ~55 MB of RSS; the HTTP API (Fastify, Ajv, the OpenAPI document, the routes)
 * is nothing a `herald worker` needs; the embedded PostgreSQL's manager, Redis, the chemistry
 * agents and the notification senders are each used by some configurations only.
 * test/platform-modules.test.ts keeps it so.
 */
import type { FastifyInstance } from 'fastify';
import { PostgresEventStore } from '../adapters/store/postgres/event-store.ts';
import type { AgentRunner } from '../app/agents/runner.ts';
import type { FunnelSealing } from '../app/funnel-sealing.ts';
import type { NotificationService } from '../app/notifications/service.ts';
import type { OutboxRelay } from '../app/outbox-relay.ts';
import { defaultStages, type Stage } from '../app/pipeline.ts';
import type { SchemaCatalog } from '../app/schemas/catalog.ts';
import { withContractStage } from '../app/schemas/stage.ts';
import type { StallDetector } from '../app/stall-detector.ts';
import type { UserService } from '../app/users.ts';
import type { Worker } from '../app/worker.ts';
import { type Config, checkSettings } from '../config.ts';
import type { ScryptParams } from '../domain/users.ts';
import type { OpsServer } from '../http/ops-server.ts';
import type { ReadServer } from '../http/read-server.ts';
import type { Logger } from '../observability/logger.ts';
import { Metrics } from '../observability/metrics.ts';
import type { Broker } from '../ports/broker.ts';
import type { Database } from '../ports/database.ts';
import { type RunningApi, startApi } from './api.ts';
import { openBroker } from './broker.ts';
import { consumerGroups } from './consumer-groups.ts';
import { startSchemaCatalog } from './contracts.ts';
import { migrateDatabase, openDatabase } from './database.ts';
import { funnelSealing as makeFunnelSealing } from './funnel-sealing.ts';
import type { LogOverTime } from './log-over-time.ts';
import { listenOps } from './ops-server.ts';
import { startReadPort } from './read-server.ts';
import { startStallDetection } from './stall-detection.ts';
import { Stops } from './stops.ts';
import { startWorker } from './worker.ts';

export interface Roles {
  api: boolean;
  worker: boolean;
}

export interface RunningPlatform {
  db: Database;
  broker: Broker;
  metrics: Metrics;
  server: FastifyInstance | undefined;
  worker: Worker | undefined;
  /** The chemistry agents (worker role, AGENTS_ENABLED). */
  agents: AgentRunner | undefined;
  /** The notification consumer and dispatcher (worker role, NOTIFICATIONS_ENABLED). */
  notifications: NotificationService | undefined;
  /** The user service (API role). */
  users: UserService | undefined;
  /** Publishes the user events outbox on the broker (API role). */
  outboxRelay: OutboxRelay | undefined;
  /** Packs closed hours for fast funnels (worker role, ANALYTICS_SEAL_INTERVAL_MS > 0). */
  funnelSealing: FunnelSealing | undefined;
  /** Log maintenance and the replay runner (worker role, issue #20). */
  logOverTime: LogOverTime | undefined;
  /** This process's view of the event contracts (both roles). */
  schemas: SchemaCatalog;
  /** Watches the consumer groups' partitions for stalls (STALL_AFTER_MS). */
  stalls: StallDetector;
  /** Where the API listens, e.g. http://127.0.0.1:8000. */
  url: string | undefined;
  /** Health and metrics of a process without the API (OPS_PORT), e.g. http://127.0.0.1:9464. */
  opsUrl: string | undefined;
  /** The read routes' second port (READ_PORT), e.g. http://127.0.0.1:8001; undefined when off or taken. */
  readUrl: string | undefined;
  /** Graceful stop: no new requests, in-flight work finished and committed, then close. */
  stop(): Promise<void>;
}

/**
 * Opens the database, migrates it, and starts the API and/or a worker over the configured
 * broker. A part that fails to start stops the ones started before it.
 */
export async function startPlatform(
  config: Config,
  logger: Logger,
  roles: Roles,
  options: {
    stages?: readonly Stage[];
    /** scrypt cost of new password hashes (tests make it cheap); DEFAULT_SCRYPT otherwise. */
    scrypt?: ScryptParams;
  } = {},
): Promise<RunningPlatform> {
  checkSettings(config, roles);
  const role = roles.api && roles.worker ? 'start' : roles.api ? 'api' : 'worker';
  const stops = new Stops();
  const db = await openDatabase(config, role, logger);
  stops.add('database', () => db.close());
  // Ready once every consumer of the worker role runs, not ready again as soon as it stops.
  let consumers: 'starting' | 'running' | 'stopping' = 'starting';
  try {
    const applied = await migrateDatabase(db);
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
    const broker = await openBroker(config, db, logger);
    stops.add('broker', () => broker.close());
    logger.info({ broker: broker.name }, 'broker open');
    const store = new PostgresEventStore(db, { logInDatabase: config.broker === 'postgres' });
    const metrics = new Metrics();
    metrics.watchBroker(broker, consumerGroups(config));
    const catalog = await startSchemaCatalog(config, db, logger, stops);
    const stalls = startStallDetection(config, broker, metrics, logger, stops);
    const stalled = () => stalls.stalled();

    let ops: OpsServer | undefined;
    if (!roles.api) {
      ops = await listenOps(
        config,
        {
          db,
          broker,
          metrics,
          logger,
          stalls: stalled,
          consumers: roles.worker ? () => assertRunning(consumers) : undefined,
        },
        stops,
      );
    }
    // One list of stages for the worker and the pipeline's replays: each event checked
    // against its contract.
    const stages = withContractStage(options.stages ?? defaultStages, catalog);
    let worker: Worker | undefined;
    let agents: AgentRunner | undefined;
    let notifications: NotificationService | undefined;
    let sealing: FunnelSealing | undefined;
    let logOverTime: LogOverTime | undefined;
    if (roles.worker) {
      worker = await startWorker(config, { store, broker, metrics, logger, stages }, stops);
      // Their own consumer groups: a slow or failing LLM provider, or a notification
      // provider, never holds up processing.
      if (config.agentsEnabled) {
        const { startAgents } = await import('./agents.ts');
        agents = await startAgents(config, { db, broker, metrics, logger }, stops);
      }
      if (config.notificationsEnabled) {
        const { startNotifications } = await import('./notifications.ts');
        notifications = await startNotifications(config, { db, broker, metrics, logger }, stops);
      }
      // Log maintenance and replays of ranges (issue #20); stopped before what replays use.
      const { startLogOverTime } = await import('./log-over-time.ts');
      logOverTime = startLogOverTime(
        config,
        { db, broker, metrics, logger },
        { stages, agents, notifications },
        stops,
      );
      consumers = 'running';
      if (config.analyticsSealIntervalMs > 0)
        sealing = makeFunnelSealing(config, db, logger, stops);
    }

    let api: RunningApi | undefined;
    let read: ReadServer | undefined;
    if (roles.api) {
      api = await startApi(
        config,
        {
          db,
          broker,
          store,
          metrics,
          logger,
          catalog,
          stalls: stalled,
          scrypt: options.scrypt,
          logOverTime,
        },
        stops,
      );
      read = await startReadPort(config, api.server, api.url, logger, stops);
      // Started once nothing can fail the start any more; its first pass sends what is waiting.
      api.outboxRelay.start();
    }
    // Like the relay, started once nothing can fail the start any more.
    sealing?.start();

    let stopped: Promise<void> | undefined;
    const stop = () => {
      stopped ??= (async () => {
        consumers = 'stopping';
        await stops.stopAll();
      })();
      return stopped;
    };
    return {
      db,
      broker,
      metrics,
      server: api?.server,
      worker,
      agents,
      notifications,
      users: api?.users,
      outboxRelay: api?.outboxRelay,
      funnelSealing: sealing,
      logOverTime,
      schemas: catalog,
      stalls,
      url: api?.url,
      opsUrl: ops?.url,
      readUrl: read?.url,
      stop,
    };
  } catch (error) {
    consumers = 'stopping';
    await stops.stopAll().catch(() => {});
    throw error;
  }
}

function assertRunning(consumers: 'starting' | 'running' | 'stopping'): void {
  if (consumers !== 'running') throw new Error(`the worker's consumers are ${consumers}`);
}
