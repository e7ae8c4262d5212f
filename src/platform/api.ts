import type { FastifyInstance } from 'fastify';
import { PostgresAgentStore } from '../adapters/store/postgres/agent-store.ts';
import { PostgresAnalyticsReader } from '../adapters/store/postgres/analytics-reader.ts';
import { PostgresApiKeyStore } from '../adapters/store/postgres/api-key-store.ts';
import { PostgresNotificationStore } from '../adapters/store/postgres/notifications.ts';
import { AnalyticsService } from '../app/analytics.ts';
import { ApiKeyService } from '../app/api-keys.ts';
import { IngestService } from '../app/ingest.ts';
import type { OutboxRelay } from '../app/outbox-relay.ts';
import type { SchemaCatalog } from '../app/schemas/catalog.ts';
import { ContractCheck } from '../app/schemas/contract-check.ts';
import type { StalledShard } from '../app/stall-detector.ts';
import type { UserService } from '../app/users.ts';
import type { Config } from '../config.ts';
import type { ScryptParams } from '../domain/users.ts';
import { authRequired as authIsRequired } from '../http/access.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Broker } from '../ports/broker.ts';
import type { Database } from '../ports/database.ts';
import type { EventStore } from '../ports/event-store.ts';
import { VERSION } from '../version.ts';
import { WORKER_GROUP } from './consumer-groups.ts';
import { schemaRegistry } from './contracts.ts';
import { type LogOverTime, logOverTimeRoutes } from './log-over-time.ts';
import type { Stops } from './stops.ts';
import { startUsers } from './users.ts';

export interface RunningApi {
  server: FastifyInstance;
  /** Where it listens, e.g. http://127.0.0.1:8000. */
  url: string;
  users: UserService;
  /** Publishes the user and schema events' outbox; started by the caller, last. */
  outboxRelay: OutboxRelay;
}

/**
 * The HTTP API (API role): the user service, the schema registry, ingestion and every route,
 * listening on HOST:PORT. It stops first among what it uses: no new requests, the ones in
 * flight answered, the events they accepted made durable.
 */
export async function startApi(
  config: Config,
  deps: {
    db: Database;
    broker: Broker;
    store: EventStore;
    metrics: Metrics;
    logger: Logger;
    catalog: SchemaCatalog;
    stalls: () => readonly StalledShard[];
    scrypt: ScryptParams | undefined;
    /** This process's log maintenance and replay runner (`herald start`), woken by new replays. */
    logOverTime: LogOverTime | undefined;
  },
  stops: Stops,
): Promise<RunningApi> {
  const { db, broker, store, metrics, logger, catalog } = deps;
  const authRequired = authIsRequired(config.auth, config.host);
  if (authRequired && config.adminApiKey === undefined) {
    logger.warn(
      { host: config.host, auth: config.auth },
      'API keys are required but ADMIN_API_KEY is not set: only existing keys will be accepted',
    );
  }
  // The HTTP stack is loaded by the API role only (a worker has no use for it).
  const [{ buildServer }, { webhookEndpoints }] = await Promise.all([
    import('../http/server.ts'),
    import('./notifications.ts'),
  ]);
  const { users, outboxRelay } = await startUsers(
    config,
    { db, broker, logger, scrypt: deps.scrypt },
    stops,
  );
  const registry = await schemaRegistry(db, catalog, logger, () => outboxRelay.wake());
  const ingest = new IngestService(broker, metrics, {
    maxBatch: Math.max(config.batchMaxEvents, 1000),
    // A pool takes a few flushes at once; half of it leaves room for the workers.
    maxInFlight: Math.max(1, Math.floor(config.databasePoolSize / 2)),
  });
  const server = await buildServer({
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
      catalog,
      contracts: new ContractCheck(catalog, { required: config.schemasRequired }),
    },
    ...(await logOverTimeRoutes(config, db, broker, deps.logOverTime)),
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
    stalls: deps.stalls,
  });
  stops.add('api', async () => {
    // Keep-alive connections that go idle while we close would hold close() open until
    // their keep-alive timeout; close them as they become idle.
    const sweeper = setInterval(() => server.server.closeIdleConnections(), 50);
    await server.close();
    clearInterval(sweeper);
    await ingest.drained();
  });
  const url = await server.listen({ port: config.port, host: config.host });
  logger.info({ url, docs: `${url}/docs`, dashboard: `${url}/dashboard/` }, 'api listening');
  return { server, url, users, outboxRelay };
}
