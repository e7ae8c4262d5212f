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

export interface Broker {
  readonly name: string;
  /** Resolves once every message is durable in the broker. */
  publish(messages: readonly OutgoingMessage[]): Promise<PublishResult[]>;
  consume(options: ConsumerOptions): Promise<Consumer>;
  lag(group: string): Promise<PartitionLag[]>;
  /** The log over time: retention and range reads (issue #20). */
  readonly log: BrokerLog;
  /** Throws when the broker cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
