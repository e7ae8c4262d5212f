/** The funnel by its definition, to check the fast ones against (reader and pass tests). */
/** A funnel event of the reference below: a user, the index of its step, a time in ms. */
export interface StepEvent {
  user: string;
  step: number;
  at: number;
}

/**
 * The funnel as its definition reads, one entry at a time: each first-step event in
 * [from, to) is an entry; from it each next step is the user's earliest event of that type at
 * or after the previous step and no later than the window after the entry; a user counts by
 * their best entry. Answers how many users completed exactly n steps.
 */
export function referenceFunnel(
  events: readonly StepEvent[],
  stepCount: number,
  windowMs: number,
  entry: { from: number; to: number },
): Map<number, number> {
  const best = new Map<string, number>();
  for (const start of events) {
    if (start.step !== 0 || start.at < entry.from || start.at >= entry.to) continue;
    let reached = 1;
    let previous = start.at;
    for (let step = 1; step < stepCount; step += 1) {
      const next = events
        .filter(
          (e) =>
            e.user === start.user &&
            e.step === step &&
            e.at >= previous &&
            e.at <= start.at + windowMs,
        )
        .reduce((earliest, e) => Math.min(earliest, e.at), Number.POSITIVE_INFINITY);
      if (next === Number.POSITIVE_INFINITY) break;
      previous = next;
      reached += 1;
    }
    best.set(start.user, Math.max(best.get(start.user) ?? 0, reached));
  }
  const byReach = new Map<number, number>();
  for (const reached of best.values()) byReach.set(reached, (byReach.get(reached) ?? 0) + 1);
  return byReach;
}

export const sorted = (map: ReadonlyMap<number, number>) => [...map].sort(([a], [b]) => a - b);
