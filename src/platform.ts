import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { PostgresBroker } from './adapters/brokers/postgres/broker.ts';
import { migrate } from './adapters/postgres/migrate.ts';
import { openPglite } from './adapters/postgres/pglite.ts';
import { openPostgres } from './adapters/postgres/server.ts';
import { PostgresAgentStore } from './adapters/store/postgres/agent-store.ts';
import { PostgresApiKeyStore } from './adapters/store/postgres/api-key-store.ts';
import { PostgresEventStore } from './adapters/store/postgres/event-store.ts';
import type { AgentRunner } from './app/agents/runner.ts';
import { ApiKeyService } from './app/api-keys.ts';
import { IngestService } from './app/ingest.ts';
import { defaultStages, type Stage } from './app/pipeline.ts';
import { Worker } from './app/worker.ts';
import type { Config } from './config.ts';
import { TOPICS } from './domain/events.ts';
import { ErrorCodes, HeraldError } from './errors.ts';
import { authRequired as authIsRequired } from './http/access.ts';
import { buildServer } from './http/server.ts';
import type { Logger } from './observability/logger.ts';
import { Metrics } from './observability/metrics.ts';
import { startAgents } from './platform-agents.ts';
import type { Database } from './ports/database.ts';
import { VERSION } from './version.ts';

/** The consumer group of the processing workers; its lag is the queue depth. */
export const WORKER_GROUP = 'herald-processors';

export interface Roles {
  api: boolean;
  worker: boolean;
}

export interface RunningPlatform {
  db: Database;
  broker: PostgresBroker;
  metrics: Metrics;
  server: FastifyInstance | undefined;
  worker: Worker | undefined;
  /** The chemistry agents (worker role, AGENTS_ENABLED). */
  agents: AgentRunner | undefined;
  /** Where the API listens, e.g. http://127.0.0.1:8000. */
  url: string | undefined;
  /** Graceful stop: no new requests, in-flight work finished and committed, then close. */
  stop(): Promise<void>;
}

export async function openDatabase(config: Config, role: string): Promise<Database> {
  if (config.databaseUrl === undefined) return openPglite(config.dataDir);
  return openPostgres({
    url: config.databaseUrl,
    schema: config.databaseSchema,
    poolSize: config.databasePoolSize,
    applicationName: `herald-${role}`,
  });
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
  options: { stages?: readonly Stage[] } = {},
): Promise<RunningPlatform> {
  if (config.databaseUrl === undefined && !(roles.api && roles.worker)) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      'DATABASE_URL: separate api and worker processes need a PostgreSQL server; the embedded ' +
        'database serves one process (use `herald start`)',
      { details: { setting: 'DATABASE_URL' } },
    );
  }
  const role = roles.api && roles.worker ? 'start' : roles.api ? 'api' : 'worker';
  const db = await openDatabase(config, role);
  try {
    const applied = await migrate(db);
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
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
    const store = new PostgresEventStore(db);
    const metrics = new Metrics();
    metrics.watchBroker(broker, [WORKER_GROUP]);

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
        stages: options.stages ?? defaultStages,
      });
      await worker.start(broker);
    }
    // Their own consumer group: a slow or failing LLM provider never holds up processing.
    const agents =
      roles.worker && config.agentsEnabled
        ? await startAgents(config, db, broker, metrics, logger)
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
    if (roles.api) {
      ingest = new IngestService(broker, metrics, {
        maxBatch: Math.max(config.batchMaxEvents, 1000),
        // PGlite has one connection: one flush at a time; a server pool takes a few at once.
        maxInFlight:
          db.kind === 'pglite' ? 1 : Math.max(1, Math.floor(config.databasePoolSize / 2)),
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
        keys: new ApiKeyService(new PostgresApiKeyStore(db), { adminKey: config.adminApiKey }),
        authRequired,
        rateLimitPerMinute: config.rateLimitPerMinute,
        requestTimeoutMs: config.requestTimeoutMs,
        maxJsonDepth: config.maxJsonDepth,
        overload: {
          maxEventLoopDelayMs: config.overloadEventLoopDelayMs,
          maxPendingEvents: config.overloadPendingEvents,
        },
      });
      url = await server.listen({ port: config.port, host: config.host });
      logger.info({ url, docs: `${url}/docs` }, 'api listening');
    }

    let stopped: Promise<void> | undefined;
    const stop = () => {
      stopped ??= (async () => {
        // Keep-alive connections that go idle while we close would hold close() open until
        // their keep-alive timeout; close them as they become idle.
        const sweeper = setInterval(() => server?.server.closeIdleConnections(), 50);
        await server?.close();
        clearInterval(sweeper);
        await ingest?.drained();
        await agents?.stop();
        await worker?.stop();
        await broker.close();
        await db.close();
      })();
      return stopped;
    };
    return { db, broker, metrics, server, worker, agents, url, stop };
  } catch (error) {
    await db.close().catch(() => {});
    throw error;
  }
}
