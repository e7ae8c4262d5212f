/**
 * The skeleton the Postgres and Redis consumers share (src/adapters/brokers/polling-slots.ts):
 * slots that work until stopped, a heartbeat that renews leases while a batch is worked on,
 * and idle slots woken by a publish rather than their poll interval.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { PollingSlots } from '../../../src/adapters/brokers/polling-slots.ts';
import { eventually } from '../../helpers/eventually.ts';

test('leases are renewed while a batch is worked on, and stop waits for the batch to finish', async () => {
  let renewals = 0;
  let release = () => {};
  const working = new Promise<void>((resolve) => {
    release = resolve;
  });
  let finished = false;
  const slots = new PollingSlots({
    concurrency: 1,
    pollMs: 10,
    work: async () => {
      await working;
      finished = true;
      return false;
    },
    heartbeat: { leaseMs: 150, renew: () => renewals++ },
    published: new EventEmitter(),
  });
  slots.start();
  // A batch that outlasts a third of the lease is renewed, not taken over.
  await eventually(() => (renewals > 0 ? true : undefined), { message: 'a lease renewal' });
  const stopped = slots.stop();
  assert.ok(slots.stopping.aborted, 'stop() is signalled at once');
  assert.equal(finished, false, 'the batch in progress is still running');
  release();
  await stopped;
  assert.equal(finished, true, 'stop() resolved only after the batch finished');
});

test('a publish wakes an idle slot at once instead of after its poll interval', async () => {
  const published = new EventEmitter();
  let rounds = 0;
  const slots = new PollingSlots({
    concurrency: 1,
    // Far longer than the test may take: only a wake can start the second round.
    pollMs: 600_000,
    work: async () => {
      rounds++;
      return false;
    },
    heartbeat: { leaseMs: 600_000, renew: () => {} },
    published,
  });
  slots.start();
  await eventually(() => (rounds === 1 ? true : undefined), { message: 'the first round' });
  published.emit('published');
  await eventually(() => (rounds === 2 ? true : undefined), { message: 'a round after the wake' });
  await slots.stop();
  assert.equal(published.listenerCount('published'), 0, 'stop() stops listening');
});
