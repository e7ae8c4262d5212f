/**
 * The Kafka consumer handles a partition's records only while the partition is assigned to it,
 * and only as one contiguous run from the group's committed offset, whatever its fetch stream
 * delivers: @platformatic/kafka's stream can hand over records of a partition taken away in a
 * rebalance, and jump its fetch position ahead when a fetch answers after the position was
 * reset (messages-stream.js `#pushRecords` overwrites it). Against the real broker on 9092.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { Admin, type Message, type MessagesStream } from '@platformatic/kafka';
import { KafkaBroker } from '../../../../src/adapters/brokers/kafka/broker.ts';
import { partitionFor } from '../../../../src/domain/partitioning.ts';
import type {
  BatchOutcome,
  Consumer,
  DeliveredMessage,
  OutgoingMessage,
} from '../../../../src/ports/broker.ts';
import { eventually } from '../../../helpers/eventually.ts';

const BROKERS = (process.env.TEST_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

type Stream = MessagesStream<string, string, string, string>;
type Record = Message<string, string, string, string>;

/** Every fetch stream the library creates, in order (its `instances` diagnostics channel). */
const streams: Stream[] = [];
const onInstance = (payload: unknown) => {
  const { type, instance } = payload as { type: string; instance: unknown };
  if (type === 'messages-stream') streams.push(instance as Stream);
};
let admin: Admin;

before(() => {
  subscribe('plt:kafka:instances', onInstance);
  admin = new Admin({ clientId: 'gaps-admin', bootstrapBrokers: BROKERS });
});
after(async () => {
  unsubscribe('plt:kafka:instances', onInstance);
  await admin.close();
});

interface Setup {
  namespace: string;
  broker: KafkaBroker;
  topic: string;
  group: string;
}

async function setup(
  t: { after(fn: () => Promise<void>): void },
  partitions: number,
  extra: { gapHealTimeoutMs?: number } = {},
): Promise<Setup> {
  const namespace = `gaps-${randomBytes(4).toString('hex')}`;
  const open = () =>
    KafkaBroker.open({
      brokers: BROKERS,
      clientId: namespace,
      namespace,
      partitions,
      sessionTimeoutMs: 6000,
      heartbeatIntervalMs: 500,
      ...extra,
    });
  const broker = await open();
  t.after(() => broker.close());
  return { namespace, broker, topic: 'events', group: 'workers' };
}

function event(topic: string, key: string, seq: number): OutgoingMessage {
  return {
    id: `${key}-${seq}`,
    topic,
    key,
    type: 'page_view',
    value: { key, seq },
    headers: {},
  };
}

/** The stream created for the consumer with this client id (the consumerId). */
function streamOf(consumerId: string, nth = 0): Stream | undefined {
  return streams.filter((s) => s.consumer.clientId === consumerId)[nth];
}

/** The group's committed offset of partition `partition` of `kafkaTopic`, -1 if none. */
async function committedOffset(group: string, kafkaTopic: string, partition = 0): Promise<bigint> {
  const [offsets] = await admin.listConsumerGroupOffsets({ groups: [group] });
  const topic = offsets?.topics.find((t) => t.name === kafkaTopic);
  return topic?.partitions.find((p) => p.partitionIndex === partition)?.committedOffset ?? -1n;
}

/** Keys (`k0`, `k1`, ...) that land on each of `partitions` partitions. */
function keysByPartition(partitions: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.filter(Boolean).length < partitions; i++) {
    const p = partitionFor(`k${i}`, partitions);
    keys[p] ??= `k${i}`;
  }
  return keys;
}

test('records of a partition not assigned to this member never reach its handler', async (t) => {
  const { broker, topic, group, namespace } = await setup(t, 2);
  const handled = new Map<string, DeliveredMessage[]>([
    ['c1', []],
    ['c2', []],
  ]);
  const consumers: Consumer[] = [];
  for (const consumerId of ['c1', 'c2']) {
    consumers.push(
      await broker.consume({
        group,
        consumerId,
        topics: [topic],
        batchSize: 10,
        concurrency: 1,
        handler: async (batch): Promise<BatchOutcome> => {
          handled.get(consumerId)?.push(...batch);
          return { handled: batch.length };
        },
      }),
    );
  }
  t.after(() => Promise.all(consumers.map((c) => c.stop())).then(() => {}));
  // Both members settled on one partition each.
  const [first, second] = await eventually(
    () => {
      const a = streamOf('c1')?.consumer.assignments?.[0]?.partitions;
      const b = streamOf('c2')?.consumer.assignments?.[0]?.partitions;
      return a?.length === 1 && b?.length === 1 ? [a[0], b[0]] : undefined;
    },
    { timeoutMs: 20_000, message: 'one partition each' },
  );
  assert.notEqual(first, second);
  const keys = keysByPartition(2);
  const ownKey = keys[first ?? 0] ?? 'k0';
  const otherKey = keys[second ?? 1] ?? 'k1';
  await broker.publish([event(topic, ownKey, 0), event(topic, otherKey, 0)]);
  const has = (consumerId: string, id: string) =>
    handled.get(consumerId)?.some((m) => m.id === id) ? true : undefined;
  await eventually(() => has('c1', `${ownKey}-0`) && has('c2', `${otherKey}-0`), {
    timeoutMs: 20_000,
    message: 'one event each',
  });

  // A record of c2's partition reaches c1's stream, as a fetch answered after a rebalance would
  // deliver it: the library does not check a response's partitions against the assignment.
  const stream = streamOf('c1');
  assert.ok(stream);
  const kafkaTopic = `${namespace}.${topic}`;
  const stale: Partial<Record> = {
    key: otherKey,
    value: JSON.stringify({ key: otherKey, seq: 1 }),
    headers: new Map([
      ['event_id', `${otherKey}-1`],
      ['event_type', 'page_view'],
    ]),
    topic: kafkaTopic,
    partition: second ?? 1,
    offset: 1n,
    timestamp: BigInt(Date.now()),
    leaderEpoch: 0,
  };
  stream.push(stale);
  // c1 goes on with its own partition (a later record of it handled), never the stale one.
  await broker.publish([event(topic, ownKey, 1)]);
  await eventually(() => has('c1', `${ownKey}-1`), {
    timeoutMs: 20_000,
    message: "c1's next own event",
  });
  assert.deepEqual(
    handled.get('c1')?.map((m) => m.id),
    [`${ownKey}-0`, `${ownKey}-1`],
  );
});

/**
 * Runs one consumer on a one-partition topic, lets it handle `0..29`, then publishes `30..89`
 * while `sabotage` moves the stream's fetch position past the gap as the library's stale-fetch
 * race does. Returns what the handler saw and the errors the consumer reported.
 */
async function consumeThroughJump(
  t: { after(fn: () => Promise<void>): void },
  sabotage: (stream: Stream, partitionKey: string) => void,
  gapHealTimeoutMs?: number,
) {
  const { broker, topic, group, namespace } = await setup(
    t,
    1,
    gapHealTimeoutMs === undefined ? {} : { gapHealTimeoutMs },
  );
  const kafkaTopic = `${namespace}.${topic}`;
  const kafkaGroup = `${namespace}.${group}`;
  const consumerId = `jump-${randomBytes(3).toString('hex')}`;
  const offsets: number[] = [];
  const overtaken: string[] = [];
  const errors: unknown[] = [];
  const consumer = await broker.consume({
    group,
    consumerId,
    topics: [topic],
    batchSize: 10,
    concurrency: 1,
    onError: (error) => errors.push(error),
    handler: async (batch): Promise<BatchOutcome> => {
      // Nothing committed past what was handled before this batch.
      const committed = await committedOffset(kafkaGroup, kafkaTopic);
      const first = batch[0]?.offset ?? 0;
      if (committed > BigInt(first)) overtaken.push(`committed ${committed} before ${first}`);
      offsets.push(...batch.map((m) => m.offset));
      return { handled: batch.length };
    },
  });
  t.after(() => consumer.stop());
  await broker.publish(Array.from({ length: 30 }, (_, i) => event(topic, 'k', i)));
  await eventually(() => (offsets.length >= 30 ? true : undefined), {
    timeoutMs: 20_000,
    message: 'the first 30',
  });
  const stream = streamOf(consumerId);
  assert.ok(stream);
  sabotage(stream, `${kafkaTopic}:0`);
  // Let the fetch in flight at 30 answer (empty), so the next one goes out at the jumped position.
  for (let i = 0; i < 2; i++) await once(stream, 'fetch');
  assert.equal(stream.offsetsToFetch.get(`${kafkaTopic}:0`), 60n);
  await broker.publish(Array.from({ length: 60 }, (_, i) => event(topic, 'k', 30 + i)));
  // Done when all 90 are handled, or as soon as one is handled past a gap.
  await eventually(() => (new Set(offsets).size >= 90 || !contiguous(offsets) ? true : undefined), {
    timeoutMs: 20_000,
    message: 'all 90 handled',
  });
  assertContiguous(offsets);
  await eventually(
    async () => ((await committedOffset(kafkaGroup, kafkaTopic)) === 90n ? true : undefined),
    { timeoutMs: 10_000, message: 'offset 90 committed' },
  );
  return { offsets, overtaken, errors };
}

function contiguous(offsets: number[]): boolean {
  let next = 0;
  for (const offset of offsets) {
    if (offset > next) return false;
    next = Math.max(next, offset + 1);
  }
  return true;
}

/** Each handled offset is at most one past the highest handled before it: no gap, ever. */
function assertContiguous(offsets: number[]): void {
  let next = 0;
  for (const offset of offsets) {
    assert.ok(offset <= next, `offset ${offset} handled while ${next} was next`);
    next = Math.max(next, offset + 1);
  }
}

test('a forward jump of the fetch position never hands over a record past the gap; the skipped ones follow in order', async (t) => {
  let answersPastGap = 0;
  const { offsets, overtaken, errors } = await consumeThroughJump(t, (stream, key) => {
    // Until three answers have carried records past the gap, every answer moves the position
    // back to 60 after the consumer's rewind, as answers to fetches sent earlier would.
    let pastGap = false;
    stream.on('data', (record: Record) => {
      if (record.offset >= 60n) pastGap = true;
    });
    stream.on('fetch', () => {
      if (answersPastGap >= 3) return;
      process.nextTick(() => {
        if (pastGap) answersPastGap++;
        pastGap = false;
        if (answersPastGap < 3) stream.offsetsToFetch.set(key, 60n);
      });
    });
  });
  assert.equal(answersPastGap, 3);
  assertContiguous(offsets);
  assert.deepEqual(overtaken, []);
  // Healed by rewinding, not by the last resort.
  assert.deepEqual(
    errors.map((e) => String(e)).filter((e) => e.includes('reopening')),
    [],
  );
});

test('a gap that rewinding cannot fill is healed by reopening the stream, skipping nothing', async (t) => {
  let sabotaged: Stream | undefined;
  const { offsets, overtaken, errors } = await consumeThroughJump(
    t,
    (stream, key) => {
      sabotaged = stream;
      // Every answer of this stream moves the position past the gap again.
      stream.on('fetch', () => process.nextTick(() => stream.offsetsToFetch.set(key, 60n)));
    },
    1500,
  );
  assertContiguous(offsets);
  assert.deepEqual(overtaken, []);
  assert.ok(
    errors.some((e) => String(e).includes('reopening the fetch stream')),
    'the reopening is reported',
  );
  assert.ok(sabotaged?.closed || sabotaged?.destroyed, 'the sabotaged stream is closed');
});

test('a member joining and leaving under load keeps every key in order and delivers everything', async (t) => {
  const { broker, topic, group, namespace } = await setup(t, 4);
  const kafkaGroup = `${namespace}.${group}`;
  const kafkaTopic = `${namespace}.${topic}`;
  const keys = Array.from({ length: 8 }, (_, i) => `user-${i}`);
  const highest = new Map<string, number>();
  const seen = new Set<string>();
  const disorder: string[] = [];
  const handler = async (batch: DeliveredMessage[]): Promise<BatchOutcome> => {
    // What is seen first is what a store idempotent on the id keeps: it must come in key order.
    for (const m of batch) {
      if (seen.has(m.id)) continue;
      seen.add(m.id);
      const seq = Number(m.value.seq);
      const previous = highest.get(m.key) ?? -1;
      if (seq !== previous + 1) disorder.push(`${m.key}: ${seq} after ${previous}`);
      highest.set(m.key, Math.max(previous, seq));
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
    return { handled: batch.length };
  };
  const options = { group, topics: [topic], batchSize: 25, concurrency: 2, handler };
  const a = await broker.consume({ ...options, consumerId: 'a' });
  t.after(() => a.stop());

  let published = 0;
  const next = new Map<string, number>();
  let publishing = true;
  const publisher = (async () => {
    while (publishing) {
      const batch = Array.from({ length: 40 }, (_, i) => {
        const key = keys[i % keys.length] ?? 'user-0';
        const seq = next.get(key) ?? 0;
        next.set(key, seq + 1);
        return event(topic, key, seq);
      });
      await broker.publish(batch);
      published += batch.length;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();

  await eventually(() => (seen.size >= 200 ? true : undefined), {
    timeoutMs: 20_000,
    message: 'a consuming',
  });
  const other = await KafkaBroker.open({
    brokers: BROKERS,
    clientId: `${namespace}-b`,
    namespace,
    partitions: 4,
    sessionTimeoutMs: 6000,
    heartbeatIntervalMs: 500,
  });
  t.after(() => other.close());
  let bHandled = 0;
  const b = await other.consume({
    ...options,
    consumerId: 'b',
    handler: (batch) => {
      bHandled += batch.length;
      return handler(batch);
    },
  });
  await eventually(() => (bHandled >= 50 ? true : undefined), {
    timeoutMs: 20_000,
    message: 'b taking part',
  });
  await b.stop();
  const afterLeave = published;
  await eventually(() => (seen.size >= afterLeave + 200 ? true : undefined), {
    timeoutMs: 20_000,
    message: 'a alone again',
  });
  publishing = false;
  await publisher;

  await eventually(() => (seen.size === published ? true : undefined), {
    timeoutMs: 20_000,
    message: `all ${published} delivered (saw ${seen.size})`,
  });
  assert.deepEqual(disorder, []);
  // Everything committed, nothing past the end.
  const ends = await admin.listOffsets({
    topics: [
      {
        name: kafkaTopic,
        partitions: [0, 1, 2, 3].map((p) => ({ partitionIndex: p, timestamp: -1n })),
      },
    ],
  });
  for (const p of ends[0]?.partitions ?? []) {
    await eventually(
      async () =>
        (await committedOffset(kafkaGroup, kafkaTopic, p.partitionIndex)) === p.offset
          ? true
          : undefined,
      { timeoutMs: 10_000, message: `partition ${p.partitionIndex} committed to ${p.offset}` },
    );
  }
});

test('a partition regained without a committed offset restarts at its log start, not where this member had read to', async (t) => {
  // A reads ahead on both partitions but its first batch is slow, so it commits nothing on the
  // partition B takes; B's store refuses everything, so B commits nothing either, then leaves.
  // The library resumes A's stream where A had read to (no committed offset to reset it to).
  const { broker, topic, group, namespace } = await setup(t, 2);
  const keys = Array.from({ length: 6 }, (_, i) => `user-${i}`);
  const highest = new Map<string, number>();
  const seen = new Set<string>();
  const disorder: string[] = [];
  let bStarted!: () => void;
  const bHasPartition = new Promise<void>((resolve) => {
    bStarted = resolve;
  });
  let first = true;
  const a = await broker.consume({
    group,
    consumerId: 'a',
    topics: [topic],
    batchSize: 25,
    concurrency: 1,
    handler: async (batch) => {
      if (first) {
        first = false;
        await bHasPartition;
      }
      for (const m of batch) {
        if (seen.has(m.id)) continue;
        seen.add(m.id);
        const seq = Number(m.value.seq);
        const previous = highest.get(m.key) ?? -1;
        if (seq !== previous + 1) disorder.push(`${m.key}: ${seq} after ${previous}`);
        highest.set(m.key, Math.max(previous, seq));
      }
      return { handled: batch.length };
    },
  });
  t.after(() => a.stop());

  let published = 0;
  const next = new Map<string, number>();
  let publishing = true;
  const publisher = (async () => {
    while (publishing) {
      const batch = Array.from({ length: 30 }, (_, i) => {
        const key = keys[i % keys.length] ?? 'user-0';
        const seq = next.get(key) ?? 0;
        next.set(key, seq + 1);
        return event(topic, key, seq);
      });
      await broker.publish(batch);
      published += batch.length;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  // A has read ahead (its first batch is waiting) before B joins.
  await eventually(() => (published >= 300 ? true : undefined), { message: 'a backlog' });
  const other = await KafkaBroker.open({
    brokers: BROKERS,
    clientId: `${namespace}-b`,
    namespace,
    partitions: 2,
    sessionTimeoutMs: 6000,
    heartbeatIntervalMs: 500,
  });
  t.after(() => other.close());
  const b = await other.consume({
    group,
    consumerId: 'b',
    topics: [topic],
    batchSize: 25,
    concurrency: 1,
    handler: async () => {
      bStarted();
      return { handled: 0, retryAfterMs: 100 };
    },
  });
  await bHasPartition;
  await b.stop();
  const afterLeave = published;
  await eventually(
    () => (seen.size >= afterLeave + 150 || disorder.length > 0 ? true : undefined),
    {
      timeoutMs: 20_000,
      message: 'a alone again',
    },
  );
  publishing = false;
  await publisher;
  assert.deepEqual(disorder.slice(0, 5), []);
  await eventually(() => (seen.size === published ? true : undefined), {
    timeoutMs: 20_000,
    message: `all ${published} delivered`,
  });
});
