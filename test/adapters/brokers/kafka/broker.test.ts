/**
 * Records another producer wrote to a Herald topic: one the consumer cannot read is handed on
 * marked malformed (the pipeline dead-letters it), not thrown on inside the consumer, where it
 * stopped the partition. Against the real broker on 9092.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Producer, stringSerializers } from '@platformatic/kafka';
import { KafkaBroker } from '../../../../src/adapters/brokers/kafka/broker.ts';
import type { DeliveredMessage } from '../../../../src/ports/broker.ts';
import { eventually } from '../../../helpers/eventually.ts';

const BROKERS = (process.env.TEST_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

test('records that are not Herald messages are delivered marked malformed, and the partition goes on', async (t) => {
  const namespace = `malformed-${randomBytes(4).toString('hex')}`;
  const broker = await KafkaBroker.open({
    brokers: BROKERS,
    clientId: namespace,
    namespace,
    partitions: 1,
    sessionTimeoutMs: 6000,
    heartbeatIntervalMs: 500,
  });
  t.after(() => broker.close());
  // Herald creates the topic and publishes one good record first.
  await broker.publish([
    { id: 'good', topic: 'events', key: 'k', type: 'click', value: { a: 1 }, headers: {} },
  ]);
  const producer = new Producer({
    clientId: `${namespace}-other`,
    bootstrapBrokers: BROKERS,
    serializers: stringSerializers,
  });
  t.after(() => producer.close());
  const topic = `${namespace}.events`;
  const headers = (id: string) => ({ event_id: id, event_type: 'click', generation: '0' });
  await producer.send({
    messages: [
      { topic, partition: 0, key: 'k', value: '{"a": oops', headers: headers('not-json') },
      { topic, partition: 0, key: 'k', value: '[1,2]', headers: headers('array') },
      { topic, partition: 0, key: 'k', value: '{"a":2}', headers: headers('after') },
    ],
  });

  const received: DeliveredMessage[] = [];
  const consumer = await broker.consume({
    group: 'g',
    consumerId: 'c',
    topics: ['events'],
    batchSize: 10,
    concurrency: 1,
    handler: async (batch) => {
      received.push(...batch);
      return { handled: batch.length };
    },
  });
  t.after(() => consumer.stop());
  await eventually(() => (received.length === 4 ? true : undefined), { timeoutMs: 30_000 });
  const byId = new Map(received.map((m) => [m.id, m]));
  assert.equal(byId.get('good')?.malformed, undefined);
  assert.deepEqual(byId.get('not-json')?.malformed, {
    reason: 'value is not JSON',
    raw: '{"a": oops',
  });
  assert.deepEqual(byId.get('not-json')?.value, {});
  assert.equal(byId.get('array')?.malformed?.reason, 'value is not a JSON object');
  assert.deepEqual(byId.get('after')?.value, { a: 2 });
  await eventually(async () => ((await broker.lag('g'))[0]?.lag === 0 ? true : undefined));
});
