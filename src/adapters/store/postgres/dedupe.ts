import type { Database } from '../../../ports/database.ts';
import type {
  ClaimResult,
  DedupeClaim,
  DedupeConfirm,
  DedupeRecord,
  DedupeStore,
} from '../../../ports/dedupe.ts';
import * as sql from './dedupe-sql.ts';

interface LookupRow {
  accepted_at: Date | string;
  partition: number | null;
  offset: number | null;
  duplicates: number;
  last_duplicate_at: Date | string | null;
  window_ends_at: Date | string;
}

const iso = (value: Date | string) => new Date(value).toISOString();

/** The dedupe window in Herald's database (event_dedupe, migration 011). */
export class PostgresDedupeStore implements DedupeStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async claim(
    confirms: readonly DedupeConfirm[],
    claims: readonly DedupeClaim[],
    windowMs: number,
  ): Promise<ClaimResult[]> {
    const rows = await this.#db.query<{
      claim_index: number;
      claim_slot: number;
      is_duplicate: boolean;
    }>(sql.claimIds, [
      JSON.stringify(
        confirms.map((c) => ({
          slot: c.slot,
          event_id: c.id,
          generation: c.generation,
          partition: c.partition,
          offset: c.offset,
        })),
      ),
      JSON.stringify(claims.map((c, i) => ({ i, event_id: c.id, generation: c.generation }))),
      windowMs,
    ]);
    return rows.map((r) => ({ slot: r.claim_slot, duplicate: r.is_duplicate }));
  }

  async lookup(id: string, windowMs: number): Promise<DedupeRecord | undefined> {
    const [row] = await this.#db.query<LookupRow>(sql.lookupId, [id, windowMs]);
    if (row === undefined) return undefined;
    return {
      id,
      acceptedAt: iso(row.accepted_at),
      partition: row.partition,
      offset: row.offset === null ? null : Number(row.offset),
      duplicates: row.duplicates,
      lastDuplicateAt: row.last_duplicate_at === null ? null : iso(row.last_duplicate_at),
      windowEndsAt: iso(row.window_ends_at),
    };
  }
}
