export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"): a uniform delay in [0, min(max, base·2^(attempt−1))]. Spreading retries out keeps
 * a fleet of workers from hammering a recovering database in lockstep.
 *
 * @example
 * fullJitterDelay(3, { baseMs: 2000, maxMs: 60000 }); // somewhere in [0, 8000)
 */
export function fullJitterDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}
