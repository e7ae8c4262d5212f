import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BreakerState, CircuitBreaker } from '../../../src/app/resilience/circuit-breaker.ts';

function breaker(threshold = 3, cooldownMs = 1000) {
  const clock = { now: 0 };
  const changes: BreakerState[] = [];
  const b = new CircuitBreaker({
    failureThreshold: threshold,
    cooldownMs,
    now: () => clock.now,
    onStateChange: (s) => changes.push(s),
  });
  return { b, clock, changes };
}

test('the circuit opens after the configured number of consecutive failures', () => {
  const { b, changes } = breaker(3);
  b.onFailure();
  b.onFailure();
  assert.equal(b.state, 'closed');
  assert.equal(b.tryAcquire(), true);
  b.onFailure();
  assert.equal(b.state, 'open');
  assert.equal(b.tryAcquire(), false, 'an open circuit refuses calls at once');
  assert.deepEqual(changes, ['open']);
});

test('a success resets the count of consecutive failures', () => {
  const { b } = breaker(3);
  b.onFailure();
  b.onFailure();
  b.onSuccess();
  b.onFailure();
  b.onFailure();
  assert.equal(b.state, 'closed');
});

test('after the cooldown one trial call goes through, and its success closes the circuit', () => {
  const { b, clock, changes } = breaker(1, 1000);
  b.onFailure();
  clock.now = 999;
  assert.equal(b.tryAcquire(), false);
  assert.equal(b.retryInMs, 1);
  clock.now = 1000;
  assert.equal(b.state, 'half_open');
  assert.equal(b.tryAcquire(), true, 'the trial call');
  assert.equal(b.tryAcquire(), false, 'only one trial call at a time');
  b.onSuccess();
  assert.equal(b.state, 'closed');
  assert.equal(b.tryAcquire(), true);
  assert.deepEqual(changes, ['open', 'half_open', 'closed']);
});

test('a failed trial call opens the circuit for another cooldown', () => {
  const { b, clock } = breaker(5, 1000);
  for (let i = 0; i < 5; i++) b.onFailure();
  clock.now = 1500;
  assert.equal(b.tryAcquire(), true);
  b.onFailure();
  assert.equal(b.state, 'open', 'one failure in half-open state is enough');
  clock.now = 2499;
  assert.equal(b.tryAcquire(), false);
  clock.now = 2500;
  assert.equal(b.tryAcquire(), true);
});

test('an abandoned trial call lets another trial through', () => {
  const { b, clock } = breaker(1, 10);
  b.onFailure();
  clock.now = 10;
  assert.equal(b.tryAcquire(), true);
  b.onAbandon();
  assert.equal(b.state, 'half_open');
  assert.equal(b.tryAcquire(), true);
});
