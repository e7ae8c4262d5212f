/**
 * The raw @platformatic/kafka ceiling, and the hand-rolled consumer a user would write: produce
 * the run's events to a fresh topic (sends of KAFKA_RAW_SETTINGS.send_batch records, the same
 * idempotent acks=all producer Herald uses), then one consumer group reads them back from the
 * earliest offset and inserts them into the sink in multi-row statements. Prints the timings of
 * both phases in its {"ready": true, "done": true, ...} line, then deletes the topic.
 */
import {
  Admin,
  Consumer,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import { chunks, jobPayloads, say, settings, sinkWriter } from './common.ts';
import { KAFKA_RAW_SETTINGS } from './settings.ts';

const s = settings();
const brokers = (process.env.BENCH_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const topic = `bench-raw-${s.queue}`;
const events = jobPayloads({ ...s, perJob: 1 }).map((job) => job[0] as Record<string, unknown>);

const admin = new Admin({ clientId: `${topic}-admin`, bootstrapBrokers: brokers });
await admin.createTopics({
  topics: [topic],
  partitions: KAFKA_RAW_SETTINGS.partitions,
  replicas: 1,
});

const producer = new Producer({
  clientId: `${topic}-producer`,
  bootstrapBrokers: brokers,
  serializers: stringSerializers,
  idempotent: true,
  acks: -1,
});
const produceStarted = Date.now();
for (const part of chunks(events, KAFKA_RAW_SETTINGS.send_batch)) {
  await producer.send({
    messages: part.map((event) => ({
      topic,
      key: String(event.user_id),
      value: JSON.stringify(event),
    })),
  });
}
const produceMs = Date.now() - produceStarted;
await producer.close();

const sink = sinkWriter(s, KAFKA_RAW_SETTINGS.inserts_in_flight);
const consumer = new Consumer({
  clientId: `${topic}-consumer`,
  groupId: `${topic}-group`,
  bootstrapBrokers: brokers,
  deserializers: stringDeserializers,
  maxWaitTime: KAFKA_RAW_SETTINGS.max_wait_ms,
});
const consumeStarted = Date.now();
const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
let received = 0;
let buffered: unknown[] = [];
const inFlight = new Set<Promise<void>>();
const insert = (rows: unknown[]) => {
  const done: Promise<void> = sink.insert(rows).finally(() => inFlight.delete(done));
  inFlight.add(done);
};
for await (const message of stream) {
  buffered.push(JSON.parse(message.value));
  received++;
  if (buffered.length >= KAFKA_RAW_SETTINGS.insert_batch || received === events.length) {
    insert(buffered);
    buffered = [];
    if (inFlight.size >= KAFKA_RAW_SETTINGS.inserts_in_flight) await Promise.race(inFlight);
  }
  if (received === events.length) break;
}
await Promise.all(inFlight);
const consumeMs = Date.now() - consumeStarted;
say({
  ready: true,
  done: true,
  events: received,
  produce_ms: produceMs,
  consume_insert_ms: consumeMs,
});
await stream.close().catch(() => {});
await consumer.close(true).catch(() => {});
await admin.deleteTopics({ topics: [topic] }).catch(() => {});
await admin.close();
await sink.pool.end();
process.exit(0);
