import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PostgresBroker } from '../../../../src/adapters/brokers/postgres/broker.ts';
import { migrate } from '../../../../src/adapters/postgres/migrate.ts';
import { openPostgres } from '../../../../src/adapters/postgres/server.ts';
import type {
  BatchOutcome,
  Consumer,
  DeliveredMessage,
  OutgoingMessage,
} from '../../../../src/ports/broker.ts';
import type { Database } from '../../../../src/ports/database.ts';
import {
  describeEachDatabase,
  dropSchema,
  POSTGRES_URL,
  uniqueSchema,
} from '../../../helpers/databases.ts';
import { eventually } from '../../../helpers/eventually.ts';

function message(id: string, key: string, seq = 0, topic = 'analytics'): OutgoingMessage {
  return {
    id,
    topic,
    key,
    type: 'page_view',
    value: { seq, key },
    headers: { correlation_id: `c-${id}` },
  };
}

async function openBroker(
  db: Database,
  overrides: Partial<{ leaseMs: number; partitions: number }> = {},
) {
  return PostgresBroker.open(db, { partitions: 4, leaseMs: 5000, pollMs: 10, ...overrides });
}

/** A consumer that records what it receives and handles everything. */
async function collect(
  broker: PostgresBroker,
  group: string,
  consumerId: string,
  received: DeliveredMessage[],
  handler?: (batch: DeliveredMessage[]) => Promise<BatchOutcome>,
): Promise<Consumer> {
  return broker.consume({
    group,
    consumerId,
    topics: ['analytics', 'chemical'],
    batchSize: 50,
    concurrency: 2,
    handler:
      handler ??
      (async (batch) => {
        received.push(...batch);
        return { handled: batch.length };
      }),
  });
}

describeEachDatabase('Postgres broker', (database) => {
  test('a published message is delivered once to a consumer with its headers', async (t) => {
    const db = await database.open(t);
    const broker = await openBroker(db);
    const results = await broker.publish([message('a', 'u1'), message('b', 'u2')]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['appended', 'appended'],
    );
    const received: DeliveredMessage[] = [];
    const consumer = await collect(broker, 'g', 'c1', received);
    t.after(() => consumer.stop());
    await eventually(() => (received.length === 2 ? true : undefined));
    const a = received.find((m) => m.id === 'a');
    assert.equal(a?.headers.correlation_id, 'c-a');
    assert.equal(a?.generation, 0);
    assert.ok(a?.acceptedAt instanceof Date);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(received.length, 2, 'nothing is delivered twice');
  });

  test('publishing an id again stores nothing and reports a duplicate', async (t) => {
    const db = await database.open(t);
    const broker = await openBroker(db);
    await broker.publish([message('same', 'u1')]);
    const again = await broker.publish([
      message('same', 'u1'),
      message('same', 'u1'),
      message('new', 'u1'),
    ]);
    assert.deepEqual(
      again.map((r) => r.status),
      ['duplicate', 'duplicate', 'appended'],
    );
    const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM raw_events');
    assert.equal(row?.n, 2);
  });

  test('duplicates leave gaps in the offsets that a consumer reads and commits past, to the end of the log', async (t) => {
    const db = await database.open(t);
    const broker = await openBroker(db, { partitions: 1 });
    await broker.publish([message('a', 'u')]);
    await broker.publish([message('a', 'u'), message('a', 'u'), message('b', 'u')]);
    // A partition whose last offsets are gaps: the consumer must not claim it forever.
    await broker.publish([message('b', 'u')]);
    const received: DeliveredMessage[] = [];
    const consumer = await collect(broker, 'g', 'c', received);
    t.after(() => consumer.stop());
    await eventually(async () => ((await broker.lag('g'))[0]?.lag === 0 ? true : undefined));
    assert.deepEqual(
      received.map((m) => [m.id, m.offset]),
      [
        ['a', 0],
        ['b', 3],
      ],
    );
  });

  test('messages with the same key reach two competing consumers in publish order', async (t) => {
    const db = await database.open(t);
    const broker = await openBroker(db);
    const keys = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6'];
    const perKey = 40;
    // Published in several calls, interleaving keys, so order must survive across appends.
    for (let seq = 0; seq < perKey; seq += 10) {
      const batch: OutgoingMessage[] = [];
      for (let s = seq; s < seq + 10; s++)
        for (const key of keys) batch.push(message(`${key}-${s}`, key, s));
      await broker.publish(batch);
    }
    const received: DeliveredMessage[] = [];
    const slowly = async (batch: DeliveredMessage[]) => {
      received.push(...batch);
      await new Promise((resolve) => setTimeout(resolve, 2));
      return { handled: batch.length };
    };
    const one = await collect(broker, 'g', 'c1', received, slowly);
    const two = await collect(broker, 'g', 'c2', received, slowly);
    t.after(async () => {
      await one.stop();
      await two.stop();
    });
    await eventually(() => (received.length === keys.length * perKey ? true : undefined));
    for (const key of keys) {
      const seqs = received.filter((m) => m.key === key).map((m) => m.value.seq as number);
      assert.deepEqual(
        seqs,
        [...seqs].sort((x, y) => x - y),
        `order of ${key}`,
      );
      assert.equal(new Set(seqs).size, perKey, `each message of ${key} once`);
    }
  });

  test('every consumer group receives every message', async (t) => {
    const db = await database.open(t);
    const broker = await openBroker(db);
    await broker.publish(Array.from({ length: 30 }, (_, i) => message(`m${i}`, `u${i % 7}`)));
    const first: DeliveredMessage[] = [];
    const second: DeliveredMessage[] = [];
    const a = await collect(broker, 'analytics-writer', 'c1', first);
    const b = await collect(broker, 'notifier', 'c2', second);
    t.after(async () => {
      await a.stop();
      await b.stop();
    });
    await eventually(() => (first.length === 30 && second.length === 30 ? true : undefined));
    assert.deepEqual(
      (await broker.lag('analytics-writer')).map((p) => p.lag),
      [0, 0, 0, 0],
    );
  });

  test('a consumer that dies holding a batch has it redelivered to another after its lease expires', async (t) => {
    const db = await database.open(t);
    const broker = await openBroker(db, { leaseMs: 300, partitions: 1 });
    await broker.publish(Array.from({ length: 10 }, (_, i) => message(`m${i}`, 'u1', i)));
    let stuck!: () => void;
    const never = new Promise<BatchOutcome>((resolve) => {
      stuck = () => resolve({ handled: 0 });
    });
    const seenByDead: DeliveredMessage[] = [];
    // The "dead" consumer takes the batch and never finishes it, and stops renewing its lease,
    // as a SIGKILLed process would.
    const dead = await broker.consume({
      group: 'g',
      consumerId: 'dead',
      topics: ['analytics'],
      batchSize: 50,
      concurrency: 1,
      handler: (batch) => {
        seenByDead.push(...batch);
        return never;
      },
    });
    await eventually(() => (seenByDead.length === 10 ? true : undefined));
    // Its lease as a killed process leaves it, run out. The owner is cleared as well: this
    // "dead" consumer still has a heartbeat, which renews leases it owns, and would otherwise
    // win the race against the heir's first claim on a busy machine.
    await db.query(
      `UPDATE consumer_leases SET owner = NULL, lease_expires_at = now() - interval '1 second'
       WHERE owner = 'dead'`,
    );
    const received: DeliveredMessage[] = [];
    const heir = await collect(broker, 'g', 'heir', received);
    await eventually(() => (received.length === 10 ? true : undefined));
    assert.deepEqual(
      received.map((m) => m.value.seq),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    stuck();
    await dead.stop();
    await heir.stop();
  });

  test('unhandled messages are redelivered after the retry delay, handled ones are not', async (t) => {
    const db = await database.open(t);
    const broker = await openBroker(db, { partitions: 1 });
    await broker.publish(Array.from({ length: 5 }, (_, i) => message(`m${i}`, 'u1', i)));
    const deliveries: number[][] = [];
    const consumer = await broker.consume({
      group: 'g',
      consumerId: 'c',
      topics: ['analytics'],
      batchSize: 50,
      concurrency: 1,
      handler: async (batch) => {
        deliveries.push(batch.map((m) => m.value.seq as number));
        return deliveries.length === 1
          ? { handled: 2, retryAfterMs: 150 }
          : { handled: batch.length };
      },
    });
    t.after(() => consumer.stop());
    const started = Date.now();
    await eventually(() => (deliveries.length === 2 ? true : undefined));
    assert.ok(Date.now() - started >= 140, 'waited for the retry delay');
    assert.deepEqual(deliveries, [
      [0, 1, 2, 3, 4],
      [2, 3, 4],
    ]);
  });

  test('messages of topics a group did not subscribe to are skipped and committed past', async (t) => {
    const db = await database.open(t);
    const broker = await openBroker(db, { partitions: 1 });
    await broker.publish([message('a', 'u', 0, 'events'), message('b', 'u', 1, 'analytics')]);
    const received: DeliveredMessage[] = [];
    const consumer = await collect(broker, 'g', 'c', received);
    t.after(() => consumer.stop());
    await eventually(() => (received.length === 1 ? true : undefined));
    assert.equal(received[0]?.id, 'b');
    await eventually(async () => ((await broker.lag('g'))[0]?.lag === 0 ? true : undefined));
  });

  test('one batch carries messages of every partition a consumer claimed, each partition in order', async (t) => {
    const db = await database.open(t);
    const broker = await openBroker(db, { partitions: 4 });
    const keys = Array.from({ length: 12 }, (_, i) => `user-${i}`);
    await broker.publish(
      keys.flatMap((key) => [0, 1, 2].map((s) => message(`${key}-${s}`, key, s))),
    );
    const batches: DeliveredMessage[][] = [];
    // One slot: it claims its share of partitions (all four) and gets them in one batch.
    const consumer = await broker.consume({
      group: 'g',
      consumerId: 'c',
      topics: ['analytics'],
      batchSize: 500,
      concurrency: 1,
      handler: async (batch) => {
        batches.push(batch);
        return { handled: batch.length };
      },
    });
    t.after(() => consumer.stop());
    await eventually(() => (batches.flat().length === 36 ? true : undefined));
    assert.equal(batches.length, 1, 'one batch for everything');
    assert.equal(new Set(batches[0]?.map((m) => m.partition)).size, 4);
    for (const key of keys) {
      assert.deepEqual(
        batches[0]?.filter((m) => m.key === key).map((m) => m.value.seq),
        [0, 1, 2],
        `order of ${key}`,
      );
    }
  });

  test('a batch over several partitions commits each up to what was handled; only the stopped partition waits', async (t) => {
    const db = await database.open(t);
    const broker = await openBroker(db, { partitions: 2 });
    const keys = Array.from({ length: 8 }, (_, i) => `k${i}`);
    await broker.publish(
      keys.flatMap((key) => [0, 1, 2].map((s) => message(`${key}-${s}`, key, s))),
    );
    const deliveries: { at: number; batch: DeliveredMessage[] }[] = [];
    let handledFirst = 0;
    const consumer = await broker.consume({
      group: 'g',
      consumerId: 'c',
      topics: ['analytics'],
      batchSize: 500,
      concurrency: 1,
      handler: async (batch) => {
        deliveries.push({ at: Date.now(), batch });
        if (deliveries.length > 1) return { handled: batch.length };
        // Stop inside the second partition: its first message is handled, the rest wait.
        handledFirst = batch.findIndex((m) => m.partition !== batch[0]?.partition) + 1;
        return { handled: handledFirst, retryAfterMs: 400 };
      },
    });
    t.after(() => consumer.stop());
    await eventually(() => (deliveries.length === 2 ? true : undefined));
    const [first, second] = deliveries;
    assert.equal(new Set(first?.batch.map((m) => m.partition)).size, 2, 'both partitions');
    assert.ok(handledFirst > 1);
    assert.deepEqual(
      second?.batch.map((m) => m.id),
      first?.batch.slice(handledFirst).map((m) => m.id),
      'exactly the unhandled tail comes back',
    );
    assert.ok((second?.at ?? 0) - (first?.at ?? 0) >= 380, 'the stopped partition waited');
    await eventually(async () =>
      (await broker.lag('g')).every((p) => p.lag === 0) ? true : undefined,
    );
    assert.equal(deliveries.length, 2, 'handled messages are not delivered again');
  });

  test('a replay generation of an id is appended as a new message', async (t) => {
    const db = await database.open(t);
    const broker = await openBroker(db);
    await broker.publish([message('x', 'u')]);
    const [replay] = await broker.publish([{ ...message('x', 'u'), generation: 1 }]);
    assert.equal(replay?.status, 'appended');
  });
});

test('a consumer in another process is woken by an append at once, not at its next poll', async (t) => {
  const schema = uniqueSchema();
  const open = () => openPostgres({ url: POSTGRES_URL, schema, poolSize: 2 });
  const producerDb = await open();
  const consumerDb = await open();
  await migrate(producerDb);
  const producer = await openBroker(producerDb);
  // A poll a minute apart: only the notification can deliver within the test's wait.
  const consumerBroker = await PostgresBroker.open(consumerDb, {
    partitions: 4,
    leaseMs: 5000,
    pollMs: 60_000,
  });
  const received: DeliveredMessage[] = [];
  const consumer = await collect(consumerBroker, 'g', 'c1', received);
  t.after(async () => {
    await consumer.stop();
    await consumerBroker.close();
    await Promise.all([producerDb.close(), consumerDb.close()]);
    await dropSchema(schema);
  });
  await new Promise((resolve) => setTimeout(resolve, 200)); // its first poll found nothing
  await producer.publish([message('woken', 'u1')]);
  await eventually(() => (received.length === 1 ? true : undefined), { timeoutMs: 5000 });
});
