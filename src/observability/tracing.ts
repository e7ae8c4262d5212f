/**
 * OpenTelemetry traces: a W3C `traceparent` goes from the HTTP request into the event's broker
 * headers, and from there into the worker's and the agents' spans, with the database and LLM
 * calls as their children. Spans are exported over OTLP/HTTP (JSON) when an endpoint is
 * configured (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).
 *
 * Off by default, and cheap when off: the SDK is not even loaded, the database is not wrapped,
 * no HTTP hook is added, and every helper here returns its callback's result straight away.
 * The client's own `traceparent` is still carried in the event headers.
 *
 * Context is kept in one AsyncLocalStorage of this module rather than a global context manager,
 * so nothing else in the process changes when tracing starts.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type Attributes,
  type Context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrorCodes, HeraldError } from '../errors.ts';
import type { Database, SqlExecutor } from '../ports/database.ts';

export { SpanKind };

/** Where and as whom spans are exported. */
export interface TracingSettings {
  /** The OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces. */
  endpoint: string;
  serviceName: string;
  /** How long finished spans wait to be sent in one batch (default 1000 ms). */
  exportDelayMs?: number;
}

interface Active {
  tracer: Tracer;
  provider: { forceFlush(): Promise<void>; shutdown(): Promise<void> };
}

let active: Active | undefined;
const storage = new AsyncLocalStorage<Context>();
const propagator = new W3CTraceContextPropagator();

/**
 * The tracing settings the standard OpenTelemetry variables ask for, or undefined (tracing off)
 * when no endpoint is set, OTEL_SDK_DISABLED is true or OTEL_TRACES_EXPORTER is `none`.
 *
 * @example
 * tracingSettingsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' });
 * // → { endpoint: 'http://127.0.0.1:4318/v1/traces', serviceName: 'herald' }
 */
export function tracingSettingsFromEnv(
  env: Record<string, string | undefined>,
): TracingSettings | undefined {
  if (/^true$/i.test(env.OTEL_SDK_DISABLED?.trim() ?? '')) return undefined;
  if (env.OTEL_TRACES_EXPORTER?.trim() === 'none') return undefined;
  const specific = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  const name = specific ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  // The base endpoint gets the signal's path appended; the specific one is used as given.
  const endpoint = specific || (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (endpoint === undefined) return undefined;
  if (!/^https?:\/\/[^/\s]+/.test(endpoint)) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `${name}: must be an http:// or https:// URL`,
      {
        details: { setting: name },
      },
    );
  }
  return { endpoint, serviceName: env.OTEL_SERVICE_NAME?.trim() || 'herald' };
}

/**
 * Starts exporting spans (once per process; a second call replaces the first). The SDK is
 * loaded here, so a process with tracing off never loads it.
 */
export async function startTracing(settings: TracingSettings): Promise<void> {
  const [
    { BatchSpanProcessor, TracerProvider },
    { OTLPTraceExporter },
    { resourceFromAttributes },
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  await stopTracing();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': settings.serviceName }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: settings.endpoint }),
        scheduledDelayMillis: settings.exportDelayMs ?? 1000,
      }),
    ],
  });
  active = { tracer: provider.getTracer('herald'), provider };
}

/** Sends the spans finished so far. */
export async function flushTracing(): Promise<void> {
  await active?.provider.forceFlush();
}

/** Sends what is left and stops tracing. */
export async function stopTracing(): Promise<void> {
  const stopping = active;
  active = undefined;
  await stopping?.provider.shutdown();
}

export function tracingEnabled(): boolean {
  return active !== undefined;
}

/** The context a `traceparent` (and `tracestate`) header stands for; ROOT when none is valid. */
export function contextFromHeaders(headers: Record<string, unknown>): Context {
  return propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
}

/** The `traceparent` header value naming `span`. */
export function traceparentOf(span: Span): string | undefined {
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
  return carrier.traceparent;
}

/** Adds `traceparent` (and `tracestate`) for the current span to outgoing request headers. */
export function injectTraceHeaders(headers: Record<string, string>): void {
  const context = storage.getStore();
  if (context !== undefined) propagator.inject(context, headers, defaultTextMapSetter);
}

function recordError(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  links?: Link[];
  /** The parent; default the current span. */
  parent?: Context;
  /** Only trace when there is a parent span (no new root traces from background polling). */
  requireParent?: boolean;
}

/**
 * Runs `work` in a new span (its current span while it runs), ended when `work` settles; a
 * throw marks the span failed. With tracing off, `work` runs with no span.
 *
 * @example
 * await inSpan('chat gpt-4o-mini', { kind: SpanKind.CLIENT }, async (span) => call());
 */
export function inSpan<T>(
  name: string,
  options: SpanOptions,
  work: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  if (active === undefined) return work(undefined);
  const parent = options.parent ?? storage.getStore() ?? ROOT_CONTEXT;
  if (options.requireParent && trace.getSpan(parent) === undefined) return work(undefined);
  const span = active.tracer.startSpan(
    name,
    {
      ...(options.kind === undefined ? {} : { kind: options.kind }),
      ...(options.attributes ? { attributes: options.attributes } : {}),
      ...(options.links ? { links: options.links } : {}),
    },
    parent,
  );
  return storage.run(trace.setSpan(parent, span), async () => {
    try {
      return await work(span);
    } catch (error) {
      recordError(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// HTTP: one SERVER span per API request, the client's traceparent as its parent.

const requestSpans = new WeakMap<FastifyRequest, { span: Span; context: Context }>();
// Scrapes and the dashboard's polling would bury the interesting traces.
const UNTRACED = /^\/(metrics|health|healthz|dashboard)(\/|$|\?)/;

/**
 * Adds a SERVER span to every API request (but scrapes, health checks and dashboard assets),
 * parented by the request's `traceparent` when it has one. Handlers run in the span's context,
 * so database calls they make are its children. Call only when tracing is on.
 */
export function traceHttp(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    if (active === undefined || UNTRACED.test(request.url)) return;
    const parent = contextFromHeaders(request.headers);
    const route = request.routeOptions.url;
    const span = active.tracer.startSpan(
      route === undefined ? request.method : `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          'url.path': request.url.split('?')[0] ?? request.url,
          ...(route === undefined ? {} : { 'http.route': route }),
          'herald.correlation_id': request.id,
        },
      },
      parent,
    );
    requestSpans.set(request, { span, context: trace.setSpan(parent, span) });
  });
  // After body parsing, whose stream events would have lost the context.
  app.addHook('preHandler', (request, _reply, done) => {
    const entry = requestSpans.get(request);
    if (entry === undefined) return done();
    storage.run(entry.context, done);
  });
  app.addHook('onResponse', async (request, reply) => {
    const entry = requestSpans.get(request);
    if (entry === undefined) return;
    entry.span.setAttribute('http.response.status_code', reply.statusCode);
    if (reply.statusCode >= 500) entry.span.setStatus({ code: SpanStatusCode.ERROR });
    entry.span.end();
  });
}

/**
 * The `traceparent` to put in the events a request submits: its API span's when tracing is on
 * (a trace starts here when the client sent none), else the client's header as it came.
 */
export function requestTraceparent(request: FastifyRequest): string | undefined {
  const entry = requestSpans.get(request);
  if (entry !== undefined) return traceparentOf(entry.span);
  const header = request.headers.traceparent;
  return typeof header === 'string' ? header : undefined;
}

// ---------------------------------------------------------------------------------------------
// Batches of messages: one span per message, parented by the traceparent in its headers.

/** Spans over a batch of broker messages; with tracing off every method just runs `work`. */
export interface BatchTrace {
  /** Runs `work` in message `index`'s span. */
  message<T>(index: number, work: () => Promise<T>): Promise<T>;
  /** Marks message `index` failed (dead-lettered or to be retried). */
  fail(index: number, reason: string): void;
  /**
   * Runs one write for the whole batch in a span. A batched write belongs to many traces: it
   * is parented by the first message's span and linked to the others', so each trace finds it.
   */
  batch<T>(name: string, work: () => Promise<T>): Promise<T>;
  /** Ends the messages' spans. */
  end(): void;
}

const UNTRACED_BATCH: BatchTrace = {
  message: (_index, work) => work(),
  fail: () => {},
  batch: (_name, work) => work(),
  end: () => {},
};

interface TracedMessage {
  headers: Record<string, string>;
  id: string;
  topic: string;
}

/**
 * Spans for a consumed batch (`kind` CONSUMER, one per message, named `name`), or, with
 * `kind` PRODUCER and no per-message spans, for a batch about to be published.
 */
export function traceBatch(
  messages: readonly TracedMessage[],
  name: string,
  attributes: Attributes,
  kind: SpanKind = SpanKind.CONSUMER,
): BatchTrace {
  const tracing = active;
  if (tracing === undefined || messages.length === 0) return UNTRACED_BATCH;
  const contexts: Context[] = [];
  const spans: Span[] = [];
  for (const message of messages) {
    const parent = contextFromHeaders(message.headers);
    if (kind === SpanKind.PRODUCER) {
      contexts.push(parent);
      continue;
    }
    const span = tracing.tracer.startSpan(
      name,
      {
        kind,
        attributes: {
          ...attributes,
          'messaging.message.id': message.id,
          'messaging.destination.name': message.topic,
        },
      },
      parent,
    );
    spans.push(span);
    contexts.push(trace.setSpan(parent, span));
  }
  return {
    message(index, work) {
      const context = contexts[index];
      return context === undefined ? work() : storage.run(context, work);
    },
    fail(index, reason) {
      spans[index]?.setStatus({ code: SpanStatusCode.ERROR, message: reason });
    },
    batch(batchName, work) {
      const [first = ROOT_CONTEXT, ...rest] = contexts;
      const links: Link[] = [];
      for (const context of rest) {
        const linked = trace.getSpanContext(context);
        if (linked !== undefined) links.push({ context: linked });
      }
      return inSpan(
        batchName,
        {
          kind: kind === SpanKind.PRODUCER ? kind : SpanKind.INTERNAL,
          attributes: { ...attributes, 'messaging.batch.message_count': messages.length },
          links,
          parent: first,
        },
        () => work(),
      );
    },
    end() {
      for (const span of spans) span.end();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Database: a CLIENT span per statement and per transaction, under the current span only.

const QUERY_TEXT_LIMIT = 1000;

function queryAttributes(sql: string): { name: string; attributes: Attributes } {
  const text = sql.trim();
  const operation = /^[A-Za-z]+/.exec(text)?.[0]?.toUpperCase() ?? 'QUERY';
  return {
    name: operation,
    attributes: {
      'db.system.name': 'postgresql',
      'db.operation.name': operation,
      // Statements are parameterised: the text holds no values.
      'db.query.text':
        text.length > QUERY_TEXT_LIMIT ? `${text.slice(0, QUERY_TEXT_LIMIT)}…` : text,
    },
  };
}

function tracedExecutor(executor: SqlExecutor): SqlExecutor {
  return {
    query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]) {
      const { name, attributes } = queryAttributes(sql);
      return inSpan(name, { kind: SpanKind.CLIENT, attributes, requireParent: true }, () =>
        executor.query<Row>(sql, params),
      );
    },
  };
}

/**
 * `db` with a span per statement and transaction when tracing is on (and `db` itself when it
 * is off). Statements run outside any span (a worker's idle polling) make no trace.
 */
export function traceDatabase(db: Database): Database {
  if (active === undefined) return db;
  const queries = tracedExecutor(db);
  return {
    kind: db.kind,
    query: queries.query,
    transaction: (work) =>
      inSpan(
        'transaction',
        {
          kind: SpanKind.CLIENT,
          attributes: { 'db.system.name': 'postgresql' },
          requireParent: true,
        },
        () => db.transaction((tx) => work(tracedExecutor(tx))),
      ),
    exec: (sql) => db.exec(sql),
    listen: (channel, onNotify) => db.listen(channel, onNotify),
    close: () => db.close(),
  };
}
