import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket } from '../../../src/app/resilience/token-bucket.ts';

test('a bucket allows a burst of its capacity, then one token per 60000/perMinute ms', () => {
  const clock = { now: 0 };
  const bucket = new TokenBucket({ perMinute: 600, now: () => clock.now });
  assert.equal(bucket.capacity, 10, 'one second of tokens');
  for (let i = 0; i < 10; i++) assert.equal(bucket.reserve(1), 0);
  assert.equal(bucket.reserve(1), 100);
  assert.equal(bucket.reserve(1), 200, 'reservations queue up behind each other');
  clock.now = 200;
  assert.equal(bucket.waitFor(1), 100);
});

test('reservations keep any window under capacity plus rate times the window', () => {
  const clock = { now: 0 };
  const bucket = new TokenBucket({ perMinute: 60, capacity: 2, now: () => clock.now });
  const startTimes = Array.from({ length: 20 }, () => clock.now + bucket.reserve(1));
  for (const start of startTimes) {
    const inWindow = startTimes.filter((t) => t >= start && t < start + 5000).length;
    assert.ok(inWindow <= 2 + 5, `${inWindow} calls in 5 s`);
  }
  assert.equal(startTimes.at(-1), 18_000);
});

test('blockUntil holds every caller until the time the provider named', () => {
  const clock = { now: 0 };
  const bucket = new TokenBucket({ perMinute: 6000, now: () => clock.now });
  bucket.blockUntil(2000);
  assert.equal(bucket.waitFor(1), 2000);
  clock.now = 2000;
  assert.equal(bucket.reserve(1), 0);
});

test('adjust gives back tokens estimated but not used', () => {
  const clock = { now: 0 };
  const bucket = new TokenBucket({ perMinute: 60_000, capacity: 1000, now: () => clock.now });
  assert.equal(bucket.reserve(1000), 0);
  assert.equal(bucket.waitFor(500), 500);
  bucket.adjust(400);
  assert.equal(bucket.waitFor(500), 100);
});
