/**
 * The transactional outbox: events written in the same transaction as the change they
 * announce, published afterwards by the relay (src/app/outbox-relay.ts), at least once.
 */

/** A row for the outbox: committed with the change it announces. */
export interface OutboxEvent {
  /** The event id; consumers deduplicate on it. */
  id: string;
  topic: string;
  /** Ordering key (the user id): one key's events are published in commit order. */
  key: string;
  type: string;
  payload: Record<string, unknown>;
  headers: Record<string, string>;
}

export interface PendingOutboxEvent extends OutboxEvent {
  /** Commit order of the outbox; events are published in this order. */
  seq: number;
}

/**
 * What the relay needs of the outbox. Only the holder of the relay lease publishes, so that
 * one key's events leave in order even with several API processes.
 */
export interface OutboxStore {
  /**
   * Takes or renews the relay lease for `holder`, valid for `leaseMs`. False when another
   * holder's lease is still valid.
   */
  acquireLease(holder: string, leaseMs: number): Promise<boolean>;
  /** Gives the lease up (graceful stop), so another process takes over at once. */
  releaseLease(holder: string): Promise<void>;
  /** The oldest unpublished events, in commit order. */
  unpublished(limit: number): Promise<PendingOutboxEvent[]>;
  markPublished(ids: readonly string[]): Promise<void>;
  /** Deletes events published longer ago than `olderThanMs`; returns how many. */
  prunePublished(olderThanMs: number): Promise<number>;
  /** Whether any event waits to be published (cheap: the relay asks on every poll). */
  hasUnpublished(): Promise<boolean>;
  /** How many events wait to be published. */
  backlog(): Promise<number>;
}
