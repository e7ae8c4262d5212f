/**
 * The broker's log over time (issue #20): how far back it goes, cutting what is older than the
 * retention and committed by every consumer group, and reading a range of it for a replay.
 * Each transport implements it beside its Broker: the Postgres log's time segments
 * (src/adapters/brokers/postgres/log.ts), Kafka's log start offsets and offsets for times
 * (kafka/log.ts), Redis Streams' entry ranges (redis/log.ts).
 */
import type { DeliveredMessage } from './broker.ts';

/** Events accepted in [from, to) on `topics`, optionally of some types and keys only. */
export interface LogSelection {
  from: Date;
  to: Date;
  topics: readonly string[];
  types?: readonly string[];
  keys?: readonly string[];
}

/** Where a read of a selection has got to: plain JSON, stored with the replay. */
export type LogCursor = Record<string, unknown>;

export interface LogPage {
  /** The selection's events read, in log order per partition (generation 0 only). */
  messages: DeliveredMessage[];
  /** The position after this page: the next read starts there. */
  cursor: LogCursor;
  /** Nothing of the selection is left past `cursor`. */
  done: boolean;
}

/** A read of one selection; `next` pages through it from the cursor it was opened at. */
export interface LogReader {
  next(limit: number): Promise<LogPage>;
  close(): Promise<void>;
}

/** A consumer group and whether it holds back events older than the retention cutoff. */
export interface GroupHold {
  group: string;
  /** Its oldest uncommitted event was accepted before the cutoff: retention waits for it. */
  blocking: boolean;
}

export interface LogStatus {
  broker: string;
  /**
   * The log is complete from this time on: events accepted earlier may have been cut. Null when
   * nothing was ever cut.
   */
  retainedSince: Date | null;
  /** When the oldest event still in the log was accepted (null: the log is empty). */
  oldestAt: Date | null;
  /** The units retention cuts whole, oldest first, where the broker has them (Postgres). */
  segments: { segment: number; openedAt: Date; closedAt: Date | null }[];
  /** Every consumer group, with whether it holds back what the cutoff would cut. */
  groups: GroupHold[];
}

export interface PruneReport {
  cutoff: Date;
  /** What was cut, e.g. "segments 3-4 (12 000 offsets)" or "1 200 entries of 6 streams". */
  dropped: string[];
  /** How many events (or offsets) went; 0 when nothing was cut. */
  count: number;
  /** Groups whose uncommitted events are older than the cutoff (what was kept for them). */
  heldBy: string[];
}

export interface BrokerLog {
  /** The log's extent and, with a cutoff, which groups hold back what it would cut. */
  status(cutoff?: Date): Promise<LogStatus>;
  /** Cuts what was accepted before `cutoff` and every group has committed; never more. */
  prune(cutoff: Date): Promise<PruneReport>;
  /** Opens a read of `selection` at `cursor` (from its start when undefined). */
  open(selection: LogSelection, cursor: LogCursor | undefined): Promise<LogReader>;
  /**
   * Forgets a consumer group (its committed positions), so that it no longer holds retention
   * back: for a group that is gone for good. False when the broker had no such group.
   */
  forgetGroup(group: string): Promise<boolean>;
  /**
   * Where the log's segments are Herald's to make (Postgres): opens the next one when the
   * current one is older than `segmentMs`, and returns its number (undefined: not yet).
   */
  roll?(segmentMs: number): Promise<number | undefined>;
}

/** Reads a whole page source: every event of `selection` (a dry run or a count). */
export async function* readAll(
  log: BrokerLog,
  selection: LogSelection,
  pageSize = 1000,
): AsyncGenerator<DeliveredMessage[]> {
  const reader = await log.open(selection, undefined);
  try {
    for (;;) {
      const page = await reader.next(pageSize);
      if (page.messages.length > 0) yield page.messages;
      if (page.done) return;
    }
  } finally {
    await reader.close();
  }
}
