export interface TokenBucketOptions {
  /** Tokens added per minute. */
  perMinute: number;
  /** Largest burst; defaults to one second's worth (at least 1). */
  capacity?: number;
  now?: () => number;
}

/**
 * A token bucket that hands out reservations: `reserve(n)` takes n tokens at once, letting the
 * balance go negative, and says how long the caller must wait before using them. Callers
 * queue in the order they reserved, and the rate over any window stays within
 * capacity + rate × window. `blockUntil` empties the bucket until a time a provider named
 * (a Retry-After, an x-ratelimit reset).
 *
 * @example
 * const requests = new TokenBucket({ perMinute: 60 });
 * await sleep(requests.reserve(1)); // then call
 */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly capacity: number;
  readonly #now: () => number;
  #tokens: number;
  #updatedAt: number;

  constructor(options: TokenBucketOptions) {
    this.#ratePerMs = options.perMinute / 60_000;
    this.capacity = Math.max(1, options.capacity ?? Math.ceil(options.perMinute / 60));
    this.#now = options.now ?? Date.now;
    this.#tokens = this.capacity;
    this.#updatedAt = this.#now();
  }

  #refill(): void {
    const now = this.#now();
    if (now > this.#updatedAt) {
      this.#tokens = Math.min(
        this.capacity,
        this.#tokens + (now - this.#updatedAt) * this.#ratePerMs,
      );
      this.#updatedAt = now;
    }
  }

  /** Milliseconds until `n` tokens would be available, without taking them. */
  waitFor(n: number): number {
    this.#refill();
    const wanted = Math.min(n, this.capacity);
    const missing = wanted - this.#tokens;
    return missing <= 0 ? 0 : Math.ceil(missing / this.#ratePerMs);
  }

  /** Takes `n` tokens (at most the capacity's worth) and returns the wait before using them. */
  reserve(n: number): number {
    const wait = this.waitFor(n);
    this.#tokens -= Math.min(n, this.capacity);
    return wait;
  }

  /** Gives back (n < 0 takes more of) tokens after the real cost of a call is known. */
  adjust(n: number): void {
    this.#refill();
    this.#tokens = Math.min(this.capacity, this.#tokens + n);
  }

  /** No tokens until `at` (epoch ms): the provider said so. */
  blockUntil(at: number): void {
    this.#refill();
    const debt = (at - this.#now()) * this.#ratePerMs;
    // One token back at `at`, so the next caller goes exactly then.
    if (debt > 0) this.#tokens = Math.min(this.#tokens, 1 - debt);
  }
}
