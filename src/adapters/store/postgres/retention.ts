import type { Database } from '../../../ports/database.ts';
import type { HistoryKind, RetentionStore, SlotClearing } from '../../../ports/retention-store.ts';
import * as sql from './retention-sql.ts';

/**
 * Log maintenance in Herald's database. The dedupe window's expired slot is emptied whole:
 * detached CONCURRENTLY (appends go on: they never read that slot), truncated, attached again;
 * on PGlite, with one connection and nothing concurrent, truncated in place.
 */
export class PostgresRetentionStore implements RetentionStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async acquireLease(holder: string, leaseMs: number): Promise<boolean> {
    return (await this.#db.query(sql.acquireLease, [holder, leaseMs])).length > 0;
  }

  async releaseLease(holder: string): Promise<void> {
    await this.#db.query(sql.releaseLease, [holder]);
  }

  async clearExpiredDedupeSlot(windowMs: number): Promise<SlotClearing> {
    await this.#repairSlots();
    // The few duplicate counts of the Postgres transport: a small table, deleted by time.
    await this.#db.query(sql.pruneDuplicates, [windowMs]);
    const [period] = await this.#db.query<{
      period: number;
      slot: number;
      into_ms: number;
      done: boolean;
    }>(sql.dedupePeriod, [windowMs]);
    if (period === undefined || period.done) return { slot: undefined, ids: 0 };
    // Away from the period's edges: a process whose clock or transaction straddles a boundary
    // must never find its slot detached.
    const margin = Math.min(windowMs / 10, 60_000);
    if (period.into_ms < margin || windowMs - period.into_ms < margin) {
      return { slot: undefined, ids: 0 };
    }
    const name = `event_dedupe_${period.slot}`;
    const slots = await this.#db.query<{ name: string; estimate: number }>(sql.dedupeSlots);
    const ids = Number(slots.find((s) => s.name === name)?.estimate ?? 0);
    await this.#db.query(`ALTER TABLE event_dedupe DETACH PARTITION ${name} CONCURRENTLY`);
    await this.#db.query(`TRUNCATE ${name}`);
    await this.#attach(name, period.slot);
    await this.#db.query(sql.markCleared, [period.period]);
    return { slot: period.slot, ids };
  }

  async pruneHistory(kind: HistoryKind, cutoff: Date, limit: number): Promise<number> {
    const rows = await this.#db.query(sql.pruneHistory[kind], [cutoff.toISOString(), limit]);
    return rows.length;
  }

  /** A clearing a crash interrupted: the slot detached (or half) but not attached again. */
  async #repairSlots(): Promise<void> {
    const slots = await this.#db.query<{ name: string; attached: boolean; pending: boolean }>(
      sql.dedupeSlots,
    );
    for (const slot of slots) {
      if (slot.attached && !slot.pending) continue;
      if (slot.pending) {
        await this.#db.query(`ALTER TABLE event_dedupe DETACH PARTITION ${slot.name} FINALIZE`);
      }
      // Only an expired slot is ever detached: what it holds can go.
      await this.#db.query(`TRUNCATE ${slot.name}`);
      await this.#attach(slot.name, Number(slot.name.slice(-1)));
    }
  }

  async #attach(name: string, slot: number): Promise<void> {
    await this.#db.query(
      `ALTER TABLE event_dedupe ATTACH PARTITION ${name} FOR VALUES IN (${slot})`,
    );
  }
}
