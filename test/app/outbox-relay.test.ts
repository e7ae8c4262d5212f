import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaBroker } from '../../src/adapters/brokers/kafka/broker.ts';
import { PostgresBroker } from '../../src/adapters/brokers/postgres/broker.ts';
import { migrate } from '../../src/adapters/postgres/migrate.ts';
import { openPostgres } from '../../src/adapters/postgres/server.ts';
import { PostgresOutboxStore } from '../../src/adapters/store/postgres/outbox.ts';
import { PostgresUserStore } from '../../src/adapters/store/postgres/users.ts';
import { OutboxRelay, type OutboxRelayOptions } from '../../src/app/outbox-relay.ts';
import { uuidv7 } from '../../src/domain/ids.ts';
import { USERS_TOPIC, type User } from '../../src/domain/users.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type {
  Broker,
  ConsumerOptions,
  DeliveredMessage,
  OutgoingMessage,
  PublishResult,
} from '../../src/ports/broker.ts';
import type { Database } from '../../src/ports/database.ts';
import type { OutboxEvent } from '../../src/ports/outbox.ts';
import {
  describeEachDatabase,
  dropSchema,
  POSTGRES_URL,
  uniqueSchema,
} from '../helpers/databases.ts';
import { eventually } from '../helpers/eventually.ts';
import { userTestDatabase } from '../helpers/users.ts';

const logger = createLogger('silent');

/** `eventually`, patient enough for a machine shared with other test runs. */
function settle<T>(
  check: () => Promise<T | undefined> | T | undefined,
  options: Parameters<typeof eventually>[1] = {},
): Promise<T> {
  return eventually(check, { timeoutMs: 30_000, ...options });
}
const KAFKA_BROKERS = (process.env.TEST_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

/**
 * The real Postgres broker, watched: records every message each publish call carried (the
 * broker itself drops a repeated id, which would hide a double publish), and can be told to
 * fail or to hang after appending (a relay dying between publish and mark).
 */
class WatchedBroker implements Broker {
  readonly name = 'watched';
  readonly published: OutgoingMessage[] = [];
  failNext = 0;
  hangAfterPublish = false;
  readonly #inner: Broker;

  constructor(inner: Broker) {
    this.#inner = inner;
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<PublishResult[]> {
    if (this.failNext > 0) {
      this.failNext--;
      throw Object.assign(new Error('broker unreachable'), { code: 'ECONNREFUSED' });
    }
    const results = await this.#inner.publish(messages);
    this.published.push(...messages);
    if (this.hangAfterPublish) await new Promise(() => {});
    return results;
  }
  get log() {
    return this.#inner.log;
  }
  consume(options: ConsumerOptions) {
    return this.#inner.consume(options);
  }
  lag(group: string) {
    return this.#inner.lag(group);
  }
  positions(group: string) {
    return this.#inner.positions(group);
  }
  ping() {
    return this.#inner.ping();
  }
  close() {
    return this.#inner.close();
  }
}

async function watchedBroker(db: Database): Promise<WatchedBroker> {
  return new WatchedBroker(
    await PostgresBroker.open(db, { partitions: 4, leaseMs: 5000, pollMs: 10 }),
  );
}

function relay(db: Database, broker: Broker, options: Partial<OutboxRelayOptions> = {}) {
  return new OutboxRelay(new PostgresOutboxStore(db), broker, logger, {
    holder: `relay-${uuidv7()}`,
    pollMs: 10,
    batchSize: 25,
    ...options,
  });
}

/**
 * `users` users, each created then updated `updates` times, interleaved across users; every
 * event carries its number in the user's history (`n`), to check order on arrival.
 */
function historyEvent(type: string, n: number) {
  return (user: User): OutboxEvent => ({
    id: uuidv7(),
    topic: USERS_TOPIC,
    key: user.id,
    type,
    payload: { n, user: { id: user.id } },
    headers: {},
  });
}

/** Creates `count` users (event n = 0 each); returns their ids. */
async function createUsers(db: Database, count: number): Promise<string[]> {
  const store = new PostgresUserStore(db);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = uuidv7();
    ids.push(id);
    await store.create(
      {
        id,
        username: `u_${id.slice(-12)}`,
        email: `${id.slice(-12)}@example.com`,
        fullName: null,
        age: null,
        phone: null,
        role: 'user',
        passwordHash: 'scrypt$4$8$1$c2FsdA$a2V5',
      },
      historyEvent('user.created', 0),
    );
  }
  return ids;
}

/** Updates every user once per n in [from, to], interleaved across users; returns the count. */
async function updateUsers(db: Database, ids: string[], from: number, to: number) {
  const store = new PostgresUserStore(db);
  for (let n = from; n <= to; n++) {
    for (const id of ids) await store.update(id, { age: n }, historyEvent('user.updated', n));
  }
  return ids.length * (to - from + 1);
}

/**
 * `users` users, each created then updated `updates` times, interleaved across users; every
 * event carries its number in the user's history (`n`), to check order on arrival.
 */
async function userHistory(db: Database, users: number, updates: number): Promise<number> {
  const ids = await createUsers(db, users);
  return users + (await updateUsers(db, ids, 1, updates));
}

/** Per key, whether `n` only goes up in the order given. */
function inOrderPerKey(messages: readonly { key: string; value: Record<string, unknown> }[]) {
  const last = new Map<string, number>();
  for (const m of messages) {
    const n = m.value.n as number;
    if ((last.get(m.key) ?? -1) >= n) return false;
    last.set(m.key, n);
  }
  return true;
}

function countById(messages: readonly OutgoingMessage[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of messages) counts.set(m.id, (counts.get(m.id) ?? 0) + 1);
  return counts;
}

async function unpublished(db: Database): Promise<number> {
  return new PostgresOutboxStore(db).backlog();
}

/** This test's events as the broker's log holds them . */
async function logged(db: Database): Promise<{ key: string; value: Record<string, unknown> }[]> {
  const rows = await db.query<{ key: string; payload: Record<string, unknown> }>(
    `SELECT key, payload FROM raw_events
     WHERE topic = $1 AND event_id IN (SELECT id FROM outbox)
     ORDER BY partition, "offset"`,
    [USERS_TOPIC],
  );
  return rows.map((r) => ({ key: r.key, value: r.payload }));
}

describeEachDatabase('OutboxRelay', (factory) => {
  const open = userTestDatabase(factory);

  test('publishes every outbox event exactly once, in commit order per user, and marks it', async (t) => {
    const db = await open(t);
    const total = await userHistory(db, 6, 9);
    const broker = await watchedBroker(db);
    const r = relay(db, broker);
    assert.equal(await r.drain(), total);
    assert.equal(await r.drain(), 0, 'nothing twice');
    assert.equal(broker.published.length, total);
    assert.ok([...countById(broker.published).values()].every((c) => c === 1));
    assert.ok(inOrderPerKey(broker.published));
    assert.ok(broker.published.every((m) => m.topic === USERS_TOPIC && m.type.startsWith('user.')));
    assert.equal(await unpublished(db), 0);
    const log = await logged(db);
    assert.equal(log.length, total);
    assert.ok(inOrderPerKey(log), 'in the broker too');
  });

  test('a broker failure leaves the events in the outbox; they go out once it is back', async (t) => {
    const db = await open(t);
    const total = await userHistory(db, 2, 2);
    const broker = await watchedBroker(db);
    broker.failNext = 2;
    const r = relay(db, broker, { pollMs: 5, maxBackoffMs: 20 });
    r.start();
    t.after(() => r.stop());
    await settle(async () => ((await unpublished(db)) === 0 ? true : undefined));
    assert.equal(broker.published.length, total);
    assert.ok(inOrderPerKey(broker.published));
  });

  test('woken after a commit it publishes at once; otherwise it waits for its poll', async (t) => {
    const db = await open(t);
    const broker = await watchedBroker(db);
    const r = relay(db, broker, { pollMs: 60_000 });
    r.start();
    t.after(() => r.stop());
    await settle(() => (r.passes > 0 ? true : undefined), { message: 'the first pass' });
    assert.deepEqual(
      await db.query('SELECT holder FROM outbox_relay'),
      [{ holder: null }],
      'an idle relay takes no lease (and writes nothing)',
    );
    await userHistory(db, 1, 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(broker.published.length, 0, 'not before its poll without a wake');
    const woken = Date.now();
    r.wake();
    await settle(() => (broker.published.length === 1 ? true : undefined));
    assert.ok(Date.now() - woken < 5000);
  });

  test('a relay that dies after publishing, before marking, is taken over and its events published again; an idempotent consumer sees each once', async (t) => {
    const db = await open(t);
    const total = await userHistory(db, 3, 3);
    const dying = await watchedBroker(db);
    dying.hangAfterPublish = true;
    const first = relay(db, dying, { leaseMs: 300, batchSize: 100 });
    first.start(); // never stopped: it hangs like a process frozen mid-pass
    await settle(() => (dying.published.length === total ? true : undefined));
    assert.equal(await unpublished(db), total, 'published but not marked');

    const broker = await watchedBroker(db);
    const second = relay(db, broker, { leaseMs: 300, pollMs: 20 });
    second.start();
    t.after(() => second.stop());
    await settle(async () => ((await unpublished(db)) === 0 ? true : undefined));
    assert.equal(broker.published.length, total, 'republished by the new lease holder');
    assert.ok(inOrderPerKey(broker.published));
    assert.deepEqual(
      [...countById([...dying.published, ...broker.published]).values()].filter((c) => c !== 2),
      [],
      'every event went out twice in all (at least once)',
    );

    // The broker drops a repeated event id, and a consumer group receives each event once.
    const ours = new Set(
      (await db.query<{ id: string }>('SELECT id FROM outbox')).map((r) => r.id),
    );
    assert.equal((await logged(db)).length, total, 'the log holds each event once');
    const received: DeliveredMessage[] = [];
    const consumer = await broker.consume({
      group: 'notifications-test',
      consumerId: 'c1',
      topics: [USERS_TOPIC],
      batchSize: 100,
      concurrency: 2,
      handler: async (batch) => {
        received.push(...batch.filter((m) => ours.has(m.id)));
        return { handled: batch.length };
      },
    });
    t.after(() => consumer.stop());
    await settle(() => (received.length >= total ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(received.length, total);
    assert.equal(new Set(received.map((m) => m.id)).size, total);
  });

  test('stop publishes what is left and frees the lease for another process at once', async (t) => {
    const db = await open(t);
    const broker = await watchedBroker(db);
    const first = relay(db, broker, { pollMs: 60_000, leaseMs: 60_000 });
    first.start();
    await settle(() => (first.passes > 0 ? true : undefined));
    const total = await userHistory(db, 2, 1);
    await first.stop();
    assert.equal(broker.published.length, total, 'the last commits went out before stopping');
    const next = relay(db, broker, { pollMs: 60_000, leaseMs: 60_000 });
    await userHistory(db, 1, 0);
    assert.equal(await next.drain(), 1, 'the next relay holds the lease without waiting');
  });
});

test('two relays racing on one server database publish each event once, in order per user', async (t) => {
  const schema = uniqueSchema();
  const open = async () => {
    const db = await openPostgres({ url: POSTGRES_URL, schema, poolSize: 4 });
    t.after(() => db.close());
    return db;
  };
  const setup = await open();
  await migrate(setup);
  t.after(async () => {
    if (process.env.HERALD_KEEP_TEST_DATA === undefined) await dropSchema(schema);
  });
  // Two processes: their own pools, their own broker instances, the same tables.
  const [dbA, dbB] = [await open(), await open()];
  const [brokerA, brokerB] = [await watchedBroker(dbA), await watchedBroker(dbB)];
  const relayA = relay(dbA, brokerA, { pollMs: 5, batchSize: 7 });
  const relayB = relay(dbB, brokerB, { pollMs: 5, batchSize: 7 });
  const slow = { timeoutMs: 60_000 }; // a loaded CI machine
  // B takes the lease with the first events; A then polls against it while the same users'
  // changes keep coming; B steps down, and A carries on with the rest of their history.
  const ids = await createUsers(setup, 6);
  let total = ids.length;
  relayB.start();
  await settle(() => (brokerB.published.length === total ? true : undefined), slow);
  relayA.start();
  total += await updateUsers(setup, ids, 1, 5);
  await settle(() => (brokerB.published.length === total ? true : undefined), slow);
  assert.equal(brokerA.published.length, 0, 'A never published under B’s lease');
  await relayB.stop();
  total += await updateUsers(setup, ids, 6, 12);
  await settle(async () => ((await unpublished(setup)) === 0 ? true : undefined), slow);
  await relayA.stop();
  assert.ok(brokerA.published.length > 0, 'A took over');
  const all = [...brokerA.published, ...brokerB.published];
  assert.equal(all.length, total);
  assert.ok(
    [...countById(all).values()].every((c) => c === 1),
    'no event published twice',
  );
  const log = await logged(setup);
  assert.equal(log.length, total);
  assert.ok(inOrderPerKey(log));
});

test('over Kafka: a batch republished after a crash arrives twice, and a consumer deduplicating on the event id sees every event once, in order per user', async (t) => {
  const schema = uniqueSchema();
  const db = await openPostgres({ url: POSTGRES_URL, schema, poolSize: 4 });
  t.after(async () => {
    await db.close();
    if (process.env.HERALD_KEEP_TEST_DATA === undefined) await dropSchema(schema);
  });
  await migrate(db);
  const kafka = await KafkaBroker.open({
    brokers: KAFKA_BROKERS,
    clientId: 'herald-relay-test',
    partitions: 3,
    // The broker's group.min.session.timeout.ms is 6 s.
    sessionTimeoutMs: 6000,
    heartbeatIntervalMs: 500,
  }).catch((error: unknown) => {
    throw new Error(`Kafka at ${KAFKA_BROKERS.join(',')} is needed (scripts/kafka.sh start)`, {
      cause: error,
    });
  });
  t.after(() => kafka.close());
  const total = await userHistory(db, 4, 4);

  const dying = new WatchedBroker(kafka);
  dying.hangAfterPublish = true;
  relay(db, dying, { leaseMs: 300, batchSize: 100 }).start();
  await settle(() => (dying.published.length === total ? true : undefined));
  const survivor = relay(db, new WatchedBroker(kafka), { leaseMs: 300, pollMs: 20 });
  survivor.start();
  t.after(() => survivor.stop());
  await settle(async () => ((await unpublished(db)) === 0 ? true : undefined));

  // The cluster's `users` topic is shared with other runs: this test reads only its own events.
  const ours = new Set((await db.query<{ id: string }>('SELECT id FROM outbox')).map((r) => r.id));
  const received: DeliveredMessage[] = [];
  const consumer = await kafka.consume({
    group: `notifications-test-${schema}`,
    consumerId: 'c1',
    topics: [USERS_TOPIC],
    batchSize: 100,
    concurrency: 1,
    handler: async (batch) => {
      received.push(...batch.filter((m) => ours.has(m.id)));
      return { handled: batch.length };
    },
  });
  t.after(() => consumer.stop());
  await settle(() => (received.length >= 2 * total ? true : undefined), {
    timeoutMs: 30_000,
    message: 'both copies of every event',
  });
  assert.equal(received.length, 2 * total, 'Kafka keeps both copies: at least once');
  const seen = new Set<string>();
  const effective = received.filter((m) => !seen.has(m.id) && seen.add(m.id));
  assert.equal(effective.length, total);
  assert.ok(inOrderPerKey(effective), 'the first copy of each event arrives in order per user');
});
