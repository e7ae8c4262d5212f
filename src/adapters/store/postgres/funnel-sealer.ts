import type { FunnelSealer } from '../../../ports/analytics.ts';
import type { Database } from '../../../ports/database.ts';
import * as sql from './analytics-sql.ts';

export interface FunnelSealerOptions {
  /** Hours of a type with fewer events are left raw: reading them event by event is cheap. */
  minEvents: number;
  /** Hours (of one type each) sealed per round, in one statement. */
  hoursPerRound: number;
  /** A stale segment is sealed again only this long after it was last sealed. */
  resealAfterMs: number;
}

/**
 * What a worker seals with: hours of 100 events or more (fewer are cheap to read raw), 48 a
 * round (under a second on 2 cores at ~14,000 events an hour), a stale hour again after 10
 * minutes.
 */
export const WORKER_SEALING: FunnelSealerOptions = {
  minEvents: 100,
  hoursPerRound: 48,
  resealAfterMs: 600_000,
};

/** Taken for a round, so that workers in several processes do not seal the same hours. */
const ROUND_LOCK = `SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.herald_funnel_sealer')) AS locked`;

/**
 * Seals funnel segments (migration 007): finds closed hours whose segment is missing or stale
 * (analytics-sql.ts unsealedHours), newest first, and packs them (sealHours).
 */
export class PostgresFunnelSealer implements FunnelSealer {
  readonly #db: Database;
  readonly #options: FunnelSealerOptions;

  constructor(db: Database, options: FunnelSealerOptions) {
    this.#db = db;
    this.#options = options;
  }

  /** Rounds until none seals anything (a backfill); how many hours they sealed. */
  async sealAll(): Promise<number> {
    let sealed = 0;
    for (let round = await this.sealRound(); round > 0; round = await this.sealRound()) {
      sealed += round;
    }
    return sealed;
  }

  sealRound(): Promise<number> {
    return this.#db.transaction(async (tx) => {
      const [lock] = await tx.query<{ locked: boolean }>(ROUND_LOCK);
      if (lock?.locked !== true) return 0;
      const hours = await tx.query<{ event_type: string; hour: Date | string }>(sql.unsealedHours, [
        this.#options.minEvents,
        this.#options.hoursPerRound,
        this.#options.resealAfterMs,
      ]);
      if (hours.length === 0) return 0;
      const sealed = await tx.query(sql.sealHours, [
        hours.map((h) => h.event_type),
        hours.map((h) => new Date(h.hour).toISOString()),
      ]);
      return sealed.length;
    });
  }
}
