/**
 * The Redis Streams log over time, against the Redis on 6379 (a namespace per test): trimming
 * by time never takes a group's pending or unread entries, and ranges are read by the entries'
 * acceptance times.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type TestContext, test } from 'node:test';
import { Redis } from 'ioredis';
import { RedisBroker } from '../../../../src/adapters/brokers/redis/broker.ts';
import { streamKey } from '../../../../src/adapters/brokers/redis/scripts.ts';
import type {
  BatchOutcome,
  DeliveredMessage,
  OutgoingMessage,
} from '../../../../src/ports/broker.ts';
import { eventually } from '../../../helpers/eventually.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

function message(id: string, key = 'u1', type = 'click'): OutgoingMessage {
  return { id, topic: 'analytics', key, type, value: { id }, headers: {} };
}

async function open(t: TestContext, retainLog: boolean) {
  const prefix = `herald-test-${randomBytes(5).toString('hex')}`;
  const broker = await RedisBroker.open({
    url: REDIS_URL,
    prefix,
    partitions: 1,
    leaseMs: 2000,
    pollMs: 10,
    retainLog,
  });
  const client = new Redis(REDIS_URL);
  t.after(async () => {
    await broker.close();
    if (process.env.HERALD_KEEP_TEST_DATA === undefined) {
      const keys = await client.keys(`${prefix}:*`);
      if (keys.length > 0) await client.del(...keys);
    }
    client.disconnect();
  });
  return { broker, client, stream: streamKey(prefix, 'analytics', 0) };
}

/** A group that reads everything and handles `handled` of each batch (the rest stays pending). */
async function consume(
  broker: RedisBroker,
  group: string,
  expected: number,
  outcome: (batch: DeliveredMessage[]) => BatchOutcome = (batch) => ({ handled: batch.length }),
) {
  const received: DeliveredMessage[] = [];
  const consumer = await broker.consume({
    group,
    consumerId: `${group}-c`,
    topics: ['analytics'],
    batchSize: 100,
    concurrency: 1,
    handler: async (batch) => {
      received.push(...batch);
      return outcome(batch);
    },
  });
  await eventually(() => (received.length >= expected ? true : undefined));
  await consumer.stop();
}

const later = () => new Date(Date.now() + 60_000);

test('without a retention, acknowledged entries are trimmed at once and the log holds nothing to replay', async (t) => {
  const { broker, client, stream } = await open(t, false);
  await broker.publish([message('a'), message('b')]);
  await consume(broker, 'g', 2);
  await eventually(async () => ((await client.xlen(stream)) === 0 ? true : undefined));
  const status = await broker.log.status();
  assert.ok(status.retainedSince !== null && status.retainedSince.getTime() > Date.now() - 60_000);
  assert.equal((await broker.log.prune(later())).count, 0, 'prune leaves the log to the acks');
});

test('with a retention, entries stay after every group acknowledged them, until older than the cutoff; pending and unread entries are never trimmed', async (t) => {
  const { broker, client, stream } = await open(t, true);
  await broker.publish(['e0', 'e1', 'e2', 'e3', 'e4'].map((id) => message(id)));
  await consume(broker, 'done', 5);
  assert.equal(await client.xlen(stream), 5, 'acknowledged entries are kept for the retention');
  // 'pending' reads everything and handles two (three stay pending); 'unread' never reads.
  let calls = 0;
  await consume(broker, 'pending', 5, () => ({ handled: calls++ === 0 ? 2 : 0, retryAfterMs: 1 }));
  await client.xgroup('CREATE', stream, 'unread', '0');

  const held = await broker.log.prune(later());
  assert.equal(held.count, 0);
  assert.deepEqual(held.heldBy, ['pending', 'unread']);
  assert.equal(await client.xlen(stream), 5);
  const status = await broker.log.status(later());
  assert.deepEqual(status.groups, [
    { group: 'done', blocking: false },
    { group: 'pending', blocking: true },
    { group: 'unread', blocking: true },
  ]);

  assert.equal(await broker.log.forgetGroup('unread'), true);
  const partly = await broker.log.prune(later());
  assert.equal(partly.count, 2, 'up to the lowest pending entry');
  assert.deepEqual(partly.heldBy, ['pending']);
  assert.equal(await client.xlen(stream), 3);

  await consume(broker, 'pending', 3);
  const all = await broker.log.prune(later());
  assert.equal(all.count, 3);
  assert.equal(await client.xlen(stream), 0);
  const after = await broker.log.status();
  assert.ok(after.retainedSince !== null, 'a cut log says since when it is complete');
});

test('entries younger than the cutoff stay however acknowledged', async (t) => {
  const { broker, client, stream } = await open(t, true);
  await broker.publish([message('a')]);
  await consume(broker, 'g', 1);
  assert.equal((await broker.log.prune(new Date(Date.now() - 60_000))).count, 0);
  assert.equal(await client.xlen(stream), 1);
});

test('a range is found by acceptance time and read page by page, resuming from its cursor', async (t) => {
  const { broker } = await open(t, true);
  await broker.publish([message('old', 'u1'), message('old-2', 'u2')]);
  const between = Date.now();
  while (Date.now() <= between) await new Promise((resolve) => setTimeout(resolve, 1));
  await broker.publish([
    message('n1', 'u1'),
    message('n2', 'u2', 'page_view'),
    message('n3', 'u1'),
  ]);
  const selection = {
    from: new Date(between + 1),
    to: new Date(Date.now() + 1000),
    topics: ['analytics'],
    types: ['click'],
  };
  const reader = await broker.log.open(selection, undefined);
  const first = await reader.next(1);
  assert.deepEqual(
    first.messages.map((m) => m.id),
    ['n1'],
  );
  assert.equal(first.done, false);
  const resumed = await broker.log.open(selection, first.cursor);
  const rest = await resumed.next(10);
  assert.deepEqual(
    rest.messages.map((m) => m.id),
    ['n3'],
  );
  assert.equal(rest.done, true);
  const byKey = await broker.log.open({ ...selection, types: undefined, keys: ['u2'] }, undefined);
  assert.deepEqual(
    (await byKey.next(10)).messages.map((m) => m.id),
    ['n2'],
  );
});
