/**
 * What the analytics use cases read: rollups the worker keeps as it persists events, and the
 * persisted events themselves for detail (user summaries, recent events, funnels). Times are epoch milliseconds (UTC).
 */
import type { Cover, Interval, TimeRange } from '../domain/analytics.ts';

/** A user's summary, computed from their persisted events. */
export interface UserSummary {
  userId: string;
  events: number;
  firstSeen: number;
  lastSeen: number;
  /** Visits: runs of events with no gap longer than the session gap. */
  sessions: number;
  byType: Record<string, number>;
  pages: Record<string, number>;
  sources: Record<string, number>;
  purchases: number;
  revenue: number;
}

export interface RecentEvent {
  id: string;
  topic: string;
  type: string;
  at: number;
  payload: Record<string, unknown>;
}

export interface ResearcherRollup {
  researcher: string;
  submissions: number;
  molecules: number;
  firstSeen: number;
  lastSeen: number;
  /** Submissions that reported a weight, and the sum of those weights. */
  weighed: number;
  weightSum: number;
  mismatches: number;
  formulas: Record<string, number>;
  /** Submissions per UTC day (bucket start → count). */
  days: { day: number; count: number }[];
}

export interface AgentAnswerRow {
  moleculeId: string;
  agent: string;
  model: string;
  status: string;
  output: Record<string, unknown>;
  at: number;
}

export type Breakdown = 'type' | 'page' | 'source';

export interface TotalsRow {
  topic: string;
  type: string;
  count: number;
  firstDay: number;
  lastDay: number;
}

export interface FailureCounts {
  dead: number;
  retrying: number;
  /** Dead-lettered since the `since` given. */
  deadRecent: number;
}

export interface AnalyticsReader {
  /** Undefined when no event of the user was persisted; a gap over `sessionGapMs` starts a visit. */
  user(userId: string, sessionGapMs: number): Promise<UserSummary | undefined>;
  recentEvents(userId: string, limit: number): Promise<RecentEvent[]>;
  researcher(name: string): Promise<ResearcherRollup | undefined>;
  /** The latest answering agent run of each of the researcher's `molecules` latest molecules. */
  researcherAgentAnswers(name: string, molecules: number): Promise<AgentAnswerRow[]>;
  /** Events per bucket start; buckets without events are absent. */
  series(
    interval: Interval,
    range: TimeRange,
    type: string | undefined,
  ): Promise<Map<number, number>>;
  top(by: Breakdown, cover: Cover, limit: number): Promise<{ value: string; count: number }[]>;
  rangeTotal(cover: Cover): Promise<number>;
  /**
   * Users by how many steps of the funnel they completed (n ≥ 1 → users), as stepsReached in
   * the domain defines it: entries in `entry`, each later step within `windowMs` of the entry.
   */
  funnel(
    steps: readonly string[],
    entry: TimeRange,
    windowMs: number,
  ): Promise<Map<number, number>>;
  totals(): Promise<TotalsRow[]>;
  /** Events persisted per minute (bucket start → count) since `since`. */
  throughput(since: number): Promise<Map<number, number>>;
  failures(since: number): Promise<FailureCounts>;
}

/**
 * Packs closed hours' events of each type so that funnels read an hour as one row instead of
 * event by event (sealed segments). Sealing changes no answer, only how fast funnels get it:
 * a segment that no longer holds every event of its hour is not read.
 */
export interface FunnelSealer {
  /**
   * Seals up to one round's worth of closed hours whose segment is missing or stale; resolves
   * to how many it sealed (0 when there is none, or another process is sealing).
   */
  sealRound(): Promise<number>;
}
