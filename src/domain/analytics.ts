/**
 * The maths of analytics, free of I/O: UTC time buckets, validated query ranges, the pieces of
 * rollup that cover a range, and the funnel. Times are epoch milliseconds or Dates, always UTC.
 */
import { ErrorCodes, HeraldError } from '../errors.ts';

export type Interval = 'minute' | 'hour' | 'day';

export const INTERVALS: readonly Interval[] = ['minute', 'hour', 'day'];

export const INTERVAL_MS: Record<Interval, number> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

/** At most this many buckets in one series: a range too fine for its length is refused. */
export const MAX_SERIES_POINTS = 2000;

/** Longest range a funnel scans (it reads raw events, not rollups). */
export const MAX_FUNNEL_RANGE_MS = 31 * INTERVAL_MS.day;

/** Longest funnel window. */
export const MAX_FUNNEL_WINDOW_MS = 31 * INTERVAL_MS.day;

export const MAX_FUNNEL_STEPS = 10;

function invalid(message: string, field: string): HeraldError {
  return new HeraldError(ErrorCodes.VALIDATION, message, { details: { field } });
}

/** Start of the UTC bucket holding `ms` (UTC has no DST: every day is 86 400 000 ms). */
export function floorTo(ms: number, interval: Interval): number {
  const size = INTERVAL_MS[interval];
  return Math.floor(ms / size) * size;
}

/** Smallest bucket boundary at or after `ms`. */
export function ceilTo(ms: number, interval: Interval): number {
  const size = INTERVAL_MS[interval];
  return Math.ceil(ms / size) * size;
}

export interface TimeRange {
  /** Inclusive, epoch ms. */
  from: number;
  /** Exclusive, epoch ms. */
  to: number;
}

/**
 * Parses a `from`/`to` pair (ISO 8601 with an offset, any zone; read as the instant it names).
 * A missing `to` is `now`, a missing `from` is `defaultSpanMs` before `to`. Refuses unparsable
 * times, `from` not before `to`, and ranges longer than `maxSpanMs`.
 */
export function parseRange(
  query: { from?: string | undefined; to?: string | undefined },
  options: { now: number; defaultSpanMs: number; maxSpanMs?: number },
): TimeRange {
  const parse = (value: string, field: string) => {
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) throw invalid(`${field} is not an ISO 8601 date-time`, field);
    return ms;
  };
  const to = query.to === undefined ? options.now : parse(query.to, 'to');
  const from = query.from === undefined ? to - options.defaultSpanMs : parse(query.from, 'from');
  if (from >= to) throw invalid('from must be before to', 'from');
  if (options.maxSpanMs !== undefined && to - from > options.maxSpanMs) {
    throw invalid(`the range may span at most ${options.maxSpanMs / INTERVAL_MS.day} days`, 'to');
  }
  return { from, to };
}

/**
 * The range a series covers: `from` floored and `to` ceiled to whole buckets, so the first and
 * last bucket are complete; refused when it has more than MAX_SERIES_POINTS buckets.
 */
export function seriesRange(range: TimeRange, interval: Interval): TimeRange & { points: number } {
  const from = floorTo(range.from, interval);
  const to = ceilTo(range.to, interval);
  const points = (to - from) / INTERVAL_MS[interval];
  if (points > MAX_SERIES_POINTS) {
    throw invalid(
      `${points} ${interval} buckets requested; at most ${MAX_SERIES_POINTS} (use a coarser interval or a shorter range)`,
      'interval',
    );
  }
  return { from, to, points };
}

export interface SeriesPoint {
  /** Bucket start, ISO 8601 UTC. */
  start: string;
  count: number;
}

/** Every bucket of `range`, in order, with its count (0 where `counts` has none). */
export function denseSeries(
  counts: ReadonlyMap<number, number>,
  range: TimeRange,
  interval: Interval,
): SeriesPoint[] {
  const size = INTERVAL_MS[interval];
  const points: SeriesPoint[] = [];
  for (let at = range.from; at < range.to; at += size) {
    points.push({ start: new Date(at).toISOString(), count: counts.get(at) ?? 0 });
  }
  return points;
}

/** A range read as three pieces of rollup: hours, whole days, hours (any may be empty). */
export interface Cover {
  /** The range actually covered: `from` floored and `to` ceiled to the hour. */
  range: TimeRange;
  headHours: TimeRange;
  days: TimeRange;
  tailHours: TimeRange;
}

/**
 * Covers a range with as few rollup rows as possible, to the hour: whole UTC days from the
 * daily rollup, the hours before and after them from the hourly one.
 */
export function coverRange(range: TimeRange): Cover {
  const from = floorTo(range.from, 'hour');
  const to = ceilTo(range.to, 'hour');
  const dayFrom = ceilTo(from, 'day');
  const dayTo = floorTo(to, 'day');
  if (dayFrom >= dayTo) {
    return {
      range: { from, to },
      headHours: { from, to },
      days: { from: to, to },
      tailHours: { from: to, to },
    };
  }
  return {
    range: { from, to },
    headHours: { from, to: dayFrom },
    days: { from: dayFrom, to: dayTo },
    tailHours: { from: dayTo, to },
  };
}

/** Validates a funnel's steps: 2 to MAX_FUNNEL_STEPS distinct event types. */
export function parseFunnelSteps(steps: readonly string[]): string[] {
  const cleaned = steps.map((s) => s.trim());
  if (cleaned.length < 2 || cleaned.length > MAX_FUNNEL_STEPS) {
    throw invalid(`a funnel has 2 to ${MAX_FUNNEL_STEPS} steps`, 'steps');
  }
  if (cleaned.some((s) => s === '')) throw invalid('a step is an event type', 'steps');
  if (new Set(cleaned).size !== cleaned.length) {
    throw invalid('the steps of a funnel are distinct event types', 'steps');
  }
  return cleaned;
}

export interface FunnelEvent {
  /** Index of the event's type in the funnel's steps. */
  step: number;
  /** Event time, epoch ms. */
  at: number;
}

/**
 * How many steps of the funnel one user completed: a first step at a time in `[from, to)`,
 * then each next step at or after the previous one and no later than `windowMs` after the
 * first. Events may come in any order: they are ordered by event time (a tie goes to the
 * earlier step). Every first-step event is tried as the start; the best start counts.
 * This is the funnel's definition: the single pass the analytics reader makes over the
 * events it reads from the database (FunnelPass in funnel-pass.ts) is tested against it.
 */
export function stepsReached(
  events: readonly FunnelEvent[],
  stepCount: number,
  windowMs: number,
  entry: TimeRange,
): number {
  const sorted = [...events].sort((a, b) => a.at - b.at || a.step - b.step);
  let best = 0;
  for (let s = 0; s < sorted.length && best < stepCount; s += 1) {
    const start = sorted[s] as FunnelEvent;
    if (start.step !== 0 || start.at < entry.from || start.at >= entry.to) continue;
    let next = 1;
    const deadline = start.at + windowMs;
    for (let i = s + 1; i < sorted.length && next < stepCount; i += 1) {
      const event = sorted[i] as FunnelEvent;
      if (event.at > deadline) break;
      if (event.step === next) next += 1;
    }
    best = Math.max(best, next);
  }
  return best;
}

export interface FunnelStep {
  type: string;
  /** Users who reached this step (and so every one before it). */
  users: number;
  /** Share of the first step's users, 0..1 (0 when nobody entered). */
  conversion: number;
  /** Share of the previous step's users, 0..1. */
  fromPrevious: number;
}

/**
 * The funnel from how many users reached each number of steps (`reachedBy[n]` users completed
 * exactly n steps, n ≥ 1): users at each step are those who reached it or further.
 */
export function funnelSteps(
  steps: readonly string[],
  reachedBy: ReadonlyMap<number, number>,
): FunnelStep[] {
  const atLeast = steps.map((_, i) => {
    let users = 0;
    for (const [reached, count] of reachedBy) if (reached > i) users += count;
    return users;
  });
  const first = atLeast[0] ?? 0;
  return steps.map((type, i) => {
    const users = atLeast[i] ?? 0;
    const previous = i === 0 ? users : (atLeast[i - 1] ?? 0);
    return {
      type,
      users,
      conversion: first === 0 ? 0 : users / first,
      fromPrevious: previous === 0 ? 0 : users / previous,
    };
  });
}

/** Counts of a `{key: count}` map, largest first (ties by key), at most `limit`. */
export function topCounts(
  counts: Record<string, number>,
  limit: number,
): { value: string; count: number }[] {
  return Object.entries(counts)
    .map(([value, count]) => ({ value, count: Number(count) }))
    .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
    .slice(0, limit);
}

/** Events per second over the last `minutes` whole minutes before `now` (the current one partial). */
export function ratePerSecond(
  perMinute: ReadonlyMap<number, number>,
  now: number,
  minutes: number,
): number {
  const current = floorTo(now, 'minute');
  let total = 0;
  for (let at = current - (minutes - 1) * INTERVAL_MS.minute; at <= current; at += 60_000) {
    total += perMinute.get(at) ?? 0;
  }
  const seconds = (minutes - 1) * 60 + Math.max(1, (now - current) / 1000);
  return total / seconds;
}

/**
 * The properties an agent's answer actually extracted: present, not null, not `unknown`, not
 * an empty list (an answer's properties are `{value, confidence}` assessments or lists of them).
 */
export function extractedProperties(output: Record<string, unknown>): string[] {
  const extracted = (value: unknown): boolean => {
    if (value === null || value === undefined) return false;
    if (Array.isArray(value)) return value.length > 0;
    if (typeof value === 'object' && 'value' in value) {
      const inner = (value as { value: unknown }).value;
      return inner !== null && inner !== 'unknown' && inner !== '';
    }
    return true;
  };
  return Object.keys(output)
    .filter((key) => extracted(output[key]))
    .sort();
}
