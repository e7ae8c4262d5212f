/** Where processed events, failures and dead letters are kept, and read back. */

export interface ProcessedEvent {
  id: string;
  topic: string;
  type: string;
  key: string;
  userId: string | null;
  payload: Record<string, unknown>;
  enrichment: Record<string, unknown>;
  occurredAt: string | null;
  acceptedAt: Date;
  processedAt: Date;
  correlationId: string | null;
  partition: number;
  offset: number;
}

export type FailureReason =
  | 'invalid'
  | 'poison'
  | 'retries_exhausted'
  | 'persist_failed'
  /** The event breaks its type's registered schema (event contracts, issue #21). */
  | 'schema_violation';

export interface FailedEvent {
  id: string;
  topic: string;
  type: string;
  key: string;
  payload: Record<string, unknown>;
  headers: Record<string, string>;
  reason: FailureReason;
  errorCode: string;
  error: string;
  acceptedAt: Date;
  /** Replay generation of the delivery that failed. */
  generation: number;
}

/** `purged`: dead-lettered, then dropped by an operator; it will not be processed. */
export type EventStatus = 'accepted' | 'processed' | 'failed' | 'dead_lettered' | 'purged';

export interface EventRecord {
  id: string;
  status: EventStatus;
  topic: string;
  type: string;
  key: string;
  payload: Record<string, unknown>;
  acceptedAt: string;
  processedAt: string | null;
  enrichment: Record<string, unknown> | null;
  failure: {
    reason: string;
    errorCode: string;
    lastError: string;
    attempts: number;
    firstFailedAt: string;
    lastFailedAt: string;
  } | null;
}

export interface DeadLetter {
  id: string;
  topic: string;
  type: string;
  key: string;
  payload: Record<string, unknown>;
  headers: Record<string, string>;
  reason: string;
  errorCode: string;
  lastError: string;
  attempts: number;
  firstFailedAt: string;
  lastFailedAt: string;
  replayCount: number;
  acceptedAt: string;
}

export interface DeadLetterFilter {
  type?: string;
  reason?: string;
  /** Last failed at or after (ISO 8601). */
  since?: string;
  /** Last failed before (ISO 8601). */
  until?: string;
  /** Only these event ids. */
  ids?: readonly string[];
  limit: number;
}

/** Event search: all given filters must match; newest accepted first. */
export interface EventSearch {
  userId?: string;
  type?: string;
  topic?: string;
  /** Accepted at or after (ISO 8601). */
  from?: string;
  /** Accepted before (ISO 8601). */
  to?: string;
  limit: number;
}

export interface StoreCounts {
  accepted: number;
  processed: number;
  retrying: number;
  deadLettered: number;
}

export interface EventStore {
  /** Persists processed events and dead letters together, in one transaction. Idempotent. */
  persist(processed: readonly ProcessedEvent[], dead: readonly FailedEvent[]): Promise<void>;
  /** Records a failed attempt that will be retried; returns the attempts counted so far. */
  recordAttempt(failure: FailedEvent): Promise<number>;
  get(id: string): Promise<EventRecord | undefined>;
  listDeadLetters(filter: DeadLetterFilter): Promise<DeadLetter[]>;
  getDeadLetter(id: string): Promise<DeadLetter | undefined>;
  /**
   * Marks a dead letter replayed as `generation`, after that generation was published. False
   * when it is no longer dead at an older generation (processed or failed again meanwhile).
   */
  markReplayed(id: string, generation: number): Promise<boolean>;
  counts(): Promise<StoreCounts>;
  /**
   * Deletes the dead letters matching `filter` (the accepted event stays in the log) and
   * returns their ids.
   */
  purgeDeadLetters(filter: DeadLetterFilter): Promise<string[]>;
  search(filter: EventSearch): Promise<EventRecord[]>;
}
