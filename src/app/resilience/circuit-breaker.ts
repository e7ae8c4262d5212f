export type BreakerState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before one trial call is let through. */
  cooldownMs: number;
  now?: () => number;
  onStateChange?: (state: BreakerState) => void;
}

/**
 * A circuit breaker (closed → open → half-open): after `failureThreshold` consecutive failures
 * calls are refused at once for `cooldownMs`, so a provider that is down is not hammered and
 * callers fall back without waiting; then a single trial call is let through, whose success
 * closes the circuit and whose failure opens it for another cooldown.
 *
 * @example
 * const breaker = new CircuitBreaker({ failureThreshold: 5, cooldownMs: 30_000 });
 * if (!breaker.tryAcquire()) return fallback();
 * try { const r = await call(); breaker.onSuccess(); return r; }
 * catch (e) { breaker.onFailure(); throw e; }
 */
export class CircuitBreaker {
  readonly #threshold: number;
  readonly #cooldownMs: number;
  readonly #now: () => number;
  readonly #onStateChange: ((state: BreakerState) => void) | undefined;
  #state: BreakerState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #trialInFlight = false;

  constructor(options: CircuitBreakerOptions) {
    this.#threshold = Math.max(1, options.failureThreshold);
    this.#cooldownMs = options.cooldownMs;
    this.#now = options.now ?? Date.now;
    this.#onStateChange = options.onStateChange;
  }

  /** The state now; an open circuit whose cooldown has passed reads as half-open. */
  get state(): BreakerState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.#cooldownMs) {
      this.#set('half_open');
    }
    return this.#state;
  }

  /** Milliseconds until an open circuit lets a trial call through (0 when not open). */
  get retryInMs(): number {
    if (this.state !== 'open') return 0;
    return Math.max(0, this.#openedAt + this.#cooldownMs - this.#now());
  }

  /**
   * Whether a call may go ahead now. In half-open state only one trial call is in flight at a
   * time; its outcome must be reported with onSuccess/onFailure (or onAbandon).
   */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.#trialInFlight) return false;
    this.#trialInFlight = true;
    return true;
  }

  onSuccess(): void {
    this.#failures = 0;
    this.#trialInFlight = false;
    if (this.#state !== 'closed') this.#set('closed');
  }

  onFailure(): void {
    this.#trialInFlight = false;
    this.#failures++;
    if (this.#state === 'half_open' || this.#failures >= this.#threshold) {
      this.#openedAt = this.#now();
      this.#set('open');
    }
  }

  /** A call that went ahead ended without telling anything about the provider. */
  onAbandon(): void {
    this.#trialInFlight = false;
  }

  #set(state: BreakerState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#onStateChange?.(state);
  }
}
