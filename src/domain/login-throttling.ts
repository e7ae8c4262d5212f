/**
 * Login throttling by growing delays, never a lockout of people who did nothing (OWASP
 * Authentication Cheat Sheet: throttle rather than lock, and do not let an attacker lock out
 * a user). Failures are counted twice:
 * - per account and address: what one client guessed at one account. Past a few free failures
 *   each further attempt of that client on that account waits, the wait doubling with each
 *   failure up to a cap. A flood from one address slows that address on that account only.
 * - per account, each address counting at most its free failures: what many clients together
 *   guessed at one account (a distributed guess). Past its own free failures, attempts on the
 *   account wait too, except from an address the account recently logged in from, so that
 *   the owner is not locked out by someone else's botnet.
 * A flood from one address therefore never delays anyone else's correct password: its share
 * of an account's count is capped below that count's free failures.
 */

export interface LoginThrottling {
  /** Failures one address may make on one account before each further attempt waits. */
  freeFailures: number;
  /** Failures on one account (each address counting at most `freeFailures`) before waits. */
  accountFreeFailures: number;
  /** The first wait; each further failure doubles it. */
  baseDelayMs: number;
  /** The longest wait. */
  maxDelayMs: number;
  /** How long a failure counts. */
  windowMs: number;
  /** An address the account logged in from within this is exempt from the account's wait. */
  trustedAddressMs: number;
}

/** Failures counted against a key: how many, and how long ago the latest was. */
export interface FailureCount {
  count: number;
  msSinceLatest: number;
}

/**
 * How long after the latest of `failures` failures the next attempt must wait: nothing while
 * they are within `free`, then `baseMs`, doubling with each failure, at most `maxMs`.
 *
 * @example
 * delayAfter(3, 3, 1000, 60_000); // 1000: the first failure past the free three
 * delayAfter(5, 3, 1000, 60_000); // 4000
 */
export function delayAfter(failures: number, free: number, baseMs: number, maxMs: number): number {
  if (failures < free) return 0;
  return Math.min(maxMs, baseMs * 2 ** (failures - free));
}

/** What is left of the wait `failures` impose, in ms (0: the attempt may go ahead). */
export function waitLeft(
  failures: FailureCount | undefined,
  free: number,
  policy: Pick<LoginThrottling, 'baseDelayMs' | 'maxDelayMs'>,
): number {
  if (failures === undefined) return 0;
  const delay = delayAfter(failures.count, free, policy.baseDelayMs, policy.maxDelayMs);
  return Math.max(0, Math.ceil(delay - failures.msSinceLatest));
}

/** The two counters of a login attempt, keyed by account (its id, or the name tried). */
export function loginKeys(account: string, address: string | null) {
  return {
    account: `account:${account}`,
    accountAddress: `account-address:${account}|${address ?? 'unknown'}`,
  };
}
