import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  OpenAiCompatibleClient,
  parseDuration,
  parseRateLimit,
  parseRetryAfter,
} from '../../../../src/adapters/llm/openai/client.ts';
import { LlmError } from '../../../../src/ports/llm.ts';
import { startFakeOpenAi } from '../../../helpers/fake-openai.ts';

test('rate-limit reset durations in the providers’ formats are read as milliseconds', () => {
  assert.equal(parseDuration('6m0s'), 360_000);
  assert.equal(parseDuration('1s'), 1000);
  assert.equal(parseDuration('20ms'), 20);
  assert.equal(parseDuration('1m30.5s'), 90_500);
  assert.equal(parseDuration('2'), 2000);
  assert.equal(parseDuration('soon'), undefined);
  assert.equal(parseDuration(null), undefined);
});

test('Retry-After is read as seconds, as an HTTP date, or from retry-after-ms', () => {
  assert.equal(parseRetryAfter(new Headers({ 'retry-after': '3' })), 3000);
  assert.equal(parseRetryAfter(new Headers({ 'retry-after-ms': '250' })), 250);
  const now = Date.parse('2025-01-01T00:00:00Z');
  const date = new Headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:05 GMT' });
  assert.equal(parseRetryAfter(date, now), 5000);
  assert.equal(parseRetryAfter(new Headers()), undefined);
});

test('x-ratelimit headers are read into the remaining budget and its reset', () => {
  const state = parseRateLimit(
    new Headers({
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '1s',
      'x-ratelimit-remaining-tokens': '1500',
      'x-ratelimit-reset-tokens': '6m0s',
    }),
  );
  assert.deepEqual(state, {
    remainingRequests: 0,
    resetRequestsMs: 1000,
    remainingTokens: 1500,
    resetTokensMs: 360_000,
  });
});

test('provider failures are classified for retrying', async (t) => {
  const fake = await startFakeOpenAi(t);
  const client = new OpenAiCompatibleClient({ baseUrl: fake.url, apiKey: undefined, model: 'm' });
  const request = {
    messages: [{ role: 'user' as const, content: '{}' }],
    schema: { name: 's', schema: {} },
    maxTokens: 10,
  };
  const kindOf = async () => {
    try {
      await client.complete(request);
      return 'ok';
    } catch (error) {
      assert.ok(error instanceof LlmError);
      return `${error.kind}:${error.transient}:${error.retryAfterMs ?? '-'}`;
    }
  };
  fake.script(
    { kind: 'status', status: 429, headers: { 'retry-after': '2' } },
    { kind: 'status', status: 500 },
    { kind: 'status', status: 400 },
    { kind: 'malformed' },
  );
  assert.equal(await kindOf(), 'rate_limited:true:2000');
  assert.equal(await kindOf(), 'server:true:-');
  assert.equal(await kindOf(), 'client:false:-');
  assert.equal(await kindOf(), 'bad_response:false:-');
  assert.equal(fake.requests[0]?.authorization, undefined, 'no key, no Authorization header');
  await fake.close();
  assert.equal(await kindOf(), 'network:true:-');
});
