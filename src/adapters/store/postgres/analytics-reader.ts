import { endianness } from 'node:os';
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
import type { Database, SqlExecutor } from '../../../ports/database.ts';
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

/** funnelStepEventsNumbered's row: events of numbered users and of the others apart. */
interface PackedNumberedEvents {
  users: Uint8Array | null;
  times: Uint8Array | null;
  numbers: Uint8Array | null;
  numbered_times: Uint8Array | null;
}

/** A sealed segment (funnelSegments' row): its arrays in base64. */
interface SegmentRow {
  event_type: string;
  hour: Timestamp;
  users: string;
  times: string;
}

/**
 * Events of one step: who (a user id, or the number the sealer gave the user: each user is
 * one or the other within a funnel) and when, in microseconds after the funnel's `from`:
 * `times[i] + offset` (a sealed segment's times are relative to its hour).
 */
interface StepEvents {
  users: ArrayLike<string | number>;
  times: ArrayLike<number>;
  offset?: number;
}

/** A sealed hour as read: its arrays still in base64, unpacked when the pass takes them. */
interface SealedHour {
  users: string;
  times: string;
  /** What turns its times (microseconds after the hour less 2^31) into the funnel's. */
  offset: number;
}

const NO_EVENTS: StepEvents = { users: [], times: new Float64Array() };

/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01 UTC). */
const POSTGRES_EPOCH_MICROS = 946_684_800_000_000;

const toPostgresMicros = (ms: number): number => ms * 1000 - POSTGRES_EPOCH_MICROS;

const utf8 = new TextDecoder();

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** timestamptz_send values, back to back, as microseconds after `base`. */
function unpackTimes(bytes: Uint8Array, base: number): Float64Array {
  const data = view(bytes);
  const times = new Float64Array(bytes.byteLength / 8);
  for (let i = 0; i < times.length; i += 1) {
    // int64 as two halves: exact while below 2^53 microseconds (about 285 years).
    times[i] = data.getInt32(i * 8) * 2 ** 32 + data.getUint32(i * 8 + 4) - base;
  }
  return times;
}

const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * Big-endian int4s (int4send values, back to back) → the int4s, swapping `bytes` in place
 * (they must be the caller's own): a swap and a view beat a DataView read per value.
 */
function int32sInPlace(bytes: Buffer): Int32Array {
  if (LITTLE_ENDIAN) bytes.swap32();
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
  return new Int32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
}

/** A segment's array, base64 of big-endian int4s → the int4s. */
const int32s = (base64: string): Int32Array => int32sInPlace(Buffer.from(base64, 'base64'));

/** int4send values from the driver → the int4s (on a copy: the row is the driver's). */
const unpackNumbers = (bytes: Uint8Array): Int32Array => int32sInPlace(Buffer.from(bytes));

/**
 * Unpacks funnelStepEvents' strings; times become microseconds after `base`. Undefined when
 * the users do not split into one per time (a user id holding the separator).
 */
function unpack(row: PackedEvents | undefined, base: number): StepEvents | undefined {
  if (row?.users == null || row.times == null) return NO_EVENTS;
  const users =
    typeof row.users === 'string' ? row.users.split('\u0001') : utf8.decode(row.users).split('\0');
  if (users.length * 8 !== row.times.byteLength) return undefined;
  return { users, times: unpackTimes(row.times, base) };
}

/** Unpacks funnelStepEventsNumbered's row: the unnumbered users' events, then the numbered. */
function unpackNumbered(row: PackedNumberedEvents | undefined, base: number): StepEvents[] {
  const events: StepEvents[] = [];
  if (row?.users != null && row.times != null) {
    events.push({ users: utf8.decode(row.users).split('\0'), times: unpackTimes(row.times, base) });
  }
  if (row?.numbers != null && row.numbered_times != null) {
    events.push({
      users: unpackNumbers(row.numbers),
      times: unpackTimes(row.numbered_times, base),
    });
  }
  return events;
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
  /**
   * Chunks of finished funnels, for the next ones (at most 32: 6 MiB): a few MB of fresh
   * typed arrays per funnel brought a full garbage collection every few dozen funnels.
   */
  static readonly #spare: [Int32Array, Float64Array][] = [];
  readonly #owners: Int32Array[] = [];
  readonly #keys: Float64Array[] = [];
  length = 0;

  push(owner: number, key: number): void {
    const at = this.length % KeptEvents.CHUNK;
    if (at === 0) {
      const [owners, keys] = KeptEvents.#spare.pop() ?? [
        new Int32Array(KeptEvents.CHUNK),
        new Float64Array(KeptEvents.CHUNK),
      ];
      this.#owners.push(owners);
      this.#keys.push(keys);
    }
    const last = this.#owners.length - 1;
    (this.#owners[last] as Int32Array)[at] = owner;
    (this.#keys[last] as Float64Array)[at] = key;
    this.length += 1;
  }

  /** Gives the chunks back for other funnels; nothing is kept any more. */
  release(): void {
    for (let c = 0; c < this.#owners.length && KeptEvents.#spare.length < 32; c += 1) {
      KeptEvents.#spare.push([this.#owners[c] as Int32Array, this.#keys[c] as Float64Array]);
    }
    this.#owners.length = 0;
    this.#keys.length = 0;
    this.length = 0;
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
 * Dense indexes (0, 1, 2 …) for a funnel's users: a user the sealer numbered is found through
 * a typed array indexed by that number (a Map lookup per event was the funnel's largest cost
 * after sealing); a user id, or a number too large for the array, through a Map.
 */
class UserIndex {
  /** Numbers below this go in the array (4 bytes each: 16 MiB at most). */
  static readonly ARRAY_LIMIT = 1 << 22;
  /** The largest array of a finished funnel, zeroed, for the next one (as KeptEvents'). */
  static #spare: Int32Array | undefined;
  /** Index + 1 by user number; 0 for none. */
  #byNumber = UserIndex.#take();
  #highest = -1;
  readonly #byKey = new Map<string | number, number>();
  size = 0;

  /** The user's index, given one if new. */
  add(user: string | number): number {
    const found = this.find(user);
    if (found >= 0) return found;
    const index = this.size;
    this.size += 1;
    if (typeof user === 'number' && user >= 0 && user < UserIndex.ARRAY_LIMIT) {
      if (user >= this.#byNumber.length) {
        const grown = new Int32Array(
          Math.min(UserIndex.ARRAY_LIMIT, Math.max(user + 1, this.#byNumber.length * 2)),
        );
        grown.set(this.#byNumber);
        this.#byNumber = grown;
      }
      this.#byNumber[user] = index + 1;
      this.#highest = Math.max(this.#highest, user);
    } else {
      this.#byKey.set(user, index);
    }
    return index;
  }

  /** Gives the array back for other funnels; the index is empty afterwards. */
  release(): void {
    this.#byNumber.fill(0, 0, this.#highest + 1);
    if (this.#byNumber.length > (UserIndex.#spare?.length ?? 0)) UserIndex.#spare = this.#byNumber;
    this.#byNumber = new Int32Array(0);
    this.#byKey.clear();
    this.#highest = -1;
    this.size = 0;
  }

  static #take(): Int32Array {
    const spare = UserIndex.#spare;
    UserIndex.#spare = undefined;
    return spare ?? new Int32Array(1024);
  }

  /** The user's index, or -1. */
  find(user: string | number): number {
    if (typeof user === 'number' && user >= 0 && user < UserIndex.ARRAY_LIMIT) {
      return user < this.#byNumber.length ? (this.#byNumber[user] as number) - 1 : -1;
    }
    return this.#byKey.get(user) ?? -1;
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
  /** Each entering user's index (users are ids, or the sealer's numbers for them). */
  readonly #userIndex = new UserIndex();
  /** Per user index: whether any later step's event was kept. */
  readonly #hasLaterStep: boolean[] = [];
  readonly #kept = new KeptEvents();
  #laterStepsStarted = false;

  addEntries({ users, times, offset = 0 }: StepEvents): void {
    if (this.#laterStepsStarted) throw new Error('every entry comes before later steps');
    for (let i = 0; i < users.length; i += 1) {
      const user = this.#userIndex.add(users[i] as string | number);
      if (user === this.#hasLaterStep.length) this.#hasLaterStep.push(false);
      this.#kept.push(user, ((times[i] as number) + offset) * STEP_SLOTS);
    }
  }

  addStep(step: number, { users, times, offset = 0 }: StepEvents): void {
    this.#laterStepsStarted = true;
    for (let i = 0; i < users.length; i += 1) {
      const user = this.#userIndex.find(users[i] as string | number);
      if (user < 0) continue;
      this.#kept.push(user, ((times[i] as number) + offset) * STEP_SLOTS + step);
      this.#hasLaterStep[user] = true;
    }
  }

  /**
   * Users by the number of steps they completed, for steps 0..stepCount - 1; ends the pass
   * (its storage goes to the next funnels). A pass over millions of events yields to the event
   * loop every few milliseconds (the API serves ingestion on the same loop).
   */
  async usersByReach(stepCount: number, windowMicros: number): Promise<Map<number, number>> {
    const pause = pauser(PAUSE_EVERY_MS);
    const userCount = this.#userIndex.size;
    // Each user's keys side by side in one array (user u's at [first[u], first[u + 1])).
    const first = new Int32Array(userCount + 1);
    for (const [owners] of this.#kept.chunks()) {
      await pause();
      for (const user of owners) first[user + 1] = (first[user + 1] as number) + 1;
    }
    for (let u = 0; u < userCount; u += 1) {
      first[u + 1] = (first[u + 1] as number) + (first[u] as number);
    }
    const keys = new Float64Array(this.#kept.length);
    const filled = first.slice(0, userCount);
    for (const [owners, chunkKeys] of this.#kept.chunks()) {
      await pause();
      for (let i = 0; i < owners.length; i += 1) {
        const user = owners[i] as number;
        keys[filled[user] as number] = chunkKeys[i] as number;
        filled[user] = (filled[user] as number) + 1;
      }
    }
    this.#kept.release();
    this.#userIndex.release();
    const usersReaching = new Int32Array(stepCount + 1);
    const latest = new Float64Array(stepCount + 1);
    for (let u = 0; u < userCount; u += 1) {
      if (u % 1024 === 0) await pause();
      // A user with entries only completed the first step: no need to order anything.
      let reached = 1;
      if (this.#hasLaterStep[u]) {
        const from = first[u] as number;
        const to = first[u + 1] as number;
        sortRange(keys, from, to);
        reached = furthestStep(keys, from, to, latest, windowMicros);
      }
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

/**
 * Sorts keys[from, to) in place: by insertion when short (most users have a handful of
 * events, and a subarray per user to sort natively was a good part of the pass's garbage).
 */
function sortRange(keys: Float64Array, from: number, to: number): void {
  if (to - from > 32) {
    keys.subarray(from, to).sort();
    return;
  }
  for (let i = from + 1; i < to; i += 1) {
    const key = keys[i] as number;
    let j = i - 1;
    while (j >= from && (keys[j] as number) > key) {
      keys[j + 1] = keys[j] as number;
      j -= 1;
    }
    keys[j + 1] = key;
  }
}

/** FunnelPass's pass over one user's sorted keys, keys[from, to); `latest` is scratch space. */
function furthestStep(
  keys: Float64Array,
  from: number,
  to: number,
  latest: Float64Array,
  windowMicros: number,
): number {
  latest.fill(-1);
  let reached = 0;
  for (let k = from; k < to; k += 1) {
    const key = keys[k] as number;
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

/** A sealed hour's events, unpacked. */
function unpackSealed({ users, times, offset }: SealedHour): StepEvents {
  return { users: int32s(users), times: int32s(times), offset };
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
 * The analytics reads on PostgreSQL (server or PGlite): the rollups of migration 002, and the
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
    // Every read in the snapshot, the pass after it: the transaction holds a connection (on
    // PGlite the only one) for the reads alone, not while the pass yields to other work.
    const beside = await this.#db.transaction(async (tx) => {
      await tx.query(sql.funnelSnapshot);
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
