/**
 * The replication factor of the topics Herald creates on Kafka: the broker's own default
 * (`default.replication.factor`) unless KAFKA_REPLICATION_FACTOR sets one. The test broker is
 * a single node, so a factor of 2 is one it must refuse, which shows the setting reached it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Admin } from '@platformatic/kafka';
import { KafkaBroker } from '../../../../src/adapters/brokers/kafka/broker.ts';
import { loadConfig } from '../../../../src/config.ts';
import { createLogger } from '../../../../src/observability/logger.ts';
import { startPlatform } from '../../../../src/platform/start.ts';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../../../helpers/databases.ts';
import type { Cleanup } from '../../../helpers/platform.ts';

const KAFKA_BROKERS = (process.env.TEST_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

/** A namespace of the test's own; its topics are deleted after the test. */
function freshNamespace(t: Cleanup): string {
  const namespace = `herald-rf-${randomBytes(4).toString('hex')}`;
  t.after(async () => {
    const admin = new Admin({ clientId: 'herald-test-admin', bootstrapBrokers: KAFKA_BROKERS });
    try {
      const ours = (await admin.listTopics()).filter((topic) => topic.startsWith(`${namespace}.`));
      if (ours.length > 0) await admin.deleteTopics({ topics: ours });
    } finally {
      await admin.close();
    }
  });
  return namespace;
}

async function replicasOf(topic: string): Promise<number[]> {
  const admin = new Admin({ clientId: 'herald-test-admin', bootstrapBrokers: KAFKA_BROKERS });
  try {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
    return (metadata.topics.get(topic)?.partitions ?? []).map((p) => p.replicas.length);
  } finally {
    await admin.close();
  }
}

const event = {
  id: 'evt-1',
  topic: 'events',
  key: 'user-1',
  type: 'click',
  value: {},
  headers: {},
};

test("without a replication factor, topics get the broker's default.replication.factor", async (t) => {
  const namespace = freshNamespace(t);
  const broker = await KafkaBroker.open({ brokers: KAFKA_BROKERS, partitions: 2, namespace });
  t.after(() => broker.close());
  await broker.publish([event]);
  // The test broker's default.replication.factor is 1 (scripts/kafka.sh).
  assert.deepEqual(await replicasOf(`${namespace}.events`), [1, 1]);
});

test('a replication factor the cluster cannot meet is refused, and the error names it', async (t) => {
  const namespace = freshNamespace(t);
  const broker = await KafkaBroker.open({
    brokers: KAFKA_BROKERS,
    partitions: 2,
    namespace,
    replicationFactor: 2,
  });
  t.after(() => broker.close());
  await assert.rejects(broker.publish([event]), (error: unknown) => {
    assert.match(
      String(error),
      /could not create topics \S+\.events \(2 partitions, replication factor 2\)/,
    );
    return true;
  });
});

test('KAFKA_REPLICATION_FACTOR reaches the topics a worker creates at start', async (t) => {
  const schema = uniqueSchema();
  t.after(() => dropSchema(schema));
  const config = loadConfig(
    {},
    {
      DATABASE_URL: POSTGRES_URL,
      DATABASE_SCHEMA: schema,
      BROKER: 'kafka',
      KAFKA_BROKERS: KAFKA_BROKERS.join(','),
      BROKER_NAMESPACE: freshNamespace(t),
      KAFKA_REPLICATION_FACTOR: '2',
      OPS_PORT: '0',
      LOG_LEVEL: 'silent',
      AGENTS_ENABLED: 'false',
      NOTIFICATIONS_ENABLED: 'false',
    },
  );
  const logger = createLogger(config.logLevel);
  await assert.rejects(
    startPlatform(config, logger, { api: false, worker: true }),
    /\(\d+ partitions, replication factor 2\)/,
  );
});
