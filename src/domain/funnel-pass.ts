/**
 * The funnel's single pass (analytics' algorithm beside domain/analytics.ts, which defines the
 * funnel: stepsReached): how many users completed exactly n steps, over millions of events,
 * fed in pieces as the store reads them. Pure computing, no I/O: it only yields to the event
 * loop every few milliseconds, since the API serves ingestion on the same loop.
 */

/**
 * Events of one step: who (a user id, or the number the sealer gave the user: each user is
 * one or the other within a funnel) and when, in microseconds after the funnel's `from`:
 * `times[i] + offset` (a sealed segment's times are relative to its hour).
 */
export interface StepEvents {
  users: ArrayLike<string | number>;
  times: ArrayLike<number>;
  offset?: number;
}

/**
 * A user's events are sorted as one number each, time × STEP_SLOTS + step: by time, a tie
 * going to the earlier step (as stepsReached orders them). Exact while time × STEP_SLOTS stays
 * below 2^53 (the funnel checks its range).
 */
export const STEP_SLOTS = 16;

/** Longest stretch a funnel's pass runs without letting other work in, ms. */
export const PAUSE_EVERY_MS = 10;

/** A function that yields to the event loop when `everyMs` passed since it last did. */
export function pauser(everyMs: number): () => Promise<void> {
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
