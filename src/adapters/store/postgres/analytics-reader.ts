import type { Cover, Interval, TimeRange } from '../../../domain/analytics.ts';
import type {
  AgentAnswerRow,
  AnalyticsReader,
  Breakdown,
  FailureCounts,
  RecentEvent,
  ResearcherRollup,
  TotalsRow,
  UserSummary,
} from '../../../ports/analytics.ts';
import type { SqlExecutor } from '../../../ports/database.ts';
import * as sql from './analytics-sql.ts';

type Timestamp = Date | string;

const ms = (value: Timestamp): number =>
  value instanceof Date ? value.getTime() : Date.parse(value);

const iso = (at: number): string => new Date(at).toISOString();

/** Numbers as the driver gives them (PGlite returns numeric as text) → numbers. */
function counts(map: Record<string, unknown> | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(map ?? {})) out[k] = Number(v);
  return out;
}

function coverParams(cover: Cover): string[] {
  return [
    iso(cover.headHours.from),
    iso(cover.headHours.to),
    iso(cover.days.from),
    iso(cover.days.to),
    iso(cover.tailHours.from),
    iso(cover.tailHours.to),
  ];
}

/**
 * The analytics reads on PostgreSQL (server or PGlite): the rollups of migration 002, and the
 * persisted events where a summary is per user.
 */
export class PostgresAnalyticsReader implements AnalyticsReader {
  readonly #db: SqlExecutor;

  constructor(db: SqlExecutor) {
    this.#db = db;
  }

  async user(userId: string, sessionGapMs: number): Promise<UserSummary | undefined> {
    const [[row], breakdown] = await Promise.all([
      this.#db.query<{
        events: number;
        first_seen: Timestamp;
        last_seen: Timestamp;
        sessions: number;
        purchases: number;
        revenue: number;
      }>(sql.userSummary, [userId, `${sessionGapMs / 1000} seconds`]),
      this.#db.query<{ dimension: 'type' | 'page' | 'source'; value: string | null; n: number }>(
        sql.userBreakdown,
        [userId],
      ),
    ]);
    if (row === undefined) return undefined;
    const maps = { type: {}, page: {}, source: {} } as Record<string, Record<string, number>>;
    for (const { dimension, value, n } of breakdown) {
      // Events without a page (or source) form a group of their own: not a page.
      if (value !== null) (maps[dimension] as Record<string, number>)[value] = Number(n);
    }
    return {
      userId,
      events: Number(row.events),
      firstSeen: ms(row.first_seen),
      lastSeen: ms(row.last_seen),
      sessions: Number(row.sessions),
      byType: maps.type ?? {},
      pages: maps.page ?? {},
      sources: maps.source ?? {},
      purchases: Number(row.purchases),
      revenue: Number(row.revenue),
    };
  }

  async recentEvents(userId: string, limit: number): Promise<RecentEvent[]> {
    const rows = await this.#db.query<{
      event_id: string;
      topic: string;
      event_type: string;
      occurred_at: Timestamp;
      payload: Record<string, unknown>;
    }>(sql.userRecentEvents, [userId, limit]);
    return rows.map((r) => ({
      id: r.event_id,
      topic: r.topic,
      type: r.event_type,
      at: ms(r.occurred_at),
      payload: r.payload,
    }));
  }

  async researcher(name: string): Promise<ResearcherRollup | undefined> {
    const [row] = await this.#db.query<{
      researcher: string;
      submissions: number;
      molecules: number;
      first_seen: Timestamp;
      last_seen: Timestamp;
      weighed: number;
      weight_sum: number;
      mismatches: number;
      formulas: Record<string, unknown>;
    }>(sql.researcherSummary, [name]);
    if (row === undefined) return undefined;
    const days = await this.#db.query<{ day: Timestamp; n: number }>(sql.researcherDays, [name]);
    return {
      researcher: row.researcher,
      submissions: Number(row.submissions),
      molecules: Number(row.molecules),
      firstSeen: ms(row.first_seen),
      lastSeen: ms(row.last_seen),
      weighed: Number(row.weighed),
      weightSum: Number(row.weight_sum),
      mismatches: Number(row.mismatches),
      formulas: counts(row.formulas),
      days: days.map((d) => ({ day: ms(d.day), count: Number(d.n) })),
    };
  }

  async researcherAgentAnswers(name: string, molecules: number): Promise<AgentAnswerRow[]> {
    const rows = await this.#db.query<{
      molecule_id: string;
      agent: string;
      model: string;
      status: string;
      output: Record<string, unknown>;
      created_at: Timestamp;
    }>(sql.researcherAgentRuns, [name, molecules]);
    return rows.map((r) => ({
      moleculeId: r.molecule_id,
      agent: r.agent,
      model: r.model,
      status: r.status,
      output: r.output,
      at: ms(r.created_at),
    }));
  }

  async series(
    interval: Interval,
    range: TimeRange,
    type: string | undefined,
  ): Promise<Map<number, number>> {
    const rows = await this.#db.query<{ bucket: Timestamp; n: number }>(sql.series, [
      interval,
      iso(range.from),
      iso(range.to),
      type ?? null,
    ]);
    return new Map(rows.map((r) => [ms(r.bucket), Number(r.n)]));
  }

  async top(by: Breakdown, cover: Cover, limit: number) {
    const rows =
      by === 'type'
        ? await this.#db.query<{ value: string; n: number }>(sql.topTypes, [
            ...coverParams(cover),
            limit,
          ])
        : await this.#db.query<{ value: string; n: number }>(sql.topDimension, [
            ...coverParams(cover),
            limit,
            by,
          ]);
    return rows.map((r) => ({ value: r.value, count: Number(r.n) }));
  }

  async rangeTotal(cover: Cover): Promise<number> {
    const [row] = await this.#db.query<{ n: number }>(sql.rangeTotal, coverParams(cover));
    return Number(row?.n ?? 0);
  }

  async funnel(steps: readonly string[], entry: TimeRange, windowMs: number) {
    const rows = await this.#db.query<{ reached: number; users: number }>(
      sql.funnelReach(steps.length),
      [iso(entry.from), iso(entry.to), `${windowMs} milliseconds`, ...steps],
    );
    return new Map(rows.map((r) => [Number(r.reached), Number(r.users)]));
  }

  async totals(): Promise<TotalsRow[]> {
    const rows = await this.#db.query<{
      topic: string;
      event_type: string;
      n: number;
      first_day: Timestamp;
      last_day: Timestamp;
    }>(sql.totals);
    return rows.map((r) => ({
      topic: r.topic,
      type: r.event_type,
      count: Number(r.n),
      firstDay: ms(r.first_day),
      lastDay: ms(r.last_day),
    }));
  }

  async throughput(since: number): Promise<Map<number, number>> {
    const rows = await this.#db.query<{ bucket: Timestamp; n: number }>(sql.throughput, [
      iso(since),
    ]);
    return new Map(rows.map((r) => [ms(r.bucket), Number(r.n)]));
  }

  async failures(since: number): Promise<FailureCounts> {
    const [row] = await this.#db.query<{ dead: number; retrying: number; dead_recent: number }>(
      sql.failures,
      [iso(since)],
    );
    return {
      dead: Number(row?.dead ?? 0),
      retrying: Number(row?.retrying ?? 0),
      deadRecent: Number(row?.dead_recent ?? 0),
    };
  }
}
