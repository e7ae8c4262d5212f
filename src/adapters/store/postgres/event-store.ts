import { TOPICS } from '../../../domain/events.ts';
import type { Database } from '../../../ports/database.ts';
import type {
  DeadLetter,
  DeadLetterFilter,
  EventRecord,
  EventSearch,
  EventStore,
  FailedEvent,
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
  payload: Record<string, unknown>;
  headers: Record<string, string>;
  reason: string;
  error_code: string;
  last_error: string;
  attempts: number;
  first_failed_at: Timestamp;
  last_failed_at: Timestamp;
  replay_count: number;
  accepted_at: Timestamp;
}

function toDeadLetter(row: DeadLetterRow): DeadLetter {
  return {
    id: row.event_id,
    topic: row.topic,
    type: row.event_type,
    key: row.key,
    payload: row.payload,
    headers: row.headers,
    reason: row.reason,
    errorCode: row.error_code,
    lastError: row.last_error,
    attempts: row.attempts,
    firstFailedAt: iso(row.first_failed_at),
    lastFailedAt: iso(row.last_failed_at),
    replayCount: row.replay_count,
    acceptedAt: iso(row.accepted_at),
  };
}

function failureRow(f: FailedEvent) {
  return {
    event_id: f.id,
    topic: f.topic,
    event_type: f.type,
    key: f.key,
    payload: f.payload,
    headers: f.headers,
    reason: f.reason,
    error_code: f.errorCode,
    last_error: f.error,
    accepted_at: f.acceptedAt.toISOString(),
    generation: f.generation,
  };
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

/** The event store on PostgreSQL (server or PGlite): one multi-row statement per batch. */
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
      if (dead.length > 0) await run(sql.insertDead, dead.map(failureRow));
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

  async recordAttempt(f: FailedEvent): Promise<number> {
    const [row] = await this.#db.query<{ attempts: number }>(sql.recordAttempt, [
      f.id,
      f.topic,
      f.type,
      f.key,
      JSON.stringify(f.payload),
      JSON.stringify(f.headers),
      f.reason,
      f.errorCode,
      f.error,
      f.acceptedAt.toISOString(),
      f.generation,
    ]);
    return row?.attempts ?? 1;
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
