import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { defaultStages, type Stage } from '../../src/app/pipeline.ts';
import { RetentionMetrics } from '../../src/app/retention/metrics.ts';
import { ErrorCodes, HeraldError } from '../../src/errors.ts';
import { MAX_EVENT_TYPE_LABELS, Metrics } from '../../src/observability/metrics.ts';
import { WORKER_GROUP } from '../../src/platform/consumer-groups.ts';
import { eventually } from '../helpers/eventually.ts';
import { startFakeOpenAi } from '../helpers/fake-openai.ts';
import { postJson, startTestPlatform, startTestWorker } from '../helpers/platform.ts';

// These tests are about counting, not load shedding: a loaded machine must not shed their events.
const NO_SHEDDING = { OVERLOAD_EVENT_LOOP_DELAY_MS: '0' };

function samples(text: string, name: string): { labels: string; value: number }[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .map((line) => {
      const [labels = '', value = ''] = line.slice(name.length).split(' ');
      return { labels, value: Number(value) };
    });
}

test('a scrape reports consumer lag per group and partition and the queue depth, read from the broker', async (t) => {
  const { url } = await startTestPlatform(
    t,
    // Only the workers' group is watched without the agents' and notifications' consumers.
    {
      ...NO_SHEDDING,
      QUEUE_PARTITIONS: '4',
      AGENTS_ENABLED: 'false',
      NOTIFICATIONS_ENABLED: 'false',
    },
    { database: 'postgres', roles: { api: true, worker: false } },
  );
  await postJson(
    `${url}/api/v1/events/batch`,
    Array.from({ length: 5 }, (_, i) => ({ event_type: 'click', user_id: `user-${i}` })),
  );
  const text = await (await fetch(`${url}/metrics`)).text();
  const lag = samples(text, 'herald_consumer_lag');
  assert.equal(lag.length, 4, 'one series per partition');
  assert.ok(lag.every((s) => s.labels.includes(`group="${WORKER_GROUP}"`)));
  assert.equal(
    lag.reduce((sum, s) => sum + s.value, 0),
    5,
  );
  assert.deepEqual(samples(text, 'herald_queue_depth'), [
    { labels: `{group="${WORKER_GROUP}"}`, value: 5 },
  ]);
});

/** The sum of `name`'s samples whose labels include all of `labels`. */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  return samples(text, name)
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels.includes(`${k}="${v}"`)))
    .reduce((sum, s) => sum + s.value, 0);
}

async function scrape(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

/** Dead-letters ids starting with `bad-`; fails `flaky-` ids transiently the first time. */
function picky(): Stage {
  const failedOnce = new Set<string>();
  return {
    name: 'picky',
    run({ message }) {
      if (message.id.startsWith('bad-')) {
        throw new HeraldError(ErrorCodes.VALIDATION, 'refused by the test');
      }
      if (message.id.startsWith('flaky-') && !failedOnce.has(message.id)) {
        failedOnce.add(message.id);
        throw new HeraldError(ErrorCodes.TRANSIENT, 'try again', { retryable: true });
      }
    },
  };
}

test('events accepted, processed, retried and dead-lettered are counted by topic, type and broker', async (t) => {
  const { url } = await startTestPlatform(
    t,
    { ...NO_SHEDDING, RETRY_BASE_MS: '1', RETRY_MAX_MS: '5' },
    { stages: [...defaultStages, picky()], database: 'postgres' },
  );
  const sent = await postJson(`${url}/api/v1/events/batch`, [
    { id: 'ok-1', event_type: 'click', user_id: 'u1' },
    { id: 'ok-2', event_type: 'click', user_id: 'u2' },
    { id: 'bad-1', event_type: 'purchase', user_id: 'u3', properties: {} },
    { id: 'flaky-1', molecule_id: 'm1', researcher: 'r', data: { formula: 'H2O' } },
  ]);
  assert.equal(sent.status, 202);
  const text = await eventually(async () => {
    const text = await scrape(url);
    return value(text, 'herald_events_processed_total') === 3 ? text : undefined;
  });
  const broker = 'postgres';
  assert.equal(
    value(text, 'herald_events_accepted_total', { topic: 'analytics', type: 'click', broker }),
    2,
  );
  assert.equal(
    value(text, 'herald_events_accepted_total', { topic: 'events', type: 'purchase', broker }),
    1,
  );
  assert.equal(
    value(text, 'herald_events_processed_total', { topic: 'analytics', type: 'click', broker }),
    2,
  );
  assert.equal(
    value(text, 'herald_events_processed_total', {
      topic: 'chemical',
      type: 'molecule_submitted',
      broker,
    }),
    1,
  );
  assert.equal(
    value(text, 'herald_events_retried_total', {
      topic: 'chemical',
      type: 'molecule_submitted',
      broker,
      error_code: ErrorCodes.TRANSIENT,
    }),
    1,
  );
  assert.equal(
    value(text, 'herald_events_dead_lettered_total', {
      topic: 'events',
      type: 'purchase',
      broker,
      reason: 'invalid',
    }),
    1,
  );
  assert.equal(value(text, 'herald_event_end_to_end_seconds_count'), 3);
  assert.ok(
    value(text, 'herald_http_request_duration_seconds_count', {
      method: 'POST',
      route: '/api/v1/events/batch',
      status: '202',
    }) >= 1,
  );
});

test('event types beyond the label budget share the type "other", so producers cannot explode the series', () => {
  const metrics = new Metrics();
  for (let i = 0; i < MAX_EVENT_TYPE_LABELS; i++) assert.equal(metrics.eventType(`t${i}`), `t${i}`);
  assert.equal(metrics.eventType('one-too-many'), 'other');
  assert.equal(metrics.eventType('t0'), 't0', 'types already seen keep their label');
});

const fastLlm = (url: string, extra: Record<string, string> = {}) => ({
  ...NO_SHEDDING,
  LLM_BASE_URL: url,
  LLM_MODEL: 'fake-model',
  LLM_RETRY_BASE_MS: '5',
  LLM_RETRY_MAX_MS: '20',
  LLM_TIMEOUT_MS: '2000',
  AGENTS_REENRICH_INTERVAL_MS: '0',
  ...extra,
});

async function submitMolecule(url: string, moleculeId: string, formula: string) {
  const sent = await postJson(`${url}/api/v1/events/chemical`, {
    molecule_id: moleculeId,
    researcher: 'Dr. Test',
    data: { formula },
  });
  assert.equal(sent.status, 202);
}

test('LLM calls are counted by outcome, with the tokens used and the provider’s rate-limit hits', async (t) => {
  const fake = await startFakeOpenAi(t);
  fake.script({ kind: 'status', status: 429, headers: { 'retry-after-ms': '1' } });
  const { url } = await startTestPlatform(t, fastLlm(fake.url), { database: 'postgres' });
  await submitMolecule(url, 'mol-limited', 'C8H10N4O2');
  const text = await eventually(async () => {
    const text = await scrape(url);
    // The run is recorded after the call: wait for it, then every count is final.
    return value(text, 'herald_agent_runs_total', { agent: 'llm' }) === 1 ? text : undefined;
  });
  assert.equal(value(text, 'herald_llm_calls_total', { outcome: 'ok' }), 1);
  const llmLines = text
    .split('\n')
    .filter((l) => l.startsWith('herald_llm'))
    .join('\n');
  assert.equal(value(text, 'herald_llm_calls_total', { outcome: 'rate_limited' }), 1, llmLines);
  assert.equal(value(text, 'herald_llm_rate_limited_total'), 1, llmLines);
  assert.equal(value(text, 'herald_llm_tokens_total'), 200, 'the tokens the provider reported');
  assert.equal(value(text, 'herald_circuit_breaker_state', { breaker: 'llm' }), 0, 'closed');
  assert.equal(value(text, 'herald_agent_runs_total', { agent: 'llm', status: 'succeeded' }), 1);
});

test('the circuit breaker state gauge shows the LLM breaker opening when the provider keeps failing', async (t) => {
  const fake = await startFakeOpenAi(t);
  fake.setDefault({ kind: 'status', status: 503 });
  const { url } = await startTestPlatform(
    t,
    fastLlm(fake.url, {
      LLM_MAX_RETRIES: '1',
      LLM_BREAKER_FAILURES: '2',
      LLM_BREAKER_COOLDOWN_MS: '60000',
    }),
    { database: 'postgres' },
  );
  assert.equal(value(await scrape(url), 'herald_circuit_breaker_state', { breaker: 'llm' }), 0);
  await submitMolecule(url, 'mol-down', 'H2O');
  const text = await eventually(async () => {
    const text = await scrape(url);
    return value(text, 'herald_circuit_breaker_state', { breaker: 'llm' }) === 2 ? text : undefined;
  });
  assert.equal(value(text, 'herald_llm_calls_total', { outcome: 'server' }), 2);
  assert.equal(value(text, 'herald_llm_tokens_total'), 0);
});

test('every herald_* metric the Grafana dashboard and the alert rules query is one Herald exports', async () => {
  const { readFile } = await import('node:fs/promises');
  const deploy = new URL('../../deploy/', import.meta.url);
  const queries = [
    await readFile(new URL('grafana/herald-dashboard.json', deploy), 'utf8'),
    await readFile(new URL('prometheus/alerts.yml', deploy), 'utf8'),
  ].join('\n');
  const used = new Set(
    [...queries.matchAll(/\bherald_[a-z0-9_]+/g)].map((m) =>
      m[0].replace(/_(bucket|count|sum)$/, ''),
    ),
  );
  const metrics = new Metrics();
  // The log's metrics, which the worker maintaining the log registers on the same registry.
  new RetentionMetrics(metrics.registry);
  const exported = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
  assert.ok(used.size > 10, 'the dashboard queries Herald metrics');
  assert.deepEqual(
    [...used].filter((name) => !exported.has(name)),
    [],
    'queried but not exported',
  );
});

/** `promtool check metrics` on an exposition: its complaints, or a failure naming the tool. */
function promtoolComplaints(exposition: string): string {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (run.error !== undefined) {
    assert.fail(
      `promtool is needed by this test and could not run (${run.error.message}): ` +
        'apt-get install prometheus (.ci/run installs it)',
    );
  }
  return run.status === 0 ? '' : `promtool exited ${run.status}:\n${run.stdout}${run.stderr}`;
}

test('the API’s /metrics, with traffic counted in every kind of series, passes promtool check metrics', async (t) => {
  const { url } = await startTestPlatform(
    t,
    { ...NO_SHEDDING, RETRY_BASE_MS: '1', RETRY_MAX_MS: '5' },
    { stages: [...defaultStages, picky()], database: 'postgres' },
  );
  const sent = await postJson(`${url}/api/v1/events/batch`, [
    { id: 'ok-1', event_type: 'click', user_id: 'u1' },
    { id: 'bad-1', event_type: 'purchase', user_id: 'u3', properties: {} },
    { id: 'flaky-1', molecule_id: 'm1', researcher: 'r', data: { formula: 'H2O' } },
  ]);
  assert.equal(sent.status, 202);
  const text = await eventually(async () => {
    const text = await scrape(url);
    return value(text, 'herald_events_processed_total') === 2 ? text : undefined;
  });
  assert.ok(value(text, 'herald_events_dead_lettered_total') >= 1, 'a dead letter was counted');
  assert.equal(promtoolComplaints(text), '');
});

test('a worker’s ops server /metrics passes promtool check metrics', async (t) => {
  const worker = await startTestWorker(t, NO_SHEDDING);
  const text = await (await fetch(`${worker.opsUrl}/metrics`)).text();
  assert.match(text, /^herald_process_process_resident_memory_bytes \d+/m);
  assert.equal(promtoolComplaints(text), '');
});
