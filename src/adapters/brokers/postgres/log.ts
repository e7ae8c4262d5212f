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
import type { Database } from '../../../ports/database.ts';
import * as sql from './log-sql.ts';

type Timestamp = Date | string;

interface SegmentRow {
  segment: number;
  opened_at: Timestamp;
  closed_at: Timestamp | null;
  dropped_at: Timestamp | null;
}

interface ExpiredRow {
  segment: number;
  closed_at: Timestamp;
  held_by: string[];
  offsets: number;
}

interface LogRow {
  partition: number;
  offset: number;
  event_id: string;
  generation: number;
  topic: string;
  event_type: string;
  key: string;
  payload: Record<string, unknown>;
  headers: Record<string, string>;
  accepted_at: Timestamp;
}

/** Where a read of a selection is: the last event read, by segment, partition and offset. */
interface PostgresCursor {
  segment: number;
  partition: number;
  offset: number;
}

const date = (value: Timestamp) => (value instanceof Date ? value : new Date(value));

/**
 * The Postgres event log over time: `raw_events` in segments (migration 011). Retention drops
 * the oldest segments whole, once they are older than the cutoff (and than the dedupe window,
 * whose ids they are) and every consumer group has committed past their end, detaching each CONCURRENTLY first so that appends and fetches never
 * wait for it. A range is read segment by segment through each one's (partition, offset) index.
 */
export class PostgresBrokerLog implements BrokerLog {
  readonly #db: Database;
  readonly #partitionCount: number;
  readonly #dedupeWindowMs: number;

  /**
   * @param dedupeWindowMs DEDUPE_WINDOW: on this transport the log's rows are the window's ids,
   *   so no segment younger than the window is dropped, whatever the retention.
   */
  constructor(db: Database, partitionCount: number, dedupeWindowMs: number) {
    this.#db = db;
    this.#partitionCount = partitionCount;
    this.#dedupeWindowMs = dedupeWindowMs;
  }

  /** The cutoff retention applies: the one asked for, or the dedupe window's start if earlier. */
  #effective(cutoff: Date): Date {
    return new Date(Math.min(cutoff.getTime(), Date.now() - this.#dedupeWindowMs));
  }

  /**
   * Opens the next segment when the current one is older than `segmentMs` (or at once with
   * `force`). Returns the new segment's number, or undefined when it was not time yet.
   */
  async roll(segmentMs: number, force = false): Promise<number | undefined> {
    const [row] = await this.#db.query<{ segment: number | null }>(sql.roll, [segmentMs, force]);
    return row?.segment ?? undefined;
  }

  async status(cutoff?: Date): Promise<LogStatus> {
    const rows = await this.#db.query<SegmentRow>(sql.segments);
    const live = rows.filter((r) => r.dropped_at === null);
    const firstLive = live[0];
    const anyDropped = rows.some((r) => r.dropped_at !== null);
    const [oldest] =
      firstLive === undefined
        ? []
        : await this.#db.query<{ at: Timestamp | null }>(sql.oldestAccepted, [firstLive.segment]);
    const groups = (await this.#db.query<{ group_id: string }>(sql.groups)).map((r) => r.group_id);
    const blocking = new Set<string>();
    if (cutoff !== undefined) {
      for (const segment of await this.#expired(this.#effective(cutoff))) {
        for (const group of segment.held_by) blocking.add(group);
      }
    }
    return {
      broker: 'postgres',
      retainedSince: anyDropped && firstLive !== undefined ? date(firstLive.opened_at) : null,
      oldestAt: oldest?.at === null || oldest === undefined ? null : date(oldest.at),
      segments: live.map((r) => ({
        segment: r.segment,
        openedAt: date(r.opened_at),
        closedAt: r.closed_at === null ? null : date(r.closed_at),
      })),
      groups: groups.map((group) => ({ group, blocking: blocking.has(group) })),
    };
  }

  async prune(asked: Date): Promise<PruneReport> {
    const cutoff = this.#effective(asked);
    const expired = await this.#expired(cutoff);
    const dropped: number[] = [];
    let offsets = 0;
    const heldBy = new Set<string>();
    for (const segment of expired) {
      // Only a prefix of the log goes: a held segment keeps every later one too.
      if (heldBy.size > 0 || segment.held_by.length > 0) {
        for (const group of segment.held_by) heldBy.add(group);
        continue;
      }
      await this.#drop(segment.segment);
      dropped.push(segment.segment);
      offsets += Number(segment.offsets);
    }
    const first = dropped[0];
    const last = dropped.at(-1);
    return {
      cutoff,
      dropped:
        first === undefined
          ? []
          : [
              `${first === last ? `segment ${first}` : `segments ${first}-${last}`} (${offsets} offsets)`,
            ],
      count: offsets,
      heldBy: [...heldBy].sort(),
    };
  }

  async open(selection: LogSelection, cursor: LogCursor | undefined): Promise<LogReader> {
    const [bounds] = await this.#db.query<{ first: number | null; last: number | null }>(
      sql.segmentsBetween,
      [selection.from.toISOString(), selection.to.toISOString()],
    );
    const last = bounds?.last ?? -1;
    let position: PostgresCursor =
      cursor === undefined
        ? { segment: bounds?.first ?? 0, partition: -1, offset: -1 }
        : (cursor as unknown as PostgresCursor);
    const partitions =
      selection.keys === undefined
        ? null
        : [...new Set(selection.keys.map((k) => partitionFor(k, this.#partitionCount)))];
    const db = this.#db;
    return {
      async next(limit: number): Promise<LogPage> {
        const messages: DeliveredMessage[] = [];
        while (position.segment <= last && messages.length < limit) {
          const wanted = limit - messages.length;
          const rows = await db.query<LogRow>(sql.readSegment, [
            position.segment,
            position.partition,
            position.offset,
            selection.from.toISOString(),
            selection.to.toISOString(),
            selection.topics,
            selection.types ?? null,
            selection.keys ?? null,
            partitions,
            wanted,
          ]);
          for (const row of rows) messages.push(toDelivered(row));
          const tail = rows.at(-1);
          position =
            tail !== undefined && rows.length === wanted
              ? {
                  segment: position.segment,
                  partition: tail.partition,
                  offset: Number(tail.offset),
                }
              : // This segment has no more of the selection.
                { segment: position.segment + 1, partition: -1, offset: -1 };
        }
        return {
          messages,
          cursor: { ...position },
          done: position.segment > last,
        };
      },
      async close() {},
    };
  }

  async forgetGroup(group: string): Promise<boolean> {
    return (await this.#db.query(sql.forgetGroup, [group])).length > 0;
  }

  async #expired(cutoff: Date): Promise<ExpiredRow[]> {
    return this.#db.query<ExpiredRow>(sql.expiredSegments, [cutoff.toISOString()]);
  }

  /**
   * Detaches a segment and drops it, CONCURRENTLY: the detach waits for the transactions using
   * the log instead of making them wait. A detach or drop interrupted by a crash is finished by
   * the next pass.
   */
  async #drop(segment: number): Promise<void> {
    const table = `raw_events_s${segment}`;
    const [attached] = await this.#db.query<{ pending: boolean }>(sql.attachment, [table]);
    if (attached !== undefined) {
      const mode = attached.pending ? ' FINALIZE' : ' CONCURRENTLY';
      await this.#db.query(`ALTER TABLE raw_events DETACH PARTITION ${table}${mode}`);
    }
    await this.#db.query(`DROP TABLE IF EXISTS ${table}`);
    await this.#db.query(sql.markDropped, [segment]);
  }
}

function toDelivered(row: LogRow): DeliveredMessage {
  return {
    id: row.event_id,
    topic: row.topic,
    key: row.key,
    type: row.event_type,
    value: row.payload,
    headers: row.headers,
    partition: row.partition,
    offset: Number(row.offset),
    acceptedAt: date(row.accepted_at),
    generation: row.generation,
  };
}
