import {
  Admin,
  ConfigResourceTypes,
  IncrementalAlterConfigOperationTypes,
  Producer,
  stringSerializers,
} from '@platformatic/kafka';
import { TOPICS } from '../../../domain/events.ts';
import { partitionFor } from '../../../domain/partitioning.ts';
import { SCHEMAS_TOPIC } from '../../../domain/schemas/model.ts';
import { USERS_TOPIC } from '../../../domain/users.ts';
import { ErrorCodes, HeraldError } from '../../../errors.ts';
import type {
  Broker,
  Consumer,
  ConsumerOptions,
  OutgoingMessage,
  PartitionLag,
  PublishResult,
  ShardPosition,
} from '../../../ports/broker.ts';
import { toDelivered, toRecord } from './codec.ts';
import { KafkaPartitionConsumer } from './consumer.ts';
import { KafkaBrokerLog } from './log.ts';

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
  /**
   * How long a consumer waits for records its fetch stream skipped to be fetched again before
   * it reopens the stream (see KafkaPartitionConsumer).
   */
  gapHealTimeoutMs?: number;
  /**
   * retention.ms (and segment.ms) of Herald's topics: set on the topics it creates and on
   * existing ones when they are first used; undefined leaves the topics' own (issue #20).
   */
  topicRetention?: { retentionMs: number; segmentMs: number };
}

/** The options with their defaults filled in. */
export type FullKafkaOptions = Required<Omit<KafkaBrokerOptions, 'topicRetention'>> &
  Pick<KafkaBrokerOptions, 'topicRetention'>;

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
  /** The log over time: consumer-aware retention, ranges by time (log.ts). */
  readonly log: KafkaBrokerLog;
  readonly #options: FullKafkaOptions;
  readonly #admin: Admin;
  readonly #producer: Producer<string, string, string, string>;
  readonly #partitions = new Map<string, number>();
  readonly #groupTopics = new Map<string, Set<string>>();
  readonly #consumers = new Set<KafkaPartitionConsumer>();

  private constructor(options: FullKafkaOptions, admin: Admin) {
    this.#options = options;
    this.#admin = admin;
    const prefix = this.#named('');
    this.log = new KafkaBrokerLog({
      admin,
      brokers: options.brokers,
      clientId: options.clientId,
      connectTimeoutMs: options.connectTimeoutMs,
      named: (name) => this.#named(name),
      heraldName: (topic) => (topic.startsWith(prefix) ? topic.slice(prefix.length) : topic),
      topics: () => this.#installationTopics(),
      toDelivered,
    });
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
    const full: FullKafkaOptions = {
      clientId: 'herald',
      replicationFactor: -1,
      sessionTimeoutMs: 30_000,
      heartbeatIntervalMs: 3000,
      connectTimeoutMs: 5000,
      namespace: '',
      gapHealTimeoutMs: 5000,
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
      throw new HeraldError(
        ErrorCodes.BROKER_UNAVAILABLE,
        `Kafka at ${full.brokers.join(',')} cannot be reached: ${String(error)}`,
        { cause: error, retryable: true },
      );
    }
    return new KafkaBroker(full, admin);
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<PublishResult[]> {
    if (messages.length === 0) return [];
    const topics = messages.map((m) => this.#named(m.topic));
    let offsets: Map<string, number>;
    try {
      await this.#ensureTopics(topics);
      offsets = await this.#send(messages, topics);
    } catch (error) {
      // Ambiguous after a timeout: some records may be written. The client retries with the
      // same ids and consumers are idempotent on them.
      throw new HeraldError(
        ErrorCodes.BROKER_UNAVAILABLE,
        `Kafka did not acknowledge the events: ${error}`,
        { cause: error, retryable: true },
      );
    }
    // The produce response gives each partition's first offset; a partition's messages follow it.
    const seen = new Map<string, number>();
    return messages.map((m, i) => {
      const topic = topics[i] ?? this.#named(m.topic);
      const partition = this.#partitionOf(m);
      const where = `${topic}:${partition}`;
      const index = seen.get(where) ?? 0;
      seen.set(where, index + 1);
      const base = offsets.get(where);
      return {
        id: m.id,
        status: 'appended',
        partition,
        ...(base === undefined ? {} : { offset: base + index }),
      };
    });
  }

  #partitionOf(m: OutgoingMessage): number {
    return partitionFor(
      m.key,
      this.#partitions.get(this.#named(m.topic)) ?? this.#options.partitions,
    );
  }

  /** Sends, and returns the first offset written per `<topic>:<partition>`. */
  async #send(
    messages: readonly OutgoingMessage[],
    topics: readonly string[],
  ): Promise<Map<string, number>> {
    const result = await this.#producer.send({
      messages: messages.map((m, i) =>
        toRecord(m, topics[i] ?? this.#named(m.topic), this.#partitionOf(m)),
      ),
    });
    const firsts = new Map<string, number>();
    const split = new Set<string>();
    for (const o of result.offsets ?? []) {
      const where = `${o.topic}:${o.partition}`;
      // Written in more than one batch: which message got which offset is not known.
      if (firsts.has(where)) split.add(where);
      firsts.set(where, Number(o.offset));
    }
    for (const where of split) firsts.delete(where);
    return firsts;
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
    const lags = new Map<number, number>();
    for (let p = 0; p < this.#options.partitions; p++) lags.set(p, 0);
    for (const shard of await this.#offsets(this.#named(heraldGroup))) {
      const lag = Math.max(Number(shard.end - shard.next), 0);
      lags.set(shard.partition, (lags.get(shard.partition) ?? 0) + lag);
    }
    return [...lags].sort(([a], [b]) => a - b).map(([partition, lag]) => ({ partition, lag }));
  }

  async positions(heraldGroup: string): Promise<ShardPosition[]> {
    const group = this.#named(heraldGroup);
    const prefix = this.#named('');
    return (await this.#offsets(group)).map((shard) => {
      const position: ShardPosition = {
        topic: shard.topic.startsWith(prefix) ? shard.topic.slice(prefix.length) : shard.topic,
        partition: shard.partition,
        // Kafka commits the next offset to read; Herald's committed offset is the last done.
        committed: Number(shard.next) - 1,
        lag: Math.max(Number(shard.end - shard.next), 0),
      };
      // Only a consumer holding the partition knows the record at its head: ask ours.
      for (const consumer of this.#consumers) {
        const head = consumer.headOf(group, shard.topic, shard.partition);
        if (head !== undefined && BigInt(head.offset) === shard.next && position.lag > 0) {
          position.head = { id: head.id, offset: head.offset, generation: head.generation };
        }
      }
      return position;
    });
  }

  /**
   * The group's next offset to read (its committed offset, or 0 before any commit) and the
   * log end of every partition of every topic it consumes or has committed on.
   */
  async #offsets(
    group: string,
  ): Promise<{ topic: string; partition: number; next: bigint; end: bigint }[]> {
    const [committed] = await this.#admin.listConsumerGroupOffsets({ groups: [group] });
    const topics = new Set(this.#groupTopics.get(group));
    const commits = new Map<string, bigint>();
    for (const topic of committed?.topics ?? []) {
      topics.add(topic.name);
      for (const p of topic.partitions)
        commits.set(`${topic.name}:${p.partitionIndex}`, p.committedOffset);
    }
    if (topics.size === 0) return [];
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
    return ends
      .flatMap((topic) =>
        topic.partitions.map((p) => {
          const done = commits.get(`${topic.name}:${p.partitionIndex}`) ?? 0n;
          return {
            topic: topic.name,
            partition: p.partitionIndex,
            next: done > 0n ? done : 0n,
            end: p.offset,
          };
        }),
      )
      .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
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

  /**
   * This installation's topics that exist, with their partition counts: every topic of the
   * namespace, or Herald's own names when there is no namespace (the cluster may hold others').
   */
  async #installationTopics(): Promise<Map<string, number>> {
    const prefix = this.#named('');
    const names = (await this.#admin.listTopics()).filter((t) =>
      prefix === '' ? HERALD_TOPICS.includes(t as never) : t.startsWith(prefix),
    );
    await this.#ensureTopics(names);
    return new Map(names.map((t) => [t, this.#partitions.get(t) ?? 0]));
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
    const retention = this.#options.topicRetention;
    const configs =
      retention === undefined
        ? []
        : [
            { name: 'retention.ms', value: String(retention.retentionMs) },
            { name: 'segment.ms', value: String(retention.segmentMs) },
          ];
    if (missing.length > 0) {
      try {
        await this.#admin.createTopics({
          topics: missing,
          partitions: this.#options.partitions,
          replicas: this.#options.replicationFactor,
          ...(configs.length > 0 ? { configs } : {}),
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
    const existed = unknown.filter((t) => existing.has(t));
    if (configs.length > 0 && existed.length > 0) {
      // Topics made before LOG_RETENTION was set, or with another value: brought in line.
      await this.#admin.incrementalAlterConfigs({
        resources: existed.map((resourceName) => ({
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName,
          configs: configs.map((c) => ({
            ...c,
            configOperation: IncrementalAlterConfigOperationTypes.SET,
          })),
        })),
      });
    }
    const metadata = await this.#admin.metadata({ topics: unknown, forceUpdate: true });
    for (const topic of unknown) {
      const count = metadata.topics.get(topic)?.partitionsCount;
      if (count === undefined) throw new Error(`Kafka has no metadata for topic ${topic}`);
      this.#partitions.set(topic, count);
    }
  }
}

/** Herald's topic names (the producers' families and internal topics), in Kafka. */
const HERALD_TOPICS = [...TOPICS, USERS_TOPIC, SCHEMAS_TOPIC];

function hasAlreadyExists(error: unknown): boolean {
  const nested = (error as { errors?: unknown[] }).errors;
  return Array.isArray(nested) && nested.some((e) => String(e).includes('already exists'));
}
