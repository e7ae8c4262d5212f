import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { after, before, test } from 'node:test';
import { OpenAiCompatibleClient } from '../../src/adapters/llm/openai/client.ts';
import {
  flushTracing,
  inSpan,
  startTracing,
  stopTracing,
  tracingSettingsFromEnv,
} from '../../src/observability/tracing.ts';
import { eventually } from '../helpers/eventually.ts';
import { startFakeOpenAi } from '../helpers/fake-openai.ts';
import { uncheckedFetch } from '../helpers/openapi-responses.ts';
import { getJson, postJson, startTestPlatform } from '../helpers/platform.ts';

/** A span as OTLP/HTTP JSON carries it, with the fields the assertions read. */
interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
  links?: { traceId: string; spanId: string }[];
  service: string;
}

const KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 };

/** An OpenTelemetry collector as far as Herald sees one: OTLP/HTTP JSON on POST /v1/traces. */
async function startFakeCollector() {
  const spans: ExportedSpan[] = [];
  const requests: { path: string; contentType: string | undefined }[] = [];
  const server = createServer(async (request: IncomingMessage, response) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    requests.push({ path: request.url ?? '', contentType: request.headers['content-type'] });
    const payload = JSON.parse(body) as {
      resourceSpans: {
        resource: { attributes: { key: string; value: { stringValue?: string } }[] };
        scopeSpans: { spans: Omit<ExportedSpan, 'service'>[] }[];
      }[];
    };
    for (const resourceSpans of payload.resourceSpans) {
      const service =
        resourceSpans.resource.attributes.find((a) => a.key === 'service.name')?.value
          .stringValue ?? '';
      for (const scope of resourceSpans.scopeSpans) {
        for (const span of scope.spans) spans.push({ ...span, service });
      }
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

function attribute(span: ExportedSpan, key: string): unknown {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value === undefined ? undefined : Object.values(value)[0];
}

// About traces, not load shedding: a loaded machine must not shed the test's requests.
const NO_SHEDDING = { OVERLOAD_EVENT_LOOP_DELAY_MS: '0' };

let collector: Awaited<ReturnType<typeof startFakeCollector>>;

before(async () => {
  collector = await startFakeCollector();
  const settings = tracingSettingsFromEnv({
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
    OTEL_SERVICE_NAME: 'herald-under-test',
  });
  assert.ok(settings);
  await startTracing({ ...settings, exportDelayMs: 50 });
});

after(async () => {
  await stopTracing();
  await collector.close();
});

/** The spans of one trace, once `done` finds what it waits for among them. */
async function spansOf(
  traceId: string,
  done: (spans: ExportedSpan[]) => boolean,
): Promise<ExportedSpan[]> {
  return eventually(async () => {
    await flushTracing();
    const spans = collector.spans.filter((s) => s.traceId === traceId);
    return done(spans) ? spans : undefined;
  });
}

test('settings come from the standard OTEL_* variables; no endpoint means tracing off', () => {
  assert.equal(tracingSettingsFromEnv({}), undefined);
  assert.deepEqual(tracingSettingsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' }), {
    endpoint: 'http://c:4318/v1/traces',
    serviceName: 'herald',
  });
  assert.equal(
    tracingSettingsFromEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://d:4318/custom',
    })?.endpoint,
    'http://d:4318/custom',
  );
  assert.equal(
    tracingSettingsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_SDK_DISABLED: 'true' }),
    undefined,
  );
  assert.equal(
    tracingSettingsFromEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c',
      OTEL_TRACES_EXPORTER: 'none',
    }),
    undefined,
  );
  assert.throws(
    () => tracingSettingsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }),
    /OTEL_EXPORTER_OTLP_ENDPOINT: must be an http/,
  );
});

test("an event's trace goes from the client's traceparent through the API, the broker and the worker to the database", async (t) => {
  const { url } = await startTestPlatform(t, NO_SHEDDING, { database: 'postgres' });
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const clientSpanId = '00f067aa0ba902b7';
  const accepted = await postJson(
    `${url}/events`,
    { id: 'traced-1', event_type: 'purchase', user_id: 'ann' },
    { traceparent: `00-${traceId}-${clientSpanId}-01` },
  );
  assert.equal(accepted.status, 202);
  await eventually(async () => {
    const { body } = await getJson(`${url}/api/v1/events/traced-1`);
    return body.status === 'processed' ? true : undefined;
  });

  const spans = await spansOf(traceId, (found) =>
    found.some((s) => s.name === 'persist' && found.some((d) => d.parentSpanId === s.spanId)),
  );
  assert.ok(collector.requests.every((r) => r.path === '/v1/traces'));
  assert.ok(spans.every((s) => s.service === 'herald-under-test'));

  const api = spans.find((s) => s.kind === KIND.SERVER);
  assert.ok(api, 'an API span');
  assert.equal(api.name, 'POST /events');
  assert.equal(api.parentSpanId, clientSpanId, "the API span's parent is the client's span");
  assert.equal(attribute(api, 'http.response.status_code'), 202);

  const publish = spans.find((s) => s.kind === KIND.PRODUCER);
  assert.equal(publish?.parentSpanId, api.spanId, 'the publish happens in the API request');
  const published = spans.filter((s) => s.parentSpanId === publish?.spanId);
  assert.ok(published.length > 0, 'the broker append shows as database spans');
  assert.ok(published.every((s) => attribute(s, 'db.system.name') === 'postgresql'));

  const process = spans.find((s) => s.kind === KIND.CONSUMER && s.name === 'process');
  assert.ok(process, 'a worker span');
  assert.equal(process.parentSpanId, api.spanId, 'the worker continues the API span');
  assert.equal(attribute(process, 'messaging.message.id'), 'traced-1');
  assert.equal(attribute(process, 'messaging.destination.name'), 'events');

  const persist = spans.find((s) => s.name === 'persist');
  assert.equal(persist?.parentSpanId, process.spanId);
  const writes = spans.filter(
    (s) =>
      s.kind === KIND.CLIENT &&
      attribute(s, 'db.system.name') === 'postgresql' &&
      isBelow(spans, s, persist?.spanId ?? ''),
  );
  assert.ok(
    writes.some((s) => /INSERT/i.test(String(attribute(s, 'db.query.text')))),
    'the worker persists the event in a database span under its own span',
  );
});

test('a request without traceparent starts a trace at the API, and the event carries it on', async (t) => {
  const { url } = await startTestPlatform(t, NO_SHEDDING, { database: 'postgres' });
  await postJson(`${url}/api/v1/events/analytics`, {
    id: 'untraced-1',
    event_type: 'click',
    user_id: 'bob',
  });
  const api = await eventually(async () => {
    await flushTracing();
    return collector.spans.find(
      (s) => s.kind === KIND.SERVER && s.name === 'POST /api/v1/events/analytics',
    );
  });
  assert.equal(api.parentSpanId ?? '', '', 'the API span is the root');
  const spans = await spansOf(api.traceId, (found) =>
    found.some(
      (s) => s.name === 'process' && attribute(s, 'messaging.message.id') === 'untraced-1',
    ),
  );
  const process = spans.find((s) => s.name === 'process');
  assert.equal(process?.parentSpanId, api.spanId);
});

test("a client's decision not to sample is kept: its event is processed and nothing is exported", async (t) => {
  const { url } = await startTestPlatform(t, NO_SHEDDING, { database: 'postgres' });
  const traceId = 'aaaabbbbccccddddeeeeffff00001111';
  await postJson(
    `${url}/events`,
    { id: 'unsampled-1', event_type: 'purchase', user_id: 'ann' },
    { traceparent: `00-${traceId}-1111222233334444-00` },
  );
  await eventually(async () => {
    const { body } = await getJson(`${url}/api/v1/events/unsampled-1`);
    return body.status === 'processed' ? true : undefined;
  });
  // The worker's spans end just after the event shows processed.
  await new Promise((resolve) => setTimeout(resolve, 300));
  await flushTracing();
  assert.deepEqual(
    collector.spans.filter((s) => s.traceId === traceId),
    [],
  );
});

test('scrapes and health checks make no traces, and idle worker polling makes no root spans', async (t) => {
  const { url } = await startTestPlatform(t, NO_SHEDDING, { database: 'postgres' });
  const before = collector.spans.length;
  // Unchecked: the OpenAPI check's own GET /docs/json is an API request, traced.
  await uncheckedFetch(`${url}/metrics`);
  await uncheckedFetch(`${url}/health`);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await flushTracing();
  assert.deepEqual(collector.spans.slice(before), []);
});

test('an LLM call is a client span of the current trace and passes the trace on to the provider', async (t) => {
  const provider = await startFakeOpenAi(t);
  provider.setDefault({ kind: 'content', content: '{"answer":"water"}' });
  const client = new OpenAiCompatibleClient({
    baseUrl: provider.url,
    apiKey: 'sk-test',
    model: 'test-model',
  });
  const parentTrace = await inSpan('agent', {}, async (span) => {
    await client.complete({
      messages: [{ role: 'user', content: 'describe H2O' }],
      maxTokens: 50,
      schema: { name: 'answer', schema: { type: 'object' } },
    });
    return span?.spanContext();
  });
  assert.ok(parentTrace);
  const spans = await spansOf(parentTrace.traceId, (found) =>
    found.some((s) => s.name === 'chat test-model'),
  );
  const chat = spans.find((s) => s.name === 'chat test-model');
  assert.equal(chat?.kind, KIND.CLIENT);
  assert.equal(chat?.parentSpanId, parentTrace.spanId);
  assert.equal(attribute(chat as ExportedSpan, 'gen_ai.request.model'), 'test-model');
  const sent = provider.requests.at(-1)?.traceparent;
  assert.match(String(sent), new RegExp(`^00-${parentTrace.traceId}-${chat?.spanId}-01$`));
});

function isBelow(spans: ExportedSpan[], span: ExportedSpan, ancestorId: string): boolean {
  let current: ExportedSpan | undefined = span;
  while (current?.parentSpanId) {
    if (current.parentSpanId === ancestorId) return true;
    current = spans.find((s) => s.spanId === current?.parentSpanId);
  }
  return false;
}
