/**
 * The behaviour every Broker adapter must show, run against each transport by
 * test/contract/<transport>.test.ts. Topic names are unique per test, so the suites can share
 * one Kafka or Redis.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, type TestContext, test } from 'node:test';
import { StallDetector } from '../../src/app/stall-detector.ts';
import type {
  BatchOutcome,
  Broker,
  Consumer,
  ConsumerOptions,
  DeliveredMessage,
  OutgoingMessage,
  ShardPosition,
} from '../../src/ports/broker.ts';
import { capturingLogger } from '../helpers/capturing-logger.ts';
import { eventually } from '../helpers/eventually.ts';

export interface ContractSubject {
  broker: Broker;
  /** A second broker on the same transport and namespace: another process. */
  another(): Promise<Broker>;
  /**
   * Makes `consumer` (`consumerId` of `broker`) die as a SIGKILLed process would: no more
   * lease renewals or heartbeats, nothing committed, its handler's promise abandoned, and
   * nothing left running that would keep the test process alive.
   */
  crash(broker: Broker, consumer: Consumer, consumerId: string): Promise<void>;
}

export interface ContractOptions {
  partitions: number;
  /** How soon a silent (crashed) consumer loses its partitions. */
  sessionMs: number;
}

/** Opens the transport under test for one test; it cleans up after itself through `t`. */
export type OpenBroker = (t: TestContext, options: ContractOptions) => Promise<ContractSubject>;

export interface ContractSettings {
  /** Per-wait timeout; Kafka's group rebalances need more than the default. */
  timeoutMs?: number;
}

export function brokerContract(
  name: string,
  openBroker: OpenBroker,
  settings: ContractSettings = {},
): void {
  const timeoutMs = settings.timeoutMs ?? 10_000;
  const until = <T>(check: () => Promise<T | undefined> | T | undefined, message: string) =>
    eventually(check, { timeoutMs, message });

  describe(`${name} broker contract`, () => {
    test('a published message reaches a consumer once, with its headers', async (t) => {
      const { broker } = await openBroker(t, { partitions: 2, sessionMs: 3000 });
      const g = uniqueTopic('group');
      const topic = uniqueTopic('analytics');
      const results = await broker.publish([
        message(topic, 'a', 'u1', 0, { traceparent: '00-abc-def-01' }),
        { ...message(topic, 'b', 'u2'), generation: 2 },
      ]);
      assert.deepEqual(
        results.map((r) => [r.id, r.status]),
        [
          ['a', 'appended'],
          ['b', 'appended'],
        ],
      );
      const received: DeliveredMessage[] = [];
      await consume(t, broker, { group: g, consumerId: 'c1', topics: [topic] }, received);
      await until(() => (received.length === 2 ? true : undefined), 'two deliveries');
      const a = received.find((m) => m.id === 'a');
      assert.equal(a?.topic, topic);
      assert.equal(a?.key, 'u1');
      assert.equal(a?.type, 'page_view');
      assert.deepEqual(a?.value, { seq: 0, key: 'u1' });
      assert.equal(a?.headers.correlation_id, 'c-a');
      assert.equal(a?.headers.traceparent, '00-abc-def-01');
      assert.equal(a?.generation, 0);
      assert.ok(a?.acceptedAt instanceof Date && !Number.isNaN(a.acceptedAt.getTime()));
      assert.equal(typeof a?.offset, 'number');
      assert.equal(received.find((m) => m.id === 'b')?.generation, 2);
      await sleep(200);
      assert.equal(received.length, 2, 'nothing is delivered twice');
    });

    test('a batch published in one call is delivered whole and in batches', async (t) => {
      const { broker } = await openBroker(t, { partitions: 1, sessionMs: 3000 });
      const g = uniqueTopic('group');
      const topic = uniqueTopic('analytics');
      await broker.publish(range(120).map((i) => message(topic, `m${i}`, 'u1', i)));
      const batches: number[] = [];
      const received: DeliveredMessage[] = [];
      await consume(t, broker, { group: g, consumerId: 'c', topics: [topic] }, received, {
        handler: async (batch) => {
          batches.push(batch.length);
          received.push(...batch);
          return { handled: batch.length };
        },
      });
      await until(() => (received.length === 120 ? true : undefined), '120 deliveries');
      assert.deepEqual(
        received.map((m) => m.value.seq),
        range(120),
      );
      assert.ok(
        batches.every((n) => n <= 50),
        `batches no larger than batchSize: ${batches}`,
      );
      assert.ok(batches.length < 120, `messages come in batches: ${batches}`);
    });

    test('every consumer group receives every message', async (t) => {
      const { broker } = await openBroker(t, { partitions: 3, sessionMs: 3000 });
      const topic = uniqueTopic('analytics');
      await broker.publish(range(30).map((i) => message(topic, `m${i}`, `u${i % 7}`, i)));
      const first: DeliveredMessage[] = [];
      const second: DeliveredMessage[] = [];
      await consume(
        t,
        broker,
        { group: uniqueTopic('writer'), consumerId: 'c1', topics: [topic] },
        first,
      );
      await consume(
        t,
        broker,
        { group: uniqueTopic('notifier'), consumerId: 'c2', topics: [topic] },
        second,
      );
      await until(
        () => (first.length === 30 && second.length === 30 ? true : undefined),
        'both groups to receive 30',
      );
      assert.equal(new Set(first.map((m) => m.id)).size, 30);
      assert.equal(new Set(second.map((m) => m.id)).size, 30);
    });

    test('a consumer that dies holding a batch has it redelivered, in order, to another', async (t) => {
      const subject = await openBroker(t, { partitions: 1, sessionMs: 1500 });
      const g = uniqueTopic('group');
      const topic = uniqueTopic('analytics');
      await subject.broker.publish(range(10).map((i) => message(topic, `m${i}`, 'u1', i)));
      const doomed = await subject.another();
      const seenByDead: DeliveredMessage[] = [];
      // The handler never finishes: the batch is taken and never committed.
      const dead = await doomed.consume({
        ...defaults,
        group: g,
        consumerId: 'dead',
        topics: [topic],
        handler: (batch) => {
          seenByDead.push(...batch);
          return new Promise<BatchOutcome>(() => {});
        },
      });
      await until(() => (seenByDead.length > 0 ? true : undefined), 'the doomed consumer');
      await subject.crash(doomed, dead, 'dead');
      const received: DeliveredMessage[] = [];
      await consume(t, subject.broker, { group: g, consumerId: 'heir', topics: [topic] }, received);
      await until(() => (received.length >= 10 ? true : undefined), 'redelivery to the heir');
      assert.deepEqual(
        received.map((m) => m.value.seq),
        range(10),
      );
    });

    test('messages with the same key reach two competing consumers in publish order', async (t) => {
      const subject = await openBroker(t, { partitions: 4, sessionMs: 3000 });
      const g = uniqueTopic('group');
      const topic = uniqueTopic('analytics');
      const keys = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6'];
      const perKey = 40;
      // Several publish calls interleaving keys, so order must hold across appends.
      for (let seq = 0; seq < perKey; seq += 10) {
        const batch: OutgoingMessage[] = [];
        for (let s = seq; s < seq + 10; s++)
          for (const key of keys) batch.push(message(topic, `${key}-${s}`, key, s));
        await subject.broker.publish(batch);
      }
      const other = await subject.another();
      const received: DeliveredMessage[] = [];
      const slowly = async (batch: DeliveredMessage[]) => {
        received.push(...batch);
        await sleep(2);
        return { handled: batch.length };
      };
      const options = { group: g, topics: [topic], batchSize: 7 };
      await consume(t, subject.broker, { ...options, consumerId: 'c1' }, received, {
        handler: slowly,
      });
      await consume(t, other, { ...options, consumerId: 'c2' }, received, { handler: slowly });
      await until(
        () => (new Set(received.map((m) => m.id)).size === keys.length * perKey ? true : undefined),
        'every message',
      );
      for (const key of keys) {
        const seqs = received.filter((m) => m.key === key).map((m) => m.value.seq as number);
        // A rebalance may redeliver a tail (at-least-once) but never go back on a key.
        const firsts = seqs.filter((s, i) => seqs.indexOf(s) === i);
        assert.deepEqual(firsts, range(perKey), `order of ${key}`);
      }
    });

    test('only the handled prefix is committed; the rest comes back after retryAfterMs', async (t) => {
      const { broker } = await openBroker(t, { partitions: 1, sessionMs: 3000 });
      const g = uniqueTopic('group');
      const topic = uniqueTopic('analytics');
      await broker.publish(range(5).map((i) => message(topic, `m${i}`, 'u1', i)));
      const deliveries: { seqs: number[]; at: number }[] = [];
      await consume(t, broker, { group: g, consumerId: 'c', topics: [topic] }, [], {
        handler: async (batch) => {
          deliveries.push({ seqs: batch.map((m) => m.value.seq as number), at: Date.now() });
          return deliveries.length === 1
            ? { handled: 2, retryAfterMs: 300 }
            : { handled: batch.length };
        },
      });
      await until(() => (deliveries.length === 2 ? true : undefined), 'the retry');
      const [first, second] = deliveries;
      assert.deepEqual(first?.seqs, [0, 1, 2, 3, 4]);
      assert.deepEqual(second?.seqs, [2, 3, 4]);
      assert.ok((second?.at ?? 0) - (first?.at ?? 0) >= 280, 'waited for the retry delay');
      await sleep(200);
      assert.equal(deliveries.length, 2, 'handled messages are not delivered again');
      await until(
        async () => ((await broker.lag(g)).every((p) => p.lag === 0) ? true : undefined),
        'lag 0',
      );
    });

    test('messages of topics a group did not subscribe to do not stall it', async (t) => {
      const { broker } = await openBroker(t, { partitions: 1, sessionMs: 3000 });
      const g = uniqueTopic('group');
      const skipped = uniqueTopic('events');
      const wanted = uniqueTopic('analytics');
      await broker.publish([message(skipped, 'a', 'u', 0), message(wanted, 'b', 'u', 1)]);
      await broker.publish(range(20).map((i) => message(skipped, `s${i}`, 'u', i)));
      await broker.publish([message(wanted, 'c', 'u', 2)]);
      const received: DeliveredMessage[] = [];
      await consume(t, broker, { group: g, consumerId: 'c', topics: [wanted] }, received);
      await until(() => (received.length === 2 ? true : undefined), 'the wanted messages');
      assert.deepEqual(
        received.map((m) => m.id),
        ['b', 'c'],
      );
      await until(
        async () => ((await broker.lag(g)).every((p) => p.lag === 0) ? true : undefined),
        'lag 0',
      );
    });

    test('lag counts what a group has not committed and goes to zero once consumed', async (t) => {
      const { broker } = await openBroker(t, { partitions: 2, sessionMs: 3000 });
      const g = uniqueTopic('group');
      const topic = uniqueTopic('analytics');
      await broker.publish(range(12).map((i) => message(topic, `m${i}`, `u${i % 5}`, i)));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      t.after(() => release());
      const received: DeliveredMessage[] = [];
      await consume(t, broker, { group: g, consumerId: 'c', topics: [topic] }, received, {
        handler: async (batch) => {
          await gate;
          received.push(...batch);
          return { handled: batch.length };
        },
      });
      const before = await until(async () => {
        const lag = await broker.lag(g);
        return sum(lag.map((p) => p.lag)) === 12 ? lag : undefined;
      }, 'lag 12 before handling');
      assert.deepEqual(
        before.map((p) => p.partition),
        [0, 1],
      );
      release();
      await until(() => (received.length === 12 ? true : undefined), 'all 12');
      await until(
        async () => ((await broker.lag(g)).every((p) => p.lag === 0) ? true : undefined),
        'lag 0',
      );
    });

    test('a dead letter replayed as a later generation of the same id is delivered again', async (t) => {
      const { broker } = await openBroker(t, { partitions: 2, sessionMs: 3000 });
      const g = uniqueTopic('group');
      const topic = uniqueTopic('analytics');
      await broker.publish([message(topic, 'poison', 'u1', 0)]);
      const received: DeliveredMessage[] = [];
      await consume(t, broker, { group: g, consumerId: 'c', topics: [topic] }, received);
      await until(() => (received.length === 1 ? true : undefined), 'the original');
      const [replayed] = await broker.publish([
        { ...message(topic, 'poison', 'u1', 0), generation: 1 },
      ]);
      assert.equal(replayed?.status, 'appended', 'a new generation is not a duplicate');
      await until(() => (received.length === 2 ? true : undefined), 'the replay');
      assert.deepEqual(
        received.map((m) => [m.id, m.generation]),
        [
          ['poison', 0],
          ['poison', 1],
        ],
      );
    });

    test('stop() lets the batch in flight finish, commits it, and the group goes on from there', async (t) => {
      const { broker } = await openBroker(t, { partitions: 1, sessionMs: 3000 });
      const g = uniqueTopic('group');
      const topic = uniqueTopic('analytics');
      await broker.publish(range(5).map((i) => message(topic, `m${i}`, 'u1', i)));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let started = false;
      let finished = false;
      const first = await broker.consume({
        ...defaults,
        group: g,
        consumerId: 'first',
        topics: [topic],
        handler: async (batch) => {
          started = true;
          await gate;
          finished = true;
          return { handled: batch.length };
        },
      });
      await until(() => (started ? true : undefined), 'the batch in flight');
      const stopping = first.stop();
      await sleep(100);
      assert.equal(finished, false, 'the handler is still running');
      release();
      await stopping;
      assert.equal(finished, true, 'stop() waited for the batch in flight');

      await broker.publish(range(3).map((i) => message(topic, `n${i}`, 'u1', 5 + i)));
      const received: DeliveredMessage[] = [];
      await consume(t, broker, { group: g, consumerId: 'second', topics: [topic] }, received);
      await until(() => (received.length === 3 ? true : undefined), 'the new messages');
      await sleep(200);
      assert.deepEqual(
        received.map((m) => m.id),
        ['n0', 'n1', 'n2'],
        'what the stopped consumer handled is not delivered again',
      );
    });

    test("positions give each shard its committed offset, lag and head, and follow the group's commits", async (t) => {
      const { broker } = await openBroker(t, { partitions: 1, sessionMs: 3000 });
      const g = uniqueTopic('group');
      const topic = uniqueTopic('analytics');
      await broker.publish(range(5).map((i) => message(topic, `m${i}`, 'u1', i)));
      let release = false;
      const offsets = new Map<string, number>();
      await consume(t, broker, { group: g, consumerId: 'c', topics: [topic] }, [], {
        handler: async (batch) => {
          for (const m of batch) offsets.set(m.id, m.offset);
          // Held at m2 until released: the handled prefix m0, m1 is committed.
          if (!release) return { handled: batch[0]?.id === 'm2' ? 0 : 2, retryAfterMs: 50 };
          return { handled: batch.length };
        },
      });
      const held = await until(async () => {
        const shard = shardOf(await broker.positions(g), topic);
        return shard?.lag === 3 && shard.head?.id === 'm2' ? shard : undefined;
      }, 'the group held at m2');
      assert.equal(held.committed, offsets.get('m1'), 'committed through the handled prefix');
      assert.equal(held.head?.offset, offsets.get('m2'));
      assert.equal(held.head?.generation, 0);
      release = true;
      const done = await until(async () => {
        const shard = shardOf(await broker.positions(g), topic);
        return shard?.lag === 0 ? shard : undefined;
      }, 'lag 0');
      assert.equal(done.committed, offsets.get('m4'));
      assert.equal(done.head, undefined, 'nothing waits');
    });

    test('a shard held at one message is reported stalled, with the message, until it moves again', async (t) => {
      const { broker } = await openBroker(t, { partitions: 1, sessionMs: 3000 });
      const g = uniqueTopic('group');
      const topic = uniqueTopic('analytics');
      await broker.publish(range(3).map((i) => message(topic, `m${i}`, 'u1', i)));
      let release = false;
      await consume(t, broker, { group: g, consumerId: 'c', topics: [topic] }, [], {
        handler: async (batch) =>
          release || batch[0]?.id !== 'm1'
            ? { handled: release ? batch.length : 1, retryAfterMs: 50 }
            : { handled: 0, retryAfterMs: 50 },
      });
      const { logger, lines } = capturingLogger();
      const stalls = new StallDetector(broker, {
        groups: [g],
        stallAfterMs: 400,
        pollMs: 50,
        logger,
      });
      stalls.start();
      t.after(() => stalls.stop());
      const [stalled] = await until(() => {
        const found = stalls.stalled().filter((s) => s.topic === topic || s.topic === undefined);
        return found.length > 0 ? found : undefined;
      }, 'the stall');
      assert.equal(stalled?.headEventId, 'm1');
      assert.equal(stalled?.lag, 2);
      assert.ok((stalled?.stalledForMs ?? 0) >= 400);
      await until(
        () => (lines.some((l) => String(l.msg).startsWith('partition stalled')) ? true : undefined),
        'the log line',
      );
      release = true;
      await until(() => (stalls.stalled().length === 0 ? true : undefined), 'moving again');
      await until(
        () => (lines.some((l) => l.msg === 'partition moving again') ? true : undefined),
        'the recovery log line',
      );
    });

    test('ping answers while the broker is reachable', async (t) => {
      const { broker } = await openBroker(t, { partitions: 1, sessionMs: 3000 });
      await broker.ping();
    });
  });
}

const defaults = { batchSize: 50, concurrency: 2 } as const;

/** Starts a consumer that records what it receives (and handles all); stopped after the test. */
async function consume(
  t: TestContext,
  broker: Broker,
  options: Pick<ConsumerOptions, 'group' | 'consumerId' | 'topics'> & Partial<ConsumerOptions>,
  received: DeliveredMessage[],
  overrides: Partial<ConsumerOptions> = {},
): Promise<Consumer> {
  const errors: unknown[] = [];
  const consumer = await broker.consume({
    ...defaults,
    handler: async (batch) => {
      received.push(...batch);
      return { handled: batch.length };
    },
    onError: (error) => errors.push(error),
    ...options,
    ...overrides,
  });
  t.after(() => consumer.stop());
  return consumer;
}

function message(
  topic: string,
  id: string,
  key: string,
  seq = 0,
  headers: Record<string, string> = {},
): OutgoingMessage {
  return {
    id,
    topic,
    key,
    type: 'page_view',
    value: { seq, key },
    headers: { correlation_id: `c-${id}`, ...headers },
  };
}

/** The position of `topic`'s only shard (Kafka, Redis), or of the shard with lag (Postgres). */
function shardOf(positions: ShardPosition[], topic: string): ShardPosition | undefined {
  const own = positions.filter((p) => p.topic === topic);
  if (own.length > 0) return own[0];
  const logs = positions.filter((p) => p.topic === undefined);
  return logs.find((p) => p.lag > 0 || p.committed >= 0) ?? logs[0];
}

export function uniqueTopic(family: string): string {
  return `${family}-${randomBytes(4).toString('hex')}`;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
