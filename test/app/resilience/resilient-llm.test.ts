import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OpenAiCompatibleClient } from '../../../src/adapters/llm/openai/client.ts';
import { moleculeFacts } from '../../../src/app/agents/facts.ts';
import { LlmChemistryAgent } from '../../../src/app/agents/llm-agent.ts';
import { CircuitBreaker } from '../../../src/app/resilience/circuit-breaker.ts';
import {
  type ResilienceOptions,
  ResilientLlmClient,
} from '../../../src/app/resilience/resilient-llm.ts';
import { LlmError, type MoleculeFacts } from '../../../src/ports/llm.ts';
import { type FakeOpenAi, startFakeOpenAi } from '../../helpers/fake-openai.ts';

async function caffeine(): Promise<MoleculeFacts> {
  const facts = await moleculeFacts(
    { molecule_id: 'mol-caffeine', data: { formula: 'C8H10N4O2' } },
    undefined,
  );
  assert.ok(facts);
  return facts;
}

function agentFor(fake: FakeOpenAi, options: Partial<ResilienceOptions> = {}) {
  const outcomes: string[] = [];
  const breaker =
    options.breaker ?? new CircuitBreaker({ failureThreshold: 100, cooldownMs: 60_000 });
  const client = new ResilientLlmClient(
    new OpenAiCompatibleClient({ baseUrl: fake.url, apiKey: 'sk-test', model: 'fake-model' }),
    {
      requestsPerMinute: 60_000,
      tokensPerMinute: 100_000_000,
      concurrency: 4,
      timeoutMs: 2000,
      retry: { baseMs: 10, maxMs: 50, maxRetries: 3 },
      maxWaitMs: 10_000,
      onAttempt: (outcome) => outcomes.push(outcome),
      ...options,
      breaker,
    },
  );
  return { agent: new LlmChemistryAgent(client), outcomes, breaker };
}

async function rejection(promise: Promise<unknown>): Promise<LlmError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof LlmError, String(error));
    return error;
  }
  assert.fail('expected the call to fail');
}

test('a good answer is validated and returned with the model and token usage', async (t) => {
  const fake = await startFakeOpenAi(t);
  const { agent } = agentFor(fake);
  const result = await agent.describe(await caffeine());
  assert.equal(result.answer.common_name.value, 'fake name of C8H10N4O2');
  assert.equal(result.answer.molar_mass, 194.194);
  assert.equal(result.model, 'fake-model-2025');
  assert.equal(result.usage?.totalTokens, 200);
  const [request] = fake.requests;
  assert.equal(request?.authorization, 'Bearer sk-test');
  const format = request?.body.response_format as {
    type: string;
    json_schema: { strict: boolean };
  };
  assert.equal(format.type, 'json_schema');
  assert.equal(format.json_schema.strict, true);
  assert.equal(request?.body.model, 'fake-model');
});

test('a 429 with Retry-After is retried no sooner than the provider asked', async (t) => {
  const fake = await startFakeOpenAi(t);
  fake.script({ kind: 'status', status: 429, headers: { 'retry-after': '1' } });
  const { agent, outcomes } = agentFor(fake);
  const result = await agent.describe(await caffeine());
  assert.equal(result.answer.compound_class.value, 'fake class');
  assert.equal(fake.requests.length, 2);
  const [first, second] = fake.requests;
  assert.ok((second?.at ?? 0) - (first?.at ?? 0) >= 990, 'waited for Retry-After: 1');
  assert.deepEqual(outcomes, ['rate_limited', 'ok']);
});

test('a 429 whose Retry-After is beyond the wait budget gives up at once instead of waiting', async (t) => {
  const fake = await startFakeOpenAi(t);
  fake.script({ kind: 'status', status: 429, headers: { 'retry-after': '120' } });
  const { agent } = agentFor(fake, { maxWaitMs: 500 });
  const started = performance.now();
  const error = await rejection(agent.describe(await caffeine()));
  assert.equal(error.kind, 'rate_limited');
  assert.equal(error.retryAfterMs, 120_000);
  assert.ok(performance.now() - started < 400);
  assert.equal(fake.requests.length, 1);
});

test('server errors are retried with backoff until the provider answers', async (t) => {
  const fake = await startFakeOpenAi(t);
  fake.script({ kind: 'status', status: 500 }, { kind: 'status', status: 503 });
  const { agent, outcomes } = agentFor(fake);
  await agent.describe(await caffeine());
  assert.equal(fake.requests.length, 3);
  assert.deepEqual(outcomes, ['server', 'server', 'ok']);
});

test('server errors on every try fail after the configured retries', async (t) => {
  const fake = await startFakeOpenAi(t);
  fake.setDefault({ kind: 'status', status: 500 });
  const { agent } = agentFor(fake, { retry: { baseMs: 5, maxMs: 10, maxRetries: 2 } });
  const error = await rejection(agent.describe(await caffeine()));
  assert.equal(error.kind, 'server');
  assert.equal(error.status, 500);
  assert.equal(fake.requests.length, 3, 'the first try and two retries');
});

test('a hanging provider is cut off by the per-call timeout', async (t) => {
  const fake = await startFakeOpenAi(t);
  fake.setDefault({ kind: 'hang' });
  const { agent, outcomes } = agentFor(fake, {
    timeoutMs: 150,
    retry: { baseMs: 5, maxMs: 10, maxRetries: 1 },
  });
  const started = performance.now();
  const error = await rejection(agent.describe(await caffeine()));
  const elapsed = performance.now() - started;
  assert.equal(error.kind, 'timeout');
  assert.ok(elapsed >= 290 && elapsed < 1500, `two attempts of 150 ms took ${elapsed} ms`);
  assert.deepEqual(outcomes, ['timeout', 'timeout']);
});

test('a response body that is not JSON is a bad response and is not retried', async (t) => {
  const fake = await startFakeOpenAi(t);
  fake.script({ kind: 'malformed' });
  const { agent, outcomes } = agentFor(fake);
  const error = await rejection(agent.describe(await caffeine()));
  assert.equal(error.kind, 'bad_response');
  assert.equal(fake.requests.length, 1);
  assert.deepEqual(outcomes, ['bad_response']);
});

test('message content that is not JSON, or not the schema, is rejected', async (t) => {
  const fake = await startFakeOpenAi(t);
  fake.script(
    { kind: 'content', content: 'Caffeine is a stimulant.' },
    { kind: 'content', content: JSON.stringify({ common_name: 'caffeine' }) },
  );
  const { agent } = agentFor(fake);
  assert.equal((await rejection(agent.describe(await caffeine()))).kind, 'bad_response');
  const invalid = await rejection(agent.describe(await caffeine()));
  assert.equal(invalid.kind, 'rejected');
  assert.match(invalid.message, /does not match the schema/);
});

test('an answer whose molar mass disagrees with the computed one is rejected', async (t) => {
  const fake = await startFakeOpenAi(t);
  fake.script({ kind: 'answer', molarMass: 180.16 });
  const { agent } = agentFor(fake);
  const error = await rejection(agent.describe(await caffeine()));
  assert.equal(error.kind, 'rejected');
  assert.match(error.message, /180\.16 g\/mol disagrees with the computed 194\.194/);
  assert.equal((error as unknown as { raw: string }).raw.includes('180.16'), true);
});

test('the breaker opens after repeated failures, refuses without calling, and closes after a good trial', async (t) => {
  const fake = await startFakeOpenAi(t);
  fake.setDefault({ kind: 'status', status: 502 });
  const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 300 });
  const { agent } = agentFor(fake, { breaker, retry: { baseMs: 1, maxMs: 2, maxRetries: 5 } });
  const facts = await caffeine();
  assert.equal((await rejection(agent.describe(facts))).kind, 'circuit_open');
  assert.equal(fake.requests.length, 3, 'the third failure opened the circuit');
  assert.equal(breaker.state, 'open');

  assert.equal((await rejection(agent.describe(facts))).kind, 'circuit_open');
  assert.equal(fake.requests.length, 3, 'an open circuit does not call the provider');

  fake.setDefault({ kind: 'answer' });
  await new Promise((resolve) => setTimeout(resolve, 320));
  assert.equal(breaker.state, 'half_open');
  await agent.describe(facts);
  assert.equal(breaker.state, 'closed');
  assert.equal(fake.requests.length, 4);
});

test('the request rate stays under the configured requests per minute', async (t) => {
  const fake = await startFakeOpenAi(t);
  // 600 a minute: bursts of 10, then one every 100 ms.
  const { agent } = agentFor(fake, { requestsPerMinute: 600, concurrency: 8 });
  const facts = await caffeine();
  await Promise.all(Array.from({ length: 25 }, () => agent.describe(facts)));
  const times = fake.requests.map((r) => r.at);
  assert.equal(times.length, 25);
  for (const start of times) {
    const inSecond = times.filter((at) => at >= start && at < start + 1000).length;
    assert.ok(inSecond <= 10 + 10, `${inSecond} requests within one second`);
  }
  const span = Math.max(...times) - Math.min(...times);
  assert.ok(span >= 1400, `25 requests at 10/s after a burst of 10 took ${span} ms`);
});

test('no more calls are in flight than the configured concurrency', async (t) => {
  const fake = await startFakeOpenAi(t);
  fake.setDefault({ kind: 'hang' });
  const { agent } = agentFor(fake, {
    concurrency: 2,
    timeoutMs: 300,
    retry: { baseMs: 1, maxMs: 1, maxRetries: 0 },
  });
  const facts = await caffeine();
  const calls = Array.from({ length: 4 }, () => agent.describe(facts).catch((e: unknown) => e));
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(fake.requests.length, 2);
  await Promise.all(calls);
  assert.equal(fake.requests.length, 4);
});

test('a client-side budget that cannot be met within the wait budget fails fast as overloaded', async (t) => {
  const fake = await startFakeOpenAi(t);
  const { agent } = agentFor(fake, { requestsPerMinute: 1, maxWaitMs: 1000 });
  const facts = await caffeine();
  await agent.describe(facts);
  const error = await rejection(agent.describe(facts));
  assert.equal(error.kind, 'overloaded');
  assert.equal(fake.requests.length, 1);
});

test('x-ratelimit headers saying the budget is spent hold the next call until the reset', async (t) => {
  const fake = await startFakeOpenAi(t);
  fake.script({
    kind: 'answer',
    headers: { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '500ms' },
  });
  const { agent } = agentFor(fake);
  const facts = await caffeine();
  await agent.describe(facts);
  await agent.describe(facts);
  const [first, second] = fake.requests;
  assert.ok((second?.at ?? 0) - (first?.at ?? 0) >= 450, 'waited for the reset');
});
