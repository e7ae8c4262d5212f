import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fullJitterDelay } from '../../src/app/backoff.ts';

const policy = { baseMs: 2000, maxMs: 60_000 };

test('the delay ceiling doubles per attempt from the base: 2 s, 4 s, 8 s', () => {
  const justBelowOne = () => 0.999999;
  assert.equal(fullJitterDelay(1, policy, justBelowOne), 1999);
  assert.equal(fullJitterDelay(2, policy, justBelowOne), 3999);
  assert.equal(fullJitterDelay(3, policy, justBelowOne), 7999);
});

test('the delay never exceeds the maximum, however many attempts', () => {
  assert.equal(
    fullJitterDelay(40, policy, () => 0.999999),
    59_999,
  );
});

test('full jitter: the delay is uniform from zero up to the ceiling', () => {
  assert.equal(
    fullJitterDelay(3, policy, () => 0),
    0,
  );
  assert.equal(
    fullJitterDelay(3, policy, () => 0.5),
    4000,
  );
  const samples = Array.from({ length: 2000 }, () => fullJitterDelay(3, policy));
  assert.ok(samples.every((d) => d >= 0 && d < 8000));
  assert.ok(Math.min(...samples) < 1000 && Math.max(...samples) > 7000, 'spread over the range');
});
