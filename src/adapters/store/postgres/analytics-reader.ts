import type { Cover, Interval, TimeRange } from '../../../domain/analytics.ts';
import {
  FunnelPass,
  PAUSE_EVERY_MS,
  pauser,
  STEP_SLOTS,
  type StepEvents,
} from '../../../domain/funnel-pass.ts';
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
import type { Database, SqlExecutor } from '../../../ports/database.ts';
import * as sql from './analytics-sql.ts';
import {
  type PackedEvents,
  type PackedNumberedEvents,
  type SealedHour,
  toPostgresMicros,
  unpack,
  unpackNumbered,
  unpackSealed,
} from './packed-funnel-events.ts';
import { readSnapshot } from './snapshot-sql.ts';

type Timestamp = Date | string;

const ms = (value: Timestamp): number =>
  value instanceof Date ? value.getTime() : Date.parse(value);

const iso = (at: number): string => new Date(at).toISOString();

/** Numbers as the driver gives them (node-postgres returns numeric and bigint as text) → numbers. */
function counts(map: Record<string, unknown> | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(map ?? {})) out[k] = Number(v);
  return out;
}

const DAY_MS = 86_400_000;

/** A head or tail longer than this reads its whole day less the hours outside the range. */
const HOURS_BEFORE_WHOLE_DAY = 12;

/**
 * The rollup pieces (analytics-sql.ts `covered`) of the hour-aligned range a cover covers,
 * with as few rows as possible: whole days from the day rollup; an edge of at most 12 hours
 * from the hour rollup; a longer edge as its whole day less the hours outside the range (1 day
 * row and at most 11 hour rows per group instead of 13 to 23 hour rows).
 */
function coverParams(cover: Cover): string[] {
  const { from, to } = cover.range;
  const empty: TimeRange = { from: to, to };
  const hours = (range: TimeRange) => (range.to - range.from) / 3_600_000;
  const dayStart = (at: number) => Math.floor(at / DAY_MS) * DAY_MS;
  const firstWholeDay = Math.ceil(from / DAY_MS) * DAY_MS;
  const lastDayEnd = dayStart(to);
  let added: TimeRange[];
  let days: TimeRange;
  let subtracted: TimeRange[];
  if (firstWholeDay > lastDayEnd) {
    // Within one day.
    const day = { from: dayStart(from), to: dayStart(from) + DAY_MS };
    const whole = hours(cover.range) > HOURS_BEFORE_WHOLE_DAY;
    added = [whole ? empty : cover.range, empty];
    days = whole ? day : empty;
    subtracted = whole
      ? [
          { from: day.from, to: from },
          { from: to, to: day.to },
        ]
      : [empty, empty];
  } else {
    const head = { from, to: firstWholeDay };
    const tail = { from: lastDayEnd, to };
    const wholeHead = hours(head) > HOURS_BEFORE_WHOLE_DAY;
    const wholeTail = hours(tail) > HOURS_BEFORE_WHOLE_DAY;
    added = [wholeHead ? empty : head, wholeTail ? empty : tail];
    days = {
      from: wholeHead ? firstWholeDay - DAY_MS : firstWholeDay,
      to: wholeTail ? lastDayEnd + DAY_MS : lastDayEnd,
    };
    subtracted = [
      wholeHead ? { from: firstWholeDay - DAY_MS, to: from } : empty,
      wholeTail ? { from: to, to: lastDayEnd + DAY_MS } : empty,
    ];
  }
  const [head, tail] = added as [TimeRange, TimeRange];
  const [before, after] = subtracted as [TimeRange, TimeRange];
  return [head, days, tail, before, after].flatMap((r) => [iso(r.from), iso(r.to)]);
}

/**
 * A funnel reads each step's events six hours at a time: a long range never holds more than a
 * slice of user ids as strings at once (events of users without an entry are dropped slice by
 * slice), and adding a slice to the pass keeps the event loop for milliseconds, not seconds
 * (a 30-day funnel from page views on the 10M-event bench: at most about 20 ms per slice).
 */
const FUNNEL_SLICE_MS = DAY_MS / 4;

function funnelSlices(range: TimeRange): TimeRange[] {
  const slices: TimeRange[] = [];
  for (let from = range.from; from < range.to; from += FUNNEL_SLICE_MS) {
    slices.push({ from, to: Math.min(range.to, from + FUNNEL_SLICE_MS) });
  }
  return slices;
}

const HOUR_MS = 3_600_000;

/** Where one step's events come from: sealed hours, and slices of the rest to read. */
interface StepPlan {
  sealed: SealedHour[];
  unsealed: TimeRange[];
}

/** The sealed hours wholly inside `range`, and the rest of it in slices to read raw. */
function planStep(
  range: TimeRange,
  sealedHours: ReadonlyMap<number, SealedHour> | undefined,
): StepPlan {
  const sealed: SealedHour[] = [];
  const rest: TimeRange[] = [];
  let at = range.from;
  const upTo = (to: number) => {
    if (to > at) rest.push({ from: at, to });
  };
  for (
    let hour = Math.ceil(range.from / HOUR_MS) * HOUR_MS;
    hour + HOUR_MS <= range.to;
    hour += HOUR_MS
  ) {
    const events = sealedHours?.get(hour);
    if (events === undefined) continue;
    upTo(hour);
    sealed.push(events);
    at = hour + HOUR_MS;
  }
  upTo(range.to);
  return { sealed, unsealed: rest.flatMap(funnelSlices) };
}

/** A sealed segment (funnelSegments' row): its arrays in base64. */
interface SegmentRow {
  event_type: string;
  hour: Timestamp;
  users: string;
  times: string;
}

/**
 * Sealed hours are read two days at a time: a long range never arrives as one huge message
 * (parsed in one go on the event loop), and a day's funnel with its window is one query.
 */
const SEGMENTS_PER_QUERY_MS = 2 * DAY_MS;

/**
 * The current sealed hours of `types` within `range`: type → hour → segment, read
 * SEGMENTS_PER_QUERY_MS at a time and left packed until used.
 */
async function segments(
  db: SqlExecutor,
  types: string[],
  range: TimeRange,
  base: number,
): Promise<Map<string, Map<number, SealedHour>>> {
  const byType = new Map<string, Map<number, SealedHour>>();
  const to = Math.floor(range.to / HOUR_MS) * HOUR_MS;
  const first = Math.ceil(range.from / HOUR_MS) * HOUR_MS;
  for (let from = first; from < to; from += SEGMENTS_PER_QUERY_MS) {
    const rows = await db.query<SegmentRow>(sql.funnelSegments, [
      types,
      iso(from),
      iso(Math.min(to, from + SEGMENTS_PER_QUERY_MS)),
    ]);
    for (const row of rows) {
      const ofType = byType.get(row.event_type) ?? new Map<number, SealedHour>();
      byType.set(row.event_type, ofType);
      const hour = ms(row.hour);
      // Stored as microseconds after the hour less 2^31.
      const offset = toPostgresMicros(hour) + 2 ** 31 - base;
      ofType.set(hour, { users: row.users, times: row.times, offset });
    }
  }
  return byType;
}

/** One step's events in [range.from, range.to), times in microseconds after `base`. */
async function stepEvents(
  db: SqlExecutor,
  type: string,
  range: TimeRange,
  base: number,
): Promise<StepEvents> {
  const params = [type, iso(range.from), iso(range.to)];
  const [row] = await db.query<PackedEvents>(sql.funnelStepEvents, params);
  const events = unpack(row, base);
  if (events !== undefined) return events;
  const [safe] = await db.query<PackedEvents>(sql.funnelStepEventsNulSeparated, params);
  const unambiguous = unpack(safe, base);
  if (unambiguous === undefined) throw new Error(`funnel step ${type} did not unpack`);
  return unambiguous;
}

/** stepEvents with numbered users as their numbers (beside sealed segments). */
async function numberedStepEvents(
  db: SqlExecutor,
  type: string,
  range: TimeRange,
  base: number,
): Promise<StepEvents[]> {
  const params = [type, iso(range.from), iso(range.to)];
  const [row] = await db.query<PackedNumberedEvents>(sql.funnelStepEventsNumbered, params);
  return unpackNumbered(row, base);
}

/**
 * Feeds `pass` each step's events: its sealed hours, and `read(step, i)` for the i-th of its
 * unsealed slices, entries first, each piece added as it comes.
 */
async function feed(
  pass: FunnelPass,
  plans: readonly StepPlan[],
  read: (step: number, slice: number) => Promise<StepEvents[]>,
): Promise<void> {
  const [entryPlan, ...laterPlans] = plans;
  if (entryPlan === undefined) return;
  // Sealed hours are unpacked and added one at a time, letting other work in between.
  const pause = pauser(PAUSE_EVERY_MS);
  const entriesRead = Promise.all([
    (async () => {
      for (const hour of entryPlan.sealed) {
        pass.addEntries(unpackSealed(hour));
        await pause();
      }
    })(),
    ...entryPlan.unsealed.map(async (_, slice) => {
      for (const events of await read(0, slice)) pass.addEntries(events);
    }),
  ]);
  const laterRead = laterPlans.flatMap((plan, i) => [
    entriesRead.then(async () => {
      for (const hour of plan.sealed) {
        pass.addStep(i + 1, unpackSealed(hour));
        await pause();
      }
    }),
    ...plan.unsealed.map(async (_, slice) => {
      const [events] = await Promise.all([read(i + 1, slice), entriesRead]);
      for (const piece of events) pass.addStep(i + 1, piece);
    }),
  ]);
  await Promise.all([entriesRead, ...laterRead]);
}

/**
 * The analytics reads on PostgreSQL: the rollups of migration 002, and the
 * persisted events where a summary is per user.
 */
export class PostgresAnalyticsReader implements AnalyticsReader {
  readonly #db: Pick<Database, 'query' | 'transaction'>;

  constructor(db: Pick<Database, 'query' | 'transaction'>) {
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

  /**
   * Each step's events come from the sealed segments of the whole hours in its range that are
   * current (one query for every step) and, for the rest, from index-only range scans a slice
   * of time at a time; the funnel itself is one pass over them here (FunnelPass), fed entries
   * first. With segments, every read shares one snapshot (and ends before the pass): a user
   * is a number in segments and raw reads, or an id in raw reads only, and a sealer numbering
   * a user between two reads would otherwise make them two users. Without, the raw reads run
   * side by side on the pool, each slice added to the pass as it comes.
   */
  async funnel(steps: readonly string[], entry: TimeRange, windowMs: number) {
    if (steps.length > STEP_SLOTS) throw new RangeError(`a funnel has at most ${STEP_SLOTS} steps`);
    if ((entry.to - entry.from + windowMs) * 1000 * STEP_SLOTS > Number.MAX_SAFE_INTEGER) {
      throw new RangeError('funnel range and window too long to order events exactly');
    }
    if (steps.length === 0) return new Map<number, number>();
    const base = toPostgresMicros(entry.from);
    // A later step lies at most the window after an entry before `to` (read to the next whole
    // millisecond: FunnelPass applies the window exactly).
    const ranges = { entry, later: { from: entry.from, to: entry.to + Math.ceil(windowMs) } };
    const rangeOf = (step: number) => (step === 0 ? ranges.entry : ranges.later);
    const pass = new FunnelPass();
    // Every read in the snapshot, the pass after it: the transaction holds a pool connection
    // for the reads alone, not while the pass yields to other work.
    const beside = await this.#db.transaction(async (tx) => {
      await tx.query(readSnapshot);
      const sealed = await segments(tx, [...new Set(steps)], ranges.later, base);
      if (sealed.size === 0) return undefined;
      const plans = steps.map((type, step) => planStep(rangeOf(step), sealed.get(type)));
      const raw = await Promise.all(
        plans.map((plan, step) =>
          Promise.all(
            plan.unsealed.map((slice) =>
              numberedStepEvents(tx, steps[step] as string, slice, base),
            ),
          ),
        ),
      );
      return { plans, raw };
    });
    if (beside === undefined) {
      const plans = steps.map((_, step) => planStep(rangeOf(step), undefined));
      await feed(pass, plans, async (step, slice) => [
        await stepEvents(
          this.#db,
          steps[step] as string,
          plans[step]?.unsealed[slice] as TimeRange,
          base,
        ),
      ]);
    } else {
      await feed(pass, beside.plans, async (step, slice) => {
        const events = beside.raw[step]?.[slice];
        if (events === undefined) throw new Error(`funnel step ${step} slice ${slice} unread`);
        return events;
      });
    }
    return await pass.usersByReach(steps.length, windowMs * 1000);
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
