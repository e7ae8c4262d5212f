import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from 'fastify';
import type { AnalyticsService } from '../app/analytics.ts';
import type { ApiKeyService } from '../app/api-keys.ts';
import type { IngestService } from '../app/ingest.ts';
import type { WebhookEndpoints } from '../app/notifications/webhook-endpoints.ts';
import type { ReplayService } from '../app/replay/service.ts';
import type { StalledShard } from '../app/stall-detector.ts';
import type { UserService } from '../app/users.ts';
import { ErrorCodes } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { traceHttp, tracingEnabled } from '../observability/tracing.ts';
import type { AgentStore } from '../ports/agent-store.ts';
import type { Broker } from '../ports/broker.ts';
import type { Database } from '../ports/database.ts';
import type { DedupeStore } from '../ports/dedupe.ts';
import type { EventStore } from '../ports/event-store.ts';
import type { NotificationStore } from '../ports/notification-store.ts';
import { problemSchema } from './api-schemas/common.ts';
import { apiKeyAuth } from './auth.ts';
import { problemClientErrorHandler, problemFrameworkErrors } from './client-errors.ts';
import { documentContracts } from './contracts.ts';
import { methodsByPath, notFoundOrNotAllowed } from './method-not-allowed.ts';
import { completeRouteSchema, MAX_PATH_PARAM_LENGTH } from './openapi.ts';
import { overloadGuard } from './overload.ts';
import { PROBLEM_CONTENT_TYPE, problem, problemOf, sendError, sendProblem } from './problem.ts';
import { agentRoutes } from './routes/agents.ts';
import { analyticsRoutes } from './routes/analytics.ts';
import { apiKeyRoutes } from './routes/api-keys.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { deadLetterRoutes } from './routes/dead-letters.ts';
import { eventSearchRoutes } from './routes/event-search.ts';
import { eventRoutes } from './routes/events.ts';
import { type LogRouteOptions, logRoutes } from './routes/log.ts';
import { notificationRoutes } from './routes/notifications.ts';
import { operationsRoutes } from './routes/operations.ts';
import { partitionRoutes } from './routes/partitions.ts';
import { replayRoutes } from './routes/replays.ts';
import { type SchemaRoutesOptions, schemaRoutes } from './routes/schema-registry.ts';
import { serviceRoutes } from './routes/service.ts';
import { userRoutes } from './routes/users.ts';
import { refuseUnstorableText } from './unstorable-text.ts';

export interface ServerDependencies {
  db: Database;
  broker: Broker;
  store: EventStore;
  ingest: IngestService;
  metrics: Metrics;
  logger: Logger;
  maxBodyBytes: number;
  batchMaxEvents: number;
  workerGroup: string;
  version: string;
  keys: ApiKeyService;
  agentStore: AgentStore;
  /** The user service; its routes (/users/…) are served when given. */
  users?: UserService;
  /** The analytics API (`/api/v1/analytics/*`); absent, its routes are not served. */
  analytics?: AnalyticsService;
  /** The delivery log and webhook endpoints (`/api/v1/notifications/*`), when given. */
  notifications?: { store: NotificationStore; endpoints: WebhookEndpoints };
  /** The schema registry (`/api/v1/schemas`) and the contract check of ingest, when given. */
  schemas?: SchemaRoutesOptions;
  /** The dedupe window, whose refusals `GET /api/v1/events/{id}` shows (issue #20). */
  dedupe?: { store: DedupeStore; windowMs: number };
  /** Replays of a range (`/api/v1/replays`), when given. */
  replays?: ReplayService;
  /** The log's retention status (`/api/v1/log`), when given. */
  log?: LogRouteOptions;
  /** Whether API keys are required (see access.ts for which routes). */
  authRequired: boolean;
  rateLimitPerMinute: number;
  /** Redis shared by every API process for rate-limit counters (REDIS_URL), when set. */
  rateLimitRedis?: { url: string; namespace: string };
  requestTimeoutMs: number;
  maxJsonDepth: number;
  overload: { maxEventLoopDelayMs: number; maxPendingEvents: number };
  /** Stalled partitions (the stall detector's): readiness, the summary, /api/v1/partitions. */
  stalls?: () => readonly StalledShard[];
}

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The HTTP API: routes, validation, problem+json errors, OpenAPI at /docs. */
export async function buildServer(deps: ServerDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // One log line per request would dominate the hot path; errors are logged where handled.
    logController: new LogController({
      disableRequestLogging: true,
      requestIdLogLabel: 'correlationId',
    }),
    bodyLimit: deps.maxBodyBytes,
    requestTimeout: deps.requestTimeoutMs,
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers['x-correlation-id'] ?? request.headers['x-request-id'];
      return typeof given === 'string' && CORRELATION_ID.test(given) ? given : randomUUID();
    },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Every path parameter's schema bounds it within this (openapi.ts), so that an id the API
    // accepts (200 characters) is one it can look up; past it the router answers 414.
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    // Fastify's own 503 while closing is plain JSON; the hook below answers a problem instead.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    clientErrorHandler: problemClientErrorHandler,
    frameworkErrors: problemFrameworkErrors,
  });

  // Bodies are validated as sent (a number is not a string); query strings and params are
  // text on the wire, so they are coerced.
  const strict = addFormats.default(
    new Ajv.default({ allErrors: true, coerceTypes: false, useDefaults: true, strict: false }),
  );
  const coercing = addFormats.default(
    new Ajv.default({ allErrors: true, coerceTypes: 'array', useDefaults: true, strict: false }),
  );
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? strict.compile(schema) : coercing.compile(schema),
  );

  // JSON (and NDJSON, on the batch route) only: Fastify's default text/plain parser would let
  // a text body reach validation as a string.
  app.removeContentTypeParser('text/plain');

  // Before any route: every documented route gets the edge's rules (openapi.ts), and every
  // path its methods (405 + Allow for the others).
  app.addSchema(problemSchema);
  app.addHook(
    'onRoute',
    completeRouteSchema({
      authRequired: deps.authRequired,
      rateLimited: deps.authRequired && deps.rateLimitPerMinute > 0,
    }),
  );
  const allowedMethods = methodsByPath(app);

  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-correlation-id', request.id);
    if (closing) {
      // Requests still arriving on kept-alive connections: go elsewhere, and not on this one.
      reply.header('connection', 'close').header('retry-after', '1');
      return sendProblem(
        reply,
        problemOf(ErrorCodes.SHUTTING_DOWN, 'this server is shutting down; retry'),
      );
    }
  });
  if (tracingEnabled()) traceHttp(app);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.httpDuration.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  // Deeply nested JSON costs every later step (validation, storage) stack and time.
  app.addHook('preValidation', async (request, reply) => {
    if (
      request.body !== undefined &&
      jsonDepth(request.body, deps.maxJsonDepth) > deps.maxJsonDepth
    ) {
      return sendProblem(
        reply,
        problem(
          400,
          'json-too-deep',
          'JSON nested too deeply',
          `at most ${deps.maxJsonDepth} levels`,
        ),
      );
    }
  });
  app.addHook('preValidation', refuseUnstorableText);

  if (deps.authRequired) {
    await app.register(apiKeyAuth, {
      keys: deps.keys,
      rateLimitPerMinute: deps.rateLimitPerMinute,
      ...(deps.rateLimitRedis === undefined ? {} : { redis: deps.rateLimitRedis }),
    });
  }
  await app.register(overloadGuard, { ...deps.overload, pendingEvents: () => deps.ingest.pending });

  app.setErrorHandler((error: FastifyError, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) => notFoundOrNotAllowed(allowedMethods, request, reply));

  await app.register(swagger, {
    // Shared schemas (Problem) are components named by their $id.
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`),
    },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Herald',
        version: deps.version,
        description:
          'Durable event ingestion and processing. Every 202 means the event is durably enqueued; ' +
          `errors are RFC 9457 problem details (${PROBLEM_CONTENT_TYPE}). Unknown query ` +
          'parameters are refused (422 naming them); a path listed here asked with a method it ' +
          'does not list answers 405 with Allow.',
      },
      tags: [
        { name: 'events', description: 'Publish events and follow them' },
        { name: 'dead letters', description: 'Inspect and replay failed events' },
        { name: 'agents', description: 'Molecules and the chemistry agent runs on them' },
        { name: 'analytics', description: 'Summaries, time series, breakdowns and funnels' },
        { name: 'operations', description: 'Health and metrics' },
        { name: 'users', description: 'Accounts, logins, sessions and notification preferences' },
        { name: 'notifications', description: 'Delivery log and webhook endpoints' },
        { name: 'schemas', description: 'Event contracts: versioned JSON Schemas per event type' },
        {
          name: 'replays',
          description: 'Replay a range of the log to the agent, a webhook or the pipeline',
        },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'session token or API key' },
        },
      },
    },
  });
  const schemas = deps.schemas;
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // Per request, on a copy: the registered contracts change while the API runs.
    ...(schemas === undefined
      ? {}
      : {
          transformSpecification: (spec: Record<string, unknown>) =>
            documentContracts(spec, schemas.catalog),
        }),
  });

  await app.register(eventRoutes, {
    ingest: deps.ingest,
    store: deps.store,
    batchMaxEvents: deps.batchMaxEvents,
    ...(schemas === undefined ? {} : { contracts: schemas.contracts }),
    ...(deps.dedupe === undefined ? {} : { dedupe: deps.dedupe }),
  });
  if (deps.replays !== undefined) await app.register(replayRoutes, { replays: deps.replays });
  if (deps.log !== undefined) await app.register(logRoutes, deps.log);
  if (schemas !== undefined) await app.register(schemaRoutes, schemas);
  await app.register(deadLetterRoutes, { store: deps.store, broker: deps.broker });
  await app.register(eventSearchRoutes, { store: deps.store });
  await app.register(serviceRoutes, { version: deps.version });
  await app.register(dashboardRoutes);
  await app.register(apiKeyRoutes, { keys: deps.keys });
  await app.register(agentRoutes, { agents: deps.agentStore });
  if (deps.users !== undefined) {
    await app.register(userRoutes, { users: deps.users, keys: deps.keys });
  }
  if (deps.notifications !== undefined) {
    await app.register(notificationRoutes, deps.notifications);
  }
  if (deps.analytics !== undefined) {
    await app.register(analyticsRoutes, { analytics: deps.analytics });
  }
  await app.register(operationsRoutes, {
    db: deps.db,
    broker: deps.broker,
    store: deps.store,
    metrics: deps.metrics,
    workerGroup: deps.workerGroup,
    startedAt: new Date(),
    ...(deps.stalls === undefined ? {} : { stalls: deps.stalls }),
  });
  await app.register(partitionRoutes, {
    broker: deps.broker,
    store: deps.store,
    workerGroup: deps.workerGroup,
    stalls: deps.stalls ?? (() => []),
  });
  return app;
}

/**
 * Nesting depth of a parsed JSON value, counting no further than `limit + 1`. Runs on every
 * request body, so it walks with two flat stacks and no array per node (a 1,000-event batch
 * cost ~0.7 MB of garbage with a tuple and Object.values per node).
 */
export function jsonDepth(value: unknown, limit: number): number {
  if (typeof value !== 'object' || value === null) return 0;
  let deepest = 0;
  const nodes: object[] = [value];
  const depths: number[] = [1];
  while (nodes.length > 0) {
    const node = nodes.pop() as Record<string, unknown>;
    const depth = depths.pop() as number;
    if (depth > deepest) {
      deepest = depth;
      if (deepest > limit) return deepest;
    }
    if (Array.isArray(node)) {
      for (const child of node) {
        if (typeof child === 'object' && child !== null) {
          nodes.push(child);
          depths.push(depth + 1);
        }
      }
      continue;
    }
    // for…in with hasOwn visits what Object.values does.
    for (const key in node) {
      if (!Object.hasOwn(node, key)) continue;
      const child = node[key];
      if (typeof child === 'object' && child !== null) {
        nodes.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return deepest;
}
