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

/**
 * Why an event failed. Dead letters: `invalid` (breaks its contract: a field, a formula, a
 * time), `poison` (cannot be read, or made a stage throw), `persist_failed` (the database
 * refused its content), `retries_exhausted` (failed transiently on every try), `operator`
 * (dead-lettered by hand to unblock its partition). `transient` is an event still being
 * retried: recorded, not dead.
 */
export type FailureReason =
  | 'invalid'
  | 'poison'
  | 'persist_failed'
  | 'transient'
  | 'retries_exhausted'
  | 'operator'
  | 'schema_violation';

/** The reasons a dead letter can have (every reason but `transient`). */
export const DEAD_LETTER_REASONS = [
  'invalid',
  'poison',
  'persist_failed',
  'retries_exhausted',
  'operator',
  'schema_violation',
] as const satisfies readonly FailureReason[];

export interface FailedEvent {
  id: string;
  topic: string;
  type: string;
  key: string;
  payload: Record<string, unknown>;
  /** The message as received when it was not a JSON object (payload is then `{}`). */
  rawValue?: string;
  headers: Record<string, string>;
  reason: FailureReason;
  errorCode: string;
  error: string;
  acceptedAt: Date;
  /** Replay generation of the delivery that failed. */
  generation: number;
  /** Where the failed delivery sits in the broker. */
  partition: number;
  offset: number;
  /** Who dead-lettered it by hand (reason `operator`). */
  operator?: string;
  /**
   * When the worker decided (the batch's clock, as processed events of the same batch have);
   * the database's clock when absent.
   */
  failedAt?: Date;
}

/**
 * How a dead letter was stored: with its payload as `jsonb`; as the payload's JSON text
 * (`payload_text`) where jsonb refused it; or, where even that failed, as a minimal record
 * (id, topic, partition, offset, reason, error).
 */
export type DeadLetterForm = 'jsonb' | 'text' | 'minimal';

/** A recorded failed attempt of an event that will be retried. */
export interface AttemptRecord {
  /** Attempts counted so far, this one included. */
  attempts: number;
  /** An operator's pending request to dead-letter this delivery instead, if any. */
  operatorRequest: OperatorRequest | undefined;
}

/**
 * An operator's request to dead-letter the event at the head of a partition that does not
 * move. The worker holding that event applies it at its next attempt, so the event is
 * dead-lettered where it is processed, by the consumer that owns the partition, on any broker.
 */
export interface OperatorRequest {
  eventId: string;
  /** The delivery it was made for: a later replay of the event is not affected. */
  generation: number;
  partition: number;
  topic: string | undefined;
  /** Who asked: the API key's name and id. */
  requestedBy: string;
  note: string | undefined;
  requestedAt: string;
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
  /** The payload; null when jsonb could not hold it (see payloadText) or in a minimal record. */
  payload: Record<string, unknown> | null;
  /**
   * JSON text that parses back to exactly what was received, where jsonb refused it: the
   * payload's JSON (NUL and unpaired surrogates escaped, as JSON allows), or a JSON string of
   * the raw message when it was not JSON at all. Null when `payload` holds it.
   */
  payloadText: string | null;
  headers: Record<string, string>;
  reason: string;
  errorCode: string;
  lastError: string;
  attempts: number;
  firstFailedAt: string;
  lastFailedAt: string;
  replayCount: number;
  acceptedAt: string;
  /** Where the failed delivery sat in the broker (null for letters from before migration 9). */
  partition: number | null;
  offset: number | null;
  /** Who dead-lettered it by hand (reason `operator`). */
  operator: string | null;
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
  /**
   * Persists processed events and dead letters together, in one transaction. Idempotent.
   * Throws what the database raised: a retryable error when it is unavailable, a content
   * refusal (see isContentRefusal) when it refused one of the events.
   */
  persist(processed: readonly ProcessedEvent[], dead: readonly FailedEvent[]): Promise<void>;
  /**
   * Stores one dead letter whatever it holds: with its payload, else with the payload's text,
   * else as a minimal record. Throws only when the store is unavailable (a retryable error).
   */
  persistDeadLetter(failure: FailedEvent): Promise<DeadLetterForm>;
  /** Records a failed attempt that will be retried, and any operator request pending for it. */
  recordAttempt(failure: FailedEvent): Promise<AttemptRecord>;
  /** The operator's pending request to dead-letter this delivery of `id`, if any. */
  operatorRequest(id: string, generation: number): Promise<OperatorRequest | undefined>;
  /**
   * Records an operator's request to dead-letter a delivery (the worker applies it). A request
   * for the same delivery replaces the pending one.
   */
  requestDeadLetter(request: Omit<OperatorRequest, 'requestedAt'>): Promise<OperatorRequest>;
  /** Marks the request for this delivery applied (its dead letter is stored). */
  completeOperatorRequest(id: string, generation: number): Promise<void>;
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
