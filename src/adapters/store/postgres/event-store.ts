import { createHash } from 'node:crypto';
import { TOPICS } from '../../../domain/events.ts';
import { findUnstorable, storableText } from '../../../domain/postgres-limits.ts';
import { ErrorCodes, HeraldError, isRetryable } from '../../../errors.ts';
import type { Database } from '../../../ports/database.ts';
import type {
  AttemptRecord,
  DeadLetter,
  DeadLetterFilter,
  DeadLetterForm,
  EventRecord,
  EventSearch,
  EventStore,
  FailedEvent,
  OperatorRequest,
  ProcessedEvent,
  StoreCounts,
} from '../../../ports/event-store.ts';
import * as sql from './sql.ts';

/** The producers' topics: what event lookups show (the log also carries internal ones). */
const EVENT_TOPICS = JSON.stringify(TOPICS);

type Timestamp = Date | string;

function iso(value: Timestamp): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

function isoOrNull(value: Timestamp | null): string | null {
  return value === null ? null : iso(value);
}

interface EventRow {
  event_id: string;
  topic: string;
  event_type: string;
  key: string;
  payload: Record<string, unknown>;
  accepted_at: Timestamp;
  processed_at: Timestamp | null;
  enrichment: Record<string, unknown> | null;
  failure_status: 'retrying' | 'dead' | 'replayed' | 'purged' | null;
  reason: string | null;
  error_code: string | null;
  last_error: string | null;
  attempts: number | null;
  first_failed_at: Timestamp | null;
  last_failed_at: Timestamp | null;
}

interface DeadLetterRow {
  event_id: string;
  topic: string;
  event_type: string;
  key: string;
  payload: Record<string, unknown> | null;
  payload_text: string | null;
  headers: Record<string, string>;
  reason: string;
  error_code: string;
  last_error: string;
  attempts: number;
  first_failed_at: Timestamp;
  last_failed_at: Timestamp;
  replay_count: number;
  accepted_at: Timestamp;
  source_partition: number | null;
  source_offset: number | null;
  operator: string | null;
}

interface OperatorRequestRow {
  event_id: string;
  generation: number;
  partition: number;
  topic: string | null;
  requested_by: string;
  note: string | null;
  requested_at: Timestamp;
}

function toOperatorRequest(row: OperatorRequestRow): OperatorRequest {
  return {
    eventId: row.event_id,
    generation: row.generation,
    partition: row.partition,
    topic: row.topic ?? undefined,
    requestedBy: row.requested_by,
    note: row.note ?? undefined,
    requestedAt: iso(row.requested_at),
  };
}

function toDeadLetter(row: DeadLetterRow): DeadLetter {
  return {
    id: row.event_id,
    topic: row.topic,
    type: row.event_type,
    key: row.key,
    payload: row.payload,
    payloadText: row.payload_text,
    headers: row.headers,
    reason: row.reason,
    errorCode: row.error_code,
    lastError: row.last_error,
    attempts: row.attempts,
    firstFailedAt: iso(row.first_failed_at),
    lastFailedAt: iso(row.last_failed_at),
    replayCount: row.replay_count,
    acceptedAt: iso(row.accepted_at),
    partition: row.source_partition,
    offset: row.source_offset,
    operator: row.operator,
  };
}

/** Longest error text kept, in code points: enough for any database message and its detail. */
const MAX_ERROR_CODE_POINTS = 2000;
/** Longest event id a minimal record keeps whole; longer ones are cut and fingerprinted. */
const MAX_MINIMAL_ID_CODE_POINTS = 200;

/**
 * A failure as failed_events stores it, every text made storable (NUL and unpaired surrogates
 * escaped, the error cut by code points). The payload goes in as jsonb where jsonb can hold it,
 * else (`asText`, or text jsonb refuses) as JSON text that parses back to what was received.
 */
function failureRow(f: FailedEvent, asText = false) {
  const text = asText || f.rawValue !== undefined || !jsonbHolds(f.payload);
  return {
    event_id: storableText(f.id),
    topic: storableText(f.topic),
    event_type: storableText(f.type),
    key: storableText(f.key),
    payload: text ? null : f.payload,
    payload_text: text ? JSON.stringify(f.rawValue ?? f.payload) : null,
    headers: storableHeaders(f.headers),
    reason: f.reason,
    error_code: f.errorCode,
    last_error: storableText(f.error, MAX_ERROR_CODE_POINTS),
    accepted_at: f.acceptedAt.toISOString(),
    generation: f.generation,
    source_partition: f.partition,
    source_offset: f.offset,
    operator: f.operator === undefined ? null : storableText(f.operator, 200),
    failed_at: f.failedAt?.toISOString() ?? null,
  };
}

/**
 * The least a dead letter can be: id, topic, partition, offset, reason and error, with an id
 * short enough for the primary key's index (a longer one is cut and given a fingerprint of
 * the whole, so that two long ids do not become one).
 */
function minimalRow(f: FailedEvent, why: unknown) {
  const row = failureRow(f);
  const whole = [...row.event_id];
  const id =
    whole.length <= MAX_MINIMAL_ID_CODE_POINTS
      ? row.event_id
      : `${whole.slice(0, MAX_MINIMAL_ID_CODE_POINTS - 20).join('')}…${createHash('sha256').update(f.id).digest('hex').slice(0, 16)}`;
  const detail = why instanceof Error ? why.message : String(why);
  return {
    ...row,
    event_id: id,
    event_type: storableText(f.type, 200),
    key: storableText(f.key, 200),
    topic: storableText(f.topic, 200),
    payload: null,
    payload_text: null,
    headers: {},
    last_error: storableText(
      `${f.error} (stored as a minimal record: ${detail})`,
      MAX_ERROR_CODE_POINTS,
    ),
  };
}

function storableHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[storableText(name, 200)] = storableText(String(value), MAX_ERROR_CODE_POINTS);
  }
  return out;
}

/** Whether jsonb takes the payload: no key or string with NUL or an unpaired surrogate. */
function jsonbHolds(payload: Record<string, unknown>): boolean {
  return findUnstorable(payload, { numbers: false }) === undefined;
}

function toEventRecord(row: EventRow): EventRecord {
  const status: EventRecord['status'] =
    row.processed_at !== null
      ? 'processed'
      : row.failure_status === 'dead'
        ? 'dead_lettered'
        : row.failure_status === 'purged'
          ? 'purged'
          : row.failure_status === 'retrying'
            ? 'failed'
            : 'accepted';
  return {
    id: row.event_id,
    status,
    topic: row.topic,
    type: row.event_type,
    key: row.key,
    payload: row.payload,
    acceptedAt: iso(row.accepted_at),
    processedAt: isoOrNull(row.processed_at),
    enrichment: row.enrichment,
    failure:
      row.failure_status === null || status === 'processed'
        ? null
        : {
            reason: row.reason ?? '',
            errorCode: row.error_code ?? '',
            lastError: row.last_error ?? '',
            attempts: row.attempts ?? 0,
            firstFailedAt: isoOrNull(row.first_failed_at) ?? '',
            lastFailedAt: isoOrNull(row.last_failed_at) ?? '',
          },
  };
}

function deadLetterParams(filter: DeadLetterFilter): unknown[] {
  return [
    filter.type ?? null,
    filter.reason ?? null,
    filter.since ?? null,
    filter.until ?? null,
    filter.ids === undefined ? null : JSON.stringify(filter.ids),
    filter.limit,
  ];
}

/** The event store on PostgreSQL: one multi-row statement per batch. */
export class PostgresEventStore implements EventStore {
  readonly #db: Database;
  readonly #logInDatabase: boolean;

  /**
   * @param options.logInDatabase whether the accepted events are in this database's event log
   *   (the Postgres transport); with Kafka or Redis, lookups go by what workers stored.
   */
  constructor(db: Database, options: { logInDatabase?: boolean } = {}) {
    this.#db = db;
    this.#logInDatabase = options.logInDatabase ?? true;
  }

  async persist(processed: readonly ProcessedEvent[], dead: readonly FailedEvent[]) {
    if (processed.length === 0 && dead.length === 0) return;
    const processedRows = processed.map((e) => ({
      event_id: e.id,
      topic: e.topic,
      event_type: e.type,
      key: e.key,
      user_id: e.userId,
      payload: e.payload,
      enrichment: e.enrichment,
      occurred_at: e.occurredAt,
      accepted_at: e.acceptedAt.toISOString(),
      processed_at: e.processedAt.toISOString(),
      correlation_id: e.correlationId,
      source_partition: e.partition,
      source_offset: e.offset,
    }));
    const write = async (run: (statement: string, rows: unknown[]) => Promise<unknown>) => {
      if (processedRows.length > 0) await run(sql.insertProcessed, processedRows);
      if (dead.length > 0)
        await run(
          sql.insertDead,
          dead.map((f) => failureRow(f)),
        );
    };
    if (processedRows.length === 0 || dead.length === 0) {
      // One statement is atomic on its own; no transaction round trips needed.
      await write((statement, rows) => this.#db.query(statement, [JSON.stringify(rows)]));
    } else {
      await this.#db.transaction((tx) =>
        write((statement, rows) => tx.query(statement, [JSON.stringify(rows)])),
      );
    }
  }

  async persistDeadLetter(f: FailedEvent): Promise<DeadLetterForm> {
    const insert = (row: unknown) => this.#db.query(sql.insertDead, [JSON.stringify([row])]);
    const first = failureRow(f);
    let refusal: unknown;
    try {
      await insert(first);
      return first.payload === null ? 'text' : 'jsonb';
    } catch (error) {
      if (isRetryable(error)) throw error;
      refusal = error;
    }
    // jsonb refused what looked storable (nesting too deep, say): the payload's text then.
    if (first.payload !== null) {
      try {
        await insert(failureRow(f, true));
        return 'text';
      } catch (error) {
        if (isRetryable(error)) throw error;
        refusal = error;
      }
    }
    try {
      await insert(minimalRow(f, refusal));
      return 'minimal';
    } catch (error) {
      if (isRetryable(error)) throw error;
      throw new HeraldError(
        ErrorCodes.STORE_REFUSED,
        `the database refused even a minimal dead letter for ${storableText(f.id, 80)}`,
        { cause: error, details: { sqlstate: (error as { code?: unknown }).code } },
      );
    }
  }

  async recordAttempt(f: FailedEvent): Promise<AttemptRecord> {
    const row = failureRow(f);
    const [result] = await this.#db.query<{
      attempts: number;
      operator_request: OperatorRequestRow | null;
    }>(sql.recordAttempt, [
      row.event_id,
      row.topic,
      row.event_type,
      row.key,
      row.payload === null ? null : JSON.stringify(row.payload),
      row.payload_text,
      JSON.stringify(row.headers),
      row.reason,
      row.error_code,
      row.last_error,
      row.accepted_at,
      row.generation,
      row.source_partition,
      row.source_offset,
    ]);
    const request = result?.operator_request ?? null;
    return {
      attempts: result?.attempts ?? 1,
      operatorRequest: request === null ? undefined : toOperatorRequest(request),
    };
  }

  async operatorRequest(id: string, generation: number): Promise<OperatorRequest | undefined> {
    const [row] = await this.#db.query<OperatorRequestRow>(sql.pendingOperatorRequest, [
      id,
      generation,
    ]);
    return row === undefined ? undefined : toOperatorRequest(row);
  }

  async requestDeadLetter(request: Omit<OperatorRequest, 'requestedAt'>) {
    const [row] = await this.#db.query<OperatorRequestRow>(sql.requestDeadLetter, [
      request.eventId,
      request.generation,
      request.partition,
      request.topic ?? null,
      storableText(request.requestedBy, 200),
      request.note === undefined ? null : storableText(request.note, MAX_ERROR_CODE_POINTS),
    ]);
    if (row === undefined) throw new Error('the operator request was not stored');
    return toOperatorRequest(row);
  }

  async completeOperatorRequest(id: string, generation: number): Promise<void> {
    await this.#db.query(sql.completeOperatorRequest, [id, generation]);
  }

  async get(id: string): Promise<EventRecord | undefined> {
    const [row] = await this.#db.query<EventRow>(sql.getEvent, [id, EVENT_TOPICS]);
    return row === undefined ? undefined : toEventRecord(row);
  }

  async search(filter: EventSearch): Promise<EventRecord[]> {
    const params = [
      filter.userId ?? null,
      filter.type ?? null,
      filter.topic ?? null,
      filter.from ?? null,
      filter.to ?? null,
      filter.limit,
    ];
    const rows = this.#logInDatabase
      ? await this.#db.query<EventRow>(sql.searchEvents, [...params, EVENT_TOPICS])
      : await this.#db.query<EventRow>(sql.searchStoredEvents, params);
    return rows.map(toEventRecord);
  }

  async listDeadLetters(filter: DeadLetterFilter): Promise<DeadLetter[]> {
    const rows = await this.#db.query<DeadLetterRow>(sql.listDeadLetters, deadLetterParams(filter));
    return rows.map(toDeadLetter);
  }

  async purgeDeadLetters(filter: DeadLetterFilter): Promise<string[]> {
    const rows = await this.#db.query<{ event_id: string }>(
      sql.purgeDeadLetters,
      deadLetterParams(filter),
    );
    return rows.map((r) => r.event_id);
  }

  async getDeadLetter(id: string): Promise<DeadLetter | undefined> {
    const [row] = await this.#db.query<DeadLetterRow>(sql.getDeadLetter, [id]);
    return row === undefined ? undefined : toDeadLetter(row);
  }

  async markReplayed(id: string, generation: number): Promise<boolean> {
    const rows = await this.#db.query(sql.markReplayed, [id, generation]);
    return rows.length > 0;
  }

  async counts(): Promise<StoreCounts> {
    const [row] = await this.#db.query<{
      accepted: number;
      processed: number;
      retrying: number;
      dead_lettered: number;
    }>(
      this.#logInDatabase ? sql.counts : sql.countsStored,
      this.#logInDatabase ? [EVENT_TOPICS] : [],
    );
    return {
      accepted: row?.accepted ?? 0,
      processed: row?.processed ?? 0,
      retrying: row?.retrying ?? 0,
      deadLettered: row?.dead_lettered ?? 0,
    };
  }
}
