import type { BrokerLog } from './broker-log.ts';

/**
 * The transport between the API and the workers, modelled as Kafka models it: messages go to a
 * topic, land in a partition chosen by their key (so one key's messages stay in order), and
 * each consumer group reads every partition from its own committed offset. Delivery is
 * at-least-once; consumers make effects idempotent on the message id.
 */

export type Headers = Record<string, string>;

export interface OutgoingMessage {
  /** Unique event id; publishing the same id twice is a no-op where the broker can tell. */
  id: string;
  topic: string;
  /** Ordering key: messages with equal keys are delivered in publish order. */
  key: string;
  type: string;
  value: Record<string, unknown>;
  headers: Headers;
  /** 0 (the default) for the original, n for the n-th replay of a dead letter. */
  generation?: number;
}

export interface DeliveredMessage extends OutgoingMessage {
  partition: number;
  offset: number;
  acceptedAt: Date;
  generation: number;
  /**
   * Set when the broker holds something that is not a Herald message: a value that is not a
   * JSON object, say, written by another producer. `value` is then `{}` and `raw` is what was
   * there; the pipeline dead-letters it as poison instead of the consumer failing on it.
   */
  malformed?: { reason: string; raw: string };
}

export type PublishStatus = 'appended' | 'duplicate';

export interface PublishResult {
  id: string;
  status: PublishStatus;
  /** Where an appended message went, when the broker says (Kafka, Redis): for the dedupe record. */
  partition?: number;
  offset?: number;
}

/**
 * What a batch handler did: the first `handled` messages are done (their offsets may be
 * committed); the rest are delivered again, not before `retryAfterMs`.
 */
export interface BatchOutcome {
  handled: number;
  retryAfterMs?: number;
}

export type BatchHandler = (batch: DeliveredMessage[]) => Promise<BatchOutcome>;

export interface ConsumerOptions {
  group: string;
  /** Identifies this consumer in leases and logs. */
  consumerId: string;
  /** Topics to receive; others are skipped (and committed past). */
  topics: readonly string[];
  batchSize: number;
  /** How many partitions this consumer works on at once. */
  concurrency: number;
  handler: BatchHandler;
  /** Called when a fetch, commit or handler fails unexpectedly; the consumer keeps going. */
  onError?: (error: unknown) => void;
}

export interface Consumer {
  /** Stops fetching, waits for in-flight batches (their outcome is committed), releases leases. */
  stop(): Promise<void>;
}

export interface PartitionLag {
  partition: number;
  /** Offsets published but not yet committed by the group. */
  lag: number;
}

/**
 * Where a consumer group stands on one shard of the log (a partition of the Postgres log, a
 * topic's partition on Kafka and Redis): what stall detection watches.
 */
export interface ShardPosition {
  /** The shard's topic where the broker keeps a log per topic (Kafka, Redis); absent on the
   * Postgres log, whose partitions carry every topic. */
  topic?: string;
  partition: number;
  /** The last offset the group committed (-1 before any); it moves whenever the group does. */
  committed: number;
  /** Messages after `committed` (Postgres: offsets, duplicates' gaps included). */
  lag: number;
  /**
   * The first message after `committed`, where the broker can tell: always on Postgres and
   * Redis; on Kafka only for the partitions a consumer of this process holds.
   */
  head?: { id: string; offset: number; generation: number };
}

export interface Broker {
  readonly name: string;
  /** Resolves once every message is durable in the broker. */
  publish(messages: readonly OutgoingMessage[]): Promise<PublishResult[]>;
  consume(options: ConsumerOptions): Promise<Consumer>;
  lag(group: string): Promise<PartitionLag[]>;
  /** Each shard's committed offset, lag and head message for `group` (see ShardPosition). */
  positions(group: string): Promise<ShardPosition[]>;
  /** The log over time: retention and range reads (issue #20). */
  readonly log: BrokerLog;
  /** Throws when the broker cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
