import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { PostgresBroker } from './adapters/brokers/postgres/broker.ts';
import { migrate } from './adapters/postgres/migrate.ts';
import { PostgresAgentStore } from './adapters/store/postgres/agent-store.ts';
import { PostgresAnalyticsReader } from './adapters/store/postgres/analytics-reader.ts';
import { PostgresApiKeyStore } from './adapters/store/postgres/api-key-store.ts';
import { PostgresEventStore } from './adapters/store/postgres/event-store.ts';
import { PostgresFunnelSealer, WORKER_SEALING } from './adapters/store/postgres/funnel-sealer.ts';
import { PostgresNotificationStore } from './adapters/store/postgres/notifications.ts';
import { PostgresOutboxStore } from './adapters/store/postgres/outbox.ts';
import { PostgresSchemaRegistryStore } from './adapters/store/postgres/schema-registry.ts';
import { PostgresUserStore } from './adapters/store/postgres/users.ts';
import { AGENT_GROUP, type AgentRunner } from './app/agents/runner.ts';
import { AnalyticsService } from './app/analytics.ts';
import { ApiKeyService } from './app/api-keys.ts';
import { FunnelSealing } from './app/funnel-sealing.ts';
import { IngestService } from './app/ingest.ts';
import { NOTIFICATION_GROUP, type NotificationService } from './app/notifications/service.ts';
import { OutboxRelay } from './app/outbox-relay.ts';
import { defaultStages, type Stage } from './app/pipeline.ts';
import { SchemaCatalog } from './app/schemas/catalog.ts';
import { ContractCheck } from './app/schemas/contract-check.ts';
import { withContractStage } from './app/schemas/stage.ts';
import { StallDetector, type StalledShard } from './app/stall-detector.ts';
import { UserService } from './app/users.ts';
import { Worker } from './app/worker.ts';
import { type Config, checkSettings } from './config.ts';
import { TOPICS } from './domain/events.ts';
import type { ScryptParams } from './domain/users.ts';
import { ErrorCodes, HeraldError } from './errors.ts';
import { authRequired as authIsRequired } from './http/access.ts';
import { type OpsServer, startOpsServer } from './http/ops-server.ts';
import type { ReadServer } from './http/read-server.ts';
import { dependencyProbes } from './http/readiness.ts';
import type { Logger } from './observability/logger.ts';
import { Metrics } from './observability/metrics.ts';
import type { Broker } from './ports/broker.ts';
import type { Database } from './ports/database.ts';
import { VERSION } from './version.ts';

// What only some configurations or roles use is imported where it is used, not above: each
// costs a process that does not use it memory for as long as it runs (issue #9). The Kafka
// client alone is ~55 MB of RSS; the HTTP API (Fastify, Ajv, the OpenAPI document, the routes)
// is nothing a `herald worker` needs; the embedded PostgreSQL's manager, Redis, the chemistry
// agents and the notification senders are each used by some configurations only.
// test/platform-modules.test.ts keeps it so.

/** The consumer group of the processing workers; its lag is the queue depth. */
export const WORKER_GROUP = 'herald-processors';

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
 * The database: the PostgreSQL server at DATABASE_URL, or, without one, a PostgreSQL Herald
 * runs itself in DATA_DIR (src/adapters/postgres/embedded.ts). Both are the same `pg` pool.
 */
export async function openDatabase(
  config: Config,
  role: string,
  logger: Logger,
): Promise<Database> {
  if (config.databaseUrl === undefined) {
    const { openEmbeddedPostgres } = await import('./adapters/postgres/embedded.ts');
    return openEmbeddedPostgres({
      dataDir: config.dataDir,
      schema: config.databaseSchema,
      poolSize: config.databasePoolSize,
      applicationName: `herald-${role}`,
      user: config.embeddedDatabaseUser,
      logger,
    });
  }
  const { openPostgres } = await import('./adapters/postgres/server.ts');
  return openPostgres({
    url: config.databaseUrl,
    schema: config.databaseSchema,
    poolSize: config.databasePoolSize,
    applicationName: `herald-${role}`,
  });
}

/**
 * The configured transport between API and workers. The Postgres event log lives in Herald's
 * database; Redis and Kafka are reached over the network and namespaced by BROKER_NAMESPACE.
 */
export async function openBroker(config: Config, db: Database, logger: Logger): Promise<Broker> {
  switch (config.broker) {
    case 'postgres': {
      const broker = await PostgresBroker.open(db, {
        partitions: config.queuePartitions,
        leaseMs: config.workerLeaseMs,
        pollMs: config.workerPollMs,
      });
      if (broker.partitionCount !== config.queuePartitions) {
        logger.warn(
          { configured: config.queuePartitions, existing: broker.partitionCount },
          'QUEUE_PARTITIONS differs from the existing log; keeping the existing partition count',
        );
      }
      return broker;
    }
    case 'redis': {
      const { RedisBroker } = await import('./adapters/brokers/redis/broker.ts');
      return RedisBroker.open({
        url: config.redisUrl ?? '',
        prefix: config.brokerNamespace,
        partitions: config.queuePartitions,
        leaseMs: config.workerLeaseMs,
        pollMs: config.workerPollMs,
      });
    }
    case 'kafka': {
      const { KafkaBroker } = await import('./adapters/brokers/kafka/broker.ts');
      return KafkaBroker.open({
        brokers: config.kafkaBrokers,
        clientId: config.brokerNamespace,
        namespace: config.brokerNamespace,
        partitions: config.queuePartitions,
        sessionTimeoutMs: config.kafkaSessionTimeoutMs,
        replicationFactor: config.kafkaReplicationFactor,
        heartbeatIntervalMs: Math.max(500, Math.floor(config.kafkaSessionTimeoutMs / 5)),
      });
    }
  }
}

/**
 * Opens the database, migrates it, and starts the API and/or a worker over the configured
 * broker. `herald start` runs both roles in one process; `herald api` and `herald worker` run
 * one each and share a PostgreSQL server.
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
  const db = await openDatabase(config, role, logger);
  let openedBroker: Broker | undefined;
  let ops: OpsServer | undefined;
  let stopSchemas: (() => Promise<void>) | undefined;
  let read: ReadServer | undefined;
  let stalls: StallDetector | undefined;
  try {
    const applied = await migrate(db);
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
    const broker = await openBroker(config, db, logger);
    openedBroker = broker;
    logger.info({ broker: broker.name }, 'broker open');
    const store = new PostgresEventStore(db, { logInDatabase: config.broker === 'postgres' });
    const metrics = new Metrics();
    metrics.watchBroker(broker, consumerGroups(config));
    const schemaStore = new PostgresSchemaRegistryStore(db);
    const schemas = new SchemaCatalog(schemaStore, logger, { pollMs: config.schemasPollMs });
    await schemas.refresh();
    await schemas.start(db);
    stopSchemas = () => schemas.stop();
    const stallDetector = new StallDetector(broker, {
      groups: consumerGroups(config),
      stallAfterMs: config.stallAfterMs,
      logger,
      metrics,
    });
    stalls = stallDetector;
    stallDetector.start();
    const stalled = () => stallDetector.stalled();
    // Ready once every consumer of the worker role runs, not ready again as soon as it stops.
    let consumers: 'starting' | 'running' | 'stopping' = 'starting';
    if (!roles.api) {
      // Started first, so probes see a starting process as alive rather than absent.
      ops = await listenOps(
        config,
        metrics,
        {
          ...dependencyProbes(db, broker),
          ...(roles.worker ? { consumer: () => assertRunning(consumers) } : {}),
        },
        stalled,
      );
      logger.info({ url: ops.url }, 'ops endpoints listening');
    }

    let worker: Worker | undefined;
    if (roles.worker) {
      worker = new Worker(store, metrics, logger, {
        group: WORKER_GROUP,
        consumerId: `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
        topics: TOPICS,
        batchSize: config.workerBatchSize,
        concurrency: config.workerConcurrency,
        retry: {
          baseMs: config.retryBaseMs,
          maxMs: config.retryMaxMs,
          maxAttempts: config.retryMaxAttempts,
        },
        stages: withContractStage(options.stages ?? defaultStages, schemas),
      });
      await worker.start(broker);
    }
    // Their own consumer group: a slow or failing LLM provider never holds up processing.
    const agents =
      roles.worker && config.agentsEnabled
        ? await (await import('./platform-agents.ts')).startAgents(
            config,
            db,
            broker,
            metrics,
            logger,
          )
        : undefined;
    const notifications =
      roles.worker && config.notificationsEnabled
        ? await (await import('./platform-notifications.ts')).startNotifications(
            config,
            db,
            broker,
            metrics,
            logger,
          )
        : undefined;
    consumers = 'running';
    const funnelSealing =
      roles.worker && config.analyticsSealIntervalMs > 0
        ? new FunnelSealing(new PostgresFunnelSealer(db, WORKER_SEALING), logger, {
            intervalMs: config.analyticsSealIntervalMs,
            hoursPerRound: WORKER_SEALING.hoursPerRound,
          })
        : undefined;

    let server: FastifyInstance | undefined;
    let ingest: IngestService | undefined;
    const authRequired = authIsRequired(config.auth, config.host);
    if (roles.api && authRequired && config.adminApiKey === undefined) {
      logger.warn(
        { host: config.host, auth: config.auth },
        'API keys are required but ADMIN_API_KEY is not set: only existing keys will be accepted',
      );
    }
    let url: string | undefined;
    let users: UserService | undefined;
    let outboxRelay: OutboxRelay | undefined;
    if (roles.api) {
      const [{ buildServer }, { webhookEndpoints }] = await Promise.all([
        import('./http/server.ts'),
        import('./platform-notifications.ts'),
      ]);
      ({ users, outboxRelay } = await startUsers(config, db, broker, logger, options.scrypt));
      const relay = outboxRelay;
      const { SchemaRegistry } = await import('./app/schemas/registry.ts');
      const { contractCompiler } = await import('./app/schemas/compiler.ts');
      const registry = new SchemaRegistry(schemaStore, schemas, contractCompiler(), logger, {
        onEvent: () => relay.wake(),
      });
      ingest = new IngestService(broker, metrics, {
        maxBatch: Math.max(config.batchMaxEvents, 1000),
        // A pool takes a few flushes at once; half of it leaves room for the workers.
        maxInFlight: Math.max(1, Math.floor(config.databasePoolSize / 2)),
      });
      server = await buildServer({
        db,
        broker,
        store,
        ingest,
        metrics,
        logger,
        maxBodyBytes: config.maxBodyBytes,
        batchMaxEvents: config.batchMaxEvents,
        workerGroup: WORKER_GROUP,
        version: VERSION,
        agentStore: new PostgresAgentStore(db),
        users,
        analytics: new AnalyticsService(new PostgresAnalyticsReader(db)),
        notifications: {
          store: new PostgresNotificationStore(db),
          endpoints: webhookEndpoints(config, db),
        },
        keys: new ApiKeyService(new PostgresApiKeyStore(db), { adminKey: config.adminApiKey }),
        authRequired,
        schemas: {
          registry,
          catalog: schemas,
          contracts: new ContractCheck(schemas, { required: config.schemasRequired }),
        },
        rateLimitPerMinute: config.rateLimitPerMinute,
        ...(config.redisUrl === undefined
          ? {}
          : { rateLimitRedis: { url: config.redisUrl, namespace: config.brokerNamespace } }),
        requestTimeoutMs: config.requestTimeoutMs,
        maxJsonDepth: config.maxJsonDepth,
        overload: {
          maxEventLoopDelayMs: config.overloadEventLoopDelayMs,
          maxPendingEvents: config.overloadPendingEvents,
        },
        stalls: stalled,
      });
      url = await server.listen({ port: config.port, host: config.host });
      logger.info({ url, docs: `${url}/docs`, dashboard: `${url}/dashboard/` }, 'api listening');
      if (config.readPort !== undefined) {
        const { startReadServer } = await import('./http/read-server.ts');
        read = await startReadServer(server, {
          host: config.host,
          port: config.readPort,
          mainUrl: url,
          requestTimeoutMs: config.requestTimeoutMs,
        });
        if (read === undefined) {
          logger.warn(
            { port: config.readPort, setting: 'READ_PORT' },
            `READ_PORT ${config.readPort} is taken: the read routes are served on ${url} only (READ_PORT=off silences this)`,
          );
        } else {
          logger.info(
            { url: read.url, serves: 'GET analytics, events, molecules, agents, health, docs' },
            'read api listening',
          );
        }
      }
      // Started once nothing can fail the start any more; its first pass sends what is waiting.
      outboxRelay?.start();
    }
    // Like the relay, started once nothing can fail the start any more.
    funnelSealing?.start();

    let stopped: Promise<void> | undefined;
    const stop = () => {
      stopped ??= (async () => {
        consumers = 'stopping';
        // Keep-alive connections that go idle while we close would hold close() open until
        // their keep-alive timeout; close them as they become idle.
        const sweeper = setInterval(() => server?.server.closeIdleConnections(), 50);
        await Promise.all([server?.close(), read?.close()]);
        clearInterval(sweeper);
        await ingest?.drained();
        await outboxRelay?.stop();
        await funnelSealing?.stop();
        await agents?.stop();
        await notifications?.stop();
        await worker?.stop();
        await schemas.stop();
        // Kept up while draining: a terminating pod still answers its liveness probe.
        await ops?.close();
        await stallDetector.stop();
        await broker.close();
        await db.close();
      })();
      return stopped;
    };
    return {
      db,
      broker,
      metrics,
      server,
      worker,
      agents,
      notifications,
      users,
      outboxRelay,
      funnelSealing,
      schemas,
      stalls: stallDetector,
      url,
      opsUrl: ops?.url,
      readUrl: read?.url,
      stop,
    };
  } catch (error) {
    await read?.close().catch(() => {});
    await ops?.close().catch(() => {});
    await stopSchemas?.().catch(() => {});
    await stalls?.stop().catch(() => {});
    await openedBroker?.close().catch(() => {});
    await db.close().catch(() => {});
    throw error;
  }
}

/** The consumer groups whose lag `herald_consumer_lag` reports: every one this config runs. */
export function consumerGroups(config: Config): string[] {
  return [
    WORKER_GROUP,
    ...(config.agentsEnabled ? [AGENT_GROUP] : []),
    ...(config.notificationsEnabled ? [NOTIFICATION_GROUP] : []),
  ];
}

function assertRunning(consumers: 'starting' | 'running' | 'stopping'): void {
  if (consumers !== 'running') throw new Error(`the worker's consumers are ${consumers}`);
}

/** The ops server on OPS_PORT; a port that cannot be had is a configuration error. */
async function listenOps(
  config: Config,
  metrics: Metrics,
  readiness: Record<string, () => unknown>,
  stalls: () => readonly StalledShard[],
): Promise<OpsServer> {
  try {
    return await startOpsServer({
      host: config.host,
      port: config.opsPort,
      metrics,
      readiness,
      stalls,
    });
  } catch (error) {
    const code = (error as { code?: string }).code ?? String(error);
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `OPS_PORT: cannot listen on ${config.host}:${config.opsPort} (${code})`,
      { cause: error, details: { setting: 'OPS_PORT' } },
    );
  }
}

/**
 * The user service and its outbox relay (API role, not started yet): creates the ADMIN_EMAIL
 * admin if missing; every commit with an event wakes the relay.
 */
async function startUsers(
  config: Config,
  db: Database,
  broker: Broker,
  logger: Logger,
  scrypt: ScryptParams | undefined,
): Promise<{ users: UserService; outboxRelay: OutboxRelay }> {
  const outboxRelay = new OutboxRelay(new PostgresOutboxStore(db), broker, logger, {
    holder: `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    pollMs: config.outboxPollMs,
  });
  const users = new UserService(new PostgresUserStore(db), logger, {
    sessionTtlMs: config.sessionTtlMs,
    openRegistration: config.usersOpenRegistration,
    login: {
      freeFailures: config.loginFreeFailures,
      accountFreeFailures: config.loginAccountFreeFailures,
      baseDelayMs: config.loginDelayBaseMs,
      maxDelayMs: config.loginDelayMaxMs,
      windowMs: config.loginWindowMs,
      trustedAddressMs: config.loginTrustedAddressMs,
    },
    onEvent: () => outboxRelay.wake(),
    ...(scrypt === undefined ? {} : { scrypt }),
  });
  if (config.adminEmail !== undefined && config.adminPassword !== undefined) {
    try {
      await users.ensureAdmin(config.adminEmail, config.adminPassword);
    } catch (error) {
      if (!(error instanceof HeraldError && error.code === ErrorCodes.VALIDATION)) throw error;
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `ADMIN_EMAIL / ADMIN_PASSWORD: ${error.message}`,
        { cause: error, details: { setting: 'ADMIN_EMAIL', ...error.details } },
      );
    }
  }
  return { users, outboxRelay };
}
