import type { ChatRequest, ChatResponse, LlmClient, RateLimitState } from '../../ports/llm.ts';
import { LlmError } from '../../ports/llm.ts';
import { type BackoffPolicy, fullJitterDelay } from '../backoff.ts';
import type { CircuitBreaker } from './circuit-breaker.ts';
import { Semaphore } from './semaphore.ts';
import { TokenBucket } from './token-bucket.ts';

export interface ResilienceOptions {
  requestsPerMinute: number;
  tokensPerMinute: number;
  /** Calls in flight at once. */
  concurrency: number;
  /** Per attempt, from sending the request to the last byte of the answer. */
  timeoutMs: number;
  /** Retries after the first attempt, on 429/5xx/timeouts/network errors. */
  retry: BackoffPolicy & { maxRetries: number };
  /**
   * The longest a call waits in total for rate limits, Retry-After and backoff before it gives
   * up with a `rate_limited` error (the caller then falls back): nothing waits forever.
   */
  maxWaitMs: number;
  breaker: CircuitBreaker;
  random?: () => number;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Observes each attempt's outcome (`ok` or a failure kind) and the tokens used. */
  onAttempt?: (outcome: string, tokens: number) => void;
  onRateLimited?: () => void;
}

const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (ms <= 0) return resolve();
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      resolve();
    }, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', abort, { once: true });
  });

/** A rough token count for the client-side budget: ~4 characters a token, plus the answer. */
export function estimateTokens(request: ChatRequest): number {
  const chars = request.messages.reduce((n, m) => n + m.content.length, 0);
  return Math.ceil(chars / 4) + request.maxTokens;
}

/**
 * An LlmClient that behaves the way providers ask clients to: it keeps under the configured
 * requests and tokens per minute (token buckets), runs at most `concurrency` calls at once,
 * honours Retry-After and x-ratelimit-* headers, retries 429/5xx/timeouts with exponential
 * backoff and full jitter, bounds every attempt with a timeout, and stops calling a provider
 * that keeps failing (circuit breaker). It gives up with an LlmError instead of waiting more
 * than `maxWaitMs`.
 */
export class ResilientLlmClient implements LlmClient {
  readonly #inner: LlmClient;
  readonly #options: ResilienceOptions;
  readonly #requests: TokenBucket;
  readonly #tokens: TokenBucket;
  readonly #slots: Semaphore;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(inner: LlmClient, options: ResilienceOptions) {
    this.#inner = inner;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? defaultSleep;
    this.#requests = new TokenBucket({ perMinute: options.requestsPerMinute, now: this.#now });
    // A call's tokens come at once: allow ten seconds' worth in a burst.
    this.#tokens = new TokenBucket({
      perMinute: options.tokensPerMinute,
      capacity: Math.ceil(options.tokensPerMinute / 6),
      now: this.#now,
    });
    this.#slots = new Semaphore(options.concurrency);
  }

  get model(): string {
    return this.#inner.model;
  }

  get breaker(): CircuitBreaker {
    return this.#options.breaker;
  }

  async complete(request: ChatRequest): Promise<ChatResponse> {
    const deadline = this.#now() + this.#options.maxWaitMs;
    const { breaker, retry } = this.#options;
    const estimate = estimateTokens(request);
    await this.#slots.acquire(request.signal);
    try {
      for (let attempt = 1; ; attempt++) {
        if (!breaker.tryAcquire()) {
          throw new LlmError(
            'circuit_open',
            `the LLM provider is failing; circuit open for another ${breaker.retryInMs} ms`,
          );
        }
        let acquired = true;
        try {
          await this.#waitForBudget(estimate, deadline, request.signal);
          const response = await this.#attempt(request);
          acquired = false;
          breaker.onSuccess();
          this.#tokens.adjust(estimate - response.usage.totalTokens);
          this.#applyRateLimit(response.rateLimit);
          this.#options.onAttempt?.('ok', response.usage.totalTokens);
          return response;
        } catch (error) {
          if (request.signal?.aborted) {
            if (acquired) breaker.onAbandon();
            throw error;
          }
          const failure =
            error instanceof LlmError
              ? error
              : new LlmError('network', String(error), { cause: error });
          if (acquired) {
            if (failure.kind === 'overloaded') breaker.onAbandon();
            // The provider answered, with something we cannot use: it is up.
            else if (failure.transient) breaker.onFailure();
            else breaker.onSuccess();
          }
          if (failure.kind !== 'overloaded') this.#options.onAttempt?.(failure.kind, 0);
          if (!failure.transient || failure.kind === 'overloaded') throw failure;
          this.#tokens.adjust(estimate);
          this.#applyRateLimit(failure.rateLimit);
          if (failure.kind === 'rate_limited') this.#options.onRateLimited?.();
          if (attempt > retry.maxRetries) throw failure;
          const backoff = fullJitterDelay(attempt, retry, this.#options.random);
          const delay = Math.max(backoff, failure.retryAfterMs ?? 0);
          if (failure.retryAfterMs !== undefined) {
            // Every caller waits for the provider's Retry-After, not only this one.
            this.#requests.blockUntil(this.#now() + failure.retryAfterMs);
          }
          if (this.#now() + delay > deadline) throw failure;
          await this.#sleep(delay, request.signal);
        }
      }
    } finally {
      this.#slots.release();
    }
  }

  async #waitForBudget(tokens: number, deadline: number, signal?: AbortSignal): Promise<void> {
    const wait = Math.max(this.#requests.waitFor(1), this.#tokens.waitFor(tokens));
    if (this.#now() + wait > deadline) {
      this.#options.onRateLimited?.();
      throw new LlmError(
        'overloaded',
        `client-side rate limit: the next call could go in ${wait} ms, past the wait budget`,
      );
    }
    const reserved = Math.max(this.#requests.reserve(1), this.#tokens.reserve(tokens));
    await this.#sleep(reserved, signal);
  }

  async #attempt(request: ChatRequest): Promise<ChatResponse> {
    const timeout = AbortSignal.timeout(this.#options.timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    try {
      return await this.#inner.complete({ ...request, signal });
    } catch (error) {
      if (timeout.aborted && !(request.signal?.aborted ?? false)) {
        throw new LlmError('timeout', `no answer within ${this.#options.timeoutMs} ms`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  #applyRateLimit(state: RateLimitState): void {
    const now = this.#now();
    if (state.remainingRequests === 0 && state.resetRequestsMs !== undefined) {
      this.#requests.blockUntil(now + state.resetRequestsMs);
    }
    if (state.remainingTokens === 0 && state.resetTokensMs !== undefined) {
      this.#tokens.blockUntil(now + state.resetTokensMs);
    }
  }
}
