import { EventEmitter } from 'node:events';
import { partitionFor } from '../../../domain/partitioning.ts';
import type {
  Broker,
  Consumer,
  ConsumerOptions,
  DeliveredMessage,
  OutgoingMessage,
  PartitionLag,
  PublishResult,
  ShardPosition,
} from '../../../ports/broker.ts';
import type { Database } from '../../../ports/database.ts';
import { PollingConsumer } from '../polling-slots.ts';
import { PostgresBrokerLog } from './log.ts';
import * as sql from './sql.ts';

export interface PostgresBrokerOptions {
  /** Partitions to create when the log is new; an existing log keeps its count. */
  partitions: number;
  leaseMs: number;
  pollMs: number;
  /** An id appended again within this many ms of its acceptance is a duplicate (DEDUPE_WINDOW). */
  dedupeWindowMs?: number;
}

/** DEDUPE_WINDOW's default. */
const DEFAULT_DEDUPE_WINDOW_MS = 86_400_000;

interface LogRow {
  partition: number;
  offset: number;
  event_id: string;
  generation: number;
  topic: string;
  event_type: string;
  key: string;
  /** jsonb: an object from Herald's producers, anything from another. */
  payload: Record<string, unknown>;
  headers: Record<string, string>;
  accepted_at: Date | string;
  segment: number;
}

/**
 * The Postgres transport: the `raw_events` log is the queue (see sql.ts). Publishing is one
 * append; consumers lease a partition, read a batch past the group's offset, and commit the
 * offset when the handler is done, so a crashed consumer's batch is redelivered once its lease
 * expires.
 */
export class PostgresBroker implements Broker {
  readonly name = 'postgres';
  readonly partitionCount: number;
  /** The log over time: segments, retention, range reads (log.ts). */
  readonly log: PostgresBrokerLog;
  readonly #db: Database;
  readonly #options: PostgresBrokerOptions;
  // Wakes idle consumers in this process when anything is appended: at once for this
  // process's own appends, through LISTEN/NOTIFY for other processes'. Polling stays as the
  // fallback for a notification missed while the listening connection was down.
  readonly #published = new EventEmitter().setMaxListeners(0);
  #unlisten: Promise<(() => Promise<void>) | undefined> | undefined;

  private constructor(db: Database, options: PostgresBrokerOptions, partitionCount: number) {
    this.#db = db;
    this.#options = options;
    this.partitionCount = partitionCount;
    this.log = new PostgresBrokerLog(
      db,
      partitionCount,
      options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS,
    );
  }

  static async open(db: Database, options: PostgresBrokerOptions): Promise<PostgresBroker> {
    await db.query(sql.createPartitions, [options.partitions]);
    const [row] = await db.query<{ n: number }>(sql.countPartitions);
    return new PostgresBroker(db, options, row?.n ?? options.partitions);
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<PublishResult[]> {
    if (messages.length === 0) return [];
    const rows = messages.map((m, i) => ({
      i,
      event_id: m.id,
      generation: m.generation ?? 0,
      topic: m.topic,
      event_type: m.type,
      key: m.key,
      partition: partitionFor(m.key, this.partitionCount),
      payload: m.value,
      headers: m.headers,
    }));
    const partitions = [...new Set(rows.map((r) => r.partition))];
    const stored = await this.#db.query<{ event_id: string }>(sql.append, [
      JSON.stringify(rows),
      partitions,
      sql.APPENDED_CHANNEL,
      this.#options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS,
    ]);
    this.#published.emit('published');
    const appended = new Set(stored.map((r) => r.event_id));
    // Within one call the first occurrence of an id is the one stored; later ones are duplicates.
    const seen = new Set<string>();
    return messages.map((m) => {
      const first = !seen.has(m.id);
      seen.add(m.id);
      return { id: m.id, status: first && appended.has(m.id) ? 'appended' : 'duplicate' };
    });
  }

  async consume(options: ConsumerOptions): Promise<Consumer> {
    await this.#db.query(sql.joinGroup, [options.group]);
    this.#unlisten ??= this.#db
      .listen(sql.APPENDED_CHANNEL, () => this.#published.emit('published'))
      .catch((error: unknown) => {
        // Not fatal: consumers poll. Log it through the first consumer's error hook.
        options.onError?.(error);
        return undefined;
      });
    await this.#unlisten;
    return new PostgresConsumer(
      this.#db,
      this.#options,
      options,
      this.#published,
      this.partitionCount,
    );
  }

  async lag(group: string): Promise<PartitionLag[]> {
    return this.#db.query<PartitionLag>(sql.groupLag, [group]);
  }

  async positions(group: string): Promise<ShardPosition[]> {
    const rows = await this.#db.query<{
      partition: number;
      committed: number;
      lag: number;
      head_id: string | null;
      head_offset: number | null;
      head_generation: number | null;
    }>(sql.groupPositions, [group]);
    return rows.map((r) => {
      const position: ShardPosition = {
        partition: r.partition,
        committed: Number(r.committed),
        lag: r.lag,
      };
      if (r.head_id !== null) {
        position.head = {
          id: r.head_id,
          offset: Number(r.head_offset),
          generation: r.head_generation ?? 0,
        };
      }
      return position;
    });
  }

  async ping(): Promise<void> {
    await this.#db.query('SELECT 1');
  }

  async close(): Promise<void> {
    const unlisten = await this.#unlisten;
    await unlisten?.();
    this.#published.removeAllListeners();
  }
}

class PostgresConsumer extends PollingConsumer {
  readonly #db: Database;
  readonly #broker: PostgresBrokerOptions;
  readonly #partitionCount: number;
  readonly #options: ConsumerOptions;
  readonly #topics: Set<string>;
  readonly #owned = new Set<number>();

  constructor(
    db: Database,
    broker: PostgresBrokerOptions,
    options: ConsumerOptions,
    published: EventEmitter,
    partitionCount: number,
  ) {
    super();
    this.#db = db;
    this.#broker = broker;
    this.#partitionCount = partitionCount;
    this.#options = options;
    this.#topics = new Set(options.topics);
    this.startPolling(options, broker, published);
  }

  protected renewLeases(): void {
    if (this.#owned.size === 0) return;
    const { group, consumerId, onError } = this.#options;
    this.#db
      .query(sql.renewLeases, [group, consumerId, this.#broker.leaseMs, [...this.#owned]])
      .catch((error: unknown) => onError?.(error));
  }

  /**
   * Claims the partitions with unread messages (up to its share: partitions ÷ slots), hands
   * their next messages to the handler as one batch, commits each partition's offset. One
   * batch over many partitions costs the same few statements as a batch of one, so a light
   * load spread over every partition is not served one partition per round trip. False when
   * idle.
   */
  protected async work(): Promise<boolean> {
    const { group, consumerId, batchSize, handler, concurrency } = this.#options;
    const share = Math.max(1, Math.ceil(this.#partitionCount / Math.max(1, concurrency)));
    const claims = await this.#db.query<{
      partition: number;
      committed_offset: number;
      committed_segment: number;
      end_offset: number;
    }>(sql.claimPartitions, [group, consumerId, this.#broker.leaseMs, share]);
    if (claims.length === 0) return false;
    const partitions = claims.map((c) => c.partition);
    // Where each partition's offset goes: nowhere unless the batch says otherwise.
    const through = new Map(claims.map((c) => [c.partition, Number(c.committed_offset)]));
    // The segment a partition's committed position is in, or a lower bound of it (see sql.ts).
    const segmentOf = new Map(claims.map((c) => [c.partition, c.committed_segment]));
    const retryAfter = new Map<number, number>();
    for (const p of partitions) this.#owned.add(p);
    try {
      const perPartition = Math.max(1, Math.ceil(batchSize / claims.length));
      const rows = await this.#db.query<LogRow>(sql.fetchBatch, [
        partitions,
        claims.map((c) => c.committed_offset),
        perPartition,
        claims.map((c) => c.committed_segment),
      ]);
      const batch = rows.map(toDelivered);
      const wanted = batch.filter((m) => this.#topics.has(m.topic));
      // A batch claimed as stop() was called is not in flight yet: release it unhandled.
      const handing = wanted.length > 0 && !this.stopping;
      const outcome = handing ? await handler(wanted) : { handled: 0 };
      const handled = Math.min(Math.max(outcome.handled, 0), wanted.length);
      // Each partition commits past everything it delivered (skipped topics too) up to its
      // first unhandled wanted message; the partition of the message that stopped the batch
      // waits retryAfterMs, the others are free again at once. A partition that returned
      // fewer messages than asked was read to its end as of the claim: it commits through
      // that end, past the gaps duplicates left (a partition of gaps alone would otherwise
      // be claimed again and again).
      const delivered = new Map<number, number>();
      for (const m of batch) delivered.set(m.partition, (delivered.get(m.partition) ?? 0) + 1);
      for (const c of claims) {
        if ((delivered.get(c.partition) ?? 0) < perPartition) {
          through.set(c.partition, Math.max(Number(c.committed_offset), Number(c.end_offset)));
        }
      }
      for (const m of batch) {
        if ((through.get(m.partition) ?? -1) < m.offset) through.set(m.partition, m.offset);
      }
      const unhandled = new Set<number>();
      for (const m of wanted.slice(handled)) {
        if (unhandled.has(m.partition)) continue;
        unhandled.add(m.partition);
        through.set(m.partition, m.offset - 1);
      }
      const stoppedAt = wanted[handled];
      if (stoppedAt !== undefined) retryAfter.set(stoppedAt.partition, outcome.retryAfterMs ?? 0);
      for (const row of rows) {
        const p = row.partition;
        if (Number(row.offset) <= (through.get(p) ?? -1) && row.segment > (segmentOf.get(p) ?? 0)) {
          segmentOf.set(p, row.segment);
        }
      }
    } catch (error) {
      this.#options.onError?.(error);
      // Nothing was handled: every partition stays where it was, and waits a little.
      for (const p of partitions) retryAfter.set(p, this.#broker.pollMs * 10);
    } finally {
      for (const p of partitions) this.#owned.delete(p);
      await this.#db
        .query(sql.commitAndRelease, [
          group,
          partitions,
          consumerId,
          partitions.map((p) => through.get(p)),
          partitions.map((p) => retryAfter.get(p) ?? 0),
          partitions.map((p) => segmentOf.get(p) ?? 0),
        ])
        .catch((error: unknown) => this.#options.onError?.(error));
    }
    return true;
  }
}

function toDelivered(row: LogRow): DeliveredMessage {
  const message: DeliveredMessage = {
    id: row.event_id,
    topic: row.topic,
    key: row.key,
    type: row.event_type,
    value: isObject(row.payload) ? row.payload : {},
    headers: isObject(row.headers) ? row.headers : {},
    partition: row.partition,
    offset: Number(row.offset),
    acceptedAt: row.accepted_at instanceof Date ? row.accepted_at : new Date(row.accepted_at),
    generation: row.generation,
  };
  // Another producer appending to the log may write any jsonb (see decode.ts).
  if (!isObject(row.payload)) {
    message.malformed = { reason: 'value is not a JSON object', raw: JSON.stringify(row.payload) };
  } else if (!isObject(row.headers)) {
    message.malformed = {
      reason: 'headers is not a JSON object',
      raw: JSON.stringify(row.headers),
    };
  }
  return message;
}

function isObject<T>(value: T): value is T & object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
