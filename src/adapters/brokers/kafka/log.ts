import {
  type Admin,
  Consumer as KafkaConsumer,
  ListOffsetTimestamps,
  type Message,
  type MessagesStream,
  stringDeserializers,
} from '@platformatic/kafka';
import { partitionFor } from '../../../domain/partitioning.ts';
import type { DeliveredMessage } from '../../../ports/broker.ts';
import type {
  BrokerLog,
  LogCursor,
  LogPage,
  LogReader,
  LogSelection,
  LogStatus,
  PruneReport,
} from '../../../ports/broker-log.ts';

type Received = Message<string, string, string, string>;

/** What the log needs of its broker. */
export interface KafkaLogContext {
  admin: Admin;
  brokers: readonly string[];
  clientId: string;
  connectTimeoutMs: number;
  /** The Kafka name of a Herald topic or group (`<namespace>.<name>`). */
  named(name: string): string;
  /** The Herald name of a Kafka topic. */
  heraldName(kafkaTopic: string): string;
  /** The Kafka topics of this installation that exist, with their partition counts. */
  topics(): Promise<Map<string, number>>;
  /** Turns a record of `topic` into a delivered message. */
  toDelivered(record: Received, heraldTopic: string): DeliveredMessage;
}

/** Per `<kafka topic>:<partition>`: the next offset to read and the range's end (exclusive). */
interface KafkaCursor {
  partitions: { topic: string; partition: number; next: string; end: string }[];
}

/** How long a read waits without any record before it checks whether records were deleted. */
const STALL_MS = 5000;

/**
 * The Kafka log over time. Kafka's own retention (the topics' retention.ms, set by the broker
 * to twice LOG_RETENTION as a backstop) deletes whatever its age; Herald's cuts at
 * LOG_RETENTION with DeleteRecords, per partition never past the lowest committed offset of a
 * group that reads it, so a stopped group holds its events back. Ranges are found by
 * ListOffsets with timestamps and read by a consumer of their own (a group that never commits).
 */
export class KafkaBrokerLog implements BrokerLog {
  readonly #context: KafkaLogContext;

  constructor(context: KafkaLogContext) {
    this.#context = context;
  }

  async status(cutoff?: Date): Promise<LogStatus> {
    const view = await this.#view(cutoff ?? new Date(0));
    let retained: bigint | undefined;
    let oldest: bigint | undefined;
    for (const p of view.partitions) {
      if (p.firstTimestamp >= 0n) {
        oldest = oldest === undefined || p.firstTimestamp < oldest ? p.firstTimestamp : oldest;
      }
      // Records were deleted before this partition's first one: complete from its time on.
      if (p.earliest > 0n && p.firstTimestamp >= 0n) {
        retained =
          retained === undefined || p.firstTimestamp > retained ? p.firstTimestamp : retained;
      }
    }
    return {
      broker: 'kafka',
      retainedSince: retained === undefined ? null : new Date(Number(retained)),
      oldestAt: oldest === undefined ? null : new Date(Number(oldest)),
      segments: [],
      groups: [...view.groups.keys()].sort().map((group) => ({
        group: this.#context.heraldName(group),
        blocking: cutoff !== undefined && view.holders.has(group),
      })),
    };
  }

  async prune(cutoff: Date): Promise<PruneReport> {
    const view = await this.#view(cutoff);
    const deletions = new Map<string, { partition: number; offset: bigint }[]>();
    let count = 0n;
    for (const p of view.partitions) {
      if (p.cut <= p.earliest) continue;
      deletions.set(p.topic, [
        ...(deletions.get(p.topic) ?? []),
        { partition: p.partition, offset: p.cut },
      ]);
      count += p.cut - p.earliest;
    }
    if (deletions.size > 0) {
      await this.#context.admin.deleteRecords({
        topics: [...deletions].map(([name, partitions]) => ({ name, partitions })),
      });
    }
    return {
      cutoff,
      dropped:
        deletions.size > 0
          ? [`${count} records of ${[...deletions.values()].flat().length} partition(s)`]
          : [],
      count: Number(count),
      heldBy: [...view.holders].map((g) => this.#context.heraldName(g)).sort(),
    };
  }

  async open(selection: LogSelection, cursor: LogCursor | undefined): Promise<LogReader> {
    const state = (cursor as KafkaCursor | undefined) ?? (await this.#locate(selection));
    return new KafkaRangeReader(this.#context, selection, state);
  }

  async forgetGroup(group: string): Promise<boolean> {
    const name = this.#context.named(group);
    const groups = await this.#context.admin.listGroups();
    if (!groups.has(name)) return false;
    await this.#context.admin.deleteGroups({ groups: [name] });
    return true;
  }

  /** Each partition's range of `selection`: the first offsets at or after its from and to. */
  async #locate(selection: LogSelection): Promise<KafkaCursor> {
    const all = await this.#context.topics();
    const wanted =
      selection.keys === undefined
        ? undefined
        : (count: number) => new Set((selection.keys ?? []).map((k) => partitionFor(k, count)));
    const topics = selection.topics
      .map((t) => this.#context.named(t))
      .filter((t) => all.has(t))
      .map((name) => {
        const count = all.get(name) ?? 0;
        const only = wanted?.(count);
        return {
          name,
          partitions: Array.from({ length: count }, (_, i) => i).filter(
            (i) => only === undefined || only.has(i),
          ),
        };
      });
    if (topics.length === 0) return { partitions: [] };
    const offsetsAt = async (timestamp: bigint) =>
      this.#context.admin.listOffsets({
        topics: topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((partitionIndex) => ({ partitionIndex, timestamp })),
        })),
      });
    const [starts, ends, latest] = await Promise.all([
      offsetsAt(BigInt(selection.from.getTime())),
      offsetsAt(BigInt(selection.to.getTime())),
      offsetsAt(ListOffsetTimestamps.LATEST),
    ]);
    const at = (listed: typeof starts, topic: string, partition: number) => {
      const offset = listed
        .find((t) => t.name === topic)
        ?.partitions.find((p) => p.partitionIndex === partition)?.offset;
      return offset === undefined || offset < 0n ? undefined : offset;
    };
    return {
      partitions: topics.flatMap((t) =>
        t.partitions.map((partition) => {
          const end = at(ends, t.name, partition) ?? at(latest, t.name, partition) ?? 0n;
          const start = at(starts, t.name, partition) ?? end;
          return { topic: t.name, partition, next: String(start), end: String(end) };
        }),
      ),
    };
  }

  /**
   * Every partition of this installation's topics: its log start, the first offset at or
   * after `cutoff`, what retention may cut (never past a group that reads the topic and has
   * not committed), and the timestamp of its first record; and the groups holding back what
   * the cutoff would cut.
   */
  async #view(cutoff: Date) {
    const { admin } = this.#context;
    const topics = await this.#context.topics();
    const listed = [...(await admin.listGroups()).keys()].filter((g) =>
      this.#context.named('') === '' ? true : g.startsWith(this.#context.named('')),
    );
    const committed =
      listed.length === 0 ? [] : await admin.listConsumerGroupOffsets({ groups: listed });
    // group → topic → partition → committed offset (-1: none)
    const groups = new Map<string, Map<string, Map<number, bigint>>>();
    for (const g of committed) {
      const byTopic = new Map<string, Map<number, bigint>>();
      for (const t of g.topics) {
        byTopic.set(
          t.name,
          new Map(t.partitions.map((p) => [p.partitionIndex, p.committedOffset])),
        );
      }
      groups.set(g.groupId, byTopic);
    }
    const request = (timestamp: bigint) =>
      admin.listOffsets({
        topics: [...topics].map(([name, count]) => ({
          name,
          partitions: Array.from({ length: count }, (_, partitionIndex) => ({
            partitionIndex,
            timestamp,
          })),
        })),
      });
    const [earliest, latest, atCutoff, first] =
      topics.size === 0
        ? [[], [], [], []]
        : await Promise.all([
            request(ListOffsetTimestamps.EARLIEST),
            request(ListOffsetTimestamps.LATEST),
            request(BigInt(cutoff.getTime())),
            request(0n),
          ]);
    const find = (list: typeof earliest, topic: string, partition: number) =>
      list.find((t) => t.name === topic)?.partitions.find((p) => p.partitionIndex === partition);
    const holders = new Set<string>();
    const partitions: {
      topic: string;
      partition: number;
      earliest: bigint;
      cut: bigint;
      firstTimestamp: bigint;
    }[] = [];
    for (const [topic, count] of topics) {
      for (let partition = 0; partition < count; partition++) {
        const start = find(earliest, topic, partition)?.offset ?? 0n;
        const end = find(latest, topic, partition)?.offset ?? start;
        const byTime = find(atCutoff, topic, partition)?.offset ?? -1n;
        const timeCut = byTime < 0n ? end : byTime;
        let cut = timeCut;
        for (const [group, byTopic] of groups) {
          const commits = byTopic.get(topic);
          if (commits === undefined) continue;
          const done = commits.get(partition) ?? -1n;
          const floor = done < 0n ? start : done;
          if (floor < timeCut) holders.add(group);
          if (floor < cut) cut = floor;
        }
        partitions.push({
          topic,
          partition,
          earliest: start,
          cut,
          firstTimestamp: find(first, topic, partition)?.timestamp ?? -1n,
        });
      }
    }
    return { partitions, groups, holders };
  }
}

/**
 * Reads partitions' offset ranges with a consumer of its own: a group of one that never
 * commits (deleted on close), streaming from the cursor's offsets. Records below a partition's
 * next offset (refetches) and at or past its end are dropped; the cursor advances over every
 * record taken, whether or not it matches the selection.
 */
class KafkaRangeReader implements LogReader {
  readonly #context: KafkaLogContext;
  readonly #selection: LogSelection;
  readonly #state: KafkaCursor;
  readonly #types: Set<string> | undefined;
  readonly #keys: Set<string> | undefined;
  readonly #buffer: Received[] = [];
  #consumer: KafkaConsumer<string, string, string, string> | undefined;
  #stream: MessagesStream<string, string, string, string> | undefined;
  #group = '';
  #wake: (() => void) | undefined;
  #failure: Error | undefined;

  constructor(context: KafkaLogContext, selection: LogSelection, state: KafkaCursor) {
    this.#context = context;
    this.#selection = selection;
    this.#state = { partitions: state.partitions.map((p) => ({ ...p })) };
    this.#types = selection.types === undefined ? undefined : new Set(selection.types);
    this.#keys = selection.keys === undefined ? undefined : new Set(selection.keys);
  }

  async next(limit: number): Promise<LogPage> {
    const messages: DeliveredMessage[] = [];
    let idleSince = Date.now();
    while (messages.length < limit && !this.#done()) {
      if (this.#failure !== undefined) throw this.#failure;
      await this.#ensureStream();
      const record = this.#buffer.shift();
      if (record === undefined) {
        if (messages.length > 0) break;
        if (Date.now() - idleSince > STALL_MS) {
          await this.#skipDeleted();
          idleSince = Date.now();
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 200);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        continue;
      }
      idleSince = Date.now();
      const range = this.#state.partitions.find(
        (p) => p.topic === record.topic && p.partition === record.partition,
      );
      if (range === undefined) continue;
      if (record.offset < BigInt(range.next) || record.offset >= BigInt(range.end)) continue;
      range.next = String(record.offset + 1n);
      const message = this.#context.toDelivered(record, this.#context.heraldName(record.topic));
      if (!this.#matches(message)) continue;
      messages.push(message);
    }
    if (this.#stream !== undefined && this.#buffer.length < limit) this.#stream.resume();
    return {
      messages,
      cursor: { partitions: this.#state.partitions.map((p) => ({ ...p })) },
      done: this.#done(),
    };
  }

  async close(): Promise<void> {
    await this.#stream?.close().catch(() => {});
    await this.#consumer?.close(true).catch(() => {});
    if (this.#group !== '') {
      await this.#context.admin.deleteGroups({ groups: [this.#group] }).catch(() => {});
    }
    this.#stream = undefined;
    this.#consumer = undefined;
  }

  #done(): boolean {
    return this.#state.partitions.every((p) => BigInt(p.next) >= BigInt(p.end));
  }

  #matches(message: DeliveredMessage): boolean {
    const at = message.acceptedAt.getTime();
    if (message.generation !== 0) return false;
    if (at < this.#selection.from.getTime() || at >= this.#selection.to.getTime()) return false;
    if (this.#types !== undefined && !this.#types.has(message.type)) return false;
    return this.#keys === undefined || this.#keys.has(message.key);
  }

  async #ensureStream(): Promise<void> {
    if (this.#stream !== undefined) return;
    this.#group = this.#context.named(`herald-replay-${Math.random().toString(36).slice(2, 10)}`);
    const consumer = new KafkaConsumer({
      clientId: `${this.#context.clientId}-replay`,
      groupId: this.#group,
      bootstrapBrokers: [...this.#context.brokers],
      deserializers: stringDeserializers,
      connectTimeout: this.#context.connectTimeoutMs,
      autocommit: false,
      maxWaitTime: 200,
    });
    this.#consumer = consumer;
    const open = this.#state.partitions.filter((p) => BigInt(p.next) < BigInt(p.end));
    const stream = await consumer.consume({
      topics: [...new Set(this.#state.partitions.map((p) => p.topic))],
      mode: 'manual',
      offsets: this.#state.partitions.map((p) => ({
        topic: p.topic,
        partition: p.partition,
        offset: BigInt(open.includes(p) ? p.next : p.end),
      })),
      autocommit: false,
    });
    stream.on('data', (record: Received) => {
      this.#buffer.push(record);
      if (this.#buffer.length > 5000) stream.pause();
      this.#wake?.();
    });
    stream.on('error', (error: Error) => {
      this.#failure = error;
      this.#wake?.();
    });
    this.#stream = stream;
  }

  /** A partition whose next record was deleted (retention) moves on to its log start. */
  async #skipDeleted(): Promise<void> {
    const open = this.#state.partitions.filter((p) => BigInt(p.next) < BigInt(p.end));
    if (open.length === 0) return;
    const byTopic = new Map<string, number[]>();
    for (const p of open) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.partition]);
    const earliest = await this.#context.admin.listOffsets({
      topics: [...byTopic].map(([name, partitions]) => ({
        name,
        partitions: partitions.map((partitionIndex) => ({
          partitionIndex,
          timestamp: ListOffsetTimestamps.EARLIEST,
        })),
      })),
    });
    for (const p of open) {
      const start = earliest
        .find((t) => t.name === p.topic)
        ?.partitions.find((x) => x.partitionIndex === p.partition)?.offset;
      if (start !== undefined && start > BigInt(p.next)) p.next = String(start);
    }
  }
}
