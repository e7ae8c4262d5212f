/**
 * The analytics use cases: what the API answers, built from the rollups the worker keeps (and
 * the persisted events, for detail). Answers are the API's JSON: snake_case, ISO 8601 UTC.
 */
import {
  coverRange,
  denseSeries,
  extractedProperties,
  funnelSteps,
  INTERVAL_MS,
  type Interval,
  MAX_FUNNEL_RANGE_MS,
  MAX_FUNNEL_WINDOW_MS,
  parseFunnelSteps,
  parseRange,
  ratePerSecond,
  seriesRange,
  topCounts,
} from '../domain/analytics.ts';
import { ErrorCodes, HeraldError } from '../errors.ts';
import type { AnalyticsReader, Breakdown } from '../ports/analytics.ts';

const iso = (at: number) => new Date(at).toISOString();

/** A new session starts after this long without an event. */
export const SESSION_GAP_MS = 30 * 60_000;
const RECENT_EVENTS = 10;
const TOP_LIMIT = 20;
/** Agent answers are summarised over the researcher's latest molecules, not all of them. */
export const AGENT_SAMPLE_MOLECULES = 100;

const DEFAULT_SPAN_MS: Record<Interval, number> = {
  minute: INTERVAL_MS.hour,
  hour: INTERVAL_MS.day,
  day: 30 * INTERVAL_MS.day,
};

export interface RangeQuery {
  from?: string | undefined;
  to?: string | undefined;
}

/** Analytics over what the workers persisted. `now` is injectable for tests. */
export class AnalyticsService {
  readonly #reader: AnalyticsReader;
  readonly #now: () => number;

  constructor(reader: AnalyticsReader, options: { now?: () => number } = {}) {
    this.#reader = reader;
    this.#now = options.now ?? Date.now;
  }

  /** A user's summary; NOT_FOUND when no event of theirs was persisted. */
  async user(userId: string, options: { recent?: number } = {}) {
    const [rollup, recent] = await Promise.all([
      this.#reader.user(userId, SESSION_GAP_MS),
      this.#reader.recentEvents(userId, options.recent ?? RECENT_EVENTS),
    ]);
    if (rollup === undefined) {
      throw new HeraldError(ErrorCodes.NOT_FOUND, `no events for user "${userId}"`);
    }
    const pageViews = Object.values(rollup.pages).reduce((a, b) => a + b, 0);
    return {
      user_id: rollup.userId,
      total_events: rollup.events,
      events_by_type: rollup.byType,
      first_seen: iso(rollup.firstSeen),
      last_seen: iso(rollup.lastSeen),
      sessions: rollup.sessions,
      pages_viewed: {
        total: pageViews,
        distinct: Object.keys(rollup.pages).length,
        top: topCounts(rollup.pages, TOP_LIMIT).map((p) => ({ page: p.value, count: p.count })),
      },
      sources: topCounts(rollup.sources, TOP_LIMIT).map((s) => ({
        source: s.value,
        count: s.count,
      })),
      purchases: rollup.purchases,
      revenue: rollup.revenue,
      recent_events: recent.map((e) => ({
        id: e.id,
        topic: e.topic,
        type: e.type,
        timestamp: iso(e.at),
        payload: e.payload,
      })),
    };
  }

  /** A researcher's summary; NOT_FOUND when no chemical event of theirs was persisted. */
  async researcher(name: string) {
    const [rollup, answers] = await Promise.all([
      this.#reader.researcher(name),
      this.#reader.researcherAgentAnswers(name, AGENT_SAMPLE_MOLECULES),
    ]);
    if (rollup === undefined) {
      throw new HeraldError(ErrorCodes.NOT_FOUND, `no molecules submitted by "${name}"`);
    }
    const byAgent = new Map<string, { molecules: number; properties: Record<string, number> }>();
    for (const answer of answers) {
      const entry = byAgent.get(answer.agent) ?? { molecules: 0, properties: {} };
      entry.molecules += 1;
      for (const property of extractedProperties(answer.output)) {
        entry.properties[property] = (entry.properties[property] ?? 0) + 1;
      }
      byAgent.set(answer.agent, entry);
    }
    return {
      researcher: rollup.researcher,
      molecules_submitted: rollup.molecules,
      submissions: rollup.submissions,
      first_seen: iso(rollup.firstSeen),
      last_seen: iso(rollup.lastSeen),
      experiments_over_time: rollup.days.map((d) => ({ day: iso(d.day), count: d.count })),
      distinct_formulas: Object.keys(rollup.formulas).length,
      formulas: topCounts(rollup.formulas, TOP_LIMIT).map((f) => ({
        formula: f.value,
        count: f.count,
      })),
      mean_reported_weight: rollup.weighed === 0 ? null : rollup.weightSum / rollup.weighed,
      weights_reported: rollup.weighed,
      weight_mismatches: rollup.mismatches,
      agent_properties: {
        molecules_sampled: answers.length,
        by_agent: [...byAgent.entries()]
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([agent, entry]) => ({ agent, ...entry })),
        recent: answers.slice(0, RECENT_EVENTS).map((a) => ({
          molecule_id: a.moleculeId,
          agent: a.agent,
          model: a.model,
          status: a.status,
          at: iso(a.at),
          properties: extractedProperties(a.output),
        })),
      },
    };
  }

  /** Events per bucket (every bucket, zeros included); all types when `type` is absent. */
  async series(query: RangeQuery & { type?: string | undefined; interval: Interval }) {
    const asked = parseRange(query, {
      now: this.#now(),
      defaultSpanMs: DEFAULT_SPAN_MS[query.interval],
    });
    const range = seriesRange(asked, query.interval);
    const counts = await this.#reader.series(query.interval, range, query.type);
    const buckets = denseSeries(counts, range, query.interval);
    return {
      type: query.type ?? null,
      interval: query.interval,
      from: iso(range.from),
      to: iso(range.to),
      total: buckets.reduce((sum, b) => sum + b.count, 0),
      buckets,
    };
  }

  /** The `limit` most frequent event types, pages or sources in a range (to the hour). */
  async top(query: RangeQuery & { by: Breakdown; limit: number }) {
    const asked = parseRange(query, { now: this.#now(), defaultSpanMs: INTERVAL_MS.day });
    const cover = coverRange(asked);
    const [items, total] = await Promise.all([
      this.#reader.top(query.by, cover, query.limit),
      this.#reader.rangeTotal(cover),
    ]);
    return {
      by: query.by,
      from: iso(cover.range.from),
      to: iso(cover.range.to),
      total_events: total,
      items,
    };
  }

  /**
   * Users reaching each step of an ordered list of event types: a first step in the range,
   * then each next step within `windowSeconds` of the first, by event time (not arrival).
   */
  async funnel(query: RangeQuery & { steps: readonly string[]; windowSeconds: number }) {
    const steps = parseFunnelSteps(query.steps);
    const windowMs = query.windowSeconds * 1000;
    if (windowMs <= 0 || windowMs > MAX_FUNNEL_WINDOW_MS) {
      throw new HeraldError(ErrorCodes.VALIDATION, 'window out of range', {
        details: { field: 'window' },
      });
    }
    const entry = parseRange(query, {
      now: this.#now(),
      defaultSpanMs: 7 * INTERVAL_MS.day,
      maxSpanMs: MAX_FUNNEL_RANGE_MS,
    });
    const reachedBy = await this.#reader.funnel(steps, entry, windowMs);
    return {
      from: iso(entry.from),
      to: iso(entry.to),
      window_seconds: query.windowSeconds,
      steps: funnelSteps(steps, reachedBy).map((s) => ({
        type: s.type,
        users: s.users,
        conversion: s.conversion,
        from_previous: s.fromPrevious,
      })),
    };
  }

  /** Totals, ingest rate and failure rate for the dashboard, from rollups only. */
  async overview() {
    const now = this.#now();
    const hourAgo = now - INTERVAL_MS.hour;
    const [totals, perMinute, failures] = await Promise.all([
      this.#reader.totals(),
      this.#reader.throughput(now - INTERVAL_MS.hour),
      this.#reader.failures(hourAgo),
    ]);
    const processed = totals.reduce((sum, t) => sum + t.count, 0);
    const byTopic: Record<string, number> = {};
    const byType: Record<string, number> = {};
    for (const t of totals) {
      byTopic[t.topic] = (byTopic[t.topic] ?? 0) + t.count;
      byType[t.type] = (byType[t.type] ?? 0) + t.count;
    }
    const lastHour = [...perMinute.values()].reduce((a, b) => a + b, 0);
    const rate = (part: number, whole: number) => (whole === 0 ? 0 : part / whole);
    return {
      generated_at: iso(now),
      totals: {
        processed,
        dead_lettered: failures.dead,
        retrying: failures.retrying,
        by_topic: byTopic,
        by_type: byType,
        first_day: totals.length === 0 ? null : iso(Math.min(...totals.map((t) => t.firstDay))),
        last_day: totals.length === 0 ? null : iso(Math.max(...totals.map((t) => t.lastDay))),
      },
      ingest_rate: {
        per_second_1m: ratePerSecond(perMinute, now, 1),
        per_second_5m: ratePerSecond(perMinute, now, 5),
        per_second_15m: ratePerSecond(perMinute, now, 15),
        last_hour: lastHour,
        per_minute: [...perMinute].map(([at, count]) => ({ start: iso(at), count })),
      },
      failure_rate: {
        all_time: rate(failures.dead, processed + failures.dead),
        last_hour: rate(failures.deadRecent, lastHour + failures.deadRecent),
      },
    };
  }
}
