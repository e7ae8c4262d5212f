/**
 * The Kafka log over time, against the broker on 9092 (a namespace per test): the topics'
 * retention configuration, DeleteRecords never past a group's committed offset, ranges found
 * by ListOffsets timestamps.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, type TestContext, test } from 'node:test';
import { Admin, ConfigResourceTypes, ListOffsetTimestamps } from '@platformatic/kafka';
import {
  KafkaBroker,
  type KafkaBrokerOptions,
} from '../../../../src/adapters/brokers/kafka/broker.ts';
import type { DeliveredMessage, OutgoingMessage } from '../../../../src/ports/broker.ts';
import { eventually } from '../../../helpers/eventually.ts';

const BROKERS = (process.env.TEST_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
let admin: Admin;

before(() => {
  admin = new Admin({ clientId: 'log-test-admin', bootstrapBrokers: BROKERS });
});
after(() => admin.close());

function message(id: string, key = 'u1', type = 'click'): OutgoingMessage {
  return { id, topic: 'analytics', key, type, value: { id }, headers: {} };
}

async function open(t: TestContext, options: Partial<KafkaBrokerOptions> = {}) {
  const namespace = options.namespace ?? `herald-test-${randomBytes(5).toString('hex')}`;
  const broker = await KafkaBroker.open({
    brokers: BROKERS,
    clientId: 'herald-log-test',
    namespace,
    partitions: 1,
    sessionTimeoutMs: 6000,
    heartbeatIntervalMs: 500,
    ...options,
  });
  t.after(() => broker.close());
  return { broker, namespace, topic: `${namespace}.analytics` };
}

async function topicConfig(topic: string, name: string): Promise<string | undefined> {
  const [described] = await admin.describeConfigs({
    resources: [
      { resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: [name] },
    ],
  });
  return described?.configs.find((c) => c.name === name)?.value ?? undefined;
}

async function logStart(topic: string): Promise<bigint> {
  const [listed] = await admin.listOffsets({
    topics: [
      {
        name: topic,
        partitions: [{ partitionIndex: 0, timestamp: ListOffsetTimestamps.EARLIEST }],
      },
    ],
  });
  return listed?.partitions[0]?.offset ?? -1n;
}

async function commit(group: string, topic: string, offset: bigint) {
  await admin.alterConsumerGroupOffsets({
    groupId: group,
    topics: [{ name: topic, partitionOffsets: [{ partition: 0, offset }] }],
  });
}

const later = () => new Date(Date.now() + 60_000);

test('the topics Herald creates get the retention, and existing topics are brought in line', async (t) => {
  const { broker, namespace, topic } = await open(t, {
    topicRetention: { retentionMs: 7_200_000, segmentMs: 600_000 },
  });
  await broker.publish([message('a')]);
  assert.equal(await topicConfig(topic, 'retention.ms'), '7200000');
  assert.equal(await topicConfig(topic, 'segment.ms'), '600000');
  // Another process of a later version, with another retention, on the existing topic.
  const { broker: again } = await open(t, {
    namespace,
    topicRetention: { retentionMs: 3_600_000, segmentMs: 600_000 },
  });
  await again.publish([message('b')]);
  assert.equal(await topicConfig(topic, 'retention.ms'), '3600000');
});

test('retention deletes records older than the cutoff, never past a group’s committed offset', async (t) => {
  const { broker, namespace, topic } = await open(t);
  await broker.publish(['e0', 'e1', 'e2', 'e3', 'e4', 'e5'].map((id) => message(id)));
  await commit(`${namespace}.processors`, topic, 6n);
  // A group that stopped after two records.
  await commit(`${namespace}.stalled`, topic, 2n);

  const held = await broker.log.prune(later());
  assert.equal(held.count, 2);
  assert.deepEqual(held.heldBy, ['stalled']);
  assert.equal(await logStart(topic), 2n, 'the stalled group still has e2..e5');
  const status = await broker.log.status(later());
  assert.deepEqual(status.groups, [
    { group: 'processors', blocking: false },
    { group: 'stalled', blocking: true },
  ]);
  assert.ok(status.retainedSince !== null, 'a cut log says since when it is complete');

  await commit(`${namespace}.stalled`, topic, 6n);
  const rest = await broker.log.prune(later());
  assert.equal(rest.count, 4);
  assert.deepEqual(rest.heldBy, []);
  assert.equal(await logStart(topic), 6n);
});

test('records younger than the cutoff stay whoever committed them', async (t) => {
  const { broker, namespace, topic } = await open(t);
  await broker.publish([message('a'), message('b')]);
  await commit(`${namespace}.processors`, topic, 2n);
  assert.equal((await broker.log.prune(new Date(Date.now() - 60_000))).count, 0);
  assert.equal(await logStart(topic), 0n);
});

test('a range is found by ListOffsets timestamps and read page by page, resuming from its cursor', async (t) => {
  const { broker } = await open(t);
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
  t.after(() => reader.close());
  const first = await reader.next(1);
  assert.deepEqual(
    first.messages.map((m) => m.id),
    ['n1'],
  );
  assert.equal(first.done, false);
  await reader.close();
  const resumed = await broker.log.open(selection, first.cursor);
  t.after(() => resumed.close());
  const read: DeliveredMessage[] = [];
  await eventually(async () => {
    const page = await resumed.next(10);
    read.push(...page.messages);
    return page.done ? true : undefined;
  });
  assert.deepEqual(
    read.map((m) => m.id),
    ['n3'],
  );
});
