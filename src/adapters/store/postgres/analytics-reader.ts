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

/** One funnel step's events as funnelStepEvents packs them (both NULL when there are none). */
interface PackedEvents {
  users: string | Uint8Array | null;
  times: Uint8Array | null;
}

/** Events of one step: user ids, and times in microseconds after the funnel's `from`. */
interface StepEvents {
  users: string[];
  times: Float64Array;
}

/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01 UTC). */
const POSTGRES_EPOCH_MICROS = 946_684_800_000_000;

const toPostgresMicros = (ms: number): number => ms * 1000 - POSTGRES_EPOCH_MICROS;

const utf8 = new TextDecoder();

/**
 * Unpacks funnelStepEvents' strings; times become microseconds after `base`. Undefined when
 * the users do not split into one per time (a user id holding the separator).
 */
function unpack(row: PackedEvents | undefined, base: number): StepEvents | undefined {
  if (row?.users == null || row.times == null) return { users: [], times: new Float64Array() };
  const users =
    typeof row.users === 'string' ? row.users.split('\u0001') : utf8.decode(row.users).split('\0');
  const bytes = new DataView(row.times.buffer, row.times.byteOffset, row.times.byteLength);
  if (users.length * 8 !== bytes.byteLength) return undefined;
  const times = new Float64Array(users.length);
  for (let i = 0; i < times.length; i += 1) {
    // int64 as two halves: exact while below 2^53 microseconds (about 285 years).
    times[i] = bytes.getInt32(i * 8) * 2 ** 32 + bytes.getUint32(i * 8 + 4) - base;
  }
  return { users, times };
}

/**
 * A user's events are sorted as one number each, time × STEP_SLOTS + step: by time, a tie
 * going to the earlier step (as stepsReached orders them). Exact while time × STEP_SLOTS stays
 * below 2^53 (the funnel checks its range).
 */
const STEP_SLOTS = 16;

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

/** Longest stretch a funnel's pass runs without letting other work in, ms. */
const PAUSE_EVERY_MS = 10;

/** A function that yields to the event loop when `everyMs` passed since it last did. */
function pauser(everyMs: number): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < everyMs) return;
    await new Promise((resolve) => setImmediate(resolve));
    since = performance.now();
  };
}

/**
 * The events a FunnelPass keeps: each one's user number and sort key (time × STEP_SLOTS +
 * step), in fixed-size typed chunks, so that growing never copies them all.
 */
class KeptEvents {
  static readonly CHUNK = 16_384;
  readonly #owners: Int32Array[] = [];
  readonly #keys: Float64Array[] = [];
  length = 0;

  push(owner: number, key: number): void {
    const at = this.length % KeptEvents.CHUNK;
    if (at === 0) {
      this.#owners.push(new Int32Array(KeptEvents.CHUNK));
      this.#keys.push(new Float64Array(KeptEvents.CHUNK));
    }
    const last = this.#owners.length - 1;
    (this.#owners[last] as Int32Array)[at] = owner;
    (this.#keys[last] as Float64Array)[at] = key;
    this.length += 1;
  }

  /** [owners, keys] of each chunk, trimmed to what was pushed. */
  *chunks(): Generator<[Int32Array, Float64Array]> {
    for (let c = 0; c < this.#owners.length; c += 1) {
      const size = Math.min(KeptEvents.CHUNK, this.length - c * KeptEvents.CHUNK);
      yield [
        (this.#owners[c] as Int32Array).subarray(0, size),
        (this.#keys[c] as Float64Array).subarray(0, size),
      ];
    }
  }
}

/**
 * How many users completed exactly n steps (n ≥ 1), as stepsReached defines it, in one pass
 * over each user's events in time order instead of one chain per entry: `latest[k]` is the
 * latest entry time among chains that have completed k steps so far. A step-k event within
 * the window of `latest[k]` completes k + 1 steps from that entry; a later entry leaves the
 * same steps ahead and more of the window, so keeping the latest start per k loses no chain.
 * Takes every entry first (all in range), then later steps' events in any order and in as
 * many pieces as they come: an event of a user without an entry is dropped at once, so only
 * the events that may count are kept. Times are microseconds after `from`.
 */
export class FunnelPass {
  readonly #userNumbers = new Map<string, number>();
  /** Per user number: whether any later step's event was kept. */
  readonly #hasLaterStep: boolean[] = [];
  readonly #kept = new KeptEvents();
  #laterStepsStarted = false;

  addEntries({ users, times }: StepEvents): void {
    if (this.#laterStepsStarted) throw new Error('every entry comes before later steps');
    for (let i = 0; i < users.length; i += 1) {
      const id = users[i] as string;
      let user = this.#userNumbers.get(id);
      if (user === undefined) {
        user = this.#userNumbers.size;
        this.#userNumbers.set(id, user);
        this.#hasLaterStep.push(false);
      }
      this.#kept.push(user, (times[i] as number) * STEP_SLOTS);
    }
  }

  addStep(step: number, { users, times }: StepEvents): void {
    this.#laterStepsStarted = true;
    for (let i = 0; i < users.length; i += 1) {
      const user = this.#userNumbers.get(users[i] as string);
      if (user === undefined) continue;
      this.#kept.push(user, (times[i] as number) * STEP_SLOTS + step);
      this.#hasLaterStep[user] = true;
    }
  }

  /**
   * Users by the number of steps they completed, for steps 0..stepCount - 1. A pass over
   * millions of events yields to the event loop every few milliseconds (the API serves
   * ingestion on the same loop).
   */
  async usersByReach(stepCount: number, windowMicros: number): Promise<Map<number, number>> {
    const pause = pauser(PAUSE_EVERY_MS);
    const userCount = this.#userNumbers.size;
    // Each user's keys side by side in one array (user u's at [first[u], first[u + 1])).
    const first = new Int32Array(userCount + 1);
    for (const [owners] of this.#kept.chunks()) {
      for (const user of owners) first[user + 1] = (first[user + 1] as number) + 1;
    }
    for (let u = 0; u < userCount; u += 1) {
      first[u + 1] = (first[u + 1] as number) + (first[u] as number);
    }
    const keys = new Float64Array(this.#kept.length);
    const filled = first.slice(0, userCount);
    for (const [owners, chunkKeys] of this.#kept.chunks()) {
      await pause();
      owners.forEach((user, i) => {
        keys[filled[user] as number] = chunkKeys[i] as number;
        filled[user] = (filled[user] as number) + 1;
      });
    }
    const usersReaching = new Int32Array(stepCount + 1);
    const latest = new Float64Array(stepCount + 1);
    for (let u = 0; u < userCount; u += 1) {
      if (u % 1024 === 0) await pause();
      // A user with entries only completed the first step: no need to order anything.
      const reached = this.#hasLaterStep[u]
        ? furthestStep(keys.subarray(first[u], first[u + 1]).sort(), latest, windowMicros)
        : 1;
      usersReaching[reached] = (usersReaching[reached] as number) + 1;
    }
    const reachedBy = new Map<number, number>();
    usersReaching.forEach((users, reached) => {
      if (users > 0) reachedBy.set(reached, users);
    });
    return reachedBy;
  }
}

/** FunnelPass over each step's events at once: `events[0]` the entries, then each later step. */
export function usersByReach(
  events: readonly StepEvents[],
  windowMicros: number,
): Promise<Map<number, number>> {
  const pass = new FunnelPass();
  events.forEach((stepEvents, step) => {
    if (step === 0) pass.addEntries(stepEvents);
    else pass.addStep(step, stepEvents);
  });
  return pass.usersByReach(events.length, windowMicros);
}

/** FunnelPass's pass over one user's sorted keys; `latest` is scratch space. */
function furthestStep(keys: Float64Array, latest: Float64Array, windowMicros: number): number {
  latest.fill(-1);
  let reached = 0;
  for (const key of keys) {
    const step = key % STEP_SLOTS;
    const at = (key - step) / STEP_SLOTS;
    if (step === 0) {
      latest[1] = at;
      reached = Math.max(reached, 1);
      continue;
    }
    const start = latest[step] as number;
    if (start >= 0 && at - start <= windowMicros) {
      if (start > (latest[step + 1] as number)) latest[step + 1] = start;
      reached = Math.max(reached, step + 1);
    }
  }
  return reached;
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

  /**
   * Each step's events come from index-only range scans, a slice of time at a time (the
   * steps' and slices' scans run side by side on a pool); the funnel itself is one pass over
   * them here (FunnelPass), fed entries first.
   */
  async funnel(steps: readonly string[], entry: TimeRange, windowMs: number) {
    if (steps.length > STEP_SLOTS) throw new RangeError(`a funnel has at most ${STEP_SLOTS} steps`);
    if ((entry.to - entry.from + windowMs) * 1000 * STEP_SLOTS > Number.MAX_SAFE_INTEGER) {
      throw new RangeError('funnel range and window too long to order events exactly');
    }
    const [first, ...later] = steps;
    if (first === undefined) return new Map<number, number>();
    const base = toPostgresMicros(entry.from);
    const pass = new FunnelPass();
    // Each slice is added as it comes (one slice at a time on the event loop).
    const entriesRead = Promise.all(
      funnelSlices(entry).map(async (slice) =>
        pass.addEntries(await this.#stepEvents(first, slice, base)),
      ),
    );
    // A later step lies at most the window after an entry before `to` (read to the next whole
    // millisecond: FunnelPass applies the window exactly).
    const laterRange = { from: entry.from, to: entry.to + Math.ceil(windowMs) };
    const laterRead = later.flatMap((type, i) =>
      funnelSlices(laterRange).map(async (slice) => {
        const [events] = await Promise.all([this.#stepEvents(type, slice, base), entriesRead]);
        pass.addStep(i + 1, events);
      }),
    );
    await Promise.all([entriesRead, ...laterRead]);
    return await pass.usersByReach(steps.length, windowMs * 1000);
  }

  /** One step's events in [range.from, range.to), times in microseconds after `base`. */
  async #stepEvents(type: string, range: TimeRange, base: number): Promise<StepEvents> {
    const params = [type, iso(range.from), iso(range.to)];
    const [row] = await this.#db.query<PackedEvents>(sql.funnelStepEvents, params);
    const events = unpack(row, base);
    if (events !== undefined) return events;
    const [safe] = await this.#db.query<PackedEvents>(sql.funnelStepEventsNulSeparated, params);
    const unambiguous = unpack(safe, base);
    if (unambiguous === undefined) throw new Error(`funnel step ${type} did not unpack`);
    return unambiguous;
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
