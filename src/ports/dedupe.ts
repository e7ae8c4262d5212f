/**
 * The dedupe window (DEDUPE_WINDOW): which event ids were accepted within the last window, kept
 * in Herald's database whatever the broker (src/adapters/store/postgres/dedupe.ts). On the
 * Postgres transport the append itself records and checks it (log_append); on Kafka and Redis
 * the ingest path claims ids before publishing (src/app/dedupe.ts).
 */

/** A message about to be published. */
export interface DedupeClaim {
  id: string;
  generation: number;
}

/** A claim whose publish succeeded: the id is in the broker, at this position when known. */
export interface DedupeConfirm {
  slot: number;
  id: string;
  generation: number;
  partition: number | null;
  offset: number | null;
}

export interface ClaimResult {
  /** Where the claim was recorded; a confirm names it. */
  slot: number;
  /** Accepted (and confirmed) within the window: do not publish it again. */
  duplicate: boolean;
}

/** The acceptance an id was deduplicated against, for `GET /api/v1/events/{id}`. */
export interface DedupeRecord {
  id: string;
  acceptedAt: string;
  partition: number | null;
  offset: number | null;
  /** Times the id was sent again within the window and not stored. */
  duplicates: number;
  lastDuplicateAt: string | null;
  /** Until when a resend is a duplicate. */
  windowEndsAt: string;
}

export interface DedupeStore {
  /**
   * Marks `confirms` (earlier claims now in the broker), then claims `claims`, in one round
   * trip; returns one result per claim, in order. A repeated id within `claims` is a duplicate
   * of its first occurrence.
   */
  claim(
    confirms: readonly DedupeConfirm[],
    claims: readonly DedupeClaim[],
    windowMs: number,
  ): Promise<ClaimResult[]>;
  /** The original acceptance of `id` (generation 0) if it is within the window. */
  lookup(id: string, windowMs: number): Promise<DedupeRecord | undefined>;
}
