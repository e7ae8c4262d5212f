import { EventEmitter } from 'node:events';
import {
  Admin,
  Consumer as KafkaConsumer,
  type Message,
  type MessagesStream,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import { partitionFor } from '../../../domain/partitioning.ts';
import { ErrorCodes, HeraldError } from '../../../errors.ts';
import type {
  Broker,
  Consumer,
  ConsumerOptions,
  DeliveredMessage,
  OutgoingMessage,
  PartitionLag,
  PublishResult,
} from '../../../ports/broker.ts';

export interface KafkaBrokerOptions {
  /** `host:port` of the bootstrap brokers. */
  brokers: readonly string[];
  clientId?: string;
  /** Partitions of a topic Herald creates; an existing topic keeps its count. */
  partitions: number;
  /**
   * Replicas of each partition of a topic Herald creates; -1 (the default) lets the broker
   * apply its `default.replication.factor`. An existing topic keeps its own.
   */
  replicationFactor?: number;
  /** How soon the group coordinator gives a silent (crashed) consumer's partitions away. */
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** How long `open` waits for the cluster before failing. */
  connectTimeoutMs?: number;
  /**
   * Prefix of every topic and consumer group (`<namespace>.analytics`), so several
   * installations or test runs can share one cluster; empty = names as given.
   */
  namespace?: string;
}

/** Headers Herald adds to every record beside the message's own (correlation_id, traceparent). */
const EVENT_ID = 'event_id';
const EVENT_TYPE = 'event_type';
const GENERATION = 'generation';

type Received = Message<string, string, string, string>;

/**
 * The Kafka transport (@platformatic/kafka, pure JS). One topic per event family, created on
 * first use; the partition is chosen here with Herald's murmur2 `partitionFor`, so it matches
 * the other transports. Publishing uses an idempotent producer with acks=all. Consuming joins
 * a classic consumer group with offsets committed by hand, only for the handled prefix of a
 * batch and only after the handler resolved.
 *
 * @example
 * const broker = await KafkaBroker.open({ brokers: ['127.0.0.1:9092'], partitions: 16 });
 */
export class KafkaBroker implements Broker {
  readonly name = 'kafka';
  readonly #options: Required<KafkaBrokerOptions>;
  readonly #admin: Admin;
  readonly #producer: Producer<string, string, string, string>;
  readonly #partitions = new Map<string, number>();
  readonly #groupTopics = new Map<string, Set<string>>();
  readonly #consumers = new Set<KafkaPartitionConsumer>();

  private constructor(options: Required<KafkaBrokerOptions>, admin: Admin) {
    this.#options = options;
    this.#admin = admin;
    this.#producer = new Producer({
      clientId: `${options.clientId}-producer`,
      bootstrapBrokers: [...options.brokers],
      serializers: stringSerializers,
      idempotent: true,
      acks: -1,
      connectTimeout: options.connectTimeoutMs,
    });
  }

  static async open(options: KafkaBrokerOptions): Promise<KafkaBroker> {
    const full: Required<KafkaBrokerOptions> = {
      clientId: 'herald',
      replicationFactor: -1,
      sessionTimeoutMs: 30_000,
      heartbeatIntervalMs: 3000,
      connectTimeoutMs: 5000,
      namespace: '',
      ...options,
    };
    const admin = new Admin({
      clientId: `${full.clientId}-admin`,
      bootstrapBrokers: [...full.brokers],
      connectTimeout: full.connectTimeoutMs,
      retries: 1,
    });
    try {
      await admin.metadata({ topics: [] });
    } catch (error) {
      await admin.close().catch(() => {});
      throw new Error(`Kafka at ${full.brokers.join(',')} cannot be reached: ${String(error)}`, {
        cause: error,
      });
    }
    return new KafkaBroker(full, admin);
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<PublishResult[]> {
    if (messages.length === 0) return [];
    const topics = messages.map((m) => this.#named(m.topic));
    try {
      await this.#ensureTopics(topics);
      await this.#send(messages, topics);
    } catch (error) {
      // Ambiguous after a timeout: some records may be written. The client retries with the
      // same ids and consumers are idempotent on them.
      throw new HeraldError(
        ErrorCodes.BROKER_UNAVAILABLE,
        `Kafka did not acknowledge the events: ${error}`,
        { cause: error, retryable: true },
      );
    }
    return messages.map((m) => ({ id: m.id, status: 'appended' }));
  }

  async #send(messages: readonly OutgoingMessage[], topics: readonly string[]): Promise<void> {
    await this.#producer.send({
      messages: messages.map((m, i) => ({
        topic: topics[i] ?? this.#named(m.topic),
        key: m.key,
        value: JSON.stringify(m.value),
        partition: partitionFor(
          m.key,
          this.#partitions.get(this.#named(m.topic)) ?? this.#options.partitions,
        ),
        headers: {
          ...m.headers,
          [EVENT_ID]: m.id,
          [EVENT_TYPE]: m.type,
          [GENERATION]: String(m.generation ?? 0),
        },
      })),
    });
  }

  async consume(herald: ConsumerOptions): Promise<Consumer> {
    const options = {
      ...herald,
      group: this.#named(herald.group),
      topics: herald.topics.map((t) => this.#named(t)),
    };
    await this.#ensureTopics(options.topics);
    const topics = this.#groupTopics.get(options.group) ?? new Set<string>();
    this.#groupTopics.set(options.group, topics);
    for (const topic of options.topics) topics.add(topic);
    const prefix = this.#named('');
    const consumer = new KafkaPartitionConsumer(this.#options, options, (topic) =>
      topic.startsWith(prefix) ? topic.slice(prefix.length) : topic,
    );
    this.#consumers.add(consumer);
    consumer.closed.then(() => this.#consumers.delete(consumer));
    await consumer.start();
    return consumer;
  }

  async lag(heraldGroup: string): Promise<PartitionLag[]> {
    const group = this.#named(heraldGroup);
    const [committed] = await this.#admin.listConsumerGroupOffsets({ groups: [group] });
    const topics = new Set(this.#groupTopics.get(group));
    const commits = new Map<string, bigint>();
    for (const topic of committed?.topics ?? []) {
      topics.add(topic.name);
      for (const p of topic.partitions)
        commits.set(`${topic.name}:${p.partitionIndex}`, p.committedOffset);
    }
    const lags = new Map<number, number>();
    for (let p = 0; p < this.#options.partitions; p++) lags.set(p, 0);
    if (topics.size > 0) {
      await this.#ensureTopics([...topics]);
      const ends = await this.#admin.listOffsets({
        topics: [...topics].map((name) => ({
          name,
          partitions: Array.from({ length: this.#partitions.get(name) ?? 0 }, (_, i) => ({
            partitionIndex: i,
            timestamp: -1n,
          })),
        })),
      });
      for (const topic of ends) {
        for (const p of topic.partitions) {
          const done = commits.get(`${topic.name}:${p.partitionIndex}`) ?? 0n;
          const lag = Number(p.offset - (done > 0n ? done : 0n));
          lags.set(p.partitionIndex, (lags.get(p.partitionIndex) ?? 0) + Math.max(lag, 0));
        }
      }
    }
    return [...lags].sort(([a], [b]) => a - b).map(([partition, lag]) => ({ partition, lag }));
  }

  async ping(): Promise<void> {
    await this.#admin.metadata({ topics: [], forceUpdate: true });
  }

  async close(): Promise<void> {
    await Promise.all([...this.#consumers].map((c) => c.stop()));
    await this.#producer.close();
    await this.#admin.close();
  }

  /**
   * Drops this broker's consumers as a killed process would: connections closed without
   * leaving the group or committing, so the coordinator reassigns their partitions only when
   * their session times out. For crash tests.
   */
  async crash(): Promise<void> {
    await Promise.all([...this.#consumers].map((c) => c.crash()));
  }

  /** The Kafka name of a Herald topic or group: the namespace, a dot, the name. */
  #named(name: string): string {
    return this.#options.namespace === '' ? name : `${this.#options.namespace}.${name}`;
  }

  /** Creates missing topics and learns every topic's partition count. */
  async #ensureTopics(topics: readonly string[]): Promise<void> {
    const unknown = [...new Set(topics)].filter((t) => !this.#partitions.has(t));
    if (unknown.length === 0) return;
    const existing = new Set(await this.#admin.listTopics());
    const missing = unknown.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      try {
        await this.#admin.createTopics({
          topics: missing,
          partitions: this.#options.partitions,
          replicas: this.#options.replicationFactor,
        });
      } catch (error) {
        // Another process may have created it first.
        if (!String(error).includes('TOPIC_ALREADY_EXISTS') && !hasAlreadyExists(error)) {
          const { partitions, replicationFactor } = this.#options;
          const replicas = replicationFactor === -1 ? "the broker's default" : replicationFactor;
          throw new Error(
            `Kafka could not create topics ${missing.join(', ')} (${partitions} partitions, ` +
              `replication factor ${replicas}): ${error}`,
            { cause: error },
          );
        }
      }
    }
    const metadata = await this.#admin.metadata({ topics: unknown, forceUpdate: true });
    for (const topic of unknown) {
      const count = metadata.topics.get(topic)?.partitionsCount;
      if (count === undefined) throw new Error(`Kafka has no metadata for topic ${topic}`);
      this.#partitions.set(topic, count);
    }
  }
}

function hasAlreadyExists(error: unknown): boolean {
  const nested = (error as { errors?: unknown[] }).errors;
  return Array.isArray(nested) && nested.some((e) => String(e).includes('already exists'));
}

interface PartitionState {
  topic: string;
  partition: number;
  queue: DeliveredMessage[];
  leaderEpochs: number[];
  /** The offset the next record from the stream must have; earlier ones are refetches. */
  next: bigint | undefined;
  busy: boolean;
  notBefore: number;
}

/**
 * One member of a consumer group. The fetch stream fills a queue per assigned partition; up to
 * `concurrency` slots each take a batch from one idle partition, so a partition is handled by
 * one batch at a time, in order. The handled prefix is committed; the rest goes back to the
 * front of its queue with a not-before time (no seek needed). After a rebalance the stream
 * refetches from the committed offsets; records already queued or handled are recognised by
 * offset and dropped, and batches of partitions this member lost are not committed.
 */
class KafkaPartitionConsumer implements Consumer {
  readonly #options: ConsumerOptions;
  /** Kafka topic name → the Herald topic delivered messages carry. */
  readonly #heraldTopic: (kafkaTopic: string) => string;
  readonly #consumer: KafkaConsumer<string, string, string, string>;
  readonly #topics: Set<string>;
  readonly #partitions = new Map<string, PartitionState>();
  readonly #wake = new EventEmitter();
  readonly #stopping = new AbortController();
  #stream: MessagesStream<string, string, string, string> | undefined;
  #assigned = new Set<string>();
  #buffered = 0;
  #slots: Promise<void>[] = [];
  #stopped: Promise<void> | undefined;
  #markClosed!: () => void;
  readonly closed = new Promise<void>((resolve) => {
    this.#markClosed = resolve;
  });

  constructor(
    config: Required<KafkaBrokerOptions>,
    options: ConsumerOptions,
    heraldTopic: (kafkaTopic: string) => string,
  ) {
    this.#options = options;
    this.#heraldTopic = heraldTopic;
    this.#topics = new Set(options.topics);
    this.#consumer = new KafkaConsumer({
      clientId: options.consumerId,
      groupId: options.group,
      bootstrapBrokers: [...config.brokers],
      deserializers: stringDeserializers,
      sessionTimeout: config.sessionTimeoutMs,
      heartbeatInterval: config.heartbeatIntervalMs,
      rebalanceTimeout: config.sessionTimeoutMs,
      connectTimeout: config.connectTimeoutMs,
      autocommit: false,
      maxWaitTime: 200,
    });
    this.#consumer.on('consumer:group:join', ({ assignments }) => {
      const assigned = new Set<string>();
      for (const a of assignments ?? [])
        for (const p of a.partitions) assigned.add(`${a.topic}:${p}`);
      this.#assigned = assigned;
      for (const [key, state] of this.#partitions) {
        if (!assigned.has(key) && !state.busy) this.#forget(key, state);
      }
    });
  }

  async start(): Promise<void> {
    const stream = await this.#consumer.consume({
      topics: [...this.#topics],
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: false,
    });
    this.#stream = stream;
    stream.on('data', (record: Received) => this.#receive(record));
    stream.on('error', (error: Error) => this.#options.onError?.(error));
    this.#slots = Array.from({ length: this.#options.concurrency }, () => this.#runSlot());
  }

  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stopping.abort();
      this.#wake.emit('wake');
      await Promise.all(this.#slots);
      await this.#stream?.close().catch((error: unknown) => this.#options.onError?.(error));
      await this.#consumer.close(true).catch((error: unknown) => this.#options.onError?.(error));
      this.#markClosed();
    })();
    return this.#stopped;
  }

  /**
   * Drops the connections as a killed process would: no LeaveGroup (the pool is closed before
   * the client's close tries to send one), nothing committed, the handler abandoned. The
   * coordinator gives the partitions away once the session times out.
   */
  async crash(): Promise<void> {
    this.#stopping.abort();
    this.#wake.emit('wake');
    this.#stream?.destroy();
    // Close the client's connection pool first: then its close finds no coordinator connection
    // to send a LeaveGroup on, and only stops the heartbeat timer.
    const pool = connectionsOf(this.#consumer);
    await pool?.close();
    await this.#consumer.close(true).catch(() => {});
    this.#stopped = Promise.resolve();
    this.#markClosed();
  }

  #receive(record: Received): void {
    const key = `${record.topic}:${record.partition}`;
    let state = this.#partitions.get(key);
    if (state === undefined) {
      state = {
        topic: record.topic,
        partition: record.partition,
        queue: [],
        leaderEpochs: [],
        next: undefined,
        busy: false,
        notBefore: 0,
      };
      this.#partitions.set(key, state);
    }
    if (state.next !== undefined && record.offset < state.next) return;
    state.next = record.offset + 1n;
    state.queue.push(toDelivered(record, this.#heraldTopic(record.topic)));
    state.leaderEpochs.push(record.leaderEpoch);
    this.#buffered++;
    // Backpressure: stop fetching while far ahead of the handlers.
    if (this.#buffered > this.#options.batchSize * Math.max(this.#options.concurrency, 1) * 20) {
      this.#stream?.pause();
    }
    this.#wake.emit('wake');
  }

  #forget(key: string, state: PartitionState): void {
    this.#buffered -= state.queue.length;
    this.#partitions.delete(key);
  }

  async #runSlot(): Promise<void> {
    const { signal } = this.#stopping;
    while (!signal.aborted) {
      const state = this.#pick();
      if (state === undefined) {
        await this.#idle();
        continue;
      }
      await this.#work(state);
    }
  }

  /** The idle partition with queued records that has waited longest, if any may go now. */
  #pick(): PartitionState | undefined {
    const now = Date.now();
    let best: PartitionState | undefined;
    for (const state of this.#partitions.values()) {
      if (state.busy || state.queue.length === 0 || state.notBefore > now) continue;
      if (best === undefined || state.notBefore < best.notBefore) best = state;
    }
    return best;
  }

  /** Waits for a new record, a finished batch, a retry coming due or the stop. */
  async #idle(): Promise<void> {
    if (this.#stopping.signal.aborted) return;
    const now = Date.now();
    let wait = 250;
    for (const s of this.#partitions.values()) {
      if (!s.busy && s.queue.length > 0) wait = Math.min(wait, Math.max(s.notBefore - now, 1));
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake.off('wake', done);
        resolve();
      };
      const timer = setTimeout(done, wait);
      this.#wake.on('wake', done);
    });
  }

  async #work(state: PartitionState): Promise<void> {
    const { handler, batchSize } = this.#options;
    state.busy = true;
    const batch = state.queue.splice(0, batchSize);
    const epochs = state.leaderEpochs.splice(0, batch.length);
    this.#buffered -= batch.length;
    if (this.#buffered < this.#options.batchSize * Math.max(this.#options.concurrency, 1) * 5) {
      this.#stream?.resume();
    }
    let handled = 0;
    let retryAfterMs = 0;
    try {
      const outcome = await handler(batch);
      handled = Math.min(Math.max(outcome.handled, 0), batch.length);
      retryAfterMs = handled < batch.length ? (outcome.retryAfterMs ?? 0) : 0;
    } catch (error) {
      this.#options.onError?.(error);
      retryAfterMs = 500;
    }
    const key = `${state.topic}:${state.partition}`;
    const owned = this.#assigned.has(key) && this.#partitions.get(key) === state;
    const last = batch[handled - 1];
    if (owned && last !== undefined) {
      try {
        await this.#consumer.commit({
          offsets: [
            {
              topic: state.topic,
              partition: state.partition,
              offset: BigInt(last.offset) + 1n,
              leaderEpoch: epochs[handled - 1] ?? -1,
            },
          ],
        });
      } catch (error) {
        // Handled but not committed: at-least-once, the next owner redelivers them.
        this.#options.onError?.(error);
      }
    }
    state.busy = false;
    if (!owned) {
      // Lost in a rebalance: the new owner starts from the committed offset.
      if (this.#partitions.get(key) === state) this.#forget(key, state);
    } else if (handled < batch.length) {
      state.queue.unshift(...batch.slice(handled));
      state.leaderEpochs.unshift(...epochs.slice(handled));
      this.#buffered += batch.length - handled;
      state.notBefore = Date.now() + retryAfterMs;
    } else {
      state.notBefore = Date.now();
    }
    this.#wake.emit('wake');
  }
}

/** The client's connection pool (a symbol-keyed field of @platformatic/kafka's clients). */
function connectionsOf(client: object): { close(): Promise<void> } | undefined {
  const key = Object.getOwnPropertySymbols(client).find(
    (symbol) => symbol.description === 'plt.kafka.base.connections',
  );
  return key === undefined
    ? undefined
    : (client as { [key: symbol]: { close(): Promise<void> } })[key];
}

function toDelivered(record: Received, topic: string): DeliveredMessage {
  const headers: { [name: string]: string } = {};
  for (const [name, value] of record.headers) headers[name] = value;
  const id = headers[EVENT_ID] ?? '';
  const type = headers[EVENT_TYPE] ?? '';
  const generation = Number(headers[GENERATION] ?? 0);
  delete headers[EVENT_ID];
  delete headers[EVENT_TYPE];
  delete headers[GENERATION];
  return {
    id,
    topic,
    key: record.key,
    type,
    value: JSON.parse(record.value) as { [name: string]: unknown },
    headers,
    partition: record.partition,
    offset: Number(record.offset),
    acceptedAt: new Date(Number(record.timestamp)),
    generation,
  };
}
