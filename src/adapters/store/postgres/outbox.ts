import type { Database } from '../../../ports/database.ts';
import type { OutboxStore, PendingOutboxEvent } from '../../../ports/outbox.ts';
import * as sql from './users-sql.ts';

interface OutboxRow {
  seq: number | string;
  id: string;
  topic: string;
  key: string;
  type: string;
  payload: Record<string, unknown>;
  headers: Record<string, string>;
}

/** The transactional outbox in PostgreSQL, read by the relay. */
export class PostgresOutboxStore implements OutboxStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async acquireLease(holder: string, leaseMs: number): Promise<boolean> {
    return (await this.#db.query(sql.acquireRelayLease, [holder, leaseMs])).length > 0;
  }

  async releaseLease(holder: string): Promise<void> {
    await this.#db.query(sql.releaseRelayLease, [holder]);
  }

  async unpublished(limit: number): Promise<PendingOutboxEvent[]> {
    const rows = await this.#db.query<OutboxRow>(sql.unpublishedOutbox, [limit]);
    return rows.map((r) => ({
      seq: Number(r.seq),
      id: r.id,
      topic: r.topic,
      key: r.key,
      type: r.type,
      payload: r.payload,
      headers: r.headers,
    }));
  }

  async markPublished(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.#db.query(sql.markPublished, [ids]);
  }

  async prunePublished(olderThanMs: number): Promise<number> {
    return (await this.#db.query(sql.prunePublished, [olderThanMs])).length;
  }

  async hasUnpublished(): Promise<boolean> {
    const [row] = await this.#db.query<{ pending: boolean }>(sql.outboxPending);
    return row?.pending === true;
  }

  async backlog(): Promise<number> {
    const [row] = await this.#db.query<{ n: number }>(sql.outboxBacklog);
    return row?.n ?? 0;
  }
}
