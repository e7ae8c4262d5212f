/**
 * What log maintenance needs of Herald's database besides the broker's log: the lease that
 * keeps it to one process at a time, the dedupe window's expired slot, and the retention of
 * the history tables (src/adapters/store/postgres/retention.ts).
 */

/** History that has a retention of its own (off by default). */
export type HistoryKind =
  /** failed_events rows no longer live: 'retrying' and 'replayed' (HISTORY_RETENTION). */
  | 'attempts'
  /** Finished notification deliveries (sent, failed, skipped) with their attempts. */
  | 'deliveries'
  /** Dead letters ('dead') and purged ones (DEAD_LETTER_RETENTION). */
  | 'dead_letters'
  /** processed_events (PROCESSED_RETENTION); the analytics rollups stay. */
  | 'processed';

export interface SlotClearing {
  /** The slot emptied, or undefined when it was not time (or already done this period). */
  slot: number | undefined;
  /** About how many expired ids it held (the planner's estimate). */
  ids: number;
}

export interface RetentionStore {
  /** Takes or renews the maintenance lease for `holder`; false while another holds it. */
  acquireLease(holder: string, leaseMs: number): Promise<boolean>;
  releaseLease(holder: string): Promise<void>;
  /**
   * Empties the dedupe slot that holds only ids older than the window (Kafka, Redis), once per
   * period and away from the period's edges, first finishing a clearing a crash interrupted;
   * and forgets duplicate counts older than the window (Postgres).
   */
  clearExpiredDedupeSlot(windowMs: number): Promise<SlotClearing>;
  /** Deletes up to `limit` rows of `kind` older than `cutoff`; returns how many went. */
  pruneHistory(kind: HistoryKind, cutoff: Date, limit: number): Promise<number>;
}
